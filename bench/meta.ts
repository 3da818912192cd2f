/**
 * What makes a benchmark's JSON self-describing: which adapter ran it (name, backend, feature
 * level, features, the limits in force), the `webgpu` package and Node versions, the git
 * commit (and whether the tree had uncommitted changes), the seeds, the exact command line and
 * the date. Every benchmark spreads `benchMeta(...)` into the top level of the JSON it writes,
 * so two files can be compared (`rbd bench compare`) knowing what differs between them.
 */
import { platform } from '#platform';
import type { Runtime } from '../engine/runtime.ts';
import type { EngineLimits } from '../engine/device.ts';
import { choiceState, type ChoiceState } from '../engine/variant_choice.ts';

import { precision, type Precision } from '../engine/precision.ts';
export interface AdapterDescription {
  name: string;
  /** Dawn backend: vulkan, opengles, ... */
  backend: string;
  featureLevel: 'core' | 'compatibility';
  vendor: string;
  software: boolean;
  features: string[];
  /** The limits the engine enforces on this device (those the kernels are sized from). */
  limits: EngineLimits;
  /** True when per-pass GPU timestamps are available (profiles use them). */
  timestampQuery: boolean;
}

export interface BenchMeta {
  /** What produced the file, e.g. 'bench speed'. */
  benchmark: string;
  /** Null for benchmarks that never touch the GPU (`bench flops` counts from shapes). */
  adapter: AdapterDescription | null;
  webgpuVersion: string;
  nodeVersion: string;
  git: { commit: string | null; dirty: boolean | null };
  seeds: Record<string, number>;
  /**
   * Which kernel variants ran: 'rules' or 'tuned' (the tune cache's choices per geometry class,
   * rules elsewhere), the cache path, and any RBD_VARIANT forcing (engine/variant_choice.ts).
   */
  variantChoices: ChoiceState;
  /** Precision of the GEMM kernels (engine/precision.ts) when the benchmark ran; null without a runtime. */
  precision: Precision | null;
  /** The exact command line (process.argv, shell-quoted where needed). */
  commandLine: string;
  /** ISO 8601, UTC. */
  date: string;
  host: { platform: string; arch: string; cpus: number };
}

export function describeAdapter(rt: Runtime): AdapterDescription {
  const a = rt.gpu.adapter;
  return {
    name: a.name,
    backend: a.backend,
    featureLevel: a.featureLevel,
    vendor: a.vendor,
    software: a.isSoftware,
    features: [...rt.device.features].map(String).sort(),
    limits: { ...rt.limits },
    timestampQuery: rt.gpu.caps.timestampQuery,
  };
}

export function benchMeta(rt: Runtime | null, benchmark: string, seeds: Record<string, number>): BenchMeta {
  // Node: the webgpu package, git, argv; a browser: its user agent, the build's commit, the page address.
  const h = platform.describeHost();
  return {
    benchmark,
    adapter: rt ? describeAdapter(rt) : null,
    webgpuVersion: h.webgpuVersion,
    nodeVersion: h.nodeVersion,
    git: h.git,
    seeds,
    variantChoices: choiceState(),
    precision: rt ? precision() : null,
    commandLine: h.commandLine,
    date: new Date().toISOString(),
    host: h.host,
  };
}

/** One line naming the adapter, for table headers: 'llvmpipe ... (vulkan, core)'. */
export function adapterLine(a: AdapterDescription): string {
  return `${a.name} (${a.backend}, ${a.featureLevel}${a.software ? ', software' : ''})`;
}
