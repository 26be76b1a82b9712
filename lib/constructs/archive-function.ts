// A Lambda function of the archive: bundled from lambdas/ by esbuild (ES modules split into chunks,
// minified, the AWS SDK inside, no Docker), arm64, traced, JSON logs in a KMS-encrypted log group, and a
// role whose only permissions are one customer-managed policy naming exact actions and resources: what
// its ArchiveAccess allows (in the primary region the archive's objects, index and events queue; in the
// DR region reading the replica), plus whatever the function adds.
import { AssetHashType, DockerImage, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { cpSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArchiveAccess } from './archive-access.js';

/** Bundled CommonJS dependencies still call require(). */
export const BUNDLE_BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export const repoFile = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export interface ArchiveFunctionProps {
  /** What it may do with the archive's data (readWriteAccess(storage) in the primary region). */
  access: ArchiveAccess;
  /** Handler module under lambdas/, exporting `handler`. */
  entry: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  reservedConcurrency: number;
  environment?: Record<string, string>;
  /** Permissions beyond the archive's own. */
  statements?: iam.PolicyStatement[];
  /** Acknowledgements for wildcard resources in `statements`, with the reason each is needed. */
  acknowledgements?: Array<{ id: string; reason: string }>;
  /** Files (repository paths) the code reads at run time, copied next to the bundle's index.mjs. */
  assetFiles?: string[];
  /** Directories copied beside the bundle (a node_modules of packages the code loads with require()), made only when bundling runs. */
  assetDirectories?: () => string[];
}

export class ArchiveFunction extends Construct {
  readonly function: lambda.Function;
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ArchiveFunctionProps) {
    super(scope, id);
    const { access } = props;
    const stack = Stack.of(this);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_YEAR, encryptionKey: access.logKey });
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: props.description });
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      statements: [
        ...access.statements,
        new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${logGroup.logGroupArn}:*`] }),
        new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] }),
        ...(props.statements ?? []),
      ],
    });
    role.addManagedPolicy(this.policy);
    Validations.of(this.policy).acknowledge(
      ...access.acknowledgements,
      { id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(logGroup.node.defaultChild as logs.CfnLogGroup)}.Arn>:*]`, reason: 'Lambda creates one log stream per execution environment, named at run time, in this one log group.' },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions.' },
      ...(props.acknowledgements ?? []),
    );
    this.function = new lambda.Function(this, 'Function', {
      code: lambdaCode(props.entry, props.assetFiles ?? [], props.assetDirectories),
      handler: 'index.handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      // The role's permissions are all in the managed policy above; nothing may add an inline policy.
      role: role.withoutPolicyUpdates(),
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { ...access.environment, ...props.environment },
    });
  }
}

/**
 * The function's code: its handler bundled by esbuild on this machine (no Docker) as ES modules with
 * code splitting, so that what is only imported dynamically (the SDK's credential providers other than
 * the environment's, which Lambda uses) is a chunk that a cold start never parses; then the files and
 * directories the code reads at run time beside it. Synthesis without bundling (the
 * `aws:cdk:bundling-stacks` context) skips all of this, as it does for NodejsFunction.
 */
function lambdaCode(entry: string, assetFiles: string[], assetDirectories?: () => string[]): lambda.Code {
  return lambda.Code.fromAsset(repoFile('lambdas'), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('unused-local-bundling-only'),
      // Unused by local bundling, but part of the staging cache key, which cannot see into tryBundle:
      // without it every function of a synth would get the first one's bundle.
      environment: { ENTRY: entry, ASSET_FILES: assetFiles.join(','), ASSET_DIRECTORIES: assetDirectories ? 'yes' : 'no' },
      local: {
        tryBundle(outputDir: string) {
          bundleHandler(entry, outputDir);
          for (const f of assetFiles) cpSync(repoFile(f), join(outputDir, basename(f)));
          for (const d of assetDirectories?.() ?? []) cpSync(d, join(outputDir, basename(d)), { recursive: true });
          return true;
        },
      },
    },
  });
}

/** Bundles a handler module (exporting `handler`) into `outdir`: index.mjs and its chunks. */
export function bundleHandler(entry: string, outdir: string): void {
  buildSync({
    entryPoints: { index: repoFile(entry) },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    // The SDK is bundled, not taken from the runtime: the version the tests ran, and a minified bundle
    // loads in about half the time of the runtime's node_modules copy (npm run bench:lambda).
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    sourcemap: true,
    mainFields: ['module', 'main'],
    banner: { js: BUNDLE_BANNER },
    tsconfig: repoFile('tsconfig.json'),
    logLevel: 'warning',
  });
}
