// The DIMSE edge in the streaming runtime's task (AWS): the same listener as `npm start`, over the AWS
// storage, on when the task's environment sets DIMSE_PORT (the CDK app does with dimse* context).
// Forwarding jobs go through an SQS FIFO queue; the rules see what this task stores (C-STORE, and
// STOW-RS through the streaming runtime), since its events pass the forwarder on their way to the queue.
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Hono } from 'hono';
import type { DicomWebConfig } from '../../dicomweb/config.js';
import { startDimseListener } from '../../dimse/dimse-listener.js';
import { createForwardingApp } from '../../dimse/forwarding/forwarding-app.js';
import { Forwarder } from '../../dimse/forwarding/forwarder.js';
import { dimseSettingsFromEnv } from '../../dimse/settings.js';
import type { StructuredLog } from '../../logging.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { forwardQueueFromEnv } from '../dimse/forward-queue.js';

export interface AwsDimse {
  /** The storage the rest of the task uses: its events also reach the forwarder. */
  storage: ArchiveStorage;
  /** The forwarding API (rules, dead letters), when forwarding is configured. */
  forwardingApp?: Hono;
  close(): Promise<void>;
}

export async function startAwsDimse(storage: ArchiveStorage, config: DicomWebConfig, sqs: SQSClient, log: StructuredLog, env: NodeJS.ProcessEnv = process.env): Promise<AwsDimse | undefined> {
  if (!env.DIMSE_PORT) return undefined;
  // A listener reachable from networks must know its peers: unknown callers are refused unless set otherwise.
  const settings = dimseSettingsFromEnv(env, { acceptUnknownCallers: false, host: '0.0.0.0' });
  if (settings.port === 0) return undefined;
  let forwarder: Forwarder | undefined;
  let forwardingApp: Hono | undefined;
  let served = storage;
  if (settings.forwardRules.length) {
    const queue = forwardQueueFromEnv(sqs, env, { maxAttempts: settings.forwardMaxAttempts, backoffBaseMs: settings.forwardRetryMs });
    forwardingApp = createForwardingApp(settings, queue);
    const started = new Forwarder(storage, config, settings, queue, log);
    forwarder = started;
    served = {
      ...storage,
      events: {
        publish: async (events) => {
          await storage.events.publish(events);
          for (const event of events) await started.handleEvent(event);
        },
      },
    };
    started.start();
  }
  const listener = await startDimseListener({ storage: served, config, settings, log });
  log('info', 'DIMSE listener ready', { port: listener.port, aeTitle: settings.aeTitle, forwarding: settings.forwardRules.map((r) => r.text) });
  return {
    storage: served,
    ...(forwardingApp ? { forwardingApp } : {}),
    close: async () => {
      await listener.close();
      await forwarder?.stop();
    },
  };
}
