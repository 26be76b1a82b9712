// The streaming runtime's application: the DICOMweb app, unchanged, behind the token check, plus the
// health check the load balancer polls, the de-identified export API and the DIMSE forwarding API. It
// takes what Lambda cannot: request bodies above 4 MiB (up to MAX_REQUEST_BYTES, 1 GiB by default, then
// 413) and whole-study, series, instance, frame and bulk-data responses of any size, streamed both ways.
import { Hono } from 'hono';
import { createDicomWebApp } from '../../dicomweb/app.js';
import type { DicomWebConfig } from '../../dicomweb/config.js';
import type { StructuredLog } from '../../logging.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { verifiedTokenRequester } from '../auth/audit-requester.js';
import { AUDIT_SCOPES, DICOMWEB_METHOD_SCOPES, GOVERN_SCOPES, requireScopes, type AccessTokenVerifier } from '../auth/bearer-scopes.js';
import { describeForwardingRequest, DIMSE_ROOT } from '../../governance/audit/audited-action.js';
import { audited } from '../../governance/audit/http-audit.js';
import { StudyPatients } from '../../governance/audit/study-patients.js';

export const HEALTH_CHECK_PATH = '/healthz';

export interface StreamingExtras {
  /** The de-identified export API (exports.ts), which runs its jobs in this long-running task. */
  exports?: Hono;
  /** The DIMSE forwarding API (rules, dead letters), when the task forwards. */
  forwarding?: Hono;
}

export function createStreamingApp(storage: ArchiveStorage, config: DicomWebConfig, verifier: AccessTokenVerifier, log: StructuredLog, extras: StreamingExtras = {}): Hono {
  const app = new Hono();
  app.get(HEALTH_CHECK_PATH, (c) => c.text('ok'));
  if (extras.exports) app.route('/', extras.exports);
  if (extras.forwarding) {
    // An operator's view (failed forwards name studies): the scope that governs the archive's pipelines.
    const audit = { log: storage.audit, sourceID: config.auditSourceId, requester: verifiedTokenRequester, patients: new StudyPatients(storage.index), errors: log, describe: describeForwardingRequest };
    app.route(DIMSE_ROOT, audited(extras.forwarding, audit, [requireScopes(verifier, GOVERN_SCOPES, log)]));
  }
  const guards = { dicomweb: [requireScopes(verifier, DICOMWEB_METHOD_SCOPES, log)], audit: [requireScopes(verifier, AUDIT_SCOPES, log)] };
  app.route('/', createDicomWebApp(storage, config, log, { requester: verifiedTokenRequester, guards }));
  return app;
}
