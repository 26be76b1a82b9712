// The AI pipeline's code over the AWS adapters: archive events from SQS, state in DynamoDB, one SQS FIFO
// queue (with its dead-letter queue) per analyser, the model store on S3. A study stored through the
// DICOMweb app is analysed and its SR and SEG are stored back, as in local mode.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { serve, type ServerType } from '@hono/node-server';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { builtInAnalysers } from '../../lambdas/ai/analysers/built-in.js';
import { IMAGE_NOISE_MODEL } from '../../lambdas/ai/models/model-info.js';
import { AiPipeline } from '../../lambdas/ai/pipeline/pipeline.js';
import type { AnalysisJob } from '../../lambdas/ai/ports.js';
import { ModelStore } from '../../lambdas/ai/runtime/model-store.js';
import { ModelRuntime } from '../../lambdas/ai/runtime/onnx-runtime.js';
import { createDicomWebApp } from '../../lambdas/dicomweb/app.js';
import type { ArchiveEvent } from '../../lambdas/storage/ports.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import { DynamoDbAiState } from '../../lambdas/storage/aws/dynamodb-ai-state.js';
import { SqsWorkQueue } from '../../lambdas/storage/aws/sqs-work-queue.js';
import { stow, testAiConfig, testConfig } from '../helpers/archive.js';
import { createAiStateTable } from '../helpers/ai-state-table.js';
import { createIndexTable } from '../helpers/index-table.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';
import { emulatorClients } from '../helpers/aws-emulators.js';

const config = testAiConfig({ pollIntervalMs: 100, retryBackoffMs: 1000 });

describe('the AI pipeline on the AWS adapters', () => {
  let server: ServerType;
  let url: string;
  let pipeline: AiPipeline;
  let state: DynamoDbAiState;
  let running = true;
  let consuming: Promise<void>;
  let sqs: SQSClient;

  beforeAll(async () => {
    const fauxqs = inject('fauxqsEndpoint');
    const clients = emulatorClients({ fauxqs, dynamodb: inject('dynamoDbEndpoint') });
    const { s3, dynamodb } = clients;
    sqs = clients.sqs;
    const name = `ai-aws-${process.pid}`;
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    const events = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-events` }))).QueueUrl!;
    const storage = createAwsStorage({ bucket: name, table: await createIndexTable(dynamodb), eventsQueueUrl: events }, { s3, sqs, dynamodb });
    state = new DynamoDbAiState(dynamodb, await createAiStateTable(dynamodb));
    const models = new ModelStore(storage.blobs, state);
    await models.register(IMAGE_NOISE_MODEL.name, IMAGE_NOISE_MODEL.version, readFileSync(IMAGE_NOISE_MODEL.file), IMAGE_NOISE_MODEL.provenance);
    const analysers = builtInAnalysers(config, new ModelRuntime(models));
    const fifo = async (queue: string) => (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-${queue}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '60' } }))).QueueUrl!;
    const pairs: Record<string, { url: string; deadLetterUrl: string }> = {};
    for (const a of analysers) pairs[a.id] = { url: await fifo(a.id), deadLetterUrl: await fifo(`${a.id}-dead`) };
    const queue = new SqsWorkQueue<AnalysisJob>(sqs, pairs, { maxAttempts: config.maxAttempts, backoffBaseMs: config.retryBackoffMs });
    pipeline = new AiPipeline({ storage, state, queue, analysers, config: { quietPeriodMs: config.quietPeriodMs, pollIntervalMs: config.pollIntervalMs } });
    await pipeline.start();
    // What the events consumer function does on AWS: archive events from SQS into the pipeline.
    consuming = (async () => {
      while (running) {
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: events, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        for (const m of res.Messages ?? []) {
          await pipeline.handleEvent(JSON.parse(m.Body!) as ArchiveEvent);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: events, ReceiptHandle: m.ReceiptHandle! }));
        }
        if (!res.Messages?.length) await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const app = createDicomWebApp(storage, testConfig());
    server = await new Promise((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicomweb`;
  });
  afterAll(async () => {
    running = false;
    await consuming;
    await pipeline?.stop();
    await new Promise((r) => server?.close(r));
    sqs?.destroy();
  });

  it('analyses a stored study and stores its SR and SEG in the archive', async () => {
    const ct = syntheticCt({ patientID: 'AWS-1', studyDate: '20250101', studyDescription: 'CT CHEST', slices: 6, size: 32, sphereRadiusMm: 5 });
    expect((await stow(url, ct.files)).status).toBe(200);
    let item;
    for (let i = 0; i < 200 && !item; i++) {
      item = (await state.worklist({ state: 'analysed', limit: 10, offset: 0 })).find((w) => w.studyInstanceUID === ct.studyInstanceUID);
      if (!item) await new Promise((r) => setTimeout(r, 100));
    }
    expect(item).toBeDefined();
    const results = await state.resultsOf(ct.studyInstanceUID);
    expect(results.map((r) => r.analyserId).sort()).toEqual(['image-noise', 'missing-priors', 'protocol-check', 'threshold-segmentation', 'triage']);
    const seg = results.find((r) => r.analyserId === 'threshold-segmentation')!;
    expect(seg.outputs.volumeMl).toBeCloseTo((ct.sphereVoxels * ct.voxelMm3) / 1000, 6);
    const series = (await (await fetch(`${url}/studies/${ct.studyInstanceUID}/series`)).json()) as Array<Record<string, { Value?: string[] }>>;
    expect(series.map((s) => s['00080060'].Value?.[0]).sort()).toEqual(['CT', 'SEG', 'SR', 'SR', 'SR', 'SR', 'SR']);
  }, 60_000);
});
