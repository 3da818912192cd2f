/**
 * data/: histology data for the trainers. Pure TypeScript + sharp; no GPU.
 *
 * Generating (the main job calls this when its data folder is absent):
 *   const { manifest, tilesPerMinute } = await synthesize({ out, seed, train, val, test, unlabeled,
 *     tile, mags: ['10x', '5x', '2.5x'], classes: 'luad' | 'cd', knobs, onProgress });
 *   -> out/<mag>/{train,val,test}/<class>/*.png, out/<mag>/unlabeled/*.png, out/manifest.json
 *   Rendered once at the top magnification; every lower one is its exact area downsample.
 *   Same options, same bytes. `rbd synth` is the command-line face (cli/commands/synth.ts).
 *
 * Reading (synthetic or real data in the same layout, png/jpg/jpeg/tif/tiff/webp):
 *   const ds = openDataset(root, { derive: 'memory' | 'disk', cacheDir });
 *   ds.classes            label i = ds.classes[i] (sorted class folders, as ImageFolder)
 *   ds.mags, ds.splits    what is on disk; a missing lower magnification is derived from the top
 *   ds.warnings           empty class folders, classes missing from a split, non-image files
 *   listSamples(ds, { mag, split }) / listPairs(ds, { teacherMag, studentMag, split })
 *   await channelStats(ds, mag)   training mean/std per channel in [0, 1] (manifest or computed once, cached)
 *
 * Loading batches for training:
 *   const loader = new Loader(ds, { split: 'train', mags: ['10x', '1.25x'], batchSize: 8,
 *     shuffle: true, seed, augment: true, skipBad: false, prefetch: 2 });
 *   for await (const batch of loader.epoch(e)) {
 *     const [teacher, student] = batch.views;   // each { mag, data: Float32Array, shape: [N,3,H,W] }
 *     batch.labels                            // Int32Array [N], -1 for unlabeled
 *     batch.keys                              // `class/name` per image
 *   }
 *   loader.stats  -> images, batches, seconds, imagesPerSecond, waitSeconds (consumer starved), skipped
 *   Batch layout: NCHW float32, element (n, c, y, x) at ((n*3 + c)*H + y)*W + x, channels R, G, B,
 *   value (pixel/255 - mean[c]) / std[c]. Augmentation (flips, quarter turns, ColorJitter
 *   0.5/0.5/0.5/0.2 by default) is drawn once per sample and applied to both views of a pair.
 *   measureLoader(ds, options, batches) gives the loader's images/s alone (benchmarks).
 *
 * Errors are DataError with the file or folder and the remedy in the message.
 */
export { DataError } from './errors.ts';
export { parseMag, requireMag, magName, downsampleFactor, type Mag } from './mag.ts';
export { areaDownsample, decodeImage, encodePng, isImageFile, IMAGE_EXTENSIONS, type RgbImage } from './image.ts';
export { synthesize, DEFAULT_MAGS, GENERATOR_VERSION, type SynthOptions, type SynthResult, type Manifest, type ChannelStats } from './synth/synthesize.ts';
export { CLASS_SETS, type ClassSetName } from './synth/classes.ts';
export { DEFAULT_KNOBS, type RenderKnobs } from './synth/render.ts';
export { openDataset, listSamples, listPairs, loadSample, channelStats, UNLABELED, type Dataset, type Sample, type Pair, type OpenOptions } from './dataset.ts';
export { Loader, measureLoader, toTensor, type LoaderOptions, type Batch, type View, type LoaderStats } from './loader.ts';
export { drawAugmentParams, applyGeometry, applyColorJitter, DEFAULT_AUGMENT, IDENTITY_AUGMENT, type AugmentOptions, type AugmentParams } from './augment.ts';
