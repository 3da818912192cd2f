/**
 * Paired augmentation: the flips and quarter turns are the same geometric transform on the
 * teacher's image and on its downsampled twin, and equal an independent coordinate mapping;
 * colour jitter matches the float64 reference of torchvision's formulas; parameters are drawn
 * in their documented ranges, repeatably.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../engine/random.ts';
import {
  applyColorJitter,
  applyGeometry,
  drawAugmentParams,
  IDENTITY_AUGMENT,
  type AugmentParams,
  type ColorOp,
} from '../../data/augment.ts';
import { areaDownsample, type RgbImage } from '../../data/image.ts';
import { colorJitterReference, type JitterStep } from '../../data/reference/color_jitter.ts';
import { assertClose } from '../helpers/gpu.ts';

function randomImage(rng: Rng, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { data, width, height };
}

/** Interleaved bytes -> planar CHW floats, exactly as the loader does (x / 255). */
function planar(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[c * n + p] = img.data[3 * p + c] / 255;
  return out;
}

/**
 * Independent mapping: pixel centres as coordinates about the image centre, flips as sign
 * changes, a counter-clockwise quarter turn (on screen, y down) as (u, v) -> (v, -u). Returns,
 * for each output pixel, the input pixel it comes from.
 */
function referenceSource(p: AugmentParams, height: number, width: number): { outH: number; outW: number; source: Int32Array } {
  const odd = p.rot90 % 2 === 1;
  const outH = odd ? width : height,
    outW = odd ? height : width;
  const source = new Int32Array(outH * outW);
  for (let sy = 0; sy < height; sy++) {
    for (let sx = 0; sx < width; sx++) {
      let u = sx - (width - 1) / 2,
        v = sy - (height - 1) / 2;
      if (p.flipH) u = -u;
      if (p.flipV) v = -v;
      for (let t = 0; t < p.rot90; t++) [u, v] = [v, -u];
      const x = u + (outW - 1) / 2,
        y = v + (outH - 1) / 2;
      source[y * outW + x] = sy * width + sx;
    }
  }
  return { outH, outW, source };
}

const GEOMETRIES: AugmentParams[] = [];
for (const flipH of [false, true])
  for (const flipV of [false, true]) for (let rot90 = 0; rot90 < 4; rot90++) GEOMETRIES.push({ ...IDENTITY_AUGMENT, flipH, flipV, rot90 });

for (const [h, w, f] of [
  [12, 20, 2],
  [9, 15, 3],
  [8, 8, 4],
] as const) {
  test(`flip/rotation: all 16 transforms on a pair teacher=[3,${h},${w}] student=[3,${h / f},${w / f}] (factor ${f}) are the same geometric transform`, () => {
    const rng = new Rng(h * 100 + w);
    const teacher = randomImage(rng, w, h);
    const student = areaDownsample(teacher, f);
    for (const p of GEOMETRIES) {
      const name = `flipH=${p.flipH} flipV=${p.flipV} rot90=${p.rot90}`;
      const t = applyGeometry(planar(teacher), 3, h, w, p);
      const s = applyGeometry(planar(student), 3, h / f, w / f, p);
      // 1. The teacher's transform follows the independent coordinate mapping exactly.
      const ref = referenceSource(p, h, w);
      assert.is(t.height, ref.outH, name);
      assert.is(t.width, ref.outW, name);
      const src = planar(teacher);
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < ref.source.length; i++)
          assert.is(t.data[c * h * w + i], src[c * h * w + ref.source[i]], `${name} c=${c} i=${i}`);
      }
      // 2. Downsampling the transformed teacher gives the transformed student: the pair saw the
      //    same transform. Both sides are whole-number block means rounded once: exact.
      const tBytes = new Uint8Array(t.height * t.width * 3);
      for (let p2 = 0; p2 < t.height * t.width; p2++)
        for (let c = 0; c < 3; c++) tBytes[3 * p2 + c] = Math.round(t.data[c * t.height * t.width + p2] * 255);
      const down = planar(areaDownsample({ data: tBytes, width: t.width, height: t.height }, f));
      assert.is(s.height, t.height / f, name);
      assert.is(s.width, t.width / f, name);
      assert.equal(Array.from(down), Array.from(s.data), `${name}: downsample(T(teacher)) != T(student)`);
    }
  });
}

/** The reference's steps for parameters p, in p's order (a factor of 1 or a shift of 0 changes nothing). */
function stepsOf(p: AugmentParams): JitterStep[] {
  return p.order.map((op: ColorOp): JitterStep => (op === 'hue' ? { op, shift: p.hue } : { op, factor: p[op] }));
}

function interleaved(planarImg: Float32Array, n: number): Float64Array {
  const out = new Float64Array(3 * n);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[3 * p + c] = planarImg[c * n + p];
  return out;
}

for (const [h, w, seed] of [
  [7, 5, 1],
  [1, 1, 2],
  [16, 9, 3],
  [13, 13, 4],
] as const) {
  test(`colour jitter vs float64 reference: image=[3,${h},${w}], 12 random parameter draws (defaults 0.5/0.5/0.5/0.2)`, () => {
    const rng = new Rng(seed);
    for (let draw = 0; draw < 12; draw++) {
      const img = randomImage(rng, w, h);
      const p = drawAugmentParams(rng);
      const fast = planar(img);
      applyColorJitter(fast, h, w, p);
      const ref = colorJitterReference(interleaved(planar(img), h * w), stepsOf(p));
      // The fast path rounds to float32 after each of the four steps (relative 6e-8 each) and
      // the hue conversion divides by the chroma, which can amplify that rounding a few times
      // for nearly grey pixels; 2e-6 absolute on values in [0, 1] bounds it with room.
      assertClose(`jitter [3,${h},${w}] draw ${draw} order ${p.order.join('>')}`, interleaved(fast, h * w), ref, { atol: 2e-6, rtol: 0 });
    }
  });
}

test('colour jitter edge cases vs reference: grey and saturated pixels, hue +-0.5, brightness 0, contrast 0, saturation 0 and 1.5: image=[3,4,6]', () => {
  const grey = new Uint8Array([0, 0, 0, 255, 255, 255, 128, 128, 128, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0, 0, 255, 255]);
  const data = new Uint8Array(4 * 6 * 3);
  for (let i = 0; i < data.length; i++) data[i] = grey[i % grey.length];
  const img = { data, width: 6, height: 4 };
  const cases: Partial<AugmentParams>[] = [
    { hue: 0.5, order: ['hue', 'brightness', 'contrast', 'saturation'] },
    { hue: -0.5, order: ['hue', 'brightness', 'contrast', 'saturation'] },
    { brightness: 0, order: ['brightness', 'contrast', 'saturation', 'hue'] },
    { contrast: 0, hue: 0.1, order: ['contrast', 'hue', 'saturation', 'brightness'] },
    { saturation: 0, hue: 0.2, order: ['saturation', 'hue', 'contrast', 'brightness'] },
    { saturation: 1.5, brightness: 1.5, hue: -0.2, order: ['brightness', 'saturation', 'hue', 'contrast'] },
  ];
  for (const c of cases) {
    const p = { ...IDENTITY_AUGMENT, ...c };
    const fast = planar(img);
    applyColorJitter(fast, 4, 6, p);
    const ref = colorJitterReference(interleaved(planar(img), 24), stepsOf(p));
    assertClose(`jitter edge case ${JSON.stringify(c)}`, interleaved(fast, 24), ref, { atol: 2e-6, rtol: 0 });
  }
});

test('augment parameters: in torchvision ranges, a permutation of the four ops, repeatable by seed, options respected', () => {
  const seen = { flipH: 0, flipV: 0, rot: [0, 0, 0, 0] };
  for (let s = 0; s < 400; s++) {
    const p = drawAugmentParams(new Rng(s));
    assert.equal(drawAugmentParams(new Rng(s)), p, 'same seed, same parameters');
    assert.equal([...p.order].sort(), ['brightness', 'contrast', 'hue', 'saturation']);
    for (const k of ['brightness', 'contrast', 'saturation'] as const) assert.ok(p[k] >= 0.5 && p[k] <= 1.5, `${k} ${p[k]}`);
    assert.ok(Math.abs(p.hue) <= 0.2, `hue ${p.hue}`);
    seen.flipH += Number(p.flipH);
    seen.flipV += Number(p.flipV);
    seen.rot[p.rot90]++;
  }
  // Each flip about half the time and each turn about a quarter (binomial, 400 draws: 4+ sigma bounds).
  assert.ok(seen.flipH > 150 && seen.flipH < 250, `flipH ${seen.flipH}`);
  assert.ok(seen.flipV > 150 && seen.flipV < 250, `flipV ${seen.flipV}`);
  for (const r of seen.rot) assert.ok(r > 60 && r < 140, `rotations ${seen.rot}`);
  const off = drawAugmentParams(new Rng(1), {
    hflip: false,
    vflip: false,
    rotate90: false,
    brightness: 0,
    contrast: 0,
    saturation: 0,
    hue: 0,
  });
  assert.equal({ ...off, order: IDENTITY_AUGMENT.order }, IDENTITY_AUGMENT);
  assert.throws(() => drawAugmentParams(new Rng(1), { hue: 0.7 }), /hue must be in \[0, 0.5\]/);
});

test.run();
