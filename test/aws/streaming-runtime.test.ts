// The streaming runtime as the Fargate task runs it: the DICOMweb app behind Cognito access-token checks
// (aws-jwt-verify, with a signing key made here in place of the user pool's), on a Node server over the
// emulators. It takes instances Lambda cannot, refuses requests without a token or scope with an audit
// entry, and answers 413 with guidance beyond its limit.
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { CognitoJwtVerifier, JwtRsaVerifier } from 'aws-jwt-verify';
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { request } from 'node:http';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LAMBDA_MAX_BODY_BYTES } from '../../lambdas/aws/edge/route.js';
import type { AccessTokenVerifier } from '../../lambdas/aws/auth/bearer-scopes.js';
import { createStreamingApp, HEALTH_CHECK_PATH } from '../../lambdas/aws/streaming/app.js';
import { startAwsExports } from '../../lambdas/aws/streaming/exports.js';
import { readInstanceFromFile } from '../../lambdas/dicom/file-instance.js';
import type { StructuredLog } from '../../lambdas/logging.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import type { ArchiveStorage, AuditRecord, ExportJob, ExportManifestEntry } from '../../lambdas/storage/ports.js';
import { writeWsi } from '../bench/make-wsi.js';
import { accessTokenSigner } from '../helpers/access-tokens.js';
import { BOUNDARY, multipartBody, testConfig } from '../helpers/archive.js';
import { emulatorClients } from '../helpers/aws-emulators.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { repoRoot } from '../helpers/samples.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';
import { serveApp, type ServedApp } from '../helpers/serve.js';

const run = promisify(execFile);

const USER_POOL_ID = 'eu-west-1_Streaming1';
const ISSUER = `https://cognito-idp.eu-west-1.amazonaws.com/${USER_POOL_ID}`;
const MAX_REQUEST_BYTES = 12 * 1024 * 1024;

const signer = (privateKey: KeyObject, kid: string) => accessTokenSigner(privateKey, kid, { iss: ISSUER, client_id: 'systems', sub: 'router-1' });

describe('the streaming runtime', () => {
  let server: ServedApp;
  let storage: ArchiveStorage;
  let base: string;
  let token: (claims: Record<string, unknown>) => string;
  let verifier: AccessTokenVerifier;
  let clients: ReturnType<typeof emulatorClients>;
  let bucket: string;
  let forged: (claims: Record<string, unknown>) => string;
  const audit: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];

  beforeAll(async () => {
    clients = emulatorClients({ fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') });
    const name = `streaming-${process.pid}`;
    bucket = name;
    await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
    const queue = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
    const table = await createIndexTable(clients.dynamodb);
    storage = createAwsStorage({ bucket: name, table, eventsQueueUrl: queue, auditTable: await createAuditTable(clients.dynamodb) }, clients);
    await clients.s3.send(new CreateBucketCommand({ Bucket: `${name}-exports` }));
    const pool = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...pool.publicKey.export({ format: 'jwk' }), kid: 'pool-key', alg: 'RS256', use: 'sig' };
    const cognito = CognitoJwtVerifier.create({ userPoolId: USER_POOL_ID, tokenUse: 'access', clientId: null });
    // What the verifier would fetch from the user pool's JWKS endpoint.
    cognito.cacheJwks({ keys: [jwk] } as never);
    verifier = cognito;
    token = signer(pool.privateKey, 'pool-key');
    forged = signer(stranger.privateKey, 'pool-key');
    const log: StructuredLog = (level, message, fields = {}) => audit.push({ level, message, fields });
    const config = { ...testConfig(), maxRequestBytes: MAX_REQUEST_BYTES };
    const exports = startAwsExports(storage, config, { table, exportsBucket: `${name}-exports` }, clients, verifier, log);
    const app = createStreamingApp(storage, config, verifier, log, { exports: exports.app });
    server = await serveApp(app);
    base = server.origin;
  });
  afterAll(async () => {
    await server?.close();
  });

  const stowTo = (files: Uint8Array[], authorization?: string) =>
    fetch(`${base}/dicomweb/studies`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`, ...(authorization ? { Authorization: authorization } : {}) },
      body: multipartBody(files.map((bytes) => ({ bytes }))),
    });
  const image = (study: string, side: number) =>
    syntheticInstance(
      { StudyInstanceUID: study, SeriesInstanceUID: uid(), Rows: side, Columns: side, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' },
      new Uint16Array(side * side).map((_, i) => i % 4096),
    );

  it('answers the load balancer\'s health check without a token', async () => {
    expect((await fetch(`${base}${HEALTH_CHECK_PATH}`)).status).toBe(200);
  });

  it('stores an instance too large for Lambda and streams it back, with the right scopes', async () => {
    const study = uid();
    const large = image(study, 1600); // 5 MB of pixels
    expect(large.length).toBeGreaterThan(LAMBDA_MAX_BODY_BYTES);
    const stored = await stowTo([large], `Bearer ${token({ scope: 'dicomweb/read dicomweb/write' })}`);
    expect(stored.status).toBe(200);
    const res = await fetch(`${base}/dicomweb/studies/${study}`, { headers: { Accept: 'multipart/related; type="application/dicom"', Authorization: `Bearer ${token({ scope: 'dicomweb/read' })}` } });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(large.length);
  });

  it('refuses requests without a valid token (401) or without the method\'s scope (403), and logs each refusal', async () => {
    const small = image(uid(), 8);
    const cases: Array<[string | undefined, number, RegExp]> = [
      [undefined, 401, /access token is required/],
      ['Basic dXNlcjpwYXNz', 401, /access token is required/],
      [`Bearer ${forged({ scope: 'dicomweb/write' })}`, 401, /not valid/],
      [`Bearer ${token({ scope: 'dicomweb/write', exp: Math.floor(Date.now() / 1000) - 60 })}`, 401, /not valid/],
      [`Bearer ${token({ scope: 'dicomweb/write', token_use: 'id' })}`, 401, /not valid/],
      [`Bearer ${token({ scope: 'dicomweb/write', iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other' })}`, 401, /not valid/],
      [`Bearer ${token({ scope: 'dicomweb/read' })}`, 403, /lacks the scope dicomweb\/write/],
    ];
    for (const [authorization, status, message] of cases) {
      const before = audit.length;
      const res = await stowTo([small], authorization);
      expect(res.status, authorization).toBe(status);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="dicomweb"/);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
      expect(audit.slice(before)).toEqual([expect.objectContaining({ level: 'warn', message: 'access denied', fields: expect.objectContaining({ status, method: 'POST' }) })]);
    }
    const del = await fetch(`${base}/dicomweb/studies/${uid()}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token({ scope: 'dicomweb/read dicomweb/write' })}` } });
    expect(del.status).toBe(403);
  });

  it('runs a de-identified export into the exports bucket for a caller with the export scope only, every refusal audited', async () => {
    const patient = `EXP-S-${process.pid}`;
    const study = uid();
    const files = [0, 1].map(() => syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, PatientID: patient, PatientName: 'Streaming^Export', Rows: 2, Columns: 2, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' }, new Uint16Array(4)));
    expect((await stowTo(files, `Bearer ${token({ scope: 'dicomweb/write' })}`)).status).toBe(200);
    const since = new Date().toISOString();
    const ask = (authorization?: string) =>
      fetch(`${base}/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(authorization ? { Authorization: authorization } : {}) }, body: JSON.stringify({ query: { PatientID: patient } }) });
    expect((await ask()).status).toBe(401);
    const refused = await ask(`Bearer ${token({ scope: 'dicomweb/read dicomweb/write dicomweb/audit' })}`);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/lacks the scope dicomweb\/export/);
    const started = await ask(`Bearer ${token({ scope: 'dicomweb/export' })}`);
    expect(started.status).toBe(202);
    const exporter = { Authorization: `Bearer ${token({ scope: 'dicomweb/export' })}` };
    let job = (await started.json()) as ExportJob;
    for (let i = 0; i < 100 && job.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await fetch(`${base}/exports/${job.id}`, { headers: exporter })).json()) as ExportJob;
    }
    expect(job).toMatchObject({ state: 'done', destination: `s3://${bucket}-exports/${job.id}/`, requestedBy: 'router-1', progress: { studies: 1, instances: 2, copied: 2 } });
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: `${bucket}-exports`, Prefix: `${job.id}/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.filter((k) => k.endsWith('.dcm'))).toHaveLength(2);
    expect(keys).toContain(`${job.id}/manifest.json`);
    for (const key of keys) {
      const body = Buffer.from(await (await clients.s3.send(new GetObjectCommand({ Bucket: `${bucket}-exports`, Key: key }))).Body!.transformToByteArray());
      for (const original of [patient, study, 'Streaming']) expect(body.includes(Buffer.from(original)), `${original} in ${key}`).toBe(false);
    }
    const manifest = (await (await fetch(`${base}/exports/${job.id}/manifest`, { headers: exporter })).json()) as ExportManifestEntry[];
    expect(manifest.map((e) => [e.status, e.original.studyInstanceUID])).toEqual([['copied', study], ['copied', study]]);
    // The audit table has the refusals (with who was refused), the export and its two records.
    const records: AuditRecord[] = [];
    for await (const r of storage.audit.search({ since })) records.push(r);
    const outcomes = records.filter((r) => r.EventIdentification.EventID.code === '110106').map((r) => `${r.ActiveParticipant[0].UserID} ${r.EventIdentification.EventOutcomeDescription}`);
    expect(outcomes).toEqual(expect.arrayContaining(['unauthenticated HTTP 401: an access token is required: send "Authorization: Bearer <token>" from the archive\'s Cognito user pool', expect.stringMatching(/^router-1 HTTP 403: the access token lacks the scope dicomweb\/export/), 'router-1 HTTP 202', 'router-1 export of 1 studies begins', 'router-1 2 copied, 0 left out, 0 failed']));
  });

  it('takes a first upload with `npm run upload -- --token`, and refuses the same upload without one', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'upload-'));
    try {
      const study = uid();
      writeFileSync(join(folder, 'a.dcm'), image(study, 64));
      writeFileSync(join(folder, 'b.dcm'), image(study, 64));
      const upload = (...args: string[]) =>
        run(process.execPath, ['--import', 'tsx', join(repoRoot, 'lambdas/local/upload-cli.ts'), '--url', `${base}/dicomweb`, ...args, folder]).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
      expect((await upload()).stdout).toMatch(/Stored 0, skipped 0 \(not DICOM\), refused 2/);
      expect((await upload('--token', token({ scope: 'dicomweb/write' }))).stdout).toMatch(/Stored 2, skipped 0 \(not DICOM\), refused 0/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('answers 503, not 401, when the user pool\'s keys cannot be fetched (the token may be fine)', async () => {
    // aws-jwt-verify fetching the keys from an address nothing listens on, as when Cognito cannot be reached.
    const unreachable = JwtRsaVerifier.create({ issuer: ISSUER, jwksUri: 'https://127.0.0.1:9/.well-known/jwks.json', audience: null });
    const log: StructuredLog = (level, message, fields = {}) => audit.push({ level, message, fields });
    const cut = await serveApp(createStreamingApp(storage, testConfig(), unreachable, log));
    try {
      const before = audit.length;
      const res = await fetch(`${cut.origin}/dicomweb/studies`, { headers: { Authorization: `Bearer ${token({ scope: 'dicomweb/read' })}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('30');
      expect(((await res.json()) as { error: string }).error).toMatch(/access tokens cannot be checked now: .*ECONNREFUSED/);
      expect(audit.slice(before)).toEqual([expect.objectContaining({ level: 'error', message: 'access tokens cannot be checked' })]);
    } finally {
      await cut.close();
    }
  });

  it('answers 413 with guidance beyond its request limit, without storing anything', async () => {
    const study = uid();
    const res = await stowTo([image(study, 1600), image(study, 1600), image(study, 1600)], `Bearer ${token({ scope: 'dicomweb/read dicomweb/write' })}`);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/exceeds the limit of 12582912 bytes; send fewer instances per request/);
    const found = await fetch(`${base}/dicomweb/studies?StudyInstanceUID=${study}`, { headers: { Authorization: `Bearer ${token({ scope: 'dicomweb/read' })}` } });
    expect(found.status).toBe(200);
    expect(await found.json()).toEqual([]);
  });

  it('stores a whole-slide image over 1 GiB to S3 with a multipart upload, never holding it in memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsi-s3-'));
    const limit = 2 * 1024 ** 3;
    const config = testConfig({ maxRequestBytes: limit, maxInstanceBytes: limit, maxInMemoryInstanceBytes: 32 * 1024 ** 2, stagingDir: join(dir, 'staging') });
    const large = await serveApp(createStreamingApp(storage, config, verifier, () => undefined));
    let uploadedParts = 0;
    const counting = 'count-upload-parts';
    clients.s3.middlewareStack.add((next, context) => (args) => {
      if (context.commandName === 'UploadPartCommand') uploadedParts++;
      return next(args);
    }, { step: 'initialize', name: counting });
    try {
      const slide = { study: uid(), series: uid(), sop: uid() };
      const path = join(dir, 'slide.dcm');
      await writeWsi(path, 17_500, slide);
      const { size } = statSync(path);
      expect(size).toBeGreaterThan(1024 ** 3);
      const residentBefore = process.memoryUsage().rss;
      const stored = await postFile(`${large.origin}/dicomweb/studies`, path, { 'Content-Type': 'application/dicom', Authorization: `Bearer ${token({ scope: 'dicomweb/read dicomweb/write' })}` });
      expect(stored.status, stored.text).toBe(200);
      // This process ran the server and the client: its highest resident memory stayed far below the instance.
      expect(highestResident() - residentBefore).toBeLessThan(400 * 1024 ** 2);
      expect(uploadedParts).toBeGreaterThanOrEqual(Math.floor(size / (8 * 1024 ** 2)));
      expect(readdirSync(join(dir, 'staging'))).toEqual([]);
      // The object is the file, byte for byte (both hashed as streams).
      const sha = await sha256Of(createReadStream(path));
      const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: `originals/${sha.slice(0, 2)}/${sha}.dcm` }));
      expect(object.ContentLength).toBe(size);
      expect(await sha256Of(object.Body as Readable)).toBe(sha);
      // Tiles by number, as written.
      const file = await open(path, 'r');
      try {
        const layout = (await readInstanceFromFile({ size, read: async (offset, length) => (await file.read(Buffer.alloc(length), 0, length, offset)).buffer }))!.frames!;
        for (const n of [1, 9_000, 17_500]) {
          const res = await fetch(`${large.origin}/dicomweb/studies/${slide.study}/series/${slide.series}/instances/${slide.sop}/frames/${n}`, {
            headers: { Accept: 'multipart/related; type="image/jpeg"; transfer-syntax=*', Authorization: `Bearer ${token({ scope: 'dicomweb/read' })}` },
          });
          expect(res.status).toBe(200);
          const [range] = layout.frames[n - 1];
          const written = (await file.read(Buffer.alloc(range.length), 0, range.length, range.offset)).buffer;
          expect(Buffer.from(await res.arrayBuffer()).includes(written), `frame ${n}`).toBe(true);
        }
      } finally {
        await file.close();
      }
    } finally {
      clients.s3.middlewareStack.remove(counting);
      await large.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

/** Posts a file's bytes as they are read from disk. */
function postFile(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'Content-Length': String(statSync(path).size) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    createReadStream(path).pipe(req);
  });
}

async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest('hex');
}

/** The highest resident memory this process has had (VmHWM). */
function highestResident(): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
}
