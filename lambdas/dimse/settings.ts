// Settings of the DIMSE listener (classic DICOM networking), read from the environment: the same names
// locally and on AWS, where the stack passes them to the task. docs/dimse.md explains each one.

/** What a known peer may ask of the archive. */
export type PeerPermission = 'store' | 'find' | 'move' | 'get';
const PERMISSIONS: readonly PeerPermission[] = ['store', 'find', 'move', 'get'];

export interface DimsePeer {
  aeTitle: string;
  host: string;
  port: number;
  may: ReadonlySet<PeerPermission>;
  /** Where C-MOVE may send instances (only known peers are destinations: never an address a request names). */
  destination: boolean;
  /** Reached over DICOM TLS (C-MOVE sub-operations, forwarding, storage commitment reports). */
  tls: boolean;
}

export interface DimseTls {
  certFile: string;
  keyFile: string;
  /** Certificates of the peers (or their CA) that may connect; when set, peers must present one. */
  caFile?: string;
}

export interface DimseSettings {
  /** TCP port; 0 turns the listener off. */
  port: number;
  host: string;
  aeTitle: string;
  peers: DimsePeer[];
  /** Whether calling AE titles not among `peers` may associate (they may store, find and get). */
  acceptUnknownCallers: boolean;
  /** Largest PDU this side receives (advertised in A-ASSOCIATE-AC); larger ones abort the association. */
  maxPduLength: number;
  /** Associations served at once; more are rejected (transient, local limit exceeded), never queued. */
  maxAssociations: number;
  /** Time a connection may take to ask for an association, and the longest silence within one. */
  associationTimeoutMs: number;
  idleTimeoutMs: number;
  tls?: DimseTls;
  /** DIMSE_FORWARD: where stored instances are sent on. */
  forwardRules: ForwardRule[];
  /** Sending attempts of a forwarded instance before it is dead-lettered, and the first retry delay (doubled each time). */
  forwardMaxAttempts: number;
  forwardRetryMs: number;
  /** dcmjs-dimse's own log (the archive logs refusals and failures itself). */
  libraryLogLevel: LibraryLogLevel;
}

const LIBRARY_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LibraryLogLevel = (typeof LIBRARY_LOG_LEVELS)[number];

export class DimseSettingsError extends Error {}

const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/; // PS3.5 AE: 16 characters of the default repertoire, no backslash

export function validAeTitle(title: string): boolean {
  return AE_TITLE.test(title) && title.trim() !== '';
}

/**
 * Peers as `AE@host:port`, comma-separated, each optionally followed by `:` and what it may do joined
 * with `+` (store, find, move, get) and `dest` when it is a C-MOVE destination; without that part a peer
 * may do everything and is a destination. E.g. `CT1@10.0.0.7:104:store,PACS@10.0.0.5:104:find+move+get+dest`.
 */
export function parsePeers(text: string): DimsePeer[] {
  const peers: DimsePeer[] = [];
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^@]+)@([^:]+):(\d{1,5})(?::([a-z+]+))?$/i.exec(entry);
    if (!m) throw new DimseSettingsError(`DIMSE_PEERS entry "${entry}" is not AE@host:port[:store+find+move+get+dest+tls]`);
    const [, aeTitle, host, portText, rights] = m;
    if (!validAeTitle(aeTitle)) throw new DimseSettingsError(`DIMSE_PEERS entry "${entry}": "${aeTitle}" is not an AE title (1-16 characters, no backslash)`);
    const port = Number(portText);
    if (port < 1 || port > 65535) throw new DimseSettingsError(`DIMSE_PEERS entry "${entry}": port ${port} is out of range`);
    const given = rights ? rights.toLowerCase().split('+') : [];
    // "tls" says how to reach the peer, not what it may do: alone, the peer keeps every right.
    const words = given.some((w) => w !== 'tls') ? given : [...PERMISSIONS, 'dest', ...given];
    const unknown = words.filter((w) => w !== 'dest' && w !== 'tls' && !PERMISSIONS.includes(w as PeerPermission));
    if (unknown.length) throw new DimseSettingsError(`DIMSE_PEERS entry "${entry}": ${unknown.join(', ')} is not one of store, find, move, get, dest, tls`);
    if (peers.some((p) => p.aeTitle === aeTitle)) throw new DimseSettingsError(`DIMSE_PEERS names ${aeTitle} twice`);
    peers.push({ aeTitle, host, port, may: new Set(words.filter((w): w is PeerPermission => PERMISSIONS.includes(w as PeerPermission))), destination: words.includes('dest'), tls: words.includes('tls') });
  }
  return peers;
}

export interface ForwardRule {
  destination: DimsePeer;
  /** What the rule was written as, for logs and the API. */
  text: string;
  all: boolean;
  aiResults: boolean;
  modalities?: ReadonlySet<string>;
  callingAeTitles?: ReadonlySet<string>;
  sopClasses?: ReadonlySet<string>;
}

/**
 * `DEST=criteria;DEST=criteria…`, criteria being `all`, `ai`, `modality:CT|MR`, `calling:CT1|CT2` or
 * `sopclass:1.2.840…|…`, joined with `&`. E.g. `PACS=ai;PACS=modality:CT|MR&calling:CT1;BACKUP=all`.
 */
export function parseForwardRules(text: string, peers: readonly DimsePeer[]): ForwardRule[] {
  return text
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((ruleText) => {
      const m = /^([^=]+)=(.+)$/.exec(ruleText);
      if (!m) throw new DimseSettingsError(`DIMSE_FORWARD rule "${ruleText}" is not DEST=criteria (all, ai, modality:…, calling:…, sopclass:…)`);
      const destination = peers.find((p) => p.aeTitle === m[1].trim());
      if (!destination) throw new DimseSettingsError(`DIMSE_FORWARD rule "${ruleText}": ${m[1].trim()} is not among DIMSE_PEERS (AE@host:port)`);
      const rule: ForwardRule = { destination, text: ruleText, all: false, aiResults: false };
      for (const criterion of m[2].split('&').map((c) => c.trim())) {
        const [name, values] = criterion.split(':', 2).map((x) => x.trim());
        const set = () => {
          const list = (values ?? '').split('|').map((v) => v.trim()).filter(Boolean);
          if (!list.length) throw new DimseSettingsError(`DIMSE_FORWARD rule "${ruleText}": ${name} needs values (${name}:A|B)`);
          return new Set(list);
        };
        if (name === 'all' && values === undefined) rule.all = true;
        else if (name === 'ai' && values === undefined) rule.aiResults = true;
        else if (name === 'modality') rule.modalities = new Set([...set()].map((v) => v.toUpperCase()));
        else if (name === 'calling') rule.callingAeTitles = set();
        else if (name === 'sopclass') rule.sopClasses = set();
        else throw new DimseSettingsError(`DIMSE_FORWARD rule "${ruleText}": "${criterion}" is not all, ai, modality:…, calling:… or sopclass:…`);
      }
      return rule;
    });
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new DimseSettingsError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const text = env[name]?.trim().toLowerCase();
  if (!text) return fallback;
  if (['true', '1', 'yes'].includes(text)) return true;
  if (['false', '0', 'no'].includes(text)) return false;
  throw new DimseSettingsError(`${name} must be true or false, got "${text}"`);
}

function libraryLogLevel(text: string | undefined): LibraryLogLevel {
  const level = text?.trim().toLowerCase() || 'silent';
  if (!(LIBRARY_LOG_LEVELS as readonly string[]).includes(level)) throw new DimseSettingsError(`DIMSE_LOG_LEVEL must be one of ${LIBRARY_LOG_LEVELS.join(', ')}, got "${text}"`);
  return level as LibraryLogLevel;
}

/** `defaults.acceptUnknownCallers`: true locally, false on AWS (a listener reachable from a network must know its peers). */
export function dimseSettingsFromEnv(env: Env = process.env, defaults: { acceptUnknownCallers: boolean; host: string } = { acceptUnknownCallers: true, host: '127.0.0.1' }): DimseSettings {
  const aeTitle = env.DIMSE_AE_TITLE?.trim() || 'CLOUDPACS';
  if (!validAeTitle(aeTitle)) throw new DimseSettingsError(`DIMSE_AE_TITLE "${aeTitle}" is not an AE title (1-16 characters, no backslash)`);
  const certFile = env.DIMSE_TLS_CERT?.trim();
  const keyFile = env.DIMSE_TLS_KEY?.trim();
  if (!!certFile !== !!keyFile) throw new DimseSettingsError('DIMSE_TLS_CERT and DIMSE_TLS_KEY are given together (PEM files of the certificate and its key)');
  const caFile = env.DIMSE_TLS_CA?.trim() || undefined;
  const peers = parsePeers(env.DIMSE_PEERS ?? '');
  const tlsPeers = peers.filter((p) => p.tls).map((p) => p.aeTitle);
  if (tlsPeers.length && !(certFile && keyFile && caFile)) {
    throw new DimseSettingsError(`DIMSE_PEERS reaches ${tlsPeers.join(', ')} over TLS, which needs DIMSE_TLS_CERT and DIMSE_TLS_KEY (the archive's certificate, shown to them) and DIMSE_TLS_CA (their certificates or their CA, to verify them)`);
  }
  return {
    port: integer(env, 'DIMSE_PORT', 11112, 0, 65535),
    host: env.DIMSE_HOST?.trim() || defaults.host,
    aeTitle,
    peers,
    forwardRules: parseForwardRules(env.DIMSE_FORWARD ?? '', peers),
    forwardMaxAttempts: integer(env, 'DIMSE_FORWARD_MAX_ATTEMPTS', 8, 1, 100),
    forwardRetryMs: integer(env, 'DIMSE_FORWARD_RETRY_MS', 5000, 10, 3_600_000),
    libraryLogLevel: libraryLogLevel(env.DIMSE_LOG_LEVEL),
    acceptUnknownCallers: flag(env, 'DIMSE_ACCEPT_UNKNOWN_CALLERS', defaults.acceptUnknownCallers),
    maxPduLength: integer(env, 'DIMSE_MAX_PDU', 256 * 1024, 4096, 16 * 1024 * 1024),
    maxAssociations: integer(env, 'DIMSE_MAX_ASSOCIATIONS', 32, 1, 10_000),
    associationTimeoutMs: integer(env, 'DIMSE_ASSOCIATION_TIMEOUT_MS', 30_000, 100, 3_600_000),
    idleTimeoutMs: integer(env, 'DIMSE_IDLE_TIMEOUT_MS', 120_000, 100, 3_600_000),
    ...(certFile && keyFile ? { tls: { certFile, keyFile, ...(caFile ? { caFile } : {}) } } : {}),
  };
}
