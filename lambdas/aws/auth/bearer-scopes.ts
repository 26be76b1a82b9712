// Token checks for the runtimes that check tokens themselves instead of API Gateway's Cognito authorizer
// (the streaming runtime, the disaster-recovery replica's read API): every request (except CORS
// preflights) must carry a valid Cognito access token whose scopes include the one its method needs —
// the same rule as the API Gateway methods. A refusal is 401 (no or bad token) or 403 (missing scope),
// and leaves an audit entry in the log; when the token cannot be checked at all (the user pool's keys
// cannot be had), 503.
import { FetchError } from 'aws-jwt-verify/error';
import type { MiddlewareHandler } from 'hono';
import { problemBody } from '../../dicomweb/http/problem.js';
import type { StructuredLog } from '../../logging.js';

/** What a verified access token tells: its space-separated scopes and who it was issued to. */
export interface AccessTokenClaims {
  scope?: string;
  sub?: string;
  client_id?: string;
  username?: string;
}

declare module 'hono' {
  interface ContextVariableMap {
    /** The claims of the request's access token, once verified (kept also when it lacks the scope: the audit trail names who was refused). */
    verifiedToken: AccessTokenClaims;
  }
}

/** Verifies signature, issuer, expiry and token use (aws-jwt-verify's CognitoJwtVerifier fits). */
export interface AccessTokenVerifier {
  verify(token: string): Promise<AccessTokenClaims>;
}

/**
 * The token could not be checked at all (the keys to check it with could not be had): the token may be
 * fine, so the answer is 503, not 401.
 */
export class TokenCheckUnavailableError extends Error {}

/** How long a client should wait before trying again when tokens cannot be checked. */
const RETRY_TOKEN_CHECK_AFTER_SECONDS = 30;

export const DICOMWEB_METHOD_SCOPES: Readonly<Record<string, string>> = {
  GET: 'dicomweb/read',
  HEAD: 'dicomweb/read',
  POST: 'dicomweb/write',
  PUT: 'dicomweb/write',
  DELETE: 'dicomweb/delete',
};

/** The audit trail's API: read only, with a scope of its own. */
export const AUDIT_SCOPES: Readonly<Record<string, string>> = { GET: 'dicomweb/audit', HEAD: 'dicomweb/audit' };

/** Operating the archive's pipelines (the DIMSE forwarding rules and dead letters), as the AI registry is governed. */
export const GOVERN_SCOPES: Readonly<Record<string, string>> = { GET: 'dicomweb/govern', HEAD: 'dicomweb/govern' };

/** De-identified exports: asking for one and reading their state and manifests. */
export const EXPORT_SCOPES: Readonly<Record<string, string>> = { GET: 'dicomweb/export', HEAD: 'dicomweb/export', POST: 'dicomweb/export' };

export function requireScopes(verifier: AccessTokenVerifier, scopes: Readonly<Record<string, string>>, log: StructuredLog): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method;
    if (method === 'OPTIONS') return next();
    const deny = (status: 401 | 403, reason: string, who?: AccessTokenClaims) => {
      log('warn', 'access denied', { status, reason, method, path: c.req.path, sourceIp: c.req.header('x-forwarded-for'), sub: who?.sub, clientId: who?.client_id });
      const challenge = status === 401 ? 'Bearer realm="dicomweb"' : `Bearer realm="dicomweb", error="insufficient_scope", scope="${scopes[method] ?? ''}"`;
      return c.body(problemBody(status, reason), status, { 'Content-Type': 'application/json', 'WWW-Authenticate': challenge });
    };
    const needed = scopes[method];
    if (!needed) return deny(403, `method ${method} is not allowed here`);
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return deny(401, 'an access token is required: send "Authorization: Bearer <token>" from the archive\'s Cognito user pool');
    let claims: AccessTokenClaims;
    try {
      claims = await verifier.verify(match[1]);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      // The user pool's keys could not be fetched (aws-jwt-verify's FetchError) or are not there to read.
      if (e instanceof TokenCheckUnavailableError || e instanceof FetchError) {
        log('error', 'access tokens cannot be checked', { reason, method, path: c.req.path });
        return c.body(problemBody(503, `access tokens cannot be checked now: ${reason}`), 503, {
          'Content-Type': 'application/json',
          'Retry-After': String(RETRY_TOKEN_CHECK_AFTER_SECONDS),
        });
      }
      return deny(401, `the access token is not valid: ${reason}`);
    }
    c.set('verifiedToken', claims);
    if (!(claims.scope ?? '').split(' ').includes(needed)) return deny(403, `the access token lacks the scope ${needed} that ${method} needs`, claims);
    await next();
  };
}
