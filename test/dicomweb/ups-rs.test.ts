// UPS-RS (PS3.18 Section 11, Pull Workflow): each transaction, the state machine with its Transaction UID
// lock (PS3.4 Annex CC), and every bad input with the standard's status and a message naming the rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestArchive, type TestArchive } from '../helpers/archive.js';
import { uid } from '../helpers/synthetic.js';

type Dataset = Record<string, { vr: string; Value?: unknown[] }>;

const workitem = (overrides: Dataset = {}): Dataset => ({
  '00741000': { vr: 'CS', Value: ['SCHEDULED'] },
  '00741200': { vr: 'CS', Value: ['MEDIUM'] },
  '00741204': { vr: 'LO', Value: ['Read CT CHEST'] },
  '00404005': { vr: 'DT', Value: ['20261207090000'] },
  '00404041': { vr: 'CS', Value: ['READY'] },
  '00100020': { vr: 'LO', Value: ['UPS-1'] },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] },
  '0020000D': { vr: 'UI', Value: [uid()] },
  ...overrides,
});
const state = (value: string, transaction?: string): Dataset => ({
  '00741000': { vr: 'CS', Value: [value] },
  ...(transaction ? { '00081195': { vr: 'UI', Value: [transaction] } } : {}),
});
const performed: Dataset = {
  '00741216': { vr: 'SQ', Value: [{ '00404050': { vr: 'DT', Value: ['20261207091000'] }, '00404051': { vr: 'DT', Value: ['20261207092000'] } }] },
};

describe('UPS-RS', () => {
  let archive: TestArchive;
  const send = async (method: string, path: string, body?: unknown, contentType = 'application/dicom+json') => {
    const res = await fetch(`${archive.url}${path}`, { method, headers: body === undefined ? {} : { 'Content-Type': contentType }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
  const create = async (ds: Dataset, query = '') => send('POST', `/workitems${query}`, [ds]);
  const retrieve = async (id: string) => (await send('GET', `/workitems/${id}`)).json[0] as Dataset;

  beforeAll(async () => {
    archive = await startTestArchive();
  });
  afterAll(async () => {
    await archive?.dispose();
  });

  it('creates a workitem (201, Location) and retrieves it without its lock', async () => {
    const id = uid();
    const created = await create(workitem(), `?workitem=${id}`);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${archive.url}/workitems/${id}`);
    const ds = await retrieve(id);
    expect(ds['00080016'].Value).toEqual(['1.2.840.10008.5.1.4.34.6.1']);
    expect(ds['00080018'].Value).toEqual([id]);
    expect(ds['00741000'].Value).toEqual(['SCHEDULED']);
    expect(ds['00741202'].Value).toEqual(['Reading worklist']); // an empty Worklist Label gets the archive's
    expect(ds['00081195']).toBeUndefined();
    // The UID may also come as a bare query (?UID) or in the data set.
    const bare = uid();
    expect((await create(workitem(), `?${bare}`)).status).toBe(201);
    const inData = uid();
    expect((await create(workitem({ '00080018': { vr: 'UI', Value: [inData] } }))).status).toBe(201);
    expect((await retrieve(inData))['00741204'].Value).toEqual(['Read CT CHEST']);
    expect((await create(workitem(), `?workitem=${id}`)).status).toBe(409);
  });

  it('refuses a workitem that breaks the creation rules, saying which', async () => {
    const cases: Array<[Dataset | string, number, RegExp, string?]> = [
      [workitem({ '00741000': { vr: 'CS', Value: ['IN PROGRESS'] } }), 400, /SCHEDULED/],
      [workitem({ '00081195': { vr: 'UI', Value: [uid()] } }), 400, /Transaction UID/],
      [{ ...workitem(), '00741204': { vr: 'LO' } }, 400, /Procedure Step Label \(0074,1204\)/],
      [workitem({ '00741200': { vr: 'CS', Value: ['SOON'] } }), 400, /HIGH, MEDIUM or LOW/],
      [workitem({ '00404005': { vr: 'DT', Value: ['tomorrow'] } }), 400, /DICOM DT/],
      [workitem({ 'nonsense': { vr: 'CS', Value: ['x'] } }), 400, /8 hexadecimal digits/],
      ['{not json', 400, /not JSON/],
      [workitem(), 415, /application\/dicom\+json/, 'text/plain'],
    ];
    for (const [body, status, message, type] of cases) {
      const res = await send('POST', '/workitems', typeof body === 'string' ? body : [body], type);
      expect(res.status, JSON.stringify(res.json)).toBe(status);
      expect(res.json.error).toMatch(message);
    }
    expect((await send('POST', '/workitems', [workitem(), workitem()])).status).toBe(400);
    expect((await send('GET', `/workitems/${uid()}`)).status).toBe(404);
    expect((await send('GET', '/workitems/not-a-uid')).status).toBe(400);
  });

  it('searches with QIDO-RS matching, most urgent first', async () => {
    const high = uid();
    const low = uid();
    await create(workitem({ '00741200': { vr: 'CS', Value: ['LOW'] }, '00100020': { vr: 'LO', Value: ['SEARCH-1'] } }), `?workitem=${low}`);
    await create(workitem({ '00741200': { vr: 'CS', Value: ['HIGH'] }, '00100020': { vr: 'LO', Value: ['SEARCH-1'] } }), `?workitem=${high}`);
    const found = (await send('GET', '/workitems?PatientID=SEARCH-1')).json as Dataset[];
    expect(found.map((d) => d['00080018'].Value![0])).toEqual([high, low]);
    const urgent = (await send('GET', '/workitems?ScheduledProcedureStepPriority=HIGH&PatientID=SEARCH-1')).json as Dataset[];
    expect(urgent.map((d) => d['00080018'].Value![0])).toEqual([high]);
    expect((await send('GET', '/workitems?PatientID=SEARCH-1&limit=1&offset=1')).json.map((d: Dataset) => d['00080018'].Value![0])).toEqual([low]);
    expect((await send('GET', '/workitems?PatientID=NOBODY')).json).toEqual([]);
    expect((await send('GET', '/workitems?NotAKeyword=1')).status).toBe(400);
  });

  it('stops a search answer at the byte limit and says where to continue', async () => {
    const small = await startTestArchive({ maxQueryResponseBytes: 1500 });
    try {
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${small.url}/workitems`, { method: 'POST', headers: { 'Content-Type': 'application/dicom+json' }, body: JSON.stringify([workitem({ '00100020': { vr: 'LO', Value: ['PAGED'] } })]) });
        expect(res.status).toBe(201);
      }
      const first = await fetch(`${small.url}/workitems?PatientID=PAGED`);
      const page = (await first.json()) as Dataset[];
      expect(page.length).toBeGreaterThan(0);
      expect(page.length).toBeLessThan(4);
      expect(first.headers.get('warning')).toContain(`offset=${page.length}`);
      const rest = (await (await fetch(`${small.url}/workitems?PatientID=PAGED&offset=${page.length}&limit=10`)).json()) as Dataset[];
      expect(rest.length).toBeGreaterThan(0);
    } finally {
      await small.dispose();
    }
  });

  it('claims, updates under the lock, completes, and refuses every illegal change with its rule', async () => {
    const id = uid();
    await create(workitem(), `?workitem=${id}`);
    const tx = uid();
    // SCHEDULED: updated without a lock; not completed before it is claimed.
    expect((await send('POST', `/workitems/${id}`, [{ '00741200': { vr: 'CS', Value: ['HIGH'] } }])).status).toBe(200);
    expect((await retrieve(id))['00741200'].Value).toEqual(['HIGH']);
    expect((await send('POST', `/workitems/${id}?transaction=${tx}`, [{ '00741200': { vr: 'CS', Value: ['LOW'] } }])).status).toBe(400);
    const early = await send('PUT', `/workitems/${id}/state`, [state('COMPLETED', tx)]);
    expect(early.status).toBe(409);
    expect(early.json.error).toMatch(/C310/);
    const noTx = await send('PUT', `/workitems/${id}/state`, [state('IN PROGRESS')]);
    expect(noTx.status).toBe(400);
    expect(noTx.json.error).toMatch(/Transaction UID/);
    expect((await send('PUT', `/workitems/${id}/state`, [state('SCHEDULED', tx)])).status).toBe(400);
    // Claimed.
    expect((await send('PUT', `/workitems/${id}/state`, [state('IN PROGRESS', tx)])).status).toBe(200);
    expect((await retrieve(id))['00741000'].Value).toEqual(['IN PROGRESS']);
    expect((await retrieve(id))['00081195']).toBeUndefined();
    const again = await send('PUT', `/workitems/${id}/state`, [state('IN PROGRESS', uid())]);
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/C302/);
    // IN PROGRESS: only with the claim's Transaction UID.
    expect((await send('POST', `/workitems/${id}`, [performed])).status).toBe(400);
    expect((await send('POST', `/workitems/${id}?transaction=${uid()}`, [performed])).json.error).toMatch(/C301/);
    expect((await send('PUT', `/workitems/${id}/state`, [state('COMPLETED', uid())])).json.error).toMatch(/C301/);
    expect((await send('POST', `/workitems/${id}?transaction=${tx}`, [state('COMPLETED')])).status).toBe(400); // state changes are not updates
    const unready = await send('PUT', `/workitems/${id}/state`, [state('COMPLETED', tx)]);
    expect(unready.status).toBe(409);
    expect(unready.json.error).toMatch(/C304.*Performed Procedure Step Start DateTime|Performed Procedure Sequence/);
    expect((await send('POST', `/workitems/${id}?transaction=${tx}`, [performed])).status).toBe(200);
    expect((await send('PUT', `/workitems/${id}/state`, [state('COMPLETED', tx)])).status).toBe(200);
    expect((await retrieve(id))['00741000'].Value).toEqual(['COMPLETED']);
    // Final.
    const repeat = await send('PUT', `/workitems/${id}/state`, [state('COMPLETED', tx)]);
    expect(repeat.status).toBe(200);
    expect(repeat.headers.get('warning')).toMatch(/B306/);
    expect((await send('PUT', `/workitems/${id}/state`, [state('CANCELED', tx)])).status).toBe(409);
    expect((await send('POST', `/workitems/${id}?transaction=${tx}`, [performed])).json.error).toMatch(/COMPLETED.*C300/);
    expect((await send('POST', `/workitems/${id}/cancelrequest`, [{}])).status).toBe(409);
    expect((await send('PUT', `/workitems/${uid()}/state`, [state('IN PROGRESS', tx)])).status).toBe(404);
  });

  it('cancels a SCHEDULED workitem on request, and leaves one IN PROGRESS to its performer', async () => {
    const id = uid();
    await create(workitem(), `?workitem=${id}`);
    expect((await send('POST', `/workitems/${id}/cancelrequest`, [{ '00741238': { vr: 'LT', Value: ['ordered twice'] } }])).status).toBe(202);
    const cancelled = await retrieve(id);
    expect(cancelled['00741000'].Value).toEqual(['CANCELED']);
    expect(JSON.stringify(cancelled['00741002'])).toContain('ordered twice');
    expect((await send('POST', `/workitems/${id}/cancelrequest`)).headers.get('warning')).toMatch(/B304/);
    const claimed = uid();
    await create(workitem(), `?workitem=${claimed}`);
    const tx = uid();
    await send('PUT', `/workitems/${claimed}/state`, [state('IN PROGRESS', tx)]);
    expect((await send('POST', `/workitems/${claimed}/cancelrequest`)).status).toBe(409);
    expect((await send('PUT', `/workitems/${claimed}/state`, [state('CANCELED', tx)])).status).toBe(200);
    expect((await retrieve(claimed))['00741000'].Value).toEqual(['CANCELED']);
  });

  it('lets exactly one of two performers claiming at once win', async () => {
    const id = uid();
    await create(workitem(), `?workitem=${id}`);
    const claims = await Promise.all([uid(), uid(), uid()].map((tx) => send('PUT', `/workitems/${id}/state`, [state('IN PROGRESS', tx)])));
    expect(claims.map((c) => c.status).sort()).toEqual([200, 409, 409]);
  });
});
