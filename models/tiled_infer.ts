/**
 * Class probabilities for an image of any size.
 *
 * One forward pass over an H x W image holds activations of about planes[0] * H * W / 4 * 4
 * bytes in its largest tensor (the stem's output) and several times that in all; a large image
 * exceeds the adapter's maxStorageBufferBindingSize (or any sensible memory) long before it
 * is an unreasonable input. Such an image is cut into square tiles and the tiles run in
 * batches, each batch sized so that its largest tensor fits half the binding limit and all its
 * activations fit ACTIVATION_BUDGET:
 *   - the tile side is the model's receptive field rounded up to a multiple of 32 (the net's
 *     total stride), at least MIN_TILE: every feature of a tile's centre sees its whole field;
 *   - tiles cover the image on a grid; the last row and column are shifted to end at the edge
 *     (overlapping their neighbours) so every pixel is covered by a whole tile;
 *   - the image's probabilities are the mean of its tiles' probabilities (the aggregation the
 *     slide-level results use).
 * An image that fits one pass runs whole, exactly as before.
 */
import { Tensor } from '../engine/tensor.ts';
import { noGrad } from '../engine/autograd.ts';
import { runtime } from '../engine/runtime.ts';
import { softmax } from '../engine/ops/softmax.ts';
import { blockPlan, type ResNetArch } from './arch.ts';
import type { ResNet } from './resnet.ts';

/** Interleaved 8-bit RGB, row-major. */
export interface RgbPixels {
  data: Uint8Array;
  width: number;
  height: number;
}
export interface Normalization {
  mean: number[];
  std: number[];
}

/** Bytes of all activations of one forward pass per batch: a budget, not a limit of the adapter. */
const ACTIVATION_BUDGET = 256 * 2 ** 20;
const MIN_TILE = 224;

/** Receptive field of the last stage's features, in input pixels. */
export function receptiveField(arch: ResNetArch): number {
  let rf = 7,
    jump = 2; // stem 7x7 stride 2
  rf += 2 * jump; // max-pool 3x3 stride 2
  jump *= 2;
  for (const b of blockPlan(arch)) {
    rf += 2 * jump; // 3x3, stride b.stride
    jump *= b.stride;
    rf += 2 * jump; // 3x3
  }
  return rf;
}

/** Activation bytes of one H x W sample: [largest tensor, all layer outputs]. */
export function activationBytes(arch: ResNetArch, height: number, width: number): { largest: number; total: number } {
  const out = (s: number, k: number, st: number, p: number) => Math.floor((s + 2 * p - k) / st) + 1;
  let h = out(height, 7, 2, 3),
    w = out(width, 7, 2, 3);
  const sizes: number[] = [3 * height * width, arch.planes[0] * h * w * 3]; // input; conv, norm, relu
  h = out(h, 3, 2, 1);
  w = out(w, 3, 2, 1);
  sizes.push(arch.planes[0] * h * w);
  for (const b of blockPlan(arch)) {
    h = out(h, 3, b.stride, 1);
    w = out(w, 3, b.stride, 1);
    // conv, norm, relu, conv, norm, (downsample conv, norm), add, relu
    sizes.push(b.planes * h * w * (b.downsample ? 9 : 7));
  }
  const largest = Math.max(3 * height * width, arch.planes[0] * out(height, 7, 2, 3) * out(width, 7, 2, 3));
  return { largest: largest * 4, total: sizes.reduce((a, s) => a + s, 0) * 4 };
}

export interface TiledPlan {
  tile: number;
  batch: number;
  xs: number[];
  ys: number[];
  whole: boolean;
}

/** How an image will run: whole, or as tiles of `tile` pixels in batches of `batch`. */
export function planImage(arch: ResNetArch, width: number, height: number, bindingLimit: number): TiledPlan {
  const fits = (h: number, w: number, n: number) => {
    const a = activationBytes(arch, h, w);
    return a.largest * n <= bindingLimit / 2 && a.total * n <= ACTIVATION_BUDGET;
  };
  // (bindingLimit is a parameter so tests can plan for a small adapter.)
  if (fits(height, width, 1)) return { tile: 0, batch: 1, xs: [0], ys: [0], whole: true };
  let tile = Math.max(MIN_TILE, Math.ceil(receptiveField(arch) / 32) * 32);
  while (tile > 32 && !fits(tile, tile, 1)) tile -= 32;
  tile = Math.min(tile, width, height);
  let batch = 1;
  while (fits(tile, tile, batch * 2)) batch *= 2;
  const cuts = (size: number) => {
    const n = Math.ceil(size / tile);
    return Array.from({ length: n }, (_, i) => Math.min(i * tile, size - tile));
  };
  return { tile, batch, xs: cuts(width), ys: cuts(height), whole: false };
}

function toTensor(img: RgbPixels, x0: number, y0: number, w: number, h: number, norm: Normalization, into: Float32Array, offset: number) {
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * norm.std[c]),
      shift = norm.mean[c] / norm.std[c];
    for (let y = 0; y < h; y++) {
      const row = ((y0 + y) * img.width + x0) * 3 + c;
      const o = offset + (c * h + y) * w;
      for (let x = 0; x < w; x++) into[o + x] = img.data[row + x * 3] * scale - shift;
    }
  }
}

/** A w x h crop at (x, y) of an image. */
interface Crop {
  img: RgbPixels;
  x: number;
  y: number;
}

/** Probabilities [classes] of each crop (all w x h), run `batch` at a time. */
async function runBatches(model: ResNet, crops: Crop[], w: number, h: number, norm: Normalization, batch: number): Promise<Float32Array[]> {
  const k = model.arch.numClasses;
  const out: Float32Array[] = [];
  for (let start = 0; start < crops.length; start += batch) {
    const part = crops.slice(start, start + batch);
    const data = new Float32Array(part.length * 3 * h * w);
    part.forEach((c, i) => toTensor(c.img, c.x, c.y, w, h, norm, data, i * 3 * h * w));
    const input = Tensor.from(data, [part.length, 3, h, w]);
    const probs = noGrad(() => {
      const { features, logits } = model.forward(input);
      const p = softmax(logits);
      features.dispose();
      logits.dispose();
      return p;
    });
    input.dispose();
    const values = (await probs.read()) as Float32Array;
    probs.dispose();
    for (let i = 0; i < part.length; i++) out.push(values.slice(i * k, (i + 1) * k));
  }
  return out;
}

function fitsBatch(arch: ResNetArch, h: number, w: number, n: number): boolean {
  const a = activationBytes(arch, h, w);
  return a.largest * n <= runtime().limits.maxStorageBufferBindingSize / 2 && a.total * n <= ACTIVATION_BUDGET;
}

export interface ImageProbabilities {
  probabilities: Float32Array;
  plan: TiledPlan;
  tiles: number;
}

/** Class probabilities of an image of any size (see the file comment). */
export async function classifyImage(
  model: ResNet,
  img: RgbPixels,
  norm: Normalization,
  bindingLimit = runtime().limits.maxStorageBufferBindingSize,
): Promise<ImageProbabilities> {
  const plan = planImage(model.arch, img.width, img.height, bindingLimit);
  if (plan.whole) {
    const [p] = await runBatches(model, [{ img, x: 0, y: 0 }], img.width, img.height, norm, 1);
    return { probabilities: p, plan, tiles: 1 };
  }
  const crops: Crop[] = [];
  for (const y of plan.ys) for (const x of plan.xs) crops.push({ img, x, y });
  const probs = await runBatches(model, crops, plan.tile, plan.tile, norm, plan.batch);
  const mean = new Float32Array(model.arch.numClasses);
  for (const p of probs) for (let c = 0; c < mean.length; c++) mean[c] += p[c] / probs.length;
  return { probabilities: mean, plan, tiles: crops.length };
}

/** Probabilities of equal-sized images (e.g. slide tiles), in batches that fit the adapter; a tile too large for one pass is itself tiled. */
export async function classifyTiles(model: ResNet, tiles: RgbPixels[], norm: Normalization): Promise<Float32Array[]> {
  if (tiles.length === 0) return [];
  const { width, height } = tiles[0];
  if (!fitsBatch(model.arch, height, width, 1)) {
    const out: Float32Array[] = [];
    for (const t of tiles) out.push((await classifyImage(model, t, norm)).probabilities);
    return out;
  }
  let batch = 1;
  while (batch < tiles.length && fitsBatch(model.arch, height, width, batch * 2)) batch *= 2;
  return runBatches(
    model,
    tiles.map((img) => ({ img, x: 0, y: 0 })),
    width,
    height,
    norm,
    batch,
  );
}
