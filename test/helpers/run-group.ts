/**
 * Runs the given uvu test files in one process (one GPU device for all), as uvu's own CLI
 * does, then closes the device so the process can exit. Used by test/run.ts.
 */
import { pathToFileURL } from 'node:url';
import { relative } from 'node:path';
import { closeRuntime } from '../../engine/runtime.ts';

const files = process.argv.slice(2);
(globalThis as Record<string, unknown>).UVU_DEFER = 1;
const uvu = await import('uvu');
const queue = (globalThis as unknown as { UVU_QUEUE: unknown[][] }).UVU_QUEUE;
let idx = 0;
for (const file of files) {
  (globalThis as Record<string, unknown>).UVU_INDEX = idx++;
  queue.push([relative(process.cwd(), file)]);
  await import(pathToFileURL(file).href);
}
await uvu.exec(false);
const code = process.exitCode ?? 0;
await closeRuntime().catch((e) => {
  console.error(`closing the GPU runtime failed: ${(e as Error).message}`);
});
process.exit(code);
