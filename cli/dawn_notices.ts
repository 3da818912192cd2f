/**
 * Dawn's limit notices, kept off the user's terminal.
 *
 * When Dawn (npm `webgpu`) discovers an adapter it clamps two of the adapter's limits and says so
 * on stderr, once per adapter and backend, e.g.
 *   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.
 * It writes them from C++ (fprintf to file descriptor 2) while it builds the adapter list, before
 * any adapter or device exists, and offers no switch: no toggle or requested limit changes it,
 * and Node cannot redirect its own descriptor 2. The limits concerned (dynamic buffer offsets)
 * are ones the engine never uses. So rbd runs each command in a child process whose stderr is a
 * pipe, and the parent passes every line on except these (cli/rbd.ts); `npm test` does the same
 * for its test processes. RBD_DEBUG=dawn lets them through.
 */

/** One of Dawn's limit notices, as a whole line. */
export const DAWN_NOTICE = /^Warning: maxDynamic\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;

const PREFIX = 'Warning: maxDynamic';

/**
 * A stream filter that drops Dawn's notice lines and passes everything else through at once:
 * text is held back only while the current line could still become a notice, so a progress bar
 * redrawn in place with '\r' (no newline) is not delayed.
 */
export class DawnNoticeFilter {
  private pending = '';

  constructor(private readonly out: (text: string) => void) {}

  write(chunk: string) {
    let text = this.pending + chunk;
    this.pending = '';
    let emit = '';
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0) break;
      const line = text.slice(0, nl);
      if (!DAWN_NOTICE.test(line)) emit += line + '\n';
      text = text.slice(nl + 1);
    }
    // The unfinished line: held while it may still be a notice, passed on as soon as it cannot.
    if (text && (PREFIX.startsWith(text) || text.startsWith(PREFIX))) this.pending = text;
    else emit += text;
    if (emit) this.out(emit);
  }

  /** The end of the stream: an unfinished line is passed on unless it is a whole notice. */
  end() {
    if (this.pending && !DAWN_NOTICE.test(this.pending)) this.out(this.pending);
    this.pending = '';
  }
}
