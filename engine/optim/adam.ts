/**
 * Adam and AdamW, PyTorch semantics (torch.optim.Adam / AdamW, amsgrad off), with t the
 * parameter's own step count:
 *   Adam:  g = grad + weightDecay * param (L2 added to the gradient)
 *   AdamW: param *= 1 - lr * weightDecay (decoupled), g = grad
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * One fused kernel (kernels/optim/adam.wgsl) per parameter per step; the bias corrections are
 * computed in float64 on the host and travel as uniforms.
 */
import type { Tensor } from '../tensor.ts';
import { dispatch, elementwiseWorkgroupSize, groupsFor } from '../runtime.ts';
import type { KernelSpec } from '../kernel.ts';
import { Optimizer, checkHyper } from './optimizer.ts';

export interface AdamOptions {
  lr: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8, added after the bias-corrected sqrt(v). */
  eps?: number;
  /** Default 0 (Adam: L2 on the gradient; AdamW: decoupled decay). */
  weightDecay?: number;
}

class AdamBase extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(
    kind: 'Adam' | 'AdamW',
    private readonly entry: 'adam' | 'adamw',
    params: Tensor[],
    { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0 }: AdamOptions,
  ) {
    checkHyper(kind, 'betas[0]', betas[0], 0, 1);
    checkHyper(kind, 'betas[1]', betas[1], 0, 1);
    checkHyper(kind, 'eps', eps, 0);
    checkHyper(kind, 'weightDecay', weightDecay, 0);
    super(kind, params, lr, ['expAvg', 'expAvgSq']);
    [this.beta1, this.beta2] = betas;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  protected update(param: Tensor, grad: Tensor, slots: Record<string, Tensor>, step: number) {
    const wg = elementwiseWorkgroupSize();
    // Sizes divisible by 4 (most parameters) take the vec4 entry points, one vec4 per invocation.
    const vec4 = param.size % 4 === 0;
    const spec: KernelSpec = {
      name: this.entry,
      file: 'optim/adam.wgsl',
      entry: vec4 ? `${this.entry}Vec4` : this.entry,
      overrides: { WG: wg },
    };
    const buffers: Record<string, Tensor> = vec4
      ? { param4: param, grad4: grad, exp_avg4: slots.expAvg, exp_avg_sq4: slots.expAvgSq }
      : { param, grad, exp_avg: slots.expAvg, exp_avg_sq: slots.expAvgSq };
    dispatch(
      spec,
      buffers,
      {
        n: param.size,
        step_size: this.lr / (1 - Math.pow(this.beta1, step)),
        beta1: this.beta1,
        beta2: this.beta2,
        one_minus_beta1: 1 - this.beta1,
        one_minus_beta2: 1 - this.beta2,
        eps: this.eps,
        weight_decay: this.weightDecay,
        decay_factor: 1 - this.lr * this.weightDecay,
        bias_correction2_sqrt: Math.sqrt(1 - Math.pow(this.beta2, step)),
      },
      groupsFor(vec4 ? param.size / 4 : param.size, wg),
    );
  }
}

/** Adam with L2 weight decay added to the gradient (the method's optimizer: lr 1e-3, weightDecay 1e-4). */
export class Adam extends AdamBase {
  constructor(params: Tensor[], opts: AdamOptions) {
    super('Adam', 'adam', params, opts);
  }
}

/** AdamW: weights decay by (1 - lr * weightDecay) before the Adam step. */
export class AdamW extends AdamBase {
  constructor(params: Tensor[], opts: AdamOptions) {
    super('AdamW', 'adamw', params, opts);
  }
}
