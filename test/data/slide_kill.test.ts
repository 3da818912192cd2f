/**
 * A tiling run killed for real (SIGKILL, mid-run, in a child process) leaves no half-written
 * tile: every PNG in the output decodes whole, and every tile whose top-magnification file
 * exists has all its magnifications. Running the same command again finishes the job, and the
 * result is byte-identical to one uninterrupted run.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { tileSlides } from '../../data/slide/tile.ts';
import { listFiles, tempDir } from './fixtures.ts';
import { renderSlide, writeSharpPyramid } from './slide_fixtures.ts';

const tmp = tempDir('slide-kill');
test.after(() => tmp.cleanup());
const repo = fileURLToPath(new URL('../..', import.meta.url));

// 1024 x 1024 at 40x, tissue everywhere: at 10x with 8-pixel tiles, 32 x 32 = 1024 tiles and
// 2048 files (10x and 5x): enough that the run is still writing when it is killed.
const OPTIONS = { mags: ['10x', '5x'], tile: 8, minTissue: 0, workers: 0 };

test('SIGKILL mid-run: every PNG left is whole, no tile is partly written; the re-run completes it byte for byte', async () => {
  const slide = join(tmp.dir, 'kill.tif');
  await writeSharpPyramid(slide, renderSlide(1024, 1024, 1024, 3), 'deflate');
  const out = join(tmp.dir, 'out');
  const script = join(tmp.dir, 'run.mjs');
  const tileModule = join(repo, 'data/slide/tile.ts');
  writeFileSync(
    script,
    `import { tileSlides } from ${JSON.stringify(tileModule)};\nawait tileSlides(${JSON.stringify({ slides: [slide], out, ...OPTIONS })});\n`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repo, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Kill as soon as some tiles are out.
  const top = join(out, '10x', 'unlabeled');
  for (let waited = 0; ; waited += 2) {
    if (existsSync(top) && readdirSync(top).length >= 50) break;
    if (child.exitCode !== null) break;
    if (waited > 120_000) throw new Error('the child wrote no tiles in 2 minutes');
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGKILL');
  await exited;

  const tops = readdirSync(top);
  const total = 32 * 32;
  assert.not.ok(existsSync(join(out, 'manifest.json')), 'the run finished before the kill: the test proves nothing');
  assert.ok(tops.length > 0 && tops.length < total, `${tops.length} of ${total} tiles at the kill`);
  const pngs = listFiles(out).filter((f) => !f.startsWith('.partial') && f.endsWith('.png') && !f.startsWith('thumbnails'));
  for (const f of pngs) {
    const side = f.startsWith('10x') ? 8 : 4;
    const { info } = await sharp(readFileSync(join(out, f)), { failOn: 'truncated' })
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch((e) => {
        throw new Error(`${f} is not a whole PNG: ${e.message}`);
      });
    assert.equal([info.width, info.height], [side, side], f);
  }
  for (const name of tops) assert.ok(existsSync(join(out, '5x', 'unlabeled', name)), `${name}: 10x written without its 5x`);

  const again = await tileSlides({ slides: [slide], out, ...OPTIONS });
  assert.is(again.resumed, tops.length);
  assert.is(again.written + again.resumed, total);
  const fresh = join(tmp.dir, 'fresh');
  await tileSlides({ slides: [slide], out: fresh, ...OPTIONS });
  const files = listFiles(fresh);
  assert.equal(listFiles(out), files);
  for (const f of files)
    assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(fresh, f))), `${f} differs from an uninterrupted run`);
});

test.run();
