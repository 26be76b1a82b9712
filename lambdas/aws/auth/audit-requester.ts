// Who made a request on AWS, for the audit trail: API Gateway's Cognito authorizer puts the access
// token's claims in the request context of the event; the runtimes that check tokens themselves (the
// streaming runtime, the replica's read API) keep the claims they verified on the request's context.
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Context } from 'hono';
import { forwardedFor, localCaller, type IdentifyRequester, type Requester } from '../../governance/audit/requester.js';
import type { AccessTokenClaims } from './bearer-scopes.js';

const fromClaims = (claims: AccessTokenClaims, address: string | undefined): Requester => ({
  userID: claims.sub ?? claims.client_id ?? 'unknown',
  ...(claims.client_id ? { alternativeUserID: claims.client_id } : {}),
  ...(claims.username ? { userName: claims.username } : {}),
  ...(address ? { address } : {}),
});

/** Behind API Gateway (REST API, Cognito user pool authorizer). */
export const apiGatewayRequester: IdentifyRequester = (c: Context) => {
  const context = (c.env as { event?: APIGatewayProxyEvent } | undefined)?.event?.requestContext;
  const claims = (context?.authorizer?.claims ?? {}) as AccessTokenClaims;
  // Behind CloudFront the source is an edge location; the viewer's address is the first one forwarded.
  const address = forwardedFor(c) ?? context?.identity?.sourceIp;
  if (!claims.sub && !claims.client_id) return { userID: 'unauthenticated', ...(address ? { address } : {}) };
  return fromClaims(claims, address);
};

/** In a runtime that verifies tokens itself (requireScopes keeps the claims), behind a load balancer. */
export const verifiedTokenRequester: IdentifyRequester = (c: Context) => {
  const claims = c.get('verifiedToken');
  const peer = localCaller(c);
  const address = forwardedFor(c) ?? peer.address;
  if (!claims) return { userID: 'unauthenticated', ...(address ? { address } : {}) };
  return fromClaims(claims, address);
};
