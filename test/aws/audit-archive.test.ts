// The audit trail's copy in a bucket with S3 Object Lock: the audit table's stream (read from DynamoDB
// Local as Lambda's event source reads it) goes through the archiver into S3 (fauxqs), each record once,
// as written; an item changed behind the archive's back is copied under tampering/ and logged; a batch
// that cannot be copied is reported failed, so that the stream delivers it again.
import { DescribeTableCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createAuditArchiver } from '../../lambdas/aws/handlers/audit-archive.js';
import { AuditEvent } from '../../lambdas/governance/audit/audit-codes.js';
import { auditRecord } from '../../lambdas/governance/audit/http-audit.js';
import type { StructuredLog } from '../../lambdas/logging.js';
import { DynamoDbAuditLog } from '../../lambdas/storage/aws/dynamodb-audit-log.js';
import type { AuditRecord } from '../../lambdas/storage/ports.js';
import { emulatorClientConfigs, emulatorClients } from '../helpers/aws-emulators.js';
import { createAuditTable } from '../helpers/index-table.js';

const endpoints = { fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') };
const clients = emulatorClients(endpoints);
const streams = new DynamoDBStreamsClient(emulatorClientConfigs(endpoints).dynamodb);
const bucket = `audit-archive-${process.pid}`;
let table: string;
let iterator: string | undefined;
const errors: string[] = [];
const log: StructuredLog = (level, message) => level === 'error' && errors.push(message);

/** The stream records written since the last call, as Lambda's DynamoDB event source hands them over. */
async function nextBatch(): Promise<DynamoDBStreamEvent> {
  const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
  iterator = page.NextShardIterator;
  return { Records: (page.Records ?? []) as DynamoDBStreamEvent['Records'] };
}

async function objectsUnder(prefix: string): Promise<string[]> {
  const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return Promise.all((listed.Contents ?? []).map(async (o) => (await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }))).Body!.transformToString()));
}

const record = (user: string, studies: string[]): AuditRecord =>
  auditRecord({ action: { event: AuditEvent.InstancesTransferred, action: 'R', studies }, at: new Date(), outcome: { indicator: 0, description: 'HTTP 200' }, requester: { userID: user }, sourceID: 'archive-test', studies: studies.map((s, i) => ({ studyInstanceUID: s, patientID: `P${i}` })) });

beforeAll(async () => {
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  table = await createAuditTable(clients.dynamodb);
  const streamArn = (await clients.dynamodb.send(new DescribeTableCommand({ TableName: table }))).Table!.LatestStreamArn!;
  const shard = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription!.Shards![0];
  iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
});
afterAll(() => streams.destroy());

describe('the audit trail copied to a bucket with Object Lock', () => {
  it('copies each record once, as it was written, one object per batch', async () => {
    const log_ = new DynamoDbAuditLog(clients.dynamodb, table);
    const written = [record('alice', ['1.1']), record('bob', ['1.2', '1.3']), record('carol', [])];
    for (const r of written) await log_.append(r);
    const batch = await nextBatch();
    expect(batch.Records).toHaveLength(4); // bob's record is two items, one per study
    const archive = createAuditArchiver(clients.s3, bucket, log);
    expect(await archive(batch)).toEqual({ batchItemFailures: [] });
    const objects = await objectsUnder('audit/');
    expect(objects).toHaveLength(1);
    expect(objects[0].trim().split('\n').map((line) => JSON.parse(line) as AuditRecord)).toEqual(written);
    expect(errors).toEqual([]);
  });

  it('copies an item changed behind the archive\'s back under tampering/, and says so', async () => {
    const batch0 = await nextBatch();
    expect(batch0.Records).toHaveLength(0);
    const [item] = (await clients.dynamodb.send(new (await import('@aws-sdk/client-dynamodb')).ScanCommand({ TableName: table, Limit: 1 }))).Items!;
    await clients.dynamodb.send(new UpdateItemCommand({ TableName: table, Key: { pk: item.pk, sk: item.sk }, UpdateExpression: 'SET #r = :r', ExpressionAttributeNames: { '#r': 'record' }, ExpressionAttributeValues: { ':r': { S: '{}' } } }));
    const batch = await nextBatch();
    expect(batch.Records.map((r) => r.eventName)).toEqual(['MODIFY']);
    expect(await createAuditArchiver(clients.s3, bucket, log)(batch)).toEqual({ batchItemFailures: [] });
    const [copied] = await objectsUnder('tampering/');
    expect(JSON.parse(copied.trim())).toMatchObject({ eventName: 'MODIFY', oldImage: { record: { S: item.record.S } }, newImage: { record: { S: '{}' } } });
    expect(errors).toEqual(['audit trail items were changed or removed; copied under tampering/']);
  });

  it('reports a batch it could not copy as failed, from its first record', async () => {
    await new DynamoDbAuditLog(clients.dynamodb, table).append(record('dave', ['1.4']));
    const batch = await nextBatch();
    const result = await createAuditArchiver(clients.s3, `${bucket}-missing`, log)(batch);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0].dynamodb!.SequenceNumber }] });
  });
});
