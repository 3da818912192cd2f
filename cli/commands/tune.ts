/** rbd tune: time every kernel variant on the model's geometry classes and cache the fastest per adapter (bench/tune.ts). */
import { parseFlags, numberFlag, magsFlag, archFlag, adapterHelp, UsageError } from '../flags.ts';
import { openRuntime, closeRuntime } from '../runtime.ts';
import { runTune, PRUNE_FACTOR, FINAL_ROUNDS } from '../../bench/tune.ts';
import { DEFAULT_MAGS, DEFAULT_TILE } from '../../bench/flops.ts';
import { DEFAULT_BATCH } from '../../bench/speed.ts';
import { defaultTuneCachePath, tuneKey, writeTuneEntry, readTuneCache, findTuneEntry } from '../../bench/tune_cache.ts';
import { platform } from '#platform';
import { setTunedChoices, selectionPoints } from '../../engine/variant_choice.ts';
import { textTable, numericColumns } from '../../util/table.ts';

export const help = `usage: rbd tune [--mags LIST] [--tile N] [--batch N] [--arch NAME] [--reps N] [--warmup N]
                [--margin F] [--only TEXT] [--out FILE] [--seed N] [--adapter A]

Chooses, per selection point (an op pass with kernel variants: conv2d.forward, conv2d.backwardInput,
conv2d.backwardWeight, matmul, groupNorm.forward, groupNorm.channelSums, groupNorm.backwardInput)
and per geometry class the model meets (one distillation step per magnification at --batch and
--tile), the fastest variant on this adapter, and writes the choices to the tune cache, keyed by
the adapter (vendor, architecture, description, driver, backend, feature level, subgroup sizes),
the webgpu package version and a hash of the kernels. Every later command on this adapter uses
them (rbd info says which choices are in force); without an entry today's rules choose.
Per class, each variant this adapter can run is first checked against the float64 reference on
a reduced geometry (a failing one is skipped and reported), then timed (each run waited for:
--warmup untimed runs, --reps timed, median; a variant whose first run takes over ${PRUNE_FACTOR}x the
best so far is not timed further). Cost: wall-clock time, or on a software adapter (lavapipe) this
process's CPU time, which other load on the machine does not inflate. The fastest is then timed against the rule's variant,
interleaved; it is kept only where it beats the rule's by --margin, else the rule's is written.
The table at the end gives both times per class.

  --mags LIST    magnifications (default ${DEFAULT_MAGS}); the highest is the teacher's
  --tile N       tile side in pixels at the top magnification (default ${DEFAULT_TILE})
  --batch N      tiles per batch (default ${DEFAULT_BATCH})
  --arch NAME    architecture preset: rbd | resnet18 (default rbd)
  --reps N       timed runs per variant (default 1; the final comparison with the rule's takes max(N, ${FINAL_ROUNDS}) rounds)
  --warmup N     untimed runs per variant first (default 0: its reference check has compiled its pipelines)
  --margin F     how much faster than the rule's a variant must be to replace it (default 0.1: 10%; on this
                 shared machine identical kernels timed interleaved differ by up to ~20-35% in CPU time)
  --only TEXT    only selection points whose name contains TEXT (e.g. conv2d.backwardWeight); the cache
                 entry in force keeps its choices for the other points
  --out FILE     the tune cache to write (default: env RBD_TUNE_CACHE, else ~/.cache/rbd-webgpu/tune.json;
                 other adapters' entries in it are kept)
  --seed N       seed of the weights and inputs (default 1)
${adapterHelp(17)}
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'tune';
  const { values } = parseFlags(cmd, argv, {
    mags: { type: 'string' },
    tile: { type: 'string' },
    batch: { type: 'string' },
    arch: { type: 'string' },
    reps: { type: 'string' },
    warmup: { type: 'string' },
    margin: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
  });
  const tile = numberFlag(cmd, 'tile', values.tile, DEFAULT_TILE, { min: 1, integer: true });
  const inputs = magsFlag(cmd, values.mags, tile);
  const batch = numberFlag(cmd, 'batch', values.batch, DEFAULT_BATCH, { min: 1, integer: true });
  const reps = numberFlag(cmd, 'reps', values.reps, 1, { min: 1, integer: true });
  const warmup = numberFlag(cmd, 'warmup', values.warmup, 0, { min: 0, integer: true });
  const margin = numberFlag(cmd, 'margin', values.margin, 0.1, { min: 0 });
  const seed = numberFlag(cmd, 'seed', values.seed, 1, { integer: true });
  const { name: archName, arch } = archFlag(cmd, values.arch);
  const out = values.out ?? defaultTuneCachePath();
  const only = values.only;
  if (only !== undefined && !selectionPoints().some((p) => p.op.includes(only)))
    throw new UsageError(
      cmd,
      `--only '${only}' matches no selection point; use part of one of: ${selectionPoints()
        .map((p) => p.op)
        .join(', ')}`,
    );
  const rt = await openRuntime(values.adapter);
  try {
    // Tune from the rules: a cache already in force must not decide what the model's step runs.
    setTunedChoices(null);
    const a = rt.gpu.adapter;
    console.log(
      `tuning on ${a.name} (${a.backend}, ${a.featureLevel}); batch ${batch}, tile ${tile}, ${inputs.map((m) => m.mag).join(', ')}`,
    );
    const t0 = performance.now();
    const result = await runTune({ arch, inputs, batch, reps, warmup, seed, margin, only, log: (l) => console.log(l) });
    const minutes = (performance.now() - t0) / 60000;
    const rows = result.report.map((r) => [
      r.op,
      r.geometry,
      r.rule,
      r.chosen === r.rule ? '(rule)' : r.chosen,
      r.ruleMs.toFixed(2),
      r.chosenMs.toFixed(2),
      `${(r.ruleMs / r.chosenMs).toFixed(2)}x`,
    ]);
    const clock = result.report[0]?.clock ?? 'wall';
    console.log(
      textTable(
        ['selection point', 'geometry', 'rule', 'tuned', `rule ${clock} ms`, `tuned ${clock} ms`, 'speed-up'],
        rows,
        numericColumns(7, 3),
      ),
    );
    console.log(
      `rule / tuned ${clock} ms: medians of the final interleaved comparison (the same run, the same load); where the rule is kept both are its time.` +
        (clock === 'cpu'
          ? " cpu: this process's CPU time per run, what a software adapter's kernels cost whatever else runs on the machine."
          : ''),
    );
    const changed = result.report.filter((r) => r.chosen !== r.rule).length;
    const key = tuneKey(a);
    // With --only, the entry in force keeps its choices for the selection points not tuned now.
    const kept = only !== undefined ? findTuneEntry(readTuneCache(out), key, out).entry : null;
    const untouched = (op: string) => !op.includes(only ?? '');
    writeTuneEntry(out, {
      key,
      date: new Date().toISOString(),
      commandLine: platform.describeHost().commandLine,
      settings: { arch: archName, batch, tile, mags: inputs.map((m) => m.mag), reps, warmup, margin, seed, only: only ?? null },
      choices: { ...Object.fromEntries(Object.entries(kept?.choices ?? {}).filter(([op]) => untouched(op))), ...result.choices },
      report: [...(kept?.report ?? []).filter((r) => untouched(r.op)), ...result.report],
    });
    console.log(
      `${result.report.length} classes tuned in ${minutes.toFixed(1)} min; ${changed} differ from the rules. Wrote ${out} (entry for this adapter).`,
    );
    return 0;
  } finally {
    await closeRuntime();
  }
}
