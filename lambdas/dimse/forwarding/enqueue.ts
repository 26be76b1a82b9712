// Turning an archive event into forwarding jobs: one per destination whose rule matches. Kept apart from
// the sending worker (and its DIMSE library) so that any consumer of archive events can queue forwards:
// the local forwarder, the streaming task, and on AWS the function that consumes the events queue.
import type { ArchiveEvent, WorkQueue } from '../../storage/ports.js';
import type { ForwardRule } from '../settings.js';
import { destinationsFor } from './rules.js';

export const FORWARD_QUEUE = 'dimse-forward';

export interface ForwardJob {
  destination: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
}

/** Queues the instance of an InstanceStored event for every destination whose rule it matches (deduplicated by event). */
export async function queueForwards(rules: readonly ForwardRule[], queue: WorkQueue<ForwardJob>, event: ArchiveEvent): Promise<void> {
  if (event.type !== 'InstanceStored') return;
  for (const destination of destinationsFor(rules, event)) {
    const job: ForwardJob = { destination: destination.aeTitle, studyInstanceUID: event.studyInstanceUID, seriesInstanceUID: event.seriesInstanceUID, sopInstanceUID: event.sopInstanceUID };
    await queue.send(FORWARD_QUEUE, `${destination.aeTitle}/${event.sopInstanceUID}/${event.at}`, job);
  }
}
