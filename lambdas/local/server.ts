// Local mode: the DICOMweb app (and the AI pipeline's API under /ai) on a Node HTTP server over local
// storage. Used by `npm start` and tests.
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import type { AiConfig } from '../ai/config.js';
import { createDicomWebApp } from '../dicomweb/app.js';
import { serveOnNode } from '../node-server.js';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { sweepOrphans } from '../dicomweb/store/blob-lifecycle.js';
import { createLocalStorage, type LocalStorage } from '../storage/local/create.js';
import { startLocalAi, type LocalAi } from './ai.js';

export interface LocalArchive {
  url: string;
  /** Root of the AI pipeline's API, when the pipeline runs. */
  aiUrl?: string;
  storage: LocalStorage;
  ai?: LocalAi;
  close(): Promise<void>;
}

export interface LocalArchiveOptions {
  dataDir: string;
  port: number;
  host: string;
  config: DicomWebConfig;
  ai?: AiConfig;
  /** For tests: replace or extend the built-in analysers, or fix the clock. */
  aiOptions?: Parameters<typeof startLocalAi>[3];
}

export async function startLocalArchive(options: LocalArchiveOptions): Promise<LocalArchive> {
  const storage = createLocalStorage(options.dataDir);
  // Stores interrupted by a crash left files that no index entry names: remove them before serving.
  const { removed } = await sweepOrphans(storage);
  if (removed) console.log(JSON.stringify({ level: 'info', message: 'removed files of interrupted stores', count: removed }));
  const dicomweb = createDicomWebApp(storage, options.config);
  const ai = options.ai?.enabled ? await startLocalAi(storage, options.dataDir, options.ai, options.aiOptions) : undefined;
  const aiRoot = ai ? new Hono().route('/ai', ai.app) : undefined;
  const fetch = (request: Request, env: unknown) =>
    aiRoot && new URL(request.url).pathname.startsWith('/ai/') ? aiRoot.fetch(request, env) : dicomweb.fetch(request, env);
  const server: ServerType = await new Promise((resolve) => {
    const s = serveOnNode(fetch, options.port, options.host, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${options.host === '0.0.0.0' ? 'localhost' : options.host}:${port}`;
  return {
    url: `${origin}${options.config.basePath}`,
    ...(ai ? { aiUrl: `${origin}/ai`, ai } : {}),
    storage,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ai?.close();
      await storage.index.close();
      await storage.blobs.close();
    },
  };
}
