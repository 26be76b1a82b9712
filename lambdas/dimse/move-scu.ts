// C-MOVE's sub-operations (PS3.4 C.4.2.2): the archive associates with the destination as an SCU and sends
// each instance with C-STORE, naming the requester as the Move Originator; only AEs configured as
// destinations are ever called.
import type { DicomWebConfig } from '../dicomweb/config.js';
import type { StructuredLog } from '../logging.js';
import type { ArchiveStorage, StoredInstance } from '../storage/ports.js';
import { performSubOperations, retrieveStatus, subOperationData, type RetrieveCounts, type RetrieveOutcome } from './retrieve-scp.js';
import { AssociationRefused, ScuAssociation, UNCOMPRESSED, type ProposedContext } from './scu-association.js';
import type { DimsePeer, DimseSettings } from './settings.js';
import { DimseStatus } from './status.js';

export interface MoveContext {
  storage: ArchiveStorage;
  config: DicomWebConfig;
  settings: DimseSettings;
  log: StructuredLog;
  originator: { aeTitle: string; messageId: number };
  progress: (counts: RetrieveCounts) => void;
  cancelled: () => boolean;
}

export async function moveTo(destination: DimsePeer, instances: readonly StoredInstance[], context: MoveContext): Promise<RetrieveOutcome> {
  let association: ScuAssociation;
  try {
    association = await ScuAssociation.openTo(destination, context.settings, contextsFor(instances));
  } catch (e) {
    if (!(e instanceof AssociationRefused)) throw e;
    return { status: DimseStatus.SubOperationsOutOfResources, comment: `cannot associate with ${e.message}` };
  }
  try {
    const counts = await performSubOperations(
      instances,
      {
        prepare: (instance) => subOperationData(context.storage, context.config, instance, association.acceptedSyntaxes(instance.sopClassUID)),
        transmit: (dataset) => association.store(dataset, context.originator),
        notSent: (_instance, reason) => context.log('warn', 'C-MOVE sub-operation not sent', { destination: destination.aeTitle, reason }),
      },
      context.progress,
      context.cancelled,
    );
    return { status: retrieveStatus(counts), counts };
  } finally {
    await association.release();
  }
}

/**
 * What to propose to a destination: for each SOP class, a context per stored syntax (so that each instance
 * can go as stored) and one for the uncompressed syntaxes (so that it can go decompressed).
 */
export function contextsFor(instances: readonly StoredInstance[]): ProposedContext[] {
  const bySopClass = new Map<string, Set<string>>();
  for (const i of instances) bySopClass.set(i.sopClassUID, (bySopClass.get(i.sopClassUID) ?? new Set()).add(i.transferSyntaxUID));
  const contexts: ProposedContext[] = [];
  for (const [sopClass, stored] of bySopClass) {
    for (const syntax of stored) if (!(UNCOMPRESSED as readonly string[]).includes(syntax)) contexts.push({ abstractSyntax: sopClass, transferSyntaxes: [syntax] });
    contexts.push({ abstractSyntax: sopClass, transferSyntaxes: UNCOMPRESSED });
  }
  // An association holds at most 128 presentation contexts (odd IDs 1-255); instances past them fail as sub-operations.
  return contexts.slice(0, 128);
}
