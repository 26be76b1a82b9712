// Serves a Hono application on a free loopback port, as the local server and the streaming runtime do.
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';

export interface ServedApp {
  /** http://127.0.0.1:<port>, without a trailing slash. */
  origin: string;
  close(): Promise<void>;
}

export async function serveApp(app: { fetch: (request: Request) => Response | Promise<Response> }): Promise<ServedApp> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
