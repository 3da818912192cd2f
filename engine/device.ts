/**
 * Device acquisition: find a WebGPU adapter on any machine and open one device on it.
 *
 * Order for `auto`: a real (hardware) GPU on any backend; else the software Vulkan adapter
 * (Mesa lavapipe, "llvmpipe"); else OpenGL ES through EGL in compatibility mode. Override with
 * `--adapter auto|vulkan|gl|<name substring>` (CLI) or the environment variable RBD_ADAPTER.
 *
 * The WebGPU entry points come from the platform (engine/platform/): Dawn's backends in Node,
 * navigator.gpu (one 'browser' backend) in a browser; the rest of this file is the same on both.
 *
 * Only the limits the engine uses are requested, each capped at what the adapter offers;
 * timestamp-query, shader-f16 and subgroups are requested only when the adapter has them and
 * are exposed as capabilities, never assumed.
 */
import { platform } from '#platform';
import type { BackendName } from './platform/types.ts';
import { NoAdapterError } from './errors.ts';
import { env } from '../util/env.ts';

export type { BackendName };

/** One adapter that Dawn reports, with what the engine needs to rank and describe it. */
export interface AdapterEntry {
  backend: BackendName;
  featureLevel: 'core' | 'compatibility';
  adapter: GPUAdapter;
  name: string;
  vendor: string;
  isSoftware: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** The opened device and what the rest of the engine may ask of it. */
export interface Gpu {
  device: GPUDevice;
  adapter: AdapterEntry;
  /** Optional capabilities, true only when the adapter has them and they were requested. */
  caps: { timestampQuery: boolean; shaderF16: boolean; subgroups: boolean };
  /** The limits in force on the device (possibly lowered by a test through `limitOverrides`). */
  limits: EngineLimits;
}

/** The limits the engine enforces itself; every kernel and the tensor allocator read these. */
export interface EngineLimits {
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupStorageSize: number;
  maxStorageBuffersPerShaderStage: number;
  minUniformBufferOffsetAlignment: number;
}

const LIMIT_NAMES: (keyof EngineLimits)[] = [
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'minUniformBufferOffsetAlignment',
];

/** Features requested when present; nothing else is requested. */
const OPTIONAL_FEATURES = ['timestamp-query', 'shader-f16', 'subgroups'] as const;

function describe(backend: BackendName, featureLevel: 'core' | 'compatibility', adapter: GPUAdapter): AdapterEntry {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  // A browser leaves description and device empty (Chromium's SwiftShader: vendor 'google', architecture 'swiftshader').
  const name = info.description || info.device || [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  // Dawn's GL adapter reports Mesa's renderer only in `device` (e.g. 'llvmpipe-llvm-15-...').
  const isSoftware = Boolean(info.isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|softpipe/i.test(`${name} ${info.device ?? ''}`);
  const limits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) limits[k] = Number((adapter.limits as unknown as Record<string, number>)[k]);
  return {
    backend,
    featureLevel,
    adapter,
    name,
    vendor: info.vendor || '',
    isSoftware,
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

/**
 * Every adapter Dawn offers on this machine, across the backends that exist on Linux,
 * Windows and macOS. Backends that are absent are skipped quietly (Dawn prints warnings
 * to stderr for those; they are not errors for us).
 */
export async function listAdapters(): Promise<AdapterEntry[]> {
  const found: AdapterEntry[] = [];
  const seen = new Set<string>();
  const add = (e: AdapterEntry | null) => {
    if (!e) return;
    const key = `${e.backend === 'default' ? '' : e.backend}|${e.name}|${e.featureLevel}`;
    if (seen.has(key)) return;
    // The default backend's adapter is also listed under its real backend; keep one.
    if (e.backend === 'default' && found.some((f) => f.name === e.name && f.featureLevel === e.featureLevel)) return;
    seen.add(key);
    found.push(e);
  };
  for (const backend of platform.backends()) {
    let gpu: GPU;
    try {
      gpu = platform.gpu(backend);
    } catch {
      continue;
    }
    for (const featureLevel of ['core', 'compatibility'] as const) {
      for (const powerPreference of ['high-performance', 'low-power'] as const) {
        const adapter = await gpu.requestAdapter({ featureLevel, powerPreference } as GPURequestAdapterOptions).catch(() => null);
        if (!adapter) continue;
        const level = adapter.features.has('core-features-and-limits') ? 'core' : 'compatibility';
        // A core adapter is also returned for a compatibility request; list it once, as core.
        if (featureLevel === 'compatibility' && level === 'core') continue;
        add(describe(backend, level, adapter));
      }
    }
  }
  return found;
}

/**
 * Rank for `auto`: core adapters before compatibility ones (a compatibility adapter runs every
 * kernel, but with tighter limits), and within each, hardware before software.
 */
function rank(e: AdapterEntry): number {
  return (e.featureLevel === 'core' ? 0 : 2) + (e.isSoftware ? 1 : 0);
}

/** Pick an adapter by choice: auto, vulkan, gl, or a case-insensitive name substring. */
export function chooseAdapter(all: AdapterEntry[], choice: string): AdapterEntry | null {
  const c = choice.trim().toLowerCase();
  const sorted = [...all].sort((a, b) => rank(a) - rank(b));
  if (c === '' || c === 'auto') return sorted[0] ?? null;
  if (c === 'vulkan') return sorted.find((e) => e.backend === 'vulkan' || (e.backend === 'default' && e.featureLevel === 'core')) ?? null;
  if (c === 'gl' || c === 'opengles' || c === 'gles') return sorted.find((e) => e.backend === 'opengles' || e.backend === 'opengl') ?? null;
  return sorted.find((e) => e.name.toLowerCase().includes(c) || e.vendor.toLowerCase().includes(c)) ?? null;
}

export interface OpenOptions {
  /** auto | vulkan | gl | name substring; default: RBD_ADAPTER, else auto. */
  adapter?: string;
  /** Lower the engine's limits (tests use this to prove limits are enforced, not hit). */
  limitOverrides?: Partial<EngineLimits>;
  /** Optional features not to request even when the adapter has them (A/B of the kernels' fallbacks). */
  withoutFeatures?: string[];
}

/** Open a device on the chosen adapter. Throws NoAdapterError with what was tried and the remedy. */
export async function openGpu(opts: OpenOptions = {}): Promise<Gpu> {
  const choice = opts.adapter ?? env.adapter();
  const all = await listAdapters();
  const entry = chooseAdapter(all, choice);
  if (!entry)
    throw new NoAdapterError(
      choice,
      all.map((e) => `${e.name} (${e.backend}, ${e.featureLevel})`),
    );

  const requiredFeatures = OPTIONAL_FEATURES.filter(
    (f) => entry.adapter.features.has(f) && !opts.withoutFeatures?.includes(f),
  ) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) {
    if (k === 'minUniformBufferOffsetAlignment') continue; // an alignment: larger is looser; keep the default
    requiredLimits[k] = entry.limits[k];
  }
  const device = await entry.adapter.requestDevice({ requiredFeatures, requiredLimits });
  const limits = {} as EngineLimits;
  for (const k of LIMIT_NAMES) limits[k] = Number((device.limits as unknown as Record<string, number>)[k]);
  Object.assign(limits, opts.limitOverrides ?? {});
  return {
    device,
    adapter: entry,
    caps: {
      timestampQuery: device.features.has('timestamp-query'),
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
    },
    limits,
  };
}
