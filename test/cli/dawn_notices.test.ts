/**
 * The stderr filter for Dawn's limit notices (cli/dawn_notices.ts): notices vanish however the
 * pipe splits them into chunks; everything else passes, and a progress bar redrawn with '\r'
 * (no newline) is passed on at once, not held until a newline that never comes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DawnNoticeFilter, DAWN_NOTICE } from '../../cli/dawn_notices.ts';

const U =
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
const S = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.';

function run(chunks: string[]): { out: string; writes: string[] } {
  const writes: string[] = [];
  const f = new DawnNoticeFilter((t) => writes.push(t));
  for (const c of chunks) f.write(c);
  f.end();
  return { out: writes.join(''), writes };
}

test('whole notices vanish; other lines, other warnings and an error stay, in order', () => {
  const text = `${U}\nrbd: no data\n${S}\nWarning: something else from Dawn\n${U}\n`;
  assert.is(run([text]).out, 'rbd: no data\nWarning: something else from Dawn\n');
  assert.ok(DAWN_NOTICE.test(U) && DAWN_NOTICE.test(S) && !DAWN_NOTICE.test('Warning: maxDynamicX artificially reduced'));
});

test('split at every position into two chunks, the result is the same', () => {
  const text = `a\n${U}\nb\n${S}\n`;
  for (let i = 0; i <= text.length; i++) assert.is(run([text.slice(0, i), text.slice(i)]).out, 'a\nb\n', `split at ${i}`);
  const byChar = run([...text]);
  assert.is(byChar.out, 'a\nb\n');
});

test('a progress redraw without newline passes at once; a held prefix that turns out not to be a notice passes whole', () => {
  const writes: string[] = [];
  const f = new DawnNoticeFilter((t) => writes.push(t));
  f.write('\r\x1b[2Ksynth [##--] 2/4');
  assert.equal(writes, ['\r\x1b[2Ksynth [##--] 2/4'], 'not held back');
  f.write('\nWarn');
  assert.equal(writes.slice(1), ['\n'], 'a possible notice is held');
  f.write('ing: maxDynamicFoo went wrong\n');
  assert.is(writes.slice(2).join(''), 'Warning: maxDynamicFoo went wrong\n', 'not a notice after all: passed on whole');
  f.write('Warning: maxDyn');
  f.end();
  assert.is(writes.slice(3).join(''), 'Warning: maxDyn', 'the end of the stream flushes what is held');
});

test.run();
