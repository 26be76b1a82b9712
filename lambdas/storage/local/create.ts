// The local storage trio under one data directory: files, SQLite index, in-process events.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchiveStorage } from '../ports.js';
import { FsBlobStore } from './fs-blob-store.js';
import { InProcessEvents } from './in-process-events.js';
import { SqliteIndex } from './sqlite-index.js';

export interface LocalStorage extends ArchiveStorage {
  events: InProcessEvents;
}

export function createLocalStorage(dataDir: string): LocalStorage {
  mkdirSync(dataDir, { recursive: true });
  return {
    blobs: new FsBlobStore(join(dataDir, 'blobs')),
    index: new SqliteIndex(join(dataDir, 'index.sqlite')),
    events: new InProcessEvents(),
  };
}
