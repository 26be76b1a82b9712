// Builds the CDK app with cdk-nag's AWS Solutions and HIPAA Security checks applied (cdk-nag 3 runs as
// a policy validation plugin: any unacknowledged finding fails synthesis).
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { configFromContext, type PacsConfig } from './config.js';
import { PacsEdgeStack } from './edge-stack.js';
import { PacsReplicaStack } from './replica-stack.js';
import { PacsStack } from './pacs-stack.js';

export function buildApp(app: App = new App(), config?: PacsConfig): { app: App; stack: PacsStack } {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app));
  const settings = config ?? configFromContext(app.node);
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEFAULT_REGION;
  // CloudFront's web ACL lives in us-east-1: in the stack itself there, else in an edge stack whose ARN
  // CDK carries across regions (which needs the account and region, as every `cdk deploy` has them).
  const edge =
    account && region && region !== 'us-east-1'
      ? new PacsEdgeStack(app, 'ServerlessPacsEdge', { env: { account, region: 'us-east-1' }, rateLimitPer5Minutes: settings.wafRateLimit })
      : undefined;
  const stack = new PacsStack(app, 'ServerlessPacs', {
    config: settings,
    env: { account, region },
    ...(edge ? { crossRegionReferences: true, webAclArn: edge.webAcl.acl.attrArn } : {}),
  });
  if (settings.drRegion) {
    // The replica's names include the account, so the primary stack can name them without cross-region references.
    if (!account) throw new Error('drRegion needs the target account: run with AWS credentials, or set CDK_DEFAULT_ACCOUNT');
    // The replica's stack deploys first: replication needs its bucket and key to exist.
    const replica = new PacsReplicaStack(app, 'ServerlessPacsReplica', { env: { account, region: settings.drRegion } });
    stack.node.addDependency(replica);
  }
  return { app, stack };
}
