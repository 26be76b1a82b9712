// When the audit trail cannot take a record — its SQLite file closed, its DynamoDB table missing — no
// request is answered as done: reads answer 503 without the data, a store answers 503 though the instance
// is kept (and a retry is answered "identical" once the trail is back), and the record that could not be
// written goes to the error log whole.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { createDicomWebApp } from '../../lambdas/dicomweb/app.js';
import type { StructuredLog } from '../../lambdas/logging.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import { DynamoDbAuditLog } from '../../lambdas/storage/aws/dynamodb-audit-log.js';
import { createLocalStorage } from '../../lambdas/storage/local/create.js';
import { SqliteAuditLog } from '../../lambdas/storage/local/sqlite-audit-log.js';
import type { ArchiveStorage, AuditLog } from '../../lambdas/storage/ports.js';
import { stow, testConfig } from '../helpers/archive.js';
import { emulatorClients } from '../helpers/aws-emulators.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { serveApp } from '../helpers/serve.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** An archive whose audit trail can be made to fail and mended, with its error log kept. */
async function archiveWith(name: string): Promise<{ storage: ArchiveStorage; failing: AuditLog; working: AuditLog }> {
  if (name === 'local') {
    const dir = mkdtempSync(join(tmpdir(), 'audit-fail-'));
    dirs.push(dir);
    const storage = createLocalStorage(dir);
    const failing = storage.audit;
    await failing.close(); // a closed database refuses every write
    return { storage, failing, working: new SqliteAuditLog(join(dir, 'audit.sqlite')) };
  }
  const clients = emulatorClients({ fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') }, { maxAttempts: 1 });
  const bucket = `audit-fail-${process.pid}`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const queue = (await clients.sqs.send(new CreateQueueCommand({ QueueName: bucket }))).QueueUrl!;
  const auditTable = await createAuditTable(clients.dynamodb);
  const storage = createAwsStorage({ bucket, table: await createIndexTable(clients.dynamodb), eventsQueueUrl: queue, auditTable: 'no-such-audit-table' }, clients);
  return { storage, failing: storage.audit, working: new DynamoDbAuditLog(clients.dynamodb, auditTable) };
}

describe.each(['local', 'aws'])('audit trail that cannot be written (%s)', (name) => {
  it('answers 503 instead of data or a confirmation, keeps what was stored and logs the record', async () => {
    const { storage, working } = await archiveWith(name);
    const errors: Array<Record<string, unknown>> = [];
    const log: StructuredLog = (level, message, fields = {}) => level === 'error' && errors.push({ message, ...fields });
    const audit: { current: AuditLog } = { current: storage.audit };
    const app = createDicomWebApp({ ...storage, audit: { append: (r) => audit.current.append(r), search: (q) => audit.current.search(q), close: async () => undefined } }, testConfig(), log);
    const server = await serveApp(app);
    const url = `${server.origin}/dicomweb`;
    try {
      const study = uid();
      const image = syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: uid(), SOPInstanceUID: uid(), PatientID: 'FAIL-1', Rows: 2, Columns: 2, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' }, new Uint16Array(4));

      const stored = await stow(url, [image]);
      expect(stored.status).toBe(503);
      expect(stored.body).toMatchObject({ error: expect.stringMatching(/could not be recorded in the audit trail/) });
      expect(await storage.index.listInstances({ studyInstanceUID: study })).toHaveLength(1); // kept

      const read = await fetch(`${url}/studies/${study}/metadata`);
      expect(read.status).toBe(503);
      expect(read.headers.get('retry-after')).toBe('30');
      expect(read.headers.get('etag')).toBeNull(); // nothing of the withheld answer
      expect(await read.text()).not.toContain('FAIL-1');

      // Each record went to the error log whole.
      expect(errors.map((e) => (e.auditRecord as { EventIdentification: { EventID: { code: string } } }).EventIdentification.EventID.code)).toEqual(['110104', '110103']);

      // Once the trail takes records again, the store retried is confirmed (the same instance) and recorded.
      audit.current = working;
      const retried = await stow(url, [image]);
      expect(retried.status).toBe(200);
      const records = [];
      for await (const r of working.search({ studyInstanceUID: study })) records.push(r);
      expect(records.map((r) => r.EventIdentification.EventID.code)).toEqual(['110104']);
    } finally {
      await server.close();
      await storage.index.close();
    }
  });
});
