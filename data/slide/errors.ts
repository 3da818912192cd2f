/**
 * Errors about one slide file. `kind` says what is wrong, so `rbd tile --skip-bad` can count
 * warnings by kind; the message names the file and what to do.
 */
import { DataError } from '../errors.ts';

export type SlideErrorKind = 'unreadable' | 'not-slide' | 'truncated' | 'corrupt' | 'compression' | 'resolution' | 'too-coarse';

export class SlideError extends DataError {
  constructor(
    readonly file: string,
    readonly kind: SlideErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'SlideError';
  }
}
