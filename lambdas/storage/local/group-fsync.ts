// Group fsync: callers that ask for durability while a flush is already running share the next one,
// so N concurrent writers cost about two fsyncs instead of N. Runs on libuv's thread pool, never
// blocking the event loop.
import { open, type FileHandle } from 'node:fs/promises';

export class GroupFsync {
  private handle: FileHandle | undefined;
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly path: string) {}

  /** Resolves once everything written to the file (or directory) before the call is on disk. */
  sync(): Promise<void> {
    if (this.next) return this.next; // starts after the running flush, so it covers this caller's writes
    if (!this.current) return (this.current = this.run());
    this.next = this.current.catch(() => undefined).then(() => {
      this.next = undefined;
      return (this.current = this.run());
    });
    return this.next;
  }

  private async run(): Promise<void> {
    try {
      this.handle ??= await open(this.path, 'r');
      await this.handle.sync();
    } finally {
      this.current = undefined;
    }
  }

  async close(): Promise<void> {
    await this.current?.catch(() => undefined);
    await this.handle?.close();
    this.handle = undefined;
  }
}
