// QIDO-RS matching (PS3.18 8.3.4, PS3.4 C.2.2.2) on a small archive with known content.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

type Match = Record<string, { vr: string; Value?: unknown[] }>;

const studies = {
  doe: { uid: uid(), PatientName: 'Doe^John', PatientID: 'P-001', StudyDate: '20240115', StudyTime: '093000', AccessionNumber: 'ACC-100', StudyDescription: 'CT CHEST' },
  jane: { uid: uid(), PatientName: 'DOE^JANE', PatientID: 'P-002', StudyDate: '20240210', StudyTime: '141500.25', AccessionNumber: 'ACC-200', StudyDescription: 'MR BRAIN' },
  smith: { uid: uid(), PatientName: 'Smith^Anna', PatientID: 'P-003', StudyDate: '20231231', StudyTime: '235959', AccessionNumber: 'XYZ-300', StudyDescription: 'CT ABDOMEN' },
  yamada: { uid: uid(), PatientName: 'Yamada^Tarou=山田^太郎=やまだ^たろう', PatientID: 'P-004', StudyDate: '20240301', StudyTime: '0800', AccessionNumber: 'ACC-400', StudyDescription: 'XR HAND' },
};
const janeSeries = { ct: uid(), mr: uid() };

describe('QIDO-RS', () => {
  let archive: TestArchive;
  const q = async (path: string): Promise<{ status: number; body: Match[]; warning: string | null; error?: string }> => {
    const res = await fetch(`${archive.url}${path}`);
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : [];
    return { status: res.status, body: Array.isArray(parsed) ? parsed : [], warning: res.headers.get('warning'), error: parsed.error };
  };
  const studyUids = (body: Match[]) => body.map((m) => m['0020000D'].Value?.[0]).sort();

  beforeAll(async () => {
    archive = await startTestArchive();
    const files: Uint8Array[] = [];
    for (const [key, s] of Object.entries(studies)) {
      const { uid: studyUid, ...attrs } = s;
      const seriesList =
        key === 'jane'
          ? [
              { SeriesInstanceUID: janeSeries.ct, Modality: 'CT', SeriesNumber: 1 },
              { SeriesInstanceUID: janeSeries.mr, Modality: 'MR', SeriesNumber: 2 },
            ]
          : [{ SeriesInstanceUID: uid(), Modality: key === 'yamada' ? 'CR' : 'CT', SeriesNumber: 1 }];
      for (const series of seriesList) {
        for (let n = 1; n <= 3; n++) {
          files.push(
            syntheticInstance({
              StudyInstanceUID: studyUid,
              ...attrs,
              ...series,
              SpecificCharacterSet: key === 'yamada' ? 'ISO_IR 192' : undefined,
              InstanceNumber: n,
              SOPClassUID: series.Modality === 'MR' ? '1.2.840.10008.5.1.4.1.1.4' : '1.2.840.10008.5.1.4.1.1.2',
            }),
          );
        }
      }
    }
    const res = await stow(archive.url, files);
    expect(res.status).toBe(200);
  });
  afterAll(() => archive?.dispose());

  it('matches person names case-insensitively with wildcards', async () => {
    expect(studyUids((await q('/studies?PatientName=doe*')).body)).toEqual([studies.doe.uid, studies.jane.uid].sort());
    expect(studyUids((await q('/studies?PatientName=Doe%5EJ%3Fhn')).body)).toEqual([studies.doe.uid]);
    expect(studyUids((await q('/studies?00100010=SMITH%5EANNA')).body)).toEqual([studies.smith.uid]);
    expect((await q('/studies?PatientName=Doe')).body).toEqual([]);
  });

  it('matches ideographic and phonetic name groups', async () => {
    expect(studyUids((await q(`/studies?PatientName=${encodeURIComponent('山田*')}`)).body)).toEqual([studies.yamada.uid]);
    expect(studyUids((await q(`/studies?PatientName=${encodeURIComponent('やまだ^たろう')}`)).body)).toEqual([studies.yamada.uid]);
  });

  it('matches any name component with fuzzymatching=true', async () => {
    expect(studyUids((await q('/studies?PatientName=john&fuzzymatching=true')).body)).toEqual([studies.doe.uid]);
    expect((await q('/studies?PatientName=john&fuzzymatching=false')).body).toEqual([]);
  });

  it('matches date and time ranges', async () => {
    expect(studyUids((await q('/studies?StudyDate=20240101-20240131')).body)).toEqual([studies.doe.uid]);
    expect(studyUids((await q('/studies?StudyDate=-20231231')).body)).toEqual([studies.smith.uid]);
    expect(studyUids((await q('/studies?StudyDate=20240201-')).body)).toEqual([studies.jane.uid, studies.yamada.uid].sort());
    expect(studyUids((await q('/studies?StudyDate=20240115')).body)).toEqual([studies.doe.uid]);
    expect(studyUids((await q('/studies?StudyTime=0800-1000')).body)).toEqual([studies.doe.uid, studies.yamada.uid].sort());
    expect(studyUids((await q('/studies?StudyTime=1415-')).body)).toEqual([studies.jane.uid, studies.smith.uid].sort());
  });

  it('matches UID lists, exact values and wildcards', async () => {
    expect(studyUids((await q(`/studies?StudyInstanceUID=${studies.doe.uid}%5C${studies.smith.uid}`)).body)).toEqual([studies.doe.uid, studies.smith.uid].sort());
    expect(studyUids((await q('/studies?AccessionNumber=ACC-200')).body)).toEqual([studies.jane.uid]);
    expect(studyUids((await q('/studies?AccessionNumber=ACC*')).body)).toHaveLength(3);
    expect(studyUids((await q('/studies?PatientID=P-00%3F')).body)).toHaveLength(4);
    expect((await q('/studies?AccessionNumber=acc-200')).body).toEqual([]); // only names are case-insensitive
  });

  it('computes ModalitiesInStudy, SOPClassesInStudy and the counts', async () => {
    const { body } = await q(`/studies?ModalitiesInStudy=MR&includefield=SOPClassesInStudy`);
    expect(studyUids(body)).toEqual([studies.jane.uid]);
    const jane = body[0];
    expect(jane['00080061'].Value).toEqual(['CT', 'MR']);
    expect(jane['00080062'].Value).toEqual(['1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.4']);
    expect(jane['00201206'].Value).toEqual([2]);
    expect(jane['00201208'].Value).toEqual([6]);
  });

  it('returns the default attributes, includefield values and RetrieveURL', async () => {
    const { body } = await q(`/studies?StudyInstanceUID=${studies.doe.uid}`);
    const m = body[0];
    for (const tag of ['00080020', '00080030', '00080050', '00080056', '00080061', '00081190', '00100010', '00100020', '0020000D', '00201206', '00201208']) {
      expect(m[tag], tag).toBeDefined();
    }
    expect(m['00081190'].Value?.[0]).toBe(`${archive.url}/studies/${studies.doe.uid}`);
    expect(m['00101010']).toBeUndefined();
    const withField = (await q(`/studies?StudyInstanceUID=${studies.doe.uid}&includefield=00081030`)).body[0];
    expect(withField['00081030'].Value).toEqual(['CT CHEST']);
    const all = (await q(`/studies?StudyInstanceUID=${studies.doe.uid}&includefield=all`)).body[0];
    expect(all['00081030'].Value).toEqual(['CT CHEST']);
  });

  it('pages with limit and offset in a stable order', async () => {
    const all = studyUids((await q('/studies')).body);
    expect(all).toHaveLength(4);
    const pages = [];
    for (let offset = 0; offset < 4; offset += 3) pages.push(...(await q(`/studies?limit=3&offset=${offset}`)).body);
    expect(studyUids(pages)).toEqual(all);
    expect((await q('/studies?limit=3')).body).toHaveLength(3);
    expect((await q('/studies?offset=10')).body).toEqual([]);
  });

  it('searches series and instances at every level of the hierarchy', async () => {
    const series = (await q(`/studies/${studies.jane.uid}/series`)).body;
    expect(series).toHaveLength(2);
    expect(series.every((s) => s['00201209'].Value?.[0] === 3)).toBe(true);
    expect((await q(`/studies/${studies.jane.uid}/series?Modality=MR`)).body.map((s) => s['0020000E'].Value?.[0])).toEqual([janeSeries.mr]);
    expect((await q('/series?Modality=CR')).body).toHaveLength(1);
    expect((await q(`/series?PatientName=doe*`)).body).toHaveLength(3);
    expect((await q(`/studies/${studies.jane.uid}/instances`)).body).toHaveLength(6);
    const instances = (await q(`/studies/${studies.jane.uid}/series/${janeSeries.ct}/instances?InstanceNumber=2`)).body;
    expect(instances).toHaveLength(1);
    expect(instances[0]['00080016'].Value).toEqual(['1.2.840.10008.5.1.4.1.1.2']);
    expect((await q('/instances?PatientID=P-003')).body).toHaveLength(3);
    expect((await q(`/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.4`)).body).toHaveLength(3);
  });

  it('refuses malformed queries with 400 and names the problem', async () => {
    for (const [query, words] of [
      ['StudyDate=2024-13', 'StudyDate'],
      ['StudyDate=20240230x', 'StudyDate'],
      ['NotAKeyword=1', 'NotAKeyword'],
      ['limit=-1', 'limit'],
      ['limit=ten', 'limit'],
      ['offset=-3', 'offset'],
      ['includefield=Nope', 'Nope'],
      ['StudyInstanceUID=1.2.abc', 'StudyInstanceUID'],
      ['StudyDate=20240301-20240101', 'StudyDate'],
      ['fuzzymatching=maybe', 'fuzzymatching'],
    ]) {
      const res = await q(`/studies?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.error, query).toContain(words);
    }
  });

  it('answers with a Warning header for keys it ignores', async () => {
    const res = await q(`/studies?SOPInstanceUID=1.2.3&PatientID=P-001`);
    expect(res.status).toBe(200);
    expect(studyUids(res.body)).toEqual([studies.doe.uid]);
    expect(res.warning).toContain('SOPInstanceUID');
  });

  it('matches keys inside sequences, all keys of a sequence within one item (PS3.4 C.2.2.2.6)', async () => {
    const study = uid();
    const ordered = { a: uid(), b: uid() };
    const request = (accession: string, step: string) => ({ AccessionNumber: accession, ScheduledProcedureStepID: step, RequestedProcedureID: `RP-${step}` });
    const res = await stow(archive.url, [
      // Series a was requested twice (two items); series b once.
      syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: ordered.a, PatientID: 'P-SQ', RequestAttributesSequence: [request('SQ-1', 'STEP-1'), request('SQ-2', 'STEP-2')] }),
      syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: ordered.b, PatientID: 'P-SQ', RequestAttributesSequence: [request('SQ-3', 'STEP-3')] }),
    ]);
    expect(res.status).toBe(200);
    const series = (body: Match[]) => body.map((m) => m['0020000E'].Value?.[0]).sort();
    const inStudy = `/studies/${study}/series`;
    expect(series((await q(`${inStudy}?RequestAttributesSequence.ScheduledProcedureStepID=STEP-2`)).body)).toEqual([ordered.a]);
    expect(series((await q(`/series?RequestAttributesSequence.AccessionNumber=SQ-*`)).body)).toEqual([ordered.a, ordered.b].sort());
    // Tags work as well as keywords; both keys must hold in the same item.
    expect(series((await q(`${inStudy}?00400275.00400009=STEP-1&RequestAttributesSequence.AccessionNumber=SQ-1`)).body)).toEqual([ordered.a]);
    expect((await q(`${inStudy}?RequestAttributesSequence.ScheduledProcedureStepID=STEP-1&RequestAttributesSequence.AccessionNumber=SQ-2`)).body).toEqual([]);
    expect((await q(`${inStudy}?RequestAttributesSequence.ScheduledProcedureStepID=STEP-9`)).body).toEqual([]);
    // The matched sequence comes back with its items; instance-level queries match series attributes too.
    const [match] = (await q(`${inStudy}?RequestAttributesSequence.RequestedProcedureID=RP-STEP-3`)).body;
    expect((match['00400275'].Value as Match[]).map((item) => item['00401001'].Value?.[0])).toEqual(['RP-STEP-3']);
    expect((await q(`/studies/${study}/instances?RequestAttributesSequence.ScheduledProcedureStepID=STEP-3`)).body).toHaveLength(1);
    // A sequence alone is a return key; a value for it, or a path through something that is not a sequence, is refused.
    expect((await q(`${inStudy}?RequestAttributesSequence=`)).body).toHaveLength(2);
    const [withSequence] = (await q(`/studies/${study}/series/${ordered.b}/instances?includefield=RequestAttributesSequence.AccessionNumber`)).body;
    expect((withSequence['00400275'].Value as Match[])[0]['00080050'].Value).toEqual(['SQ-3']);
    expect((await q(`/studies/${study}/series/${ordered.b}/instances`)).body[0]['00400275']).toBeUndefined();
    for (const [query, words] of [
      ['RequestAttributesSequence=STEP-1', 'RequestAttributesSequence'],
      ['PatientID.AccessionNumber=1', 'PatientID is not a sequence'],
      ['RequestAttributesSequence.Nope=1', 'Nope'],
      ['RequestAttributesSequence.ScheduledProcedureStepID=', ''],
    ] as const) {
      const r = await q(`${inStudy}?${query}`);
      if (words === '') {
        expect(r.status, query).toBe(200); // universal matching inside the sequence
        continue;
      }
      expect(r.status, query).toBe(400);
      expect(r.error, query).toContain(words);
    }
  });
});

describe('QIDO-RS answer size', () => {
  let archive: TestArchive;
  const studyUid = uid();
  const seriesUid = uid();
  // Each instance carries ~2 KB of text: six of them overflow a 5,000-byte answer.
  const comments = 'x'.repeat(2000);
  beforeAll(async () => {
    archive = await startTestArchive({ maxQueryResponseBytes: 5000 });
    const files = Array.from({ length: 6 }, (_, n) => syntheticInstance({ StudyInstanceUID: studyUid, SeriesInstanceUID: seriesUid, InstanceNumber: n + 1, ImageComments: comments }));
    expect((await stow(archive.url, files)).status).toBe(200);
  });
  afterAll(() => archive?.dispose());

  it('stops at MAX_QUERY_RESPONSE_BYTES with the standard Warning and the offset to continue at', async () => {
    const seen: string[] = [];
    let offset = 0;
    for (let page = 0; page < 6; page++) {
      const res = await fetch(`${archive.url}/studies/${studyUid}/instances?includefield=all&offset=${offset}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(5000);
      const rows = JSON.parse(text) as Match[];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r['00204000'].Value?.[0] === comments)).toBe(true);
      seen.push(...rows.map((r) => String(r['00080018'].Value?.[0])));
      offset += rows.length;
      const warning = res.headers.get('warning');
      if (offset === 6) {
        expect(warning).toBeNull();
        break;
      }
      expect(warning).toContain('Additional results can be requested');
      expect(warning).toContain(`offset=${offset}`);
    }
    expect(new Set(seen).size).toBe(6);
  });
});
