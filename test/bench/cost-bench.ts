// `npm run bench:cost`: how many S3, DynamoDB and SQS requests the archive makes per stored instance, per
// QIDO query and per retrieval, counted by SDK middleware while a workload runs against the AWS
// implementations (DynamoDB Local, fauxqs), and what that costs at the list prices below. Writes
// .tmp/cost-bench-results.json. Prices are inputs, not measurements: check them against AWS's pages.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type { FinalizeRequestMiddleware, MetadataBearer, MiddlewareStack } from '@smithy/types';
import { startFauxqs } from 'fauxqs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDicomWebApp } from '../../lambdas/dicomweb/app.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import { testConfig, multipartBody, BOUNDARY } from '../helpers/archive.js';
import { startDynamoDbLocal } from '../helpers/dynamodb-local.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { syntheticInstance } from '../helpers/synthetic.js';
import { emulatorClients } from '../helpers/aws-emulators.js';

/** us-east-1 list prices used for the dollars (USD). */
const PRICES = {
  s3PutPer1000: 0.005,
  s3GetPer1000: 0.0004,
  s3StandardGbMonth: 0.023,
  s3StandardIaGbMonth: 0.0125,
  s3GlacierIrGbMonth: 0.004,
  dynamoWritePerMillion: 0.625,
  dynamoReadPerMillion: 0.125,
  dynamoGbMonth: 0.25,
  sqsPerMillion: 0.4,
  lambdaPerMillion: 0.2,
  lambdaArmGbSecond: 0.0000133334,
  apiGatewayRestPerMillion: 3.5,
};

const repoRoot = resolve(import.meta.dirname, '../..');
const counts = new Map<string, number>();
const count = (service: string) => {
  const middleware: FinalizeRequestMiddleware<object, MetadataBearer> = (next, context) => async (args) => {
    const op = `${service}:${(context as { commandName?: string }).commandName?.replace(/Command$/, '')}`;
    counts.set(op, (counts.get(op) ?? 0) + 1);
    return next(args);
  };
  return (client: { middlewareStack: MiddlewareStack<object, MetadataBearer> }) => client.middlewareStack.add(middleware, { step: 'finalizeRequest', priority: 'low', name: 'countRequests' });
};
const snapshot = () => new Map(counts);
const since = (before: Map<string, number>) => Object.fromEntries([...counts].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, v]) => (v as number) > 0)) as Record<string, number>;

const dynamo = await startDynamoDbLocal();
const fauxqs = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
try {
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  const { s3, sqs } = emulatorClients({ fauxqs: endpoint });
  await s3.send(new CreateBucketCommand({ Bucket: 'cost' }));
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'cost' }))).QueueUrl!;
  const table = await createIndexTable(dynamo.client);
  count('S3')(s3);
  count('SQS')(sqs);
  count('DynamoDB')(dynamo.client);
  const storage = createAwsStorage({ bucket: 'cost', table, eventsQueueUrl: queueUrl, auditTable: await createAuditTable(dynamo.client) }, { s3, sqs, dynamodb: dynamo.client });
  const app = createDicomWebApp(storage, testConfig());
  const call = async (path: string, init?: RequestInit) => {
    const res = await app.request(`http://localhost/dicomweb${path}`, init);
    await res.arrayBuffer();
    if (res.status >= 300) throw new Error(`${path}: ${res.status}`);
  };

  // Workload: CT studies of 2 series × 100 slices, stored 10 instances per STOW-RS request.
  const STUDIES = 3;
  const SLICES = 100;
  const pixels = new Uint16Array(128 * 128).map((_, i) => i % 4096);
  const uidOf = (...n: number[]) => `1.2.826.0.1.3680043.10.1002.${n.join('.')}`;
  const before = snapshot();
  for (let s = 0; s < STUDIES; s++) {
    for (let se = 0; se < 2; se++) {
      const files = Array.from({ length: SLICES }, (_, i) =>
        syntheticInstance(
          { StudyInstanceUID: uidOf(s), SeriesInstanceUID: uidOf(s, se), SOPInstanceUID: uidOf(s, se, i), PatientID: `COST${s}`, PatientName: `COST^PATIENT${s}`, StudyDate: '20250101', Modality: 'CT', SeriesNumber: se + 1, InstanceNumber: i + 1, Rows: 128, Columns: 128, BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' },
          pixels,
        ),
      );
      for (let i = 0; i < files.length; i += 10) {
        await call('/studies', { method: 'POST', body: multipartBody(files.slice(i, i + 10).map((bytes) => ({ bytes }))), headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}` } });
      }
    }
  }
  const instances = STUDIES * 2 * SLICES;
  const store = since(before);

  const measure = async (paths: string[], accept = 'application/dicom+json') => {
    const b = snapshot();
    for (const p of paths) await call(p, { headers: { Accept: accept } });
    return Object.fromEntries(Object.entries(since(b)).map(([k, v]) => [k, v / paths.length]));
  };
  const qido = {
    'study by PatientID': await measure([...Array(STUDIES).keys()].map((s) => `/studies?PatientID=COST${s}`)),
    'study by name prefix': await measure([...Array(STUDIES).keys()].map((s) => `/studies?PatientName=COST^PATIENT${s}*`)),
    'study by date range': await measure(['/studies?StudyDate=20240101-20251231&limit=101']),
    'series of a study': await measure([...Array(STUDIES).keys()].map((s) => `/studies/${uidOf(s)}/series`)),
    'instances of a series': await measure([...Array(STUDIES).keys()].map((s) => `/studies/${uidOf(s)}/series/${uidOf(s, 0)}/instances`)),
  };
  const frames = await measure(
    Array.from({ length: 50 }, (_, i) => `/studies/${uidOf(i % STUDIES)}/series/${uidOf(i % STUDIES, 1)}/instances/${uidOf(i % STUDIES, 1, i)}/frames/1`),
    'multipart/related; type="application/octet-stream"; transfer-syntax=*',
  );
  const seriesMetadata = await measure([...Array(STUDIES).keys()].map((s) => `/studies/${uidOf(s)}/series/${uidOf(s, 0)}/metadata`));
  const perInstance = Object.fromEntries(Object.entries(store).map(([k, v]) => [k, v / instances]));

  // Dollars per 1,000 CT studies per month: 500 instances of 0.5 MB each (250 MB a study), stored once and
  // read twice (5 QIDO queries, metadata of 2 series, every frame once per read).
  const sum = (m: Record<string, number>, pred: (k: string) => boolean) => Object.entries(m).filter(([k]) => pred(k)).reduce((a, [, v]) => a + v, 0);
  const isS3Write = (k: string) => /^S3:(Put|Upload|CreateMultipart|CompleteMultipart|List|Copy)/.test(k);
  const isS3Read = (k: string) => /^S3:(Get|Head)/.test(k);
  const isDdbWrite = (k: string) => /^DynamoDB:(Put|Update|Delete|BatchWrite|TransactWrite)/.test(k);
  const isDdbRead = (k: string) => /^DynamoDB:(Get|BatchGet|Query|Scan)/.test(k);
  const perStudy = 500;
  const readsPerStudy = 2;
  const perQuery = (pred: (k: string) => boolean) => Object.values(qido).reduce((a, m) => a + sum(m, pred), 0) / Object.keys(qido).length;
  const isAuditWrite = (k: string) => k === 'DynamoDB:PutItem';
  // An audit record (PutItem, one per request) is 1.5-2 KB with its keys: two write units.
  const AUDIT_WRITE_UNITS = 2;
  const requests = {
    s3Writes: sum(perInstance, isS3Write) * perStudy,
    s3Reads: (sum(perInstance, isS3Read) * perStudy) + readsPerStudy * (sum(frames, isS3Read) * perStudy + 2 * sum(seriesMetadata, isS3Read)),
    // A TransactWriteItems of n items costs 2n write units; the store transaction writes 6 items.
    dynamoWriteUnits:
      sum(perInstance, (k) => isDdbWrite(k) && !k.includes('Transact') && !isAuditWrite(k)) * perStudy +
      (perInstance['DynamoDB:TransactWriteItems'] ?? 0) * 12 * perStudy +
      AUDIT_WRITE_UNITS * (sum(perInstance, isAuditWrite) * perStudy + readsPerStudy * (5 * perQuery(isAuditWrite) + sum(frames, isAuditWrite) * perStudy + 2 * sum(seriesMetadata, isAuditWrite))),
    dynamoReads: sum(perInstance, isDdbRead) * perStudy + readsPerStudy * (5 * perQuery(isDdbRead) + sum(frames, isDdbRead) * perStudy + 2 * sum(seriesMetadata, isDdbRead)),
    sqs: sum(perInstance, (k) => k.startsWith('SQS')) * perStudy,
    apiRequests: perStudy / 10 + readsPerStudy * (5 + 2 + perStudy),
  };
  const gb = (perStudy * 0.5) / 1024;
  const dollars = {
    requests:
      ((requests.s3Writes / 1000) * PRICES.s3PutPer1000 + (requests.s3Reads / 1000) * PRICES.s3GetPer1000 + (requests.dynamoWriteUnits / 1e6) * PRICES.dynamoWritePerMillion +
        (requests.dynamoReads / 1e6) * PRICES.dynamoReadPerMillion + (requests.sqs / 1e6) * PRICES.sqsPerMillion +
        (requests.apiRequests / 1e6) * (PRICES.apiGatewayRestPerMillion + PRICES.lambdaPerMillion) + requests.apiRequests * 0.1 * 1.769 * PRICES.lambdaArmGbSecond) * 1000,
    storageFirstMonth: gb * 1000 * PRICES.s3StandardGbMonth,
    storageAfter90Days: gb * 1000 * PRICES.s3GlacierIrGbMonth,
  };
  const results = { instances, perInstance, qido, perFrame: frames, perSeriesMetadata: seriesMetadata, requestsPerStudy: requests, dollarsPer1000StudiesPerMonth: dollars, prices: PRICES };
  mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
  writeFileSync(join(repoRoot, '.tmp/cost-bench-results.json'), JSON.stringify(results, null, 2));
  console.log(JSON.stringify(results, null, 2));
  s3.destroy();
  sqs.destroy();
} finally {
  await fauxqs.stop();
  await dynamo.stop();
}
