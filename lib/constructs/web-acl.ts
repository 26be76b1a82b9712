// The web application firewall in front of CloudFront (a CLOUDFRONT-scope web ACL, which AWS keeps in
// us-east-1): AWS's IP reputation list and known-bad-input rules, the common rule set, and a per-address
// rate limit. DICOM bodies are binary and large, so the common rules that inspect bodies (and the size
// limits that DICOMweb's long UID lists exceed) only count; they never block a STOW-RS upload.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { allowLogGroupsToUse } from './log-encryption.js';

export interface WebAclProps {
  /** Requests per five minutes from one address before it is blocked for a while. */
  rateLimitPer5Minutes: number;
}

/** Rules of the common rule set that would misread DICOM bodies and DICOMweb queries. */
const COUNT_ONLY = ['SizeRestrictions_BODY', 'SizeRestrictions_QUERYSTRING', 'CrossSiteScripting_BODY', 'GenericLFI_BODY', 'GenericRFI_BODY', 'EC2MetaDataSSRF_BODY'];

export class WebAcl extends Construct {
  readonly acl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: WebAclProps) {
    super(scope, id);
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true });
    const managed = (name: string, priority: number, countOnly: string[] = []): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(countOnly.length ? { ruleActionOverrides: countOnly.map((rule) => ({ name: rule, actionToUse: { count: {} } })) } : {}),
        },
      },
      visibilityConfig: visibility(name),
    });
    this.acl = new wafv2.CfnWebACL(this, 'Acl', {
      scope: 'CLOUDFRONT',
      description: 'Serverless PACS: managed protections and a rate limit in front of DICOMweb',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('serverless-pacs'),
      rules: [
        managed('AWSManagedRulesAmazonIpReputationList', 0),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 1),
        managed('AWSManagedRulesCommonRuleSet', 2, COUNT_ONLY),
        {
          name: 'RatePerAddress',
          priority: 3,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimitPer5Minutes, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RatePerAddress'),
        },
      ],
    });
    // WAF logs go to a log group whose name must start with aws-waf-logs-; tokens are redacted.
    const key = new kms.Key(this, 'LogKey', { description: 'Encrypts the web ACL\'s logs', enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
    allowLogGroupsToUse(key);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${this.node.addr.slice(0, 16)}`,
      retention: logs.RetentionDays.ONE_YEAR,
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.acl.attrArn,
      logDestinationConfigs: [logGroup.logGroupArn],
      redactedFields: [{ singleHeader: { Name: 'authorization' } }],
    });
  }
}
