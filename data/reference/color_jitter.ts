/**
 * Float64 reference of colour jitter, written from the formulas of torchvision's functional
 * adjust_brightness / adjust_contrast / adjust_saturation / adjust_hue on float images, one
 * pixel at a time, kept apart from the fast planar code in data/augment.ts.
 *
 * Layout: `rgb` is interleaved, pixel p channel c at p * 3 + c, values in [0, 1].
 * HSV conversions use the textbook form (hue sector from the maximum channel; back through
 * chroma C = V S and X = C (1 - |H' mod 2 - 1|)), which equals torchvision's p/q/t form for
 * values in [0, 1].
 */
export type JitterStep =
  | { op: 'brightness'; factor: number }
  | { op: 'contrast'; factor: number }
  | { op: 'saturation'; factor: number }
  | { op: 'hue'; shift: number };

const clamp = (v: number) => Math.min(1, Math.max(0, v));
const luma = (r: number, g: number, b: number) => 0.2989 * r + 0.587 * g + 0.114 * b;

export function colorJitterReference(rgb: Float64Array, steps: JitterStep[]): Float64Array {
  const out = Float64Array.from(rgb);
  const pixels = out.length / 3;
  for (const step of steps) {
    if (step.op === 'brightness') {
      for (let i = 0; i < out.length; i++) out[i] = clamp(step.factor * out[i]);
    } else if (step.op === 'contrast') {
      let total = 0;
      for (let p = 0; p < pixels; p++) total += luma(out[3 * p], out[3 * p + 1], out[3 * p + 2]);
      const mean = total / pixels;
      for (let i = 0; i < out.length; i++) out[i] = clamp(step.factor * out[i] + (1 - step.factor) * mean);
    } else if (step.op === 'saturation') {
      for (let p = 0; p < pixels; p++) {
        const gray = luma(out[3 * p], out[3 * p + 1], out[3 * p + 2]);
        for (let c = 0; c < 3; c++) out[3 * p + c] = clamp(step.factor * out[3 * p + c] + (1 - step.factor) * gray);
      }
    } else {
      for (let p = 0; p < pixels; p++) {
        const [h, s, v] = rgbToHsv(out[3 * p], out[3 * p + 1], out[3 * p + 2]);
        const shifted = (((h + step.shift) % 1) + 1) % 1;
        const [r, g, b] = hsvToRgb(shifted, s, v);
        out[3 * p] = r;
        out[3 * p + 1] = g;
        out[3 * p + 2] = b;
      }
    }
  }
  return out;
}

/** Hue in [0, 1) (fraction of a turn), saturation, value. Grey pixels get hue 0, saturation 0. */
function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const v = Math.max(r, g, b);
  const chroma = v - Math.min(r, g, b);
  if (chroma === 0) return [0, 0, v];
  let sector: number;
  if (v === r) sector = (g - b) / chroma;
  else if (v === g) sector = (b - r) / chroma + 2;
  else sector = (r - g) / chroma + 4;
  const hue = (((sector / 6) % 1) + 1) % 1;
  return [hue, chroma / v, v];
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const chroma = v * s;
  const hp = h * 6;
  const x = chroma * (1 - Math.abs((hp % 2) - 1));
  const m = v - chroma;
  let rgb: [number, number, number];
  if (hp < 1) rgb = [chroma, x, 0];
  else if (hp < 2) rgb = [x, chroma, 0];
  else if (hp < 3) rgb = [0, chroma, x];
  else if (hp < 4) rgb = [0, x, chroma];
  else if (hp < 5) rgb = [x, 0, chroma];
  else rgb = [chroma, 0, x];
  return [rgb[0] + m, rgb[1] + m, rgb[2] + m];
}
