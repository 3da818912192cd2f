// Bundle the CLI into dist/rbd.js with esbuild. Native and WASM-carrying packages (webgpu's
// dawn.node, sharp) stay external and load from node_modules; WGSL files are read from kernels/.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

await build({
  entryPoints: ['cli/rbd.ts'],
  outfile: 'dist/rbd.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  // --enable-source-maps: stacks name the .ts files in errors.
  banner: { js: '#!/usr/bin/env -S node --enable-source-maps' },
  sourcemap: true,
  logLevel: 'info',
});
chmodSync('dist/rbd.js', 0o755);
// The synthetic-data generator's worker thread (data/synth/synthesize.ts loads it from beside the bundle).
await build({
  entryPoints: ['data/synth/worker.ts'],
  outfile: 'dist/synth-worker.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'info',
});
// The slide tiler's worker thread (data/slide/tile.ts loads it from beside the bundle).
await build({
  entryPoints: ['data/slide/worker.ts'],
  outfile: 'dist/tile-worker.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'info',
});
