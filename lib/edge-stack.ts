// What CloudFront needs in us-east-1: the web ACL (AWS keeps CLOUDFRONT-scope web ACLs there). The
// primary stack reads its ARN through CDK's cross-region references.
import { Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { WebAcl } from './constructs/web-acl.js';

export class PacsEdgeStack extends Stack {
  readonly webAcl: WebAcl;

  constructor(scope: Construct, id: string, props: StackProps & { rateLimitPer5Minutes: number }) {
    super(scope, id, { ...props, crossRegionReferences: true });
    this.webAcl = new WebAcl(this, 'Firewall', { rateLimitPer5Minutes: props.rateLimitPer5Minutes });
  }
}
