// Association negotiation (PS3.7 D.3.3, PS3.8 9.3): who may associate, and for each proposed presentation
// context whether it is accepted and in which transfer syntax.
import dcmjsDimse from 'dcmjs-dimse';
import { TransferSyntax, isKnownTransferSyntax } from '../dicom/transfer-syntax.js';
import type { DimsePeer, DimseSettings, PeerPermission } from './settings.js';

type Association = InstanceType<typeof dcmjsDimse.association.Association>;
const { PresentationContextResult, RejectReason, RejectResult, RejectSource, StorageClass } = dcmjsDimse.constants;

export const SopClass = {
  Verification: '1.2.840.10008.1.1',
  StorageCommitmentPushModel: '1.2.840.10008.1.20.1',
  PatientRootFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootGet: '1.2.840.10008.5.1.4.1.2.2.3',
} as const;

const QUERY_RETRIEVE: Readonly<Record<string, PeerPermission>> = {
  [SopClass.PatientRootFind]: 'find',
  [SopClass.StudyRootFind]: 'find',
  [SopClass.PatientRootMove]: 'move',
  [SopClass.StudyRootMove]: 'move',
  [SopClass.PatientRootGet]: 'get',
  [SopClass.StudyRootGet]: 'get',
};

const KNOWN_STORAGE = new Set<string>(Object.values(StorageClass as Record<string, string>));
/** Storage SOP classes outside the 1.2.840.10008.5.1.4.1.1 branch (PS3.4 B.5). */
const OTHER_STORAGE_ROOTS = ['1.2.840.10008.5.1.4.38.', '1.2.840.10008.5.1.4.39.', '1.2.840.10008.5.1.4.43.', '1.2.840.10008.5.1.4.44.', '1.2.840.10008.5.1.4.45.', '1.2.840.10008.5.1.4.34.'];

/** Every standard storage SOP class (and private ones: any abstract syntax outside the DICOM root). */
export function isStorageSopClass(uid: string): boolean {
  if (KNOWN_STORAGE.has(uid) || uid.startsWith('1.2.840.10008.5.1.4.1.1.')) return true;
  if (OTHER_STORAGE_ROOTS.some((root) => uid.startsWith(root))) return true;
  return !uid.startsWith('1.2.840.10008.') && /^[0-9]+(\.[0-9]+)+$/.test(uid);
}

/** Commands and query identifiers: the two uncompressed little endian syntaxes, explicit preferred. */
const COMMAND_SYNTAXES = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

export type Rejection = { result: number; source: number; reason: number; why: string };

/** What a calling AE may do: a known peer its listed rights, an unknown one (where allowed) everything. */
export function permissionsOf(callingAeTitle: string, settings: DimseSettings): { peer?: DimsePeer; may: ReadonlySet<PeerPermission> } | undefined {
  const peer = settings.peers.find((p) => p.aeTitle === callingAeTitle.trim());
  if (peer) return { peer, may: peer.may };
  return settings.acceptUnknownCallers ? { may: new Set<PeerPermission>(['store', 'find', 'move', 'get']) } : undefined;
}

/**
 * Decides the association: a rejection (A-ASSOCIATE-RJ) for a called AE title that is not this archive's
 * or a calling one it does not know (where unknown callers are refused); otherwise sets each presentation
 * context's result in place.
 */
export function negotiate(association: Association, settings: DimseSettings): Rejection | undefined {
  const called = association.getCalledAeTitle().trim();
  if (called !== settings.aeTitle) {
    return { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CalledAeNotRecognized, why: `called AE title "${called}" is not ${settings.aeTitle}` };
  }
  const calling = association.getCallingAeTitle().trim();
  const rights = permissionsOf(calling, settings);
  if (!rights) {
    return { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CallingAeNotRecognized, why: `calling AE title "${calling}" is not among DIMSE_PEERS` };
  }
  for (const context of association.getPresentationContexts()) {
    const pc = association.getPresentationContext(context.id);
    const abstractSyntax = pc.getAbstractSyntaxUid();
    const proposed = pc.getTransferSyntaxUids();
    const needs = requiredRight(abstractSyntax);
    if (needs === 'unsupported') {
      pc.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
      continue;
    }
    // A C-GET requester proposes storage contexts for the archive to send on (SCP role); storing needs no right then.
    const storingForGet = isStorageSopClass(abstractSyntax) && pc.getProviderRole?.() === true;
    if (needs !== 'none' && !storingForGet && !rights.may.has(needs)) {
      pc.setResult(PresentationContextResult.RejectUser);
      continue;
    }
    const syntax = isStorageSopClass(abstractSyntax) ? storageSyntax(proposed) : COMMAND_SYNTAXES.find((s) => proposed.includes(s));
    if (syntax) pc.setResult(PresentationContextResult.Accept, syntax);
    else pc.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
  }
  return undefined;
}

/** The right a peer needs to use a SOP class here (Verification needs none; storage commitment goes with storing). */
function requiredRight(abstractSyntax: string): PeerPermission | 'none' | 'unsupported' {
  if (abstractSyntax === SopClass.Verification) return 'none';
  const queryRetrieve = QUERY_RETRIEVE[abstractSyntax];
  if (queryRetrieve) return queryRetrieve;
  if (abstractSyntax === SopClass.StorageCommitmentPushModel || isStorageSopClass(abstractSyntax)) return 'store';
  return 'unsupported';
}

/** The syntax an instance is stored in as sent (no transcoding on ingest): the first proposed the archive reads, explicit VR over implicit. */
function storageSyntax(proposed: string[]): string | undefined {
  const storable = proposed.filter(isKnownTransferSyntax);
  const first = storable[0];
  if (first === TransferSyntax.ImplicitVRLittleEndian && storable.includes(TransferSyntax.ExplicitVRLittleEndian)) return TransferSyntax.ExplicitVRLittleEndian;
  return first;
}
