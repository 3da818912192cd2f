/**
 * What Adam and AdamW share (and any other optimizer would): the parameter list, per-parameter step counts and state
 * buffers ("slots": the moments), zeroGrad, a settable learning rate, and host-side
 * state for checkpoints.
 *
 * A subclass names its slots and dispatches one fused kernel per parameter in `update`; the
 * parameter data never leaves the GPU during a step. Slots are created (zeroed) the first time
 * a parameter has a gradient; a parameter whose `.grad` is null is skipped and keeps its own
 * step count, as in PyTorch (Adam's bias correction uses the per-parameter count).
 *
 * `state()` downloads step counts and slot contents as float32 arrays; `loadState()` uploads
 * them into an optimizer over parameters of the same sizes. Float32 in, float32 out: a run
 * resumed from a checkpoint continues bit for bit as if it had not stopped.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { ShapeError } from '../errors.ts';
import { opScope } from '../runtime.ts';

/** One parameter's optimizer state on the host. `slots` is empty until its first step. */
export interface ParamState {
  step: number;
  slots: Record<string, Float32Array>;
}

/** An optimizer's full state on the host: what a checkpoint stores. */
export interface OptimizerState {
  /** 'Adam' or 'AdamW': loading into another kind is refused. */
  kind: string;
  lr: number;
  /** Number of step() calls. */
  step: number;
  params: ParamState[];
}

/** Throws unless `value` is a finite number in [lo, hi) (hi = Infinity for no bound). */
export function checkHyper(kind: string, name: string, value: number, lo: number, hi = Infinity) {
  if (!(Number.isFinite(value) && value >= lo && value < hi)) {
    const range = hi === Infinity ? `>= ${lo}` : `in [${lo}, ${hi})`;
    throw new RangeError(`${kind}: ${name} must be a finite number ${range}, got ${value}`);
  }
}

export abstract class Optimizer {
  readonly params: readonly Tensor[];
  /** Number of step() calls. */
  stepCount = 0;
  private learningRate = 0;
  private paramSteps: number[];
  private paramSlots: (Record<string, Tensor> | null)[];

  /** `slotNames`: the per-parameter state buffers this optimizer keeps (may be empty). */
  constructor(
    readonly kind: string,
    params: Tensor[],
    lr: number,
    private readonly slotNames: readonly string[],
  ) {
    if (params.length === 0) throw new RangeError(`${kind}: no parameters to optimize`);
    params.forEach((p, i) => {
      if (p.dtype !== 'f32') throw new ShapeError(kind, `parameter ${i} ${p.label} is not f32`);
      if (params.indexOf(p) !== i) throw new RangeError(`${kind}: parameter ${i} ${p.label} appears twice in the list`);
    });
    this.params = [...params];
    this.lr = lr;
    this.paramSteps = params.map(() => 0);
    this.paramSlots = params.map(() => null);
  }

  get lr(): number {
    return this.learningRate;
  }
  set lr(value: number) {
    checkHyper(this.kind, 'lr', value, 0);
    this.learningRate = value;
  }

  /** Dispatch this optimizer's kernel for one parameter; `step` is its step count, from 1. */
  protected abstract update(param: Tensor, grad: Tensor, slots: Record<string, Tensor>, step: number): void;

  /** One update of every parameter that has a gradient (null gradients are skipped). */
  step() {
    // Profiles attribute the step's dispatches to the optimizer ('adam').
    opScope(this.kind.toLowerCase(), () => this.stepAll());
    this.stepCount++;
  }

  private stepAll() {
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (!g) return;
      if (g.size !== p.size || g.dtype !== 'f32') {
        throw new ShapeError(`${this.kind}.step`, `gradient ${g.label} does not match parameter ${i} ${p.label}`);
      }
      const slots = this.paramSlots[i] ?? this.createSlots(p);
      this.paramSlots[i] = slots;
      this.paramSteps[i]++;
      this.update(p, g, slots, this.paramSteps[i]);
    });
  }

  /** Set every parameter's gradient to null (freeing it). */
  zeroGrad() {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  private createSlots(p: Tensor): Record<string, Tensor> {
    const slots: Record<string, Tensor> = {};
    for (const name of this.slotNames) slots[name] = Tensor.zeros(p.shape).keep();
    return slots;
  }

  /** Download the state (step counts, slot contents) for a checkpoint. */
  async state(): Promise<OptimizerState> {
    const params: ParamState[] = [];
    for (let i = 0; i < this.params.length; i++) {
      const slots: Record<string, Float32Array> = {};
      for (const [name, t] of Object.entries(this.paramSlots[i] ?? {})) slots[name] = (await t.read()) as Float32Array;
      params.push({ step: this.paramSteps[i], slots });
    }
    return { kind: this.kind, lr: this.lr, step: this.stepCount, params };
  }

  /** Restore a state from `state()` of an optimizer of the same kind over same-size parameters. */
  loadState(state: OptimizerState) {
    if (state.kind !== this.kind)
      throw new RangeError(`${this.kind}.loadState: the state is from ${state.kind}; create a ${state.kind} optimizer to resume it`);
    if (state.params.length !== this.params.length) {
      throw new RangeError(
        `${this.kind}.loadState: the state has ${state.params.length} parameters, this optimizer ${this.params.length}; build the same model before loading`,
      );
    }
    // Check everything before changing anything.
    state.params.forEach((ps, i) => {
      const names = Object.keys(ps.slots);
      const expected = ps.step > 0 ? this.slotNames : [];
      if (names.length !== expected.length || expected.some((n) => !(n in ps.slots))) {
        throw new RangeError(
          `${this.kind}.loadState: parameter ${i} has slots [${names.join(', ')}], expected [${expected.join(', ')}] (was the optimizer configured differently?)`,
        );
      }
      for (const [name, data] of Object.entries(ps.slots)) {
        if (data.length !== this.params[i].size) {
          throw new ShapeError(
            `${this.kind}.loadState`,
            `slot '${name}' of parameter ${i} has ${data.length} values; parameter ${shapeStr(this.params[i].shape)} needs ${this.params[i].size}`,
          );
        }
      }
    });
    this.dispose();
    this.lr = state.lr;
    this.stepCount = state.step;
    state.params.forEach((ps, i) => {
      this.paramSteps[i] = ps.step;
      if (ps.step === 0) return;
      const slots: Record<string, Tensor> = {};
      for (const name of this.slotNames) slots[name] = Tensor.from(ps.slots[name], this.params[i].shape).keep();
      this.paramSlots[i] = slots;
    });
  }

  /** Free the slot buffers (the parameters are not touched); step counts restart at 0. */
  dispose() {
    this.paramSlots.forEach((slots, i) => {
      for (const t of Object.values(slots ?? {})) t.dispose();
      this.paramSlots[i] = null;
      this.paramSteps[i] = 0;
    });
  }
}
