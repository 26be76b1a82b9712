// Forwarding rules end to end: what arrives (by modality, through STOW-RS or C-STORE) and what the AI
// pipeline produces (SR and SEG) goes on to dcmtk's storescp with C-STORE; a destination that cannot be
// reached ends in the dead-letter list the API shows; nothing goes back to the AE it came from.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetToJson } from '../../lambdas/dicom/json-model.js';
import { parseDicom } from '../../lambdas/dicom/parser.js';
import { parseForwardRules, parsePeers } from '../../lambdas/dimse/settings.js';
import { startTestArchive, stow, testAiConfig, type TestArchive } from '../helpers/archive.js';
import { dcmtk, dimseSettings, freePort, startStorescp } from '../helpers/dcmtk.js';
import { SAMPLES_DIR, sampleBytes } from '../helpers/samples.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';

const MR = 'pydicom-data/MR2_J2KR.dcm';
const CT = 'highdicom/ct_image.dcm';

let archive: TestArchive;
let received: string;
let storescp: Awaited<ReturnType<typeof startStorescp>>;
let port: number;

/** SOP Instance UID and Modality of what storescp has received. */
function receivedInstances(): Array<{ sopInstance: string; modality: string }> {
  return readdirSync(received).map((f) => {
    const json = datasetToJson(parseDicom(readFileSync(join(received, f))).dataset);
    return { sopInstance: String(json['00080018']?.Value?.[0]), modality: String(json['00080060']?.Value?.[0]) };
  });
}

async function until<T>(what: () => T | Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await what();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  received = mkdtempSync(join(tmpdir(), 'forwarded-'));
  storescp = await startStorescp(received);
  const peers = parsePeers(`STORESCP@127.0.0.1:${storescp.port},GONE@127.0.0.1:${await freePort()}`);
  const settings = await dimseSettings({ peers, forwardRules: parseForwardRules('STORESCP=modality:CT;STORESCP=ai;GONE=modality:MR', peers) });
  port = settings.port;
  archive = await startTestArchive({}, undefined, { dimse: settings, ai: testAiConfig() });
}, 60_000);

afterAll(async () => {
  storescp?.stop();
  await archive?.dispose();
  rmSync(received, { recursive: true, force: true });
});

describe('forwarding', () => {
  it('sends what a rule matches (CT) and not the rest (MR), whichever way it arrived', async () => {
    expect((await stow(archive.url, [sampleBytes(MR)])).status).toBe(200);
    const run = await dcmtk('storescu', ['-aec', 'CLOUDPACS', '127.0.0.1', String(port), join(SAMPLES_DIR, CT)]);
    expect(run.code, run.output).toBe(0);
    const got = await until(receivedInstances, (r) => r.length >= 1, 20_000);
    expect(got.map((r) => r.modality)).toEqual(['CT']);
  });

  it("forwards the AI pipeline's results (SR and SEG) of a study, with the study itself", async () => {
    const ct = syntheticCt({ patientID: 'FWD-AI', studyDate: '20250101', studyDescription: 'CT CHEST', slices: 12, size: 64 });
    expect((await stow(archive.url, ct.files)).status).toBe(200);
    const got = await until(receivedInstances, (r) => r.some((i) => i.modality === 'SEG') && r.some((i) => i.modality === 'SR'), 90_000);
    expect(got.filter((i) => i.modality === 'CT').length).toBe(13);
    expect(got.some((i) => i.modality === 'SEG')).toBe(true);
    expect(got.some((i) => i.modality === 'SR')).toBe(true);
  }, 120_000);

  it('never sends an instance back to the AE it came from', async () => {
    const run = await dcmtk('storescu', ['-aet', 'STORESCP', '-aec', 'CLOUDPACS', '127.0.0.1', String(port), join(SAMPLES_DIR, 'pydicom-data/693_UNCI.dcm')]);
    expect(run.code, run.output).toBe(0);
    // A CT that came from STORESCP itself: stored, and not sent back (its rule would match otherwise).
    const sop = String(datasetToJson(parseDicom(sampleBytes('pydicom-data/693_UNCI.dcm')).dataset)['00080018']?.Value?.[0]);
    expect(((await (await fetch(`${archive.url}/instances?SOPInstanceUID=${sop}`)).json()) as unknown[]).length).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receivedInstances().map((r) => r.sopInstance)).not.toContain(sop);
  });

  it('dead-letters what cannot be delivered after its attempts, and the API lists it with the reason', async () => {
    const deadLetters = await until(
      async () => (await (await fetch(`${archive.url.replace('/dicomweb', '')}/dimse/forwarding/dead-letters`)).json()) as Array<{ body: { destination: string }; attempts: number; error: string }>,
      (d) => d.length > 0,
      20_000,
    );
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0].body.destination).toBe('GONE');
    expect(deadLetters[0].attempts).toBe(3);
    expect(deadLetters[0].error).toMatch(/cannot associate with GONE/);
    const rules = (await (await fetch(`${archive.url.replace('/dicomweb', '')}/dimse/forwarding`)).json()) as { rules: Array<{ rule: string }> };
    expect(rules.rules.map((r) => r.rule)).toEqual(['STORESCP=modality:CT', 'STORESCP=ai', 'GONE=modality:MR']);
  });
});
