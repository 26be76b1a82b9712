// The audit trail as a hospital asks it "who looked at this patient's images, and when": every store,
// search, retrieval and delete — refused ones included — is found by patient, study and user through
// GET /audit/events, in the fields of DICOM's audit messages; reading the trail is recorded too.
// Runs on the local archive and, through the Lambda handler, over DynamoDB Local (vitest.config.ts).
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../lambdas/storage/ports.js';
import { accessTokenSigner } from '../helpers/access-tokens.js';
import { startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

let archive: TestArchive;
let auditEvents: string;
const patientID = `AUD-${process.pid}-${Date.now()}`;
const study = uid();
const series = uid();
const sop = uid();
// On the Lambda path API Gateway's authorizer hands the function this token's claims.
const token = accessTokenSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'k', {})({ sub: 'reader-7', client_id: 'viewer-client', username: 'dr.house', scope: 'dicomweb/read dicomweb/audit' });
const authorized = { Authorization: `Bearer ${token}` };

beforeAll(async () => {
  archive = await startTestArchive();
  auditEvents = `${archive.url.slice(0, -'/dicomweb'.length)}/audit/events`;
});
afterAll(async () => archive?.dispose());

async function trail(query: string): Promise<AuditRecord[]> {
  const res = await fetch(`${auditEvents}?${query}`, { headers: authorized });
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: AuditRecord[] }).records;
}
const summary = (r: AuditRecord) => `${r.EventIdentification.EventID.code} ${r.EventIdentification.EventActionCode} ${r.EventIdentification.EventOutcomeIndicator}`;

describe('audit trail', () => {
  it('records who stored, searched, read and deleted a study, found by its patient and by the study', async () => {
    const image = syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: sop, PatientID: patientID, PatientName: 'Doe^Jane', Rows: 4, Columns: 4, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' }, new Uint16Array(16));
    expect((await stow(archive.url, [image])).status).toBe(200);
    expect((await fetch(`${archive.url}/studies?PatientID=${patientID}`, { headers: authorized })).status).toBe(200);
    expect((await fetch(`${archive.url}/studies/${study}/metadata`, { headers: authorized })).status).toBe(200);
    const frame = await fetch(`${archive.url}/studies/${study}/series/${series}/instances/${sop}/frames/1`, { headers: { ...authorized, Accept: 'multipart/related; type="application/octet-stream"' } });
    expect(frame.status).toBe(200);
    await frame.arrayBuffer();
    expect((await fetch(`${archive.url}/studies/${study}`, { method: 'DELETE', headers: authorized })).status).toBeLessThan(300);
    expect((await fetch(`${archive.url}/studies/${study}/metadata`, { headers: authorized })).status).toBe(404);

    // Newest first: the read after the delete, refused (still the patient's study: the archive knew it a moment
    // ago), delete (D), frame (transferred, R), metadata (accessed, R), the search by patient (E), the store (C).
    const byPatient = await trail(`patient=${patientID}`);
    expect(byPatient.map(summary)).toEqual(['110103 R 4', '110105 D 0', '110104 R 0', '110103 R 0', '110112 E 0', '110104 C 0']);
    // By study: the same but the search (which named the patient, not the study), and the read after the delete, refused.
    const byStudy = await trail(`study=${study}`);
    expect(byStudy.map(summary)).toEqual(['110103 R 4', '110105 D 0', '110104 R 0', '110103 R 0', '110104 C 0']);
    expect(byStudy[0].EventIdentification.EventOutcomeDescription).toMatch(/^HTTP 404: no study /);

    const stored = byPatient[5];
    expect(stored.ActiveParticipant[0]).toMatchObject({ UserIsRequestor: true, RoleIDCode: { code: '110153' }, NetworkAccessPointTypeCode: 2 });
    expect(stored.ActiveParticipant[0].NetworkAccessPointID).toMatch(/127\.0\.0\.1/);
    expect(stored.ActiveParticipant[1]).toMatchObject({ UserID: 'test-archive', UserIsRequestor: false, RoleIDCode: { code: '110152' } });
    expect(stored.AuditSourceIdentification).toEqual({ AuditSourceID: 'test-archive', AuditSourceTypeCode: '4' });
    expect(stored.ParticipantObjectIdentification).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ParticipantObjectTypeCode: 2, ParticipantObjectTypeCodeRole: 3, ParticipantObjectIDTypeCode: expect.objectContaining({ code: '110180' }), ParticipantObjectID: study }),
        expect.objectContaining({ ParticipantObjectTypeCode: 1, ParticipantObjectTypeCodeRole: 1, ParticipantObjectID: patientID, ParticipantObjectName: 'Doe^Jane' }),
      ]),
    );
    const search = byPatient[4].ParticipantObjectIdentification.find((o) => o.ParticipantObjectTypeCodeRole === 24);
    expect(search).toMatchObject({ ParticipantObjectID: '1.2.840.10008.5.1.4.1.2.2.1', ParticipantObjectQuery: `PatientID=${patientID}` });
    expect(byPatient[2].ParticipantObjectIdentification[0].ParticipantObjectDescription).toBe(`series ${series} instances ${sop} frames 1`);
    expect(byPatient[2].ActiveParticipant[0].RoleIDCode?.code).toBe('110152'); // the reader received the frame

    // The requests the Lambda function served name the token's subject and client (the store was sent
    // without one: the stand-in's authorizer passes no claims); the local server names its caller.
    const users = new Set(byPatient.map((r) => r.ActiveParticipant[0].UserID));
    for (const user of users) expect(user).toMatch(/^(local:.*127\.0\.0\.1|reader-7|unauthenticated)$/);
    if (process.env.ARCHIVE_TARGET === 'lambda') {
      expect(byPatient[4].ActiveParticipant[0]).toMatchObject({ UserID: 'reader-7', AlternativeUserID: 'viewer-client', UserName: 'dr.house' });
    }
    const byUser = await trail(`user=${encodeURIComponent([...users][0])}&since=${byPatient[5].EventIdentification.EventDateTime}`);
    expect(byUser.length).toBeGreaterThan(0);
  });

  it('records refused requests with their reason, a hostile URL capped', async () => {
    const bad = `${'9'.repeat(2000)}x`;
    expect((await fetch(`${archive.url}/studies/${bad}/metadata`, { headers: authorized })).status).toBe(400);
    const records = await trail(`study=${bad.slice(0, 256)}`);
    expect(records.map(summary)).toEqual(['110103 R 4']);
    expect(records[0].EventIdentification.EventOutcomeDescription).toMatch(/^HTTP 400: Study Instance UID/);
  });

  it('records reads of the trail itself, and refuses a search it cannot make', async () => {
    const before = new Date().toISOString();
    await trail(`patient=${patientID}&limit=1`);
    const reads = await trail(`patient=${patientID}&since=${before}`);
    expect(reads.map(summary)).toContain('110101 R 0');
    const read = reads.find((r) => r.EventIdentification.EventID.code === '110101')!;
    expect(read.ParticipantObjectIdentification.find((o) => o.ParticipantObjectTypeCodeRole === 13)?.ParticipantObjectQuery).toBe(`patient=${patientID}&limit=1`);

    for (const [query, reason] of [
      ['patientID=x', /unknown parameter "patientID"/],
      ['since=2026-12-09&until=2026-12-08', /since .* is after until/],
      ['until=yesterday', /ISO 8601/],
      ['limit=0', /limit must be a whole number from 1 to 1000/],
    ] as const) {
      const res = await fetch(`${auditEvents}?${query}`, { headers: authorized });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(reason);
    }
    const refusals = await trail(`since=${before}&limit=1000`);
    expect(refusals.filter((r) => r.EventIdentification.EventID.code === '110101' && r.EventIdentification.EventOutcomeIndicator === 4)).toHaveLength(4);
  });

  it('pages a long trail: limit, then the next page up to the last record', async () => {
    const page = await fetch(`${auditEvents}?patient=${patientID}&limit=2`, { headers: authorized });
    const body = (await page.json()) as { records: AuditRecord[]; next?: string };
    expect(body.records).toHaveLength(2);
    expect(body.next).toMatch(/^\/audit\/events\?patient=.*&limit=2&until=/);
    const nextUntil = new URLSearchParams(body.next!.split('?')[1]).get('until');
    expect(nextUntil).toBe(body.records[1].EventIdentification.EventDateTime);
  });
});
