// Who made a request on AWS, for the audit trail: API Gateway's Cognito authorizer puts the access
// token's claims in the request context of the event; the runtimes that check tokens themselves (the
// streaming runtime, the replica's read API) keep the claims they verified on the request's context.
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Context } from 'hono';
import { forwardedFor, localCaller, type IdentifyRequester, type Requester } from '../../governance/audit/requester.js';
import type { AccessTokenClaims } from './bearer-scopes.js';

function requester(claims: AccessTokenClaims | undefined, address: string | undefined, forwarded: string | undefined): Requester {
  const where = { ...(address ? { address } : {}), ...(forwarded ? { forwardedFor: forwarded } : {}) };
  if (!claims?.sub && !claims?.client_id) return { userID: 'unauthenticated', ...where };
  return {
    userID: claims.sub ?? claims.client_id!,
    ...(claims.client_id ? { alternativeUserID: claims.client_id } : {}),
    ...(claims.username ? { userName: claims.username } : {}),
    ...where,
  };
}

/** Behind API Gateway (REST API, Cognito user pool authorizer); behind CloudFront the viewer's address is in the forwarded chain. */
export const apiGatewayRequester: IdentifyRequester = (c: Context) => {
  const context = (c.env as { event?: APIGatewayProxyEvent } | undefined)?.event?.requestContext;
  return requester(context?.authorizer?.claims as AccessTokenClaims | undefined, context?.identity?.sourceIp ?? undefined, forwardedFor(c));
};

/** In a runtime that verifies tokens itself (requireScopes keeps the claims), behind a load balancer. */
export const verifiedTokenRequester: IdentifyRequester = (c: Context) => requester(c.get('verifiedToken'), localCaller(c).address, forwardedFor(c));
