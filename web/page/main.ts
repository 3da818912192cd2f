/**
 * The rbd web page: adapter, kernel conformance suite, `bench flops` and `bench speed` per
 * magnification, results JSON (the `rbd bench speed --json` schema under `bench`). The engine,
 * kernels, tests and benchmark code are the project's own, bundled by web/site.ts.
 *
 * URL parameters:
 *   auto=conformance|bench|all   run without clicks; then document.title is 'rbd: done' or
 *                                'rbd: failed' and #rbd-results holds {adapter, conformance, bench}
 *   quick=1                      the smoke-test benchmark (32 px tiles, batch 1, 1 rep, no warm-up:
 *                                the first run compiles the kernels, so its figures are not rates to quote)
 *   mags=LIST tile=N batch=N reps=N warmup=N gemm-sizes=LIST   the benchmark's settings, as `rbd bench speed` flags
 *   limit.<name>=N               lower one of the engine's limits (e.g. limit.maxStorageBufferBindingSize)
 *                                to see how the page copes with a small device
 *   without=subgroups,...        do not request these optional features (runs the kernels' fallbacks)
 *   loseDeviceAfter=N            destroy the device after N conformance results (device-loss drill)
 */
import { initRuntime, runtime, type Runtime } from '../../engine/runtime.ts';
import type { EngineLimits } from '../../engine/device.ts';
import { NoAdapterError } from '../../engine/errors.ts';
import { hasWebGpu, onProgress } from '../../engine/platform/browser.ts';
import { runConformance, type ConformanceResult } from '../../conformance/suite.ts';
import conformanceFiles from 'rbd:conformance-files';
import { speedRun, DEFAULT_BATCH, type SpeedRow } from '../../bench/speed.ts';
import { flopsRows, magInputs, DEFAULT_MAGS, DEFAULT_TILE, type FlopsRow } from '../../bench/flops.ts';
import { presetArch } from '../../models/arch.ts';
import { requireMag } from '../../data/mag.ts';
import { DEFAULT_GEMM_SIZES } from '../../bench/roofline.ts';
import { describeAdapter } from '../../bench/meta.ts';
import { barChart } from './plot.ts';

type Json = Record<string, unknown>;
const params = new URLSearchParams(location.search);
const $ = (id: string) => document.getElementById(id)!;

interface Results {
  adapter: Json | null;
  conformance: {
    name: string;
    worstError: number;
    tolerance: { atol: number; rtol: number };
    pass: boolean;
    worstRatio: number;
    checks: number;
    error?: string;
  }[];
  bench: Json | null;
  flops: FlopsRow[] | null;
  errors: string[];
  deviceLost: string | null;
  /** Wall seconds of each part. */
  seconds: Record<string, number>;
}

const results: Results = { adapter: null, conformance: [], bench: null, flops: null, errors: [], deviceLost: null, seconds: {} };
let lost: string | null = null;

function publish() {
  $('rbd-results').textContent = JSON.stringify(results, null, 2);
}

function message(kind: 'error' | 'warn' | 'info', html: string) {
  const d = document.createElement('div');
  d.className = `msg ${kind}`;
  d.innerHTML = html;
  $('messages').append(d);
}

function status(text: string, fraction?: number) {
  $('status').textContent = text;
  const p = $('progress') as HTMLProgressElement;
  if (fraction === undefined) p.removeAttribute('value');
  else p.value = fraction;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const num = (x: number, d = 3) =>
  x === null || Number.isNaN(x) ? 'n/a' : Math.abs(x) >= 1000 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toPrecision(d);

function table(head: string[], rows: (string | number)[][], cls: (i: number) => string = () => ''): string {
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r, i) => `<tr class="${cls(i)}">${r.map((c) => `<td>${typeof c === 'number' ? num(c) : esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

const ENABLE_HELP = `<ul>
<li>The page must come from <code>https://</code> or <code>http://localhost</code> (WebGPU needs a secure context): <code>rbd web --serve</code> serves it on localhost.</li>
<li>Chrome / Edge 113 or newer: on by default on Windows, macOS and ChromeOS. On Linux start it with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code> or enable <code>chrome://flags/#enable-unsafe-webgpu</code>. Check <code>chrome://gpu</code> for "WebGPU: Hardware accelerated" and for a blocklisted GPU.</li>
<li>Firefox 141 or newer on Windows; elsewhere set <code>dom.webgpu.enabled</code> in <code>about:config</code> (Nightly).</li>
<li>Safari 26 or newer; older: Develop &gt; Feature Flags &gt; WebGPU.</li>
</ul>`;

function limitOverrides(): Partial<EngineLimits> {
  const out: Record<string, number> = {};
  for (const [k, v] of params) if (k.startsWith('limit.')) out[k.slice(6)] = Number(v);
  return out as Partial<EngineLimits>;
}

/** Open the device; null (with the reason shown) when there is none. */
async function openDevice(): Promise<Runtime | null> {
  if (!hasWebGpu()) {
    const why = window.isSecureContext
      ? 'this browser does not expose WebGPU (navigator.gpu is missing): it is off, blocked, or not supported'
      : 'this page is not a secure context, so the browser hides WebGPU';
    $('adapter').innerHTML = `<div class="msg error"><b>No WebGPU:</b> ${why}.${ENABLE_HELP}</div>`;
    results.errors.push(`no WebGPU: ${why}`);
    return null;
  }
  try {
    const rt = await initRuntime({ limitOverrides: limitOverrides(), withoutFeatures: params.get('without')?.split(',') ?? [] });
    void rt.device.lost.then((info) => {
      lost = `${info.reason}: ${info.message || 'no message'}`;
      results.deviceLost = lost;
      message(
        'error',
        `<b>The GPU device was lost</b> (${esc(lost)}). The results measured so far are kept below; reload the page to start again.`,
      );
      publish();
    });
    return rt;
  } catch (e) {
    const refused = e instanceof NoAdapterError;
    // NoAdapterError's own remedy speaks of Dawn's backends in Node; say what happened here instead.
    const text = refused ? 'navigator.gpu.requestAdapter() returned no adapter' : (e as Error).message;
    $('adapter').innerHTML =
      `<div class="msg error"><b>${refused ? 'The browser refused an adapter' : 'Opening the GPU failed'}:</b> ${esc(text)}<br>
      ${refused ? 'navigator.gpu exists but requestAdapter() gave none: the GPU may be blocklisted, or WebGPU disabled by policy or by a software-rendering fallback.' : ''}${ENABLE_HELP}</div>`;
    results.errors.push(`${refused ? 'adapter request refused' : 'device request failed'}: ${text}`);
    return null;
  }
}

function showAdapter(rt: Runtime) {
  const a = describeAdapter(rt);
  const info = rt.gpu.adapter.adapter.info;
  results.adapter = { ...a, architecture: info.architecture, description: info.description, subgroups: rt.gpu.caps.subgroups };
  const limits = Object.entries(a.limits).map(([k, v]) => [k, String(v)]);
  const overridden = Object.keys(limitOverrides());
  $('adapter').innerHTML = `<dl>
    <dt>vendor</dt><dd>${esc(info.vendor || '(not reported)')}</dd>
    <dt>architecture</dt><dd>${esc(info.architecture || '(not reported)')}</dd>
    <dt>description</dt><dd>${esc(info.description || info.device || '(not reported)')}</dd>
    <dt>software</dt><dd>${a.software ? 'yes (fallback / CPU adapter)' : 'no'}</dd>
    <dt>feature level</dt><dd>${a.featureLevel}</dd>
    <dt>features</dt><dd>${esc(a.features.join(', '))}</dd>
  </dl>${table(['limit', 'value'], limits)}${overridden.length ? `<div class="msg warn">limits lowered by the page address: ${esc(overridden.join(', '))}</div>` : ''}`;
}

function showConformance(list: ConformanceResult[], running: boolean) {
  const failed = list.filter((r) => !r.pass).length;
  const head = `<div>${list.length} tests${running ? ' so far' : ''} from ${conformanceFiles.length} files: <span class="${failed ? 'fail' : 'pass'}">${failed ? `${failed} failed` : 'all passed'}</span></div>`;
  // One row per kernel test file (its worst test), then every test in a collapsible table.
  const byFile = new Map<string, ConformanceResult[]>();
  for (const r of list) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r]);
  const files = [...byFile].map(([file, rs]) => {
    const worst = rs.reduce((w, r) => (r.worstRatio > w.worstRatio || (!r.pass && w.pass) ? r : w));
    return { file, rs, worst, pass: rs.every((r) => r.pass) };
  });
  const summary = table(
    ['kernel tests', 'tests', 'worst test', 'worst |error|', 'error / allowed', 'result'],
    files.map((f) => [
      f.file.replace(/^test\//, '').replace(/\.test\.ts$/, ''),
      String(f.rs.length),
      f.worst.worstLabel || f.worst.name,
      f.worst.worstError,
      f.worst.worstRatio,
      f.pass ? 'pass' : 'FAIL',
    ]),
    (i) => (files[i].pass ? 'pass' : 'fail'),
  );
  $('conformance').innerHTML =
    head +
    summary +
    `<details${failed ? ' open' : ''}><summary>every test</summary>` +
    table(
      ['kernel test', 'worst |error|', 'atol', 'rtol', 'worst error / allowed', 'checks', 'result'],
      list.map((r) => [
        r.name,
        r.worstError,
        r.tolerance.atol,
        r.tolerance.rtol,
        r.worstRatio,
        String(r.checks),
        r.pass ? 'pass' : `FAIL${r.error ? `: ${r.error}` : ''}`,
      ]),
      (i) => (list[i].pass ? 'pass' : 'fail'),
    ) +
    '</details>';
}

async function conformance(): Promise<boolean> {
  const loseAfter = params.has('loseDeviceAfter') ? Number(params.get('loseDeviceAfter')) : Infinity;
  const list: ConformanceResult[] = [];
  status('conformance: loading the kernel tests', 0);
  try {
    await runConformance(conformanceFiles, (r) => {
      // A test that finished after the device was lost ran (partly) on nothing: not a result.
      if (lost) throw new Error(`device lost: ${lost}`);
      list.push(r);
      results.conformance.push({
        name: r.name,
        worstError: r.worstError,
        tolerance: r.tolerance,
        pass: r.pass,
        worstRatio: r.worstRatio,
        checks: r.checks,
        ...(r.error ? { error: r.error } : {}),
      });
      status(`conformance: ${list.length} tests (${r.name})`, Math.min(1, list.length / 300));
      showConformance(list, true);
      publish();
      if (list.length === loseAfter) runtime().device.destroy();
      if (lost) throw new Error(`device lost: ${lost}`);
    });
  } catch (e) {
    results.errors.push(`conformance stopped: ${(e as Error).message}`);
    message('error', `<b>Conformance stopped</b> after ${list.length} tests: ${esc((e as Error).message)}`);
    showConformance(list, false);
    publish();
    return false;
  }
  showConformance(list, false);
  status(`conformance: ${list.length} tests, ${list.filter((r) => !r.pass).length} failed`, 1);
  return list.length > 0 && list.every((r) => r.pass);
}

function showBench(flops: FlopsRow[], bench: Json | null) {
  let html =
    '<h3>bench flops (per tile)</h3>' +
    table(
      ['mag', 'input', 'fwd GFLOPs', 'train-step GFLOPs', 'params'],
      flops.map((r) => [r.mag, `${r.inputSize[0]}x${r.inputSize[1]}`, r.forwardGflops, r.trainStepGflops, String(r.params)]),
    );
  if (bench) {
    const rows = bench.results as SpeedRow[];
    html += `<h3>bench speed</h3><div>roofline: GEMM ${num(bench.rooflineGflops as number)} GFLOP/s (${esc(String((bench.roofline as Json).gemmShape))}), copy ${num(bench.rooflineCopyGBps as number)} GB/s; dispatch overhead ${num(bench.dispatchOverheadUs as number)} us; batch ${bench.batch}, ${bench.reps} reps after ${bench.warmup} warm-up</div>`;
    html += table(
      [
        'mag',
        'input',
        'infer img/s',
        'train img/s',
        'train ms (min-max)',
        'train GFLOP/s',
        'of roofline',
        'speed-up',
        'FLOP ratio',
        'dispatches',
      ],
      rows.map((r) => [
        r.mag,
        `${r.inputSize[0]}x${r.inputSize[1]}`,
        r.inferImagesPerSec,
        r.trainImagesPerSec,
        `${num(r.trainMs.median)} (${num(r.trainMs.min)}-${num(r.trainMs.max)})`,
        r.achievedGflops,
        `${(100 * r.rooflineFraction).toFixed(1)}%`,
        `${num(r.trainSpeedup)}x`,
        `${num(r.trainFlopRatio)}x`,
        String(r.trainDispatches),
      ]),
    );
    const skipped = [
      ...((bench.skipped ?? []) as { mag: string; reason: string }[]),
      ...(((bench.roofline as Json).skipped ?? []) as { kernel: string; shape: string; reason: string }[]).map((s) => ({
        mag: `roofline ${s.kernel} ${s.shape}`,
        reason: s.reason,
      })),
    ];
    if (skipped.length)
      html += `<div class="msg warn"><b>Skipped:</b><ul>${skipped.map((s) => `<li>${esc(s.mag)}: ${esc(s.reason)}</li>`).join('')}</ul></div>`;
    $('plots').innerHTML = rows.length
      ? barChart(
          'distillation step, images/s',
          rows.map((r) => [r.mag, r.trainImagesPerSec]),
        ) +
        barChart(
          'inference, images/s',
          rows.map((r) => [r.mag, r.inferImagesPerSec]),
        ) +
        barChart(
          'train step, % of roofline',
          rows.map((r) => [r.mag, 100 * r.rooflineFraction]),
        )
      : '';
  }
  $('bench').innerHTML = html;
}

async function bench(): Promise<boolean> {
  try {
    return await benchRun();
  } catch (e) {
    // Bad settings in the address (mags, tile, ...): say which.
    results.errors.push(`bench: ${(e as Error).message}`);
    message('error', `<b>The benchmark could not start:</b> ${esc((e as Error).message)}`);
    publish();
    return false;
  }
}

/** A whole number from the page's address (?name=value), checked like the CLI's flags. */
function wholeParam(name: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new Error(`?${name}=${value} must be a whole number >= ${min}`);
  return n;
}

async function benchRun(): Promise<boolean> {
  const quick = params.get('quick') === '1' || ($('quick') as HTMLInputElement).checked;
  // quick: a smoke run (CI): every magnification, tiny tiles, one timed repetition.
  const setting = (name: string, fallback: number) =>
    params.has(name) ? wholeParam(name, params.get(name)!, name === 'warmup' ? 0 : 1) : fallback;
  const tile = setting('tile', quick ? 32 : DEFAULT_TILE);
  const inputs = magInputs(
    (params.get('mags') ?? DEFAULT_MAGS).split(',').map((m) => requireMag(m.trim(), '?mags')),
    tile,
  );
  const archName = 'rbd';
  const arch = presetArch(archName);
  results.flops = flopsRows(arch, inputs);
  showBench(results.flops, null);
  publish();
  const o = {
    arch,
    archName,
    inputs,
    tile,
    batch: setting('batch', quick ? 1 : DEFAULT_BATCH),
    reps: setting('reps', quick ? 1 : 5),
    warmup: setting('warmup', quick ? 0 : 2),
    seed: 1,
    gemmSizes:
      params
        .get('gemm-sizes')
        ?.split(',')
        .map((v) => wholeParam('gemm-sizes', v, 1)) ?? (quick ? [64] : DEFAULT_GEMM_SIZES),
  };
  const log: string[] = [];
  try {
    const r = (await speedRun(o, (line) => log.push(line))) as unknown as Json;
    results.bench = { ...r, log };
  } catch (e) {
    results.bench = { error: (e as Error).message, log };
    results.errors.push(`bench stopped: ${(e as Error).message}`);
    message('error', `<b>The benchmark stopped:</b> ${esc((e as Error).message)}`);
    publish();
    return false;
  }
  showBench(results.flops, results.bench);
  status('benchmark done', 1);
  publish();
  return (results.bench.results as unknown[]).length > 0 || ((results.bench.skipped as unknown[]) ?? []).length > 0;
}

function download() {
  // The `rbd bench speed --json` object when the benchmark ran, so `rbd bench compare` reads it; else everything.
  const body = results.bench && !('error' in results.bench) ? results.bench : results;
  const url = URL.createObjectURL(new Blob([JSON.stringify(body, null, 2) + '\n'], { type: 'application/json' }));
  const a = Object.assign(document.createElement('a'), {
    href: url,
    download: `rbd-bench-${(results.adapter?.name as string | undefined)?.replace(/\W+/g, '-') ?? 'browser'}.json`,
  });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function main() {
  onProgress((text) => text && status(text));
  publish();
  const rt = await openDevice();
  const auto = params.get('auto');
  if (!rt) {
    publish();
    if (auto) document.title = 'rbd: failed';
    return;
  }
  showAdapter(rt);
  publish();
  let busy = false;
  const guard = (fn: () => Promise<boolean>) => async () => {
    if (busy) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
      ($('download') as HTMLButtonElement).disabled = false;
    }
  };
  const timed = (name: string, fn: () => Promise<boolean>) => async () => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      results.seconds[name] = (performance.now() - t0) / 1000;
      publish();
    }
  };
  ($('run-conformance') as HTMLButtonElement).onclick = guard(timed('conformance', conformance));
  ($('run-bench') as HTMLButtonElement).onclick = guard(timed('bench', bench));
  ($('download') as HTMLButtonElement).onclick = download;
  for (const id of ['run-conformance', 'run-bench']) ($(id) as HTMLButtonElement).disabled = false;
  if (auto) {
    if (!['conformance', 'bench', 'all'].includes(auto)) {
      results.errors.push(`auto=${auto}: expected conformance, bench or all`);
      publish();
      document.title = 'rbd: failed';
      return;
    }
    busy = true;
    let ok = true;
    if (auto === 'conformance' || auto === 'all') ok = (await timed('conformance', conformance)()) && ok;
    if ((auto === 'bench' || auto === 'all') && !lost) ok = (await timed('bench', bench)()) && ok;
    busy = false;
    ok = ok && !lost;
    ($('download') as HTMLButtonElement).disabled = false;
    publish();
    document.title = ok ? 'rbd: done' : 'rbd: failed';
  }
}

main().catch((e) => {
  results.errors.push(`page error: ${(e as Error).message}`);
  message('error', `<b>Unexpected error:</b> ${esc((e as Error).message)}`);
  publish();
  document.title = 'rbd: failed';
});
