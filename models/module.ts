/**
 * A small module system in PyTorch's image: a module owns named parameters (tensors that
 * require grad), named buffers (state that is saved but not trained, such as batch norm's
 * running statistics) and named child modules. Names join with dots, so a parameter's full
 * name is its checkpoint key (`layer_2.0.downsample.1.weight`), in the order PyTorch's
 * state_dict lists them: a module's own parameters, then its own buffers, then its children
 * in registration order.
 */
import { Tensor } from '../engine/tensor.ts';
import { zeroGrad } from '../engine/autograd.ts';

export class Module {
  /** Training mode (batch norm uses batch statistics and updates its running ones). */
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Make `t` a trainable parameter named `name` of this module. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.checkName(name);
    t.requiresGrad = true;
    t.name = name;
    this.ownParams.set(name, t);
    return t;
  }

  /** Keep `t` as saved, untrained state named `name`. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name);
    t.name = name;
    this.ownBuffers.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.children.set(name, m);
    return m;
  }

  private checkName(name: string) {
    if (!name || name.includes('.')) throw new Error(`module member name '${name}' must be non-empty and contain no dot`);
    if (this.ownParams.has(name) || this.ownBuffers.has(name) || this.children.has(name))
      throw new Error(`module member '${name}' is registered twice`);
  }

  /** Direct children with their names (bench/profile.ts walks them to name each layer's dispatches). */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /** Every parameter with its dotted name. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Every buffer with its dotted name. */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownBuffers) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /** Parameters and buffers, keyed and ordered as PyTorch's state_dict. */
  stateDict(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix + n, t]);
    for (const [n, t] of this.ownBuffers) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.stateDict(`${prefix}${n}.`));
    return out;
  }

  /** Set training mode here and in every descendant. */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.children.values()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Drop every parameter's accumulated gradient. */
  zeroGrad() {
    zeroGrad(this.parameters());
  }

  /** Free every parameter, gradient and buffer. The module is unusable afterwards. */
  dispose() {
    for (const [, t] of this.stateDict()) {
      t.grad?.dispose();
      t.grad = null;
      t.dispose();
    }
  }
}

/** A module mapping one tensor to one tensor. */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;
}

/** Layers applied in order; children are named "0", "1", ... as in PyTorch. */
export class Sequential extends Layer {
  readonly layers: Layer[];
  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
    layers.forEach((l, i) => this.registerModule(String(i), l));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }
}
