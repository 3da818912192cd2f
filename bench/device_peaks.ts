/**
 * Nominal f32 peaks of a few known devices, so a roofline can say how far the engine's own best
 * rate is from what the vendor states. Figures are the vendors' published non-tensor (vector)
 * FP32 rates, counting a fused multiply-add as 2 FLOPs (the convention of every figure in the
 * benchmarks: 2 per multiply-add). Where one name covers parts with different figures (GPU core
 * counts, boards), the entry says which part it is and `note` says so in the output.
 * Matching is by the adapter's name (GPUAdapterInfo description, else device, else vendor and
 * architecture: engine/device.ts); anything else is 'unknown', never a guess.
 */

export interface NominalPeak {
  /** The device the figure is for. */
  device: string;
  /** Nominal f32 rate, GFLOP/s (FMA = 2 FLOPs). */
  gflops: number;
  /** Where the figure comes from, and what it assumes. */
  source: string;
}

interface PeakEntry extends NominalPeak {
  match: RegExp;
}

/** Most specific first: the first entry whose pattern matches wins. */
const PEAKS: PeakEntry[] = [
  { match: /\bH200\b.*\bNVL\b/i, device: 'NVIDIA H200 NVL', gflops: 60_000, source: 'NVIDIA H200 datasheet, FP32 60 TFLOPS' },
  { match: /\bH200\b/i, device: 'NVIDIA H200 SXM', gflops: 67_000, source: 'NVIDIA H200 datasheet, FP32 67 TFLOPS (SXM)' },
  { match: /\bH100\b.*\bPCIe\b/i, device: 'NVIDIA H100 PCIe', gflops: 51_000, source: 'NVIDIA H100 datasheet, FP32 51 TFLOPS (PCIe)' },
  { match: /\bH100\b.*\bNVL\b/i, device: 'NVIDIA H100 NVL', gflops: 60_000, source: 'NVIDIA H100 datasheet, FP32 60 TFLOPS (NVL)' },
  { match: /\bH100\b/i, device: 'NVIDIA H100 SXM', gflops: 67_000, source: 'NVIDIA H100 datasheet, FP32 67 TFLOPS (SXM)' },
  { match: /\bA100\b/i, device: 'NVIDIA A100', gflops: 19_500, source: 'NVIDIA A100 datasheet, FP32 19.5 TFLOPS' },
  {
    match: /RTX 4090(?!.*Laptop)/i,
    device: 'NVIDIA GeForce RTX 4090',
    gflops: 82_600,
    source: 'NVIDIA Ada architecture whitepaper, FP32 82.6 TFLOPS (boost clock)',
  },
  {
    match: /\bMI300X\b/i,
    device: 'AMD Instinct MI300X',
    gflops: 163_400,
    source: 'AMD MI300X datasheet, FP32 vector 163.4 TFLOPS',
  },
  { match: /\bMI300A\b/i, device: 'AMD Instinct MI300A', gflops: 122_600, source: 'AMD MI300A datasheet, FP32 vector 122.6 TFLOPS' },
  {
    match: /^Apple M1$/i,
    device: 'Apple M1 (8-core GPU)',
    gflops: 2_600,
    source: 'Apple M1 announcement, 2.6 TFLOPS for the 8-core GPU (the 7-core part has 7/8 of it)',
  },
  {
    match: /^Apple M2$/i,
    device: 'Apple M2 (10-core GPU)',
    gflops: 3_600,
    source: 'Apple M2 announcement, 3.6 TFLOPS for the 10-core GPU (the 8-core part has 8/10 of it)',
  },
  {
    match: /^Apple M3$/i,
    device: 'Apple M3 (10-core GPU)',
    gflops: 4_100,
    source: 'derived, not published by Apple: 10 cores x 128 FP32 lanes x 2 FLOPs x ~1.6 GHz (the 8-core part has 8/10 of it)',
  },
];

/** The nominal f32 peak of the device named `name` (an adapter name), or null when it is not in the table. */
export function nominalPeak(name: string): NominalPeak | null {
  const hit = PEAKS.find((p) => p.match.test(name.trim()));
  return hit ? { device: hit.device, gflops: hit.gflops, source: hit.source } : null;
}

/** One line for a roofline: the nominal peak, or 'unknown'. */
export function nominalPeakLine(name: string, measuredGflops?: number): string {
  const p = nominalPeak(name);
  if (!p) return `device nominal f32 peak: unknown ('${name}' is not in bench/device_peaks.ts)`;
  const share =
    measuredGflops !== undefined ? `; the engine's best measured rate is ${((100 * measuredGflops) / p.gflops).toFixed(1)}% of it` : '';
  return `device nominal f32 peak: ${(p.gflops / 1000).toFixed(1)} TFLOP/s (${p.device}; ${p.source}; FMA counted as 2 FLOPs)${share}`;
}
