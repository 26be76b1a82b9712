// Local mode: the DICOMweb app on a Node HTTP server over local storage. Used by `npm start` and tests.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createDicomWebApp } from '../dicomweb/app.js';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { sweepOrphans } from '../dicomweb/store/store-instance.js';
import { createLocalStorage, type LocalStorage } from '../storage/local/create.js';

export interface LocalArchive {
  url: string;
  storage: LocalStorage;
  close(): Promise<void>;
}

export async function startLocalArchive(options: { dataDir: string; port: number; host: string; config: DicomWebConfig }): Promise<LocalArchive> {
  const storage = createLocalStorage(options.dataDir);
  // Stores interrupted by a crash left files that no index entry names: remove them before serving.
  const orphans = await sweepOrphans(storage);
  if (orphans) console.log(JSON.stringify({ level: 'info', message: 'removed files of interrupted stores', count: orphans }));
  const app = createDicomWebApp(storage, options.config);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host === '0.0.0.0' ? 'localhost' : options.host}:${port}${options.config.basePath}`;
  return {
    url,
    storage,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await storage.index.close();
      await storage.blobs.close();
    },
  };
}
