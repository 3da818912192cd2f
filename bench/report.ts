/**
 * The benchmark report: Markdown + one self-contained HTML page (util/document.ts) with inline
 * SVG plots (util/svg.ts), from the results of bench speed and profile.
 */
import { join } from 'node:path';
import { lineChart, barChart } from '../util/svg.ts';
import { writeDocument, heading, paragraph, list, table, figure, type Block } from '../util/document.ts';
import { fmtNum, fmtPercent } from '../util/table.ts';
import { adapterLine, type AdapterDescription } from './meta.ts';
import type { SpeedRow, Spread } from './speed.ts';
import type { StepProfile, OpProfile } from './profile.ts';

/** What the report is made of: the JSON documents written by bench speed and profile. */
export interface ReportInputs {
  /** `rbd bench speed --json` output (or the same object in memory). */
  speed?: SpeedJson;
  /** A step profile (`rbd profile --json` output, or profileStep's result). */
  profile?: StepProfile;
  /**
   * A second profile with the student at a lower magnification (same teacher): the report then
   * compares the student's ops between the two, showing where a small input's time goes.
   */
  profileLow?: StepProfile;
}

/** The fields of bench speed's JSON that the report reads. */
export interface SpeedJson {
  adapter: AdapterDescription | null;
  rooflineGflops: number;
  rooflineCopyGBps?: number;
  /** The top magnification's step against the best GEMM, interleaved rounds (bench/speed.ts). */
  pairedRooflineFraction?: { gemm: string; wall: Spread; cpu: Spread };
  /** Measured fixed cost of one dispatch, microseconds (bench/roofline.ts). */
  dispatchOverheadUs?: number;
  batch: number;
  tile?: number;
  date?: string;
  git?: { commit: string | null; dirty: boolean | null };
  commandLine?: string;
  results: SpeedRow[];
}

function speedBlocks(s: SpeedJson): Block[] {
  const rows = s.results;
  const top = rows[0];
  const lowest = rows[rows.length - 1];
  const blocks: Block[] = [];
  blocks.push(heading(2, 'Throughput per magnification'));
  blocks.push(
    paragraph(
      `Adapter ${s.adapter ? adapterLine(s.adapter) : 'unknown'}; batch ${s.batch}${s.tile ? `, tile ${s.tile}px at ${top.mag}` : ''}. Roofline measured in the same run: best GEMM ${fmtNum(s.rooflineGflops)} GFLOP/s${s.rooflineCopyGBps ? `, buffer copy ${fmtNum(s.rooflineCopyGBps)} GB/s` : ''}. Times are medians (min-max) per batch, each run timed until the GPU finished. "of roofline (CPU s)" is the same fraction with FLOPs per CPU-second of the benchmark process on both sides: on a software adapter the GPU is that process's threads, so this figure is not inflated by other processes competing for the cores.`,
    ),
  );
  blocks.push(
    table(
      [
        'mag',
        'input',
        'fwd GFLOPs/tile',
        'step GFLOPs/tile',
        'infer img/s',
        'train img/s',
        'train ms (min-max)',
        'GFLOP/s',
        'of roofline',
        'of roofline (CPU s)',
        'speed-up',
        'FLOP ratio',
        'dispatches',
      ],
      rows.map((r) => [
        r.mag,
        `${r.inputSize[0]}x${r.inputSize[1]}`,
        fmtNum(r.forwardGflops, 4),
        fmtNum(r.trainStepGflops, 4),
        fmtNum(r.inferImagesPerSec),
        fmtNum(r.trainImagesPerSec),
        `${fmtNum(r.trainMs.median)} (${fmtNum(r.trainMs.min)}-${fmtNum(r.trainMs.max)})`,
        fmtNum(r.achievedGflops),
        fmtPercent(r.rooflineFraction),
        fmtPercent(r.rooflineFractionCpu),
        `${fmtNum(r.trainSpeedup)}x`,
        `${fmtNum(r.trainFlopRatio)}x`,
        String(r.trainDispatches),
      ]),
      ['left', 'left', ...Array(11).fill('right')],
    ),
  );
  const paired = s.pairedRooflineFraction;
  if (paired) {
    blocks.push(
      paragraph(
        `**The ${top.mag} training step reaches ${fmtPercent(paired.wall.median)} of the roofline** (${paired.gemm}), measured in ${paired.wall.samples.length} interleaved rounds of one GEMM and one step, so both see the same load (per round: min ${fmtPercent(paired.wall.min)}, max ${fmtPercent(paired.wall.max)}; per CPU-second of the process: ${fmtPercent(paired.cpu.median)}).`,
      ),
    );
  }
  if (rows.some((r) => r.loaderImagesPerSec !== null && r.loaderImagesPerSec !== undefined)) {
    blocks.push(
      paragraph(
        `Data loader (decode + paired augmentation + normalization, no GPU), images/s: ${rows.map((r) => `${r.mag} ${r.loaderImagesPerSec == null ? 'n/a' : fmtNum(r.loaderImagesPerSec)}`).join(', ')}. Where this is below the train images/s above, loading limits training.`,
      ),
    );
  }
  const magTicks = rows.map((r) => ({ x: r.inputPx, label: r.mag }));
  blocks.push(
    figure(
      'flops-vs-magnification.svg',
      lineChart(
        [
          { name: 'forward', points: rows.map((r) => ({ x: r.inputPx, y: r.forwardGflops })) },
          { name: 'distillation step', points: rows.map((r) => ({ x: r.inputPx, y: r.trainStepGflops })) },
        ],
        {
          title: 'Counted GFLOPs per tile vs magnification',
          xLabel: 'magnification (input pixels, log scale)',
          yLabel: 'GFLOPs per tile',
          xLog2: true,
          xTicks: magTicks,
        },
      ),
      "GFLOPs per tile from the layer shapes. The step includes the teacher forward at the top magnification, a fixed cost that does not shrink with the student's input.",
    ),
  );
  // Ideal scaling: the top magnification's rate held at every size (time proportional to FLOPs).
  const timeChart = (what: 'train' | 'infer') => {
    const gflops = (r: SpeedRow) => (what === 'train' ? r.trainStepGflops : r.forwardGflops) * s.batch;
    const ms = (r: SpeedRow) => (what === 'train' ? r.trainMs : r.inferMs);
    const msPerGflop = ms(top).median / gflops(top);
    const label = what === 'train' ? 'distillation step' : 'inference';
    return lineChart(
      [
        { name: 'measured', points: rows.map((r) => ({ x: gflops(r), y: ms(r).median, low: ms(r).min, high: ms(r).max })) },
        { name: `ideal (${top.mag} rate)`, dashed: true, points: rows.map((r) => ({ x: gflops(r), y: gflops(r) * msPerGflop })) },
      ],
      {
        title: `${label}: measured time vs counted FLOPs`,
        xLabel: 'GFLOPs per batch (log scale; points labelled by magnification)',
        yLabel: 'ms per batch',
        xLog2: true,
        xTicks: rows.map((r) => ({ x: gflops(r), label: r.mag })),
        yRange: [0, Math.max(...rows.map((r) => ms(r).max))],
      },
    );
  };
  blocks.push(
    figure(
      'train-time-vs-flops.svg',
      timeChart('train'),
      `Training step, one point per magnification (min-max bars). Dashed: time proportional to FLOPs at the ${top.mag} rate; where the measured line stays above it, smaller inputs stopped getting cheaper.`,
    ),
  );
  blocks.push(figure('infer-time-vs-flops.svg', timeChart('infer'), 'Inference (student forward), the same way.'));
  const overheadMs = s.dispatchOverheadUs !== undefined ? (s.dispatchOverheadUs * lowest.trainDispatches) / 1000 : null;
  blocks.push(heading(3, 'Why small inputs do not scale'));
  blocks.push(
    list([
      `Speed-up of the training step from ${top.mag} to ${lowest.mag}: ${fmtNum(lowest.trainSpeedup)}x measured against ${fmtNum(lowest.trainFlopRatio)}x fewer FLOPs; inference ${fmtNum(lowest.inferSpeedup)}x measured against ${fmtNum(lowest.inferFlopRatio)}x.`,
      `The teacher's forward pass at ${top.mag} is in every step, so the step's FLOP ratio is bounded however small the student's input gets; the inference ratio shows the student alone.`,
      `The step issues about the same number of dispatches at every size (${rows.map((r) => r.trainDispatches).join(', ')}).` +
        (overheadMs !== null
          ? ` One dispatch of a trivial kernel costs ${fmtNum(s.dispatchOverheadUs!)} us on this adapter (measured in the same run), so at ${lowest.mag} launch overhead alone is about ${fmtNum(overheadMs)} ms of the ${fmtNum(lowest.trainMs.median)} ms step (${fmtPercent(overheadMs / lowest.trainMs.median)}) and ${fmtNum((s.dispatchOverheadUs! * lowest.inferDispatches) / 1000)} ms of the ${fmtNum(lowest.inferMs.median)} ms inference pass (${lowest.inferDispatches} dispatches): a fixed cost per kernel that no FLOP count sees.`
          : ''),
      'Small maps also give tiny grids: a 1x1 or 2x2 stage-4 map is a handful of workgroups, too few to occupy the cores, so each kernel runs at a small fraction of the GEMM rate.',
      'What would close the gap: batch more tiles per step at low magnification (the same dispatches, more work in each); fewer dispatches per step by fusing the elementwise chains (norm + ReLU + residual add) and updating all parameters in one optimizer kernel instead of one per tensor; split-K or smaller tiles for the deep layers so small maps still fill the device; and less CPU work per dispatch (bind groups cached across steps instead of created per dispatch; WebGPU has no reusable compute command bundles, so recording cost per dispatch must be made small instead).',
    ]),
  );
  return blocks;
}

function profileBlocks(p: StepProfile): Block[] {
  const blocks: Block[] = [heading(2, 'One training step, per kernel')];
  blocks.push(
    paragraph(
      `Teacher input [${p.teacherInput.join(',')}], student input [${p.studentInput.join(',')}]. Clock: ${p.clock === 'timestamp-query' ? 'GPU timestamp queries, one compute pass per dispatch' : 'synchronized wall clock per phase (no timestamp-query on this adapter: per-kernel times unavailable)'}. Wall time ${fmtNum(p.wallMs)} ms${p.gpuBusyMs !== null ? `, GPU busy ${fmtNum(p.gpuBusyMs)} ms` : ''}, ${p.dispatches.length} dispatches.`,
    ),
  );
  blocks.push(
    table(
      ['phase', 'wall ms', 'GPU ms', 'dispatches'],
      p.phases.map((ph) => [ph.name, fmtNum(ph.wallMs), ph.gpuMs === null ? '-' : fmtNum(ph.gpuMs), String(ph.dispatches)]),
      ['left', 'right', 'right', 'right'],
    ),
  );
  if (p.clock === 'timestamp-query') {
    const ks = p.kernels.filter((k) => k.gpuMs !== null).slice(0, 14);
    blocks.push(
      figure(
        'kernel-breakdown.svg',
        barChart(
          ks.map((k) => ({ label: `${k.kernel} (x${k.dispatches})`, value: k.gpuMs!, note: `(${fmtPercent(k.share ?? NaN)})` })),
          'GPU time per kernel in one training step',
          'ms',
        ),
        'Summed GPU time per kernel over the step (number of dispatches in brackets), largest first.',
      ),
    );
    blocks.push(
      table(
        ['kernel', 'dispatches', 'GPU ms', 'share', 'GFLOP/s'],
        p.kernels.map((k) => [
          k.kernel,
          String(k.dispatches),
          k.gpuMs === null ? '-' : fmtNum(k.gpuMs),
          k.share === null ? '-' : fmtPercent(k.share),
          k.gflops === null ? '-' : fmtNum(k.gflops),
        ]),
        ['left', 'right', 'right', 'right', 'right'],
      ),
    );
  }
  return blocks;
}

/** The student's ops (forward and backward) in two profiles side by side: time, rate, dispatches. */
function scalingBlocks(hi: StepProfile, lo: StepProfile): Block[] {
  const key = (o: OpProfile) => `${o.phase}|${o.op}`;
  const low = new Map(lo.ops.map((o) => [key(o), o]));
  const rows = hi.ops.filter((o) => (o.phase === 'student forward' || o.phase === 'backward') && o.flops !== null && low.has(key(o)));
  const idle = (p: StepProfile) => (p.gpuBusyMs === null ? null : 1 - p.gpuBusyMs / p.wallMs);
  const size = (p: StepProfile) => p.studentInput.slice(2).join('x');
  const blocks: Block[] = [heading(3, `Where a small input's time goes: student at ${size(hi)} vs ${size(lo)}`)];
  const idleHi = idle(hi),
    idleLo = idle(lo);
  if (idleHi !== null && idleLo !== null) {
    blocks.push(
      paragraph(
        `GPU idle (waiting for the CPU to record and submit work) is ${fmtPercent(idleHi)} of the step's wall time with the student at ${size(hi)} and ${fmtPercent(idleLo)} at ${size(lo)}. Per op below: the FLOPs shrink with the input, the number of dispatches does not, and the rate (GFLOP/s) falls as the grids get small.`,
      ),
    );
  }
  blocks.push(
    table(
      [
        'phase',
        'op',
        'dispatches',
        `GPU ms ${size(hi)}`,
        `GPU ms ${size(lo)}`,
        'time ratio',
        'FLOP ratio',
        `GFLOP/s ${size(hi)}`,
        `GFLOP/s ${size(lo)}`,
      ],
      rows.map((o) => {
        const l = low.get(key(o))!;
        const ratio = (a: number | null, b: number | null) => (a !== null && b ? `${fmtNum(a / b)}x` : '-');
        return [
          o.phase,
          o.op,
          o.dispatches === l.dispatches ? String(o.dispatches) : `${o.dispatches} / ${l.dispatches}`,
          o.gpuMs === null ? '-' : fmtNum(o.gpuMs),
          l.gpuMs === null ? '-' : fmtNum(l.gpuMs),
          ratio(o.gpuMs, l.gpuMs),
          ratio(o.flops, l.flops),
          o.gflops === null ? '-' : fmtNum(o.gflops),
          l.gflops === null ? '-' : fmtNum(l.gflops),
        ];
      }),
      ['left', 'left', ...Array(7).fill('right')],
    ),
  );
  return blocks;
}

/** Write DIR/bench-report.md, DIR/bench-report.html and the figures; returns the paths. */
export function writeBenchReport(dir: string, inputs: ReportInputs): string[] {
  if (!inputs.speed && !inputs.profile)
    throw new Error('writeBenchReport: nothing to report; give a bench speed JSON and/or a profile JSON');
  const blocks: Block[] = [heading(1, 'rbd benchmark report')];
  const s = inputs.speed;
  if (s)
    blocks.push(
      paragraph(
        `Run ${s.date ?? ''} at commit \`${s.git?.commit?.slice(0, 12) ?? 'unknown'}\`${s.git?.dirty ? ' (with uncommitted changes)' : ''}: \`${s.commandLine ?? ''}\`.`,
      ),
    );
  if (s) blocks.push(...speedBlocks(s));
  if (inputs.profile) blocks.push(...profileBlocks(inputs.profile));
  if (inputs.profile && inputs.profileLow) blocks.push(...scalingBlocks(inputs.profile, inputs.profileLow));
  writeDocument(dir, 'bench-report', 'rbd benchmark report', blocks);
  const figures = blocks.filter((b): b is Extract<Block, { kind: 'figure' }> => b.kind === 'figure').map((b) => join(dir, b.file));
  return [join(dir, 'bench-report.md'), join(dir, 'bench-report.html'), ...figures];
}
