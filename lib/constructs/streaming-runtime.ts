// The streaming runtime: the same DICOMweb application on a long-running Node server (ECS Fargate,
// arm64), for what Lambda cannot carry — request bodies above 4 MiB (up to 1 GiB) and retrievals of any
// size, streamed at full speed, and rendered images (it carries the image codecs, which the Lambda
// bundle does not). Deploying needs no Docker: the application is bundled by esbuild into one file,
// archived with the codec packages as an S3 asset, fetched by a stock AWS CLI image into a task volume
// and unpacked and run by a stock Node.js image. An internal load balancer, reachable only from inside the VPC, is CloudFront's
// VPC origin; tasks reach S3 and DynamoDB through gateway endpoints.
import { AssetHashType, BundlingOutput, DockerImage, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEALTH_CHECK_PATH } from '../../lambdas/aws/streaming/app.js';
import { archiveAccessAcknowledgements, archiveAccessStatements } from './archive-access.js';
import { BUNDLE_BANNER, repoFile } from './archive-function.js';
import { codecModules } from './codec-modules.js';
import type { ArchiveStorage } from './archive-storage.js';
import type { Auth } from './auth.js';

export interface StreamingRuntimeProps {
  storage: ArchiveStorage;
  auth: Auth;
  /** Largest STOW-RS request body accepted; beyond it the runtime answers 413. */
  maxRequestBytes: number;
  /** Tasks kept running; the service scales out on CPU up to `maxTasks`. */
  minTasks: number;
  maxTasks: number;
  basePath: string;
}

const PORT = 8080;
/** Where instances arriving are staged (a writable volume; the root file system is read-only). */
const STAGING_DIR = '/staging';
const APP_ARCHIVE = 'app.tgz';
/** The VPC's range, literal so that the load balancer's rule and its review name it. */
const VPC_CIDR = '10.40.0.0/16';
const NODE_IMAGE = 'public.ecr.aws/docker/library/node:24-bookworm-slim';
const AWS_CLI_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:latest';

export class StreamingRuntime extends Construct {
  readonly vpc: ec2.Vpc;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly service: ecs.FargateService;
  readonly taskPolicy: iam.ManagedPolicy;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The application's container, for settings known only once CloudFront exists (its public URL). */
  readonly server: ecs.ContainerDefinition;
  /** The tasks' security group: out only over HTTPS (images, AWS APIs) unless a feature opens more (DIMSE peers). */
  readonly taskSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: StreamingRuntimeProps) {
    super(scope, id);
    const { storage } = props;
    const stack = Stack.of(this);

    this.vpc = new ec2.Vpc(this, 'Network', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        // Tasks get a public address only to pull the public images; nothing can connect to them but the load balancer.
        { name: 'tasks', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'origin', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 }, DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
      restrictDefaultSecurityGroup: false,
    });
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_YEAR, encryptionKey: storage.key, removalPolicy: RemovalPolicy.RETAIN });
    const flowLogRole = new iam.Role(this, 'FlowLogRole', { assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com'), description: 'Writes the streaming VPC\'s flow logs' });
    const flowLogPolicy = new iam.ManagedPolicy(this, 'FlowLogPolicy', {
      roles: [flowLogRole],
      statements: [new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], resources: [flowLogs.logGroupArn, `${flowLogs.logGroupArn}:*`] })],
    });
    Validations.of(flowLogPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(flowLogs.node.defaultChild as logs.CfnLogGroup)}.Arn>:*]`,
      reason: 'VPC Flow Logs creates one log stream per network interface, named at run time, in this one log group.',
    });
    this.vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs, flowLogRole.withoutPolicyUpdates()), trafficType: ec2.FlowLogTrafficType.ALL });

    // The application, bundled on this machine (no Docker) into one ES module, with the image codec
    // packages it loads at run time beside it (WebAssembly builds found by require.resolve), as one .tgz.
    const bundle = new s3assets.Asset(this, 'Bundle', {
      path: repoFile('lambdas/aws/streaming'),
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        image: DockerImage.fromRegistry('unused-local-bundling-only'),
        outputType: BundlingOutput.SINGLE_FILE,
        local: {
          tryBundle(outputDir: string) {
            const staging = mkdtempSync(join(tmpdir(), 'streaming-'));
            buildSync({
              entryPoints: [repoFile('lambdas/aws/streaming/main.ts')],
              outfile: join(staging, 'index.mjs'),
              bundle: true,
              platform: 'node',
              format: 'esm',
              target: 'node22',
              minify: true,
              mainFields: ['module', 'main'],
              banner: { js: BUNDLE_BANNER },
              tsconfig: repoFile('tsconfig.json'),
              logLevel: 'warning',
            });
            cpSync(join(codecModules(), 'node_modules'), join(staging, 'node_modules'), { recursive: true });
            execFileSync('tar', ['czf', join(outputDir, APP_ARCHIVE), '-C', staging, '.']);
            rmSync(staging, { recursive: true, force: true });
            return true;
          },
        },
      },
    });

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: this.vpc, containerInsightsV2: ecs.ContainerInsights.ENHANCED });
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_YEAR, encryptionKey: storage.key, removalPolicy: RemovalPolicy.RETAIN });
    // Roles whose permissions are all in managed policies: nothing may add an inline policy.
    const executionRole = new iam.Role(this, 'ExecutionRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'), description: 'Starts the streaming runtime\'s tasks' });
    const executionPolicy = new iam.ManagedPolicy(this, 'ExecutionPolicy', {
      roles: [executionRole],
      statements: [new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${logGroup.logGroupArn}:*`] })],
    });
    const taskRole = new iam.Role(this, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'), description: 'The streaming runtime: DICOMweb over the archive' });
    this.taskPolicy = new iam.ManagedPolicy(this, 'TaskPolicy', {
      roles: [taskRole],
      statements: [
        ...archiveAccessStatements(storage),
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:${stack.partition}:s3:::${bundle.s3BucketName}/${bundle.s3ObjectKey}`] }),
        // De-identified exports run in these tasks and write their copies here.
        ...(storage.exports ? [new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [storage.exports.arnForObjects('*')] })] : []),
      ],
    });
    const logGroupId = stack.getLogicalId(logGroup.node.defaultChild as logs.CfnLogGroup);
    Validations.of(executionPolicy).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logGroupId}.Arn>:*]`, reason: 'ECS creates one log stream per task, named at run time, in this one log group.' });
    Validations.of(this.taskPolicy).acknowledge(
      ...archiveAccessAcknowledgements(storage),
      ...(storage.exports ? [{ id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(storage.exports.node.defaultChild as s3.CfnBucket)}.Arn>/*]`, reason: 'Each export writes under its own id, made when it is asked for.' }] : []),
    );

    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: 1024,
      memoryLimitMiB: 4096,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      executionRole: executionRole.withoutPolicyUpdates(),
      taskRole: taskRole.withoutPolicyUpdates(),
      // 'app' receives the archive, 'runtime' its unpacked contents, 'staging' instances while they arrive
      // (the root file system is read-only). All three are the task's ephemeral storage.
      volumes: [{ name: 'app' }, { name: 'runtime' }, { name: 'staging' }],
      // Instances above 32 MiB are staged on disk as they arrive (never held in memory): room for several
      // uploads at the request limit at once.
      ephemeralStorageGiB: Math.min(200, Math.max(21, Math.ceil((4 * props.maxRequestBytes) / 1024 ** 3) + 4)),
    });
    const logging = (prefix: string) => ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: prefix });
    const fetchApp = task.addContainer('FetchApp', {
      image: ecs.ContainerImage.fromRegistry(AWS_CLI_IMAGE),
      essential: false,
      command: ['s3', 'cp', bundle.s3ObjectUrl, `/app/${APP_ARCHIVE}`],
      logging: logging('fetch'),
    });
    fetchApp.addMountPoints({ containerPath: '/app', sourceVolume: 'app', readOnly: false });
    const server = (this.server = task.addContainer('Server', {
      image: ecs.ContainerImage.fromRegistry(NODE_IMAGE),
      command: ['sh', '-c', `tar xzf /app/${APP_ARCHIVE} -C /srv && exec node /srv/index.mjs`],
      portMappings: [{ containerPort: PORT }],
      logging: logging('server'),
      readonlyRootFilesystem: true,
      environment: {
        PORT: String(PORT),
        ARCHIVE_BUCKET: storage.archive.bucketName,
        INDEX_TABLE: storage.index.tableName,
        EVENTS_QUEUE_URL: storage.events.queueUrl,
        AUDIT_TABLE: storage.audit.tableName,
        AUDIT_SOURCE_ID: storage.auditSourceId,
        ...(storage.exports ? { EXPORTS_BUCKET: storage.exports.bucketName } : {}),
        USER_POOL_ID: props.auth.userPool.userPoolId,
        DICOMWEB_BASE_PATH: props.basePath,
        MAX_REQUEST_BYTES: String(props.maxRequestBytes),
        MAX_INSTANCE_BYTES: String(props.maxRequestBytes),
        STAGING_DIR,
        NODE_OPTIONS: '--max-old-space-size=3072',
        // Frame-decoding worker threads each get a malloc arena otherwise, and memory freed in them stays with
        // the process (the fuzzer measured 295-370 MB idle with two arenas, 355-530 MB without).
        MALLOC_ARENA_MAX: '2',
        // Buffers over 128 KiB (frames, instances) are mapped and unmapped on their own rather than carved
        // from the heap, where glibc's sliding threshold let them stay after use (heap 155 MB idle vs 43 MB).
        MALLOC_MMAP_THRESHOLD_: '131072',
        CACHE_SCOPE: 'private',
      },
      healthCheck: { command: ['CMD-SHELL', `node -e "fetch('http://127.0.0.1:${PORT}${HEALTH_CHECK_PATH}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"`], interval: Duration.seconds(30), startPeriod: Duration.seconds(30) },
    }));
    server.addMountPoints(
      { containerPath: '/app', sourceVolume: 'app', readOnly: true },
      { containerPath: '/srv', sourceVolume: 'runtime', readOnly: false },
      { containerPath: STAGING_DIR, sourceVolume: 'staging', readOnly: false },
    );
    server.addContainerDependencies({ container: fetchApp, condition: ecs.ContainerDependencyCondition.SUCCESS });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Origin', {
      vpc: this.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      deletionProtection: true,
      dropInvalidHeaderFields: true,
      // Long uploads from slow links: the idle timeout, not the request's length, ends a connection.
      idleTimeout: Duration.minutes(5),
    });
    this.loadBalancer.logAccessLogs(storage.accessLogs, 'streaming-origin');
    // CloudFront's VPC origin reaches the load balancer from inside the VPC; nothing else can.
    this.loadBalancer.connections.allowFrom(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(80), 'CloudFront VPC origin');
    this.taskSecurityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', { vpc: this.vpc, allowAllOutbound: false, description: 'Streaming runtime tasks' });
    this.taskSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: the public images, AWS APIs and the gateway endpoints');
    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      securityGroups: [this.taskSecurityGroup],
      taskDefinition: task,
      desiredCount: props.minTasks,
      assignPublicIp: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100,
      enableExecuteCommand: false,
    });
    const listener = this.loadBalancer.addListener('Http', { port: 80, open: false });
    this.targetGroup = listener.addTargets('Tasks', {
      port: PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: { path: HEALTH_CHECK_PATH, healthyHttpCodes: '200', interval: Duration.seconds(15) },
      deregistrationDelay: Duration.minutes(2),
    });
    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minTasks, maxCapacity: props.maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
    // Network throughput is what large transfers use up; scale on requests in flight too.
    scaling.scaleOnMetric('Connections', {
      metric: this.loadBalancer.metrics.activeConnectionCount({ period: Duration.minutes(1) }),
      scalingSteps: [
        { upper: 20, change: 0 },
        { lower: 20, change: +1 },
        { lower: 60, change: +2 },
      ],
    });

    Validations.of(task).acknowledge(
      { id: 'AwsSolutions-ECS2', reason: 'The environment holds resource names and limits, no secrets; the task reads data with its role.' },
    );
    Validations.of(this.loadBalancer).acknowledge(
      { id: 'HIPAA.Security-ELBTlsHttpsListenersOnly', reason: 'Internal load balancer reached only by CloudFront\'s VPC origin over the AWS network inside this VPC; viewers connect to CloudFront with TLS. A certificate would need a domain the deployment may not have.' },
      { id: 'HIPAA.Security-ELBv2ACMCertificateRequired', reason: 'Internal load balancer behind CloudFront\'s VPC origin; an ACM certificate needs a domain name the deployment may not have. TLS ends at CloudFront.' },
      { id: 'HIPAA.Security-ALBHttpToHttpsRedirection', reason: 'Internal load balancer reached only by CloudFront\'s VPC origin; TLS ends at CloudFront.' },
    );
    Validations.of(this.vpc).acknowledge(
      { id: 'HIPAA.Security-VPCNoUnrestrictedRouteToIGW', reason: 'The tasks\' subnets route to the internet gateway to pull the public Node.js and AWS CLI images; the tasks\' security group admits only the load balancer.' },
      { id: 'HIPAA.Security-VPCDefaultSecurityGroupClosed', reason: 'Nothing in this VPC uses the default security group; closing it needs a custom-resource function of its own.' },
    );
  }
}
