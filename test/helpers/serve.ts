// Serves a Hono application on a free loopback port, as the local server and the streaming runtime do.
import type { ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { serveOnNode } from '../../lambdas/node-server.js';

export interface ServedApp {
  /** http://127.0.0.1:<port>, without a trailing slash. */
  origin: string;
  close(): Promise<void>;
}

export async function serveApp(app: { fetch: (request: Request) => Response | Promise<Response> }): Promise<ServedApp> {
  const server = await new Promise<ServerType>((resolve) => {
    const s = serveOnNode(app.fetch, 0, '127.0.0.1', () => resolve(s));
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
