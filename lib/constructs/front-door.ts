// The archive's one public address: a CloudFront distribution (HTTPS only, access-logged) in front of
// both runtimes. A CloudFront function on every viewer request applies lambdas/aws/edge/route.ts: bodies
// that fit Lambda, searches, metadata of one instance, rendered images and deletes go to API Gateway and
// Lambda; larger bodies and whole-object, frame, bulk-data and study/series metadata retrievals go to the
// streaming runtime through a VPC origin. Both check the Cognito token themselves, so CloudFront caches
// only by token: frames are cached per token for an access token's lifetime, everything else not at all.
// With a disaster-recovery region, searches and retrievals (GET, HEAD) fail over to the replica's read
// API there when their origin answers 5xx or cannot be reached: the function makes each read's origin
// group itself, because CloudFront refuses origin groups on behaviours that allow POST, and DICOMweb's
// reads and writes share paths. /replica/… reaches the read API directly, to check that it is ready.
import { Duration, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AUDIT_ROOT } from '../../lambdas/governance/audit/audit-api.js';
import { DIMSE_ROOT } from '../../lambdas/governance/audit/audited-action.js';
import { EXPORTS_ROOT } from '../../lambdas/governance/export/export-api.js';
import { buildSync } from 'esbuild';
import { repoFile } from './archive-function.js';
import { ACCESS_TOKEN_LIFETIME } from './auth.js';
import type { StreamingRuntime } from './streaming-runtime.js';

export interface FrontDoorProps {
  api: apigateway.RestApi;
  streaming: StreamingRuntime;
  accessLogs: s3.IBucket;
  basePath: string;
  /** The WAF web ACL (CLOUDFRONT scope, us-east-1) to attach. */
  webAclArn?: string;
  /** A custom domain and its ACM certificate (us-east-1); viewers then need TLS 1.2 or later. */
  domain?: { name: string; certificateArn: string };
  /** The DR region's read API (its execute-api host name), which reads fail over to. */
  replicaDomainName?: string;
  /** The viewer's files (ViewerSite): everything that is not DICOMweb or the AI API. */
  viewer?: cloudfront.BehaviorOptions;
}

/** The origin ids the routing function selects by. */
export const ORIGIN_IDS = { lambda: 'lambda', streaming: 'streaming', replica: 'replica' } as const;

/** Paths under this prefix go to the replica's read API as they are, without it (a readiness check). */
export const REPLICA_PATH_PREFIX = '/replica';

/** Answers from a primary origin that send a read to the replica (CloudFront also fails over when it cannot connect). */
export const FAILOVER_STATUS_CODES = [500, 502, 503, 504];

/**
 * The CloudFront function's code: route.ts compiled for CloudFront's JavaScript runtime 2.0 (no modules
 * but its own `cloudfront`), and a handler that selects the streaming origin when route.ts says so. With
 * `failoverReadsUnder` (the DICOMweb base path), each read under it gets an origin group of that origin
 * and the replica's read API, which serves DICOMweb only (not the AI API).
 */
export function routingFunctionCode(options: { failoverReadsUnder?: string } = {}): string {
  const compiled = buildSync({
    entryPoints: [repoFile('lambdas/aws/edge/route.ts')],
    bundle: true,
    format: 'iife',
    globalName: 'edgeRoute',
    target: 'es2020',
    write: false,
    logLevel: 'warning',
  }).outputFiles[0].text;
  return `import cf from 'cloudfront';
${compiled}
function handler(event) {
  var request = event.request;
  // The origins see their own host names; RetrieveURL and BulkDataURI must name the viewer's.
  if (request.headers.host) request.headers['x-forwarded-host'] = { value: request.headers.host.value };
  var length = request.headers['content-length'] ? request.headers['content-length'].value : undefined;
  var origin = edgeRoute.runtimeFor(request.method, request.uri, length) === 'streaming' ? '${ORIGIN_IDS.streaming}' : '${ORIGIN_IDS.lambda}';
${
  options.failoverReadsUnder
    ? `  if (request.uri.indexOf('${REPLICA_PATH_PREFIX}/') === 0) {
    // The replica behaviour's own origin; the read API serves the archive's paths.
    request.uri = request.uri.slice(${REPLICA_PATH_PREFIX.length});
    return request;
  }
  if ((request.method === 'GET' || request.method === 'HEAD') && request.uri.indexOf('${options.failoverReadsUnder}/') === 0) {
    cf.createRequestOriginGroup({
      originIds: [{ originId: origin }, { originId: '${ORIGIN_IDS.replica}' }],
      failoverCriteria: { statusCodes: ${JSON.stringify(FAILOVER_STATUS_CODES)} }
    });
    return request;
  }
`
    : ''
}  if (origin === '${ORIGIN_IDS.streaming}') cf.selectRequestOriginById(origin);
  return request;
}
`;
}

export class FrontDoor extends Construct {
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: FrontDoorProps) {
    super(scope, id);
    const routing = new cloudfront.Function(this, 'Routing', {
      code: cloudfront.FunctionCode.fromInline(routingFunctionCode(props.replicaDomainName ? { failoverReadsUnder: props.basePath } : {})),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      comment: 'Routes each DICOMweb request to Lambda or the streaming runtime (lambdas/aws/edge/route.ts)',
    });
    // With a replica to fail over to, give up on an unreachable primary after 2 × 5 s instead of 3 × 10 s.
    const connection = props.replicaDomainName ? { connectionAttempts: 2, connectionTimeout: Duration.seconds(5) } : {};
    const lambdaOrigin = new origins.RestApiOrigin(props.api, { originId: ORIGIN_IDS.lambda, readTimeout: Duration.seconds(30), ...connection });
    const streamingOrigin = origins.VpcOrigin.withApplicationLoadBalancer(props.streaming.loadBalancer, {
      originId: ORIGIN_IDS.streaming,
      ...connection,
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      // How long CloudFront waits for the first byte, and between bytes (60 s without a quota increase).
      readTimeout: Duration.seconds(60),
      keepaliveTimeout: Duration.seconds(60),
    });
    const functionAssociations = [{ function: routing, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }];
    const passThrough: cloudfront.AddBehaviorOptions = {
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Everything the viewer sent, the token included, except Host (API Gateway needs its own).
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      functionAssociations,
    };
    // Frames never change once stored. The archive marks them `private` (no shared proxy may keep
    // patient data fetched with a token), so CloudFront keeps them by its minimum TTL instead: per token
    // and Accept (a frame can be asked for in several media types), and for the life of an access token,
    // so that a token which has expired reads cached frames for at most that long after they were cached.
    const perToken = new cloudfront.CachePolicy(this, 'FramesPerToken', {
      comment: 'DICOMweb frames: cached per access token and Accept header, for an access token\'s lifetime',
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Authorization', 'Accept'),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      minTtl: ACCESS_TOKEN_LIFETIME,
      defaultTtl: ACCESS_TOKEN_LIFETIME,
      maxTtl: ACCESS_TOKEN_LIFETIME,
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    const cached = (origin: cloudfront.IOrigin): cloudfront.BehaviorOptions => ({
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
      cachePolicy: perToken,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      functionAssociations,
    });
    const base = props.basePath;
    // The replica's read API: the origin that reads fail over to, and what /replica/… reaches directly.
    const replica: Record<string, cloudfront.BehaviorOptions> = props.replicaDomainName
      ? {
          [`${REPLICA_PATH_PREFIX}/*`]: {
            origin: new origins.HttpOrigin(props.replicaDomainName, { originId: ORIGIN_IDS.replica, originPath: '/prod', protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY, readTimeout: Duration.seconds(30) }),
            ...passThrough,
            allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
          },
        }
      : {};
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Serverless PACS: the viewer, DICOMweb and the AI API',
      defaultBehavior: props.viewer ?? { origin: lambdaOrigin, ...passThrough },
      additionalBehaviors: {
        [`${base}/studies/*/frames/*`]: cached(streamingOrigin),
        ...(props.viewer ? { [`${base}/*`]: { origin: lambdaOrigin, ...passThrough }, '/ai/*': { origin: lambdaOrigin, ...passThrough }, [`${AUDIT_ROOT}/*`]: { origin: lambdaOrigin, ...passThrough }, [`${EXPORTS_ROOT}*`]: { origin: lambdaOrigin, ...passThrough }, [`${DIMSE_ROOT}/*`]: { origin: lambdaOrigin, ...passThrough } } : {}),
        ...replica,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      ...(props.domain
        ? {
            domainNames: [props.domain.name],
            certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.domain.certificateArn),
            minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
          }
        : {}),
      priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
      enableLogging: true,
      logBucket: props.accessLogs,
      logFilePrefix: 'cloudfront/',
      ...(props.webAclArn ? { webAclId: props.webAclArn } : {}),
    });
    Validations.of(this.distribution).acknowledge(
      { id: 'AwsSolutions-CFR1', reason: 'Who may use the archive is decided by Cognito tokens, not by country; a deployment that must restrict countries adds a geo restriction.' },
    );
    if (!props.domain) {
      Validations.of(this.distribution).acknowledge({ id: 'AwsSolutions-CFR4', reason: 'The default cloudfront.net certificate allows only the TLSv1 security policy; with the domainName and certificateArn settings the distribution requires TLS 1.2 (2021).' });
    }
    if (!props.webAclArn) {
      Validations.of(this.distribution).acknowledge({ id: 'AwsSolutions-CFR2', reason: 'Synthesized without account and region, so without the us-east-1 web ACL; every deployment (which knows both) has one.' });
    }
  }
}
