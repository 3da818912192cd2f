/**
 * The tiled GEMM configurations (engine/ops/shared_tile_config.ts) and their choice from an
 * adapter's limits: every configuration's invocations divide its tiles' loads exactly (the WGSL
 * core loads (BM*BK)/TILE_WG and (BK*BN)/TILE_WG values per invocation), reduced limits (a fake
 * limits object: 128 invocations, 16 KiB of workgroup memory; and one below the smallest
 * configuration) select only what fits, and small outputs take the small tiles. No GPU needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  SHARED_TILE_CONFIGS,
  SHARED_TILE_SIZES,
  sharedTileConfig,
  sharedTileConfigsFor,
  tileInvocations,
  tileStorageBytes,
} from '../../engine/ops/shared_tile_config.ts';
import { tiledTargetWorkgroups, tiledSplits } from '../../engine/ops/gemm_shared.ts';
import type { EngineLimits } from '../../engine/device.ts';

const LAVAPIPE_LIKE: EngineLimits = {
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 2 ** 32 - 1,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxComputeWorkgroupStorageSize: 32768,
  maxStorageBuffersPerShaderStage: 16,
  minUniformBufferOffsetAlignment: 256,
};
const REDUCED: EngineLimits = {
  ...LAVAPIPE_LIKE,
  maxComputeInvocationsPerWorkgroup: 128,
  maxComputeWorkgroupSizeX: 128,
  maxComputeWorkgroupStorageSize: 16384,
};

test('every configuration divides its loads evenly among its invocations and names its size in its variants', () => {
  for (const s of SHARED_TILE_SIZES) {
    const c = SHARED_TILE_CONFIGS[s];
    const n = tileInvocations(c);
    assert.is((c.BM * c.BK) % n, 0, `${s}: BM*BK divisible by ${n}`);
    assert.is((c.BK * c.BN) % n, 0, `${s}: BK*BN divisible by ${n}`);
    assert.is(c.BM % c.RM, 0);
    assert.is(c.BN % c.RN, 0);
  }
  assert.is(tileInvocations(SHARED_TILE_CONFIGS.large), 256);
  assert.is(tileStorageBytes(SHARED_TILE_CONFIGS.large), 8192);
  assert.is(tileStorageBytes(SHARED_TILE_CONFIGS.large, 'f16'), 4096);
});

test('full limits allow both configurations; large outputs take 64x64 tiles, small ones 32x32', () => {
  assert.equal(sharedTileConfigsFor(LAVAPIPE_LIKE), ['large', 'small']);
  assert.is(sharedTileConfig(LAVAPIPE_LIKE, 256, 4096), 'large');
  // 20 rows: a 64-row tile computes 69% padding, a 32-row one 38%: the fewer idle, the small.
  assert.is(sharedTileConfig(LAVAPIPE_LIKE, 20, 2000), 'small');
  assert.is(sharedTileConfig(LAVAPIPE_LIKE, 33, 33), 'small');
});

test('reduced limits (128 invocations, 16 KiB workgroup memory) choose only the 64-invocation configuration', () => {
  assert.equal(sharedTileConfigsFor(REDUCED), ['small']);
  for (const [M, N] of [
    [256, 4096],
    [1, 1],
    [65, 1742],
  ])
    assert.is(sharedTileConfig(REDUCED, M, N), 'small', `${M}x${N}`);
  const c = SHARED_TILE_CONFIGS[sharedTileConfig(REDUCED)!];
  assert.ok(tileInvocations(c) <= 128 && tileStorageBytes(c) <= 16384);
  // Below the smallest configuration nothing is chosen (tiledUsable() is then false).
  assert.is(sharedTileConfig({ ...REDUCED, maxComputeInvocationsPerWorkgroup: 32 }), null);
  assert.is(sharedTileConfig({ ...REDUCED, maxComputeWorkgroupStorageSize: 2048 }), null);
});

test('the split-K target comes from the limits, not from CPU cores, and the splits respect length and memory', () => {
  assert.is(tiledTargetWorkgroups(LAVAPIPE_LIKE), 256);
  // Smaller workgroups allowed: more of them for the same resident invocations.
  assert.is(tiledTargetWorkgroups(REDUCED), 1024);
  assert.is(tiledSplits(32768, 5, 9216, LAVAPIPE_LIKE), 52, 'ceil(256 / 5) splits of a long reduction');
  assert.is(tiledSplits(600, 5, 9216, LAVAPIPE_LIKE), 2, 'at least 256 reductions per split');
  assert.is(tiledSplits(100, 1, 10, LAVAPIPE_LIKE), 1, 'short reductions are not split');
  assert.is(
    tiledSplits(1 << 20, 1, 1 << 22, { ...LAVAPIPE_LIKE, maxStorageBufferBindingSize: 1 << 26 }),
    4,
    'partial sums fit one binding',
  );
});

test.run();
