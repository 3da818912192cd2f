/** The lines a training command prints when it finishes. */
import type { TrainSummary } from './supervised.ts';

export function printSummary(s: TrainSummary) {
  const r = s.resolution;
  const best = s.bestValAccuracy === null ? 'n/a' : `${(100 * s.bestValAccuracy).toFixed(1)}%`;
  console.log(
    `${s.role} at ${s.mag}: input ${r.inputSize}x${r.inputSize} px, ${r.micronsPerPixel} um/px, ${r.forwardGflops.toFixed(4)} GFLOPs per forward`,
  );
  console.log(
    `  ${s.trainImages} labelled${s.unlabeledCount ? ` + ${s.unlabeledCount} unlabeled` : ''} training images, ${s.epochs} epochs in ${s.seconds.toFixed(1)} s; best validation accuracy ${best}`,
  );
  console.log(`  best: ${s.checkpoint}\n  last: ${s.lastCheckpoint}\n  log:  ${s.dir}/log.jsonl`);
}
