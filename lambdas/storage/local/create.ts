// Local storage under one data directory: files, the SQLite index, in-process events, UPS workitems,
// the audit trail.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchiveStorage } from '../ports.js';
import { FsBlobStore } from './fs-blob-store.js';
import { InProcessEvents } from './in-process-events.js';
import { SqliteAuditLog } from './sqlite-audit-log.js';
import { SqliteIndex } from './sqlite-index.js';
import { SqliteWorkitemStore } from './sqlite-workitems.js';

export interface LocalStorage extends ArchiveStorage {
  events: InProcessEvents;
  audit: SqliteAuditLog;
}

export function createLocalStorage(dataDir: string): LocalStorage {
  mkdirSync(dataDir, { recursive: true });
  return {
    blobs: new FsBlobStore(join(dataDir, 'blobs')),
    index: new SqliteIndex(join(dataDir, 'index.sqlite')),
    events: new InProcessEvents(),
    workitems: new SqliteWorkitemStore(join(dataDir, 'workitems.sqlite')),
    audit: new SqliteAuditLog(join(dataDir, 'audit.sqlite')),
  };
}
