// The disaster-recovery region's read API: the DICOMweb application, unchanged, over the replica bucket
// and the index table's replica, answering searches and retrievals when CloudFront fails over to it
// (the primary region answering 5xx or not at all). It stores and deletes nothing: S3 replication runs
// from the primary bucket only, so an original written here would be missing there when the primary
// returns while its index entry (the global table replicates both ways) would not. Tokens are checked
// against the copy of the user pool's keys that the index table's replica holds (auth/token-keys.ts),
// since the pool itself lives in the primary region.
import type { Hono, MiddlewareHandler } from 'hono';
import { createDicomWebApp } from '../../dicomweb/app.js';
import type { DicomWebConfig } from '../../dicomweb/config.js';
import { problemBody } from '../../dicomweb/http/problem.js';
import type { StructuredLog } from '../../logging.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { verifiedTokenRequester } from '../auth/audit-requester.js';
import { AUDIT_SCOPES, DICOMWEB_METHOD_SCOPES, requireScopes, type AccessTokenVerifier } from '../auth/bearer-scopes.js';

/** The read methods' scopes, as everywhere else; nothing here needs write or delete. */
const READ_SCOPES: Readonly<Record<string, string>> = { GET: DICOMWEB_METHOD_SCOPES.GET, HEAD: DICOMWEB_METHOD_SCOPES.HEAD };

/** How long a client should wait before writing again: about the time a regional failure is noticed and handled. */
const RETRY_WRITES_AFTER_SECONDS = 300;

export function createReplicaApp(storage: ArchiveStorage, config: DicomWebConfig, verifier: AccessTokenVerifier, log: StructuredLog): Hono {
  const readOnly: MiddlewareHandler = async (c, next) => {
    if (['GET', 'HEAD', 'OPTIONS'].includes(c.req.method)) return next();
    log('warn', 'write refused by the read-only replica', { method: c.req.method, path: c.req.path });
    return c.body(
      problemBody(503, `${c.req.method} is not possible now: the archive is answering from its disaster-recovery copy, which is read-only; stores and deletes resume when the primary region does`),
      503,
      { 'Content-Type': 'application/json', 'Retry-After': String(RETRY_WRITES_AFTER_SECONDS) },
    );
  };
  const guards = { dicomweb: [readOnly, requireScopes(verifier, READ_SCOPES, log)], audit: [requireScopes(verifier, AUDIT_SCOPES, log)] };
  return createDicomWebApp(storage, config, log, { requester: verifiedTokenRequester, guards });
}

/** Archive events belong to the primary region; the replica never stores, so it never announces. */
export const noEvents: ArchiveStorage['events'] = {
  publish: async () => {
    throw new Error('the disaster-recovery replica is read-only and announces no archive events');
  },
};
