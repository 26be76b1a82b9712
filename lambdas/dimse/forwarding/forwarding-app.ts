// The forwarding API: the rules in force and the jobs that could not be delivered (the dead-letter list),
// so that an operator sees what did not reach the hospital's PACS and why.
import { Hono } from 'hono';
import type { WorkQueue } from '../../storage/ports.js';
import type { DimseSettings } from '../settings.js';
import { FORWARD_QUEUE, type ForwardJob } from './forwarder.js';

export function createForwardingApp(settings: DimseSettings, queue: WorkQueue<ForwardJob>): Hono {
  const app = new Hono();
  app.get('/forwarding', (c) =>
    c.json({
      rules: settings.forwardRules.map((r) => ({ rule: r.text, destination: `${r.destination.aeTitle}@${r.destination.host}:${r.destination.port}` })),
      maxAttempts: settings.forwardMaxAttempts,
    }),
  );
  app.get('/forwarding/dead-letters', async (c) => c.json(await queue.deadLetters(FORWARD_QUEUE)));
  return app;
}
