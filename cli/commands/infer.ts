/**
 * rbd infer: run a checkpoint's ResNet (eval mode, no gradients) on a tensor file or on images.
 * The --input/--out form is the hook for exact comparisons with other frameworks: keep the flag
 * names and the tensor names `input`, `logits`, `features`.
 */
import sharp from 'sharp';
import { existsSync } from 'node:fs';
import { Tensor, shapeStr } from '../../engine/tensor.ts';
import { noGrad } from '../../engine/autograd.ts';
import { loadCheckpoint, type Normalization } from '../../models/checkpoint.ts';
import { readSafetensors, writeSafetensors } from '../../models/safetensors.ts';
import type { ResNetArch, NormKind } from '../../models/arch.ts';
import type { ResNet } from '../../models/resnet.ts';
import { parseFlags, numberFlag, adapterHelp, UsageError, precisionFlag, precisionHelp, PRECISION_OPTION } from '../flags.ts';
import { openRuntime } from '../runtime.ts';
import { progress } from '../../util/progress.ts';
import { requireMag } from '../../data/mag.ts';
import { classifyImage } from '../../models/tiled_infer.ts';
import { inferSlide, CLASS_COLOURS } from '../../train/slide_infer.ts';

export const help = `usage: rbd infer --checkpoint C.safetensors --input X.safetensors --out Y.safetensors
       rbd infer --checkpoint C.safetensors --images PATH [PATH...]
       rbd infer --checkpoint C.safetensors --slide S.svs --out DIR [--mpp-override M]

Runs the checkpoint's ResNet in eval mode (batch norm uses its running statistics) without
gradients. The architecture comes from the checkpoint's metadata; a checkpoint without it (a
PyTorch state_dict saved as safetensors) has its architecture inferred from tensor names and
shapes, and the flags below override either.

  --checkpoint PATH   the model (safetensors; required)
  --input PATH        safetensors file holding a tensor 'input' [N, C, H, W] (F32, or F16/BF16/F64,
                      converted to f32), any H and W, already normalized
  --out PATH          where to write 'logits' [N, classes] and 'features' (the stage-4 map) as F32
                      safetensors (written atomically); required with --input
  --images PATH...    image files (PNG, JPEG, TIFF, WebP, ... anything sharp decodes) of any size;
                      prints each image's class probabilities. An image too large for one pass
                      on this adapter is cut into tiles of the model's receptive field (rounded
                      up to a multiple of 32, at least 224 px), run in batches that fit, and its
                      probabilities are the mean of its tiles' (the line says so)
  --slide PATH        a whole-slide image (SVS, pyramidal TIFF, OME-TIFF): tiled at the
                      checkpoint's magnification through the tissue mask, as rbd tile does; writes
                      DIR/<slide>-heatmap.png (class probabilities over the thumbnail) and
                      DIR/<slide>-tiles.csv (name, x0, y0, size0, probabilities); needs --out DIR
  --tile PX           tile side for --slide, at the checkpoint's magnification (default: the
                      training tile recorded in the checkpoint, else 256)
  --mag M             magnification for --slide when the checkpoint records none (e.g. 10x)
  --min-tissue F      least tissue fraction of a slide tile (default 0.5)
  --mpp-override M    level-0 microns per pixel for a slide that does not record it
  --mean r,g,b        normalization of [0,1] pixels for --images (default: the checkpoint's)
  --std r,g,b         (default: the checkpoint's; a checkpoint without one needs both flags)
  --planes a,b,c,d    override stage widths            (default: from the checkpoint)
  --layers a,b,c,d    override blocks per stage        (default: from the checkpoint)
  --norm group|batch  override the norm layer          (default: from the checkpoint)
  --groups G          override GroupNorm's groups      (default: from metadata, else 32)
  --classes K         override the number of classes   (default: from the checkpoint)
${precisionHelp(22)}
${adapterHelp(22)}
`;

const CMD = 'infer';

function numberList(flag: string, value: string | undefined, integer: boolean): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || (integer && (!Number.isInteger(n) || n < 1)))) {
    throw new UsageError(CMD, `--${flag} must be a comma-separated list of ${integer ? 'whole numbers >= 1' : 'numbers'}, got '${value}'`);
  }
  return nums;
}

/** Architecture fields given on the command line. */
function archOverrides(values: Record<string, string | boolean | string[] | undefined>): Partial<ResNetArch> {
  const o: Partial<ResNetArch> = {};
  const planes = numberList('planes', values.planes as string | undefined, true);
  const layers = numberList('layers', values.layers as string | undefined, true);
  if (planes) o.planes = planes;
  if (layers) o.layers = layers;
  const norm = values.norm as string | undefined;
  if (norm !== undefined) {
    if (norm !== 'group' && norm !== 'batch') throw new UsageError(CMD, `--norm must be 'group' or 'batch', got '${norm}'`);
    o.norm = norm as NormKind;
  }
  if (values.groups !== undefined) o.groups = numberFlag(CMD, 'groups', values.groups as string, 32, { integer: true, min: 1 });
  if (values.classes !== undefined) o.numClasses = numberFlag(CMD, 'classes', values.classes as string, 1, { integer: true, min: 1 });
  return o;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    CMD,
    argv,
    {
      checkpoint: { type: 'string' },
      input: { type: 'string' },
      out: { type: 'string' },
      images: { type: 'string', multiple: true },
      mean: { type: 'string' },
      std: { type: 'string' },
      planes: { type: 'string' },
      layers: { type: 'string' },
      norm: { type: 'string' },
      groups: { type: 'string' },
      classes: { type: 'string' },
      slide: { type: 'string' },
      tile: { type: 'string' },
      mag: { type: 'string' },
      'min-tissue': { type: 'string' },
      'mpp-override': { type: 'string' },
      ...PRECISION_OPTION,
    },
    true,
  );
  // `--images a.png b.png`: the paths after the first arrive as positionals.
  const images = [...(values.images ?? []), ...positionals];
  if (positionals.length && !values.images)
    throw new UsageError(CMD, `unexpected argument '${positionals[0]}' (image paths go after --images)`);
  if (!values.checkpoint) throw new UsageError(CMD, '--checkpoint is required');
  const modes = [values.input, images.length ? 'images' : undefined, values.slide].filter(Boolean).length;
  if (modes !== 1) throw new UsageError(CMD, 'give one of --input (with --out), --images or --slide (with --out)');
  if ((values.input || values.slide) && !values.out)
    throw new UsageError(CMD, `--out is required with --${values.input ? 'input' : 'slide'}`);
  const overrides = archOverrides(values);
  const mean = numberList('mean', values.mean, false);
  const std = numberList('std', values.std, false);
  for (const p of [values.checkpoint, values.input, values.slide, ...images])
    if (p && !existsSync(p)) throw new UsageError(CMD, `no such file: ${p}`);

  await openRuntime(values.adapter, precisionFlag(CMD, values.precision));
  const { model, info } = loadCheckpoint(values.checkpoint, overrides);
  model.eval();
  try {
    if (values.input) await inferTensorFile(model, values.input, values.out!);
    else if (values.slide) {
      const norm = normalizationFor(info.normalization, mean, std, model.arch.inChannels);
      let magnification = info.magnification;
      if (values.mag !== undefined) magnification = requireMag(values.mag, '--mag').value;
      if (!magnification)
        throw new UsageError(CMD, 'the checkpoint records no magnification; pass --mag (e.g. --mag 10x) with the one it was trained at');
      const recordedTile = Number((info.training as { tile?: unknown }).tile);
      const tile = numberFlag(CMD, 'tile', values.tile, Number.isInteger(recordedTile) && recordedTile > 0 ? recordedTile : 256, {
        integer: true,
        min: 8,
      });
      const bar = progress({ label: 'infer', total: 0, unit: 'tiles' });
      let r;
      try {
        r = await inferSlide(model, {
          slide: values.slide,
          out: values.out!,
          magnification,
          tile,
          minTissue: numberFlag(CMD, 'min-tissue', values['min-tissue'], 0.5, { min: 0, max: 1 }),
          mppOverride:
            values['mpp-override'] === undefined ? undefined : numberFlag(CMD, 'mpp-override', values['mpp-override'], 0.25, { min: 1e-4 }),
          classNames: info.classNames,
          normalization: norm,
          onProgress: (done, total) => {
            bar.setTotal(total);
            bar.update(done);
          },
        });
      } finally {
        bar.done();
      }
      console.log(
        `${r.slide}: ${r.tiles} tiles of ${tile} px at ${magnification}x; mean of tile probabilities: ${info.classNames.map((c, i) => `${c} ${r.meanProbabilities[i].toFixed(4)}`).join('  ')}`,
      );
      console.log(
        `wrote ${r.csv} and ${r.heatmap} (colours: ${info.classNames.map((c, i) => `${c} rgb(${CLASS_COLOURS[i % CLASS_COLOURS.length].join(',')})`).join(', ')})`,
      );
    } else {
      const norm = normalizationFor(info.normalization, mean, std, model.arch.inChannels);
      for (const path of images) await inferImage(model, path, norm, info.classNames);
    }
  } finally {
    model.dispose();
  }
  return 0;
}

async function inferTensorFile(model: ResNet, inputPath: string, outPath: string) {
  const st = readSafetensors(inputPath);
  const t = st.tensors.get('input');
  if (!t) throw new UsageError(CMD, `${inputPath} has no tensor named 'input' (it has: ${[...st.tensors.keys()].join(', ') || 'none'})`);
  const c = model.arch.inChannels;
  if (t.shape.length !== 4 || t.shape[1] !== c)
    throw new UsageError(CMD, `'input' in ${inputPath} is ${shapeStr(t.shape)}; the model needs [N, ${c}, H, W] (NCHW)`);
  if (!t.data) throw new UsageError(CMD, `'input' in ${inputPath} is ${t.dtype}; give F32 (or F16, BF16, F64)`);
  const x = Tensor.from(t.data, t.shape);
  const { features, logits } = noGrad(() => model.forward(x));
  x.dispose();
  const out: [string, { shape: readonly number[]; data: Float32Array }][] = [
    ['logits', { shape: logits.shape, data: (await logits.read()) as Float32Array }],
    ['features', { shape: features.shape, data: (await features.read()) as Float32Array }],
  ];
  writeSafetensors(outPath, out);
  console.log(`wrote ${outPath}: logits ${shapeStr(logits.shape)}, features ${shapeStr(features.shape)}`);
  features.dispose();
  logits.dispose();
}

function normalizationFor(
  stored: Normalization | null,
  mean: number[] | undefined,
  std: number[] | undefined,
  channels: number,
): Normalization {
  const norm = { mean: mean ?? stored?.mean, std: std ?? stored?.std };
  if (!norm.mean || !norm.std)
    throw new UsageError(
      CMD,
      "the checkpoint stores no input normalization; pass --mean r,g,b and --std r,g,b (the training set's per-channel statistics of [0,1] pixels)",
    );
  if (norm.mean.length !== channels || norm.std.length !== channels)
    throw new UsageError(CMD, `--mean and --std need ${channels} values each, got ${norm.mean.length} and ${norm.std.length}`);
  if (norm.std.some((s) => !(s > 0))) throw new UsageError(CMD, `--std values must be > 0, got ${norm.std.join(',')}`);
  return norm as Normalization;
}

/** Interleaved 8-bit RGB pixels (HWC) and the image's size. */
function decodeRgb(path: string) {
  return sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
}

async function inferImage(model: ResNet, path: string, norm: Normalization, classNames: string[]) {
  if (model.arch.inChannels !== 3)
    throw new UsageError(CMD, `--images needs a 3-channel (RGB) model; this one takes ${model.arch.inChannels} channels`);
  let raw: Awaited<ReturnType<typeof decodeRgb>>;
  try {
    raw = await decodeRgb(path);
  } catch (e) {
    throw new UsageError(CMD, `cannot decode image ${path}: ${(e as Error).message}`);
  }
  if (raw.info.channels !== 3) throw new UsageError(CMD, `image ${path} decoded to ${raw.info.channels} channels, expected RGB`);
  const img = {
    data: new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length),
    width: raw.info.width,
    height: raw.info.height,
  };
  const { probabilities: p, plan, tiles } = await classifyImage(model, img, norm);
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  const how = plan.whole
    ? ''
    : `  (${img.width}x${img.height} too large for one pass: mean of ${tiles} tiles of ${plan.tile} px, batches of ${plan.batch})`;
  console.log(`${path}: ${classNames.map((n, i) => `${n} ${p[i].toFixed(4)}`).join('  ')}  -> ${classNames[best]}${how}`);
}
