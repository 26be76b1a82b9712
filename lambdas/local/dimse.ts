// Local mode's DIMSE edge: the listener, and (when DIMSE_FORWARD has rules) the forwarding worker over a
// SQLite work queue subscribed to the archive's in-process events, with its API under /dimse.
import type { Hono } from 'hono';
import { join } from 'node:path';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { startDimseListener } from '../dimse/dimse-listener.js';
import { Forwarder, type ForwardJob } from '../dimse/forwarding/forwarder.js';
import { createForwardingApp } from '../dimse/forwarding/forwarding-app.js';
import type { DimseSettings } from '../dimse/settings.js';
import { consoleLog } from '../logging.js';
import type { LocalStorage } from '../storage/local/create.js';
import { SqliteWorkQueue } from '../storage/local/sqlite-work-queue.js';

export interface LocalDimse {
  port: number;
  /** The forwarding API, when forwarding rules are set. */
  app?: Hono;
  close(): Promise<void>;
}

export async function startLocalDimse(storage: LocalStorage, dataDir: string, config: DicomWebConfig, settings: DimseSettings): Promise<LocalDimse> {
  const log = consoleLog('dimse');
  const listener = await startDimseListener({ storage, config, settings, log });
  if (settings.forwardRules.length === 0) return { port: listener.port, close: () => listener.close() };
  const queue = new SqliteWorkQueue<ForwardJob>(join(dataDir, 'forwarding.sqlite'), {
    visibilityTimeoutMs: 10 * 60_000,
    maxAttempts: settings.forwardMaxAttempts,
    backoffBaseMs: settings.forwardRetryMs,
  });
  const forwarder = new Forwarder(storage, config, settings, queue, log);
  const unsubscribe = storage.events.subscribe((event) => forwarder.handleEvent(event));
  forwarder.start();
  return {
    port: listener.port,
    app: createForwardingApp(settings, queue),
    close: async () => {
      unsubscribe();
      await listener.close();
      await forwarder.stop();
      await queue.close();
    },
  };
}
