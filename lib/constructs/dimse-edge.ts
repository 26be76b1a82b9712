// The DIMSE edge on AWS: the streaming runtime's tasks also run the DIMSE listener (the same bundle),
// reached through a Network Load Balancer whose TLS listener (ACM certificate) admits only the networks
// given in context; forwarding jobs travel on an SQS FIFO queue with a dead-letter queue; the tasks may
// open connections only to the configured peers' addresses (C-MOVE destinations, forwarding targets).
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { isIP } from 'node:net';
import { parsePeers } from '../../lambdas/dimse/settings.js';
import type { DimseDeployment } from '../config.js';
import type { ArchiveStorage } from './archive-storage.js';
import type { StreamingRuntime } from './streaming-runtime.js';

export const DIMSE_PORT = 11112;

export interface DimseEdgeProps {
  streaming: StreamingRuntime;
  storage: ArchiveStorage;
  settings: DimseDeployment;
}

export class DimseEdge extends Construct {
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly forwardQueue?: sqs.Queue;
  readonly forwardDeadLetters?: sqs.Queue;

  constructor(scope: Construct, id: string, props: DimseEdgeProps) {
    super(scope, id);
    const { streaming, storage, settings } = props;
    const { server } = streaming;
    server.addPortMappings({ containerPort: DIMSE_PORT, protocol: ecs.Protocol.TCP });
    server.addEnvironment('DIMSE_PORT', String(DIMSE_PORT));
    server.addEnvironment('DIMSE_HOST', '0.0.0.0');
    server.addEnvironment('DIMSE_AE_TITLE', settings.aeTitle);
    server.addEnvironment('DIMSE_PEERS', settings.peers);
    server.addEnvironment('DIMSE_ACCEPT_UNKNOWN_CALLERS', 'false');

    const balancerGroup = new ec2.SecurityGroup(this, 'BalancerSecurityGroup', { vpc: streaming.vpc, allowAllOutbound: false, description: 'DIMSE load balancer: the hospital networks only' });
    for (const cidr of settings.allowedCidrs) balancerGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(DIMSE_PORT), 'DICOM TLS from a configured network');
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'Balancer', {
      vpc: streaming.vpc,
      internetFacing: settings.internetFacing,
      vpcSubnets: { subnetType: settings.internetFacing ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [balancerGroup],
      crossZoneEnabled: true,
      deletionProtection: true,
    });
    this.loadBalancer.logAccessLogs(storage.accessLogs, 'dimse');
    const listener = this.loadBalancer.addListener('DicomTls', {
      port: DIMSE_PORT,
      protocol: elbv2.Protocol.TLS,
      certificates: [elbv2.ListenerCertificate.fromArn(settings.certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
    });
    listener.addTargets('Tasks', {
      port: DIMSE_PORT,
      protocol: elbv2.Protocol.TCP,
      targets: [streaming.service.loadBalancerTarget({ containerName: server.containerName, containerPort: DIMSE_PORT })],
      healthCheck: { protocol: elbv2.Protocol.TCP, interval: Duration.seconds(15) },
      // Associations are long-lived: a stopping task lets them finish.
      deregistrationDelay: Duration.minutes(5),
    });
    streaming.taskSecurityGroup.addIngressRule(balancerGroup, ec2.Port.tcp(DIMSE_PORT), 'DIMSE from its load balancer');
    balancerGroup.addEgressRule(streaming.taskSecurityGroup, ec2.Port.tcp(DIMSE_PORT), 'DIMSE to the tasks');

    // The tasks call peers only at their configured addresses (never one a request names).
    for (const peer of parsePeers(settings.peers)) {
      if (isIP(peer.host) === 4) streaming.taskSecurityGroup.addEgressRule(ec2.Peer.ipv4(`${peer.host}/32`), ec2.Port.tcp(peer.port), `DIMSE to ${peer.aeTitle}`);
    }

    if (settings.forward) {
      this.forwardDeadLetters = new sqs.Queue(this, 'ForwardDeadLetters', { fifo: true, encryptionMasterKey: storage.key, retentionPeriod: Duration.days(14), enforceSSL: true });
      this.forwardQueue = new sqs.Queue(this, 'ForwardQueue', {
        fifo: true,
        encryptionMasterKey: storage.key,
        visibilityTimeout: Duration.minutes(10),
        enforceSSL: true,
        // The worker moves a job here itself after its last attempt; the redrive catches a task that died mid-job.
        deadLetterQueue: { queue: this.forwardDeadLetters, maxReceiveCount: 20 },
      });
      server.addEnvironment('DIMSE_FORWARD', settings.forward);
      server.addEnvironment('DIMSE_FORWARD_QUEUE_URL', this.forwardQueue.queueUrl);
      server.addEnvironment('DIMSE_FORWARD_DEAD_LETTER_URL', this.forwardDeadLetters.queueUrl);
      streaming.taskPolicy.addStatements(
        new iam.PolicyStatement({
          actions: ['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
          resources: [this.forwardQueue.queueArn, this.forwardDeadLetters.queueArn],
        }),
      );
    }
  }
}
