// The whole deployment in one stack, composed from the constructs in lib/constructs.
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { PacsConfig } from './config.js';
import { AiPipeline } from './constructs/ai-pipeline.js';
import { ArchiveStorage } from './constructs/archive-storage.js';
import { AuditArchive } from './constructs/audit-archive.js';
import { Auth } from './constructs/auth.js';
import { BulkImport } from './constructs/bulk-import.js';
import { DICOMWEB_BASE_PATH, DicomWebApi } from './constructs/dicomweb-api.js';
import { FrontDoor } from './constructs/front-door.js';
import { Maintenance } from './constructs/maintenance.js';
import { Monitoring } from './constructs/monitoring.js';
import type { ArchiveNames } from './constructs/names.js';
import { StreamingRuntime } from './constructs/streaming-runtime.js';
import { DimseEdge } from './constructs/dimse-edge.js';
import { ViewerSite } from './constructs/viewer-site.js';
import { WebAcl } from './constructs/web-acl.js';
import { installedOhif } from '../lambdas/viewer/ohif-package.js';

export interface PacsStackProps extends StackProps {
  config: PacsConfig;
  names: ArchiveNames;
  /** The CloudFront web ACL made in us-east-1 (PacsEdgeStack); made here when this stack is in us-east-1. */
  webAclArn?: string;
  /** A recovery: run on the replica bucket (and its key) that the primary deployment filled in this region. */
  restore?: { bucketName: string; key: kms.Key };
  /** The DR region's read API (PacsReplicaStack), which CloudFront fails searches and retrievals over to. */
  failoverReads?: { api: apigateway.IRestApi; region: string };
}

export class PacsStack extends Stack {
  readonly storage: ArchiveStorage;
  readonly auth: Auth;
  readonly dicomweb: DicomWebApi;
  readonly bulkImport?: BulkImport;
  readonly auditArchive?: AuditArchive;
  readonly monitoring: Monitoring;
  readonly streaming: StreamingRuntime;
  /** The DIMSE listener's load balancer and forwarding queue, when dimse* context turns it on. */
  readonly dimse?: DimseEdge;
  readonly frontDoor: FrontDoor;
  readonly maintenance: Maintenance;
  readonly ai?: AiPipeline;
  readonly viewer?: ViewerSite;

  constructor(scope: Construct, id: string, props: PacsStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.storage = new ArchiveStorage(this, 'Storage', {
      names: props.names,
      infrequentAccessAfterDays: config.infrequentAccessAfterDays,
      archiveAfterDays: config.archiveAfterDays,
      // A recovered archive does not replicate further: the primary region is the one that was lost.
      ...(config.drRegion && !props.restore ? { drRegion: config.drRegion } : {}),
      ...(props.restore ? { restore: props.restore } : {}),
    });
    this.auth = new Auth(this, 'Auth', { viewerCallbackUrls: config.viewerCallbackUrls });
    this.dicomweb = new DicomWebApi(this, 'DicomWeb', { storage: this.storage, auth: this.auth, reservedConcurrency: config.apiReservedConcurrency });
    this.streaming = new StreamingRuntime(this, 'Streaming', {
      storage: this.storage,
      auth: this.auth,
      maxRequestBytes: config.maxRequestBytes,
      minTasks: config.streamingMinTasks,
      maxTasks: config.streamingMaxTasks,
      basePath: DICOMWEB_BASE_PATH,
    });
    if (config.dimse) this.dimse = new DimseEdge(this, 'Dimse', { streaming: this.streaming, storage: this.storage, settings: config.dimse });
    // The viewer, when npm install fetched it (VIEWER=off skips it).
    const ohifDist = installedOhif();
    if (ohifDist) this.viewer = new ViewerSite(this, 'Viewer', { ohifDist, accessLogs: this.storage.accessLogs, auth: this.auth });
    else Annotations.of(this).addWarningV2('pacs:no-viewer', 'The OHIF Viewer is not installed (npm install fetches it unless VIEWER=off): the deployment serves no viewer.');
    const webAclArn = props.webAclArn ?? (this.region === 'us-east-1' ? new WebAcl(this, 'Firewall', { rateLimitPer5Minutes: config.wafRateLimit }).acl.attrArn : undefined);
    if (!webAclArn) Annotations.of(this).addWarningV2('pacs:no-waf', 'No WAF web ACL: the account and region are unknown (synthesize with credentials or CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION to include one).');
    this.frontDoor = new FrontDoor(this, 'FrontDoor', {
      api: this.dicomweb.api,
      streaming: this.streaming,
      accessLogs: this.storage.accessLogs,
      basePath: DICOMWEB_BASE_PATH,
      ...(webAclArn ? { webAclArn } : {}),
      ...(config.domainName && config.certificateArn ? { domain: { name: config.domainName, certificateArn: config.certificateArn } } : {}),
      ...(props.failoverReads ? { replicaDomainName: `${props.failoverReads.api.restApiId}.execute-api.${props.failoverReads.region}.${this.urlSuffix}` } : {}),
      ...(this.viewer ? { viewer: this.viewer.behavior } : {}),
    });
    // Bulk import needs notifications on the bucket, which in a recovery belongs to the replica's stack.
    if (!props.restore) this.bulkImport = new BulkImport(this, 'BulkImport', { storage: this.storage });
    if (this.storage.auditTable) this.auditArchive = new AuditArchive(this, 'AuditArchive', { storage: this.storage, table: this.storage.auditTable, retentionDays: config.auditRetentionDays });
    // The replica's read API checks tokens against a copy of the pool's keys that this stack keeps current.
    this.maintenance = new Maintenance(this, 'Maintenance', { storage: this.storage, ...(props.failoverReads ? { tokenKeysOf: this.auth.userPool } : {}) });
    if (config.aiEnabled) {
      this.ai = new AiPipeline(this, 'Ai', {
        names: props.names,
        storage: this.storage,
        api: this.dicomweb,
        quietPeriodSeconds: config.aiQuietPeriodSeconds,
        workerConcurrency: config.aiWorkerConcurrency,
        infrequentAccessAfterDays: config.infrequentAccessAfterDays,
        archiveAfterDays: config.archiveAfterDays,
        ...(config.drRegion && !props.restore ? { drRegion: config.drRegion } : {}),
        restore: Boolean(props.restore),
        ...(this.dimse?.forwardQueue && this.dimse.forwardDeadLetters && config.dimse
          ? { forwarding: { queue: this.dimse.forwardQueue, deadLetters: this.dimse.forwardDeadLetters, rules: config.dimse.forward, peers: config.dimse.peers } }
          : {}),
      });
    }
    this.monitoring = new Monitoring(this, 'Monitoring', {
      storage: this.storage,
      api: this.dicomweb,
      ...(this.bulkImport ? { bulkImport: this.bulkImport } : {}),
      ...(this.ai ? { ai: this.ai } : {}),
      streaming: this.streaming,
      maintenance: this.maintenance,
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
    });
    const site = `https://${config.domainName ?? this.frontDoor.distribution.distributionDomainName}`;
    // Behind the load balancer the request says http and the balancer's name; its URLs must name the site.
    // (Lambda learns the site from X-Forwarded-Host, which the CloudFront function sets: its environment
    // cannot name the distribution, which depends on the API that depends on the function.)
    this.streaming.server.addEnvironment('PUBLIC_URL', `${site}${DICOMWEB_BASE_PATH}`);
    if (this.viewer) {
      this.viewer.deployTo(this.frontDoor.distribution, site, DICOMWEB_BASE_PATH);
      new CfnOutput(this, 'ViewerUrl', { value: `${site}/`, description: 'The viewer: sign in, search, read (OHIF)' });
    }
    new CfnOutput(this, 'DicomWebUrl', { value: `${site}${DICOMWEB_BASE_PATH}`, description: 'DICOMweb root for clients and viewers (CloudFront)' });
    new CfnOutput(this, 'UserPoolId', { value: this.auth.userPool.userPoolId });
    if (this.dimse) new CfnOutput(this, 'DimseEndpoint', { value: `${this.dimse.loadBalancer.loadBalancerDnsName}:11112`, description: `DICOM TLS endpoint for modalities (AE title ${config.dimse!.aeTitle})` });
    if (this.bulkImport) new CfnOutput(this, 'BulkImportLocation', { value: `s3://${this.storage.archive.bucketName}/ingest/` });
    if (this.ai) new CfnOutput(this, 'AiUrl', { value: `${site}/ai`, description: 'The AI pipeline\'s JSON API (worklist, results, registry)' });
    new CfnOutput(this, 'ViewerClientId', { value: this.auth.viewerClient.userPoolClientId });
  }
}
