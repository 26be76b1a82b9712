// Group commit's gathering half: what is asked within one turn of the event loop is handed over
// together at the next, so that it can share one transaction and one fsync.
export class TurnBatch<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(private readonly flush: (batch: T[]) => void) {}

  add(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.items;
      this.items = [];
      this.flush(batch);
    });
  }
}
