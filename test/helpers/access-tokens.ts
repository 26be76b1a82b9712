// Cognito-shaped access tokens for tests: RS256 JWTs signed with a key made in the test in place of a
// user pool's, carrying the claims aws-jwt-verify checks (issuer, token use, expiry) and whatever else a
// test sets.
import { createSign, type KeyObject } from 'node:crypto';

export function accessTokenSigner(privateKey: KeyObject, kid: string, defaults: Record<string, unknown>): (claims: Record<string, unknown>) => string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return (claims) => {
    const now = Math.floor(Date.now() / 1000);
    const body = `${b64({ alg: 'RS256', kid, typ: 'JWT' })}.${b64({ token_use: 'access', iat: now, exp: now + 600, ...defaults, ...claims })}`;
    return `${body}.${createSign('RSA-SHA256').update(body).sign(privateKey).toString('base64url')}`;
  };
}
