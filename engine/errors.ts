/**
 * The engine's error types. Each message names the thing that failed and the remedy, so a
 * user never has to read a stack trace to know what to do.
 */

/** No WebGPU adapter matched the request. */
export class NoAdapterError extends Error {
  constructor(choice: string, available: string[]) {
    const tried = 'tried: the default backend, Vulkan (core), OpenGL ES through EGL (compatibility)';
    const have = available.length ? `adapters found: ${available.join('; ')}` : 'no adapter was found at all';
    super(
      `no WebGPU adapter for --adapter/RBD_ADAPTER='${choice}' (${tried}; ${have}). ` +
        `Remedy: run 'bash scripts/setup.sh' (installs Mesa's software Vulkan driver on Debian/Ubuntu), ` +
        `or choose another adapter with --adapter auto|vulkan|gl|<name> ('rbd info' lists them).`,
    );
    this.name = 'NoAdapterError';
  }
}

/** A GPU-side error (validation, out of memory, device lost), naming the kernel in flight. */
export class KernelError extends Error {
  constructor(
    public readonly kernel: string,
    kind: string,
    detail: string,
  ) {
    super(`${kind} error in kernel '${kernel}': ${detail.trim()}`);
    this.name = 'KernelError';
  }
}

/** A kernel's WGSL and the TypeScript call disagree (binding or uniform missing, extra, or of the wrong kind). */
export class BindingError extends Error {
  constructor(kernel: string, detail: string) {
    super(`kernel '${kernel}': ${detail}`);
    this.name = 'BindingError';
  }
}

/** Shapes or dtypes that an op cannot take; thrown before anything is dispatched. */
export class ShapeError extends Error {
  constructor(op: string, detail: string) {
    super(`${op}: ${detail}`);
    this.name = 'ShapeError';
  }
}

/** A request beyond a device limit that the engine cannot fold or split. */
export class LimitError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'LimitError';
  }
}
