// The OHIF Viewer as the deployment serves it: its files in a private bucket (encrypted, versioned, no
// public access, access-logged) that only the archive's CloudFront distribution reads, through an origin
// access control — no function serves them. The viewer's app-config.js is generated from the stack (the
// DICOMweb root on the same distribution, the user pool, the viewer's client and scopes), and every
// answer carries the security headers, the Content Security Policy being the one the local server sends
// (lambdas/viewer/security-headers.ts), which the browser tests check OHIF works within.
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ohifAppConfig } from '../../lambdas/viewer/ohif-config.js';
import { viewerContentSecurityPolicy } from '../../lambdas/viewer/security-headers.js';
import type { Auth } from './auth.js';

/** CloudFront compresses files up to this size itself; larger ones are stored compressed (Brotli). */
const CLOUDFRONT_COMPRESSES_UP_TO = 10 * 1024 * 1024;

export interface ViewerSiteProps {
  /** The installed OHIF distribution (dist/ with index.html and a .br beside each large file). */
  ohifDist: string;
  accessLogs: s3.IBucket;
  auth: Auth;
}

export class ViewerSite extends Construct {
  readonly bucket: s3.Bucket;
  /** The distribution's default behaviour: the viewer's files, its routes answered with index.html. */
  readonly behavior: cloudfront.BehaviorOptions;
  private readonly props: ViewerSiteProps;

  constructor(scope: Construct, id: string, props: ViewerSiteProps) {
    super(scope, id);
    this.props = props;
    this.bucket = new s3.Bucket(this, 'Files', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      versioned: true,
      lifecycleRules: [{ id: 'old-versions', noncurrentVersionExpiration: Duration.days(30) }],
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'viewer/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge(
      { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: 'The viewer\'s files are the public OHIF build and its settings, no patient data; SSE-S3 lets CloudFront\'s origin access control read them without a key policy.' },
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: 'The viewer\'s files are rebuilt by every deployment; a DR deployment deploys them again.' },
    );
    const indexHtml = readFileSync(join(props.ohifDist, 'index.html'), 'utf8');
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: 'The viewer: Content Security Policy for OHIF, HSTS, no framing, no sniffing',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: viewerContentSecurityPolicy(indexHtml, [props.auth.signIn.baseUrl()]), override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.SAME_ORIGIN, override: true },
      },
    });
    const routes = new cloudfront.Function(this, 'Routes', {
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      comment: 'The viewer\'s own routes (/viewer?StudyInstanceUIDs=…, /callback) are its index.html',
      code: cloudfront.FunctionCode.fromInline(`function handler(event) {
  var request = event.request;
  if (request.uri.lastIndexOf('.') <= request.uri.lastIndexOf('/')) request.uri = '/index.html';
  return request;
}`),
    });
    this.behavior = {
      origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      compress: true,
      responseHeadersPolicy: headers,
      functionAssociations: [{ function: routes, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
    };
  }

  /** Uploads the viewer with its configuration for the distribution that serves it at `site`. */
  deployTo(distribution: cloudfront.IDistribution, site: string, dicomWebPath: string): void {
    const { ohifDist, auth } = this.props;
    // The main bundle (17 MB); the onnxruntime WebAssembly files past the limit, used only by OHIF's in-browser segmentation tools, go as they are.
    const large = readdirSync(ohifDist).filter((f) => f.endsWith('.js') && statSync(join(ohifDist, f)).size > CLOUDFRONT_COMPRESSES_UP_TO);
    const compressed = join(ohifDist, '..', 'cloudfront-brotli');
    rmSync(compressed, { recursive: true, force: true });
    mkdirSync(compressed, { recursive: true });
    for (const f of large) cpSync(join(ohifDist, `${f}.br`), join(compressed, f));
    const stack = Stack.of(this);
    const config = ohifAppConfig({
      dicomWebRoot: dicomWebPath,
      oidc: {
        authority: `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${auth.userPool.userPoolId}`,
        clientId: auth.viewerClient.userPoolClientId,
        scope: ['openid', 'email', auth.scopes.read.scopeName, auth.scopes.feedback.scopeName].join(' '),
      },
    });
    const common = { destinationBucket: this.bucket, prune: false, memoryLimit: 1024 };
    const files = new s3deploy.BucketDeployment(this, 'Bundles', {
      ...common,
      sources: [s3deploy.Source.asset(ohifDist, { exclude: ['*.br', '*.gz', 'index.html', 'app-config.js', ...large] })],
      cacheControl: [s3deploy.CacheControl.fromString('public, max-age=86400')],
    });
    const precompressed = new s3deploy.BucketDeployment(this, 'Precompressed', {
      ...common,
      sources: [s3deploy.Source.asset(compressed)],
      contentEncoding: 'br',
      contentType: 'text/javascript; charset=utf-8',
      cacheControl: [s3deploy.CacheControl.fromString('public, max-age=86400')],
    });
    // Last, so that a browser never gets an index.html naming bundles that are not there yet.
    const pages = new s3deploy.BucketDeployment(this, 'Pages', {
      ...common,
      sources: [s3deploy.Source.data('index.html', readFileSync(join(ohifDist, 'index.html'), 'utf8')), s3deploy.Source.data('app-config.js', config)],
      cacheControl: [s3deploy.CacheControl.noCache()],
      distribution,
      distributionPaths: ['/', '/index.html', '/app-config.js'],
    });
    pages.node.addDependency(files, precompressed);
    auth.allowViewerAt(site);
    this.acknowledgeDeploymentFunction();
  }

  /** CDK copies files into the bucket at deployment with a function of its own (one per stack and memory size). */
  private acknowledgeDeploymentFunction(): void {
    const stack = Stack.of(this);
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const why = 'CDK\'s own BucketDeployment function, which runs only while a deployment copies the viewer\'s files';
    const bucketArn = `<${stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
      Validations.of(child).acknowledge(
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: `${why}; its role is created by CDK.` },
        ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((action) => ({ id: `AwsSolutions-IAM5[Action::${action}]`, reason: `${why}: CDK grants it read on the staged assets and read-write on the viewer's bucket.` })),
        { id: `AwsSolutions-IAM5[Resource::${bucketArn}/*]`, reason: `${why}: it writes every file of the viewer.` },
        { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${account}-${region}/*]`, reason: `${why}: it reads the files CDK staged in its assets bucket.` },
        { id: 'AwsSolutions-IAM5[Resource::*]', reason: `${why}: CloudFront invalidations have no resource-level permissions.` },
        { id: 'AwsSolutions-L1', reason: `${why}; its runtime is chosen by CDK.` },
        { id: 'HIPAA.Security-LambdaInsideVPC', reason: `${why}; it reaches only S3 and CloudFront.` },
        { id: 'HIPAA.Security-LambdaDLQ', reason: `${why}, invoked synchronously by CloudFormation.` },
        { id: 'HIPAA.Security-LambdaConcurrency', reason: `${why}, once per deployment.` },
        { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: `${why}; CDK writes its policy inline.` },
      );
    }
  }
}
