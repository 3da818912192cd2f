/**
 * Progress on stderr for long work: a counted bar (generation, training, evaluation) and an
 * uncounted status line (benchmark steps), drawn by the same rules. The only progress display
 * in the project.
 *
 *   const bar = progress({ label: 'synth', total: 700, unit: 'tiles' });
 *   bar.tick();              // one more item done (or bar.tick(n), or bar.update(done))
 *   bar.note('epoch 3 ...')  // print a line above the bar without garbling it
 *   bar.done();              // final line: count, elapsed time, mean rate
 *
 * On a terminal (stderr is a TTY) the bar redraws in place at most 10 times a second:
 *   synth [#########-----------]  312/700 tiles  52.1 tiles/s  ETA 7s
 * Elsewhere (CI logs, files) it prints a plain line each time another 10% is done, but no
 * more often than every 5 s, so logs stay short. The rate is the mean since the start;
 * ETA = remaining / rate. `total` may be unknown (0): then there is no bar and no ETA.
 *
 *   status('10x: warm-up 1 of 2');   // one status line, replaced by the next one
 *   status('');                      // clear it
 * On a terminal the status line is redrawn in place; elsewhere each non-empty one is a line.
 */
import { stderrIsTerminal } from './env.ts';

export interface ProgressOptions {
  label: string;
  total: number;
  /** Name of the items, plural (default 'items'). */
  unit?: string;
  /** Where to draw (default process.stderr). */
  stream?: NodeJS.WriteStream;
  /** Force TTY or plain mode (default: the stream's isTTY). */
  tty?: boolean;
}

export interface Progress {
  tick(n?: number): void;
  update(done: number): void;
  /** Change the total (e.g. when it becomes known). */
  setTotal(total: number): void;
  note(line: string): void;
  /** Print the final line; returns elapsed seconds and the mean rate. */
  done(): { seconds: number; rate: number };
}

const BAR_WIDTH = 20;
const TTY_INTERVAL_MS = 100;
const PLAIN_INTERVAL_MS = 5000;

export function progress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? isTerminal(stream);
  const unit = opts.unit ?? 'items';
  let total = opts.total;
  let done = 0;
  const started = performance.now();
  let lastDraw = -Infinity;
  let lastPlainTenth = 0;
  let drawn = false;
  let finished = false;

  const elapsed = () => (performance.now() - started) / 1000;

  function line(): string {
    const secs = elapsed();
    const rate = secs > 0 ? done / secs : 0;
    const parts = [opts.label];
    if (total > 0) {
      const filled = Math.min(BAR_WIDTH, Math.round((done / total) * BAR_WIDTH));
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`);
      parts.push(`${String(done).padStart(String(total).length)}/${total} ${unit}`);
    } else {
      parts.push(`${done} ${unit}`);
    }
    parts.push(`${formatRate(rate)} ${unit}/s`);
    if (total > 0 && rate > 0 && done < total) parts.push(`ETA ${formatDuration((total - done) / rate)}`);
    return parts.join('  ');
  }

  function draw(force = false) {
    const now = performance.now();
    if (tty) {
      if (!force && now - lastDraw < TTY_INTERVAL_MS) return;
      stream.write(`\r\x1b[2K${line()}`);
      drawn = true;
    } else {
      const tenth = total > 0 ? Math.floor((done / total) * 10) : 0;
      if (!force && (tenth <= lastPlainTenth || now - lastDraw < PLAIN_INTERVAL_MS)) return;
      lastPlainTenth = tenth;
      stream.write(`${line()}\n`);
    }
    lastDraw = now;
  }

  return {
    tick(n = 1) {
      done += n;
      draw();
    },
    update(value: number) {
      done = value;
      draw();
    },
    setTotal(value: number) {
      total = value;
      draw();
    },
    note(text: string) {
      if (tty && drawn) stream.write('\r\x1b[2K');
      stream.write(`${text}\n`);
      if (tty && drawn) draw(true);
    },
    done() {
      const seconds = elapsed();
      const rate = seconds > 0 ? done / seconds : 0;
      if (!finished) {
        finished = true;
        const summary = `${opts.label}  ${done} ${unit} in ${formatDuration(seconds)}  (${formatRate(rate)} ${unit}/s)`;
        stream.write(tty ? `\r\x1b[2K${summary}\n` : `${summary}\n`);
      }
      return { seconds, rate };
    },
  };
}

/**
 * Whether a stream is a terminal. rbd runs its work in a child process whose stderr is a pipe
 * to the parent (cli/rbd.ts filters Dawn's notices out of it); the parent says through the
 * environment whether that stderr ends at a terminal.
 */
function isTerminal(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) || (stream === process.stderr && stderrIsTerminal());
}

let statusLength = 0;

/** A one-line status on stderr, replacing the previous one ('' clears it). */
export function status(text: string, stream: NodeJS.WriteStream = process.stderr) {
  if (!isTerminal(stream)) {
    if (text) stream.write(text + '\n');
    return;
  }
  if (text || statusLength) stream.write(`\r\x1b[2K${text}`);
  statusLength = text.length;
}

/** 3 significant figures, at least (0.0312, 5.21, 52.1, 521, 5210). */
export function formatRate(rate: number): string {
  if (rate >= 100) return rate.toFixed(0);
  return rate.toPrecision(3);
}

/** 42s, 3m05s, 1h02m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
