/**
 * Kernel descriptors and their compiled form.
 *
 * A kernel is a small descriptor (name, WGSL body file, entry point, constants); it knows nothing
 * of tensors or autograd. Its bindings and its uniform layout are not written by hand anywhere:
 * they are read from the WGSL with wgsl_reflect when the kernel is first used, and every call is
 * checked against them (see `engine/runtime.ts`).
 *
 * WGSL files live in `kernels/` (read from there in Node, bundled into the page in a browser), grouped by family (conv2d/, gemm/, norm/, ..., include/ for
 * shared snippets), and are always named by their path relative to `kernels/`
 * ('conv2d/forward_row.wgsl'). A line `#include "family/name.wgsl"` pulls in another file by
 * that same kind of path (once per kernel, however often it is named), so index math and
 * reductions are written once.
 *
 * Variants: where one body serves several kernels (the conv row kernels for 3 or 7 taps, the
 * GEMM bodies with and without subgroups), each op declares them in one typed table of
 * `KernelVariant`s next to it (engine/ops/conv2d.ts, engine/ops/gemm_tiles.ts): the body, the
 * snippets it is compiled with, the constants injected, and the adapter features it needs. The
 * source of a variant is assembled here: `enable` directives for its features, then one WGSL
 * `const` per constant, then its includes, then its body (see `kernelSource`).
 */
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { platform } from '#platform';
import { BindingError } from './errors.ts';

/** Optional adapter features a kernel variant can need (each becomes a WGSL `enable`). */
export type KernelFeature = 'subgroups' | 'shader-f16';

/** The WGSL `enable` directive of each feature (the adapter feature 'shader-f16' is WGSL's `f16`). */
const FEATURE_ENABLES: Record<KernelFeature, string> = { subgroups: 'subgroups', 'shader-f16': 'f16' };

/** The device capability flag of each feature (engine/device.ts Gpu.caps). */
export const FEATURE_CAPS: Record<KernelFeature, 'subgroups' | 'shaderF16'> = { subgroups: 'subgroups', 'shader-f16': 'shaderF16' };

/**
 * One compiled form of a WGSL body: what a variant table declares. `name` is unique across the
 * engine and grep-able: dispatches, errors and profiles show it ('conv2dForwardRow3s2').
 */
export interface KernelVariant {
  name: string;
  /** Body file, relative to kernels/: 'conv2d/forward_row.wgsl'. */
  file: string;
  /** Entry point; default 'main'. */
  entry?: string;
  /** Snippets compiled ahead of the body (relative to kernels/), e.g. 'gemm/rows_subgroup.wgsl'. */
  includes?: readonly string[];
  /**
   * Module-scope WGSL constants declared ahead of the body, each `const NAME: u32 = value;`.
   * `const` rather than `override`: they size function-scope arrays (accumulators, spans),
   * which WGSL allows only for const-expressions, and they bound loops the compiler unrolls.
   */
  constants?: Readonly<Record<string, number>>;
  /** Adapter features the variant needs; each is enabled in its source. */
  features?: readonly KernelFeature[];
}

export interface KernelSpec extends KernelVariant {
  /** Per-launch configuration: WGSL `override` constants (workgroup size). Part of the pipeline cache key. */
  overrides?: Record<string, number>;
}

export type ScalarType = 'f32' | 'u32' | 'i32';

/** A storage binding as the WGSL declares it. */
export interface StorageBindingInfo {
  name: string;
  binding: number;
  readOnly: boolean;
  /** Scalar element type of the array (vec4<f32> -> f32, atomic<u32> -> u32). */
  elementType: ScalarType;
}

/** A uniform struct field: where it lives and how many scalars it holds. */
export interface UniformField {
  name: string;
  offset: number;
  type: ScalarType;
  components: number;
}

/** What reflection tells us about one entry point of one WGSL file. */
export interface KernelLayout {
  storage: StorageBindingInfo[];
  /** The single uniform buffer, if any: its binding, its size (16-aligned) and its fields. */
  uniform: { name: string; binding: number; size: number; fields: Map<string, UniformField> } | null;
  overrides: Set<string>;
  workgroupSize: [number, number, number];
  source: string;
}

const sourceCache = new Map<string, string>();

/** Read a WGSL file (path relative to kernels/) and expand its `#include "x.wgsl"` lines (each included file once). */
export function loadWgsl(file: string, seen = new Set<string>()): string {
  if (seen.has(file)) return '';
  seen.add(file);
  let text = sourceCache.get(file);
  if (text === undefined) {
    // Node reads kernels/ (engine/platform/node.ts); a browser bundle carries the files (browser.ts).
    const found = platform.kernelSource(file);
    if (found === null) throw new BindingError(file, `WGSL file not found: ${platform.kernelOrigin(file)}`);
    text = found;
    sourceCache.set(file, text);
  }
  return text.replace(/^\s*#include\s+"([^"]+)"\s*$/gm, (_m, inc: string) => loadWgsl(inc, seen));
}

/**
 * The WGSL of a kernel: its features' `enable` directives (WGSL wants them before any
 * declaration), its constants, its includes, then its body; each file once.
 */
export function kernelSource(spec: KernelSpec): string {
  const parts: string[] = [];
  for (const f of spec.features ?? []) parts.push(`enable ${FEATURE_ENABLES[f]};`);
  for (const [k, v] of Object.entries(spec.constants ?? {})) {
    if (!Number.isInteger(v) || v < 0)
      throw new BindingError(spec.name, `constant ${k} = ${v} must be a whole number >= 0 (declared as u32)`);
    parts.push(`const ${k}: u32 = ${v}u;`);
  }
  const seen = new Set<string>();
  const code = [...(spec.includes ?? []).map((inc) => loadWgsl(inc, seen)), loadWgsl(spec.file, seen)].join('\n');
  for (const k of Object.keys(spec.constants ?? {})) {
    if (!new RegExp(`\\b${k}\\b`).test(code))
      throw new BindingError(spec.name, `constant ${k} is used nowhere in ${spec.file} or its includes`);
  }
  return [...parts, code].join('\n');
}

function scalarOf(typeName: string, format: { name?: string; format?: { name?: string } } | null | undefined): ScalarType | null {
  // array<f32> -> format f32; array<vec4<f32>> -> format vec4 whose format is f32; atomic<u32> likewise.
  const names = [typeName, format?.name, format?.format?.name];
  for (const n of names) if (n === 'f32' || n === 'u32' || n === 'i32') return n;
  return null;
}

/** Parse the WGSL and derive the layout of `entry`. Throws BindingError on anything we cannot bind. */
export function reflectKernel(spec: KernelSpec, source: string): KernelLayout {
  let r: WgslReflect;
  try {
    r = new WgslReflect(source);
  } catch (e) {
    throw new BindingError(spec.name, `WGSL in ${spec.file} does not parse: ${(e as Error).message}`);
  }
  const entryName = spec.entry ?? 'main';
  const entry = r.entry.compute.find((f) => f.name === entryName);
  if (!entry) {
    const have = r.entry.compute.map((f) => f.name).join(', ') || 'none';
    throw new BindingError(spec.name, `no @compute entry point '${entryName}' in ${spec.file} (has: ${have})`);
  }
  // Only the resources this entry point uses belong in its layout.
  const used = new Set(entry.resources.map((v) => `${v.group}:${v.binding}`));
  const storage: StorageBindingInfo[] = [];
  let uniform: KernelLayout['uniform'] = null;
  for (const v of r.storage) {
    if (!used.has(`${v.group}:${v.binding}`)) continue;
    if (v.group !== 0) throw new BindingError(spec.name, `binding '${v.name}' is in group ${v.group}; kernels use group 0 only`);
    const t = v.type as unknown as { name: string; format?: { name?: string; format?: { name?: string } } };
    const elementType = scalarOf(t.name, t.format);
    if (!elementType)
      throw new BindingError(
        spec.name,
        `storage binding '${v.name}' has element type ${t.name}; only arrays of f32/u32/i32 (or their vectors/atomics) are supported`,
      );
    storage.push({ name: v.name, binding: v.binding, readOnly: v.access !== 'read_write', elementType });
  }
  for (const v of r.uniforms) {
    if (!used.has(`${v.group}:${v.binding}`)) continue;
    if (uniform)
      throw new BindingError(spec.name, `more than one uniform binding ('${uniform.name}', '${v.name}'); put all parameters in one struct`);
    const st = v.type as unknown as {
      isStruct: boolean;
      members?: { name: string; offset: number; type: { name: string; format?: { name?: string } } }[];
    };
    if (!st.isStruct || !st.members) throw new BindingError(spec.name, `uniform '${v.name}' must be a struct`);
    const fields = new Map<string, UniformField>();
    for (const m of st.members) {
      const type = scalarOf(m.type.name, m.type.format);
      if (!type) throw new BindingError(spec.name, `uniform field '${m.name}' has type ${m.type.name}; use f32/u32/i32 or vecN of them`);
      const vec = /^vec([234])/.exec(m.type.name);
      fields.set(m.name, { name: m.name, offset: m.offset, type, components: vec ? Number(vec[1]) : 1 });
    }
    uniform = { name: v.name, binding: v.binding, size: Math.ceil(Math.max(v.size, 16) / 16) * 16, fields };
  }
  const names = [...storage.map((s) => s.binding), ...(uniform ? [uniform.binding] : [])];
  if (new Set(names).size !== names.length) throw new BindingError(spec.name, 'two resources share a binding number');
  const overrides = new Set(r.overrides.map((o) => o.name));
  for (const k of Object.keys(spec.overrides ?? {})) {
    if (!overrides.has(k))
      throw new BindingError(
        spec.name,
        `override constant '${k}' is not declared in ${spec.file} (declared: ${[...overrides].join(', ') || 'none'})`,
      );
  }
  const ws = (entry as unknown as { workgroupSize?: number[] }).workgroupSize ?? [1, 1, 1];
  return { storage, uniform, overrides, workgroupSize: [ws[0] ?? 1, ws[1] ?? 1, ws[2] ?? 1], source };
}

/** Cache key for a pipeline: kernel + static configuration (never shapes). */
export function pipelineKey(spec: KernelSpec): string {
  const kv = (o: Readonly<Record<string, number>> = {}) =>
    Object.keys(o)
      .sort()
      .map((k) => `${k}=${o[k]}`)
      .join(',');
  return `${spec.name}|${spec.file}|${spec.entry ?? 'main'}|${(spec.includes ?? []).join(',')}|${(spec.features ?? []).join(',')}|${kv(spec.constants)}|${kv(spec.overrides)}`;
}
