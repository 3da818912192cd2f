/** rbd info: every adapter found, with what matters for compute, and the one auto would pick. */
import { listAdapters, chooseAdapter, type AdapterEntry } from '../../engine/device.ts';
import { parseFlags } from '../flags.ts';
import { adapterChoice } from '../runtime.ts';
import { tuneStatus, type TuneStatus } from '../../bench/tune_cache.ts';
import { forcedVariants, selectionPoints } from '../../engine/variant_choice.ts';

export const help = `usage: rbd info [--adapter auto|vulkan|gl|<name>] [--variants] [--json]

Lists every WebGPU adapter Dawn finds on this machine (backend, name, feature level, whether it
is a software adapter, optional features, compute limits) and marks the one that would be chosen
for --adapter (default: the --adapter given before the command, else env RBD_ADAPTER, else auto).
Then which kernel variant choices are in force on it: 'tuned' (the tune cache's entry for this
adapter, written by rbd tune; rules where it has no entry for a geometry class) or 'rules' (no
entry, or a stale one: kernels, driver or webgpu version changed), the cache path, and any
RBD_VARIANT forcing.
  --variants  also list every selection point and its variants (the names RBD_VARIANT takes)
  --json      print the same as JSON
`;

const SHOWN_FEATURES = ['timestamp-query', 'shader-f16', 'subgroups', 'core-features-and-limits'];

export async function run(argv: string[]) {
  const { values } = parseFlags('info', argv, { json: { type: 'boolean' }, variants: { type: 'boolean' } });
  const choice = adapterChoice(values.adapter);
  const all = await listAdapters();
  const chosen = chooseAdapter(all, choice);
  const tuned = chosen ? tuneStatus(chosen) : null;
  const forced = forcedVariants();
  const points = selectionPoints().map((p) => ({ op: p.op, variants: p.candidates.map((c: { name: string }) => c.name) }));
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          choice,
          chosen: chosen ? key(chosen) : null,
          adapters: all.map((a) => ({ ...summary(a), chosen: a === chosen })),
          variantChoices: tuned ? choicesJson(tuned, forced) : null,
          ...(values.variants ? { selectionPoints: points } : {}),
        },
        null,
        2,
      ),
    );
    return chosen ? 0 : 1;
  }
  if (all.length === 0) console.log('no WebGPU adapter found. Run: bash scripts/setup.sh');
  for (const a of all) {
    const s = summary(a);
    console.log(`${a === chosen ? '*' : ' '} ${s.name}`);
    console.log(
      `    backend ${s.backend}, feature level ${s.featureLevel}, ${s.software ? 'software' : 'hardware'}, vendor ${s.vendor || '?'}`,
    );
    console.log(`    features: ${s.features.filter((f) => SHOWN_FEATURES.includes(f)).join(', ') || 'none of interest'}`);
    console.log(
      `    limits: ${Object.entries(s.limits)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  }
  console.log(
    chosen
      ? `\nchosen for --adapter ${choice}: ${chosen.name} (${chosen.backend}, ${chosen.featureLevel})`
      : `\nno adapter matches --adapter ${choice}`,
  );
  if (tuned) console.log(choicesLine(tuned));
  if (Object.keys(forced).length)
    console.log(
      `forced by RBD_VARIANT: ${Object.entries(forced)
        .map(([op, v]) => `${op}:${v}`)
        .join(', ')}`,
    );
  if (values.variants) for (const p of points) console.log(`  ${p.op}: ${p.variants.join(', ')}`);
  else console.log(`selection points: ${points.map((p) => `${p.op} (${p.variants.length})`).join(', ')}; --variants lists their variants`);
  return chosen ? 0 : 1;
}

/** One line: which variant choices are in force on the chosen adapter, and from where. */
function choicesLine(t: TuneStatus): string {
  if (t.entry) {
    const classes = Object.values(t.entry.choices).reduce((n, c) => n + Object.keys(c).length, 0);
    const differ = t.entry.report.filter((r) => r.chosen !== r.rule).length;
    return `variant choices: tuned, from ${t.path} (${t.entry.date}: ${classes} geometry classes, ${differ} differ from the rules; rules for other classes)`;
  }
  return t.note
    ? `variant choices: rules (${t.note})`
    : `variant choices: rules (no entry for this adapter in ${t.path}; rbd tune writes one)`;
}

function choicesJson(t: TuneStatus, forced: Record<string, string>) {
  return {
    mode: t.entry ? 'tuned' : 'rules',
    path: t.path,
    date: t.entry?.date ?? null,
    note: t.note,
    choices: t.entry?.choices ?? {},
    forced,
  };
}

function key(a: AdapterEntry) {
  return `${a.name} (${a.backend}, ${a.featureLevel})`;
}

function summary(a: AdapterEntry) {
  return {
    name: a.name,
    backend: a.backend,
    featureLevel: a.featureLevel,
    software: a.isSoftware,
    vendor: a.vendor,
    features: a.features,
    limits: a.limits,
  };
}
