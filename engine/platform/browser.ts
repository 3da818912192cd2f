/**
 * The browser platform (see types.ts): the device comes from navigator.gpu; the kernels are the
 * WGSL files bundled at build time (scripts/build-web.mjs generates `rbd:kernels`, a map from the
 * path relative to kernels/ to the text); progress goes to listeners (the page shows it).
 */
import kernels from 'rbd:kernels';
import type { HostDescription, Platform } from './types.ts';

/** Set at build time (scripts/build-web.mjs `define`): the commit the page was built from. */
declare const RBD_BUILD_GIT: { commit: string | null; dirty: boolean | null } | undefined;

const progressListeners = new Set<(text: string) => void>();

/** Receive the benchmarks' progress lines (the page's status line). Returns the unsubscribe. */
export function onProgress(fn: (text: string) => void): () => void {
  progressListeners.add(fn);
  return () => progressListeners.delete(fn);
}

/** True when the page can reach WebGPU at all (the API exists: secure context, browser support). */
export function hasWebGpu(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && Boolean(navigator.gpu);
}

export const platform: Platform = {
  name: 'browser',
  backends: () => ['browser'],
  gpu() {
    if (!hasWebGpu()) throw new Error('this browser exposes no WebGPU (navigator.gpu is missing)');
    return navigator.gpu;
  },
  // Keys are normalized paths under kernels/ ('conv2d/x.wgsl'); an include may name 'conv2d/../include/y.wgsl'.
  kernelSource: (path) => kernels[new URL(path, 'file:///kernels/').pathname.replace(/^\/kernels\//, '')] ?? null,
  kernelOrigin: (path) => `the bundled kernels (no '${path}' among ${Object.keys(kernels).length} files)`,
  cpuTimeMs: () => null,
  progress(text) {
    for (const fn of progressListeners) fn(text);
  },
  describeHost(): HostDescription {
    const nav = navigator as Navigator & { userAgentData?: { platform?: string } };
    return {
      webgpuVersion: `browser: ${nav.userAgent}`,
      nodeVersion: 'none (browser)',
      git: typeof RBD_BUILD_GIT === 'undefined' ? { commit: null, dirty: null } : RBD_BUILD_GIT,
      commandLine: location.href,
      host: { platform: 'browser', arch: nav.userAgentData?.platform ?? nav.platform ?? 'unknown', cpus: nav.hardwareConcurrency ?? 0 },
    };
  },
};
