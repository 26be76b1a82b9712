// Orthanc (Debian's) calling the archive over DIMSE through its REST API: C-ECHO, C-STORE followed by a
// storage commitment request (answered with N-EVENT-REPORT on a new association, as Orthanc expects),
// C-FIND agreeing with QIDO-RS, and C-MOVE of a study into Orthanc.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePeers } from '../../lambdas/dimse/settings.js';
import { startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { dimseSettings, freePort } from '../helpers/dcmtk.js';
import { startOrthancPeer, type OrthancPeer } from '../helpers/orthanc.js';
import { sampleBytes } from '../helpers/samples.js';

const CT = { file: 'highdicom/ct_image.dcm', study: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322', sop: '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322' };
const MR = { file: 'pydicom-data/MR2_J2KR.dcm', study: '1.3.6.1.4.1.5962.1.2.5.20040826185059.5457' };

let archive: TestArchive;
let orthanc: OrthancPeer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orthanc-peer-'));
  const settings = await dimseSettings();
  // Orthanc's DICOM port is chosen first so that the archive can know it as a peer and destination.
  const orthancDicomPort = await freePort();
  settings.peers = parsePeers(`ORTHANC@127.0.0.1:${orthancDicomPort}`);
  archive = await startTestArchive({}, undefined, { dimse: settings });
  orthanc = await startOrthancPeer(dir, { aeTitle: settings.aeTitle, port: settings.port }, orthancDicomPort);
  expect((await stow(archive.url, [sampleBytes(MR.file)])).status).toBe(200);
}, 60_000);

afterAll(async () => {
  orthanc?.stop();
  await archive?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('Orthanc as the calling side', () => {
  it('verifies the association (C-ECHO)', async () => {
    await orthanc.call('POST', '/modalities/pacs/echo', {});
  });

  it('stores an instance with C-STORE and gets the archive to commit to it (Storage Commitment)', async () => {
    const uploaded = await orthanc.call<{ ID: string }>('POST', '/instances', sampleBytes(CT.file));
    const job = await orthanc.call<{ StorageCommitmentTransactionUID?: string; Description?: string }>('POST', '/modalities/pacs/store', { Resources: [uploaded.ID], StorageCommitment: true, Synchronous: true });
    const found = await fetch(`${archive.url}/instances?SOPInstanceUID=${CT.sop}`);
    expect(((await found.json()) as unknown[]).length).toBe(1);
    const transaction = job.StorageCommitmentTransactionUID;
    expect(transaction, JSON.stringify(job)).toBeTruthy();
    let report: { Status: string; Success?: Array<{ SOPInstanceUID: string }>; Failures?: unknown[] } = { Status: 'Pending' };
    for (let i = 0; i < 100 && report.Status === 'Pending'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      report = await orthanc.call('GET', `/storage-commitment/${transaction}`);
    }
    expect(report.Status).toBe('Success');
    expect(report.Success?.map((s) => s.SOPInstanceUID)).toEqual([CT.sop]);
  });

  it('finds studies with C-FIND as QIDO-RS does', async () => {
    const query = await orthanc.call<{ ID: string }>('POST', '/modalities/pacs/query', { Level: 'Study', Query: { StudyInstanceUID: '', PatientName: '*' } });
    const answers = await orthanc.call<Array<Record<string, { Value: string }>>>('GET', `/queries/${query.ID}/answers?expand&simplify`);
    const studies = (await (await fetch(`${archive.url}/studies`)).json()) as unknown[];
    expect(answers.length).toBe(studies.length);
    expect(answers.map((a) => a.StudyInstanceUID).sort()).toEqual([CT.study, MR.study].sort());
  });

  it('moves a study into Orthanc with C-MOVE', async () => {
    await orthanc.call('POST', '/modalities/pacs/move', { Level: 'Study', Resources: [{ StudyInstanceUID: MR.study }], TargetAet: 'ORTHANC', Synchronous: true });
    const studies = await orthanc.call<Array<{ MainDicomTags: { StudyInstanceUID: string } }>>('GET', '/studies?expand');
    expect(studies.map((s) => s.MainDicomTags.StudyInstanceUID)).toContain(MR.study);
  });
});
