/**
 * What the engine and the benchmarks ask of the platform they run on: Node (Dawn's `webgpu`
 * package, kernels read from kernels/) or a browser (navigator.gpu, kernels bundled at build
 * time). Everything else (ops, kernels, references, benchmarks) is the same code on both.
 *
 * The implementation is chosen by the import `#platform` (package.json "imports"): the
 * `browser` condition (esbuild --platform=browser, scripts/build-web.mjs) gets
 * engine/platform/browser.ts, everything else engine/platform/node.ts.
 */

/** A WebGPU entry point, named by the backend it reaches (Dawn backends in Node; 'browser'). */
export type BackendName = 'default' | 'vulkan' | 'opengles' | 'opengl' | 'browser';

/** Where a benchmark ran, for its self-describing JSON (bench/meta.ts). */
export interface HostDescription {
  /** The `webgpu` package's version in Node; the browser's user agent string in a browser. */
  webgpuVersion: string;
  /** process.version in Node; 'none (browser)' in a browser. */
  nodeVersion: string;
  git: { commit: string | null; dirty: boolean | null };
  /** The command line in Node; the page address in a browser. */
  commandLine: string;
  host: { platform: string; arch: string; cpus: number };
}

export interface Platform {
  name: 'node' | 'browser';
  /** The backends to list adapters from, in order. */
  backends(): BackendName[];
  /** The WebGPU entry point for a backend; throws when it is absent (listAdapters skips it). */
  gpu(backend: BackendName): GPU;
  /** The text of a WGSL file by its path relative to kernels/ ('relu.wgsl', 'gemm/tile.wgsl'), or null. */
  kernelSource(path: string): string | null;
  /** Where kernelSource looks, for messages: a folder in Node, 'the bundled kernels' in a browser. */
  kernelOrigin(path: string): string;
  /** CPU milliseconds this process has used (all threads), or null where it cannot be read (a browser). */
  cpuTimeMs(): number | null;
  /** A one-line status for long work ('' clears it). */
  progress(text: string): void;
  describeHost(): HostDescription;
}
