/**
 * Which kernel variant runs: one mechanism for every place an op chooses between variants.
 *
 * A selection point is one op pass that has a choice ('conv2d.forward', 'conv2d.backwardWeight',
 * 'matmul', 'groupNorm.forward', ...). It declares, next to its op:
 *   - its candidates: a name unique within the point ('general-subgroups-wg64'), whether this
 *     adapter can run it at all (`unusable`: the reason it cannot, or null), whether it can run a
 *     given geometry (`fits`), its launch parameters (workgroup size, split count, for reports),
 *     and `launch`, the function that records its dispatches (its signature is the point's own);
 *   - `classOf(g)`: the geometry class of a call. Nearby shapes share a class (kernel size,
 *     stride, log2 buckets of M, N, K or of the map size), and a tuned choice is stored per class;
 *   - `rule(g)`: the candidate today's hand-written rules pick for this geometry. Without a tune
 *     cache and without forcing, the rule decides, so the default behaviour is the rules' exactly.
 *
 * `choose(point, g)` picks, in this order:
 *   1. forcing: `RBD_VARIANT=op:variant[,op:variant]` (util/env.ts) or `withForcedVariants` (tests).
 *      A forced variant that this adapter cannot run, or that the point does not have, is an
 *      error naming the op, the variant and the usable ones. Where a forced variant does not fit
 *      a geometry (a row kernel on a map whose rows are not whole vec4s), that call takes the rule;
 *   2. a tuned choice for the call's geometry class (`setTunedChoices`, loaded by the CLI from the
 *      cache `rbd tune` writes), when it is usable and fits;
 *   3. the rule.
 *
 * Registering a new variant (e.g. a workgroup-memory tiled GEMM, an f16 group norm) is one entry
 * in its point's candidate list: `{ name, unusable, fits, params, launch }` appended to the list
 * that the op passes to `selectionPoint` (CONV2D_CHOICES in engine/ops/conv2d.ts, MATMUL_CHOICE in
 * matmul.ts, GROUP_NORM_CHOICES in group_norm.ts). `rbd tune` times it, test/ops/variant_choice.test.ts
 * checks it against the float64 reference on every adapter that can run it, and RBD_VARIANT forces it;
 * nothing else needs to know about it. A new selection point is one `selectionPoint({...})` call.
 */
import { env } from '../util/env.ts';

/** One variant a selection point can run. `L`: the point's launch signature. */
export interface Candidate<G, L> {
  /** Unique within its point; what RBD_VARIANT, the tune cache and reports name. */
  name: string;
  /** Why this adapter cannot run it (a missing feature, a limit), or null when it can. Default: it can. */
  unusable?: () => string | null;
  /** Whether it runs geometry `g` (default: every geometry). */
  fits?: (g: G) => boolean;
  /** Its launch parameters, for reports ('fit': sized per call by today's rule). */
  params?: Readonly<Record<string, number | string>>;
  /** Record its dispatches. */
  launch: L;
}

export interface SelectionPointSpec<G, L> {
  /** 'op.pass', e.g. 'conv2d.forward'. */
  op: string;
  candidates: Candidate<G, L>[];
  /** The geometry class of `g`: calls in one class share a tuned choice. */
  classOf: (g: G) => string;
  /** The candidate today's rules pick for `g` (its name). */
  rule: (g: G) => string;
}

export interface SelectionPoint<G, L> extends SelectionPointSpec<G, L> {
  byName: Map<string, Candidate<G, L>>;
}

/** How a call's candidate was chosen. */
export type ChoiceSource = 'forced' | 'tuned' | 'rule';

/** A selection point of any geometry and launch (registries, reports, the tuner). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySelectionPoint = SelectionPoint<any, any>;
type AnyPoint = AnySelectionPoint;
const registry = new Map<string, AnyPoint>();

/** Declare a selection point (once, at its op's module load). */
export function selectionPoint<G, L>(spec: SelectionPointSpec<G, L>): SelectionPoint<G, L> {
  if (registry.has(spec.op)) throw new Error(`selection point '${spec.op}' is declared twice`);
  const byName = new Map<string, Candidate<G, L>>();
  for (const c of spec.candidates) {
    if (byName.has(c.name)) throw new Error(`selection point '${spec.op}': candidate '${c.name}' is declared twice`);
    if (c.name.includes(',') || c.name.includes(':'))
      throw new Error(`selection point '${spec.op}': candidate name '${c.name}' has ',' or ':'`);
    byName.set(c.name, c);
  }
  const point: SelectionPoint<G, L> = { ...spec, byName };
  registry.set(spec.op, point);
  return point;
}

/** Every selection point declared so far (each op's module declares its own when loaded). */
export function selectionPoints(): AnyPoint[] {
  return [...registry.values()];
}

export function selectionPointNamed(op: string): AnyPoint | undefined {
  return registry.get(op);
}

/** Why `c` cannot run on this adapter, or null. */
export function unusableReason<G, L>(c: Candidate<G, L>): string | null {
  return c.unusable ? c.unusable() : null;
}

/** The names of the candidates of `p` this adapter can run. */
export function usableCandidates<G, L>(p: SelectionPoint<G, L>): Candidate<G, L>[] {
  return p.candidates.filter((c) => unusableReason(c) === null);
}

// ---------------------------------------------------------------------------------------------
// Forcing

/** op -> forced candidate name. */
export type VariantMap = Record<string, string>;

/** Parse 'op:variant[,op:variant]'; throws on a malformed entry. */
export function parseVariantList(text: string, what = 'RBD_VARIANT'): VariantMap {
  const out: VariantMap = {};
  for (const part of text.split(',').map((s) => s.trim())) {
    if (!part) continue;
    const i = part.lastIndexOf(':');
    if (i <= 0 || i === part.length - 1)
      throw new Error(`${what}: '${part}' is not op:variant (e.g. conv2d.forward:general-invocation-wgfit; 'rbd info' lists them)`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

let envCache: { text: string; map: VariantMap } | null = null;
const programForced: VariantMap[] = [];

/** The forcing in force: RBD_VARIANT, overridden by any `withForcedVariants` around the call. */
export function forcedVariants(): VariantMap {
  const text = env.variant() ?? '';
  if (!envCache || envCache.text !== text) envCache = { text, map: parseVariantList(text) };
  return Object.assign({}, envCache.map, ...programForced);
}

/** Run `fn` with these variants forced (tests; same checks as RBD_VARIANT). */
export function withForcedVariants<T>(forced: VariantMap, fn: () => T): T {
  for (const [op, name] of Object.entries(forced)) forcedCandidate(op, name);
  programForced.push(forced);
  try {
    return fn();
  } finally {
    programForced.pop();
  }
}

/** The candidate `name` of point `op`, checked usable; throws naming the op, the variant and the usable ones. */
function forcedCandidate(op: string, name: string): Candidate<unknown, unknown> {
  const p = registry.get(op);
  if (!p) throw new Error(`RBD_VARIANT: no selection point '${op}' (there are: ${[...registry.keys()].join(', ')})`);
  const usable = usableCandidates(p).map((c) => c.name);
  const c = p.byName.get(name);
  if (!c) throw new Error(`RBD_VARIANT: ${op} has no variant '${name}' (usable on this adapter: ${usable.join(', ')})`);
  const why = unusableReason(c);
  if (why) throw new Error(`RBD_VARIANT: ${op}:${name} cannot run on this adapter (${why}); usable: ${usable.join(', ')}`);
  return c;
}

/** Check every forced entry now (the CLI calls this once the runtime is open); throws on the first bad one. */
export function checkForcedVariants() {
  for (const [op, name] of Object.entries(forcedVariants())) forcedCandidate(op, name);
}

// ---------------------------------------------------------------------------------------------
// Tuned choices

/** op -> geometry class -> candidate name (what `rbd tune` writes per adapter). */
export type TunedChoices = Record<string, Record<string, string>>;

let tuned: { choices: TunedChoices; source: string } | null = null;

/** Put tuned choices in force (null: rules only). `source`: where they came from (a cache path). */
export function setTunedChoices(choices: TunedChoices | null, source = '') {
  tuned = choices ? { choices, source } : null;
}

export function tunedChoices(): { choices: TunedChoices; source: string } | null {
  return tuned;
}

/** Run `fn` with the rules only, whatever tuned choices are in force (benchmarks compare the two in one run). */
export function withRulesOnly<T>(fn: () => T): T {
  const saved = tuned;
  tuned = null;
  try {
    return fn();
  } finally {
    tuned = saved;
  }
}

// ---------------------------------------------------------------------------------------------
// Choosing

let observer: ((p: AnySelectionPoint, g: unknown) => void) | null = null;

/** Be told of every choice made (the tuner collects the model's geometry classes this way); null stops. */
export function observeChoices(fn: ((p: AnySelectionPoint, g: unknown) => void) | null) {
  observer = fn;
}

/** The candidate for geometry `g` of point `p`, and how it was chosen. */
export function chooseWithSource<G, L>(p: SelectionPoint<G, L>, g: G): { candidate: Candidate<G, L>; source: ChoiceSource } {
  observer?.(p, g);
  const forcedName = programForced.length || env.variant() ? forcedVariants()[p.op] : undefined;
  if (forcedName !== undefined) {
    const c = forcedCandidate(p.op, forcedName) as Candidate<G, L>;
    if (!c.fits || c.fits(g)) return { candidate: c, source: 'forced' };
  }
  const tunedName = tuned?.choices[p.op]?.[p.classOf(g)];
  if (tunedName !== undefined) {
    const c = p.byName.get(tunedName);
    if (c && unusableReason(c) === null && (!c.fits || c.fits(g))) return { candidate: c, source: 'tuned' };
  }
  const ruled = p.rule(g);
  const c = p.byName.get(ruled);
  if (!c) throw new Error(`selection point '${p.op}': its rule chose '${ruled}', which is not one of its candidates`);
  return { candidate: c, source: 'rule' };
}

/** The candidate for geometry `g` of point `p` (see the file comment for the order). */
export function choose<G, L>(p: SelectionPoint<G, L>, g: G): Candidate<G, L> {
  return chooseWithSource(p, g).candidate;
}

/** What decides the choices now, for `rbd info` and benchmark JSON. */
export interface ChoiceState {
  /** 'rules' (no tuned choices), or 'tuned' (rules where the cache has no entry for a class). */
  mode: 'rules' | 'tuned';
  /** Where the tuned choices came from. */
  source: string | null;
  forced: VariantMap;
  tuned: TunedChoices;
}

export function choiceState(): ChoiceState {
  return {
    mode: tuned ? 'tuned' : 'rules',
    source: tuned?.source ?? null,
    forced: forcedVariants(),
    tuned: tuned?.choices ?? {},
  };
}

/** floor(log2(n)) for n >= 1 (0 for smaller n): the bucket of a size in a geometry class. */
export function log2Bucket(n: number): number {
  return n >= 1 ? Math.floor(Math.log2(n)) : 0;
}
