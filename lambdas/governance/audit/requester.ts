// Who made a request, as the audit trail records it. Each runtime knows it its own way (a socket's peer
// locally, API Gateway's authorizer claims, a token the runtime verified itself): adapters give the
// function; the application only calls it once the request has been answered.
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

export interface Requester {
  /** The token's subject, or for an unauthenticated local caller its address. */
  userID: string;
  /** The OAuth client the token was issued to. */
  alternativeUserID?: string;
  /** The user name, or what the client calls itself (User-Agent) when there is none. */
  userName?: string;
  /** The network address that connected: the peer of the socket, or what API Gateway saw. */
  address?: string;
  /** The X-Forwarded-For chain, when proxies (CloudFront, a load balancer) were on the way: recorded, not trusted. */
  forwardedFor?: string;
}

export type IdentifyRequester = (c: Context) => Requester;

/** The X-Forwarded-For chain, capped: CloudFront and load balancers append to it, but its start is whatever the client sent. */
export const forwardedFor = (c: Context): string | undefined => c.req.header('x-forwarded-for')?.trim().slice(0, 256) || undefined;

const cap = (s: string | undefined, n = 200) => (s === undefined ? undefined : s.slice(0, n));

/** A caller of the local server (no sign-in): known by its address and what its client calls itself. */
export const localCaller: IdentifyRequester = (c) => {
  let address: string | undefined;
  try {
    address = getConnInfo(c).remote.address;
  } catch {
    address = undefined; // not behind the Node server (an in-process request)
  }
  const forwarded = forwardedFor(c);
  return { userID: `local:${address ?? 'in-process'}`, userName: cap(c.req.header('user-agent')), ...(address ? { address } : {}), ...(forwarded ? { forwardedFor: forwarded } : {}) };
};
