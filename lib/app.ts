// Builds the CDK app with cdk-nag's AWS Solutions and HIPAA Security checks applied (cdk-nag 3 runs as
// a policy validation plugin: any unacknowledged finding fails synthesis).
//
// Normal deployment: ServerlessPacs in the current region, ServerlessPacsEdge (the WAF) in us-east-1
// and, with drRegion, ServerlessPacsReplica there (the replica bucket and the read API that CloudFront
// fails reads over to). A recovery (restoreFromReplica): the archive is
// deployed as ServerlessPacsRestored in drRegion over the replicas that ServerlessPacsReplica and the
// tables' replicas hold, with its own WAF stack.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { configFromContext, type PacsConfig } from './config.js';
import { PacsEdgeStack } from './edge-stack.js';
import { PacsReplicaStack } from './replica-stack.js';
import { archiveNames } from './constructs/names.js';
import { PacsStack } from './pacs-stack.js';
import { DICOMWEB_BASE_PATH } from './constructs/dicomweb-api.js';

export function buildApp(app: App = new App(), config?: PacsConfig): { app: App; stack: PacsStack } {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app));
  const settings = config ?? configFromContext(app.node);
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  if (settings.drRegion && !account) throw new Error('drRegion needs the target account: run with AWS credentials, or set CDK_DEFAULT_ACCOUNT');
  const names = archiveNames(settings.archiveName);
  const restoring = settings.restoreFromReplica;
  const region = restoring ? settings.drRegion : process.env.CDK_DEFAULT_REGION;
  const prefix = restoring ? `${names.stackPrefix}Restored` : names.stackPrefix;
  // The replica's names include the account, so the primary stack can name them without cross-region
  // references; it deploys first, since replication needs its bucket and key to exist.
  const replica =
    settings.drRegion && account
      ? new PacsReplicaStack(app, `${names.stackPrefix}Replica`, {
          env: { account, region: settings.drRegion },
          names,
          basePath: DICOMWEB_BASE_PATH,
          readApiConcurrency: settings.apiReservedConcurrency,
        })
      : undefined;
  // Reads fail over to the replica's read API; not in a recovery, whose primary region is the lost one.
  const failoverReads = replica && !restoring ? { api: replica.readApi.api, region: replica.region } : undefined;
  // CloudFront's web ACL lives in us-east-1: in the stack itself there, else in an edge stack whose ARN
  // CDK carries across regions (which needs the account and region, as every `cdk deploy` has them).
  const edge =
    account && region && region !== 'us-east-1'
      ? new PacsEdgeStack(app, `${prefix}Edge`, { env: { account, region: 'us-east-1' }, rateLimitPer5Minutes: settings.wafRateLimit })
      : undefined;
  const stack = new PacsStack(app, prefix, {
    config: settings,
    names,
    env: { account, region },
    ...(edge || failoverReads ? { crossRegionReferences: true } : {}),
    ...(edge ? { webAclArn: edge.webAcl.acl.attrArn } : {}),
    ...(failoverReads ? { failoverReads } : {}),
    ...(restoring && replica && account && settings.drRegion ? { restore: { bucketName: names.replicaBucket(account, settings.drRegion), key: replica.replica.key } } : {}),
  });
  if (replica) stack.node.addDependency(replica);
  return { app, stack };
}
