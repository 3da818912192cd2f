/**
 * The training commands end to end on a tiny synthetic data set generated here: teacher
 * training drives the loss down, `rbd distill` runs end to end and records what it did,
 * `rbd eval` writes consistent metrics, `--resume` reproduces an uninterrupted run bit for bit,
 * and bad flags fail before any training with messages that name the problem.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, cpSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpu, assertClose } from '../helpers/gpu.ts';
import { synthesize } from '../../data/synth/synthesize.ts';
import { readSafetensors } from '../../models/safetensors.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { ResNet } from '../../models/resnet.ts';
import { presetArch } from '../../models/arch.ts';
import { readJson, readJsonl } from '../../util/files.ts';
import { trainSupervised } from '../../train/supervised.ts';
import { trainDistill } from '../../train/distill.ts';
import { DEFAULT_DISTILL_LOSS } from '../../train/distill_loss.ts';
import { evaluateCheckpoint, formatEval, type EvalResult } from '../../train/evaluate.ts';
import { COMMON_DEFAULTS, trainingLoader, trainingSamples } from '../../train/common.ts';
import { openDataSource } from '../../data/loader.ts';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'rbd-train-'));
const data = join(tmp, 'data');
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.before(async () => {
  await gpu();
  // 3 classes x (8 train, 4 val, 4 test) + 8 unlabeled; 16 px at 10x -> 8 px at 5x -> 4 px at 2.5x.
  await synthesize({
    out: data,
    seed: 3,
    train: 8,
    val: 4,
    test: 4,
    unlabeled: 8,
    tile: 16,
    mags: ['10x', '5x', '2.5x'],
    classes: 'cd',
    workers: 0,
  });
});

/** Run the CLI in a child process (several may run at once). */
function rbd(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/rbd.ts'), ...args], { cwd: root, env: { ...process.env } });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const teacherDir = join(tmp, 'teacher');

test('teacher training drives the loss down on a tiny synthetic set (no augmentation, 8 epochs)', async () => {
  const s = await trainSupervised({
    ...COMMON_DEFAULTS,
    data,
    out: teacherDir,
    epochs: 8,
    batch: 12,
    accum: 1,
    lr: 3e-3,
    augment: false,
    verbose: false,
    role: 'teacher',
    mag: '',
    allowUpsampled: false,
  });
  assert.is(s.mag, '10x', 'the teacher defaults to the top magnification');
  const losses = s.records.map((r) => r.loss);
  // Fitting 24 fixed images with Adam: the mean training loss of the last epoch must be well
  // below the first epoch's (which starts near ln 3 = 1.10 for an untrained 3-class net).
  assert.ok(losses[7] < 0.7 * losses[0], `loss did not go down enough: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  for (const f of ['model.safetensors', 'best.safetensors', 'resume.safetensors', 'log.jsonl', 'config.json'])
    assert.ok(existsSync(join(teacherDir, f)), `${f} missing`);
  assert.is(readJsonl(join(teacherDir, 'log.jsonl')).length, 8);
});

test('rbd distill end to end on a tiny data set; config records resolution and unlabeled use', async () => {
  const out = join(tmp, 'kd');
  const r = await rbd(
    'distill',
    '--teacher',
    join(teacherDir, 'best.safetensors'),
    '--data',
    data,
    '--mag',
    '5x',
    '--out',
    out,
    '--epochs',
    '2',
    '--batch',
    '8',
    '--unlabeled',
    '5',
    '--quiet',
  );
  // How long it takes is a benchmark's question (rbd bench speed), not this test's.
  assert.is(r.code, 0, r.err);
  assert.match(r.out, 'kd+unlabeled at 5x: input 8x8 px, 2 um/px');
  const config = readJson<{
    resolution: { inputSize: number; micronsPerPixel: number };
    unlabeledCount: number;
    teacherMag: string;
    trainImages: number;
  }>(join(out, 'config.json'));
  assert.equal(
    [config.resolution.inputSize, config.resolution.micronsPerPixel, config.unlabeledCount, config.teacherMag, config.trainImages],
    [8, 2, 5, '10x', 24],
  );
  const log = readJsonl<{ parts: { soft: number; pixel: number } }>(join(out, 'log.jsonl'));
  assert.is(log.length, 2);
  assert.ok(
    log.every((e) => e.parts.soft >= 0 && e.parts.pixel >= 0),
    'soft and pixel losses are logged',
  );
  // The student checkpoint records its own magnification, so rbd eval picks 5x by itself.
  const meta = readSafetensors(join(out, 'best.safetensors')).metadata;
  assert.is(JSON.parse(meta.magnification), 5);
  // The GEMM precision (default f32) is recorded in config.json and in the checkpoint's run metadata.
  assert.is(readJson<{ precision: string }>(join(out, 'config.json')).precision, 'f32');
  assert.is(JSON.parse(meta.training).precision, 'f32');
});

test('distill --cache-teacher, with and without augmentation, gives the losses of recomputing the teacher every step', async () => {
  for (const augment of [false, true]) {
    const run = (cacheTeacher: boolean) =>
      trainDistill({
        ...COMMON_DEFAULTS,
        ...DEFAULT_DISTILL_LOSS,
        data,
        out: join(tmp, `cache-${augment}-${cacheTeacher}`),
        epochs: 3,
        batch: 8,
        augment,
        augmentSet: augment ? 16 : undefined,
        verbose: false,
        teacher: join(teacherDir, 'best.safetensors'),
        mag: '5x',
        unlabeled: 0,
        limit: 12,
        cacheTeacher,
        allowUpsampled: false,
      });
    const fresh = await run(false);
    const cached = await run(true);
    // Same batches and augmentations, same teacher outputs (GroupNorm makes each tile's outputs
    // independent of its batch-mates), so the per-epoch mean losses agree to float32 rounding of the sums.
    assertClose(
      `epoch losses, cached vs recomputed teacher (augment ${augment})`,
      cached.records.map((r) => r.loss),
      fresh.records.map((r) => r.loss),
      { atol: 1e-6, rtol: 1e-5 },
    );
    // The teacher ran once per distinct (tile, augmentation) and never for a repeat.
    // Count the distinct (tile, augmentation id) pairs of the 3 planned epochs independently.
    const source = await openDataSource(data, { warn: () => {} });
    const loader = trainingLoader(
      source,
      trainingSamples(source, 12, COMMON_DEFAULTS.seed),
      ['10x', '5x'],
      { ...COMMON_DEFAULTS, batch: 8, augment },
      augment ? 16 : undefined,
    );
    const distinct = new Set(
      [0, 1, 2].flatMap((e) => loader.plan(e).flatMap((b) => b.refs.map((r, k) => `${r.key}-${b.augmentIds?.[k] ?? 0}`))),
    );
    const st = cached.teacherCache!;
    assert.is(st.computed + st.hits, 3 * 12, 'every tile of every epoch was served by the cache');
    assert.is(st.computed, distinct.size, 'one teacher pass per distinct (tile, augmentation), none for a repeat');
    if (!augment) assert.is(st.computed, 12);
    assert.match(readJson<{ teacherCache: string }>(join(tmp, `cache-${augment}-true`, 'config.json')).teacherCache, /^used/);
    assert.match(readJson<{ teacherCache: string }>(join(tmp, `cache-${augment}-false`, 'config.json')).teacherCache, /^not used/);
  }
});

test('eval: metrics per split, eval.json and plots; accuracy agrees with the confusion matrix', async () => {
  const out = join(tmp, 'eval');
  const r = await evaluateCheckpoint({
    checkpoint: join(teacherDir, 'best.safetensors'),
    data,
    splits: ['val', 'test'],
    mag: '',
    batch: 8,
    resamples: 1000,
    seed: 0,
    out,
    allowUpsampled: false,
    skipBad: false,
  });
  assert.match(formatEval(r), /test\s+12\s/);
  const e = readJson<EvalResult>(join(out, 'eval.json'));
  assert.is(e.mag, '10x');
  for (const split of ['val', 'test']) {
    const s = e.splits[split];
    assert.is(s.count, 12);
    assert.is(s.accuracy, s.confusion.reduce((acc, row, i) => acc + row[i], 0) / 12);
    assert.ok(s.accuracyCI[0] <= s.accuracy && s.accuracy <= s.accuracyCI[1]);
    assert.is(s.perClassAuc.length, 3);
    for (const f of [`roc-${split}.svg`, `confusion-${split}.svg`]) assert.ok(existsSync(join(out, f)), `${f} missing`);
  }
});

test('resume: 1 epoch, then --resume to 2, gives the same weights as 2 epochs at once (augmented, accum 2, gamma 0.5)', async () => {
  const opts = (out: string, epochs: number, resume: boolean) => ({
    ...COMMON_DEFAULTS,
    data,
    out,
    epochs,
    batch: 8,
    accum: 2,
    gamma: 0.5,
    seed: 5,
    resume,
    verbose: false,
    role: 'baseline' as const,
    mag: '5x',
    allowUpsampled: false,
  });
  await trainSupervised(opts(join(tmp, 'straight'), 2, false));
  await trainSupervised(opts(join(tmp, 'resumed'), 1, false));
  const rest = await trainSupervised(opts(join(tmp, 'resumed'), 2, true));
  assert.equal(
    rest.records.map((r) => r.epoch),
    [1],
  );
  assert.is(rest.records[0].lr, COMMON_DEFAULTS.lr * 0.5, 'the resumed epoch uses the decayed learning rate');
  const a = readSafetensors(join(tmp, 'straight', 'model.safetensors')).tensors;
  const b = readSafetensors(join(tmp, 'resumed', 'model.safetensors')).tensors;
  assert.equal([...a.keys()], [...b.keys()]);
  for (const [name, t] of a) assert.ok(Buffer.from(t.raw).equals(Buffer.from(b.get(name)!.raw)), `${name} differs after resume`);
  assert.equal(
    readJsonl<{ epoch: number }>(join(tmp, 'resumed', 'log.jsonl')).map((r) => r.epoch),
    [0, 1],
  );
});

test('bad flags fail before training, with messages that name the problem (CLI parsing)', async () => {
  const teacher = join(teacherDir, 'best.safetensors');
  const cases: [string[], RegExp][] = [
    [['distill', '--teacher', teacher, '--data', data, '--mag', 'five'], /--mag 'five' is not a magnification/],
    [['distill', '--data', data], /--teacher CKPT is required/],
    [['teacher', '--data', data, '--epochs', '0'], /--epochs must be a whole number >= 1, got '0'/],
    [
      ['distill', '--teacher', teacher, '--data', data, '--resize', 'nearest'],
      /--resize must be one of maxpool, bicubic, maxpool\+bicubic/,
    ],
    [['teacher', '--data', data, '--bogus'], /Unknown option '--bogus'/],
    [
      ['distill', '--teacher', join(tmp, 'nope.safetensors'), '--data', data, '--mag', '3x'],
      /unknown magnification '3x'.*has 10x, 5x, 2.5x/,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => rbd(...args, '--out', join(tmp, 'bad-run'), '--quiet')));
  results.forEach((r, i) => {
    const args = cases[i][0].join(' ');
    assert.is.not(r.code, 0, `rbd ${args} should fail`);
    assert.match(r.err, cases[i][1], `rbd ${args}: got ${r.err}`);
  });
  assert.not.ok(existsSync(join(tmp, 'bad-run', 'log.jsonl')), 'a bad command started training');
});

test('honest resolution: a 5x folder holding upsampled (10x-sized) tiles is refused unless --allow-upsampled', async () => {
  // Real-data layout without a manifest, where someone put the 16 px 10x tiles under 5x too.
  const up = join(tmp, 'upsampled');
  cpSync(join(data, '10x'), join(up, '10x'), { recursive: true });
  cpSync(join(data, '10x'), join(up, '5x'), { recursive: true });
  process.env.RBD_CACHE = join(tmp, 'cache'); // channel statistics of manifest-less data are cached here
  const opts = {
    ...COMMON_DEFAULTS,
    data: up,
    out: join(tmp, 'up-run'),
    epochs: 1,
    limit: 6,
    batch: 6,
    verbose: false,
    role: 'baseline' as const,
    mag: '5x',
  };
  let message = '';
  try {
    await trainSupervised({ ...opts, allowUpsampled: false });
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /images at 5x are 16 px, but a 16 px tile at 10x is 8 px at 5x: they were upsampled/);
  assert.match(message, /--allow-upsampled/);
  const s = await trainSupervised({ ...opts, allowUpsampled: true });
  // What the network received is recorded as it was: 16 px at 5x's nominal 2 um/px.
  assert.equal([s.resolution.inputSize, s.resolution.micronsPerPixel], [16, 2]);
});

test('an unreadable image: every data command names it and --skip-bad; with --skip-bad it is skipped with one warning', async () => {
  const bad = join(tmp, 'with-corrupt');
  cpSync(data, bad, { recursive: true });
  // Half a PNG among the validation images at the teacher's magnification (read by teacher, eval and distill).
  writeFileSync(join(bad, '10x/val/normal/corrupt.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  const teacher = join(teacherDir, 'best.safetensors');
  const commands = [
    ['teacher', '--data', bad, '--epochs', '1', '--limit', '6', '--out', join(tmp, 'skip-teacher'), '--quiet'],
    ['eval', '--checkpoint', teacher, '--data', bad, '--split', 'val', '--out', join(tmp, 'skip-eval')],
  ];
  for (const args of commands) {
    const strict = await rbd(...args);
    assert.is(strict.code, 1, `rbd ${args[0]} without --skip-bad`);
    assert.match(strict.err, /corrupt\.png.*--skip-bad/s, `rbd ${args[0]}: ${strict.err}`);
    const lenient = await rbd(...args, '--skip-bad');
    assert.is(lenient.code, 0, `rbd ${args[0]} --skip-bad: ${lenient.err}`);
    const warnings = lenient.err.split('\n').filter((l) => /skipped unreadable image/.test(l));
    assert.is(warnings.length, 1, `rbd ${args[0]}: one warning per bad file, got ${warnings.length}`);
    assert.match(warnings[0], /10x\/val\/normal\/corrupt\.png/);
  }
});

test('bad settings fail before training: unknown magnification, missing teacher, teacher with other classes', async () => {
  const teacher = join(teacherDir, 'best.safetensors');
  const out = join(tmp, 'bad-inprocess');
  const base = { ...COMMON_DEFAULTS, data, out, epochs: 1, verbose: false, allowUpsampled: false };
  const distill = (over: Record<string, unknown>) =>
    trainDistill({ ...base, ...DEFAULT_DISTILL_LOSS, teacher, mag: '5x', unlabeled: 0, cacheTeacher: false, ...over });
  // A teacher trained on other classes: 5 classes (the LUAD set), and one with 3 differently named classes.
  const luad = new ResNet(presetArch('rbd', { numClasses: 5 }), 0);
  await saveCheckpoint(join(tmp, 'luad-teacher.safetensors'), luad, {
    classNames: ['acinar', 'lepidic', 'micropapillary', 'papillary', 'solid'],
    magnification: 10,
  });
  luad.dispose();
  const renamed = new ResNet(presetArch('rbd', { numClasses: 3 }), 0);
  await saveCheckpoint(join(tmp, 'renamed-teacher.safetensors'), renamed, { classNames: ['a', 'b', 'c'], magnification: 10 });
  renamed.dispose();
  const cases: [() => Promise<unknown>, RegExp][] = [
    [() => distill({ mag: '3x' }), /unknown magnification '3x'.*has 10x, 5x, 2.5x/],
    [() => trainSupervised({ ...base, role: 'baseline', mag: '40x' }), /unknown magnification '40x'/],
    [() => distill({ teacher: join(tmp, 'nope.safetensors') }), /teacher checkpoint .*nope\.safetensors does not exist; train one first/],
    [() => distill({ mag: '10x' }), /student magnification 10x must be below the teacher's 10x/],
    [() => distill({ data: join(tmp, 'no-such-data') }), /does not exist; generate one with 'rbd synth/],
    [
      () => distill({ teacher: join(tmp, 'luad-teacher.safetensors') }),
      /trained on classes \[acinar, lepidic, micropapillary, papillary, solid\] but the data .* has \[abnormal, normal, sprue\]/,
    ],
    [() => distill({ teacher: join(tmp, 'renamed-teacher.safetensors') }), /trained on classes \[a, b, c\] but the data/],
  ];
  for (const [call, pattern] of cases) {
    let message = '';
    try {
      await call();
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, pattern, `expected ${pattern}, got '${message}'`);
    assert.not.ok(existsSync(join(out, 'log.jsonl')), `${pattern}: training started`);
  }
});

test.run();
