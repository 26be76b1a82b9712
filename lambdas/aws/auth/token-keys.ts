// The user pool's token-signing keys, kept with the archive so that the disaster-recovery region can
// check tokens without the primary region. Cognito user pools are regional: when the primary region is
// lost, its JWKS endpoint goes with it. A scheduled function in the primary region copies the public
// keys (a JSON Web Key Set) into the archive bucket, S3 replication carries them to the replica bucket,
// and the replica's read API verifies tokens against that copy (lib/constructs/token-keys-snapshot.ts,
// lib/constructs/replica-read-api.ts; docs/disaster-recovery.md).
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { assertIsJwks, type Jwks } from 'aws-jwt-verify/jwk';
import type { Json } from 'aws-jwt-verify/safe-json-parse';
import type { BlobStore } from '../../storage/ports.js';
import type { AccessTokenClaims, AccessTokenVerifier } from './bearer-scopes.js';

/** Where the copy lives, in the archive bucket and so in its replica. */
export const TOKEN_KEYS_KEY = 'auth/token-keys.json';

export interface TokenKeysSnapshot {
  userPoolId: string;
  jwks: Jwks;
  /** When these keys were first seen. */
  fetchedAt: string;
}

/** A user pool's JWKS endpoint; the pool id starts with its region ("eu-west-1_AbC123"). */
export function jwksUrlOf(userPoolId: string): string {
  const region = /^([a-z]{2}(?:-[a-z]+)+-\d)_[0-9A-Za-z]+$/.exec(userPoolId)?.[1];
  if (!region) throw new Error(`"${userPoolId}" is not a Cognito user pool id (region_id)`);
  return `https://cognito-idp.${region}.amazonaws.com/${userPoolId}/.well-known/jwks.json`;
}

function parseJwks(text: string, from: string): Jwks {
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    throw new Error(`${from} did not answer with JSON`);
  }
  try {
    assertIsJwks(parsed);
  } catch (e) {
    throw new Error(`${from} did not answer with a JSON Web Key Set: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (parsed.keys.length === 0 || !parsed.keys.every((k) => typeof k.kid === 'string')) throw new Error(`${from} answered with a key set whose keys lack ids (kid)`);
  return parsed;
}

const sameKeys = (a: Jwks, b: Jwks) => JSON.stringify(a.keys) === JSON.stringify(b.keys);

export async function readTokenKeys(blobs: BlobStore): Promise<TokenKeysSnapshot | undefined> {
  const bytes = await blobs.get(TOKEN_KEYS_KEY);
  if (!bytes) return undefined;
  const snapshot = JSON.parse(Buffer.from(bytes).toString('utf8')) as TokenKeysSnapshot;
  return { ...snapshot, jwks: parseJwks(JSON.stringify(snapshot.jwks), TOKEN_KEYS_KEY) };
}

/**
 * Fetches the pool's keys and stores them when they differ from the stored copy (Cognito rarely changes
 * them, so the bucket and its replica get a new version only when it does). A failed or malformed answer
 * throws and leaves the stored copy as it was.
 */
export async function snapshotTokenKeys(
  userPoolId: string,
  blobs: BlobStore,
  options: { url?: string; now?: () => Date } = {},
): Promise<{ changed: boolean; keyIds: string[] }> {
  const url = options.url ?? jwksUrlOf(userPoolId);
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const jwks = parseJwks(await res.text(), url);
  const keyIds = jwks.keys.map((k) => String(k.kid));
  const stored = await readTokenKeys(blobs);
  if (stored && stored.userPoolId === userPoolId && sameKeys(stored.jwks, jwks)) return { changed: false, keyIds };
  const snapshot: TokenKeysSnapshot = { userPoolId, jwks, fetchedAt: (options.now?.() ?? new Date()).toISOString() };
  await blobs.put(TOKEN_KEYS_KEY, Buffer.from(JSON.stringify(snapshot)));
  return { changed: true, keyIds };
}

/** How long a replica keeps the copy it read before reading it again (keys change rarely). */
const RELOAD_AFTER_MS = 10 * 60 * 1000;

/**
 * Verifies Cognito access tokens against the stored copy of the keys: signature, issuer (the pool named
 * in the copy), expiry and token use, as the streaming runtime's verifier does against the live endpoint.
 */
export function storedKeysVerifier(blobs: BlobStore, now: () => number = Date.now): AccessTokenVerifier {
  let loaded: { at: number; verifier: { verify(token: string): Promise<unknown> } } | undefined;
  const current = async () => {
    if (loaded && now() - loaded.at < RELOAD_AFTER_MS) return loaded.verifier;
    const snapshot = await readTokenKeys(blobs);
    if (!snapshot) throw new Error(`this replica holds no copy of the user pool's signing keys yet (${TOKEN_KEYS_KEY})`);
    const verifier = CognitoJwtVerifier.create({ userPoolId: snapshot.userPoolId, tokenUse: 'access', clientId: null });
    verifier.cacheJwks(snapshot.jwks);
    loaded = { at: now(), verifier };
    return verifier;
  };
  return { verify: async (token) => (await (await current()).verify(token)) as AccessTokenClaims };
}
