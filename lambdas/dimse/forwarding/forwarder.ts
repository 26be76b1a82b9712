// Forwarding: each stored instance a rule matches becomes a job in a durable work queue (SQLite locally,
// SQS on AWS); a worker sends the jobs with C-STORE, a destination's jobs over one association, and
// leaves a job that keeps failing in the queue's dead-letter list (the API shows it).
import type { DicomWebConfig } from '../../dicomweb/config.js';
import type { StructuredLog } from '../../logging.js';
import type { ArchiveEvent, ArchiveStorage, QueuedMessage, StoredInstance, WorkQueue } from '../../storage/ports.js';
import { contextsFor } from '../move-scu.js';
import { subOperationData, subOperationResult } from '../retrieve-scp.js';
import { AssociationRefused, ScuAssociation } from '../scu-association.js';
import type { DimseSettings } from '../settings.js';
import { FORWARD_QUEUE, queueForwards, type ForwardJob } from './enqueue.js';

export { FORWARD_QUEUE, type ForwardJob } from './enqueue.js';

/** Jobs taken from the queue at once (sent over one association per destination). */
const BATCH = 32;

export class Forwarder {
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly storage: ArchiveStorage,
    private readonly config: DicomWebConfig,
    private readonly settings: DimseSettings,
    private readonly queue: WorkQueue<ForwardJob>,
    private readonly log: StructuredLog,
  ) {}

  /** Queues the instance of an InstanceStored event for every destination whose rule it matches. */
  handleEvent(event: ArchiveEvent): Promise<void> {
    return queueForwards(this.settings.forwardRules, this.queue, event);
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          const messages = await this.queue.receive(FORWARD_QUEUE, BATCH);
          if (messages.length === 0) {
            await this.queue.wait(1000);
            continue;
          }
          for (const destination of new Set(messages.map((m) => m.body.destination))) {
            await this.sendBatch(destination, messages.filter((m) => m.body.destination === destination));
          }
        } catch (e) {
          this.log('error', 'forwarding worker failed; retrying', { error: String(e) });
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async sendBatch(destinationTitle: string, messages: Array<QueuedMessage<ForwardJob>>): Promise<void> {
    const destination = this.settings.peers.find((p) => p.aeTitle === destinationTitle);
    const found: Array<{ message: QueuedMessage<ForwardJob>; instance: StoredInstance }> = [];
    for (const message of messages) {
      const [instance] = await this.storage.index.listInstances({ studyInstanceUID: message.body.studyInstanceUID, seriesInstanceUID: message.body.seriesInstanceUID, sopInstanceUID: message.body.sopInstanceUID });
      // Deleted since it was queued: nothing left to send.
      if (!instance) await this.queue.ack(FORWARD_QUEUE, message.receipt);
      else found.push({ message, instance });
    }
    if (found.length === 0) return;
    if (!destination) return this.failAll(found, `${destinationTitle} is no longer among DIMSE_PEERS`);
    let association: ScuAssociation;
    try {
      association = await ScuAssociation.openTo(destination, this.settings, contextsFor(found.map((f) => f.instance)));
    } catch (e) {
      if (!(e instanceof AssociationRefused)) throw e;
      return this.failAll(found, `cannot associate with ${e.message}`);
    }
    try {
      for (const { message, instance } of found) {
        const data = await subOperationData(this.storage, this.config, instance, association.acceptedSyntaxes(instance.sopClassUID));
        const status = 'failure' in data ? undefined : await association.store(data.dataset);
        if (status !== undefined && subOperationResult(status) !== 'failed') await this.queue.ack(FORWARD_QUEUE, message.receipt);
        else await this.failOne(message, 'failure' in data ? data.failure : `${destinationTitle} answered C-STORE with status ${status!.toString(16).padStart(4, '0')}`);
      }
    } finally {
      await association.release();
    }
  }

  private async failAll(found: Array<{ message: QueuedMessage<ForwardJob> }>, why: string): Promise<void> {
    for (const { message } of found) await this.failOne(message, why);
  }

  private async failOne(message: QueuedMessage<ForwardJob>, why: string): Promise<void> {
    const dead = await this.queue.fail(FORWARD_QUEUE, message.receipt, why);
    this.log(dead ? 'error' : 'warn', dead ? 'forwarding gave up; the job is in the dead-letter list' : 'forwarding failed; will retry', { ...message.body, attempts: message.attempts, reason: why });
  }
}
