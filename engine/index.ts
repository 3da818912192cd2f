/** The engine's public surface. */
export { initRuntime, closeRuntime, runtime, dispatch } from './runtime.ts';
export { Tensor, tidy, disposeAll, shapeSize, shapeStr } from './tensor.ts';
export type { DType, TypedArray } from './tensor.ts';
export { memoryStats } from './pool.ts';
export { backward, noGrad, needsGrad, record, save, detach, zeroGrad, releaseGraph, isGradEnabled } from './autograd.ts';
export { listAdapters, chooseAdapter } from './device.ts';
export { Profiler } from './profiler.ts';
export type { ProfileResult, DispatchTiming, PhaseTiming, ProfileClock } from './profiler.ts';
export * from './errors.ts';
