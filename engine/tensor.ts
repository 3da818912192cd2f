/**
 * Tensors: a shape, a dtype and a range of a pooled GPU buffer. Contiguous, row-major
 * (activations NCHW, conv weights OIHW).
 *
 * Memory: several tensors may share one Storage (reshape, detach); the storage goes back to
 * the pool when its last handle is disposed. Handles are released by `dispose()`, or by
 * `tidy(fn)`, which disposes every tensor created inside fn except what fn returns.
 *
 * Autograd fields (`requiresGrad`, `grad`, `node`) are filled in by engine/autograd.ts; a
 * tensor knows nothing of how gradients are computed.
 */
import { pool } from './pool.ts';
import { runtime, type BufferView } from './runtime.ts';
import { ShapeError, LimitError } from './errors.ts';

export type DType = 'f32' | 'i32' | 'u32';
export type TypedArray = Float32Array | Int32Array | Uint32Array;

/** The record of one op application, attached to its output tensor (engine/autograd.ts builds it). */
export interface GradNode {
  op: string;
  /** The op's tensor inputs, in the order the rule returns their gradients (null: not a tensor). */
  inputs: (Tensor | null)[];
  /**
   * Given dL/dy, return dL/d(input i) for each input (null where the input needs no gradient).
   * Runs with grad disabled, inside tidy(): temporaries are freed, returned tensors are kept.
   * Returned tensors must be new (never an alias of the upstream gradient or of each other).
   */
  backward: (gradOut: Tensor) => (Tensor | null)[];
  /** Saved handles (from `save`), released after the rule has run. */
  saved: Tensor[];
}

/** A refcounted pooled buffer. */
class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
  ) {}
  retain() {
    this.refs++;
  }
  release() {
    if (--this.refs === 0) pool.release(this.buffer);
  }
}

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function checkShape(shape: readonly number[]) {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new ShapeError('tensor', `invalid shape ${shapeStr(shape)}: every dimension must be a whole number >= 0`);
  }
}

// Scope stack for tidy(): each level collects the tensors created while it is open.
const scopes: Set<Tensor>[] = [];

export class Tensor implements BufferView {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  private storage: Storage;
  private disposed = false;
  /** Set by autograd: true for parameters and anything computed from them while grad is on. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf tensor (parameters), or null. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while its graph is alive. */
  node: GradNode | null = null;
  /** Optional name (parameters carry their dotted name); used in messages. */
  name = '';

  private constructor(shape: readonly number[], dtype: DType, storage: Storage) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shapeSize(shape);
    this.storage = storage;
    scopes[scopes.length - 1]?.add(this);
  }

  /** New tensor with undefined contents (every kernel that writes it must cover it all). */
  static empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    checkShape(shape);
    const bytes = Math.max(4, shapeSize(shape) * 4);
    const rt = runtime();
    if (bytes > rt.limits.maxStorageBufferBindingSize) {
      throw new LimitError(
        `tensor ${shapeStr(shape)} ${dtype} needs ${bytes} bytes, above this adapter's maxStorageBufferBindingSize of ${rt.limits.maxStorageBufferBindingSize} bytes; use a smaller batch or input size`,
      );
    }
    const buffer = pool.acquire(bytes, `tensor${shapeStr(shape)} ${dtype}`);
    return new Tensor(shape, dtype, new Storage(buffer, bytes));
  }

  static zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const t = Tensor.empty(shape, dtype);
    runtime().clear(t.buffer, 0, t.storage.buffer.size);
    return t;
  }

  /** Upload host data. `data` length must equal the shape's size. */
  static from(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    checkShape(shape);
    if (data.length !== shapeSize(shape))
      throw new ShapeError('Tensor.from', `data has ${data.length} elements but shape ${shapeStr(shape)} needs ${shapeSize(shape)}`);
    const t = Tensor.empty(shape, dtype);
    const typed = dtype === 'f32' ? Float32Array.from(data) : dtype === 'i32' ? Int32Array.from(data) : Uint32Array.from(data);
    runtime().write(t.buffer, 0, typed);
    return t;
  }

  static full(shape: readonly number[], value: number): Tensor {
    return Tensor.from(new Float32Array(shapeSize(shape)).fill(value), shape);
  }

  get buffer(): GPUBuffer {
    if (this.disposed) throw new Error(`tensor${this.name ? ` '${this.name}'` : ''} ${shapeStr(this.shape)} was used after dispose()`);
    return this.storage.buffer;
  }
  get byteOffset(): number {
    return 0;
  }
  get byteLength(): number {
    return this.size * 4;
  }
  get label(): string {
    return `tensor${this.name ? ` '${this.name}'` : ''}${shapeStr(this.shape)} ${this.dtype}`;
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Row-major strides in elements. */
  get strides(): number[] {
    const s = new Array(this.shape.length).fill(1);
    for (let i = this.shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * this.shape[i + 1];
    return s;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** A new handle on the same storage with another shape of the same size (no copy, no grad link). */
  view(shape: readonly number[]): Tensor {
    checkShape(shape);
    if (shapeSize(shape) !== this.size)
      throw new ShapeError(
        'view',
        `cannot view ${shapeStr(this.shape)} (${this.size} elements) as ${shapeStr(shape)} (${shapeSize(shape)} elements)`,
      );
    this.buffer; // throws if disposed
    this.storage.retain();
    return new Tensor(shape, this.dtype, this.storage);
  }

  /** Download the contents (waits for the GPU). */
  async read(): Promise<TypedArray> {
    const bytes = await runtime().read(this.buffer, 0, this.byteLength);
    return this.dtype === 'f32' ? new Float32Array(bytes) : this.dtype === 'i32' ? new Int32Array(bytes) : new Uint32Array(bytes);
  }

  /** Download a scalar (size-1) tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError('item', `tensor ${shapeStr(this.shape)} has ${this.size} elements, not 1`);
    return (await this.read())[0];
  }

  /** Copy `src`'s contents into this tensor (same size and dtype), in order with other GPU work. */
  copyFrom(src: Tensor) {
    if (src.size !== this.size || src.dtype !== this.dtype)
      throw new ShapeError('copyFrom', `source ${src.label} does not match destination ${this.label}`);
    runtime().copy(src.buffer, 0, this.buffer, 0, this.byteLength);
  }

  /** Overwrite the contents from host data. */
  write(data: ArrayLike<number>) {
    if (data.length !== this.size) throw new ShapeError('write', `data has ${data.length} elements; ${this.label} needs ${this.size}`);
    const typed = this.dtype === 'f32' ? Float32Array.from(data) : this.dtype === 'i32' ? Int32Array.from(data) : Uint32Array.from(data);
    runtime().write(this.buffer, 0, typed);
  }

  /** Keep this tensor alive past the enclosing tidy() scopes. */
  keep(): this {
    for (const s of scopes) s.delete(this);
    return this;
  }

  /**
   * A second handle on the same storage that no tidy() scope owns: autograd saves tensors for
   * the backward pass this way, so disposing the original handle cannot free what backward needs.
   */
  saveHandle(): Tensor {
    const t = this.view(this.shape).keep();
    t.name = this.name;
    return t;
  }

  /** Release this handle; the buffer returns to the pool when no handle or saved reference remains. */
  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
    for (const s of scopes) s.delete(this);
  }
}

function collect(value: unknown, out: Set<Tensor>, depth = 0) {
  if (depth > 4 || value == null) return;
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as object)) collect(v, out, depth + 1);
  }
}

/**
 * Run `fn`; dispose every tensor created inside it except those in its result (a tensor, or
 * arrays / plain objects / Maps of them), which move to the enclosing scope. Synchronous only:
 * an async fn would let other work's tensors land in this scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous');
  const keep = new Set<Tensor>();
  collect(result, keep);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (keep.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Dispose every tensor found in a value (tensor, arrays, plain objects, Maps). */
export function disposeAll(value: unknown) {
  const found = new Set<Tensor>();
  collect(value, found);
  for (const t of found) t.dispose();
}
