/**
 * Size-bucketed pool of GPU storage buffers.
 *
 * Requests are rounded up to a bucket (four buckets per power of two: 1, 1.25, 1.5, 1.75 x 2^k,
 * so at most 25% is wasted), and a freed buffer waits in its bucket for the next request of
 * that size. Training repeats the same shapes every step, so after the first step nearly every
 * request is a hit and GPU memory stays flat.
 *
 * Reuse is safe without waiting for the GPU: every command that touches a buffer is recorded
 * in queue order (see Runtime.write), so a later user of a recycled buffer always runs after
 * the earlier one.
 */
import { runtime, onRuntimeClose } from './runtime.ts';

export interface MemoryStats {
  /** Bytes in buffers handed out and not yet released. */
  liveBytes: number;
  /** Highest liveBytes seen since the last reset. */
  peakBytes: number;
  /** Bytes in free buffers kept for reuse. */
  pooledBytes: number;
  hits: number;
  misses: number;
  /** Live buffers handed out. */
  liveBuffers: number;
}

const MIN_BUCKET = 256;

/** Round a request up to its bucket size. */
export function bucketSize(bytes: number): number {
  if (bytes <= MIN_BUCKET) return MIN_BUCKET;
  const p = 2 ** Math.floor(Math.log2(bytes));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const s = p * f;
    if (s >= bytes) return Math.ceil(s / 4) * 4;
  }
  return 2 * p;
}

const USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  stats: MemoryStats = { liveBytes: 0, peakBytes: 0, pooledBytes: 0, hits: 0, misses: 0, liveBuffers: 0 };

  acquire(bytes: number, label: string): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.stats.hits++;
      this.stats.pooledBytes -= size;
    } else {
      this.stats.misses++;
      buf = runtime().createBuffer(label, size, USAGE());
    }
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes);
    return buf;
  }

  release(buf: GPUBuffer) {
    const size = buf.size;
    this.stats.liveBytes -= size;
    this.stats.liveBuffers--;
    this.stats.pooledBytes += size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
  }

  /** Destroy every free buffer (live ones are untouched). */
  trim() {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
  }

  resetPeak() {
    this.stats.peakBytes = this.stats.liveBytes;
  }

  /** Forget everything: the device that owned the buffers is going away. */
  reset() {
    this.trim();
    this.stats = { liveBytes: 0, peakBytes: 0, pooledBytes: 0, hits: 0, misses: 0, liveBuffers: 0 };
  }
}

export const pool = new BufferPool();
onRuntimeClose(() => pool.reset());

/** A snapshot of GPU memory use by tensors. */
export function memoryStats(): MemoryStats {
  return { ...pool.stats };
}
