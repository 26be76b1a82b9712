// The disaster-recovery region's stack: the archive replica (the DynamoDB replica belongs to the
// primary stack's global table).
import { Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { ArchiveNames } from './constructs/names.js';
import { ArchiveReplica } from './constructs/replica.js';

export class PacsReplicaStack extends Stack {
  readonly replica: ArchiveReplica;

  constructor(scope: Construct, id: string, props: StackProps & { names: ArchiveNames }) {
    super(scope, id, props);
    this.replica = new ArchiveReplica(this, 'Archive', { names: props.names });
  }
}
