// The API function as it is deployed: its handler bundled by the CDK app's bundler (ES module chunks),
// imported from the bundle and configured only by environment variables, over the emulators. A cold start
// must not parse the S3 client, and the first request that needs S3 must load it from its chunk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { bundleHandler } from '../../lib/constructs/archive-function.js';
import { startApiGateway, type ApiGatewayStandIn } from '../helpers/api-gateway.js';
import { stow } from '../helpers/archive.js';
import { emulatorClients, emulatorEnvironment } from '../helpers/aws-emulators.js';
import { chunksHolding, loadedAtStart } from '../helpers/bundle-imports.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

describe('the bundled API function over the emulators', () => {
  const dir = mkdtempSync(join(tmpdir(), 'api-bundle-'));
  const endpoints = { fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') };
  const clients = emulatorClients(endpoints);
  const bucket = `api-bundle-${process.pid}`;
  let gateway: ApiGatewayStandIn;
  let url: string;
  let queueUrl: string;

  beforeAll(async () => {
    bundleHandler('lambdas/aws/handlers/dicomweb-api.ts', dir);
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: bucket }));
    queueUrl = queue.QueueUrl!;
    const table = await createIndexTable(clients.dynamodb);
    // What the CDK app sets on the function, and the SDK's own variables for endpoints and checksums.
    Object.assign(process.env, {
      ARCHIVE_BUCKET: bucket,
      INDEX_TABLE: table,
      // fauxqs names queues sqs.<region>.<its host>, no valid host with an IP address: the SDK warns (in
      // the test output) and sends to the endpoint below, where fauxqs finds the queue by that URL.
      EVENTS_QUEUE_URL: queueUrl,
      AUDIT_TABLE: await createAuditTable(clients.dynamodb),
      ...emulatorEnvironment(endpoints),
    });
    const { handler } = (await import(join(dir, 'index.mjs'))) as { handler: Handler };
    // Only Lambda's routes are used here; nothing listens at the streaming origin.
    gateway = await startApiGateway(handler, 'http://127.0.0.1:9');
    url = `${gateway.url}/dicomweb`;
  });
  afterAll(async () => {
    await gateway?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the S3 client out of what a cold start parses', () => {
    const atStart = loadedAtStart(dir);
    const s3Chunks = chunksHolding(dir, 'ListObjectsV2');
    expect(s3Chunks.length).toBeGreaterThan(0);
    expect(atStart.filter((f) => s3Chunks.includes(f))).toEqual([]);
  });

  it('searches, stores (loading S3 on first use) and deletes', async () => {
    const study = uid();
    const search = await fetch(`${url}/studies?StudyInstanceUID=${study}`);
    expect([200, 204]).toContain(search.status);
    const instance = syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: uid(), PatientID: 'BUNDLE-1' });
    expect((await stow(url, [instance])).status).toBe(200);
    const found = (await (await fetch(`${url}/studies?PatientID=BUNDLE-1`)).json()) as unknown[];
    expect(found).toHaveLength(1);
    const originals = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(originals.Contents?.length).toBe(1);
    const events = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(events.Messages?.map((m) => m.Body).join()).toContain(study);
    expect((await fetch(`${url}/studies/${study}`, { method: 'DELETE' })).status).toBeLessThan(300);
    expect((await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).toEqual([]);
  });
});
