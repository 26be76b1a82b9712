// The audit trail in a DynamoDB table of its own (AUDIT_TABLE): items are only ever put, each under a new
// key and on the condition that none is there (the functions' role may PutItem and Query, never update or
// delete). An item per day partition and time (pk DAY#<date>, sk <time>#<id>#<n>); a record naming
// several studies or patients is written as several items — the n-th carries its n-th study, patient and
// user as keys of the byStudy, byPatient and byUser indexes — in one transaction. Searches read an index
// newest first and drop the repeats of a record.
import type { AttributeDefinition, DynamoDBClient, GlobalSecondaryIndex, KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, TransactWriteCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { auditKeys, type AuditLog, type AuditQuery, type AuditRecord } from '../ports.js';

const gsi = (IndexName: string, pk: string): GlobalSecondaryIndex => ({
  IndexName,
  KeySchema: [
    { AttributeName: pk, KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  Projection: { ProjectionType: 'ALL' },
});

export const AUDIT_TABLE_SCHEMA: { keySchema: KeySchemaElement[]; attributes: AttributeDefinition[]; indexes: GlobalSecondaryIndex[] } = {
  keySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  attributes: ['pk', 'sk', 'patientKey', 'studyKey', 'userKey'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const })),
  indexes: [gsi('byPatient', 'patientKey'), gsi('byStudy', 'studyKey'), gsi('byUser', 'userKey')],
};

/** DynamoDB transactions take at most 100 items. */
const MAX_TRANSACTION_ITEMS = 100;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Without a patient, study or user, a search walks day partitions back to here at most. */
const OLDEST_DAY_SEARCHED_MS = 400 * DAY_MS;

const dayOf = (iso: string) => iso.slice(0, 10);

export class DynamoDbAuditLog implements AuditLog {
  private readonly doc: DynamoDBDocumentClient;

  constructor(client: DynamoDBClient, private readonly table: string) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async append(record: AuditRecord): Promise<void> {
    const at = record.EventIdentification.EventDateTime;
    const { patients, studies, users } = auditKeys(record);
    const json = JSON.stringify(record);
    const count = Math.max(1, patients.length, studies.length, users.length);
    const items = Array.from({ length: count }, (_, n) => ({
      pk: `DAY#${dayOf(at)}`,
      sk: `${at}#${record.id}#${String(n).padStart(4, '0')}`,
      patientKey: patients[n],
      studyKey: studies[n],
      userKey: users[n],
      record: json,
    }));
    const condition = { ConditionExpression: 'attribute_not_exists(pk)' };
    if (items.length === 1) {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: items[0], ...condition }));
      return;
    }
    for (let i = 0; i < items.length; i += MAX_TRANSACTION_ITEMS) {
      const TransactItems = items.slice(i, i + MAX_TRANSACTION_ITEMS).map((Item) => ({ Put: { TableName: this.table, Item, ...condition } }));
      await this.doc.send(new TransactWriteCommand({ TransactItems }));
    }
  }

  async *search(query: AuditQuery): AsyncIterable<AuditRecord> {
    const range = { from: query.since ?? '0', to: `${query.until ?? '9999'}\uffff` };
    const wanted = (r: AuditRecord) => {
      const keys = auditKeys(r);
      const at = r.EventIdentification.EventDateTime;
      return (
        (query.patientID === undefined || keys.patients.includes(query.patientID)) &&
        (query.studyInstanceUID === undefined || keys.studies.includes(query.studyInstanceUID)) &&
        (query.userID === undefined || keys.users.includes(query.userID)) &&
        (!query.since || at >= query.since) &&
        (!query.until || at <= query.until)
      );
    };
    // The most selective key given is the index read; the others are checked on each record.
    const byKey: Array<[string, string, string | undefined]> = [
      ['byStudy', 'studyKey', query.studyInstanceUID],
      ['byPatient', 'patientKey', query.patientID],
      ['byUser', 'userKey', query.userID],
    ];
    const key = byKey.find(([, , value]) => value !== undefined);
    const partitions = key ? [{ IndexName: key[0], name: key[1], value: key[2]! }] : this.dayPartitions(query);
    let lastId: string | undefined;
    for (const p of partitions) {
      for await (const record of this.read(p.IndexName, p.name, p.value, range)) {
        if (record.id === lastId) continue; // the same record's next item
        lastId = record.id;
        if (wanted(record)) yield record;
      }
    }
  }

  private *dayPartitions(query: AuditQuery): Iterable<{ IndexName: undefined; name: string; value: string }> {
    const newest = Date.parse(query.until ?? new Date().toISOString()) || Date.now();
    const oldest = Math.max(Date.parse(query.since ?? '') || 0, newest - OLDEST_DAY_SEARCHED_MS);
    for (let t = newest; dayOf(new Date(t).toISOString()) >= dayOf(new Date(oldest).toISOString()); t -= DAY_MS) {
      yield { IndexName: undefined, name: 'pk', value: `DAY#${dayOf(new Date(t).toISOString())}` };
    }
  }

  private async *read(IndexName: string | undefined, name: string, value: string, range: { from: string; to: string }): AsyncIterable<AuditRecord> {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const input: QueryCommandInput = {
        TableName: this.table,
        ...(IndexName ? { IndexName } : {}),
        KeyConditionExpression: '#k = :v AND sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#k': name },
        ExpressionAttributeValues: { ':v': value, ':from': range.from, ':to': range.to },
        ScanIndexForward: false,
        Limit: 100,
        ExclusiveStartKey,
      };
      const page = await this.doc.send(new QueryCommand(input));
      for (const item of page.Items ?? []) yield JSON.parse(item.record as string) as AuditRecord;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }

  /** The client is the index's too: it closes it. */
  async close(): Promise<void> {}
}
