// Settings of a deployment, read from CDK context (`cdk deploy -c key=value` or cdk.json). Every value
// has a default that makes a working, locked-down deployment.
import type { Node } from 'constructs';
import { DEFAULT_ARCHIVE_NAME, archiveNames } from './constructs/names.js';
import { parseForwardRules, parsePeers, validAeTitle } from '../lambdas/dimse/settings.js';

export interface PacsConfig {
  /** Names the stacks, tables and replica bucket, so that several archives can share an account. */
  archiveName: string;
  /** Days after which originals move to S3 Standard-IA, and then to Glacier Instant Retrieval. */
  infrequentAccessAfterDays: number;
  archiveAfterDays: number;
  /** A second region for disaster recovery (S3 replication, a DynamoDB replica); none when unset. */
  drRegion?: string;
  /** Reserved concurrency of the API function: a ceiling on cost and on load put on the index. */
  apiReservedConcurrency: number;
  /** Where OHIF (or another browser viewer) runs: its sign-in callback URLs. */
  viewerCallbackUrls: string[];
  /** Who receives alarm notifications (an email address); alarms still show in CloudWatch without it. */
  alarmEmail?: string;
  /** Largest STOW-RS request the streaming runtime accepts (bytes); beyond it clients get 413. */
  maxRequestBytes: number;
  /** Tasks of the streaming runtime: always running, and the most it scales out to. */
  streamingMinTasks: number;
  streamingMaxTasks: number;
  /** A custom domain for the archive (e.g. pacs.example.org) and its ACM certificate in us-east-1. */
  domainName?: string;
  certificateArn?: string;
  /** Requests per five minutes from one address before the firewall blocks it for a while. */
  wafRateLimit: number;
  /**
   * Recovery: deploy the archive in `drRegion` over the data replicated there (the replica bucket and
   * the tables' replicas) instead of the primary region.
   */
  restoreFromReplica: boolean;
  /** Run the AI pipeline on every arriving study. */
  aiEnabled: boolean;
  /** A study is analysed once no instance has arrived for this many seconds. */
  aiQuietPeriodSeconds: number;
  /** Most concurrent executions of each analyser's worker function. */
  aiWorkerConcurrency: number;
  /** How long the locked copy of each audit record is kept (S3 Object Lock, compliance mode): no one can delete it sooner. */
  auditRetentionDays: number;
  /** The DIMSE listener on the streaming runtime, behind a Network Load Balancer with a TLS listener; off when unset. */
  dimse?: DimseDeployment;
}

export interface DimseDeployment {
  /** Networks the load balancer admits (the hospital's, reached through VPN or Direct Connect). */
  allowedCidrs: string[];
  /** ACM certificate (in the stack's region) of the TLS listener. */
  certificateArn: string;
  aeTitle: string;
  /** DIMSE_PEERS: the AEs the archive knows; unknown callers are refused. */
  peers: string;
  /** DIMSE_FORWARD: forwarding rules (a FIFO queue with a dead-letter queue carries the jobs). */
  forward: string;
  /** A load balancer with public addresses (still admitting only `allowedCidrs`), for sites without a VPN. */
  internetFacing: boolean;
}

export const DEFAULT_CONFIG: PacsConfig = {
  archiveName: DEFAULT_ARCHIVE_NAME,
  infrequentAccessAfterDays: 30,
  archiveAfterDays: 90,
  apiReservedConcurrency: 100,
  viewerCallbackUrls: ['http://localhost:3000/callback'],
  maxRequestBytes: 1024 ** 3,
  streamingMinTasks: 1,
  streamingMaxTasks: 4,
  wafRateLimit: 20_000,
  restoreFromReplica: false,
  aiEnabled: true,
  aiQuietPeriodSeconds: 30,
  aiWorkerConcurrency: 5,
  // Seven years: longer than HIPAA's six for documentation; a hospital's own rule may ask for more.
  auditRetentionDays: 2557,
};

export function configFromContext(node: Node): PacsConfig {
  const get = (key: string) => node.tryGetContext(key) as unknown;
  const num = (key: string, fallback: number, min: number) => {
    const v = get(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`context value ${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const bool = (key: string, fallback: boolean) => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    throw new Error(`context value ${key} must be true or false, got ${JSON.stringify(v)}`);
  };
  const config: PacsConfig = {
    archiveName: get('archiveName') ? String(get('archiveName')) : DEFAULT_CONFIG.archiveName,
    infrequentAccessAfterDays: num('infrequentAccessAfterDays', DEFAULT_CONFIG.infrequentAccessAfterDays, 30),
    archiveAfterDays: num('archiveAfterDays', DEFAULT_CONFIG.archiveAfterDays, 1),
    apiReservedConcurrency: num('apiReservedConcurrency', DEFAULT_CONFIG.apiReservedConcurrency, 1),
    viewerCallbackUrls: get('viewerCallbackUrls') ? String(get('viewerCallbackUrls')).split(',').map((s) => s.trim()) : DEFAULT_CONFIG.viewerCallbackUrls,
    maxRequestBytes: num('maxRequestBytes', DEFAULT_CONFIG.maxRequestBytes, 1024 * 1024),
    streamingMinTasks: num('streamingMinTasks', DEFAULT_CONFIG.streamingMinTasks, 1),
    streamingMaxTasks: num('streamingMaxTasks', DEFAULT_CONFIG.streamingMaxTasks, 1),
    wafRateLimit: num('wafRateLimit', DEFAULT_CONFIG.wafRateLimit, 100),
    restoreFromReplica: bool('restoreFromReplica', DEFAULT_CONFIG.restoreFromReplica),
    aiEnabled: bool('aiEnabled', DEFAULT_CONFIG.aiEnabled),
    aiQuietPeriodSeconds: num('aiQuietPeriodSeconds', DEFAULT_CONFIG.aiQuietPeriodSeconds, 1),
    aiWorkerConcurrency: num('aiWorkerConcurrency', DEFAULT_CONFIG.aiWorkerConcurrency, 1),
    auditRetentionDays: num('auditRetentionDays', DEFAULT_CONFIG.auditRetentionDays, 1),
    ...(get('domainName') ? { domainName: String(get('domainName')) } : {}),
    ...(get('certificateArn') ? { certificateArn: String(get('certificateArn')) } : {}),
    ...(get('drRegion') ? { drRegion: String(get('drRegion')) } : {}),
    ...(get('alarmEmail') ? { alarmEmail: String(get('alarmEmail')) } : {}),
    ...dimseFromContext(get, bool),
  };
  archiveNames(config.archiveName); // refuses a name that cannot name a bucket
  if (config.restoreFromReplica && !config.drRegion) throw new Error('restoreFromReplica needs drRegion: the region whose replicas the recovered archive runs on');
  if (Boolean(config.domainName) !== Boolean(config.certificateArn)) throw new Error('domainName and certificateArn go together: CloudFront needs the certificate of the domain');
  if (config.certificateArn && !config.certificateArn.startsWith('arn:aws:acm:us-east-1:')) throw new Error(`certificateArn must name an ACM certificate in us-east-1 (CloudFront's region), got ${config.certificateArn}`);
  if (config.streamingMaxTasks < config.streamingMinTasks) throw new Error(`streamingMaxTasks (${config.streamingMaxTasks}) must not be below streamingMinTasks (${config.streamingMinTasks})`);
  // S3 needs 30 days in Standard-IA before an object may move on.
  if (config.archiveAfterDays < config.infrequentAccessAfterDays + 30) {
    throw new Error(`archiveAfterDays (${config.archiveAfterDays}) must be at least infrequentAccessAfterDays + 30 (${config.infrequentAccessAfterDays + 30})`);
  }
  return config;
}

/** The dimse* context values: `dimseAllowedCidrs` and `dimseCertificateArn` turn the listener on, and go together. */
function dimseFromContext(get: (key: string) => unknown, bool: (key: string, fallback: boolean) => boolean): { dimse?: DimseDeployment } {
  const cidrs = get('dimseAllowedCidrs') ? String(get('dimseAllowedCidrs')).split(',').map((c) => c.trim()).filter(Boolean) : [];
  const certificateArn = get('dimseCertificateArn') ? String(get('dimseCertificateArn')) : undefined;
  if (!cidrs.length && !certificateArn) return {};
  if (!cidrs.length || !certificateArn) throw new Error('dimseAllowedCidrs and dimseCertificateArn go together: the DIMSE load balancer admits only those networks, over TLS with that certificate');
  const bad = cidrs.find((c) => !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c) || c.endsWith('/0'));
  if (bad) throw new Error(`dimseAllowedCidrs must be IPv4 networks narrower than the whole internet, got "${bad}"`);
  const aeTitle = get('dimseAeTitle') ? String(get('dimseAeTitle')) : 'CLOUDPACS';
  if (!validAeTitle(aeTitle)) throw new Error(`dimseAeTitle "${aeTitle}" is not an AE title (1-16 characters, no backslash)`);
  const peers = get('dimsePeers') ? String(get('dimsePeers')) : '';
  const forward = get('dimseForward') ? String(get('dimseForward')) : '';
  const parsed = parsePeers(peers);
  parseForwardRules(forward, parsed); // refuses what the task would refuse at start
  // The tasks have no certificate of their own (the load balancer ends TLS): they cannot call out over TLS yet.
  const tlsPeers = parsed.filter((p) => p.tls).map((p) => p.aeTitle);
  if (tlsPeers.length) throw new Error(`dimsePeers reaches ${tlsPeers.join(', ')} over TLS, which the AWS deployment cannot do yet (its tasks hold no certificate); reach them over the VPN or Direct Connect without +tls`);
  return { dimse: { allowedCidrs: cidrs, certificateArn, aeTitle, peers, forward, internetFacing: bool('dimseInternetFacing', false) } };
}
