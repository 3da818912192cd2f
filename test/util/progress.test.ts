/** The shared progress bar (util/progress.ts): plain lines for logs, in-place redraws on a TTY, notes, the final summary. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { progress, formatDuration, formatRate } from '../../util/progress.ts';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, write: (s: string) => writes.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

test('plain mode (not a TTY): one line at the first tenth, then none within 5 s, then the summary', () => {
  const { stream, writes } = fakeStream(false);
  const bar = progress({ label: 'synth', total: 50, unit: 'tiles', stream });
  for (let i = 0; i < 50; i++) bar.tick();
  const { rate } = bar.done();
  assert.is(writes.length, 2, writes.join(''));
  assert.match(writes[0], /^synth {2}\[##-{18}\] {2} 5\/50 tiles {2}[\d.]+ tiles\/s {2}ETA \d+s\n$/);
  assert.match(writes[1], /^synth {2}50 tiles in \d+s {2}\([\d.]+ tiles\/s\)\n$/);
  assert.ok(rate > 0);
  assert.not.match(writes.join(''), /\r|\x1b/, 'no terminal control codes in logs');
  bar.done();
  assert.is(writes.length, 2, 'done() prints its summary once');
});

test('TTY mode: redraws in place, a note goes above the bar and the bar comes back; unknown total shows a count', () => {
  const { stream, writes } = fakeStream(true);
  const bar = progress({ label: 'train', total: 0, stream });
  bar.tick(3);
  assert.match(writes[0], /^\r\x1b\[2Ktrain {2}3 items {2}[\d.]+ items\/s$/);
  bar.note('epoch 1: loss 0.5');
  assert.equal(writes.slice(1), ['\r\x1b[2K', 'epoch 1: loss 0.5\n', writes[3]]);
  assert.match(writes[3], /^\r\x1b\[2Ktrain {2}3 items/);
  bar.setTotal(10);
  bar.done();
  assert.match(writes[writes.length - 1], /^\r\x1b\[2Ktrain {2}3 items in \d+s/);
});

test('formatting: durations as 42s / 3m05s / 1h02m, rates with 3 significant figures', () => {
  assert.is(formatDuration(42.4), '42s');
  assert.is(formatDuration(3 * 60 + 5), '3m05s');
  assert.is(formatDuration(3600 + 2 * 60 + 10), '1h02m');
  assert.is(formatDuration(Infinity), '?');
  assert.is(formatRate(0.031234), '0.0312');
  assert.is(formatRate(52.14), '52.1');
  assert.is(formatRate(5210.4), '5210');
});

test.run();
