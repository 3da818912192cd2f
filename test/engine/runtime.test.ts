// @smoke-gl
/** Kernel runtime: reflection-checked bindings, batching, limits, GPU errors named by kernel. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from '../helpers/gpu.ts';
import { runtime } from '../../engine/runtime.ts';
import { Tensor } from '../../engine/tensor.ts';
import { LimitError } from '../../engine/errors.ts';
import { add } from '../../engine/ops/add.ts';
import { kernelSource, type KernelSpec } from '../../engine/kernel.ts';

test.before(async () => {
  await gpu();
});

const addSpec: KernelSpec = { name: 'addForward', file: 'elementwise/add.wgsl', entry: 'add', overrides: { WG: 64 } };

test('batched submission: 40 ops, one submit', async () => {
  const rt = runtime();
  await rt.sync();
  const before = rt.submits;
  let x = Tensor.full([1000], 1);
  const one = Tensor.full([1000], 1);
  for (let i = 0; i < 40; i++) {
    const y = add(x, one);
    x.dispose();
    x = y;
  }
  assert.is(rt.submits, before, 'nothing is submitted before a read');
  const out = await x.read();
  assert.is(rt.submits, before + 1, 'a read submits the batch once');
  assert.ok(out.every((v) => v === 41));
  x.dispose();
  one.dispose();
});

test('missing binding names the kernel and the binding', () => {
  const a = Tensor.empty([4]);
  assert.throws(() => runtime().dispatch(addSpec, { a, out: a }, { n: 4 }, 1), /kernel 'addForward': missing buffer for binding 'b'/);
  a.dispose();
});

test('extra binding and unknown uniform are errors', () => {
  const a = Tensor.empty([4]);
  assert.throws(() => runtime().dispatch(addSpec, { a, b: a, out: a, bias: a }, { n: 4 }, 1), /kernel 'addForward': extra buffer 'bias'/);
  assert.throws(
    () => runtime().dispatch(addSpec, { a, b: a, out: a }, { n: 4, stride: 2 }, 1),
    /kernel 'addForward': unknown uniform 'stride'/,
  );
  assert.throws(() => runtime().dispatch(addSpec, { a, b: a, out: a }, {}, 1), /kernel 'addForward': missing uniform 'n'/);
  a.dispose();
});

test('wrong element type is a binding error', () => {
  const a = Tensor.empty([4]);
  const i = Tensor.empty([4], 'i32');
  assert.throws(
    () => runtime().dispatch(addSpec, { a, b: i, out: a }, { n: 4 }, 1),
    /binding 'b' holds f32 in WGSL but was given tensor\[4\] i32/,
  );
  a.dispose();
  i.dispose();
});

test('bad WGSL surfaces as an error naming the kernel', async () => {
  // include/common.wgsl has no entry point; asking for one is caught by reflection.
  let noEntry: Error | null = null;
  try {
    await runtime().compile({ name: 'noEntry', file: 'include/common.wgsl', entry: 'main' });
  } catch (e) {
    noEntry = e as Error;
  }
  assert.match(noEntry?.message ?? '', /kernel 'noEntry': no @compute entry point 'main'/);
  let caught: Error | null = null;
  try {
    await runtime().compile({ name: 'missingFile', file: 'does-not-exist.wgsl' });
  } catch (e) {
    caught = e as Error;
  }
  assert.match(caught?.message ?? '', /WGSL file not found/);
});

test('WGSL that reflects but fails Dawn validation is a KernelError naming the kernel', async () => {
  // An override that is out of range for the device: 100000 invocations per workgroup.
  let caught: Error | null = null;
  try {
    await runtime().compile({ name: 'hugeWorkgroup', file: 'elementwise/add.wgsl', entry: 'add', overrides: { WG: 100000 } });
  } catch (e) {
    caught = e as Error;
  }
  assert.ok(caught, 'expected an error');
  assert.is(caught!.name, 'KernelError');
  assert.match(caught!.message, /kernel 'hugeWorkgroup'/);
});

test('a GPU validation error in a batch is a KernelError naming its kernels (destroyed buffer)', async () => {
  const rt = runtime();
  await rt.sync();
  const a = Tensor.full([16], 1);
  const out = Tensor.empty([16]);
  // Destroy the GPU buffer behind a tensor: TypeScript-side checks pass, Dawn refuses the submit.
  // (The tensors are never disposed, so the destroyed buffer never returns to the pool.)
  a.buffer.destroy();
  rt.dispatch(addSpec, { a, b: a, out }, { n: 16 }, 1);
  let caught: Error | null = null;
  try {
    await rt.sync();
  } catch (e) {
    caught = e as Error;
  }
  assert.ok(caught, 'expected the destroyed buffer to raise an error');
  assert.is(caught!.name, 'KernelError');
  assert.match(caught!.message, /kernel 'addForward'/);
  // The runtime stays usable afterwards.
  const x = Tensor.full([4], 2);
  assert.equal(Array.from(await add(x, x).read()), [4, 4, 4, 4]);
});

test('a dispatch beyond maxComputeWorkgroupsPerDimension is folded, not dropped (forced limit 9)', async () => {
  const rt = runtime();
  const saved = rt.limits.maxComputeWorkgroupsPerDimension;
  rt.limits.maxComputeWorkgroupsPerDimension = 9;
  try {
    // 5000 elements / 64 per group = 79 groups > 9: folded to 9 x 9 (81 groups, 2 idle).
    const n = 5000;
    const a = Tensor.from(
      Array.from({ length: n }, (_, i) => i),
      [n],
    );
    const b = Tensor.full([n], 1);
    const out = Tensor.zeros([n]);
    rt.dispatch(addSpec, { a, b, out }, { n }, Math.ceil(n / 64));
    const r = await out.read();
    for (let i = 0; i < n; i++) if (r[i] !== i + 1) assert.unreachable(`element ${i} is ${r[i]}, want ${i + 1} (silent zero?)`);
    assert.equal(rt.foldWorkgroups('x', 79), [9, 9, 1]);
    assert.throws(() => rt.foldWorkgroups('bigKernel', 100), /kernel 'bigKernel': 100 workgroups exceed 9x9/);
    for (const t of [a, b, out]) t.dispose();
  } finally {
    rt.limits.maxComputeWorkgroupsPerDimension = saved;
  }
});

test('a tensor above maxStorageBufferBindingSize is refused with its size and the limit (forced 4 KiB)', () => {
  const rt = runtime();
  const saved = rt.limits.maxStorageBufferBindingSize;
  rt.limits.maxStorageBufferBindingSize = 4096;
  try {
    assert.throws(
      () => Tensor.empty([2, 1024]),
      (e: Error) =>
        e instanceof LimitError &&
        /tensor \[2,1024\] f32 needs 8192 bytes, above this adapter's maxStorageBufferBindingSize of 4096 bytes/.test(e.message),
    );
  } finally {
    rt.limits.maxStorageBufferBindingSize = saved;
  }
  // A tensor allocated before the limit dropped is refused at bind time, naming the kernel.
  const big = Tensor.empty([2048]);
  rt.limits.maxStorageBufferBindingSize = 4096;
  try {
    assert.throws(
      () => rt.dispatch(addSpec, { a: big, b: big, out: big }, { n: 2048 }, 32),
      /kernel 'addForward': tensor\[2048\] f32 bound as 'a' is 8192 bytes/,
    );
  } finally {
    rt.limits.maxStorageBufferBindingSize = saved;
    big.dispose();
  }
});

test('a 3-D grid beyond maxComputeWorkgroupsPerDimension in any dimension is refused, naming kernel, dimension and limit', () => {
  const rt = runtime();
  const saved = rt.limits.maxComputeWorkgroupsPerDimension;
  rt.limits.maxComputeWorkgroupsPerDimension = 9;
  try {
    assert.equal(rt.foldWorkgroups('k', [9, 9, 9]), [9, 9, 9], 'at the limit: kept');
    assert.throws(
      () => rt.foldWorkgroups('gridKernel', [10, 1, 1]),
      /kernel 'gridKernel': workgroup count 10 in dimension x exceeds maxComputeWorkgroupsPerDimension 9/,
    );
    assert.throws(
      () => rt.foldWorkgroups('gridKernel', [1, 10, 1]),
      /workgroup count 10 in dimension y exceeds maxComputeWorkgroupsPerDimension 9/,
    );
    assert.throws(
      () => rt.foldWorkgroups('gridKernel', [1, 1, 10]),
      /workgroup count 10 in dimension z exceeds maxComputeWorkgroupsPerDimension 9/,
    );
    // Through dispatch too: nothing is recorded.
    const a = Tensor.empty([64]);
    const before = rt.dispatches;
    assert.throws(() => rt.dispatch(addSpec, { a, b: a, out: a }, { n: 64 }, [1, 1, 10]), /dimension z exceeds/);
    assert.is(rt.dispatches, before);
    a.dispose();
  } finally {
    rt.limits.maxComputeWorkgroupsPerDimension = saved;
  }
});

test('a kernel binding more storage buffers than maxStorageBuffersPerShaderStage is refused at compile (forced limit 2)', async () => {
  const rt = runtime();
  const saved = rt.limits.maxStorageBuffersPerShaderStage;
  rt.limits.maxStorageBuffersPerShaderStage = 2;
  try {
    // add binds a, b, out: 3 storage buffers. A distinct override value makes a new pipeline (no cache hit).
    let msg = '';
    try {
      await rt.compile({ ...addSpec, overrides: { WG: 32 } });
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /kernel 'addForward' binds 3 storage buffers; this adapter allows 2 per shader stage/);
  } finally {
    rt.limits.maxStorageBuffersPerShaderStage = saved;
  }
});

test('a buffer above maxBufferSize is refused with its label, size and the limit (forced 4 KiB)', () => {
  const rt = runtime();
  const saved = rt.limits.maxBufferSize;
  rt.limits.maxBufferSize = 4096;
  try {
    assert.throws(
      () => rt.createBuffer('test staging', 4100, GPUBufferUsage.STORAGE),
      /test staging: 4100 bytes exceeds this adapter's maxBufferSize of 4096 bytes/,
    );
    const ok = rt.createBuffer('test staging', 4096, GPUBufferUsage.STORAGE);
    ok.destroy();
  } finally {
    rt.limits.maxBufferSize = saved;
  }
});

test('a variant needing a feature the device lacks is refused, naming kernel and feature', async () => {
  const rt = runtime();
  const saved = rt.gpu.caps.subgroups;
  rt.gpu.caps.subgroups = false;
  try {
    let msg = '';
    try {
      await rt.compile({
        name: 'needsSubgroups',
        file: 'elementwise/add.wgsl',
        entry: 'add',
        features: ['subgroups'],
        overrides: { WG: 64 },
      });
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /kernel 'needsSubgroups' needs the adapter feature subgroups/);
  } finally {
    rt.gpu.caps.subgroups = saved;
  }
});

test('injected constants: declared ahead of the body; one the body never names is an error', async () => {
  const src = kernelSource({ name: 'withConst', file: 'conv2d/row_weight.wgsl', constants: { FLIPPED: 1 } });
  assert.ok(src.startsWith('const FLIPPED: u32 = 1u;'), src.slice(0, 60));
  assert.throws(
    () => kernelSource({ name: 'unusedConst', file: 'elementwise/add.wgsl', constants: { NOT_THERE: 1 } }),
    /constant NOT_THERE is used nowhere in elementwise\/add.wgsl/,
  );
  const withFeature = kernelSource({
    name: 'f',
    file: 'gemm/matmul.wgsl',
    includes: ['gemm/rows_subgroup.wgsl'],
    features: ['subgroups'],
    constants: { TM: 16, TN: 8 },
  });
  assert.ok(withFeature.startsWith('enable subgroups;\nconst TM: u32 = 16u;'), 'enable directive first');
  assert.is(withFeature.split('fn block_update(').length, 2, 'the tile snippet once');
});

test.run();
