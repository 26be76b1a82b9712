// Local mode's de-identified exports: jobs in exports.sqlite, copies written under EXPORT_DIR (by default
// DATA_DIR/exports/<job>/), run in this process in the background; the pseudonym secret in
// DATA_DIR/deidentify.key, made once (keep it: a later export of the same patients links only with it).
import { Hono } from 'hono';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { localCaller } from '../governance/audit/requester.js';
import { StudyPatients } from '../governance/audit/study-patients.js';
import { Pseudonyms } from '../governance/deidentify/pseudonyms.js';
import { createExportApp, EXPORTS_ROOT } from '../governance/export/export-api.js';
import { runExport } from '../governance/export/run-export.js';
import { consoleLog } from '../logging.js';
import type { ArchiveStorage } from '../storage/ports.js';
import { FsBlobStore } from '../storage/local/fs-blob-store.js';
import { SqliteExportJobs } from '../storage/local/sqlite-export-jobs.js';

export interface LocalExports {
  app: Hono;
  close(): Promise<void>;
}

function secretIn(file: string): Uint8Array {
  if (!existsSync(file)) writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
  return readFileSync(file);
}

export async function startLocalExports(storage: ArchiveStorage, dataDir: string, exportDir: string, config: DicomWebConfig): Promise<LocalExports> {
  const log = consoleLog('exports');
  const jobs = new SqliteExportJobs(join(dataDir, 'exports.sqlite'));
  // A job that was running when the archive stopped will not go on by itself.
  for (const job of await jobs.list(1000)) {
    if (job.state === 'running') await jobs.put({ ...job, state: 'failed', error: 'interrupted: the archive stopped while it ran; start the export again', updatedAt: new Date().toISOString() });
  }
  const target = new FsBlobStore(exportDir);
  const pseudonyms = new Pseudonyms(secretIn(join(dataDir, 'deidentify.key')));
  const patients = new StudyPatients(storage.index);
  const running = new Set<Promise<unknown>>();
  const app = new Hono().route(
    EXPORTS_ROOT,
    createExportApp({
      jobs,
      config,
      destinationOf: (id) => join(exportDir, id),
      start: (job) => {
        const run: Promise<unknown> = runExport(job, { storage, config, jobs, target, pseudonyms, patients, log }).finally(() => running.delete(run));
        running.add(run);
      },
      audit: { log: storage.audit, sourceID: config.auditSourceId, requester: localCaller, patients },
      log,
    }),
  );
  return {
    app,
    close: async () => {
      await Promise.allSettled([...running]);
      await jobs.close();
      await target.close();
    },
  };
}
