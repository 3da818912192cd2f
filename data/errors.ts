/** The one error type of data/: bad flags, bad folders, unreadable images. Messages name the thing and the remedy. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}
