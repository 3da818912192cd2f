/**
 * conv2d(x, w, b, opts): 2-D convolution with PyTorch semantics (cross-correlation, zero
 * padding, no groups), stride, padding and dilation per axis.
 *   x: [N,C,H,W]   w: [O,C,KH,KW]   b: [O] or null   ->   y: [N,O,OH,OW]
 *   OH = floor((H + 2*ph - dh*(KH-1) - 1) / sh) + 1   (OW likewise)
 * Backward (recorded when x, w or b requires grad), each its own kernel, only where needed:
 *   dx = conv2dBackwardInput(dy, w)    a transposed convolution: at stride 1 (3-wide rows) the
 *                                      forward row3 kernel on the flipped weight; otherwise one
 *                                      dispatch per stride phase; positions no window reads get 0
 *   dw = conv2dBackwardWeight(x, dy)   split-K over the batch and the map, then a fixed-order sum
 *   db = conv2dBackwardBias(dy)        sum over the batch and the map
 * All three big passes are tiled implicit GEMMs (kernels/gemm/tile.wgsl); see the kernel files
 * for their M, N, K. Every kernel variant is declared once, in CONV2D_VARIANTS below.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, groupsFor, elementwiseWorkgroupSize, namedOp, runtime } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError, LimitError } from '../errors.ts';
import type { KernelSpec, KernelVariant } from '../kernel.ts';
import {
  gemmTiles,
  gemmSpec,
  gemmGroups,
  gemmVariant,
  gemmVariants,
  gemmLaunches,
  gemmLaunchName,
  gemmLaunchUnusable,
  tilesOf,
  ruleSharing,
  GEMM_CONSTANTS,
  GEMM_FIXED_WORKGROUPS,
  type GemmLaunch,
} from './gemm_tiles.ts';
import { selectionPoint, choose, log2Bucket, type Candidate } from '../variant_choice.ts';
import { precision, precision as processPrecision } from '../precision.ts';
import { reductionWorkgroupSize } from './workgroup_reduce.ts';
import { pair } from './launch.ts';
import {
  sharedTileVariants,
  SHARED_TILE_SIZES,
  SHARED_TILE_CONFIGS,
  type SharedTileSize,
  type TilePrecision,
} from './shared_tile_config.ts';
import { tiledCandidates, tiledUnusable, tiledSize, tileGrid, tiledSplits, tiledSpec, checkTiledPrecision } from './gemm_shared.ts';

export type Pair = number | [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

/** Everything the three conv kernels need to know about one convolution (their uniforms). */
export interface ConvGeometry {
  batch: number;
  C: number;
  H: number;
  W: number;
  O: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  stride_h: number;
  stride_w: number;
  pad_h: number;
  pad_w: number;
  dil_h: number;
  dil_w: number;
}

/** Output size of one axis, PyTorch's formula (may be <= 0 for a kernel larger than the padded input). */
export function convOutputSize(size: number, kernel: number, stride: number, pad: number, dilation: number): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Check a conv2d call and work out its geometry; throws ShapeError naming conv2d and the shapes. */
export function conv2dGeometry(x: Tensor, w: Tensor, b: Tensor | null, opts: Conv2dOptions = {}): ConvGeometry {
  const shapes = `x ${shapeStr(x.shape)}, w ${shapeStr(w.shape)}${b ? `, b ${shapeStr(b.shape)}` : ''}`;
  if (x.rank !== 4) throw new ShapeError('conv2d', `input must be 4-D [N,C,H,W] (${shapes})`);
  if (w.rank !== 4) throw new ShapeError('conv2d', `weight must be 4-D [O,C,KH,KW] (${shapes})`);
  for (const [name, t] of [
    ['x', x],
    ['w', w],
    ['b', b],
  ] as const) {
    if (t && t.dtype !== 'f32') throw new ShapeError('conv2d', `${name} must be f32, got ${t.dtype} (${shapes})`);
  }
  const [batch, C, H, W] = x.shape;
  const [O, WC, KH, KW] = w.shape;
  if (WC !== C)
    throw new ShapeError('conv2d', `input has ${C} channels but the weight expects ${WC} (${shapes}); groups are not supported`);
  if ([batch, C, H, W, O, KH, KW].some((d) => d < 1)) throw new ShapeError('conv2d', `every dimension must be >= 1 (${shapes})`);
  if (b && (b.rank !== 1 || b.shape[0] !== O)) throw new ShapeError('conv2d', `bias must be [${O}] (one per output channel) (${shapes})`);
  const [stride_h, stride_w] = pair('conv2d', 'stride', opts.stride ?? 1, 1, shapes);
  const [pad_h, pad_w] = pair('conv2d', 'padding', opts.padding ?? 0, 0, shapes);
  const [dil_h, dil_w] = pair('conv2d', 'dilation', opts.dilation ?? 1, 1, shapes);
  const OH = convOutputSize(H, KH, stride_h, pad_h, dil_h);
  const OW = convOutputSize(W, KW, stride_w, pad_w, dil_w);
  if (OH < 1 || OW < 1) {
    throw new ShapeError(
      'conv2d',
      `kernel ${KH}x${KW} (dilation ${dil_h},${dil_w}) is larger than the padded input ${H + 2 * pad_h}x${W + 2 * pad_w} (${shapes}, padding ${pad_h},${pad_w}); use more padding or a smaller kernel`,
    );
  }
  return { batch, C, H, W, O, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w };
}

/**
 * FLOPs of one pass of a convolution, by the counter's convention (models/flops.ts): 2 per
 * multiply-add of the dense convolution (padding taps included), N*O*OH*OW*C*KH*KW of them, for
 * the forward, the input gradient and the weight gradient alike; a bias adds 1 per output. The
 * op states them with the pass's main dispatch, so profiles read FLOPs per kernel variant.
 */
export function convPassFlops(g: ConvGeometry): number {
  return 2 * g.batch * g.O * g.OH * g.OW * g.C * g.KH * g.KW;
}

/** y = conv2d(x, w) + b. */
function conv2dImpl(x: Tensor, w: Tensor, b: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const g = conv2dGeometry(x, w, b, opts);
  const y = conv2dForward(x, w, b, g);
  if (needsGrad(x, w, b)) {
    // Save only what the needed gradients read: dx needs w, dw needs x.
    const wSaved = x.requiresGrad ? save(w) : null;
    const xSaved = w.requiresGrad ? save(x) : null;
    record(
      'conv2d',
      y,
      [x, w, b],
      (dy) => [
        wSaved ? conv2dBackwardInput(dy, wSaved, g) : null,
        xSaved ? conv2dBackwardWeight(xSaved, dy, g) : null,
        b?.requiresGrad ? conv2dBackwardBias(dy) : null,
      ],
      [wSaved, xSaved].filter((t): t is Tensor => t !== null),
    );
  }
  return y;
}
export const conv2d = namedOp('conv2d', conv2dImpl);

/**
 * Every conv2d kernel variant, declared once: its grep-able name (what dispatches, errors and
 * profiles show), its body in kernels/, the constants injected into it and, through the GEMM
 * row sharing, the adapter features it needs (engine/ops/gemm_tiles.ts).
 * - The general GEMM kernels run any geometry, in both row sharings.
 * - The row kernels (kernels/conv2d/forward_row.wgsl, backward_weight_row.wgsl) run rows of
 *   ROW_TAPS taps at stride ROW_STRIDE along W (see conv2dForwardKernel for when); they share
 *   each reduction step's weight values through subgroups and exist only with them: without
 *   subgroups every invocation would load all 16 rows' taps itself, and they would stay in memory
 *   rather than registers (on llvmpipe, which has none, the general kernel is faster).
 *   PAIRS: input rows (c, kh) per invocation of the weight gradient (3 rows of 3 taps, 1 of 7).
 *   The stride-1 input gradient runs the row3 forward body on the flipped weight. (A 1-tap
 *   variant for the 1x1 projections ran slower than the general kernel: with one tap there is
 *   no sum to fold into an accumulator update.)
 */
export const CONV2D_VARIANTS = {
  forward: gemmVariants('conv2dForward', 'conv2d/forward.wgsl'),
  backwardInput: gemmVariants('conv2dBackwardInput', 'conv2d/backward_input.wgsl'),
  backwardWeight: gemmVariants('conv2dBackwardWeight', 'conv2d/backward_weight.wgsl'),
  forwardRow: {
    row3: gemmVariant('conv2dForwardRow3', 'conv2d/forward_row.wgsl', 'subgroups', { ROW_TAPS: 3, ROW_STRIDE: 1 }),
    row3s2: gemmVariant('conv2dForwardRow3s2', 'conv2d/forward_row.wgsl', 'subgroups', { ROW_TAPS: 3, ROW_STRIDE: 2 }),
    row7s2: gemmVariant('conv2dForwardRow7s2', 'conv2d/forward_row.wgsl', 'subgroups', { ROW_TAPS: 7, ROW_STRIDE: 2 }),
  },
  backwardInputRow3: gemmVariant('conv2dBackwardInputRow3', 'conv2d/forward_row.wgsl', 'subgroups', { ROW_TAPS: 3, ROW_STRIDE: 1 }),
  backwardWeightRow: {
    row3: gemmVariant('conv2dBackwardWeightRow3', 'conv2d/backward_weight_row.wgsl', 'subgroups', { ROW_TAPS: 3, ROW_STRIDE: 1, PAIRS: 3 }),
    row3s2: gemmVariant('conv2dBackwardWeightRow3s2', 'conv2d/backward_weight_row.wgsl', 'subgroups', {
      ROW_TAPS: 3,
      ROW_STRIDE: 2,
      PAIRS: 3,
    }),
    row7s2: gemmVariant('conv2dBackwardWeightRow7s2', 'conv2d/backward_weight_row.wgsl', 'subgroups', {
      ROW_TAPS: 7,
      ROW_STRIDE: 2,
      PAIRS: 1,
    }),
  },
  // The row kernels' weight packing runs only with them, so it carries their feature too.
  packWeight: { name: 'conv2dPackWeight', file: 'conv2d/row_weight.wgsl', constants: { FLIPPED: 0 }, features: ['subgroups'] },
  packFlippedWeight: {
    name: 'conv2dPackFlippedWeight',
    file: 'conv2d/row_weight.wgsl',
    constants: { FLIPPED: 1 },
    features: ['subgroups'],
  },
  // The workgroup-memory tiled implicit GEMMs (kernels/gemm/shared_tile.wgsl), one per tile
  // configuration (engine/ops/shared_tile_config.ts); launched by conv2dForwardTiled and its siblings below.
  forwardTiled: sharedTileVariants('conv2dForwardTiled', 'conv2d/forward_tiled.wgsl'),
  backwardInputTiled: sharedTileVariants('conv2dBackwardInputTiled', 'conv2d/backward_input_tiled.wgsl'),
  backwardWeightTiled: sharedTileVariants('conv2dBackwardWeightTiled', 'conv2d/backward_weight_tiled.wgsl'),
  // The forward with its tiles staged as f16 (f32 accumulation): the opt-in precision, shader-f16 only.
  forwardTiledF16: sharedTileVariants('conv2dForwardTiled', 'conv2d/forward_tiled.wgsl', 'f16'),
  backwardWeightSum: { name: 'conv2dBackwardWeightSum', file: 'gemm/split_k_sum.wgsl' },
  backwardBias: { name: 'conv2dBackwardBias', file: 'conv2d/backward_bias.wgsl' },
} satisfies Record<string, KernelVariant | Record<string, KernelVariant>>;

const ROW_KERNELS = CONV2D_VARIANTS.forwardRow;
export type RowKernel = keyof typeof ROW_KERNELS;
export type ConvKernel = RowKernel | 'general';

/**
 * Whether output rows `width` pixels long fill the row kernels' segments of 8 consecutive
 * pixels well enough: at most a quarter of the lanes idle (not, e.g., for 4x4 maps).
 */
function segmentsFill(width: number): boolean {
  const padded = Math.ceil(width / GEMM_CONSTANTS.TN) * GEMM_CONSTANTS.TN;
  return (padded - width) * 4 <= padded;
}

/** Whether this adapter runs the row kernels: they need subgroups (see CONV2D_VARIANTS) and exist in f32 only (engine/precision.ts). */
function rowKernelsUsable(): boolean {
  return gemmTiles().sharing === 'subgroups' && precision() === 'f32';
}

/**
 * Which forward kernel a geometry runs. The row kernels (kernels/conv2d/forward_row.wgsl) need
 * undilated rows read as whole vec4s (W % 4 == 0), at most 4 columns of padding, and output rows
 * that fill their segments: 'row3' for 3 taps at stride 1 (the 3x3 layers), 'row3s2' for 3 taps
 * at stride 2 (the downsampling 3x3 layers), 'row7s2' for 7 taps at stride 2 (the stem).
 * 'general' (kernels/conv2d/forward.wgsl) runs everything else. The taps and stride of each row
 * kernel are read from its variant's constants (CONV2D_VARIANTS.forwardRow).
 */
export function conv2dForwardKernel(g: ConvGeometry): ConvKernel {
  return rowKernelsUsable() ? (rowKernelFor(g) ?? 'general') : 'general';
}

/** The row kernel whose shape `g` has (see conv2dForwardKernel), whether or not this adapter can run it; null if none. */
function rowKernelFor(g: ConvGeometry): RowKernel | null {
  if (g.dil_w !== 1 || g.W % 4 !== 0 || g.pad_w > 4 || !segmentsFill(g.OW)) return null;
  const row = (Object.keys(ROW_KERNELS) as RowKernel[]).find(
    (k) => ROW_KERNELS[k].constants.ROW_TAPS === g.KW && ROW_KERNELS[k].constants.ROW_STRIDE === g.stride_w,
  );
  return row ?? null;
}

/**
 * The weight gradient's kernel: the forward's row kernel (kernels/conv2d/backward_weight_row.wgsl,
 * which also reads dy as vec4s: OW % 4 == 0) or the general one.
 */
export function conv2dBackwardWeightKernel(g: ConvGeometry): ConvKernel {
  return rowKernelsUsable() ? (rowWeightKernelFor(g) ?? 'general') : 'general';
}

/** The weight gradient's row kernel for `g` whether or not this adapter can run it; null if none. */
function rowWeightKernelFor(g: ConvGeometry): RowKernel | null {
  const kernel = rowKernelFor(g);
  return kernel !== null && g.OW % 4 === 0 ? kernel : null;
}

/** The forward pass alone (no graph), by the variant chosen for it (CONV2D_CHOICES.forward); the benchmark times it through this. */
export function conv2dForward(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry): Tensor {
  return choose(CONV2D_CHOICES.forward, g).launch(x, w, b, g);
}

/** The forward pass by its row kernel (the one rowKernelFor names). */
function conv2dForwardByRow(l: GemmLaunch, x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry): Tensor {
  const kernel = rowKernelFor(g)!;
  const w4 = packRowWeight(w, 'pack', g);
  const y = conv2dForwardRow(CONV2D_VARIANTS.forwardRow[kernel], x, w4, b, g, convPassFlops(g) + (b ? g.batch * g.O * g.OH * g.OW : 0), l);
  w4.dispose();
  return y;
}

/** The forward pass by the general GEMM kernel (kernels/conv2d/forward.wgsl). */
function conv2dForwardGeneral(l: GemmLaunch, x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry): Tensor {
  const y = Tensor.empty([g.batch, g.O, g.OH, g.OW]);
  const tiles = tilesOf(l, g.batch * g.OH * g.OW);
  // Without a bias the kernel never reads `bias`; the weight stands in for the binding.
  dispatch(
    gemmSpec(CONV2D_VARIANTS.forward[tiles.key], tiles),
    { x, w, bias: b ?? w, y },
    { ...g, has_bias: b ? 1 : 0 },
    gemmGroups(g.O, g.batch * g.OH * g.OW, tiles),
    convPassFlops(g) + (b ? y.size : 0),
  );
  return y;
}

/**
 * The weight [O,C,KH,KW] packed for the row kernels (kernels/conv2d/row_weight.wgsl), each row of
 * taps as ceil(KW/4) vec4s, reduction-major: 'pack' gives [C,KH,O,V4*4]; 'packFlipped' the
 * input gradient's weight [O,KH,C,V4*4].
 */
function packRowWeight(w: Tensor, entry: 'pack' | 'packFlipped', g: ConvGeometry): Tensor {
  const v4 = Math.ceil(g.KW / 4);
  const w4 = Tensor.empty(entry === 'pack' ? [g.C, g.KH, g.O, v4 * 4] : [g.O, g.KH, g.C, v4 * 4]);
  const wg = elementwiseWorkgroupSize();
  const variant = entry === 'pack' ? CONV2D_VARIANTS.packWeight : CONV2D_VARIANTS.packFlippedWeight;
  dispatch({ ...variant, overrides: { WG: wg } }, { w, w4 }, { O: g.O, C: g.C, KH: g.KH, KW: g.KW }, groupsFor(g.O * g.C * g.KH * v4, wg));
  return w4;
}

/**
 * y = conv2d(x, w) + b by a row kernel variant (kernels/conv2d/forward_row.wgsl), from the
 * packed weight: one of CONV2D_VARIANTS.forwardRow, or backwardInputRow3 for the input gradient.
 */
function conv2dForwardRow(
  variant: KernelVariant,
  x: Tensor,
  w4: Tensor,
  b: Tensor | null,
  g: ConvGeometry,
  flops: number,
  l: GemmLaunch,
): Tensor {
  const { TM, TN } = GEMM_CONSTANTS;
  const y = Tensor.empty([g.batch, g.O, g.OH, g.OW]);
  const segments = g.batch * g.OH * Math.ceil(g.OW / TN);
  const tiles = tilesOf(l, segments * TN);
  // Without a bias the kernel never reads `bias`; the input stands in for the binding.
  dispatch(
    gemmSpec(variant, tiles, { PAD_W: g.pad_w }),
    { x4: x, w4, bias: b ?? x, y },
    { ...g, has_bias: b ? 1 : 0 },
    [Math.ceil(segments / tiles.WG_N), Math.ceil(g.O / TM), 1],
    flops,
  );
  return y;
}

/**
 * The geometry of a stride-1 layer's input gradient as a forward correlation, when the row3
 * kernel can run it: dx = conv2d(dy, flip(w), padding dil*(K-1) - pad) with flip(w)[c,o,kh,kw] =
 * w[o,c,KH-1-kh,KW-1-kw] (a full correlation of dy cut back to the input's size). Null where that
 * does not hold (stride > 1, padding beyond the kernel's reach, or not a row3 geometry).
 */
function backwardInputAsForward(g: ConvGeometry): ConvGeometry | null {
  if (g.stride_h !== 1 || g.stride_w !== 1) return null;
  const pad_h = g.dil_h * (g.KH - 1) - g.pad_h,
    pad_w = g.dil_w * (g.KW - 1) - g.pad_w;
  if (pad_h < 0 || pad_w < 0) return null;
  const t: ConvGeometry = {
    batch: g.batch,
    C: g.O,
    H: g.OH,
    W: g.OW,
    O: g.C,
    OH: g.H,
    OW: g.W,
    KH: g.KH,
    KW: g.KW,
    stride_h: 1,
    stride_w: 1,
    pad_h,
    pad_w,
    dil_h: g.dil_h,
    dil_w: g.dil_w,
  };
  return rowKernelFor(t) === 'row3' ? t : null;
}

/**
 * One stride phase of one axis for conv2dBackwardInput: the input positions i with
 * (i + pad) % stride == phase (i = first + q*stride, q < count) and the taps that reach them,
 * kernel index k0 + u*kStep (u < taps), which land on output position o0 + q - u*oStep.
 */
export interface StridePhase {
  first: number;
  count: number;
  k0: number;
  kStep: number;
  taps: number;
  o0: number;
  oStep: number;
}

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
}

/** The stride phase `phase` of an axis of `size` inputs, `kernel` taps (see StridePhase). */
export function stridePhase(size: number, kernel: number, stride: number, pad: number, dilation: number, phase: number): StridePhase {
  const first = (((phase - pad) % stride) + stride) % stride;
  const count = first < size ? Math.ceil((size - first) / stride) : 0;
  // Taps k with k*dilation = phase (mod stride): k0 + u*kStep, kStep = stride / gcd.
  const g = greatestCommonDivisor(dilation, stride);
  const kStep = stride / g;
  let k0 = 0;
  while (k0 < kStep && (k0 * dilation) % stride !== phase) k0++;
  const taps = k0 < kStep && k0 < kernel ? Math.ceil((kernel - k0) / kStep) : 0;
  // (first + pad - k0*dilation) is a multiple of the stride whenever a tap exists.
  const o0 = taps ? (first + pad - k0 * dilation) / stride : 0;
  return { first, count, k0, kStep, taps, o0, oStep: dilation / g };
}

/** The input gradient's kernel: row3 (the forward row3 kernel on the flipped weight) or the general phases. */
export function conv2dBackwardInputKernel(g: ConvGeometry): ConvKernel {
  return rowKernelsUsable() && backwardInputAsForward(g) ? 'row3' : 'general';
}

/**
 * dL/dx from dL/dy [N,O,OH,OW] and the weight, by the variant chosen for it
 * (CONV2D_CHOICES.backwardInput): at stride 1 with 3-wide rows the row3 forward kernel on the
 * flipped weight; otherwise one dispatch per stride phase (sh * sw of them).
 */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  return choose(CONV2D_CHOICES.backwardInput, g).launch(dy, w, g);
}

/** The input gradient as the row3 forward on the flipped weight (backwardInputAsForward must hold). */
function conv2dBackwardInputByRow(l: GemmLaunch, dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const asForward = backwardInputAsForward(g)!;
  const w4 = packRowWeight(w, 'packFlipped', g);
  const dx = conv2dForwardRow(CONV2D_VARIANTS.backwardInputRow3, dy, w4, null, asForward, convPassFlops(g), l);
  w4.dispose();
  return dx;
}

/** The input gradient by the general kernel, one dispatch per stride phase. */
function conv2dBackwardInputGeneral(l: GemmLaunch, dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dx = Tensor.empty([g.batch, g.C, g.H, g.W]);
  forEachStridePhase(g, (N, uniforms, flops) => {
    const tiles = tilesOf(l, N);
    dispatch(gemmSpec(CONV2D_VARIANTS.backwardInput[tiles.key], tiles), { dy, w, dx }, uniforms, gemmGroups(g.C, N, tiles), flops);
  });
  return dx;
}

/**
 * Walk the stride phases of an input gradient (stridePhase, sh * sw of them), calling `dispatchPhase`
 * for each that has input positions: N = batch x positions of the phase (the GEMM's columns), the
 * phase's uniforms (those of kernels/conv2d/backward_input.wgsl and backward_input_tiled.wgsl), and
 * the FLOPs to state: the pass's dense count (as counted) with its first dispatch, 0 after.
 */
function forEachStridePhase(g: ConvGeometry, dispatchPhase: (N: number, uniforms: Record<string, number>, flops: number) => void): void {
  let flops = convPassFlops(g);
  for (let rh = 0; rh < g.stride_h; rh++) {
    const ph = stridePhase(g.H, g.KH, g.stride_h, g.pad_h, g.dil_h, rh);
    for (let rw = 0; rw < g.stride_w; rw++) {
      const pw = stridePhase(g.W, g.KW, g.stride_w, g.pad_w, g.dil_w, rw);
      const N = g.batch * ph.count * pw.count;
      if (N === 0) continue;
      dispatchPhase(
        N,
        {
          batch: g.batch,
          C: g.C,
          H: g.H,
          W: g.W,
          O: g.O,
          OH: g.OH,
          OW: g.OW,
          KH: g.KH,
          KW: g.KW,
          stride_h: g.stride_h,
          stride_w: g.stride_w,
          ih_first: ph.first,
          iw_first: pw.first,
          QH: ph.count,
          QW: pw.count,
          kh0: ph.k0,
          kw0: pw.k0,
          kh_step: ph.kStep,
          kw_step: pw.kStep,
          NKH: ph.taps,
          NKW: pw.taps,
          oh0: ph.o0,
          ow0: pw.o0,
          oh_step: ph.oStep,
          ow_step: pw.oStep,
        },
        flops,
      );
      flops = 0;
    }
  }
}

// Split-K for the weight gradient: its reduction (batch * OH * OW) is long while its output
// (the weight) can be small, e.g. 32 x 288 for the first 3x3 layer: only 10 tiles of 16 x 64.
// Enough workgroups to keep every core busy, but each still reducing at least MIN_SPLIT_K terms
// so the extra summing pass stays cheap.
const TARGET_WORKGROUPS = 64;
const MIN_SPLIT_K = 512;

/**
 * How to split a reduction of length K over an output of `tiles` tiles: [splits, k per split].
 * `target`: the workgroups aimed at (today's rule: TARGET_WORKGROUPS; the tuner offers others).
 */
export function splitK(K: number, tiles: number, target = TARGET_WORKGROUPS): [number, number] {
  const wanted = Math.max(1, Math.min(Math.ceil(target / tiles), Math.floor(K / MIN_SPLIT_K)));
  const kSplit = Math.ceil(K / wanted);
  return [Math.ceil(K / kSplit), kSplit];
}

/** dL/dw from the saved input and dL/dy, by the variant chosen for it (CONV2D_CHOICES.backwardWeight). */
export function conv2dBackwardWeight(x: Tensor, dy: Tensor, g: ConvGeometry): Tensor {
  return choose(CONV2D_CHOICES.backwardWeight, g).launch(x, dy, g);
}

/**
 * The weight gradient by a row kernel (`row`: rowWeightKernelFor(g) must name one) or the general
 * one, split-K aiming at `splitTarget` workgroups.
 */
function conv2dBackwardWeightBy(row: boolean, l: GemmLaunch, splitTarget: number, x: Tensor, dy: Tensor, g: ConvGeometry): Tensor {
  const dw = Tensor.empty([g.O, g.C, g.KH, g.KW]);
  const M = g.O,
    N = g.C * g.KH * g.KW;
  let spec: KernelSpec, grid: [number, number, number], splits: number, uniforms: Record<string, number>;
  let inputs: Record<string, Tensor>;
  const kernel = row ? rowWeightKernelFor(g)! : 'general';
  if (kernel !== 'general') {
    // kernels/conv2d/backward_weight_row.wgsl: PAIRS input rows (c, kh) per invocation, the
    // reduction in chunks of TN pixels of an output row (split-K counts chunks).
    const { TM, TN } = GEMM_CONSTANTS;
    const variant = CONV2D_VARIANTS.backwardWeightRow[kernel];
    const invocations = Math.ceil((g.C * g.KH) / variant.constants.PAIRS);
    const tiles = tilesOf(l, invocations * TN);
    const segments = Math.ceil(g.OW / TN);
    const chunks = g.batch * g.OH * segments;
    const tileCount = Math.ceil(invocations / tiles.WG_N) * Math.ceil(M / TM);
    const chunkSplit = Math.ceil(splitK(chunks * TN, tileCount, splitTarget)[1] / TN);
    splits = Math.ceil(chunks / chunkSplit);
    spec = gemmSpec(variant, tiles, { PAD_W: g.pad_w });
    grid = [Math.ceil(invocations / tiles.WG_N), Math.ceil(M / TM), splits];
    uniforms = {
      batch: g.batch,
      C: g.C,
      H: g.H,
      W: g.W,
      O: g.O,
      OH: g.OH,
      OW: g.OW,
      KH: g.KH,
      stride_h: g.stride_h,
      pad_h: g.pad_h,
      dil_h: g.dil_h,
      k_split: chunkSplit,
    };
    inputs = { x4: x, dy4: dy };
  } else {
    const tiles = tilesOf(l, N);
    const K = g.batch * g.OH * g.OW;
    const tileGrid = gemmGroups(M, N, tiles);
    const [s, kSplit] = splitK(K, tileGrid[0] * tileGrid[1], splitTarget);
    splits = s;
    spec = gemmSpec(CONV2D_VARIANTS.backwardWeight[tiles.key], tiles);
    grid = gemmGroups(M, N, tiles, splits);
    uniforms = { ...g, k_split: kSplit };
    inputs = { x, dy };
  }
  if (splits === 1) {
    dispatch(spec, { ...inputs, out: dw }, uniforms, grid, convPassFlops(g));
    return dw;
  }
  const partial = Tensor.empty([splits, M * N]);
  dispatch(spec, { ...inputs, out: partial }, uniforms, grid, convPassFlops(g));
  const wg = elementwiseWorkgroupSize();
  const sumSpec: KernelSpec = { ...CONV2D_VARIANTS.backwardWeightSum, overrides: { WG: wg } };
  dispatch(sumSpec, { partial, out: dw }, { n: M * N, splits }, groupsFor(M * N, wg));
  partial.dispose();
  return dw;
}

/** dL/db [O] = sum of dL/dy [N,O,...] over the batch and every trailing position. */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  const [batch, O] = dy.shape;
  const S = dy.size / (batch * O);
  const db = Tensor.empty([O]);
  const spec: KernelSpec = { ...CONV2D_VARIANTS.backwardBias, overrides: { WG: reductionWorkgroupSize(batch * S) } };
  dispatch(spec, { dy, db }, { batch, O, S }, O, dy.size);
  return db;
}

/**
 * The selection points of conv2d's three GEMM passes (engine/variant_choice.ts). Candidates:
 * - 'row-wg…': the row kernels (CONV2D_VARIANTS.forwardRow etc.; the one matching the geometry's
 *   taps and stride), subgroups only, where the geometry has their shape;
 * - 'general-<sharing>-wg…': the general GEMM kernels in either row sharing;
 * each with the workgroup size 'fit' (today's gemmTiles sizing, per dispatch) or fixed (64, 32);
 * the weight gradient also with split-K aiming at 1 (no split), 16, 64 (today's rule) or 256
 * workgroups. A new variant is one more entry in the pass's list (see variant_choice.ts).
 * Geometry class: kernel size, stride, dilation, and log2 buckets of the pass's GEMM M, N, K
 * (forward and input gradient: M = output channels, N = output pixels, K = C*KH*KW; weight
 * gradient: M = O, N = C*KH*KW, K = N*OH*OW), plus whether rows are whole vec4s (W % 4, OW % 4:
 * the row kernels' condition).
 */
type ConvForwardLaunch = (x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry) => Tensor;
type ConvBackwardInputLaunch = (dy: Tensor, w: Tensor, g: ConvGeometry) => Tensor;
type ConvBackwardWeightLaunch = (x: Tensor, dy: Tensor, g: ConvGeometry) => Tensor;

/** The weight gradient's split-K targets offered besides today's TARGET_WORKGROUPS. */
const SPLIT_TARGETS = [1, 16, TARGET_WORKGROUPS, 256];

const ROW_LAUNCHES: GemmLaunch[] = (['fit', ...GEMM_FIXED_WORKGROUPS] as const).map((wg) => ({ sharing: 'subgroups', wg }));

/** Why a row kernel cannot run here: they need subgroups (and the launch's limits) and exist in f32 only. */
function rowLaunchUnusable(l: GemmLaunch): string | null {
  return precision() !== 'f32' ? `the row kernels exist in f32 only (precision ${precision()})` : gemmLaunchUnusable(l);
}

function convClass(g: ConvGeometry, M: number, N: number, K: number): string {
  return `k${g.KH}x${g.KW} s${g.stride_h}x${g.stride_w} d${g.dil_h}x${g.dil_w} M${log2Bucket(M)} N${log2Bucket(N)} K${log2Bucket(K)} w4${g.W % 4 === 0 ? 1 : 0}${g.OW % 4 === 0 ? 1 : 0}`;
}

export const CONV2D_CHOICES = {
  forward: selectionPoint<ConvGeometry, ConvForwardLaunch>({
    op: 'conv2d.forward',
    candidates: [
      ...ROW_LAUNCHES.map((l): Candidate<ConvGeometry, ConvForwardLaunch> => ({
        name: `row-${gemmLaunchName(l, false)}`,
        unusable: () => rowLaunchUnusable(l),
        fits: (g) => rowKernelFor(g) !== null,
        params: { kernel: 'row', sharing: l.sharing, wg: l.wg },
        launch: (x, w, b, g) => conv2dForwardByRow(l, x, w, b, g),
      })),
      ...gemmLaunches().map((l): Candidate<ConvGeometry, ConvForwardLaunch> => ({
        name: `general-${gemmLaunchName(l)}`,
        unusable: () => gemmLaunchUnusable(l),
        params: { kernel: 'general', sharing: l.sharing, wg: l.wg },
        launch: (x, w, b, g) => conv2dForwardGeneral(l, x, w, b, g),
      })),
      ...tiledCandidates<ConvGeometry, ConvForwardLaunch>(
        'tiled (workgroup memory)',
        (size) => (x, w, b, g) => conv2dForwardTiled(x, w, b, g, size),
      ),
    ],
    classOf: (g) => convClass(g, g.O, g.batch * g.OH * g.OW, g.C * g.KH * g.KW),
    rule: (g) => (conv2dForwardKernel(g) !== 'general' ? 'row-wgfit' : `general-${ruleSharing()}-wgfit`),
  }),
  backwardInput: selectionPoint<ConvGeometry, ConvBackwardInputLaunch>({
    op: 'conv2d.backwardInput',
    candidates: [
      ...ROW_LAUNCHES.map((l): Candidate<ConvGeometry, ConvBackwardInputLaunch> => ({
        name: `row-${gemmLaunchName(l, false)}`,
        unusable: () => rowLaunchUnusable(l),
        fits: (g) => backwardInputAsForward(g) !== null,
        params: { kernel: 'row3 on the flipped weight', sharing: l.sharing, wg: l.wg },
        launch: (dy, w, g) => conv2dBackwardInputByRow(l, dy, w, g),
      })),
      ...gemmLaunches().map((l): Candidate<ConvGeometry, ConvBackwardInputLaunch> => ({
        name: `general-${gemmLaunchName(l)}`,
        unusable: () => gemmLaunchUnusable(l),
        params: { kernel: 'general (per stride phase)', sharing: l.sharing, wg: l.wg },
        launch: (dy, w, g) => conv2dBackwardInputGeneral(l, dy, w, g),
      })),
      ...tiledCandidates<ConvGeometry, ConvBackwardInputLaunch>(
        'tiled (workgroup memory, per stride phase)',
        (size) => (dy, w, g) => conv2dBackwardInputTiled(dy, w, g, size),
      ),
    ],
    classOf: (g) => convClass(g, g.C, g.batch * g.H * g.W, g.O * g.KH * g.KW),
    rule: (g) => (conv2dBackwardInputKernel(g) !== 'general' ? 'row-wgfit' : `general-${ruleSharing()}-wgfit`),
  }),
  backwardWeight: selectionPoint<ConvGeometry, ConvBackwardWeightLaunch>({
    op: 'conv2d.backwardWeight',
    candidates: [
      ...ROW_LAUNCHES.flatMap((l) =>
        SPLIT_TARGETS.map((t): Candidate<ConvGeometry, ConvBackwardWeightLaunch> => ({
          name: `row-${gemmLaunchName(l, false)}-split${t}`,
          unusable: () => rowLaunchUnusable(l),
          fits: (g) => rowWeightKernelFor(g) !== null,
          params: { kernel: 'row', sharing: l.sharing, wg: l.wg, splitTarget: t },
          launch: (x, dy, g) => conv2dBackwardWeightBy(true, l, t, x, dy, g),
        })),
      ),
      ...gemmLaunches().flatMap((l) =>
        SPLIT_TARGETS.map((t): Candidate<ConvGeometry, ConvBackwardWeightLaunch> => ({
          name: `general-${gemmLaunchName(l)}-split${t}`,
          unusable: () => gemmLaunchUnusable(l),
          params: { kernel: 'general', sharing: l.sharing, wg: l.wg, splitTarget: t },
          launch: (x, dy, g) => conv2dBackwardWeightBy(false, l, t, x, dy, g),
        })),
      ),
      // Split-K sized from the adapter's limits (gemm_shared.ts tiledSplits), or none.
      ...SHARED_TILE_SIZES.flatMap((size) =>
        (['adapter', 1] as const).map((split): Candidate<ConvGeometry, ConvBackwardWeightLaunch> => ({
          name: `tiled-${size}-split${split}`,
          unusable: () => tiledUnusable(size),
          params: { kernel: 'tiled (workgroup memory)', size, split },
          launch: (x, dy, g) => conv2dBackwardWeightTiled(x, dy, g, split === 1 ? 1 : undefined, size),
        })),
      ),
    ],
    classOf: (g) => convClass(g, g.O, g.C * g.KH * g.KW, g.batch * g.OH * g.OW),
    rule: (g) =>
      conv2dBackwardWeightKernel(g) !== 'general'
        ? `row-wgfit-split${TARGET_WORKGROUPS}`
        : `general-${ruleSharing()}-wgfit-split${TARGET_WORKGROUPS}`,
  }),
};

/**
 * y = conv2d(x, w) + b by the tiled forward kernel (kernels/conv2d/forward_tiled.wgsl), its tiles
 * staged as f32, or as f16 (precision 'f16': shader-f16 only; f32 accumulation, see
 * precisionVariants for the error this costs). Default: the process-wide precision
 * (engine/precision.ts, `--precision`). The tiled backward passes are f32 only.
 */
export function conv2dForwardTiled(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  g: ConvGeometry,
  size?: SharedTileSize,
  precision: TilePrecision = processPrecision(),
): Tensor {
  checkTiledPrecision('conv2dForwardTiled', precision);
  const M = g.O,
    N = g.batch * g.OH * g.OW;
  const s = tiledSize(M, N, size);
  const y = Tensor.empty([g.batch, g.O, g.OH, g.OW]);
  // Without a bias the kernel never reads `bias`; the weight stands in for the binding.
  dispatch(
    tiledSpec((precision === 'f16' ? CONV2D_VARIANTS.forwardTiledF16 : CONV2D_VARIANTS.forwardTiled)[s]),
    { x, w, bias: b ?? w, y },
    { ...g, has_bias: b ? 1 : 0 },
    tileGrid(M, N, SHARED_TILE_CONFIGS[s]),
    convPassFlops(g) + (b ? y.size : 0),
  );
  return y;
}

/**
 * dL/dx by the tiled input-gradient kernel (kernels/conv2d/backward_input_tiled.wgsl): one
 * dispatch per stride phase (stridePhase in engine/ops/conv2d.ts), any stride, padding, dilation.
 */
export function conv2dBackwardInputTiled(dy: Tensor, w: Tensor, g: ConvGeometry, size?: SharedTileSize): Tensor {
  const dx = Tensor.empty([g.batch, g.C, g.H, g.W]);
  forEachStridePhase(g, (N, uniforms, flops) => {
    const s = tiledSize(g.C, N, size);
    dispatch(tiledSpec(CONV2D_VARIANTS.backwardInputTiled[s]), { dy, w, dx }, uniforms, tileGrid(g.C, N, SHARED_TILE_CONFIGS[s]), flops);
  });
  return dx;
}

/**
 * The default split count of the tiled weight gradient of g at a tile size (what
 * conv2dBackwardWeightTiled uses when `splits` is not given).
 */
export function conv2dBackwardWeightTiledSplits(g: ConvGeometry, size?: SharedTileSize): number {
  const M = g.O,
    N = g.C * g.KH * g.KW;
  const s = tiledSize(M, N, size);
  const [gx, gy] = tileGrid(M, N, SHARED_TILE_CONFIGS[s]);
  return tiledSplits(g.batch * g.OH * g.OW, gx * gy, M * N, runtime().limits);
}

/**
 * Split counts worth timing for the tiled weight gradient of g (for a tuner): no split, the
 * default, and powers of two from 2 up to twice the default, each kept only if every split
 * still has at least one BK step of its own. Sorted, distinct.
 */
export function conv2dBackwardWeightTiledSplitCandidates(g: ConvGeometry, size?: SharedTileSize): number[] {
  const M = g.O,
    N = g.C * g.KH * g.KW,
    K = g.batch * g.OH * g.OW;
  const s = tiledSize(M, N, size);
  const fallback = conv2dBackwardWeightTiledSplits(g, s);
  const most = Math.min(Math.ceil(K / SHARED_TILE_CONFIGS[s].BK), runtime().limits.maxComputeWorkgroupsPerDimension);
  const out = new Set([1, fallback]);
  for (let n = 2; n <= 2 * fallback && n <= most; n *= 2) out.add(n);
  return [...out].filter((n) => n <= most).sort((a, b) => a - b);
}

/**
 * dL/dw by the tiled weight-gradient kernel (kernels/conv2d/backward_weight_tiled.wgsl), its
 * reduction (batch x map) split `splits` ways (default: conv2dBackwardWeightTiledSplits); the
 * partial sums are added in a fixed order by conv2dBackwardWeightSum (gemm/split_k_sum.wgsl).
 */
export function conv2dBackwardWeightTiled(x: Tensor, dy: Tensor, g: ConvGeometry, splits?: number, size?: SharedTileSize): Tensor {
  const M = g.O,
    N = g.C * g.KH * g.KW,
    K = g.batch * g.OH * g.OW;
  const s = tiledSize(M, N, size);
  const c = SHARED_TILE_CONFIGS[s];
  const asked = splits ?? conv2dBackwardWeightTiledSplits(g, s);
  if (!Number.isInteger(asked) || asked < 1) throw new LimitError(`conv2dBackwardWeightTiled: splits ${asked} must be a whole number >= 1`);
  // Each split a whole number of BK steps; the count actually needed may then be smaller.
  const kSplit = Math.ceil(Math.ceil(K / asked) / c.BK) * c.BK;
  const n = Math.ceil(K / kSplit);
  const dw = Tensor.empty([g.O, g.C, g.KH, g.KW]);
  const uniforms = { ...g, k_split: kSplit };
  const variant = tiledSpec(CONV2D_VARIANTS.backwardWeightTiled[s]);
  if (n === 1) {
    dispatch(variant, { x, dy, out: dw }, uniforms, tileGrid(M, N, c), convPassFlops(g));
    return dw;
  }
  const partial = Tensor.empty([n, M * N]);
  dispatch(variant, { x, dy, out: partial }, uniforms, tileGrid(M, N, c, n), convPassFlops(g));
  const wg = elementwiseWorkgroupSize();
  dispatch(
    { ...CONV2D_VARIANTS.backwardWeightSum, overrides: { WG: wg } },
    { partial, out: dw },
    { n: M * N, splits: n },
    groupsFor(M * N, wg),
  );
  partial.dispose();
  return dw;
}
