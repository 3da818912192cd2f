/**
 * The Node platform (see types.ts): Dawn's `webgpu` package, one instance per backend; kernels
 * read from <project>/kernels/; CPU time from process.cpuUsage; progress on stderr.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import type { BackendName, HostDescription, Platform } from './types.ts';
import { status } from '../../util/progress.ts';

Object.assign(globalThis, globals);

/** Where the .wgsl files are: `<project>/kernels/`, from both `engine/platform/` and a bundle in `dist/`. */
export const KERNEL_DIR = (() => {
  const here = new URL('.', import.meta.url);
  // Unbundled: engine/platform/ -> ../../kernels/; bundled into dist/: ../kernels/.
  return here.pathname.endsWith('/engine/platform/') ? new URL('../../kernels/', here) : new URL('../kernels/', here);
})();

const PROJECT_ROOT = fileURLToPath(new URL('..', KERNEL_DIR));

// Dawn instances must stay referenced while their adapters are in use.
const instances = new Map<BackendName, GPU>();

/** Headless EGL needs the surfaceless platform; Mesa warns without XDG_RUNTIME_DIR. */
function prepareEglEnvironment() {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The installed `webgpu` package's version, or 'unknown' when its package.json cannot be found. */
function webgpuVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('webgpu');
    // The package exports only its entry point; its package.json sits beside it.
    return String(JSON.parse(readFileSync(join(dirname(entry), 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export const platform: Platform = {
  name: 'node',
  backends: () => (process.platform === 'linux' ? ['vulkan', 'opengles', 'default'] : ['default']),
  gpu(backend) {
    let gpu = instances.get(backend);
    if (!gpu) {
      if (backend === 'opengles' || backend === 'opengl') prepareEglEnvironment();
      // Dawn rounds GPU timestamps down to a quantum (65536 ns measured on lavapipe) unless its
      // 'timestamp_quantization' toggle is off: per-dispatch profiles then read 0 or multiples of
      // it. A browser keeps it on (a timing side channel); a local tool has no such concern.
      const flags = ['disable-dawn-features=timestamp_quantization'];
      gpu = create(backend === 'default' ? flags : [`backend=${backend}`, ...flags]) as GPU;
      instances.set(backend, gpu);
    }
    return gpu;
  },
  kernelSource(path) {
    try {
      return readFileSync(new URL(path, KERNEL_DIR), 'utf8');
    } catch {
      return null;
    }
  },
  kernelOrigin: (path) => new URL(path, KERNEL_DIR).pathname,
  cpuTimeMs() {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
  // util/progress knows when stderr reaches a terminal through rbd's filtering parent.
  progress: (text) => status(text),
  describeHost(): HostDescription {
    const status = git(['status', '--porcelain']);
    return {
      webgpuVersion: webgpuVersion(),
      nodeVersion: process.version,
      git: { commit: git(['rev-parse', 'HEAD']), dirty: status === null ? null : status.length > 0 },
      commandLine: process.argv.map(shellQuote).join(' '),
      host: { platform: process.platform, arch: process.arch, cpus: cpus().length },
    };
  },
};
