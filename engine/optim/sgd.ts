/**
 * SGD with momentum and L2 weight decay, PyTorch semantics (torch.optim.SGD without dampening
 * or Nesterov): g = grad + weightDecay * param; with momentum, buf = momentum * buf + g (the
 * buffer starts as the first gradient) and param -= lr * buf; without, param -= lr * g.
 * One fused kernel (kernels/optim/sgd.wgsl) per parameter per step.
 */
import type { Tensor } from '../tensor.ts';
import { dispatch, elementwiseWorkgroupSize, groupsFor, type BufferView } from '../runtime.ts';
import type { KernelSpec } from '../kernel.ts';
import { Optimizer, checkHyper } from './optimizer.ts';

export interface SgdOptions {
  lr: number;
  /** Default 0 (plain SGD, no buffer kept). */
  momentum?: number;
  /** L2 penalty added to the gradient; default 0. */
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number;

  constructor(params: Tensor[], { lr, momentum = 0, weightDecay = 0 }: SgdOptions) {
    checkHyper('SGD', 'momentum', momentum, 0);
    checkHyper('SGD', 'weightDecay', weightDecay, 0);
    super('SGD', params, lr, momentum > 0 ? ['momentum'] : []);
    this.momentum = momentum;
    this.weightDecay = weightDecay;
  }

  protected update(param: Tensor, grad: Tensor, slots: Record<string, Tensor>) {
    const wg = elementwiseWorkgroupSize();
    const entry = this.momentum > 0 ? 'sgdMomentum' : 'sgd';
    const spec: KernelSpec = { name: entry, file: 'optim/sgd.wgsl', entry, overrides: { WG: wg } };
    const buffers: Record<string, BufferView> = this.momentum > 0 ? { param, grad, momentum_buf: slots.momentum } : { param, grad };
    dispatch(spec, buffers, { n: param.size, lr: this.lr, momentum: this.momentum, weight_decay: this.weightDecay }, groupsFor(param.size, wg));
  }
}
