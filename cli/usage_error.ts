/** A mistake in how rbd was called: rbd prints it and exits with code 2 (cli/rbd.ts). */
export class UsageError extends Error {
  constructor(command: string, detail: string) {
    super(command ? `rbd ${command}: ${detail}. See 'rbd ${command} --help'.` : `rbd: ${detail}. See 'rbd --help'.`);
    this.name = 'UsageError';
  }
}
