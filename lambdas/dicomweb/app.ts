// The DICOMweb application: one Hono app that runs unchanged behind the local Node server and
// behind API Gateway/Lambda. It depends only on the storage interfaces it is given.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { consoleLog, type StructuredLog } from '../logging.js';
import { viewerCors } from '../cors.js';
import { bodyLimit } from 'hono/body-limit';
import { logger } from 'hono/logger';
import { uidProblem } from '../dicom/uid.js';
import { AUDIT_ROOT, createAuditApi, describeAuditRequest } from '../governance/audit/audit-api.js';
import { describeDicomWebRequest } from '../governance/audit/audited-action.js';
import { httpAudit } from '../governance/audit/http-audit.js';
import { localCaller, type IdentifyRequester } from '../governance/audit/requester.js';
import { StudyPatients } from '../governance/audit/study-patients.js';
import type { ArchiveStorage, QueryLevel, ReferenceScope } from '../storage/ports.js';
import type { DicomWebConfig } from './config.js';
import { deleteScope } from './delete/delete.js';
import { HttpProblem, problemBody } from './http/problem.js';
import { handleQido } from './query/qido.js';
import { retrieveRendered, retrieveThumbnail } from './retrieve/rendered.js';
import { retrieveMetadata } from './retrieve/metadata.js';
import { retrieveBulkData, retrieveFrames, retrieveInstances } from './retrieve/wado.js';
import { handleStow } from './store/stow.js';
import { addWorkitemRoutes } from './workitems/ups-rs.js';

const PARAM_NAMES: Record<string, string> = { study: 'Study Instance UID', series: 'Series Instance UID', instance: 'SOP Instance UID' };

/** Reads and validates the UIDs in the path; an invalid one never reaches storage. */
function scopeOf(c: Context): ReferenceScope {
  const params = c.req.param() as Record<string, string>;
  for (const [name, label] of Object.entries(PARAM_NAMES)) {
    if (params[name] === undefined) continue;
    let value: string;
    try {
      value = decodeURIComponent(params[name]);
    } catch {
      throw new HttpProblem(400, `${label} in the URL is not valid percent-encoding: "${params[name].slice(0, 80)}"`);
    }
    const problem = uidProblem(value, `${label} in the URL`);
    if (problem) throw new HttpProblem(400, problem);
  }
  return { studyInstanceUID: params.study, seriesInstanceUID: params.series, sopInstanceUID: params.instance };
}

const CLOSE = { Connection: 'close' };

const full = (s: ReferenceScope) => s as Required<ReferenceScope>;

export interface DicomWebAppOptions {
  /** Who made a request, for the audit trail: the runtime's own way of knowing (the Node server's peer by default). */
  requester?: IdentifyRequester;
  /**
   * The runtime's own checks (token and scope), run once the audit trail has seen the request, so that
   * refusals are recorded too: for the DICOMweb resources and for the audit trail's API.
   */
  guards?: { dicomweb?: MiddlewareHandler[]; audit?: MiddlewareHandler[] };
}

/** `log` receives unhandled errors (Powertools' Logger on Lambda, JSON lines on the console otherwise). */
export function createDicomWebApp(storage: ArchiveStorage, config: DicomWebConfig, log: StructuredLog = consoleLog('dicomweb'), options: DicomWebAppOptions = {}): Hono {
  const app = new Hono();
  if (process.env.LOG_REQUESTS === '1') app.use('*', logger());
  app.use('*', viewerCors(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']));
  // Every request to the archive's resources leaves an audit record before it is answered (governance/audit).
  const patients = new StudyPatients(storage.index);
  const audited = { log: storage.audit, sourceID: config.auditSourceId, requester: options.requester ?? localCaller, patients, errors: log };
  const dicomWebPath = (c: Context) => c.req.path.slice(config.basePath.length);
  app.use(`${config.basePath}/*`, httpAudit({ ...audited, describe: (c) => describeDicomWebRequest(c.req.method, dicomWebPath(c), new URL(c.req.url).search) }));
  app.use(`${AUDIT_ROOT}/*`, httpAudit({ ...audited, describe: describeAuditRequest }));
  for (const guard of options.guards?.dicomweb ?? []) app.use(`${config.basePath}/*`, guard);
  for (const guard of options.guards?.audit ?? []) app.use(`${AUDIT_ROOT}/*`, guard);
  if (config.cacheScope === 'private') {
    app.use('*', async (c, next) => {
      await next();
      const cacheControl = c.res.headers.get('cache-control');
      if (cacheControl?.startsWith('public')) c.res.headers.set('cache-control', `private${cacheControl.slice('public'.length)}`);
    });
  }
  app.onError((err, c) => {
    if (err instanceof HttpProblem) {
      // A refused body is not read to its end, so the connection cannot carry another request (the Node
      // server reads and discards what the client still sends before closing it: node-server.ts).
      return c.body(problemBody(err.status, err.message), err.status, { 'Content-Type': 'application/json', ...(err.status === 413 ? CLOSE : {}) });
    }
    log('error', 'unhandled error', { method: c.req.method, path: c.req.path, error: String(err), stack: (err as Error).stack });
    return c.body(problemBody(500, 'internal error; the request was not completed'), 500, { 'Content-Type': 'application/json' });
  });
  // Only STOW-RS reads a request body (with its own limits, per instance and per request); a body
  // declared on any other request is refused before routing if it is larger than a request may be.
  const otherBodies = bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.body(problemBody(413, `a ${c.req.method} request to this archive carries no body of more than 64 KiB`), 413, { 'Content-Type': 'application/json', ...CLOSE }) });
  app.use('*', (c, next) => (c.req.method === 'POST' ? next() : otherBodies(c, next)));
  app.notFound((c) => c.body(problemBody(404, `no DICOMweb resource at ${c.req.method} ${c.req.path}`), 404, { 'Content-Type': 'application/json' }));

  const dw = new Hono();
  const qido = (level: QueryLevel) => (c: Context) => {
    const s = scopeOf(c);
    return handleQido(c, storage, config, level, { studyInstanceUID: s.studyInstanceUID, seriesInstanceUID: s.seriesInstanceUID });
  };

  // STOW-RS
  dw.post('/studies', (c) => handleStow(c, storage, config));
  dw.post('/studies/:study', (c) => handleStow(c, storage, config, scopeOf(c).studyInstanceUID));

  // QIDO-RS
  dw.get('/studies', qido('study'));
  dw.get('/series', qido('series'));
  dw.get('/instances', qido('instance'));
  dw.get('/studies/:study/series', qido('series'));
  dw.get('/studies/:study/instances', qido('instance'));
  dw.get('/studies/:study/series/:series/instances', qido('instance'));

  // WADO-RS
  dw.get('/studies/:study', (c) => retrieveInstances(c, storage, config, scopeOf(c)));
  dw.get('/studies/:study/series/:series', (c) => retrieveInstances(c, storage, config, scopeOf(c)));
  dw.get('/studies/:study/series/:series/instances/:instance', (c) => retrieveInstances(c, storage, config, scopeOf(c)));
  dw.get('/studies/:study/metadata', (c) => retrieveMetadata(c, storage, config, scopeOf(c)));
  dw.get('/studies/:study/series/:series/metadata', (c) => retrieveMetadata(c, storage, config, scopeOf(c)));
  dw.get('/studies/:study/series/:series/instances/:instance/metadata', (c) => retrieveMetadata(c, storage, config, scopeOf(c)));
  dw.get('/studies/:study/series/:series/instances/:instance/frames/:frames', (c) => retrieveFrames(c, storage, full(scopeOf(c)), c.req.param('frames')));
  dw.get('/studies/:study/series/:series/instances/:instance/bulkdata/*', (c) => {
    const scope = full(scopeOf(c));
    const path = c.req.path.split('/bulkdata/')[1]?.split('/').filter(Boolean) ?? [];
    return retrieveBulkData(c, storage, scope, path);
  });

  // Rendered and thumbnails
  const inst = '/studies/:study/series/:series/instances/:instance';
  dw.get(`${inst}/rendered`, (c) => retrieveRendered(c, storage, full(scopeOf(c))));
  dw.get(`${inst}/frames/:frames/rendered`, (c) => retrieveRendered(c, storage, full(scopeOf(c)), c.req.param('frames')));
  dw.get(`${inst}/thumbnail`, (c) => retrieveThumbnail(c, storage, scopeOf(c)));
  dw.get(`${inst}/frames/:frames/thumbnail`, (c) => retrieveThumbnail(c, storage, scopeOf(c), c.req.param('frames')));
  dw.get('/studies/:study/series/:series/thumbnail', (c) => retrieveThumbnail(c, storage, scopeOf(c)));
  dw.get('/studies/:study/thumbnail', (c) => retrieveThumbnail(c, storage, scopeOf(c)));

  // Delete
  dw.delete('/studies/:study', (c) => deleteScope(storage, scopeOf(c)));
  dw.delete('/studies/:study/series/:series', (c) => deleteScope(storage, scopeOf(c)));
  dw.delete('/studies/:study/series/:series/instances/:instance', (c) => deleteScope(storage, scopeOf(c)));

  // UPS-RS (the reading worklist as DICOM workitems)
  addWorkitemRoutes(dw, storage.workitems, config);

  app.route(config.basePath, dw);
  app.route(AUDIT_ROOT, createAuditApi(storage.audit));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  return app;
}
