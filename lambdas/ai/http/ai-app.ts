// The AI pipeline's HTTP API (JSON): the triage worklist, results with reader feedback, the analyser
// and model registry, monitoring metrics and dead letters. The worklist is also served as DICOM
// workitems by UPS-RS (dicomweb/workitems, kept up to date by pipeline/reading-workitem.ts).
import { bodyLimit } from 'hono/body-limit';
import { etag } from 'hono/etag';
import { Hono, type Context } from 'hono';
import { viewerCors } from '../../cors.js';
import { consoleLog, type StructuredLog } from '../../logging.js';
import { z } from 'zod';
import { uidProblem } from '../../dicom/uid.js';
import { analyserMetrics } from '../monitoring/metrics.js';
import { describeAiRequest } from '../../governance/audit/audited-action.js';
import { httpAudit, type AuditSetup } from '../../governance/audit/http-audit.js';
import { keyOfResultId, resultId, type AiStateStore, type AnalysisJob, type AnalysisResult, type WorkQueue } from '../ports.js';

class ApiProblem extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

const feedbackBody = z
  .object({
    verdict: z.enum(['accept', 'reject', 'correct']),
    reader: z.string().trim().min(1).max(200),
    comment: z.string().max(4000).optional(),
    correction: z.record(z.union([z.number(), z.string().max(1000)])).optional(),
  })
  .strict()
  .refine((f) => f.verdict !== 'correct' || (f.correction && Object.keys(f.correction).length > 0), {
    message: 'a "correct" verdict needs a correction',
    path: ['correction'],
  });

const analyserPatch = z
  .object({
    enabled: z.boolean().optional(),
    validationStatus: z.enum(['research', 'validated', 'cleared', 'retired']).optional(),
    who: z.string().trim().min(1).max(200),
    note: z.string().trim().min(1).max(2000),
  })
  .strict();

async function parseBody<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new ApiProblem(400, 'the body must be JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join('.') || '(body)';
    throw new ApiProblem(400, `field "${field}": ${issue.message}`);
  }
  return parsed.data;
}

function intParam(c: Context, name: string, fallback: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new ApiProblem(400, `query parameter "${name}" must be an integer from 0 to ${max}, got "${raw}"`);
  return n;
}

const withId = (r: AnalysisResult) => ({ id: resultId(r.key), ...r });

/** `analyserIds`: the installed analysers, whose metrics and dead letters are reported. */
export function createAiApp(state: AiStateStore, queue: WorkQueue<AnalysisJob>, analyserIds: readonly string[], log: StructuredLog = consoleLog('ai-api'), audit?: AuditSetup): Hono {
  const app = new Hono();
  app.use('*', viewerCors(['GET', 'POST', 'PATCH']));
  // Reading the worklist and results, and feedback, are accesses to patients' studies: each is recorded (governance/audit).
  if (audit) app.use('*', httpAudit({ ...audit, errors: log, describe: (c) => describeAiRequest(c.req.method, c.req.path.replace(/^.*?\/ai(?=\/)/, ''), new URL(c.req.url).search) }));
  app.onError((err, c) => {
    if (err instanceof ApiProblem) return c.json({ status: err.status, error: err.message }, err.status);
    log('error', 'unhandled error', { path: c.req.path, error: String(err) });
    return c.json({ status: 500, error: 'internal error' }, 500);
  });

  // The API's bodies are small JSON documents (feedback, analyser settings).
  app.use('*', bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.json({ status: 413, error: 'the request body is larger than the 64 KiB this API accepts' }, 413) }));

  // The worklist page polls: an unchanged worklist is a 304.
  app.get('/worklist', etag(), async (c) => {
    const stateFilter = c.req.query('state');
    if (stateFilter !== undefined && !['collecting', 'analysing', 'analysed'].includes(stateFilter)) {
      throw new ApiProblem(400, `query parameter "state" must be collecting, analysing or analysed, got "${stateFilter}"`);
    }
    const items = await state.worklist({
      state: stateFilter as 'collecting' | 'analysing' | 'analysed' | undefined,
      limit: intParam(c, 'limit', 100, 1000),
      offset: intParam(c, 'offset', 0, 1_000_000),
    });
    return c.json(items);
  });

  app.get('/studies/:study/results', async (c) => {
    const study = c.req.param('study');
    const problem = uidProblem(study, 'Study Instance UID in the URL');
    if (problem) throw new ApiProblem(400, problem);
    const results = await state.resultsOf(study);
    return c.json(await Promise.all(results.map(async (r) => ({ ...withId(r), feedback: await state.feedbackFor(r.key) }))));
  });

  const resultFor = async (c: Context): Promise<AnalysisResult> => {
    const key = keyOfResultId(c.req.param('id') ?? '');
    const result = key ? await state.getResult(key) : undefined;
    if (!result) throw new ApiProblem(404, `no analysis result with id "${c.req.param('id')}"`);
    return result;
  };
  app.get('/results/:id', async (c) => {
    const r = await resultFor(c);
    return c.json({ ...withId(r), feedback: await state.feedbackFor(r.key) });
  });
  app.post('/results/:id/feedback', async (c) => {
    const r = await resultFor(c);
    const body = await parseBody(c, feedbackBody);
    const feedback = { resultKey: r.key, ...body, at: new Date().toISOString() };
    await state.putFeedback(feedback);
    return c.json(feedback, 201);
  });

  app.get('/analysers', async (c) => c.json(await state.analysers()));
  app.get('/analysers/:id', async (c) => {
    const record = (await state.analysers()).find((a) => a.id === c.req.param('id'));
    if (!record) throw new ApiProblem(404, `no analyser "${c.req.param('id')}"`);
    return c.json({ ...record, changeLog: await state.changeLog(record.id) });
  });
  app.patch('/analysers/:id', async (c) => {
    const records = await state.analysers();
    const record = records.find((a) => a.id === c.req.param('id'));
    if (!record) throw new ApiProblem(404, `no analyser "${c.req.param('id')}"`);
    const patch = await parseBody(c, analyserPatch);
    const changes: string[] = [];
    const updated = { ...record };
    if (patch.enabled !== undefined && patch.enabled !== record.enabled) {
      updated.enabled = patch.enabled;
      changes.push(patch.enabled ? 'enabled' : 'disabled');
    }
    if (patch.validationStatus && patch.validationStatus !== record.validationStatus) {
      updated.validationStatus = patch.validationStatus;
      changes.push(`validation status ${record.validationStatus} → ${patch.validationStatus}`);
    }
    if (!changes.length) throw new ApiProblem(400, 'the request changes nothing: give "enabled" or "validationStatus" with a new value');
    await state.putAnalyser(updated, { who: patch.who, change: `${changes.join(', ')}: ${patch.note}` });
    return c.json({ ...updated, changeLog: await state.changeLog(updated.id) });
  });

  app.get('/models', async (c) => c.json(await state.models()));

  app.get('/metrics', async (c) => {
    const window = intParam(c, 'window', 1000, 100_000);
    const metrics = await Promise.all(analyserIds.map(async (id) => analyserMetrics(id, await state.recentResults(id, window))));
    return c.json(metrics);
  });

  app.get('/dead-letters', async (c) => {
    const out = await Promise.all(analyserIds.map(async (id) => ({ analyserId: id, messages: await queue.deadLetters(id) })));
    return c.json(out.filter((q) => q.messages.length));
  });

  app.notFound((c) => c.json({ status: 404, error: `no AI resource at ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
