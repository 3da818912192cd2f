/** Learning-rate schedule shared by every trainer (the loop sets it before each optimizer step). */

/**
 * The learning rate at training time t (in epochs, fractional: epoch + step / steps per epoch):
 * linear from lr / 10 to lr over the first `warmupEpochs`, then lr times gamma per whole epoch
 * after the warm-up.
 */
export function learningRate(lr: number, gamma: number, warmupEpochs: number, t: number): number {
  if (t < warmupEpochs) return lr * (0.1 + (0.9 * t) / warmupEpochs);
  return lr * Math.pow(gamma, Math.floor(t - warmupEpochs));
}
