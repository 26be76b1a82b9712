// EventPublisher for local mode: subscribers in the same process (the AI pipeline under `npm start`).
import type { ArchiveEvent, EventPublisher } from '../ports.js';

export type EventListener = (event: ArchiveEvent) => void | Promise<void>;

export class InProcessEvents implements EventPublisher {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async publish(events: ArchiveEvent[]): Promise<void> {
    // Delivered after the current request finishes, so a slow consumer never delays a store.
    for (const event of events) {
      for (const listener of this.listeners) {
        setImmediate(() => {
          Promise.resolve()
            .then(() => listener(event))
            .catch((e: unknown) => console.error(JSON.stringify({ level: 'error', message: 'event listener failed', event: event.type, error: String(e) })));
        });
      }
    }
  }
}
