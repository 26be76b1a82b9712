// The audit trail of DIMSE requests, sent by dcmtk's tools: a C-STORE, a C-FIND by Patient ID, a C-GET
// and C-MOVEs (one delivered, one refused) are found under the patient with the calling AE title, its
// address, the destination and the outcome; and when the trail cannot take a record, the C-STORE is
// answered Out of Resources (the instance kept) and a C-FIND sends no match.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePeers } from '../../lambdas/dimse/settings.js';
import type { AuditRecord } from '../../lambdas/storage/ports.js';
import { startTestArchive, type TestArchive } from '../helpers/archive.js';
import { dcmtk, dimseSettings, startStorescp } from '../helpers/dcmtk.js';
import { SAMPLES_DIR } from '../helpers/samples.js';

const samplePath = (file: string) => join(SAMPLES_DIR, file);

const CT = { file: 'highdicom/ct_image.dcm', study: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322', patient: '1CT1' };

let archive: TestArchive;
let port: number;
let received: string;
let storescp: Awaited<ReturnType<typeof startStorescp>>;

beforeAll(async () => {
  received = mkdtempSync(join(tmpdir(), 'audit-moved-'));
  storescp = await startStorescp(received);
  const settings = await dimseSettings({ peers: parsePeers(`STORESCP@127.0.0.1:${storescp.port}:dest,MODALITY@127.0.0.1:1:store+find+get+move`) });
  port = settings.port;
  archive = await startTestArchive({}, undefined, { dimse: settings });
});

afterAll(async () => {
  storescp?.stop();
  await archive?.dispose();
  rmSync(received, { recursive: true, force: true });
});

const summary = (r: AuditRecord) => `${r.EventIdentification.EventID.code} ${r.EventIdentification.EventActionCode} ${r.EventIdentification.EventOutcomeIndicator}`;
const call = ['-aet', 'MODALITY', '-aec', 'CLOUDPACS'];

async function trail(query: string): Promise<AuditRecord[]> {
  const res = await fetch(`${archive.url.replace(/\/dicomweb$/, '')}/audit/events?${query}`);
  return ((await res.json()) as { records: AuditRecord[] }).records;
}

describe('audit trail of DIMSE requests', () => {
  it('records C-STORE, C-FIND, C-GET and C-MOVE under the patient, with the calling AE and the outcome', async () => {
    expect((await dcmtk('storescu', ['-v', ...call, '127.0.0.1', String(port), samplePath(CT.file)])).output).toMatch(/Store Response \(Success\)/);
    expect((await dcmtk('findscu', ['-v', '-S', ...call, '-k', 'QueryRetrieveLevel=STUDY', '-k', `PatientID=${CT.patient}`, '-k', 'StudyInstanceUID', '127.0.0.1', String(port)])).output).toMatch(/Find Response: 1 \(Pending\)/);
    const dir = mkdtempSync(join(tmpdir(), 'audit-get-'));
    try {
      const got = await dcmtk('getscu', ['-v', '-S', ...call, '-od', dir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${CT.study}`, '127.0.0.1', String(port)]);
      expect(got.output, got.output).toMatch(/C-GET Response/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const move = (destination: string) => dcmtk('movescu', ['-v', '-S', ...call, '-aem', destination, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${CT.study}`, '127.0.0.1', String(port)]);
    expect((await move('STORESCP')).output).toMatch(/Final Move Response \(Success\)/);
    expect((await move('ELSEWHERE')).output).toMatch(/MoveDestinationUnknown/);

    const records = await trail(`patient=${CT.patient}`);
    // Newest first: the refused move, the move (begin, end), the get (begin, end), the search, the store.
    expect(records.map(summary)).toEqual(['110104 R 4', '110104 R 0', '110102 R 0', '110104 R 0', '110102 R 0', '110112 E 0', '110104 C 0']);
    for (const r of records) expect(r.ActiveParticipant[0]).toMatchObject({ UserID: 'MODALITY', UserIsRequestor: true, NetworkAccessPointID: expect.stringMatching(/127\.0\.0\.1/) });
    expect(records[0].EventIdentification.EventOutcomeDescription).toMatch(/^DIMSE status A801: move destination "ELSEWHERE"/);
    expect(records[1].ActiveParticipant.map((p) => `${p.UserID} ${p.RoleIDCode?.code}`)).toEqual(['MODALITY undefined', 'test-archive 110153', 'STORESCP 110152']);
    expect(records[1].EventIdentification.EventOutcomeDescription).toBe('DIMSE status 0000: (1 sent, 0 failed, 0 with warnings)');
    expect(records[3].ActiveParticipant[0].RoleIDCode?.code).toBe('110152'); // C-GET: the requester received the instance
    expect(records[5].ParticipantObjectIdentification.find((o) => o.ParticipantObjectTypeCodeRole === 24)?.ParticipantObjectID).toBe('1.2.840.10008.5.1.4.1.2.2.1');
    expect(records[6].ParticipantObjectIdentification).toEqual(expect.arrayContaining([expect.objectContaining({ ParticipantObjectID: CT.study }), expect.objectContaining({ ParticipantObjectID: CT.patient, ParticipantObjectName: 'CompressedSamples^CT1' })]));
  });

  it('answers Out of Resources when the trail cannot take the record: the C-STORE kept, no C-FIND match sent', async () => {
    await archive.storage.audit.close(); // a closed database refuses every write
    const store = await dcmtk('storescu', ['-v', '-xv', ...call, '127.0.0.1', String(port), samplePath('pydicom-data/MR2_J2KR.dcm')]);
    expect(store.output, store.output).toMatch(/Store Response \(Refused: OutOfResources\)/);
    expect(await archive.storage.index.listInstances({ studyInstanceUID: '1.3.6.1.4.1.5962.1.2.5.20040826185059.5457' })).toHaveLength(1);
    const find = await dcmtk('findscu', ['-v', '-S', ...call, '-k', 'QueryRetrieveLevel=STUDY', '-k', `PatientID=${CT.patient}`, '127.0.0.1', String(port)]);
    expect(find.output).not.toMatch(/Pending/);
    expect(find.output).toMatch(/OutOfResources|a700/i);
  });
});
