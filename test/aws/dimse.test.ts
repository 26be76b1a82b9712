// The DIMSE edge as the Fargate task runs it (lambdas/aws/streaming/dimse.ts): storescu into S3 and
// DynamoDB (DynamoDB Local), C-FIND over the DynamoDB index, and forwarding through an SQS FIFO queue
// (fauxqs) to dcmtk's storescp; unknown callers refused, as on AWS by default; the forwarding API behind
// its scope.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, inject } from 'vitest';
import { forwardingFromEnv } from '../../lambdas/aws/handlers/ai-events.js';
import { createStreamingApp } from '../../lambdas/aws/streaming/app.js';
import { startAwsDimse, type AwsDimse } from '../../lambdas/aws/streaming/dimse.js';
import { storeInstance } from '../../lambdas/dicomweb/store/store-instance.js';
import { queueForwards } from '../../lambdas/dimse/forwarding/enqueue.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import type { ArchiveStorage } from '../../lambdas/storage/ports.js';
import { accessTokenSigner } from '../helpers/access-tokens.js';
import { testConfig } from '../helpers/archive.js';
import { emulatorClients } from '../helpers/aws-emulators.js';
import { dcmtk, findscu, freePort, startStorescp } from '../helpers/dcmtk.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { SAMPLES_DIR, sampleBytes } from '../helpers/samples.js';
import { serveApp } from '../helpers/serve.js';

const CT = { file: 'highdicom/ct_image.dcm', study: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322' };
const clients = emulatorClients({ fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') });
let dimse: AwsDimse | undefined;
let storage: ArchiveStorage;
let storescp: Awaited<ReturnType<typeof startStorescp>>;
let received: string;
let port: number;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const name = `dimse-${process.pid}`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
  const events = await clients.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const fifo = (suffix: string) => clients.sqs.send(new CreateQueueCommand({ QueueName: `${name}-${suffix}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '60' } }));
  const [forward, deadLetters] = await Promise.all([fifo('forward'), fifo('forward-dlq')]);
  storage = createAwsStorage({ bucket: name, table: await createIndexTable(clients.dynamodb), eventsQueueUrl: events.QueueUrl!, auditTable: await createAuditTable(clients.dynamodb) }, clients);
  received = mkdtempSync(join(tmpdir(), 'aws-forwarded-'));
  storescp = await startStorescp(received);
  port = await freePort();
  env = {
    DIMSE_PORT: String(port),
    DIMSE_HOST: '127.0.0.1',
    DIMSE_PEERS: `MODALITY@127.0.0.1:104:store+find,STORESCP@127.0.0.1:${storescp.port}:dest`,
    DIMSE_FORWARD: 'STORESCP=modality:CT;STORESCP=ai',
    DIMSE_FORWARD_QUEUE_URL: forward.QueueUrl!,
    DIMSE_FORWARD_DEAD_LETTER_URL: deadLetters.QueueUrl!,
  };
  dimse = await startAwsDimse(storage, testConfig(), clients.sqs, () => undefined, env);
}, 60_000);

afterAll(async () => {
  await dimse?.close();
  storescp?.stop();
  await storage?.index.close();
  rmSync(received, { recursive: true, force: true });
});

it('is off unless the task sets DIMSE_PORT', async () => {
  expect(await startAwsDimse(storage, testConfig(), clients.sqs, () => undefined, {})).toBeUndefined();
});

it('stores a C-STORE in S3 and DynamoDB, finds it with C-FIND, and forwards it through SQS', async () => {
  const store = await dcmtk('storescu', ['-v', '-aet', 'MODALITY', '-aec', 'CLOUDPACS', '127.0.0.1', String(port), join(SAMPLES_DIR, CT.file)]);
  expect(store.output).toMatch(/Received Store Response \(Success\)/);
  const { answers } = await findscu(port, ['-aet', 'MODALITY', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '-k', 'ModalitiesInStudy']);
  expect(answers.map((a) => a['0020000D']?.Value?.[0])).toEqual([CT.study]);
  for (let i = 0; i < 100 && readdirSync(received).length === 0; i++) await new Promise((r) => setTimeout(r, 200));
  expect(readdirSync(received)).toHaveLength(1);
});

it('refuses a calling AE title it does not know', async () => {
  const echo = await dcmtk('echoscu', ['-aet', 'STRANGER', '-aec', 'CLOUDPACS', '127.0.0.1', String(port)]);
  expect(echo.code).not.toBe(0);
  expect(echo.output).toMatch(/Calling AE Title Not Recognized/i);
});

it("forwards the AI pipeline's results: the events queue's consumer queues them, the task sends them", async () => {
  const before = readdirSync(received).length;
  // An SR as the AI pipeline's worker stores it (producedBy), and its event as the events function receives it.
  const sr = sampleBytes('highdicom/sr_document.dcm');
  const outcome = await storeInstance(storage, sr, { duplicatePolicy: 'reject', producedBy: 'measurement@1.0.0' });
  expect(outcome.status).toBe('stored');
  if (outcome.status === 'failed') return;
  const forwarding = forwardingFromEnv(clients.sqs, env)!;
  await queueForwards(forwarding.rules, forwarding.queue, {
    type: 'InstanceStored',
    studyInstanceUID: outcome.instance.studyInstanceUID,
    seriesInstanceUID: outcome.instance.seriesInstanceUID,
    sopInstanceUID: outcome.instance.sopInstanceUID,
    sopClassUID: outcome.instance.sopClassUID,
    at: new Date().toISOString(),
    producedBy: 'measurement@1.0.0',
    modality: 'SR',
  });
  for (let i = 0; i < 100 && readdirSync(received).length === before; i++) await new Promise((r) => setTimeout(r, 200));
  expect(readdirSync(received).length).toBe(before + 1);
});

it('shows the forwarding rules and dead letters through the streaming runtime to a token with the govern scope only, audited', async () => {
  const pool = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issuer = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Forwarding';
  const verifier = CognitoJwtVerifier.create({ userPoolId: 'eu-west-1_Forwarding', tokenUse: 'access', clientId: null });
  verifier.cacheJwks({ keys: [{ ...pool.publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'RS256', use: 'sig' }] } as never);
  const token = accessTokenSigner(pool.privateKey, 'k', { iss: issuer, client_id: 'operations', sub: 'operator-1' });
  const server = await serveApp(createStreamingApp(storage, testConfig(), verifier, () => undefined, { forwarding: dimse!.forwardingApp! }));
  try {
    const since = new Date().toISOString();
    const get = (path: string, scope?: string) => fetch(`${server.origin}/dimse/forwarding${path}`, scope ? { headers: { Authorization: `Bearer ${token({ scope })}` } } : {});
    expect((await get('')).status).toBe(401);
    expect((await get('', 'dicomweb/read dicomweb/write')).status).toBe(403);
    const rules = await get('', 'dicomweb/govern');
    expect(rules.status).toBe(200);
    expect(((await rules.json()) as { rules: Array<{ rule: string }> }).rules.map((r) => r.rule)).toEqual(['STORESCP=modality:CT', 'STORESCP=ai']);
    const dead = await get('/dead-letters', 'dicomweb/govern');
    expect(dead.status).toBe(200);
    expect(Array.isArray(await dead.json())).toBe(true);
    const records = [];
    for await (const r of storage.audit.search({ since })) records.push(`${r.ActiveParticipant[0].UserID} ${r.EventIdentification.EventOutcomeDescription}`);
    expect(records).toHaveLength(4);
    expect(records).toEqual(expect.arrayContaining(['operator-1 HTTP 200', expect.stringMatching(/^operator-1 HTTP 403: the access token lacks the scope dicomweb\/govern/), expect.stringMatching(/^unauthenticated HTTP 401/)]));
    expect(records.filter((r) => r === 'operator-1 HTTP 200')).toHaveLength(2);
  } finally {
    await server.close();
  }
});
