/**
 * The nominal-peak table (bench/device_peaks.ts): the listed devices by the names their adapters
 * report, the most specific entry first (H100 PCIe vs SXM), parts it does not list (Apple Pro/Max,
 * a laptop RTX 4090, lavapipe) as unknown, and the lines the rooflines print.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nominalPeak, nominalPeakLine } from '../../bench/device_peaks.ts';

test('known devices by adapter name; FP32 figures in GFLOP/s', () => {
  const cases: [string, number][] = [
    ['NVIDIA H200', 67_000],
    ['NVIDIA H100 80GB HBM3', 67_000],
    ['NVIDIA H100 PCIe', 51_000],
    ['NVIDIA A100-SXM4-80GB', 19_500],
    ['NVIDIA GeForce RTX 4090', 82_600],
    ['AMD Instinct MI300X', 163_400],
    ['Apple M1', 2_600],
    ['Apple M2', 3_600],
  ];
  for (const [name, gflops] of cases) assert.is(nominalPeak(name)?.gflops, gflops, name);
});

test('parts the table does not list are unknown, never a guess', () => {
  for (const name of [
    'Apple M1 Pro',
    'Apple M2 Max',
    'NVIDIA GeForce RTX 4090 Laptop GPU',
    'llvmpipe (LLVM 15.0.6, 256 bits)',
    'ANGLE (SwiftShader)',
  ])
    assert.is(nominalPeak(name), null, name);
  assert.match(nominalPeakLine('llvmpipe (LLVM 15.0.6, 256 bits)'), /^device nominal f32 peak: unknown/);
});

test('the roofline line states the figure, its source, the FMA convention and the measured share', () => {
  const line = nominalPeakLine('NVIDIA H200', 33_500);
  assert.match(line, /67\.0 TFLOP\/s \(NVIDIA H200 SXM; .*FMA counted as 2 FLOPs\); the engine's best measured rate is 50\.0% of it/);
});

test.run();
