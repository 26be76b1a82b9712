// The disaster-recovery region's read API as its Lambda handler runs it, behind the API Gateway stand-in,
// over the emulators. The "replica" bucket and table are the ones the primary wrote (the emulators have
// one region; copying between regions is S3 replication's and the global table's job, not ours). The
// user pool's keys come from a local JWKS endpoint in place of Cognito's, through the same copy into the
// index table that the scheduled function makes, so tokens are checked exactly as in the DR region:
// against the stored copy.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TokenCheckUnavailableError } from '../../lambdas/aws/auth/bearer-scopes.js';
import { indexTableTokenKeys, jwksUrlOf, snapshotTokenKeys, storedKeysVerifier, type TokenKeysStore } from '../../lambdas/aws/auth/token-keys.js';
import { apiGatewayHandlerFor } from '../../lambdas/aws/handlers/dicomweb-api.js';
import { replicaStorage } from '../../lambdas/aws/handlers/dicomweb-replica.js';
import { createReplicaApp } from '../../lambdas/aws/replica/app.js';
import { storeInstance } from '../../lambdas/dicomweb/store/store-instance.js';
import type { StructuredLog } from '../../lambdas/logging.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import type { ArchiveStorage } from '../../lambdas/storage/ports.js';
import { accessTokenSigner } from '../helpers/access-tokens.js';
import { BOUNDARY, multipartBody, testConfig } from '../helpers/archive.js';
import { startApiGateway, type ApiGatewayStandIn } from '../helpers/api-gateway.js';
import { emulatorClientConfigs, emulatorClients } from '../helpers/aws-emulators.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

const USER_POOL_ID = 'eu-west-1_Replica1';
const ISSUER = `https://cognito-idp.eu-west-1.amazonaws.com/${USER_POOL_ID}`;

const signer = (privateKey: KeyObject, kid: string) => accessTokenSigner(privateKey, kid, { iss: ISSUER, client_id: 'viewer', sub: 'reader-1' });

/** The user pool's JWKS endpoint, answering whatever the test sets. */
async function jwksEndpoint(): Promise<{ url: string; answer: { status: number; body: string }; close(): Promise<void> }> {
  const answer = { status: 200, body: '{}' };
  const server = http.createServer((_req, res) => {
    res.writeHead(answer.status, { 'Content-Type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`, answer, close: () => new Promise((r) => server.close(() => r())) };
}

describe('the disaster-recovery read API', () => {
  const endpoints = () => ({ fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') });
  let primary: ArchiveStorage;
  /** The copy of the pool's keys as the primary's scheduled function writes it. */
  let primaryKeys: TokenKeysStore;
  let gateway: ApiGatewayStandIn;
  let jwks: Awaited<ReturnType<typeof jwksEndpoint>>;
  let token: (claims: Record<string, unknown>) => string;
  let forged: (claims: Record<string, unknown>) => string;
  const poolKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });
  const audit: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const study = uid();
  const series = uid();
  const sop = uid();

  beforeAll(async () => {
    const clients = emulatorClients(endpoints());
    const name = `replica-${process.pid}`;
    await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
    const queue = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
    const table = await createIndexTable(clients.dynamodb);
    const auditTable = await createAuditTable(clients.dynamodb);
    primary = createAwsStorage({ bucket: name, table, eventsQueueUrl: queue, auditTable }, clients);
    const image = syntheticInstance(
      { StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: sop, PatientID: 'DR-1', Rows: 16, Columns: 16, BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' },
      new Uint16Array(256).map((_, i) => i),
    );
    expect((await storeInstance(primary, image, { duplicatePolicy: 'reject' })).status).toBe('stored');

    primaryKeys = indexTableTokenKeys(clients.dynamodb, table);
    jwks = await jwksEndpoint();
    const replica = replicaStorage({ bucket: name, table, auditTable }, emulatorClientConfigs(endpoints()));
    const log: StructuredLog = (level, message, fields = {}) => audit.push({ level, message, fields });
    gateway = await startApiGateway(apiGatewayHandlerFor(createReplicaApp(replica.storage, testConfig(), storedKeysVerifier(replica.tokenKeys), log)), undefined);
    token = signer(poolKeys.privateKey, 'pool-key-1');
    forged = signer(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'pool-key-1');
  });
  afterAll(async () => {
    await gateway?.close();
    await jwks?.close();
  });

  const get = (path: string, authorization?: string, accept = 'application/dicom+json') =>
    fetch(`${gateway.url}/dicomweb${path}`, { headers: { Accept: accept, ...(authorization ? { Authorization: authorization } : {}) } });

  it('names the user pool\'s JWKS endpoint from the pool id', () => {
    expect(jwksUrlOf('eu-central-1_AbC123')).toBe('https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbC123/.well-known/jwks.json');
    expect(() => jwksUrlOf('../../etc')).toThrow(/not a Cognito user pool id/);
  });

  it('answers 503 (not 401: the token may be fine) before the primary has copied the pool\'s keys', async () => {
    const res = await get('/studies', `Bearer ${token({ scope: 'dicomweb/read' })}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(((await res.json()) as { error: string }).error).toMatch(/cannot be checked now: this replica holds no copy of the user pool's signing keys/);
  });

  it('copies the pool\'s keys into the index table only when they change, and keeps the copy when the endpoint fails', async () => {
    jwks.answer.status = 200;
    jwks.answer.body = JSON.stringify({ keys: [publicJwk(poolKeys.publicKey, 'pool-key-1')] });
    const first = await snapshotTokenKeys(USER_POOL_ID, primaryKeys, { url: jwks.url });
    expect(first).toEqual({ changed: true, keyIds: ['pool-key-1'] });
    expect(await snapshotTokenKeys(USER_POOL_ID, primaryKeys, { url: jwks.url })).toEqual({ changed: false, keyIds: ['pool-key-1'] });
    const stored = await primaryKeys.get();
    expect(stored?.userPoolId).toBe(USER_POOL_ID);

    for (const [status, body, message] of [
      [503, '{"message":"Service Unavailable"}', /answered 503/],
      [200, '<html>maintenance</html>', /did not answer with JSON/],
      [200, '{"keys":"none"}', /not.*JSON Web Key Set/],
    ] as const) {
      jwks.answer.status = status;
      jwks.answer.body = body;
      await expect(snapshotTokenKeys(USER_POOL_ID, primaryKeys, { url: jwks.url })).rejects.toThrow(message);
      expect(await primaryKeys.get()).toEqual(stored);
    }
  });

  it('answers searches, metadata and retrieval with a read token checked against the copied keys', async () => {
    const auth = `Bearer ${token({ scope: 'dicomweb/read' })}`;
    const studies = await get(`/studies?PatientID=DR-1`, auth);
    expect(studies.status).toBe(200);
    expect(((await studies.json()) as Array<Record<string, { Value: string[] }>>)[0]['0020000D'].Value).toEqual([study]);
    // The copy of the keys in the same table is no study: a search for everything finds the one study.
    const all = (await (await get('/studies', auth)).json()) as Array<Record<string, { Value: string[] }>>;
    expect(all.map((s) => s['0020000D'].Value[0])).toEqual([study]);
    const metadata = await get(`/studies/${study}/series/${series}/instances/${sop}/metadata`, auth);
    expect(metadata.status).toBe(200);
    const frame = await get(`/studies/${study}/series/${series}/instances/${sop}/frames/1`, auth, 'multipart/related; type="application/octet-stream"');
    expect(frame.status).toBe(200);
    expect((await frame.arrayBuffer()).byteLength).toBeGreaterThan(512);
    const instance = await get(`/studies/${study}/series/${series}/instances/${sop}`, auth, 'multipart/related; type="application/dicom"');
    expect(instance.status).toBe(200);
  });

  it('goes on checking tokens with the copy it read when a later read of the copy fails', async () => {
    let failing = false;
    let clock = Date.now();
    // The real copy in the table, behind a read that can be made to fail (as a throttled DynamoDB would).
    const flaky: TokenKeysStore = { get: () => (failing ? Promise.reject(new Error('ThrottlingException')) : primaryKeys.get()), put: (s) => primaryKeys.put(s) };
    const verifier = storedKeysVerifier(flaky, () => clock);
    const reader = token({ scope: 'dicomweb/read' });
    expect((await verifier.verify(reader)).scope).toBe('dicomweb/read');
    failing = true;
    clock += 11 * 60 * 1000; // past the reload interval
    expect((await verifier.verify(reader)).scope).toBe('dicomweb/read');
    await expect(verifier.verify(forged({ scope: 'dicomweb/read' }))).rejects.toThrow(/signature/i);
    // A verifier that never read the copy cannot check anything: 503 territory, not 401.
    await expect(storedKeysVerifier(flaky, () => clock).verify(reader)).rejects.toBeInstanceOf(TokenCheckUnavailableError);
  });

  it('refuses stores and deletes with 503 and Retry-After, whatever the token, and changes nothing', async () => {
    const writer = `Bearer ${token({ scope: 'dicomweb/read dicomweb/write dicomweb/delete' })}`;
    const stow = await fetch(`${gateway.url}/dicomweb/studies`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`, Authorization: writer },
      body: multipartBody([{ bytes: syntheticInstance({ StudyInstanceUID: uid(), SeriesInstanceUID: uid() }) }]),
    });
    expect(stow.status).toBe(503);
    expect(stow.headers.get('retry-after')).toBe('300');
    expect(((await stow.json()) as { error: string }).error).toMatch(/disaster-recovery copy, which is read-only/);
    const del = await fetch(`${gateway.url}/dicomweb/studies/${study}`, { method: 'DELETE', headers: { Authorization: writer } });
    expect(del.status).toBe(503);
    expect((await get(`/studies/${study}/series`, `Bearer ${token({ scope: 'dicomweb/read' })}`)).status).toBe(200);
  });

  it('refuses reads without a valid token (401) or without the read scope (403), each with an audit entry', async () => {
    const cases: Array<[string | undefined, number, RegExp]> = [
      [undefined, 401, /access token is required/],
      [`Bearer ${forged({ scope: 'dicomweb/read' })}`, 401, /not valid/],
      [`Bearer ${token({ scope: 'dicomweb/read', exp: Math.floor(Date.now() / 1000) - 60 })}`, 401, /not valid/],
      [`Bearer ${token({ scope: 'dicomweb/read', iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other' })}`, 401, /not valid/],
      [`Bearer ${token({ scope: 'dicomweb/write' })}`, 403, /lacks the scope dicomweb\/read/],
    ];
    for (const [authorization, status, message] of cases) {
      const before = audit.length;
      const res = await get('/studies', authorization);
      expect(res.status, authorization).toBe(status);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
      expect(audit.slice(before)).toEqual([expect.objectContaining({ message: 'access denied', fields: expect.objectContaining({ status, method: 'GET' }) })]);
    }
  });
});
