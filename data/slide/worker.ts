/**
 * Worker thread of the tiler: receives the run config in workerData; says { ready: true } once
 * loaded, then receives one window job at a time and answers with its result or its error
 * (with the slide and kind of a SlideError).
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { SlideError } from './errors.ts';
import { runWindowJob, type TileRunConfig, type WindowJob } from './window_job.ts';

// Parallelism comes from the workers; no pixel cache, so memory follows the window.
sharp.concurrency(1);
sharp.cache(false);
const { config, partialDir } = workerData as { config: TileRunConfig; partialDir: string };

parentPort!.on('message', async (job: WindowJob) => {
  try {
    parentPort!.postMessage({ result: await runWindowJob(config, job, partialDir) });
  } catch (e) {
    const slideError = e instanceof SlideError ? { file: e.file, kind: e.kind } : undefined;
    parentPort!.postMessage({ error: (e as Error).message, slideError });
  }
});

// Loaded (tsx, sharp, the tiling code: about a second on a busy machine): the pool may send jobs now.
parentPort!.postMessage({ ready: true });
