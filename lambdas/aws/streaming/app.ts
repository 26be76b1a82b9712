// The streaming runtime's application: the DICOMweb app, unchanged, behind the token check, plus the
// health check the load balancer polls and the de-identified export API. It takes what Lambda cannot:
// request bodies above 4 MiB (up to MAX_REQUEST_BYTES, 1 GiB by default, then 413) and whole-study,
// series, instance, frame and bulk-data responses of any size, streamed in both directions.
import { Hono } from 'hono';
import { createDicomWebApp } from '../../dicomweb/app.js';
import type { DicomWebConfig } from '../../dicomweb/config.js';
import type { StructuredLog } from '../../logging.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { verifiedTokenRequester } from '../auth/audit-requester.js';
import { AUDIT_SCOPES, DICOMWEB_METHOD_SCOPES, requireScopes, type AccessTokenVerifier } from '../auth/bearer-scopes.js';

export const HEALTH_CHECK_PATH = '/healthz';

/** `exports`: the de-identified export API (exports.ts), which runs its jobs in this long-running task. */
export function createStreamingApp(storage: ArchiveStorage, config: DicomWebConfig, verifier: AccessTokenVerifier, log: StructuredLog, exports?: Hono): Hono {
  const app = new Hono();
  app.get(HEALTH_CHECK_PATH, (c) => c.text('ok'));
  if (exports) app.route('/', exports);
  const guards = { dicomweb: [requireScopes(verifier, DICOMWEB_METHOD_SCOPES, log)], audit: [requireScopes(verifier, AUDIT_SCOPES, log)] };
  app.route('/', createDicomWebApp(storage, config, log, { requester: verifiedTokenRequester, guards }));
  return app;
}
