// The de-identified export API (JSON): POST /exports starts an export of a cohort, GET /exports/{id}
// tells its progress, GET /exports/{id}/manifest what became of each original (the archive's own record,
// linking originals to copies), GET /exports lists them. Every request is in the audit trail.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { uidProblem } from '../../dicom/uid.js';
import type { DicomWebConfig } from '../../dicomweb/config.js';
import { HttpProblem, problemBody } from '../../dicomweb/http/problem.js';
import { parseQuery } from '../../dicomweb/query/qido.js';
import type { StructuredLog } from '../../logging.js';
import type { ExportJob, ExportJobStore } from '../../storage/ports.js';
import { AuditEvent } from '../audit/audit-codes.js';
import { uriObject, type AuditedAction } from '../audit/audited-action.js';
import { httpAudit, type AuditSetup } from '../audit/http-audit.js';
import { PROFILE_OPTIONS, type ProfileOption } from '../deidentify/profile.js';

export const EXPORTS_ROOT = '/exports';
const MAX_STUDIES = 10_000;

const requestBody = z
  .object({
    query: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
    studies: z.array(z.string()).max(MAX_STUDIES).optional(),
    options: z.array(z.enum(Object.keys(PROFILE_OPTIONS) as [ProfileOption, ...ProfileOption[]])).default([]),
    includeBurnedIn: z.boolean().default(false),
  })
  .strict();

export interface ExportApiDeps {
  jobs: ExportJobStore;
  config: DicomWebConfig;
  /** Where an export's files go, as the job names it (a folder, or s3://bucket/prefix). */
  destinationOf: (id: string) => string;
  /** Starts the export in the background. */
  start: (job: ExportJob) => void;
  audit: AuditSetup;
  /** The runtime's own token checks, run once the audit trail has seen the request (refusals are recorded). */
  guards?: MiddlewareHandler[];
  log: StructuredLog;
}

async function parseRequest(c: Context, config: DicomWebConfig): Promise<ExportJob['request']> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new HttpProblem(400, 'the body must be JSON: {"query": {QIDO-RS parameters}, "studies": [Study Instance UIDs], "options": [...], "includeBurnedIn": false}');
  }
  const parsed = requestBody.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpProblem(400, `field "${issue.path.join('.') || '(body)'}": ${issue.message}`);
  }
  const { query, studies, options, includeBurnedIn } = parsed.data;
  if (!query && !studies?.length) throw new HttpProblem(400, 'name the cohort: "query" (QIDO-RS study-level parameters) and/or "studies" (Study Instance UIDs)');
  if (options.includes('retainSafePrivate')) throw new HttpProblem(400, 'the Retain Safe Private Option is not supported: private attributes are always removed');
  for (const uid of studies ?? []) {
    const problem = uidProblem(uid, 'a Study Instance UID in "studies"');
    if (problem) throw new HttpProblem(400, problem);
  }
  const params = query ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])) : undefined;
  if (params) parseQuery(params, 'study', config); // refuses an unknown or malformed parameter now, not in the job
  return { ...(params ? { query: params } : {}), ...(studies ? { studies: [...new Set(studies)] } : {}), options: [...new Set(options)], includeBurnedIn };
}

function describeExportRequest(c: Context): AuditedAction | undefined {
  if (c.req.method === 'OPTIONS') return undefined;
  const resource = uriObject(c.req.path.slice(0, 1024), 'de-identified export');
  // Starting one is an export; reading one (its manifest links copies to originals) an access.
  if (c.req.method === 'POST') return { event: AuditEvent.Export, action: 'C', studies: [], objects: [resource] };
  return { event: AuditEvent.InstancesAccessed, action: 'R', studies: [], objects: [resource] };
}

/** The manifest as a JSON array, written as it is read. */
function jsonArray(entries: AsyncIterable<unknown>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = entries[Symbol.asyncIterator]();
  let first = true;
  return new ReadableStream({
    start: (controller) => controller.enqueue(encoder.encode('[')),
    pull: async (controller) => {
      const next = await iterator.next();
      if (next.done) {
        controller.enqueue(encoder.encode(']'));
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(`${first ? '' : ','}\n${JSON.stringify(next.value)}`));
      first = false;
    },
  });
}

export function createExportApp(deps: ExportApiDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof HttpProblem) return c.body(problemBody(err.status, err.message), err.status, { 'Content-Type': 'application/json' });
    deps.log('error', 'unhandled error', { path: c.req.path, error: String(err) });
    return c.body(problemBody(500, 'internal error; the request was not completed'), 500, { 'Content-Type': 'application/json' });
  });
  app.use('*', httpAudit({ ...deps.audit, errors: deps.log, describe: describeExportRequest }));
  for (const guard of deps.guards ?? []) app.use('*', guard);
  app.use('*', bodyLimit({ maxSize: 1024 * 1024, onError: (c) => c.body(problemBody(413, 'an export request is at most 1 MiB of JSON'), 413, { 'Content-Type': 'application/json' }) }));

  app.post('/', async (c) => {
    const request = await parseRequest(c, deps.config);
    const now = new Date().toISOString();
    // Begins with its creation time, so that ids sort as the exports were asked for.
    const id = `${now.replace(/[-:.TZ]/g, '')}-${randomUUID().slice(0, 8)}`;
    const job: ExportJob = {
      id,
      state: 'running',
      createdAt: now,
      updatedAt: now,
      requestedBy: deps.audit.requester(c).userID,
      request,
      destination: deps.destinationOf(id),
      progress: { studies: 0, instances: 0, copied: 0, excluded: 0, failed: 0 },
    };
    await deps.jobs.put(job);
    deps.start(job);
    return c.json(job, 202, { Location: `${EXPORTS_ROOT}/${id}` });
  });
  app.get('/', async (c) => c.json({ exports: await deps.jobs.list(100) }));
  const jobOf = async (c: Context) => {
    const job = await deps.jobs.get(c.req.param('id') ?? '');
    if (!job) throw new HttpProblem(404, `no export "${(c.req.param('id') ?? '').slice(0, 64)}"`);
    return job;
  };
  app.get('/:id', async (c) => c.json(await jobOf(c)));
  app.get('/:id/manifest', async (c) => {
    const job = await jobOf(c);
    if (job.state === 'running') throw new HttpProblem(409, `the export is still running (${job.progress.instances} instances read so far); its manifest is complete once it is done`);
    return c.body(jsonArray(deps.jobs.manifest(job.id)), 200, { 'Content-Type': 'application/json' });
  });
  return app;
}
