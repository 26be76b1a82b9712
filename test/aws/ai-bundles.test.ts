// The AI pipeline's functions as they are deployed: the events, readiness and worker handlers bundled
// by the CDK app's bundler (with the files the app puts beside them), imported from their bundles and
// configured only by environment variables, over the emulators. The events and readiness functions
// must start without the S3 client, the DICOM dictionary and the ONNX runtime, and still work when they
// need S3 (the shipped model's first registration); a worker loads the result writers and the model
// runtime from its chunks with its first job. A set-up that fails is tried again by the next invocation.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUILT_IN_ANALYSER_IDS } from '../../lambdas/ai/analysers/built-in-ids.js';
import { DynamoDbAiState } from '../../lambdas/storage/aws/dynamodb-ai-state.js';
import { createApiHandler } from '../../lambdas/aws/handlers/dicomweb-api.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import { MODEL_RUNTIME_FILES, SHIPPED_MODEL_FILES } from '../../lib/constructs/ai-pipeline.js';
import { bundleHandler } from '../../lib/constructs/archive-function.js';
import { createAiStateTable } from '../helpers/ai-state-table.js';
import { startApiGateway, type ApiGatewayStandIn } from '../helpers/api-gateway.js';
import { stow, testConfig } from '../helpers/archive.js';
import { emulatorClients, emulatorEnvironment } from '../helpers/aws-emulators.js';
import { chunksHolding, loadedAtStart } from '../helpers/bundle-imports.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { lambdaContext, receive, sqsEvent } from '../helpers/sqs-events.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | { dispatched: number }>;

const repoRoot = resolve(import.meta.dirname, '../..');
/** Code that only the dictionary, the ONNX runtime and the S3 client carry. */
const MARKERS = { dictionary: 'CommandGroupLength', onnx: 'ort-wasm-simd-threaded', s3: 'ListObjectsV2' };

describe('the bundled AI functions over the emulators', () => {
  const work = mkdtempSync(join(tmpdir(), 'ai-bundles-'));
  const dirs = { events: join(work, 'events'), readiness: join(work, 'readiness'), worker: join(work, 'worker') };
  const endpoints = { fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') };
  const clients = emulatorClients(endpoints);
  const bucket = `ai-bundles-${process.pid}`;
  let gateway: ApiGatewayStandIn;
  let state: DynamoDbAiState;
  let urls: { events: string; readiness: string; imageNoise: string };

  const atStart = (dir: string, marker: string) => loadedAtStart(dir).some((f) => readFileSync(join(dir, f), 'utf8').includes(marker));

  beforeAll(async () => {
    // As lib/constructs/ai-pipeline.ts ships them: the model beside every pipeline function, the ONNX
    // runtime's WebAssembly beside the image-noise worker.
    bundleHandler('lambdas/aws/handlers/ai-events.ts', dirs.events);
    bundleHandler('lambdas/aws/handlers/ai-readiness.ts', dirs.readiness);
    bundleHandler('lambdas/aws/handlers/ai-worker.ts', dirs.worker);
    for (const dir of Object.values(dirs)) for (const f of SHIPPED_MODEL_FILES) cpSync(join(repoRoot, f), join(dir, basename(f)));
    for (const f of MODEL_RUNTIME_FILES) cpSync(join(repoRoot, f), join(dirs.worker, basename(f)));

    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const queue = async (name: string, fifo = false) =>
      (await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true', VisibilityTimeout: '60' } : { VisibilityTimeout: '60' } }))).QueueUrl!;
    const queues: Record<string, { url: string; deadLetterUrl: string }> = {};
    for (const id of BUILT_IN_ANALYSER_IDS) queues[id] = { url: await queue(`${bucket}-${id}.fifo`, true), deadLetterUrl: await queue(`${bucket}-${id}-dead.fifo`, true) };
    urls = { events: await queue(`${bucket}-events`), readiness: await queue(`${bucket}-readiness`), imageNoise: queues['image-noise'].url };
    const stateTable = await createAiStateTable(clients.dynamodb);
    state = new DynamoDbAiState(clients.dynamodb, stateTable);
    const storageSettings = { bucket, table: await createIndexTable(clients.dynamodb), eventsQueueUrl: urls.events, auditTable: await createAuditTable(clients.dynamodb) };
    // What the CDK app sets on the functions, and the SDK's own variables for endpoints and checksums.
    Object.assign(process.env, {
      ARCHIVE_BUCKET: storageSettings.bucket,
      INDEX_TABLE: storageSettings.table,
      EVENTS_QUEUE_URL: urls.events,
      AUDIT_TABLE: storageSettings.auditTable,
      AI_STATE_TABLE: stateTable,
      AI_QUEUES: JSON.stringify(queues),
      AI_READINESS_QUEUE_URL: urls.readiness,
      AI_QUIET_PERIOD_SECONDS: '0',
      ANALYSER_ID: 'image-noise',
      ...emulatorEnvironment(endpoints),
    });
    gateway = await startApiGateway(createApiHandler(createAwsStorage(storageSettings, clients), testConfig()), undefined);
  });
  afterAll(async () => {
    await gateway?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('starts the events and readiness functions without the S3 client, the DICOM dictionary or the ONNX runtime', () => {
    for (const role of ['events', 'readiness'] as const) {
      expect(chunksHolding(dirs[role], MARKERS.s3).length, role).toBeGreaterThan(0); // S3 is there, in a chunk loaded on first use
      for (const [name, marker] of Object.entries(MARKERS)) expect(atStart(dirs[role], marker), `${role} loads ${name} at start`).toBe(false);
    }
    // A worker uses S3 in every job; the writers and the model runtime wait for the first.
    expect(atStart(dirs.worker, MARKERS.s3)).toBe(true);
    expect(atStart(dirs.worker, MARKERS.dictionary)).toBe(false);
    expect(atStart(dirs.worker, MARKERS.onnx)).toBe(false);
  });

  it('takes a stored study through the bundled events, readiness and image-noise functions to a stored result', async () => {
    const ct = syntheticCt({ patientID: 'AI-BUNDLE-1', studyDate: '20250301', studyDescription: 'CT CHEST', slices: 6, size: 32, sphereRadiusMm: 5 });
    expect((await stow(`${gateway.url}/dicomweb`, ct.files)).status).toBe(200);
    const originalsBefore = (await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'originals/' }))).KeyCount;

    const events = (await import(join(dirs.events, 'index.mjs'))) as { handler: SqsHandler };
    const arrivals = await receive(clients.sqs, urls.events, 1);
    expect(arrivals.length).toBeGreaterThan(0);
    // A cold start whose set-up fails (DynamoDB unreachable: nothing listens on port 9) fails that
    // invocation only; the execution environment sets up again with the next one.
    const dynamodbEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = 'http://127.0.0.1:9';
    await expect(events.handler(sqsEvent(arrivals, 'arn:aws:sqs:us-east-1:0:events'), lambdaContext)).rejects.toThrow();
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamodbEndpoint;
    expect(await events.handler(sqsEvent(arrivals, 'arn:aws:sqs:us-east-1:0:events'), lambdaContext)).toEqual({ batchItemFailures: [] });
    // The first function of a new deployment registered the shipped model, through the S3 client it loaded then.
    const models = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'models/' }));
    expect(models.KeyCount).toBe(1);
    expect((await state.models()).map((m) => m.name)).toEqual(['image-noise']);

    const readiness = (await import(join(dirs.readiness, 'index.mjs'))) as { handler: SqsHandler };
    const checks = await receive(clients.sqs, urls.readiness, 5);
    expect(checks.length).toBeGreaterThan(0);
    expect(await readiness.handler(sqsEvent(checks, 'arn:aws:sqs:us-east-1:0:readiness'), lambdaContext)).toEqual({ dispatched: 1 });

    const worker = (await import(join(dirs.worker, 'index.mjs'))) as { handler: SqsHandler };
    const jobs = await receive(clients.sqs, urls.imageNoise, 1, 1);
    expect(jobs).toHaveLength(1);
    expect(await worker.handler(sqsEvent(jobs, 'arn:aws:sqs:us-east-1:0:image-noise.fifo'), lambdaContext)).toEqual({ batchItemFailures: [] });
    const [result] = await state.resultsOf(ct.studyInstanceUID);
    expect(result).toMatchObject({ analyserId: 'image-noise', status: 'analysed' });
    // The model ran from the bundle (its WebAssembly beside it), and the SR the writers made is in the archive.
    expect(result.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.objects.length).toBeGreaterThan(0);
    const originalsAfter = (await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'originals/' }))).KeyCount;
    expect(originalsAfter).toBe(originalsBefore! + result.objects.length);
  }, 60_000);
});
