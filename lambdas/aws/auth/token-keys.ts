// The user pool's token-signing keys, kept with the archive so that the disaster-recovery region can
// check tokens without the primary region. Cognito user pools are regional: when the primary region is
// lost, its JWKS endpoint goes with it. A scheduled function in the primary region copies the public
// keys (a JSON Web Key Set) into one item of the index table, whose global-table replica carries it to
// the DR region within about a second, and the replica's read API verifies tokens against that copy
// (lib/constructs/maintenance.ts, lib/constructs/replica-read-api.ts; docs/disaster-recovery.md).
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { assertIsJwks, type Jwks } from 'aws-jwt-verify/jwk';
import type { Json } from 'aws-jwt-verify/safe-json-parse';
import { TokenCheckUnavailableError, type AccessTokenClaims, type AccessTokenVerifier } from './bearer-scopes.js';

/** The index table's item that holds the copy (no secondary index sees it: it has none of their keys). */
export const TOKEN_KEYS_ITEM_KEY = { pk: 'AUTH#TOKEN-KEYS', sk: 'JWKS' } as const;

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

/** Where the copy is kept: one item of the index table. */
export interface TokenKeysStore {
  get(): Promise<TokenKeysSnapshot | undefined>;
  put(snapshot: TokenKeysSnapshot): Promise<void>;
}

export function indexTableTokenKeys(client: DynamoDBClient, table: string): TokenKeysStore {
  const doc = DynamoDBDocumentClient.from(client);
  return {
    async get() {
      // Strongly consistent: in the DR region this reads the replica's own latest copy.
      const { Item } = await doc.send(new GetCommand({ TableName: table, Key: TOKEN_KEYS_ITEM_KEY, ConsistentRead: true }));
      if (!Item) return undefined;
      return { userPoolId: String(Item.userPoolId), jwks: parseJwks(String(Item.jwks), `${table} ${TOKEN_KEYS_ITEM_KEY.pk}`), fetchedAt: String(Item.fetchedAt) };
    },
    async put(snapshot) {
      await doc.send(new PutCommand({ TableName: table, Item: { ...TOKEN_KEYS_ITEM_KEY, userPoolId: snapshot.userPoolId, jwks: JSON.stringify(snapshot.jwks), fetchedAt: snapshot.fetchedAt } }));
    },
  };
}

/**
 * Fetches the pool's keys and stores them when they differ from the stored copy (Cognito rarely changes
 * them, so the copy is written only when it does). A failed or malformed answer throws and leaves the
 * stored copy as it was.
 */
export async function snapshotTokenKeys(
  userPoolId: string,
  store: TokenKeysStore,
  options: { url?: string; now?: () => Date } = {},
): Promise<{ changed: boolean; keyIds: string[] }> {
  const url = options.url ?? jwksUrlOf(userPoolId);
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const jwks = parseJwks(await res.text(), url);
  const keyIds = jwks.keys.map((k) => String(k.kid));
  const stored = await store.get();
  if (stored && stored.userPoolId === userPoolId && sameKeys(stored.jwks, jwks)) return { changed: false, keyIds };
  const snapshot: TokenKeysSnapshot = { userPoolId, jwks, fetchedAt: (options.now?.() ?? new Date()).toISOString() };
  await store.put(snapshot);
  return { changed: true, keyIds };
}

/** How long a replica keeps the copy it read before reading it again (keys change rarely). */
const RELOAD_AFTER_MS = 10 * 60 * 1000;

/**
 * Verifies Cognito access tokens against the stored copy of the keys: signature, issuer (the pool named
 * in the copy), expiry and token use, as the streaming runtime's verifier does against the live endpoint.
 * The copy is read again every 10 minutes; when that read fails, the copy read before goes on serving
 * (keys change rarely, and a stale copy still checks tokens where no copy could not).
 */
export function storedKeysVerifier(store: TokenKeysStore, now: () => number = Date.now): AccessTokenVerifier {
  let loaded: { at: number; verifier: { verify(token: string): Promise<unknown> } } | undefined;
  let reading: Promise<{ verify(token: string): Promise<unknown> }> | undefined;
  const read = async () => {
    let snapshot: TokenKeysSnapshot | undefined;
    try {
      snapshot = await store.get();
    } catch (e) {
      if (loaded) return loaded.verifier;
      throw new TokenCheckUnavailableError(`the copy of the user pool's signing keys could not be read (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!snapshot) throw new TokenCheckUnavailableError('this replica holds no copy of the user pool\'s signing keys yet');
    const verifier = CognitoJwtVerifier.create({ userPoolId: snapshot.userPoolId, tokenUse: 'access', clientId: null });
    verifier.cacheJwks(snapshot.jwks);
    loaded = { at: now(), verifier };
    return verifier;
  };
  const current = () => {
    if (loaded && now() - loaded.at < RELOAD_AFTER_MS) return Promise.resolve(loaded.verifier);
    // One read at a time, however many requests arrive together (a cold start's first burst).
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  };
  return { verify: async (token) => (await (await current()).verify(token)) as AccessTokenClaims };
}
