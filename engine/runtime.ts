/**
 * The kernel runtime: one device, a pipeline cache, batched command submission, and the
 * checks that keep GPU errors loud.
 *
 * - `dispatch(kernel, buffers, uniforms, workgroups)` records one compute dispatch. Buffers and
 *   uniforms are passed by name and checked against the WGSL (see kernel.ts): a missing, extra
 *   or wrongly typed binding, or an unknown uniform field, throws BindingError naming both.
 * - Dispatches go into one shared command encoder and are submitted in batches: on a read-back,
 *   an explicit `sync()`, or when a batch holds `BATCH_LIMIT` dispatches. Uniform values of a
 *   batch live in one arena buffer, written once per submit.
 * - Limits are enforced, never hit: a 1-D workgroup count above maxComputeWorkgroupsPerDimension
 *   is folded into 2-D (kernels recover the linear id with `linear_workgroup` from include/common.wgsl
 *   and guard with their element count); a binding larger than maxStorageBufferBindingSize is
 *   refused with the tensor, its size and the limit.
 * - Pipeline creation, buffer creation, and each batch (its bind groups and its submit) run
 *   inside validation and out-of-memory error scopes; their outcomes, uncaptured errors and device
 *   loss are raised as KernelError (naming the kernel, or the batch's kernels) at the next sync point. `RBD_DEBUG=sync` submits after every
 *   dispatch so a batch error names exactly one kernel; `RBD_DEBUG=wgsl` prints each kernel's
 *   WGSL as it compiles; `RBD_DEBUG=dispatch` logs every dispatch.
 */
import type { Gpu, EngineLimits } from './device.ts';
import { openGpu, type OpenOptions } from './device.ts';
import { BindingError, KernelError, LimitError } from './errors.ts';
import { type KernelSpec, type KernelLayout, kernelSource, reflectKernel, pipelineKey, FEATURE_CAPS } from './kernel.ts';
import { debug } from '../util/env.ts';

/** What a kernel binds: a range of a GPU buffer with its element type. Tensors satisfy this. */
export interface BufferView {
  buffer: GPUBuffer;
  byteOffset: number;
  byteLength: number;
  dtype: 'f32' | 'u32' | 'i32';
  /** For messages: e.g. 'tensor[8,32,64,64] f32'. */
  label: string;
}

export type UniformValue = number | number[];
export type Workgroups = number | [number, number?, number?];

interface Compiled {
  spec: KernelSpec;
  layout: KernelLayout;
  pipeline: GPUComputePipeline;
  bindGroupLayout: GPUBindGroupLayout;
}

/** What an observer learns about one dispatch. */
export interface DispatchInfo {
  /** The kernel variant's name ('conv2dForwardRow3'). */
  kernel: string;
  /** The full descriptor: which body, snippets, constants and features the dispatch ran. */
  spec: KernelSpec;
  /** The op it belongs to: the outermost `opScope` running ('conv2d'), or '(no op)' outside any. */
  op: string;
  workgroups: [number, number, number];
  /** FLOPs the op counts for this dispatch (conventions of models/flops.ts), where it states them. */
  flops?: number;
}

/** A timing hook for profilers: called for each dispatch before it is recorded. */
export interface DispatchObserver {
  /** Return timestamp writes to give this dispatch its own timed pass, or undefined. */
  beginDispatch(d: DispatchInfo): GPUComputePassTimestampWrites | undefined;
}

const opStack: string[] = [];

/**
 * Run `fn` as the op `name`: every dispatch recorded inside belongs to it (profiles group by
 * it). The outermost scope names the op: the op a caller called, not the ops it runs in turn
 * (klDivDistill's softmax passes are klDivDistill's). Ops name themselves with `namedOp`;
 * autograd runs each backward rule in its op's scope, optimizers their step in theirs.
 */
export function opScope<T>(name: string, fn: () => T): T {
  opStack.push(name);
  try {
    return fn();
  } finally {
    opStack.pop();
  }
}

/** `fn` as an op named `name` (see opScope): `export const relu = namedOp('relu', reluOf)`. */
export function namedOp<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
  return (...args: A) => opScope(name, () => fn(...args));
}

const BATCH_LIMIT = 256;

export class Runtime {
  readonly device: GPUDevice;
  readonly limits: EngineLimits;
  private pipelines = new Map<string, Compiled>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchKernels: string[] = [];
  private afterSubmit: (() => void)[] = [];
  private pending: Promise<void>[] = [];
  private errors: Error[] = [];
  private lastKernel = '(none yet)';
  private lost: Error | null = null;
  private batchScopeOpen = false;
  // Uniform arena: one 256-aligned slot per dispatch of the current batch.
  private arenaCpu: Uint8Array;
  private arenaGpu: GPUBuffer;
  private arenaUsed = 0;
  private readonly uniformAlign: number;
  /** Number of queue submits so far (tests check batching with it). */
  submits = 0;
  /** Number of dispatches recorded so far. */
  dispatches = 0;
  observer: DispatchObserver | null = null;

  constructor(readonly gpu: Gpu) {
    this.device = gpu.device;
    this.limits = gpu.limits;
    this.uniformAlign = Math.max(256, gpu.limits.minUniformBufferOffsetAlignment);
    this.arenaCpu = new Uint8Array(this.uniformAlign * BATCH_LIMIT);
    this.arenaGpu = this.device.createBuffer({
      label: 'uniform arena',
      size: this.arenaCpu.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.errors.push(new KernelError(this.lastKernel, 'uncaptured GPU', err.message));
    });
    void this.device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = new KernelError(this.lastKernel, 'device lost', info.message || String(info.reason));
    });
  }

  /** Compile (or fetch from cache) a kernel's pipeline. Await it to surface WGSL errors at once. */
  async compile(spec: KernelSpec): Promise<void> {
    this.pipeline(spec);
    await this.checkErrors();
  }

  private pipeline(spec: KernelSpec): Compiled {
    const key = pipelineKey(spec);
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const missing = (spec.features ?? []).filter((f) => !this.gpu.caps[FEATURE_CAPS[f]]);
    if (missing.length)
      throw new LimitError(
        `kernel '${spec.name}' needs the adapter feature ${missing.join(', ')}, which this device lacks; its op should pick the variant without it`,
      );
    const source = kernelSource(spec);
    const layout = reflectKernel(spec, source);
    if (debug('wgsl')) console.error(`--- WGSL ${spec.name} (${spec.file}) ---\n${source}`);
    const entries: GPUBindGroupLayoutEntry[] = layout.storage.map((s) => ({
      binding: s.binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: s.readOnly ? 'read-only-storage' : 'storage' },
    }));
    if (layout.uniform) entries.push({ binding: layout.uniform.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
    if (layout.storage.length > this.limits.maxStorageBuffersPerShaderStage) {
      throw new LimitError(
        `kernel '${spec.name}' binds ${layout.storage.length} storage buffers; this adapter allows ${this.limits.maxStorageBuffersPerShaderStage} per shader stage`,
      );
    }
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: spec.name, code: source });
    const bindGroupLayout = this.device.createBindGroupLayout({ label: spec.name, entries });
    const pipeline = this.device.createComputePipeline({
      label: spec.name,
      layout: this.device.createPipelineLayout({ label: spec.name, bindGroupLayouts: [bindGroupLayout] }),
      compute: { module, entryPoint: spec.entry ?? 'main', constants: spec.overrides ?? {} },
    });
    this.watch(spec.name, 'pipeline creation');
    const compiled = { spec, layout, pipeline, bindGroupLayout };
    this.pipelines.set(key, compiled);
    return compiled;
  }

  /**
   * One pair of error scopes (validation, out-of-memory) spans a whole batch: every bind group
   * created for it and its submit. Scopes per dispatch would name the kernel directly but double
   * the CPU cost of recording a dispatch (figures in the commit that batched them); a batch error
   * names the batch's kernels instead, and RBD_DEBUG=sync (one dispatch per batch) names one.
   * Scopes pushed meanwhile (pipeline and buffer creation) nest inside and are popped at once.
   */
  private openBatchScope() {
    if (this.batchScopeOpen) return;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.batchScopeOpen = true;
  }

  /** Pop the two error scopes pushed by the caller and remember their outcome under `kernel`. */
  private watch(kernel: string, what: string) {
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    this.pending.push(
      Promise.all([validation, oom]).then(([v, o]) => {
        if (v) this.errors.push(new KernelError(kernel, `validation (${what})`, v.message));
        if (o) this.errors.push(new KernelError(kernel, `out-of-memory (${what})`, o.message));
      }),
    );
  }

  /** Fold a 1-D workgroup count that exceeds the per-dimension limit into 2-D. */
  foldWorkgroups(kernel: string, wg: Workgroups): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (typeof wg === 'number') {
      const n = Math.max(1, Math.ceil(wg));
      if (n <= max) return [n, 1, 1];
      const y = Math.ceil(n / max);
      if (y > max) throw new LimitError(`kernel '${kernel}': ${n} workgroups exceed ${max}x${max} even when folded; split the work`);
      return [Math.ceil(n / y), y, 1];
    }
    const out: [number, number, number] = [wg[0], wg[1] ?? 1, wg[2] ?? 1];
    out.forEach((d, i) => {
      if (d > max)
        throw new LimitError(
          `kernel '${kernel}': workgroup count ${d} in dimension ${'xyz'[i]} exceeds maxComputeWorkgroupsPerDimension ${max}; dispatch it as a 1-D count so the runtime can fold it`,
        );
    });
    return out;
  }

  /**
   * Record one dispatch. `buffers` maps each storage binding name to a view; `uniforms` maps
   * each field of the kernel's uniform struct to its value. Workgroups: a 1-D count (folded if
   * needed) or an explicit [x, y, z]. `flops`: what the op counts for this dispatch, for profiles.
   */
  dispatch(
    spec: KernelSpec,
    buffers: Record<string, BufferView>,
    uniforms: Record<string, UniformValue>,
    workgroups: Workgroups,
    flops?: number,
  ): void {
    if (this.lost) throw this.lost;
    const c = this.pipeline(spec);
    const { layout } = c;
    const entries: GPUBindGroupEntry[] = [];
    // Bindings: exactly those the WGSL declares, each with a matching element type and size.
    for (const s of layout.storage) {
      const v = buffers[s.name];
      if (!v)
        throw new BindingError(
          spec.name,
          `missing buffer for binding '${s.name}' (WGSL binds: ${layout.storage.map((x) => x.name).join(', ')})`,
        );
      if (v.dtype !== s.elementType)
        throw new BindingError(spec.name, `binding '${s.name}' holds ${s.elementType} in WGSL but was given ${v.label} (${v.dtype})`);
      if (v.byteLength > this.limits.maxStorageBufferBindingSize) {
        throw new LimitError(
          `kernel '${spec.name}': ${v.label} bound as '${s.name}' is ${v.byteLength} bytes, above this adapter's maxStorageBufferBindingSize of ${this.limits.maxStorageBufferBindingSize} bytes; use a smaller batch or input size`,
        );
      }
      entries.push({ binding: s.binding, resource: { buffer: v.buffer, offset: v.byteOffset, size: Math.max(4, v.byteLength) } });
    }
    for (const name of Object.keys(buffers)) {
      if (!layout.storage.some((s) => s.name === name))
        throw new BindingError(
          spec.name,
          `extra buffer '${name}': the WGSL has no storage binding of that name (has: ${layout.storage.map((x) => x.name).join(', ') || 'none'})`,
        );
    }
    // Uniforms: written into this batch's arena slot.
    if (this.arenaUsed + this.uniformAlign > this.arenaCpu.byteLength) this.flush();
    if (layout.uniform) {
      const u = layout.uniform;
      const slot = this.arenaUsed;
      this.arenaCpu.fill(0, slot, slot + u.size);
      const view = new DataView(this.arenaCpu.buffer, slot, u.size);
      for (const [name, f] of u.fields) {
        const val = uniforms[name];
        if (val === undefined)
          throw new BindingError(spec.name, `missing uniform '${name}' (struct fields: ${[...u.fields.keys()].join(', ')})`);
        const vals = typeof val === 'number' ? [val] : val;
        if (vals.length !== f.components)
          throw new BindingError(spec.name, `uniform '${name}' has ${f.components} component(s), got ${vals.length}`);
        vals.forEach((x, i) => {
          const off = f.offset + 4 * i;
          if (f.type === 'f32') view.setFloat32(off, x, true);
          else {
            if (!Number.isInteger(x)) throw new BindingError(spec.name, `uniform '${name}' is ${f.type} but got ${x}`);
            if (f.type === 'u32') {
              if (x < 0 || x > 0xffffffff) throw new BindingError(spec.name, `uniform '${name}' = ${x} does not fit u32`);
              view.setUint32(off, x, true);
            } else view.setInt32(off, x, true);
          }
        });
      }
      for (const name of Object.keys(uniforms)) {
        if (!u.fields.has(name))
          throw new BindingError(spec.name, `unknown uniform '${name}' (struct fields: ${[...u.fields.keys()].join(', ')})`);
      }
      entries.push({ binding: u.binding, resource: { buffer: this.arenaGpu, offset: slot, size: u.size } });
      this.arenaUsed += this.uniformAlign;
    } else if (Object.keys(uniforms).length) {
      throw new BindingError(spec.name, `uniforms given (${Object.keys(uniforms).join(', ')}) but the WGSL declares no uniform struct`);
    }
    const wg = this.foldWorkgroups(spec.name, workgroups);
    this.openBatchScope();
    const bindGroup = this.device.createBindGroup({ label: spec.name, layout: c.bindGroupLayout, entries });

    this.lastKernel = spec.name;
    this.batchKernels.push(spec.name);
    this.dispatches++;
    if (debug('dispatch')) console.error(`dispatch ${spec.name} [${wg.join(',')}] ${JSON.stringify(uniforms)}`);
    const timestampWrites = this.observer?.beginDispatch({ kernel: spec.name, spec, op: opStack[0] ?? '(no op)', workgroups: wg, flops });
    if (timestampWrites) this.endPass();
    const pass = timestampWrites ? this.encoderNow().beginComputePass({ label: spec.name, timestampWrites }) : this.computePass();
    pass.setPipeline(c.pipeline);
    pass.setBindGroup(0, bindGroup);
    if (wg[0] > 0 && wg[1] > 0 && wg[2] > 0) pass.dispatchWorkgroups(wg[0], wg[1], wg[2]);
    if (timestampWrites) pass.end();
    if (debug('sync') || this.batchKernels.length >= BATCH_LIMIT) this.flush();
  }

  encoderNow(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder({ label: 'rbd batch' });
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.encoderNow().beginComputePass({ label: 'rbd compute' });
    return this.pass;
  }

  private endPass() {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** True when commands are recorded but not yet submitted. */
  get hasPending(): boolean {
    return this.encoder !== null;
  }

  /** Record a buffer-to-buffer copy in order with the dispatches. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number) {
    this.endPass();
    this.encoderNow().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Record a clear (zero fill) in order with the dispatches. */
  clear(buffer: GPUBuffer, offset: number, bytes: number) {
    this.endPass();
    this.encoderNow().clearBuffer(buffer, offset, bytes);
  }

  /**
   * Write host data into a buffer, ordered after every dispatch recorded so far. With nothing
   * pending, queue.writeBuffer is already in order; otherwise the data goes through a staging
   * buffer and a recorded copy (queue.writeBuffer would overtake the unsubmitted commands).
   */
  write(dst: GPUBuffer, dstOffset: number, data: ArrayBufferView) {
    const bytes = data.byteLength;
    if (bytes === 0) return;
    if (!this.hasPending) {
      this.device.queue.writeBuffer(dst, dstOffset, data.buffer, data.byteOffset, bytes);
      return;
    }
    const staging = this.device.createBuffer({
      label: 'upload staging',
      size: Math.ceil(bytes / 4) * 4,
      usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.MAP_WRITE,
      mappedAtCreation: true,
    });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, bytes));
    staging.unmap();
    this.copy(staging, 0, dst, dstOffset, Math.ceil(bytes / 4) * 4);
    this.afterSubmit.push(() => staging.destroy());
  }

  /** Submit everything recorded so far (no wait). */
  flush() {
    if (!this.encoder) return;
    this.endPass();
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arenaGpu, 0, this.arenaCpu.buffer, 0, this.arenaUsed);
    const kernels = this.batchKernels;
    const names = [...new Set(kernels)];
    this.openBatchScope();
    this.device.queue.submit([this.encoder.finish()]);
    const label =
      names.length === 1
        ? names[0]
        : `batch of ${kernels.length} dispatches (${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''}; rerun with RBD_DEBUG=sync to pin it to one kernel)`;
    this.batchScopeOpen = false;
    this.watch(label, 'bind groups or submit');
    this.submits++;
    this.encoder = null;
    this.batchKernels = [];
    this.arenaUsed = 0;
    for (const f of this.afterSubmit) f();
    this.afterSubmit = [];
  }

  /** Throw the first GPU error seen so far (all are listed in its message). */
  async checkErrors() {
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
    if (this.lost) throw this.lost;
    if (this.errors.length) {
      const errs = this.errors;
      this.errors = [];
      if (errs.length === 1) throw errs[0];
      const first = errs[0] as KernelError;
      throw new KernelError(first.kernel ?? '?', `${errs.length} GPU errors; first`, errs.map((e) => e.message).join('\n  '));
    }
  }

  /** Submit and wait until the GPU has finished all work; raise any GPU error. */
  async sync() {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  /** Copy a range of a GPU buffer back to the host. Submits pending work first. */
  async read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const size = Math.ceil(Math.max(bytes, 4) / 4) * 4;
    const staging = this.device.createBuffer({ label: 'readback staging', size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    this.copy(src, offset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      await this.checkErrors();
      throw e;
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    await this.checkErrors();
    return out;
  }

  /** Create a raw GPU buffer inside an OOM scope; the label names what it is for. */
  createBuffer(label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer {
    if (size > this.limits.maxBufferSize) {
      throw new LimitError(
        `${label}: ${size} bytes exceeds this adapter's maxBufferSize of ${this.limits.maxBufferSize} bytes; use a smaller batch or input size`,
      );
    }
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const b = this.device.createBuffer({ label, size, usage });
    this.watch(label, 'buffer allocation');
    return b;
  }

  /** Release the device (the process can exit afterwards). */
  destroy() {
    this.flush();
    this.arenaGpu.destroy();
    this.device.destroy();
  }
}

let current: Runtime | null = null;
let opening: Promise<Runtime> | null = null;
const closeHooks: (() => void)[] = [];

/** Run `fn` when the runtime closes (the buffer pool drops its buffers of the old device). */
export function onRuntimeClose(fn: () => void) {
  closeHooks.push(fn);
}

/** Open the process-wide runtime (once). Later calls return the same one; options apply to the first. */
export function initRuntime(opts: OpenOptions = {}): Promise<Runtime> {
  opening ??= openGpu(opts).then((gpu) => (current = new Runtime(gpu)));
  return opening;
}

/** The open runtime; throws if `initRuntime` was not awaited first. */
export function runtime(): Runtime {
  if (!current) throw new Error('the GPU runtime is not open: await initRuntime() before creating tensors or running ops');
  return current;
}

/** Close the runtime and its device (tests and CLIs call this before exiting). */
export async function closeRuntime() {
  if (!current) return;
  const rt = current;
  current = null;
  opening = null;
  try {
    await rt.sync();
  } finally {
    for (const f of closeHooks) f();
    rt.destroy();
  }
}

/** Convenience for op wrappers: `dispatch(kernel, buffers, uniforms, workgroups, flops?)` on the open runtime. */
export function dispatch(
  spec: KernelSpec,
  buffers: Record<string, BufferView>,
  uniforms: Record<string, UniformValue>,
  workgroups: Workgroups,
  flops?: number,
) {
  runtime().dispatch(spec, buffers, uniforms, workgroups, flops);
}

/** Number of workgroups to cover `n` items with `perGroup` items each. */
export function groupsFor(n: number, perGroup: number): number {
  return Math.ceil(n / perGroup);
}

/**
 * Workgroup size for simple 1-D elementwise kernels: 256 where allowed (a common sweet spot on
 * desktop GPUs and lavapipe alike), never above the device's limits (compatibility adapters may
 * allow only 128).
 */
export function elementwiseWorkgroupSize(): number {
  const l = runtime().limits;
  return Math.min(256, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
}
