// DICOM TLS (PS3.15 Annex B): dcmtk's echoscu and storescu with +tls against the listener, with a client
// certificate the archive trusts; plain TCP and clients without a trusted certificate get nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestArchive, type TestArchive } from '../helpers/archive.js';
import { dcmtk, dimseSettings } from '../helpers/dcmtk.js';
import { SAMPLES_DIR } from '../helpers/samples.js';

let archive: TestArchive;
let port: number;
let dir: string;
const file = (name: string) => join(dir, name);

/** A self-signed certificate for `name` (key and certificate in PEM). */
function certificate(name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name},IP:127.0.0.1`, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`)], { stdio: 'ignore' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dimse-tls-'));
  certificate('archive');
  certificate('modality');
  certificate('stranger');
  const settings = await dimseSettings({ tls: { certFile: file('archive.crt'), keyFile: file('archive.key'), caFile: file('modality.crt') } });
  port = settings.port;
  archive = await startTestArchive({}, undefined, { dimse: settings });
});

afterAll(async () => {
  await archive?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const tlsAs = (who: string) => ['+tls', file(`${who}.key`), file(`${who}.crt`), '+cf', file('archive.crt')];

it('verifies and stores over TLS with a trusted client certificate', async () => {
  const echo = await dcmtk('echoscu', ['-v', ...tlsAs('modality'), '-aec', 'CLOUDPACS', '127.0.0.1', String(port)]);
  expect(echo.output).toMatch(/Received Echo Response \(Success\)/);
  const store = await dcmtk('storescu', ['-v', ...tlsAs('modality'), '-aec', 'CLOUDPACS', '127.0.0.1', String(port), join(SAMPLES_DIR, 'highdicom/ct_image.dcm')]);
  expect(store.output).toMatch(/Received Store Response \(Success\)/);
  const found = await fetch(`${archive.url}/instances?SOPInstanceUID=1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322`);
  expect(((await found.json()) as unknown[]).length).toBe(1);
});

it('refuses plain TCP and a client whose certificate it does not trust', async () => {
  const plain = await dcmtk('echoscu', ['-aec', 'CLOUDPACS', '127.0.0.1', String(port)], { timeoutMs: 10_000 });
  expect(plain.code).not.toBe(0);
  const stranger = await dcmtk('echoscu', [...tlsAs('stranger'), '-aec', 'CLOUDPACS', '127.0.0.1', String(port)]);
  expect(stranger.code).not.toBe(0);
  expect(stranger.output).not.toMatch(/Success/);
  const anonymous = await dcmtk('echoscu', ['+tla', '+cf', file('archive.crt'), '-aec', 'CLOUDPACS', '127.0.0.1', String(port)]);
  expect(anonymous.code).not.toBe(0);
});
