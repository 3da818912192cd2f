/**
 * A dispatch profiler: which kernels a piece of work runs, from which op, in which phase, and
 * how long each takes on the GPU.
 *
 * Attach it with `profiler.attach()`; it becomes the runtime's `observer` (engine/runtime.ts),
 * which asks it about every dispatch before the dispatch is recorded.
 *
 * Clock, in order of preference:
 * - 'timestamp-query' (the device has the feature): each dispatch gets its own compute pass
 *   whose `timestampWrites` record the GPU time at the pass's beginning and end (Dawn's Node
 *   bindings reject the older encoder-level `writeTimestamp`). Times are GPU nanoseconds; a
 *   dispatch's duration is end - begin, and gaps between dispatches are GPU idle time (waiting
 *   for the CPU to record and submit). One pass per dispatch adds a little overhead of its own.
 *   In Node, Dawn's timestamp quantization is turned off (engine/platform/node.ts), so times have
 *   the adapter's own resolution; a browser may quantize them.
 * - 'wall-clock' (no timestamp queries, e.g. OpenGL ES): the GPU is synchronized before and
 *   after each phase (`await phase(name, fn)`), so phases get wall-clock times; single dispatches
 *   cannot be timed (an op is a synchronous call and the GPU can only be awaited between calls),
 *   so their durations are null.
 * Either way, each phase's synchronized wall-clock time is recorded too.
 *
 * Attribution: the phase is the innermost `phase()` running; the scope (e.g. a layer name) is the
 * innermost `scope()`; the op and the kernel are what the runtime reports for the dispatch: the
 * op names itself (engine/runtime.ts `opScope`: the outermost op running, the op the model
 * called, not the ops it runs in turn; backward rules run in their op's scope, optimizers in
 * theirs) and the kernel is its variant's name (the variant tables next to the ops).
 */
import type { Runtime, DispatchObserver, DispatchInfo } from './runtime.ts';

export type ProfileClock = 'timestamp-query' | 'wall-clock';

export interface DispatchTiming {
  /** Order of the dispatch within the profiled work (0-based). */
  index: number;
  kernel: string;
  op: string;
  phase: string;
  /** Innermost `scope()` name (e.g. a layer), or '' outside scopes. */
  scope: string;
  workgroups: [number, number, number];
  /** FLOPs the op stated for this dispatch (undefined: none stated). */
  flops?: number;
  /** GPU start time in microseconds after the first profiled dispatch began (null: wall clock). */
  startUs: number | null;
  /** GPU duration in microseconds (null: wall clock). */
  durUs: number | null;
}

export interface PhaseTiming {
  name: string;
  /** Synchronized wall-clock milliseconds: GPU idle before, GPU finished after. */
  wallMs: number;
  dispatches: number;
}

export interface ProfileResult {
  clock: ProfileClock;
  dispatches: DispatchTiming[];
  phases: PhaseTiming[];
}

/** Queries per query set (two per dispatch); 4096 is the WebGPU maximum for a query set. */
const QUERIES_PER_SET = 4096;

interface QuerySlot {
  set: GPUQuerySet;
  used: number;
}

export class Profiler implements DispatchObserver {
  readonly clock: ProfileClock;
  private records: DispatchTiming[] = [];
  private phases: PhaseTiming[] = [];
  private phaseStack: string[] = [];
  private scopeStack: string[] = [];
  private sets: QuerySlot[] = [];
  private attached = false;

  /** `timestamps: false` forces the wall clock even where timestamp queries exist. */
  constructor(
    private readonly rt: Runtime,
    opts: { timestamps?: boolean } = {},
  ) {
    this.clock = rt.gpu.caps.timestampQuery && opts.timestamps !== false ? 'timestamp-query' : 'wall-clock';
  }

  /** Become the runtime's dispatch observer. Only one profiler may be attached at a time. */
  attach() {
    if (this.rt.observer && this.rt.observer !== this)
      throw new Error('Profiler.attach(): another dispatch observer is attached to the runtime; detach it first');
    this.rt.observer = this;
    this.attached = true;
  }

  detach() {
    if (this.rt.observer === this) this.rt.observer = null;
    this.attached = false;
  }

  beginDispatch({ kernel, op, workgroups, flops }: DispatchInfo): GPUComputePassTimestampWrites | undefined {
    this.records.push({
      index: this.records.length,
      kernel,
      op,
      phase: this.phaseStack[this.phaseStack.length - 1] ?? '',
      scope: this.scopeStack[this.scopeStack.length - 1] ?? '',
      workgroups: [...workgroups],
      ...(flops !== undefined ? { flops } : {}),
      startUs: null,
      durUs: null,
    });
    if (this.clock !== 'timestamp-query') return undefined;
    let slot = this.sets[this.sets.length - 1];
    if (!slot || slot.used + 2 > QUERIES_PER_SET) {
      slot = { set: this.rt.device.createQuerySet({ label: 'profiler timestamps', type: 'timestamp', count: QUERIES_PER_SET }), used: 0 };
      this.sets.push(slot);
    }
    const writes = { querySet: slot.set, beginningOfPassWriteIndex: slot.used, endOfPassWriteIndex: slot.used + 1 };
    slot.used += 2;
    return writes;
  }

  /**
   * Run `fn` as the phase `name`: the GPU is synchronized before and after, and the elapsed
   * wall-clock time is recorded. Dispatches recorded inside carry the phase name.
   */
  async phase<T>(name: string, fn: () => T): Promise<T> {
    await this.rt.sync();
    const first = this.records.length;
    const t0 = performance.now();
    this.phaseStack.push(name);
    let out: T;
    try {
      out = fn();
    } finally {
      this.phaseStack.pop();
    }
    await this.rt.sync();
    this.phases.push({ name, wallMs: performance.now() - t0, dispatches: this.records.length - first });
    return out;
  }

  /** Run `fn` with `name` as the scope of its dispatches (e.g. a layer's dotted name). */
  scope<T>(name: string, fn: () => T): T {
    this.scopeStack.push(name);
    try {
      return fn();
    } finally {
      this.scopeStack.pop();
    }
  }

  /** Detach, wait for the GPU, read the timestamps back, and return what was recorded. */
  async finish(): Promise<ProfileResult> {
    if (this.attached) this.detach();
    await this.rt.sync();
    if (this.clock === 'timestamp-query') await this.readTimestamps();
    for (const s of this.sets) s.set.destroy();
    this.sets = [];
    return { clock: this.clock, dispatches: this.records, phases: this.phases };
  }

  private async readTimestamps() {
    const ticks: bigint[] = [];
    for (const s of this.sets) {
      if (s.used === 0) continue;
      const bytes = s.used * 8;
      const resolved = this.rt.device.createBuffer({
        label: 'profiler resolve',
        size: bytes,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
      const staging = this.rt.device.createBuffer({
        label: 'profiler readback',
        size: bytes,
        usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      });
      const enc = this.rt.device.createCommandEncoder({ label: 'profiler resolve' });
      enc.resolveQuerySet(s.set, 0, s.used, resolved, 0);
      enc.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
      this.rt.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      ticks.push(...new BigUint64Array(staging.getMappedRange().slice(0)));
      staging.unmap();
      staging.destroy();
      resolved.destroy();
    }
    await this.rt.checkErrors();
    if (ticks.length < 2 * this.records.length)
      throw new Error(`profiler: read ${ticks.length} timestamps for ${this.records.length} dispatches`);
    const origin = ticks.reduce((m, t) => (t < m ? t : m), ticks[0] ?? 0n);
    this.records.forEach((r, i) => {
      const begin = Number(ticks[2 * i] - origin) / 1000;
      // Timestamps may be quantized by the implementation: a pass can read end == begin, and
      // never end < begin for a sane clock; clamp so a duration is never negative.
      const end = Math.max(begin, Number(ticks[2 * i + 1] - origin) / 1000);
      r.startUs = begin;
      r.durUs = end - begin;
    });
  }
}
