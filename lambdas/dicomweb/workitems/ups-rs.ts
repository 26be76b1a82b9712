// UPS-RS, the Worklist Service (PS3.18 Section 11, Pull Workflow): create, retrieve, update, change
// state, request cancellation and search workitems, over the WorkitemStore port. The rules are in
// workitem-rules.ts; here are the HTTP shapes, the payload limits and the compare-and-set loop that
// keeps two clients changing one workitem at once from overwriting each other.
import { randomUUID } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { compileFilter } from '../../dicom/matching.js';
import { uidFromName, uidProblem } from '../../dicom/uid.js';
import type { WorkitemRecord, WorkitemStore } from '../../storage/ports.js';
import type { DicomWebConfig } from '../config.js';
import { HttpProblem, problemBody } from '../http/problem.js';
import { dicomWebRoot } from '../http/urls.js';
import { warningHeader } from '../http/warning.js';
import { parseQuery } from '../query/qido.js';
import { cancelRequested, changedState, newWorkitem, parseWorkitemPayload, updatedWorkitem, workitemView, type StateChange } from './workitem-rules.js';

const MAX_PAYLOAD_BYTES = 1024 * 1024;
const JSON_TYPES = ['application/dicom+json', 'application/json'];
/** Attempts at a compare-and-set change before the client is told to try again. */
const ATTEMPTS = 5;

function workitemUid(c: Context): string {
  const uid = c.req.param('workitem') ?? '';
  const problem = uidProblem(uid, 'the workitem UID in the URL');
  if (problem) throw new HttpProblem(400, problem);
  return uid;
}

async function payload(c: Context): Promise<ReturnType<typeof parseWorkitemPayload>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (!JSON_TYPES.includes(type)) throw new HttpProblem(415, `workitems are sent as application/dicom+json, not "${type || '(no Content-Type)'}"`);
  let json: unknown;
  try {
    json = JSON.parse(await c.req.text());
  } catch {
    throw new HttpProblem(400, 'the payload is not JSON');
  }
  return parseWorkitemPayload(json);
}

async function existing(store: WorkitemStore, uid: string): Promise<WorkitemRecord> {
  const record = await store.get(uid);
  if (!record) throw new HttpProblem(404, `no workitem ${uid}`);
  return record;
}

/** Reads, applies `change`, and writes if nobody changed the workitem meanwhile; else reads again. */
async function change(store: WorkitemStore, uid: string, apply: (record: WorkitemRecord) => StateChange): Promise<StateChange> {
  for (let attempt = 1; ; attempt++) {
    const result = apply(await existing(store, uid));
    if (result.warning || (await store.replace(result.record))) return result;
    if (attempt >= ATTEMPTS) throw new HttpProblem(409, `workitem ${uid} kept changing while this request was applied; try again`);
  }
}

const json = (body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { headers: { 'Content-Type': 'application/dicom+json', ...headers } });
const done = (result: StateChange) => new Response(null, { status: 200, headers: result.warning ? { Warning: warningHeader([result.warning]) } : {} });

export function addWorkitemRoutes(dw: Hono, store: WorkitemStore, config: DicomWebConfig): void {
  const limit = bodyLimit({ maxSize: MAX_PAYLOAD_BYTES, onError: (c) => c.body(problemBody(413, `a workitem payload is at most ${MAX_PAYLOAD_BYTES} bytes`), 413, { 'Content-Type': 'application/json', Connection: 'close' }) });

  // Create (11.4): the UID as ?workitem=UID, as a bare ?UID, in the data set, or made here.
  dw.post('/workitems', limit, async (c) => {
    const query = new URL(c.req.url).searchParams;
    const bare = [...query.keys()].find((k) => /^[0-9.]+$/.test(k) && query.get(k) === '');
    const record = newWorkitem(await payload(c), query.get('workitem') ?? bare, () => uidFromName(randomUUID()));
    if (!(await store.create(record))) throw new HttpProblem(409, `workitem ${record.sopInstanceUID} exists already`);
    const url = `${dicomWebRoot(c, config)}/workitems/${record.sopInstanceUID}`;
    return new Response(null, { status: 201, headers: { Location: url, 'Content-Location': url } });
  });

  // Search (11.9): the QIDO-RS matching rules, every attribute of the workitem matchable.
  dw.get('/workitems', async (c) => {
    const query = parseQuery(c.req.queries(), 'instance', config);
    const matchers = query.filters.map((f) => compileFilter(f, `(${f.tag.toString(16)})`, query.fuzzy));
    const found: string[] = [];
    let bytes = 2;
    let skipped = 0;
    for await (const record of store.list()) {
      const view = workitemView(record);
      if (!matchers.every((m) => m(view))) continue;
      if (skipped++ < query.offset) continue;
      const row = JSON.stringify(view);
      // As QIDO-RS: an answer stops at MAX_QUERY_RESPONSE_BYTES (a Lambda answer must stay under 6 MB), and says where to go on.
      if (found.length > 0 && bytes + row.length + 1 > config.maxQueryResponseBytes) {
        query.warnings.push(`The number of results exceeded the maximum supported by the server. Additional results can be requested: continue with offset=${query.offset + found.length}`);
        break;
      }
      found.push(row);
      bytes += row.length + 1;
      if (found.length >= query.limit) break;
    }
    return new Response(`[${found.join(',')}]`, { headers: { 'Content-Type': 'application/dicom+json', ...(query.warnings.length ? { Warning: warningHeader(query.warnings) } : {}) } });
  });

  // Retrieve (11.5).
  dw.get('/workitems/:workitem', async (c) => json([workitemView(await existing(store, workitemUid(c)))]));

  // Update (11.6): ?transaction=UID while the workitem is IN PROGRESS.
  dw.post('/workitems/:workitem', limit, async (c) => {
    const uid = workitemUid(c);
    const changes = await payload(c);
    const transaction = c.req.query('transaction');
    return done(await change(store, uid, (record) => ({ record: updatedWorkitem(record, changes, transaction, new Date()) })));
  });

  // Change State (11.7).
  dw.put('/workitems/:workitem/state', async (c) => {
    const uid = workitemUid(c);
    const request = await payload(c);
    return done(await change(store, uid, (record) => changedState(record, request, new Date())));
  });

  // Request Cancellation (11.8): 202, the request is acted on at once.
  dw.post('/workitems/:workitem/cancelrequest', limit, async (c) => {
    const uid = workitemUid(c);
    const request = c.req.header('content-length') === '0' || !c.req.header('content-type') ? {} : await payload(c);
    const result = await change(store, uid, (record) => cancelRequested(record, request, new Date()));
    return new Response(null, { status: 202, headers: result.warning ? { Warning: warningHeader([result.warning]) } : {} });
  });
}
