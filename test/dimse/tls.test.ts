// DICOM TLS (PS3.15 Annex B): dcmtk's echoscu and storescu with +tls against the listener, with a client
// certificate the archive trusts; plain TCP and clients without a trusted certificate get nothing. And the
// archive as the TLS client: forwarding to a destination reached over TLS (dcmtk's storescp +tls), never
// to one whose certificate it does not trust (dcmtk's movescu speaks no TLS: C-MOVE opens its
// associations the same way, ScuAssociation.openTo).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestArchive, type TestArchive } from '../helpers/archive.js';
import { parseForwardRules, parsePeers } from '../../lambdas/dimse/settings.js';
import { dcmtk, dimseSettings, startStorescp } from '../helpers/dcmtk.js';
import { SAMPLES_DIR } from '../helpers/samples.js';

let archive: TestArchive;
let port: number;
let dir: string;
const file = (name: string) => join(dir, name);

/** A self-signed certificate for `name` (key and certificate in PEM). */
function certificate(name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name},IP:127.0.0.1`, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`)], { stdio: 'ignore' });
}

let pacs: Awaited<ReturnType<typeof startStorescp>>;
let rogue: Awaited<ReturnType<typeof startStorescp>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dimse-tls-'));
  for (const name of ['archive', 'modality', 'stranger', 'pacs']) certificate(name);
  // The archive trusts the modality (as a caller) and the hospital's PACS (as a destination), not the stranger.
  writeFileSync(file('trusted.crt'), Buffer.concat([readFileSync(file('modality.crt')), readFileSync(file('pacs.crt'))]));
  mkdirSync(file('pacs-received'));
  mkdirSync(file('rogue-received'));
  // Two TLS destinations that both accept the archive's certificate: the PACS, and one presenting a certificate the archive does not trust.
  const asArchive = ['+tls', file('archive.key'), file('archive.crt')];
  pacs = await startStorescp(file('pacs-received'), ['+tls', file('pacs.key'), file('pacs.crt'), '+cf', file('archive.crt')], [...asArchive, '+cf', file('pacs.crt')]);
  rogue = await startStorescp(file('rogue-received'), ['+tls', file('stranger.key'), file('stranger.crt'), '+cf', file('archive.crt')], [...asArchive, '+cf', file('stranger.crt')]);
  const peers = parsePeers(`PACS@127.0.0.1:${pacs.port}:dest+tls,ROGUE@127.0.0.1:${rogue.port}:dest+tls`);
  // What arrives is forwarded to both, over TLS (forwarding and C-MOVE open their associations alike: ScuAssociation.openTo).
  const settings = await dimseSettings({
    tls: { certFile: file('archive.crt'), keyFile: file('archive.key'), caFile: file('trusted.crt') },
    peers,
    forwardRules: parseForwardRules('PACS=all;ROGUE=all', peers),
    forwardMaxAttempts: 2,
    forwardRetryMs: 20,
  });
  port = settings.port;
  archive = await startTestArchive({}, undefined, { dimse: settings });
});

afterAll(async () => {
  pacs?.stop();
  rogue?.stop();
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

it('forwards what arrives to a destination over TLS, and to none whose certificate it does not trust', async () => {
  // The CT stored over TLS in the first test is forwarded to both destinations.
  for (let i = 0; i < 100 && readdirSync(file('pacs-received')).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(readdirSync(file('pacs-received'))).toHaveLength(1);
  let dead: Array<{ body: { destination: string }; error: string }> = [];
  for (let i = 0; i < 100 && dead.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    dead = (await (await fetch(`${archive.url.replace(/\/dicomweb$/, '')}/dimse/forwarding/dead-letters`)).json()) as typeof dead;
  }
  expect(readdirSync(file('rogue-received'))).toHaveLength(0);
  expect(dead).toHaveLength(1);
  expect(JSON.stringify(dead[0])).toMatch(/ROGUE/);
  expect(dead[0].error).toMatch(/certificate|self.signed|verify/i);
});
