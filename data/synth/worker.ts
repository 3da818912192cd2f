/**
 * Worker thread of the generator: receives the run config in workerData, then batches of
 * jobs; answers each batch with its tile sums, or with the first error's message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { runTileJob, type RunConfig, type TileJob } from './tile_job.ts';

// Each worker encodes one image at a time; the parallelism comes from the workers.
sharp.concurrency(1);
const config = workerData as RunConfig;

parentPort!.on('message', async (batch: { id: number; jobs: TileJob[] }) => {
  try {
    const sums = [];
    for (const job of batch.jobs) sums.push(await runTileJob(config, job));
    parentPort!.postMessage({ id: batch.id, sums });
  } catch (e) {
    parentPort!.postMessage({ id: batch.id, error: (e as Error).message });
  }
});
