// The CDK app, synthesized offline (no credentials, no Docker): cdk-nag's AWS Solutions and HIPAA
// Security packs find nothing unacknowledged, the template holds the protections the design promises
// (including those cdk-nag cannot see, such as the TableV2 settings), and the bundled API function loads
// and answers.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { bundleHandler } from '../../lib/constructs/archive-function.js';
import { chunksHolding, loadedAtStart } from '../helpers/bundle-imports.js';
import { ORIGIN_IDS } from '../../lib/constructs/front-door.js';
import { BUNDLED_CODEC_PACKAGES, CODEC_PACKAGES } from '../../lib/constructs/codec-modules.js';
import { FRAME_DECODER_PACKAGE } from '../../lambdas/imaging/frame-decoder-pool.js';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { assembleFrame } from '../../lambdas/dicom/frames.js';
import { pixelModuleOf } from '../../lambdas/imaging/pixels.js';
import { sampleBytes } from '../helpers/samples.js';
import { DEFAULT_CONFIG, configFromContext } from '../../lib/config.js';
import { BUILT_IN_ANALYSER_IDS, MODEL_ANALYSER_IDS, PIXEL_ANALYSER_IDS, type BuiltInAnalyserId } from '../../lambdas/ai/analysers/built-in-ids.js';
import { AI_STATE_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-ai-state.js';
import { AUDIT_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-audit-log.js';
import { INDEX_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-index.js';

const env = { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' };
Object.assign(process.env, env);
const work = mkdtempSync(join(tmpdir(), 'cdk-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every finding of the policy-validation report (errors and warnings) that was not acknowledged. */
function noFindings(outdir: string): string[] {
  const file = join(outdir, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as { pluginReports: Array<{ violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }> }> };
  return report.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
}

const resourcesOf = (t: Template, type: string) => Object.values(t.findResources(type)) as Array<{ Properties: Record<string, unknown> }>;
/** The CloudFront function that routes DICOMweb requests (the viewer's behaviour has one of its own). */
const routingFunction = (t: Template) => resourcesOf(t, 'AWS::CloudFront::Function').find((f) => String((f.Properties.FunctionConfig as { Comment: string }).Comment).startsWith('Routes each DICOMweb request'))!;

describe('the deployed stack (default settings, with bundling)', () => {
  let template: Template;
  let outdir: string;
  beforeAll(() => {
    outdir = join(work, 'default');
    const { stack } = buildApp(new App({ outdir }), { ...DEFAULT_CONFIG, infrequentAccessAfterDays: 45, archiveAfterDays: 120 });
    // Synthesis runs the cdk-nag plugins and throws on any unacknowledged finding.
    template = Template.fromStack(stack);
  }, 120_000);

  it('has no finding left, not even a warning (CloudFormation validation reports circular dependencies as warnings)', () => {
    expect(noFindings(outdir)).toEqual([]);
  });

  it('keeps originals in a KMS-encrypted, versioned, private, TLS-only bucket that tiers as configured', () => {
    const archive = resourcesOf(template, 'AWS::S3::Bucket').find((b) => JSON.stringify(b.Properties.LifecycleConfiguration ?? '').includes('GLACIER_IR'))!;
    expect(archive).toBeDefined();
    expect(JSON.stringify(archive.Properties.BucketEncryption)).toContain('aws:kms');
    expect(archive.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(archive.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(archive.Properties.LoggingConfiguration).toBeDefined();
    const rules = (archive.Properties.LifecycleConfiguration as { Rules: Array<{ Transitions?: Array<{ StorageClass: string; TransitionInDays: number }> }> }).Rules;
    expect(rules.flatMap((r) => r.Transitions ?? [])).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 45 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 120 },
    ]);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('protects the index table: point-in-time recovery, deletion protection, encryption, six keys-only indexes and the workitems\' one', () => {
    const table = resourcesOf(template, 'AWS::DynamoDB::GlobalTable').find((t) => JSON.stringify(t.Properties.GlobalSecondaryIndexes).includes(INDEX_TABLE_SCHEMA.indexes[0].IndexName!))!;
    const p = table.Properties as { Replicas: Array<Record<string, unknown>>; SSESpecification: Record<string, unknown>; GlobalSecondaryIndexes: Array<{ IndexName: string; Projection: unknown }>; BillingMode: string };
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.SSESpecification).toMatchObject({ SSEEnabled: true });
    for (const replica of p.Replicas) {
      expect(replica.DeletionProtectionEnabled).toBe(true);
      expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    expect(p.GlobalSecondaryIndexes.map((i) => i.IndexName).sort()).toEqual(INDEX_TABLE_SCHEMA.indexes.map((i) => i.IndexName).sort());
    // QIDO's indexes lead to items it reads anyway; a worklist is read from its index whole.
    for (const index of p.GlobalSecondaryIndexes) expect(index.Projection).toEqual({ ProjectionType: index.IndexName === 'workitemOrder' ? 'ALL' : 'KEYS_ONLY' });
    template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain' });
  });

  it('keeps the audit trail in a protected table of its own that the archive may only add to and search', () => {
    const table = resourcesOf(template, 'AWS::DynamoDB::GlobalTable').find((t) => t.Properties.TableName === 'serverless-pacs-audit')!;
    const p = table.Properties as { Replicas: Array<Record<string, unknown>>; GlobalSecondaryIndexes: Array<{ IndexName: string }> };
    for (const replica of p.Replicas) {
      expect(replica.DeletionProtectionEnabled).toBe(true);
      expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    expect(p.GlobalSecondaryIndexes.map((i) => i.IndexName).sort()).toEqual(AUDIT_TABLE_SCHEMA.indexes.map((i) => i.IndexName).sort());
    // Every statement that names the audit table grants PutItem and Query — or, for the copier, reads its stream — nothing else.
    const auditRef = Object.keys(template.findResources('AWS::DynamoDB::GlobalTable')).find((id) => id.startsWith('StorageAudit'))!;
    const statements = [...resourcesOf(template, 'AWS::IAM::Policy'), ...resourcesOf(template, 'AWS::IAM::ManagedPolicy')].flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[]; Resource: unknown }> }).Statement);
    const onAudit = statements.filter((st) => JSON.stringify(st.Resource).includes(auditRef));
    expect(onAudit.length).toBeGreaterThanOrEqual(3); // the API function, the streaming task, the AI and maintenance functions
    for (const st of onAudit) expect([['dynamodb:PutItem', 'dynamodb:Query'], ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], ['dynamodb:ListStreams']]).toContainEqual([st.Action].flat().sort());
    // Its stream is copied into a bucket with Object Lock in compliance mode, seven years by default.
    const lockedBucket = resourcesOf(template, 'AWS::S3::Bucket').find((b) => b.Properties.ObjectLockEnabled)!;
    expect(lockedBucket.Properties.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2557 } } });
    expect(lockedBucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(JSON.stringify(lockedBucket.Properties.BucketEncryption)).toContain('aws:kms');
    const [mapping] = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').filter((m) => JSON.stringify(m.Properties.EventSourceArn).includes(auditRef));
    expect(mapping.Properties).toMatchObject({ StartingPosition: 'TRIM_HORIZON', FunctionResponseTypes: ['ReportBatchItemFailures'], BisectBatchOnFunctionError: true });
    expect(JSON.stringify(mapping.Properties.DestinationConfig)).toContain('AuditArchiveDeadLetters');
    for (const fn of resourcesOf(template, 'AWS::Lambda::Function').filter((f) => String(f.Properties.Description).startsWith('DICOMweb API'))) {
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.AUDIT_TABLE).toEqual({ Ref: auditRef });
    }
  });

  it('imports files dropped under ingest/ through S3 notifications, an encrypted queue and a dead-letter queue', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { QueueConfigurations: [Match.objectLike({ Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'ingest/' }] } } })] },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  it('queues with KMS and a dead-letter queue everywhere: events, bulk import, readiness, one FIFO pair per analyser, the audit copy', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    // events, bulk import and readiness with their dead-letter queues; a job queue and a dead-letter queue per
    // analyser; the audit copy's dead-letter queue (its stream's on-failure destination)
    expect(queues).toHaveLength(7 + 2 * BUILT_IN_ANALYSER_IDS.length);
    for (const q of queues) expect(q.Properties.KmsMasterKeyId).toBeDefined();
    const withRedrive = queues.filter((q) => q.Properties.RedrivePolicy);
    expect(withRedrive).toHaveLength(3 + BUILT_IN_ANALYSER_IDS.length);
    expect(queues.filter((q) => q.Properties.FifoQueue === true)).toHaveLength(2 * BUILT_IN_ANALYSER_IDS.length);
    for (const q of withRedrive.filter((q) => q.Properties.FifoQueue)) {
      // Visible again only after the worker's 10-minute timeout; the pipeline dead-letters after 3 attempts, the redrive after 5.
      expect(q.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(600);
      expect((q.Properties.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount).toBe(5);
    }
  });

  it('runs the API on an arm64 function behind a binary-capable REST API with a scoped token on every method', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Architectures: ['arm64'], Runtime: 'nodejs24.x', TracingConfig: { Mode: 'Active' }, Description: Match.stringLikeRegexp('DICOMweb API') });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
    const methods = template.findResources('AWS::ApiGateway::Method') as Record<string, { Properties: Record<string, unknown> }>;
    const resources = template.findResources('AWS::ApiGateway::Resource') as Record<string, { Properties: { PathPart: string; ParentId: unknown } }>;
    // The path of a method: its proxy resource's parent's path part ("dicomweb" or "ai").
    const pathOf = (m: { Properties: Record<string, unknown> }) => {
      const proxy = resources[(m.Properties.ResourceId as { Ref: string }).Ref];
      return resources[(proxy.Properties.ParentId as { Ref: string }).Ref].Properties.PathPart;
    };
    const guarded = Object.values(methods).filter((m) => m.Properties.HttpMethod !== 'OPTIONS');
    for (const m of guarded) expect(m.Properties.AuthorizationType).toBe('COGNITO_USER_POOLS');
    expect(Object.fromEntries(guarded.map((m) => [`${m.Properties.HttpMethod} /${pathOf(m)}`, m.Properties.AuthorizationScopes]))).toEqual({
      'GET /dicomweb': ['dicomweb/read'],
      'HEAD /dicomweb': ['dicomweb/read'],
      'POST /dicomweb': ['dicomweb/write'],
      'PUT /dicomweb': ['dicomweb/write'],
      'DELETE /dicomweb': ['dicomweb/delete'],
      'GET /ai': ['dicomweb/read'],
      'POST /ai': ['dicomweb/feedback'],
      'PATCH /ai': ['dicomweb/govern'],
      'GET /audit': ['dicomweb/audit'],
      'HEAD /audit': ['dicomweb/audit'],
    });
    template.hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'ON' });
  });

  it('alarms on API errors, function errors and throttles, index throttling, dead letters and each analyser, to an encrypted topic', () => {
    // (The streaming runtime's step scaling has alarms of its own, which act on the service, not the topic.)
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').filter((a) => !/threshold scaling alarm/.test(String(a.Properties.AlarmDescription)));
    // 7 for the archive, 1 for the weekly sweep, 2 for the streaming runtime, 3 for the AI pipeline's events and dispatch, 4 per analyser
    expect(alarms).toHaveLength(7 + 1 + 2 + 3 + 4 * BUILT_IN_ANALYSER_IDS.length);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 3 ? * SUN *)' });
    const drift = alarms.filter((a) => a.Properties.MetricName === 'DriftDetected');
    expect(drift.map((a) => (a.Properties.Dimensions as Array<{ Name: string; Value: string }>).find((d) => d.Name === 'Analyser')!.Value).sort()).toEqual([...BUILT_IN_ANALYSER_IDS].sort());
    for (const a of alarms) expect((a.Properties.AlarmActions as unknown[]).length).toBe(1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('runs the AI pipeline: a protected state table, events and readiness functions, a 5-minute schedule, one worker per analyser', () => {
    const state = resourcesOf(template, 'AWS::DynamoDB::GlobalTable').find((t) => JSON.stringify(t.Properties.GlobalSecondaryIndexes).includes(AI_STATE_TABLE_SCHEMA.indexes[0].IndexName!))!;
    expect(state).toBeDefined();
    for (const replica of state.Properties.Replicas as Array<Record<string, unknown>>) {
      expect(replica.DeletionProtectionEnabled).toBe(true);
      expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    const functions = resourcesOf(template, 'AWS::Lambda::Function');
    const workers = functions.filter((f) => String(f.Properties.Description).startsWith('AI analyser'));
    const env = (f: (typeof functions)[number]) => (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(workers.map((w) => env(w).ANALYSER_ID).sort()).toEqual([...BUILT_IN_ANALYSER_IDS].sort());
    for (const w of workers) {
      expect(w.Properties.Timeout).toBe(600);
      expect(env(w).AI_QUIET_PERIOD_SECONDS).toBe(String(DEFAULT_CONFIG.aiQuietPeriodSeconds));
      // The missing-priors analyser must know the bucket's tiering ages.
      expect(env(w).STORAGE_INFREQUENT_ACCESS_AFTER_DAYS).toBe('45');
      expect(env(w).STORAGE_ARCHIVE_AFTER_DAYS).toBe('120');
    }
    // Workers take one job at a time and report a job to retry as a batch item failure.
    const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping');
    expect(mappings.filter((m) => m.Properties.BatchSize === 1 && JSON.stringify(m.Properties.FunctionResponseTypes) === '["ReportBatchItemFailures"]')).toHaveLength(BUILT_IN_ANALYSER_IDS.length);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  it('ships the shipped model to every pipeline function, and the ONNX runtime\'s WebAssembly only to the workers of analysers that run a model', async () => {
    const functions = resourcesOf(template, 'AWS::Lambda::Function').filter((f) => /^AI (analyser|pipeline: )/.test(String(f.Properties.Description)));
    expect(functions.length).toBe(BUILT_IN_ANALYSER_IDS.length + 2); // the workers, events, dispatch
    for (const fn of functions) {
      const dir = join(outdir, `asset.${(fn.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);
      const analyser = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables.ANALYSER_ID as BuiltInAnalyserId | undefined;
      const runsModel = analyser !== undefined && MODEL_ANALYSER_IDS.has(analyser);
      expect(existsSync(join(dir, 'image-noise.onnx')), String(fn.Properties.Description)).toBe(true);
      for (const f of ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) expect(existsSync(join(dir, f)), `${f} beside ${fn.Properties.Description}`).toBe(runsModel);
    }
    const worker = functions.find((f) => String(f.Properties.Description) === 'AI analyser image-noise: runs its jobs')!;
    const bundle = (await import(join(outdir, `asset.${(worker.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`, 'index.mjs'))) as { handler: unknown };
    expect(typeof bundle.handler).toBe('function');
  });

  it('gives the image codecs to the workers of analysers that decode pixels, and only to them', () => {
    const workers = resourcesOf(template, 'AWS::Lambda::Function').filter((f) => String(f.Properties.Description).startsWith('AI analyser'));
    for (const worker of workers) {
      const analyser = (worker.Properties.Environment as { Variables: Record<string, string> }).Variables.ANALYSER_ID as BuiltInAnalyserId;
      const dir = join(outdir, `asset.${(worker.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);
      if (!PIXEL_ANALYSER_IDS.has(analyser)) {
        expect(existsSync(join(dir, 'node_modules')), analyser).toBe(false);
        continue;
      }
      // Resolved from the bundle's place, as lambdas/imaging loads them, and instantiated from there.
      const probe = `import { createRequire } from 'node:module'; const r = createRequire('${join(dir, 'index.mjs')}');
        const paths = ${JSON.stringify([...CODEC_PACKAGES, ...BUNDLED_CODEC_PACKAGES, FRAME_DECODER_PACKAGE])}.map((p) => r.resolve(p));
        const f = r('@cornerstonejs/codec-openjpeg/decodewasmjs'); const m = await f({ print() {}, printErr() {} });
        const c = r('dcmjs-codecs'); await c.NativeCodecs.initializeAsync();
        console.log(JSON.stringify({ inside: paths.every((p) => p.startsWith('${dir}')), openjpeg: typeof new m.J2KDecoder().decode, native: c.NativeCodecs.isInitialized() }));`;
      expect(JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' })), analyser).toEqual({ inside: true, openjpeg: 'function', native: true });
    }
  });

  it('puts CloudFront in front: HTTPS only, logged, the routing function on every behavior, frames and metadata cached per token', () => {
    const [dist] = resourcesOf(template, 'AWS::CloudFront::Distribution');
    const config = dist.Properties.DistributionConfig as {
      Origins: Array<{ Id: string; VpcOriginConfig?: unknown; CustomOriginConfig?: unknown }>;
      DefaultCacheBehavior: Record<string, unknown>;
      CacheBehaviors: Array<Record<string, unknown>>;
      Logging?: unknown;
    };
    expect(config.Origins.map((o) => o.Id)).toEqual(expect.arrayContaining([ORIGIN_IDS.lambda, ORIGIN_IDS.streaming]));
    expect(config.Origins).toHaveLength(3); // and the viewer's bucket
    expect(config.Origins.find((o) => o.Id === ORIGIN_IDS.streaming)!.VpcOriginConfig).toBeDefined();
    expect(config.Logging).toBeDefined();
    // DICOMweb and the AI API: HTTPS only, each request routed by the function; the rest is the viewer.
    for (const b of config.CacheBehaviors) {
      expect(b.ViewerProtocolPolicy).toBe('https-only');
      expect((b.FunctionAssociations as Array<{ EventType: string }>).map((f) => f.EventType)).toEqual(['viewer-request']);
    }
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/dicomweb/studies/*/frames/*', '/dicomweb/*', '/ai/*', '/audit/*', '/exports*', '/dimse/*']);
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    // Per token, and no longer than a token lives (the archive says `private`, so only the minimum TTL caches).
    template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({ MinTTL: 3600, MaxTTL: 3600, ParametersInCacheKeyAndForwardedToOrigin: Match.objectLike({ HeadersConfig: { HeaderBehavior: 'whitelist', Headers: ['Authorization', 'Accept'] } }) }),
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', { AccessTokenValidity: 60 });
    template.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('DICOMweb API'), Environment: { Variables: Match.objectLike({ CACHE_SCOPE: 'private' }) } });
    template.hasResourceProperties('AWS::CloudFront::Function', { FunctionConfig: Match.objectLike({ Runtime: 'cloudfront-js-2.0' }) });
    // Without a DR region there is nothing to fail over to.
    expect(routingFunction(template).Properties.FunctionCode).not.toContain('createRequestOriginGroup');
  });

  it('serves the viewer from a private bucket through an origin access control, configured from the stack, with security headers', () => {
    const [dist] = resourcesOf(template, 'AWS::CloudFront::Distribution');
    const config = dist.Properties.DistributionConfig as { Origins: Array<{ Id: string; S3OriginConfig?: unknown; OriginAccessControlId?: unknown }>; DefaultCacheBehavior: { TargetOriginId: string; ResponseHeadersPolicyId?: unknown } };
    const viewerOrigin = config.Origins.find((o) => o.Id === config.DefaultCacheBehavior.TargetOriginId)!;
    expect(viewerOrigin.OriginAccessControlId).toBeDefined();
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', { OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always' }) });
    // The bucket: private, versioned, encrypted, logged; readable only by this distribution (and TLS only).
    const buckets = template.findResources('AWS::S3::Bucket');
    const [bucketId, bucket] = Object.entries(buckets).find(([id]) => id.startsWith('ViewerFiles'))! as [string, { Properties: Record<string, unknown> }];
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.Properties.BucketEncryption).toBeDefined();
    expect(bucket.Properties.LoggingConfiguration).toBeDefined();
    const policy = resourcesOf(template, 'AWS::S3::BucketPolicy').find((p) => JSON.stringify(p.Properties.Bucket).includes(bucketId))!;
    const allows = (policy.Properties.PolicyDocument as { Statement: Array<{ Effect: string; Principal?: unknown; Condition?: unknown }> }).Statement.filter((st) => st.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0].Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
    expect(JSON.stringify(allows[0].Condition)).toContain('AWS:SourceArn');
    // Security headers, the Content Security Policy being the one the browser tests run OHIF under.
    const [headers] = resourcesOf(template, 'AWS::CloudFront::ResponseHeadersPolicy');
    const security = (headers.Properties.ResponseHeadersPolicyConfig as { SecurityHeadersConfig: Record<string, Record<string, unknown>> }).SecurityHeadersConfig;
    expect(JSON.stringify(security.ContentSecurityPolicy.ContentSecurityPolicy)).toMatch(/script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' 'sha256-/);
    expect(JSON.stringify(security.ContentSecurityPolicy.ContentSecurityPolicy)).toContain('amazoncognito.com');
    expect(security.FrameOptions.FrameOption).toBe('DENY');
    expect(security.StrictTransportSecurity.AccessControlMaxAgeSec).toBe(31536000);
    expect(config.DefaultCacheBehavior.ResponseHeadersPolicyId).toBeDefined();
    // app-config.js, generated: the DICOMweb root on the same distribution, the user pool and the viewer's client (filled in at deployment).
    const deployments = resourcesOf(template, 'Custom::CDKBucketDeployment');
    const pages = deployments.find((d) => JSON.stringify(d.Properties.DistributionPaths ?? '').includes('app-config.js'))!;
    const markers = JSON.stringify(pages.Properties.SourceMarkers);
    expect(markers).toMatch(/"Ref":"AuthUsers[0-9A-F]+"/); // the user pool
    expect(markers).toMatch(/"Ref":"AuthUsersViewer[0-9A-F]+"/); // the viewer's client
    const key = (pages.Properties.SourceObjectKeys as string[]).map((k) => join(outdir, `asset.${k.replace(/\.zip$/, '')}`, 'app-config.js')).find(existsSync)!;
    const appConfig = readFileSync(key, 'utf8');
    expect(appConfig).toContain('window.location.origin + "/dicomweb"');
    expect(appConfig).toMatch(/oidc: \[\{ authority: "https:\/\/cognito-idp\./);
    expect(appConfig).toContain('dicomweb/read dicomweb/feedback');
    // The viewer signs in and out at the distribution's address.
    const client = resourcesOf(template, 'AWS::Cognito::UserPoolClient').find((c) => JSON.stringify(c.Properties.AllowedOAuthFlows ?? '').includes('code'))!;
    expect(JSON.stringify(client.Properties.CallbackURLs)).toMatch(/DomainName.*\/callback/);
    template.hasOutput('ViewerUrl', {});
  });

  it('runs the streaming runtime on Fargate from stock images: the bundle fetched from S3, an internal load balancer open only to the VPC', () => {
    const [task] = resourcesOf(template, 'AWS::ECS::TaskDefinition');
    expect(task.Properties.RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    const containers = task.Properties.ContainerDefinitions as Array<{ Name: string; Image: string; Essential: boolean; DependsOn?: unknown; Environment?: Array<{ Name: string; Value: unknown }> }>;
    expect(containers.map((c) => c.Image).sort()).toEqual(['public.ecr.aws/aws-cli/aws-cli:latest', 'public.ecr.aws/docker/library/node:24-bookworm-slim']);
    const server = containers.find((c) => c.Image.includes('node'))!;
    expect(server.DependsOn).toEqual([{ ContainerName: containers.find((c) => c.Image.includes('aws-cli'))!.Name, Condition: 'SUCCESS' }]);
    expect(server.Environment!.find((e) => e.Name === 'MAX_REQUEST_BYTES')!.Value).toBe(String(1024 ** 3));
    // Its URLs name the CloudFront site, not the load balancer behind it.
    const publicUrl = JSON.stringify(server.Environment!.find((e) => e.Name === 'PUBLIC_URL')!.Value);
    expect(publicUrl).toContain('"https://"');
    expect(publicUrl).toMatch(/FrontDoorDistribution[0-9A-F]+","DomainName"/);
    expect(publicUrl).toContain('"/dicomweb"');
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
    const groups = resourcesOf(template, 'AWS::EC2::SecurityGroup');
    const ingress = groups.flatMap((g) => (g.Properties.SecurityGroupIngress as Array<{ CidrIp?: string }> | undefined) ?? []);
    expect(ingress.filter((r) => r.CidrIp).map((r) => r.CidrIp)).toEqual(['10.40.0.0/16']);
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
  });

  it('packs the streaming runtime with its codecs into one archive that stock Node runs: health check, and no answer it cannot audit', async () => {
    const [task] = resourcesOf(template, 'AWS::ECS::TaskDefinition');
    const fetcher = (task.Properties.ContainerDefinitions as Array<{ Command?: unknown[] }>).find((c) => c.Command?.[0] === 's3')!;
    const url = JSON.stringify(fetcher.Command![2]);
    const file = readdirSync(outdir).filter((f) => f.startsWith('asset.') && f.endsWith('.tgz')).find((f) => url.includes(f.slice('asset.'.length)));
    expect(file, 'the asset named in the fetch command').toBeDefined();
    // What the server container does: unpack, then run index.mjs.
    const srv = mkdtempSync(join(work, 'srv-'));
    execFileSync('tar', ['xzf', join(outdir, file!), '-C', srv]);
    for (const pkg of [...CODEC_PACKAGES, ...BUNDLED_CODEC_PACKAGES, FRAME_DECODER_PACKAGE]) {
      const resolved = execFileSync(process.execPath, ['--input-type=module', '-e', `import { createRequire } from 'node:module'; console.log(createRequire('${join(srv, 'index.mjs')}').resolve('${pkg}'))`], { encoding: 'utf8' });
      expect(resolved.startsWith(srv), `${pkg} resolves inside the archive`).toBe(true);
    }
    // A codec's WebAssembly module instantiates from there, as lambdas/imaging/codecs.ts loads it.
    const probe = `import { createRequire } from 'node:module'; const f = createRequire('${join(srv, 'index.mjs')}')('@cornerstonejs/codec-charls/decodewasmjs'); const m = await f({ print() {}, printErr() {} }); console.log(typeof new m.JpegLSDecoder().decode)`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' }).trim()).toBe('function');
    // The bundled dcmjs-codecs finds its WebAssembly module beside it, as lambdas/imaging/native-codecs.ts loads it.
    const nativeProbe = `import { createRequire } from 'node:module'; const c = createRequire('${join(srv, 'index.mjs')}')('dcmjs-codecs'); await c.NativeCodecs.initializeAsync(); console.log(c.NativeCodecs.isInitialized())`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', nativeProbe], { encoding: 'utf8' }).trim()).toBe('true');
    // The bundled frame decoder runs in Piscina's worker from there and decodes a JPEG-LS frame, as lambdas/imaging/frame-decoder-pool.ts runs it.
    const sample = sampleBytes('dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm');
    const instance = readInstance(sample);
    const frameFile = join(srv, 'frame.bin');
    writeFileSync(frameFile, assembleFrame(instance.frames!, 0, (r) => sample.subarray(r.offset, r.offset + r.length)));
    const decoderProbe = `import { createRequire } from 'node:module'; import { readFileSync } from 'node:fs'; import { pathToFileURL } from 'node:url';
      const r = createRequire('${join(srv, 'index.mjs')}'); const { Piscina } = r('piscina');
      const pool = new Piscina({ filename: pathToFileURL(r.resolve('${FRAME_DECODER_PACKAGE}')).href });
      const f = await pool.run({ bytes: new Uint8Array(readFileSync('${frameFile}')), transferSyntaxUID: '${instance.transferSyntaxUID}', pm: ${JSON.stringify(pixelModuleOf(instance.metadata))} });
      console.log(JSON.stringify([f.rows, f.columns, f.bytes.length])); await pool.destroy();`;
    const pm = pixelModuleOf(instance.metadata);
    expect(JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', decoderProbe], { encoding: 'utf8' }))).toEqual([pm.rows, pm.columns, pm.rows * pm.columns * pm.samplesPerPixel * (pm.bitsAllocated / 8)]);
    const port = 18_000 + (process.pid % 1000);
    const child = spawn(process.execPath, [join(srv, 'index.mjs')], {
      env: { ...process.env, PORT: String(port), USER_POOL_ID: 'eu-west-1_Bundle', ARCHIVE_BUCKET: 'b', INDEX_TABLE: 't', EVENTS_QUEUE_URL: 'http://127.0.0.1:9/q', AUDIT_TABLE: 'a', AWS_REGION: 'eu-west-1' },
      stdio: 'ignore',
    });
    try {
      let health: Response | undefined;
      for (let i = 0; i < 50 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health?.status).toBe(200);
      // The request is refused (401) and its audit record written before the answer; with no AWS here to
      // write it to, the answer is 503 instead (nothing answered unrecorded).
      const refused = await fetch(`http://127.0.0.1:${port}/dicomweb/studies`);
      expect(refused.status).toBe(503);
      expect(await refused.text()).toMatch(/could not be recorded in the audit trail/);
    } finally {
      child.kill();
    }
  });

  it('grants the function no wildcard actions and no inline policy', () => {
    // The only inline policies are CDK's own, for its functions that configure bucket notifications and copy the viewer's files at deployment.
    expect(Object.keys(template.findResources('AWS::IAM::Policy')).every((id) => id.includes('Notifications') || id.includes('CDKBucketDeployment'))).toBe(true);
    const policies = resourcesOf(template, 'AWS::IAM::ManagedPolicy');
    const actions = policies.flatMap((p) => (p.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[] }> }).Statement.flatMap((s) => s.Action));
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('bundles an API function under 1 MB that loads and answers nothing it cannot audit', async () => {
    // The API function's code asset is the directory named after its S3 key.
    const api = resourcesOf(template, 'AWS::Lambda::Function').find((f) => String(f.Properties.Description).startsWith('DICOMweb API'))!;
    const dir = join(outdir, `asset.${(api.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);
    const file = join(dir, 'index.mjs');
    // index.mjs and its chunks, those loaded at start and those loaded on demand alike.
    const chunks = readdirSync(dir).filter((f) => f.endsWith('.mjs'));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.reduce((n, f) => n + statSync(join(dir, f)).size, 0)).toBeLessThan(1024 * 1024);
    Object.assign(process.env, { ARCHIVE_BUCKET: 'b', INDEX_TABLE: 't', EVENTS_QUEUE_URL: 'http://127.0.0.1:9/q', AUDIT_TABLE: 'a', AWS_REGION: 'eu-west-1' });
    const { handler } = (await import(file)) as { handler: (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string }> };
    const res = await handler(
      { resource: '/{proxy+}', path: '/dicomweb/studies/x/series', httpMethod: 'GET', headers: { Host: 'h' }, multiValueHeaders: {}, body: null, isBase64Encoded: false, requestContext: { path: '/prod/dicomweb/studies/x/series', stage: 'prod', httpMethod: 'GET', identity: {} } },
      {},
    );
    // Refused (400), and — with no DynamoDB here to take its audit record — answered 503 rather than unrecorded.
    expect(res.statusCode).toBe(503);
    expect(res.body).toMatch(/could not be recorded in the audit trail/);
  });
});

describe('settings', () => {
  it('replicates the archive bucket and the index to the disaster-recovery region', () => {
    const app = new App({ outdir: join(work, 'dr'), context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = buildApp(app, { ...DEFAULT_CONFIG, drRegion: 'eu-central-1' });
    const template = Template.fromStack(stack);
    expect(noFindings(join(work, 'dr'))).toEqual([]);
    const [table] = resourcesOf(template, 'AWS::DynamoDB::GlobalTable');
    expect((table.Properties.Replicas as Array<{ Region: string }>).map((r) => r.Region).sort()).toEqual(['eu-central-1', 'eu-west-1']);
    const archive = resourcesOf(template, 'AWS::S3::Bucket').find((b) => b.Properties.ReplicationConfiguration)!;
    const replication = JSON.stringify(archive.Properties.ReplicationConfiguration);
    expect(replication).toContain(':s3:::serverless-pacs-replica-123456789012-eu-central-1');
    expect(replication).toMatch(/"ReplicaKmsKeyID":\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":kms:eu-central-1:123456789012:alias\/serverless-pacs-replica"\]\]\}/);
    expect(replication).toContain('"DeleteMarkerReplication":{"Status":"Enabled"}');
    expect(replication).toContain('"ReplicationTime":{"Status":"Enabled","Time":{"Minutes":15}}');
    expect(replication).toContain('"StorageClass":"GLACIER_IR"');
    const replica = Template.fromStack(app.node.findChild('ServerlessPacsReplica') as Stack);
    replica.hasResourceProperties('AWS::S3::Bucket', { BucketName: 'serverless-pacs-replica-123456789012-eu-central-1', VersioningConfiguration: { Status: 'Enabled' } });
  });

  it('fails reads over to a read-only API in the DR region, which checks tokens against keys the primary copies there', () => {
    const outdir = join(work, 'failover');
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = buildApp(app, { ...DEFAULT_CONFIG, drRegion: 'eu-central-1' });
    expect(noFindings(outdir)).toEqual([]);
    const primary = Template.fromStack(stack);
    const [dist] = resourcesOf(primary, 'AWS::CloudFront::Distribution');
    const config = dist.Properties.DistributionConfig as { Origins: Array<{ Id: string; DomainName: unknown; OriginPath?: string; ConnectionTimeout?: number; ConnectionAttempts?: number }>; CacheBehaviors: Array<{ PathPattern: string; TargetOriginId: string; AllowedMethods: string[] }> };
    const replicaOrigin = config.Origins.find((o) => o.Id === ORIGIN_IDS.replica)!;
    expect(JSON.stringify(replicaOrigin.DomainName)).toContain('.execute-api.eu-central-1.');
    expect(replicaOrigin.OriginPath).toBe('/prod');
    // An unreachable primary is given up on within 2 × 5 s.
    for (const id of [ORIGIN_IDS.lambda, ORIGIN_IDS.streaming]) expect(config.Origins.find((o) => o.Id === id)).toMatchObject({ ConnectionAttempts: 2, ConnectionTimeout: 5 });
    expect(config.CacheBehaviors.find((b) => b.PathPattern === '/replica/*')).toMatchObject({ TargetOriginId: ORIGIN_IDS.replica, AllowedMethods: ['GET', 'HEAD', 'OPTIONS'] });
    expect(routingFunction(primary).Properties.FunctionCode).toContain('cf.createRequestOriginGroup');
    // The copy of the user pool's keys: every 15 minutes, allowed to touch that one index item only.
    primary.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    const copier = resourcesOf(primary, 'AWS::Lambda::Function').find((f) => String(f.Properties.Description).startsWith('Copies the user pool'))!;
    expect(Object.keys((copier.Properties.Environment as { Variables: Record<string, unknown> }).Variables)).toEqual(expect.arrayContaining(['USER_POOL_ID', 'INDEX_TABLE']));
    const copierPolicy = resourcesOf(primary, 'AWS::IAM::ManagedPolicy').find((p) => JSON.stringify(p.Properties.PolicyDocument).includes('AUTH#TOKEN-KEYS'))!;
    const copierStatements = JSON.stringify(copierPolicy.Properties.PolicyDocument);
    expect(copierStatements).toContain('"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["AUTH#TOKEN-KEYS"]}}');
    expect(copierStatements).not.toMatch(/s3:|sqs:|dynamodb:(Query|UpdateItem|DeleteItem)/);

    const replica = Template.fromStack(app.node.findChild('ServerlessPacsReplica') as Stack);
    const reader = resourcesOf(replica, 'AWS::Lambda::Function').find((f) => String(f.Properties.Description).startsWith('DICOMweb read API'))!;
    expect((reader.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({ INDEX_TABLE: 'serverless-pacs-index', DICOMWEB_BASE_PATH: '/dicomweb' });
    // Read-only: nothing in its policy writes, deletes or announces — but for the audit records of the reads it serves.
    const [readerPolicy] = resourcesOf(replica, 'AWS::IAM::ManagedPolicy').filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes('dynamodb:Query'));
    const readerStatements = (readerPolicy.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[]; Resource: unknown }> }).Statement;
    const actions = readerStatements.filter((st) => !JSON.stringify(st.Resource).includes('table/serverless-pacs-audit')).flatMap((st) => [st.Action].flat());
    expect(actions.filter((a) => !/^(s3:GetObject|kms:Decrypt|dynamodb:(GetItem|BatchGetItem|Query)|logs:(CreateLogStream|PutLogEvents)|xray:Put\w+)$/.test(a))).toEqual([]);
    const onAudit = readerStatements.filter((st) => JSON.stringify(st.Resource).includes('table/serverless-pacs-audit'));
    expect(onAudit.flatMap((st) => [st.Action].flat()).sort()).toEqual(['dynamodb:PutItem', 'dynamodb:Query']);
    const methods = resourcesOf(replica, 'AWS::ApiGateway::Method').filter((m) => m.Properties.HttpMethod !== 'OPTIONS');
    // DICOMweb's five methods, and the audit trail's read (GET, HEAD).
    expect(methods.map((m) => m.Properties.HttpMethod).sort()).toEqual(['DELETE', 'GET', 'GET', 'HEAD', 'HEAD', 'POST', 'PUT']);
  });

  it('bundles the DR read API under 1 MB, S3 loaded only on first use; it loads and answers nothing it cannot audit', async () => {
    const dir = join(work, 'replica-bundle');
    bundleHandler('lambdas/aws/handlers/dicomweb-replica.ts', dir);
    const chunks = readdirSync(dir).filter((f) => f.endsWith('.mjs'));
    expect(chunks.reduce((n, f) => n + statSync(join(dir, f)).size, 0)).toBeLessThan(1024 * 1024);
    // Token checks and searches need DynamoDB only.
    const s3 = chunksHolding(dir, 'ListObjectsV2');
    expect(s3.length).toBeGreaterThan(0);
    expect(loadedAtStart(dir).filter((f) => s3.includes(f))).toEqual([]);
    Object.assign(process.env, { ARCHIVE_BUCKET: 'b', INDEX_TABLE: 't', AUDIT_TABLE: 'a', AWS_REGION: 'eu-central-1' });
    const { handler } = (await import(join(dir, 'index.mjs'))) as { handler: (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string }> };
    const res = await handler(
      { resource: '/{proxy+}', path: '/dicomweb/studies', httpMethod: 'GET', headers: { Host: 'h' }, multiValueHeaders: {}, body: null, isBase64Encoded: false, requestContext: { path: '/prod/dicomweb/studies', stage: 'prod', httpMethod: 'GET', identity: {} } },
      {},
    );
    // Refused (401), and — with no DynamoDB here to take its audit record — answered 503 rather than unrecorded.
    expect(res.statusCode).toBe(503);
    expect(res.body).toMatch(/could not be recorded in the audit trail/);
  });

  it('puts a WAF web ACL made in us-east-1 in front of CloudFront; binary DICOM bodies are only counted, never blocked', () => {
    const app = new App({ outdir: join(work, 'waf'), context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = buildApp(app, DEFAULT_CONFIG);
    expect(noFindings(join(work, 'waf'))).toEqual([]);
    const edge = app.node.findChild('ServerlessPacsEdge') as Stack;
    expect(edge.region).toBe('us-east-1');
    const waf = Template.fromStack(edge);
    const [acl] = resourcesOf(waf, 'AWS::WAFv2::WebACL');
    expect(acl.Properties.Scope).toBe('CLOUDFRONT');
    const rules = acl.Properties.Rules as Array<{ Name: string; Statement: { ManagedRuleGroupStatement?: { RuleActionOverrides?: Array<{ Name: string }> }; RateBasedStatement?: { Limit: number } } }>;
    expect(rules.map((r) => r.Name)).toEqual(['AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesCommonRuleSet', 'RatePerAddress']);
    const counted = rules[2].Statement.ManagedRuleGroupStatement!.RuleActionOverrides!.map((o) => o.Name);
    expect(counted).toEqual(expect.arrayContaining(['SizeRestrictions_BODY', 'CrossSiteScripting_BODY', 'GenericLFI_BODY']));
    expect(rules[3].Statement.RateBasedStatement!.Limit).toBe(DEFAULT_CONFIG.wafRateLimit);
    waf.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', { RedactedFields: [{ SingleHeader: { Name: 'authorization' } }] });
    const [dist] = resourcesOf(Template.fromStack(stack), 'AWS::CloudFront::Distribution');
    expect((dist.Properties.DistributionConfig as { WebACLId?: unknown }).WebACLId).toBeDefined();
  });

  it('serves a custom domain with its certificate and TLS 1.2, and refuses a certificate outside us-east-1', () => {
    const app = new App({ outdir: join(work, 'domain'), context: { 'aws:cdk:bundling-stacks': [] } });
    const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-0000-4000-8000-000000000000';
    const { stack } = buildApp(app, { ...DEFAULT_CONFIG, domainName: 'pacs.example.org', certificateArn });
    const [dist] = resourcesOf(Template.fromStack(stack), 'AWS::CloudFront::Distribution');
    const config = dist.Properties.DistributionConfig as { Aliases: string[]; ViewerCertificate: Record<string, unknown> };
    expect(config.Aliases).toEqual(['pacs.example.org']);
    expect(config.ViewerCertificate).toMatchObject({ AcmCertificateArn: certificateArn, MinimumProtocolVersion: 'TLSv1.2_2021' });
    expect(() => configFromContext(new App({ context: { domainName: 'pacs.example.org', certificateArn: certificateArn.replace('us-east-1', 'eu-west-1') } }).node)).toThrow(/us-east-1/);
    expect(() => configFromContext(new App({ context: { domainName: 'pacs.example.org' } }).node)).toThrow(/go together/);
  });

  it('recovers in the DR region: the archive deployed over the replica bucket and the tables\' replicas there', () => {
    const outdir = join(work, 'restore');
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = buildApp(app, { ...DEFAULT_CONFIG, drRegion: 'eu-central-1', restoreFromReplica: true });
    expect(noFindings(outdir)).toEqual([]);
    expect(stack.stackName).toBe('ServerlessPacsRestored');
    expect(stack.region).toBe('eu-central-1');
    const template = Template.fromStack(stack);
    // Nothing that holds data is created: the bucket and both tables are the replicas already there.
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    expect(resourcesOf(template, 'AWS::S3::Bucket').filter((b) => b.Properties.LifecycleConfiguration && JSON.stringify(b.Properties).includes('GLACIER_IR'))).toEqual([]);
    const api = resourcesOf(template, 'AWS::Lambda::Function').find((f) => String(f.Properties.Description).startsWith('DICOMweb API'))!;
    const variables = (api.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.ARCHIVE_BUCKET).toBe('serverless-pacs-replica-123456789012-eu-central-1');
    expect(variables.INDEX_TABLE).toBe('serverless-pacs-index');
    expect(variables.AUDIT_TABLE).toBe('serverless-pacs-audit');
    // Bulk import is left out (its notifications would belong to the replica's stack).
    expect(resourcesOf(template, 'AWS::Lambda::Function').some((f) => String(f.Properties.Description).startsWith('Bulk import'))).toBe(false);
    expect(() => configFromContext(new App({ context: { restoreFromReplica: 'true' } }).node)).toThrow(/needs drRegion/);
  });

  it('names a second archive in the same account apart from the first (stacks, tables, replica)', () => {
    const app = new App({ outdir: join(work, 'named'), context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = buildApp(app, { ...DEFAULT_CONFIG, archiveName: 'pacs-staging', drRegion: 'eu-central-1' });
    expect(stack.stackName).toBe('PacsStaging');
    expect(app.node.tryFindChild('PacsStagingEdge')).toBeDefined();
    const tables = resourcesOf(Template.fromStack(stack), 'AWS::DynamoDB::GlobalTable').map((t) => t.Properties.TableName).sort();
    expect(tables).toEqual(['pacs-staging-ai-state', 'pacs-staging-audit', 'pacs-staging-index']);
    const replica = Template.fromStack(app.node.findChild('PacsStagingReplica') as Stack);
    replica.hasResourceProperties('AWS::S3::Bucket', { BucketName: 'pacs-staging-replica-123456789012-eu-central-1' });
    replica.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/pacs-staging-replica' });
    expect(() => configFromContext(new App({ context: { archiveName: 'Pacs_Staging' } }).node)).toThrow(/archiveName must be/);
  });

  it('refuses lifecycle ages S3 would refuse', () => {
    const app = new App({ context: { infrequentAccessAfterDays: 30, archiveAfterDays: 40 } });
    expect(() => configFromContext(app.node)).toThrow(/archiveAfterDays \(40\) must be at least/);
    expect(() => configFromContext(new App({ context: { apiReservedConcurrency: 'lots' } }).node)).toThrow(/apiReservedConcurrency/);
  });

  it('runs the DIMSE listener on the streaming tasks behind a TLS Network Load Balancer open only to the given networks', () => {
    const outdir = join(work, 'dimse');
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const certificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-0000-4000-8000-000000000001';
    const config = configFromContext(
      new App({ context: { dimseAllowedCidrs: '192.168.10.0/24,10.200.0.0/16', dimseCertificateArn: certificateArn, dimsePeers: 'PACS@192.168.10.5:104:find+dest,CT1@192.168.10.7:104:store', dimseForward: 'PACS=ai;PACS=modality:CT' } }).node,
    );
    const { stack } = buildApp(app, config);
    const template = Template.fromStack(stack);
    expect(noFindings(outdir)).toEqual([]);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internal' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Protocol: 'TLS', Port: 11112, Certificates: [{ CertificateArn: certificateArn }] });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Protocol: 'TCP', Port: 11112, TargetType: 'ip' });
    const groups = resourcesOf(template, 'AWS::EC2::SecurityGroup');
    const ingress = groups.flatMap((g) => (g.Properties.SecurityGroupIngress as Array<{ CidrIp?: string; FromPort?: number }> | undefined) ?? []);
    expect(ingress.filter((r) => r.FromPort === 11112 && r.CidrIp).map((r) => r.CidrIp).sort()).toEqual(['10.200.0.0/16', '192.168.10.0/24']);
    // The tasks may leave only over HTTPS and to the peers' addresses.
    const tasks = groups.find((g) => g.Properties.GroupDescription === 'Streaming runtime tasks')!;
    const egress = (tasks.Properties.SecurityGroupEgress as Array<{ CidrIp: string; FromPort: number }>).map((e) => `${e.CidrIp}:${e.FromPort}`).sort();
    expect(egress).toEqual(['0.0.0.0/0:443', '192.168.10.5/32:104', '192.168.10.7/32:104']);
    const [task] = resourcesOf(template, 'AWS::ECS::TaskDefinition');
    const server = (task.Properties.ContainerDefinitions as Array<{ Image: string; Environment: Array<{ Name: string; Value: unknown }>; PortMappings: Array<{ ContainerPort: number }> }>).find((c) => c.Image.includes('node'))!;
    const environment = Object.fromEntries(server.Environment.map((e) => [e.Name, e.Value]));
    expect(environment).toMatchObject({ DIMSE_PORT: '11112', DIMSE_AE_TITLE: 'CLOUDPACS', DIMSE_ACCEPT_UNKNOWN_CALLERS: 'false', DIMSE_FORWARD: 'PACS=ai;PACS=modality:CT' });
    expect(server.PortMappings.map((p) => p.ContainerPort).sort()).toEqual([11112, 8080]);
    const fifo = resourcesOf(template, 'AWS::SQS::Queue').filter((q) => q.Properties.FifoQueue && String(JSON.stringify(q)).includes('Forward'));
    expect(fifo.length).toBeGreaterThanOrEqual(1);
    template.hasOutput('DimseEndpoint', {});
    // The events queue's consumer (the AI pipeline's events function) queues what the rules match, AI results included.
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ DIMSE_FORWARD: 'PACS=ai;PACS=modality:CT', DIMSE_FORWARD_QUEUE_URL: Match.anyValue() }) } });
    expect(() => configFromContext(new App({ context: { dimseAllowedCidrs: '10.0.0.0/8' } }).node)).toThrow(/go together/);
    expect(() => configFromContext(new App({ context: { dimseAllowedCidrs: '0.0.0.0/0', dimseCertificateArn: certificateArn } }).node)).toThrow(/narrower/);
    expect(() => configFromContext(new App({ context: { dimseAllowedCidrs: '10.0.0.0/8', dimseCertificateArn: certificateArn, dimseForward: 'NOBODY=all' } }).node)).toThrow(/DIMSE_PEERS/);
  });

  it('runs no DIMSE listener by default', () => {
    const app = new App({ outdir: join(work, 'no-dimse'), context: { 'aws:cdk:bundling-stacks': [] } });
    const template = Template.fromStack(buildApp(app, DEFAULT_CONFIG).stack);
    expect(resourcesOf(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer').map((l) => l.Properties.Type ?? 'application')).toEqual(['application']);
  });
});
