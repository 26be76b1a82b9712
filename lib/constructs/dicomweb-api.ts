// The DICOMweb API: the archive's Hono application as one Lambda function (ArchiveFunction) behind an API Gateway REST API that passes binary bodies, checks a Cognito token with the
// right scope on every method, and logs every request.
import { Duration, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AUDIT_ROOT } from '../../lambdas/governance/audit/audit-api.js';
import { readWriteAccess } from './archive-access.js';
import { ArchiveFunction } from './archive-function.js';
import type { ArchiveStorage } from './archive-storage.js';
import type { Auth } from './auth.js';

export interface DicomWebApiProps {
  storage: ArchiveStorage;
  auth: Auth;
  reservedConcurrency: number;
}

export const DICOMWEB_BASE_PATH = '/dicomweb';

export type ApiScope = keyof Auth['scopes'];

export class DicomWebApi extends Construct {
  readonly function: lambda.Function;
  readonly api: apigateway.RestApi;
  private readonly authorizer: apigateway.CognitoUserPoolsAuthorizer;
  private readonly validator: apigateway.RequestValidator;
  private readonly auth: Auth;

  constructor(scope: Construct, id: string, props: DicomWebApiProps) {
    super(scope, id);
    const { storage, auth } = props;
    this.function = new ArchiveFunction(this, 'Handler', {
      access: readWriteAccess(storage),
      entry: 'lambdas/aws/handlers/dicomweb-api.ts',
      description: 'DICOMweb API: STOW-RS, QIDO-RS, WADO-RS, delete; the audit trail',
      memorySize: 1769, // one full vCPU
      timeout: Duration.seconds(29), // API Gateway's integration timeout
      reservedConcurrency: props.reservedConcurrency,
      environment: {
        DICOMWEB_BASE_PATH,
        // Requests above this go to the streaming runtime before they reach the function.
        MAX_REQUEST_BYTES: String(6 * 1024 * 1024),
        // A QIDO-RS answer must fit Lambda's 6 MB response payload with its envelope; more is a next page.
        MAX_QUERY_RESPONSE_BYTES: String(5 * 1024 * 1024),
        // Responses carry patient data fetched with a token: no shared cache but CloudFront (per token) may keep them.
        CACHE_SCOPE: 'private',
      },
    }).function;

    this.api = dicomWebRestApi(this, 'Api', { description: 'DICOMweb (PS3.18): STOW-RS, QIDO-RS, WADO-RS and delete', logKey: storage.key });
    this.auth = auth;
    this.authorizer = new apigateway.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: [auth.userPool] });
    this.validator = this.api.addRequestValidator('Parameters', { validateRequestParameters: true, validateRequestBody: true });
    this.addProxy(DICOMWEB_BASE_PATH, this.function, { GET: 'read', HEAD: 'read', POST: 'write', PUT: 'write', DELETE: 'delete' });
    // The audit trail's read API, served by the same function, with a scope of its own.
    this.addProxy(AUDIT_ROOT, this.function, { GET: 'audit', HEAD: 'audit' });

    Validations.of(this.api).acknowledge(
      { id: 'AwsSolutions-APIG4', reason: 'Only the CORS preflight (OPTIONS, a mock integration that returns headers) is unauthenticated; browsers send it without credentials.' },
      { id: 'AwsSolutions-COG4', reason: 'Only the CORS preflight (OPTIONS) has no Cognito authorizer; every DICOMweb method has one.' },
    );
    Validations.of(this.function).acknowledge(
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'API Gateway invokes the function synchronously; a dead-letter queue only applies to asynchronous invocations.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function calls only S3, DynamoDB and SQS over TLS with IAM; it has no VPC resources to reach.' },
    );
  }

  /** Serves everything under `path` from `fn`, each method behind a Cognito token with the given scope. */
  addProxy(path: string, fn: lambda.IFunction, methods: Partial<Record<'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', ApiScope>>): void {
    const integration = new apigateway.LambdaIntegration(fn, { proxy: true });
    const proxy = this.api.root.addResource(path.replace(/^\//, '')).addResource('{proxy+}');
    for (const [verb, scope] of Object.entries(methods)) {
      proxy.addMethod(verb, integration, {
        authorizer: this.authorizer,
        authorizationType: apigateway.AuthorizationType.COGNITO,
        authorizationScopes: [this.auth.scopes[scope].scopeName],
        requestValidator: this.validator,
        requestParameters: { 'method.request.path.proxy': true },
      });
    }
  }
}

/**
 * A REST API for a DICOMweb Lambda function: binary bodies both ways (every media type is binary to API
 * Gateway; the handler decides what to base64-encode), regional, access-logged into a KMS-encrypted log
 * group, traced, CORS preflights answered by API Gateway. Methods and their authorization are the caller's.
 */
export function dicomWebRestApi(scope: Construct, id: string, props: { description: string; logKey: kms.IKey }): apigateway.RestApi {
  // Named as before this helper existed, so that deployed log groups keep their logical ids.
  const accessLogs = new logs.LogGroup(scope, 'AccessLogs', { retention: logs.RetentionDays.ONE_YEAR, encryptionKey: props.logKey });
  const api = new apigateway.RestApi(scope, id, {
    description: props.description,
    binaryMediaTypes: ['*/*'],
    endpointTypes: [apigateway.EndpointType.REGIONAL],
    cloudWatchRole: true,
    deployOptions: {
      stageName: 'prod',
      accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
      accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      loggingLevel: apigateway.MethodLoggingLevel.ERROR,
      tracingEnabled: true,
      metricsEnabled: true,
    },
    defaultCorsPreflightOptions: {
      allowOrigins: apigateway.Cors.ALL_ORIGINS,
      allowMethods: ['GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'If-None-Match'],
      exposeHeaders: ['Warning', 'ETag', 'Content-Location', 'Content-Type'],
      maxAge: Duration.minutes(10),
    },
  });
  Validations.of(api).acknowledge(
    { id: 'AwsSolutions-APIG3', reason: 'The WAF web ACL is attached to the CloudFront distribution in front of this API (lib/constructs/web-acl.ts).' },
    { id: 'HIPAA.Security-APIGWCacheEnabledAndEncrypted', reason: 'Responses carry patient data and are cached only at CloudFront for immutable resources; the API Gateway cache stays off.' },
    { id: 'HIPAA.Security-APIGWSSLEnabled', reason: 'Client certificates to the backend are for HTTP integrations; this API invokes Lambda through AWS, not over HTTP.' },
    { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]', reason: 'The account-wide role API Gateway writes execution logs with; this AWS managed policy is the one AWS documents for it and grants only CloudWatch Logs.' },
  );
  return api;
}
