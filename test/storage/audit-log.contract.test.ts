// One contract for every AuditLog: the SQLite trail of local mode and the DynamoDB table of the AWS
// deployment (against DynamoDB Local) find records alike — by patient, study, user and time, newest first,
// a record naming several studies once under each — and neither lets a record be changed.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../lambdas/governance/audit/audit-codes.js';
import { auditRecord } from '../../lambdas/governance/audit/http-audit.js';
import { DynamoDbAuditLog } from '../../lambdas/storage/aws/dynamodb-audit-log.js';
import { SqliteAuditLog } from '../../lambdas/storage/local/sqlite-audit-log.js';
import type { AuditLog, AuditQuery, AuditRecord } from '../../lambdas/storage/ports.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../helpers/dynamodb-local.js';
import { createAuditTable } from '../helpers/index-table.js';

const work = mkdtempSync(join(tmpdir(), 'audit-'));
let dynamo: DynamoDbLocal;
beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
}, 60_000);
afterAll(async () => {
  await dynamo?.stop();
  rmSync(work, { recursive: true, force: true });
});

const tables: string[] = [];
const implementations: Array<{ name: string; create(): Promise<AuditLog> }> = [
  { name: 'SqliteAuditLog', create: async () => new SqliteAuditLog(join(work, `audit-${Date.now()}.sqlite`)) },
  {
    name: 'DynamoDbAuditLog',
    create: async () => {
      const table = await createAuditTable(dynamo.client);
      tables.push(table);
      return new DynamoDbAuditLog(dynamo.client, table);
    },
  },
];

const record = (at: string, user: string, studies: Array<[string, string]>, event = AuditEvent.InstancesTransferred): AuditRecord =>
  auditRecord({
    action: { event, action: 'R', studies: studies.map(([s]) => s) },
    at: new Date(at),
    outcome: { indicator: 0, description: 'HTTP 200' },
    requester: { userID: user, address: '10.0.0.1' },
    sourceID: 'contract',
    studies: studies.map(([studyInstanceUID, patientID]) => ({ studyInstanceUID, patientID, patientName: `Name^${patientID}` })),
  });

async function search(log: AuditLog, query: AuditQuery): Promise<string[]> {
  const out: string[] = [];
  for await (const r of log.search(query)) out.push(`${r.EventIdentification.EventDateTime.slice(11, 19)} ${r.ActiveParticipant[0].UserID}`);
  return out;
}

describe.each(implementations)('AuditLog contract: $name', (impl) => {
  let log: AuditLog;
  beforeAll(async () => {
    log = await impl.create();
    // Over two days, three users, two patients; one request touched two studies of two patients.
    await log.append(record('2026-12-07T23:59:00.000Z', 'alice', [['1.1', 'P1']]));
    await log.append(record('2026-12-08T08:00:00.000Z', 'bob', [['1.2', 'P2']]));
    await log.append(record('2026-12-08T09:00:00.000Z', 'alice', [['1.1', 'P1'], ['1.2', 'P2']]));
    await log.append(record('2026-12-08T10:00:00.000Z', 'carol', []));
    await log.append(record('2026-12-08T11:00:00.000Z', 'bob', [['1.1', 'P1']]));
  });
  afterAll(async () => log?.close());

  it('finds records by patient, study and user, newest first, a record of two studies once under each', async () => {
    expect(await search(log, { patientID: 'P1' })).toEqual(['11:00:00 bob', '09:00:00 alice', '23:59:00 alice']);
    expect(await search(log, { studyInstanceUID: '1.2' })).toEqual(['09:00:00 alice', '08:00:00 bob']);
    expect(await search(log, { userID: 'alice' })).toEqual(['09:00:00 alice', '23:59:00 alice']);
    expect(await search(log, { userID: 'bob', patientID: 'P2' })).toEqual(['08:00:00 bob']);
    expect(await search(log, { patientID: 'nobody' })).toEqual([]);
  });

  it('finds records in a time range, across days, with or without a key', async () => {
    expect(await search(log, { since: '2026-12-08T08:30:00.000Z', until: '2026-12-08T10:00:00.000Z' })).toEqual(['10:00:00 carol', '09:00:00 alice']);
    expect(await search(log, { since: '2026-12-07T00:00:00.000Z', until: '2026-12-08T08:00:00.000Z' })).toEqual(['08:00:00 bob', '23:59:00 alice']);
    expect(await search(log, { patientID: 'P1', until: '2026-12-08T10:00:00.000Z' })).toEqual(['09:00:00 alice', '23:59:00 alice']);
  });

  it('keeps a record as it was written, every field', async () => {
    const r = record('2026-12-08T12:00:00.000Z', 'dave', [['1.3', 'P3']], AuditEvent.StudyDeleted);
    await log.append(r);
    const found: AuditRecord[] = [];
    for await (const x of log.search({ studyInstanceUID: '1.3' })) found.push(x);
    expect(found).toEqual([r]);
  });

  it('lets no record be changed or removed', async () => {
    if (log instanceof SqliteAuditLog) {
      const file = (log as unknown as { db: Database.Database }).db.name;
      const other = new Database(file);
      expect(() => other.prepare("UPDATE audit SET record = '{}'").run()).toThrow(/append-only/);
      expect(() => other.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
      expect(() => other.prepare('DELETE FROM audit_keys').run()).toThrow(/append-only/);
      expect(log.verify()).toEqual({ records: 6 });
      // An edit made around SQLite's triggers shows in the hash chain.
      other.exec('DROP TRIGGER audit_no_update');
      const second = other.prepare('SELECT id FROM audit ORDER BY seq LIMIT 1 OFFSET 1').pluck().get() as string;
      other.prepare("UPDATE audit SET record = replace(record, 'bob', 'eve') WHERE id = ?").run(second);
      other.close();
      expect(log.verify()).toEqual({ records: 1, brokenAt: second });
    } else {
      // On AWS the functions' role may only PutItem and Query this table (test/cdk); a put under a key that exists fails.
      const table = tables[tables.length - 1];
      const items = await dynamo.client.send(new ScanCommand({ TableName: table, Limit: 1 }));
      const key = { pk: items.Items![0].pk, sk: items.Items![0].sk };
      const again = new DynamoDbAuditLog(dynamo.client, table);
      const existing = JSON.parse(items.Items![0].record.S!) as AuditRecord;
      await expect(again.append(existing)).rejects.toThrow(/conditional/i);
      expect(key.pk.S).toMatch(/^DAY#2026-12-0[78]$/);
    }
  });
});
