// A process-wide budget of bytes for work that holds whole decompressed instances in memory at once
// (transcoding an instance): such work waits until its bytes fit beside what is already running, so that
// a few concurrent requests for large instances cannot add up past the server's memory. Work larger than
// the whole budget runs alone. Waiting work starts in arrival order.

export class MemoryBudget {
  private inUse = 0;
  private readonly waiting: Array<{ bytes: number; start: () => void }> = [];

  constructor(readonly totalBytes: number) {}

  /** Runs `work` once `bytes` fit in the budget, and gives them back when it settles. */
  async run<T>(bytes: number, work: () => Promise<T>): Promise<T> {
    const claim = Math.min(bytes, this.totalBytes);
    if (this.waiting.length || this.inUse + claim > this.totalBytes) await new Promise<void>((start) => this.waiting.push({ bytes: claim, start }));
    else this.inUse += claim;
    try {
      return await work();
    } finally {
      this.inUse -= claim;
      this.startWaiting();
    }
  }

  private startWaiting(): void {
    while (this.waiting.length && this.inUse + this.waiting[0].bytes <= this.totalBytes) {
      const next = this.waiting.shift()!;
      this.inUse += next.bytes;
      next.start();
    }
  }
}
