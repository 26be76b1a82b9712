// De-identified exports on AWS, run by the streaming runtime (a long-running task, where an export of
// thousands of instances can take its time): jobs and their manifests in the index table, copies in the
// exports bucket under <export id>/, the pseudonym secret in the index table; the API behind the scope
// dicomweb/export, checked here like every other token.
import { Hono } from 'hono';
import type { DicomWebConfig } from '../../dicomweb/config.js';
import { StudyPatients } from '../../governance/audit/study-patients.js';
import { Pseudonyms } from '../../governance/deidentify/pseudonyms.js';
import { createExportApp, EXPORTS_ROOT } from '../../governance/export/export-api.js';
import { runExport } from '../../governance/export/run-export.js';
import type { StructuredLog } from '../../logging.js';
import type { AwsClients } from '../../storage/aws/create.js';
import { DynamoDbExportJobs } from '../../storage/aws/dynamodb-export-jobs.js';
import { pseudonymSecret } from '../../storage/aws/pseudonym-secret.js';
import { S3BlobStore } from '../../storage/aws/s3-blob-store.js';
import type { ArchiveStorage, ExportJob } from '../../storage/ports.js';
import { verifiedTokenRequester } from '../auth/audit-requester.js';
import { EXPORT_SCOPES, requireScopes, type AccessTokenVerifier } from '../auth/bearer-scopes.js';


export interface AwsExports {
  app: Hono;
  /** The task is stopping: exports still running are marked failed (they do not resume elsewhere). */
  interrupt(): Promise<void>;
}

export function startAwsExports(
  storage: ArchiveStorage,
  config: DicomWebConfig,
  settings: { table: string; exportsBucket: string },
  clients: Pick<AwsClients, 's3' | 'dynamodb'>,
  verifier: AccessTokenVerifier,
  log: StructuredLog,
): AwsExports {
  const jobs = new DynamoDbExportJobs(clients.dynamodb, settings.table);
  const target = new S3BlobStore(clients.s3, settings.exportsBucket);
  // Read (or made) when the first export runs, so that a task starts without it.
  let pseudonyms: Promise<Pseudonyms> | undefined;
  const patients = new StudyPatients(storage.index);
  const running = new Map<string, ExportJob>();
  const app = new Hono().route(
    EXPORTS_ROOT,
    createExportApp({
      jobs,
      config,
      destinationOf: (id) => `s3://${settings.exportsBucket}/${id}/`,
      start: (job) => {
        running.set(job.id, job);
        void (async () => {
          try {
            pseudonyms ??= pseudonymSecret(clients.dynamodb, settings.table).then((secret) => new Pseudonyms(secret));
            await runExport(job, { storage, config, jobs, target, pseudonyms: await pseudonyms, patients, log });
          } catch (error) {
            pseudonyms = undefined;
            Object.assign(job, { state: 'failed', error: `the pseudonym secret could not be read: ${String(error)}`, updatedAt: new Date().toISOString() });
            await jobs.put(job).catch((e: unknown) => log('error', 'a failed export could not be marked so', { export: job.id, error: String(e) }));
          } finally {
            running.delete(job.id);
          }
        })();
      },
      audit: { log: storage.audit, sourceID: config.auditSourceId, requester: verifiedTokenRequester, patients },
      guards: [requireScopes(verifier, EXPORT_SCOPES, log)],
      log,
    }),
  );
  return {
    app,
    interrupt: async () => {
      for (const job of running.values()) {
        // The runner holds the same object: its later progress saves keep this state.
        Object.assign(job, { state: 'failed', error: 'interrupted: the task running it stopped; start the export again', updatedAt: new Date().toISOString() });
        await jobs.put(job).catch((e: unknown) => log('error', 'an interrupted export could not be marked failed', { export: job.id, error: String(e) }));
      }
    },
  };
}
