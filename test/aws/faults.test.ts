// Throttling and 5xx from S3, DynamoDB and SQS, before or after the call took effect: clients retry
// what was not acknowledged, and afterwards every acknowledged instance is stored exactly once and
// whole, counts are exact, every stored instance was announced, and nothing is half-written (no index
// entry without its original; originals without an index entry only where a cleanup call failed, and
// those are found and removed by the sweep).
import { createHash } from 'node:crypto';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, DeleteMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createDicomWebApp } from '../../lambdas/dicomweb/app.js';
import { sweepOrphans } from '../../lambdas/dicomweb/store/blob-lifecycle.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import type { ArchiveStorage } from '../../lambdas/storage/ports.js';
import { getMultipart, stow, testConfig } from '../helpers/archive.js';
import { injectFaults, type FaultCounter } from '../helpers/fault-injection.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';
import { emulatorClients } from '../helpers/aws-emulators.js';
import { serveApp, type ServedApp } from '../helpers/serve.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('faults from S3, DynamoDB and SQS', () => {
  let storage: ArchiveStorage;
  let server: ServedApp;
  let url: string;
  let queueUrl: string;
  let sqs: SQSClient;
  const counter: FaultCounter = { injected: 0, afterSuccess: 0, enabled: false };

  beforeAll(async () => {
    const fauxqs = inject('fauxqsEndpoint');
    const retries = { maxAttempts: 4, retryMode: 'standard' as const };
    const clients = emulatorClients({ fauxqs, dynamodb: inject('dynamoDbEndpoint') }, retries);
    sqs = emulatorClients({ fauxqs }).sqs; // a reader of the events without injected faults
    const name = `faults-${process.pid}`;
    await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
    queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
    const table = await createIndexTable(clients.dynamodb);
    // Up to four attempts per call at a 30 % fault rate: most calls get through on a retry, some do not.
    injectFaults(clients.s3, { rate: 0.3, seed: 1 }, counter);
    injectFaults(clients.dynamodb, { rate: 0.3, seed: 2 }, counter);
    injectFaults(clients.sqs, { rate: 0.3, seed: 3 }, counter);
    storage = createAwsStorage({ bucket: name, table, eventsQueueUrl: queueUrl, auditTable: await createAuditTable(clients.dynamodb) }, clients);
    const app = createDicomWebApp(storage, testConfig());
    server = await serveApp(app);
    url = `${server.origin}/dicomweb`;
  });
  afterAll(async () => {
    await server?.close();
    sqs?.destroy();
  });

  it('loses nothing acknowledged and leaves nothing half-written', async () => {
    const started = new Date(Date.now() - 1000);
    const studies = [uid(), uid(), uid()];
    const instances = Array.from({ length: 36 }, (_, i) => {
      const bytes = syntheticInstance({ StudyInstanceUID: studies[i % 3], SeriesInstanceUID: `${studies[i % 3]}.${i % 2}`, PatientID: `F${i % 3}`, InstanceNumber: i, Rows: 8, Columns: 8, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' }, new Uint16Array(64).fill(i));
      return { study: studies[i % 3], bytes };
    });
    counter.enabled = true;
    let retriedRequests = 0;
    // Four clients, requests of three instances; whatever is not answered 200 is sent again.
    const batches: Array<typeof instances> = [];
    for (let i = 0; i < instances.length; i += 3) batches.push(instances.slice(i, i + 3));
    await Promise.all(
      [0, 1, 2, 3].map(async (c) => {
        for (let b = c; b < batches.length; b += 4) {
          for (let attempt = 1; ; attempt++) {
            const res = await stow(url, batches[b].map((x) => x.bytes));
            if (res.status === 200) break;
            retriedRequests++;
            if (attempt === 20) throw new Error(`batch ${b} never stored: ${JSON.stringify(res.body).slice(0, 300)}`);
          }
        }
      }),
    );
    counter.enabled = false;
    expect(counter.injected).toBeGreaterThan(20); // the faults were real
    expect(counter.afterSuccess).toBeGreaterThan(5);

    // Every instance once, whole, with exact counts.
    for (const study of studies) {
      const listed = (await (await fetch(`${url}/studies/${study}/instances`)).json()) as unknown[];
      expect(listed).toHaveLength(12);
      const [match] = (await (await fetch(`${url}/studies?StudyInstanceUID=${study}`)).json()) as Array<Record<string, { Value: number[] }>>;
      expect(match['00201208'].Value).toEqual([12]);
      expect(match['00201206'].Value).toEqual([2]);
      const { parts } = await getMultipart(`${url}/studies/${study}`, 'multipart/related; type="application/dicom"');
      expect(parts.map((p) => sha(p.body)).sort()).toEqual(instances.filter((x) => x.study === study).map((x) => sha(x.bytes)).sort());
    }
    // Every stored instance announced at least once.
    const announced = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (!res.Messages?.length) break;
      for (const m of res.Messages) announced.add((JSON.parse(m.Body!) as { sopInstanceUID: string }).sopInstanceUID);
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: res.Messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
    }
    const storedSops = new Set<string>();
    for (const study of studies) for (const r of await storage.index.listInstances({ studyInstanceUID: study })) storedSops.add(r.sopInstanceUID);
    expect(storedSops.size).toBe(36);
    for (const sop of storedSops) expect(announced.has(sop), `event for ${sop}`).toBe(true);

    // Nothing half-written: every index entry has its original; stray originals are swept away.
    for (const study of studies) for (const r of await storage.index.listInstances({ studyInstanceUID: study })) expect(await storage.blobs.get(r.blobKey)).toBeDefined();
    // A sweep with a cut-off before this test spares every original written since, in flight or not.
    expect(await sweepOrphans(storage, { writtenBefore: started })).toEqual({ examined: 0, removed: 0 });
    await sweepOrphans(storage);
    const keys: string[] = [];
    for await (const { key } of storage.blobs.list('originals/')) keys.push(key);
    expect(keys).toHaveLength(36);
    console.log(JSON.stringify({ faultsInjected: counter.injected, afterTheCallTookEffect: counter.afterSuccess, requestsSentAgain: retriedRequests }));
  });
});
