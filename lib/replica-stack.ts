// The disaster-recovery region's stack: the archive replica (the DynamoDB replica belongs to the
// primary stack's global table) and the read API that CloudFront fails reads over to.
import { Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { ArchiveNames } from './constructs/names.js';
import { ArchiveReplica } from './constructs/replica.js';
import { ReplicaReadApi } from './constructs/replica-read-api.js';

export interface PacsReplicaStackProps extends StackProps {
  names: ArchiveNames;
  basePath: string;
  /** Reserved concurrency of the read API's function. */
  readApiConcurrency: number;
}

export class PacsReplicaStack extends Stack {
  readonly replica: ArchiveReplica;
  readonly readApi: ReplicaReadApi;

  constructor(scope: Construct, id: string, props: PacsReplicaStackProps) {
    // The primary stack names the read API's address through CDK's cross-region references.
    super(scope, id, { ...props, crossRegionReferences: true });
    this.replica = new ArchiveReplica(this, 'Archive', { names: props.names });
    this.readApi = new ReplicaReadApi(this, 'ReadApi', { replica: this.replica, names: props.names, basePath: props.basePath, reservedConcurrency: props.readApiConcurrency });
  }
}
