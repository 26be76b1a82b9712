// One association with the archive as service class provider: dcmjs-dimse reads and writes the PDUs and
// DIMSE messages; this class decides the association and answers each service over the archive's ports.
import dcmjs from 'dcmjs';
import dcmjsDimse from 'dcmjs-dimse';
import type { Socket } from 'node:net';
import { jsonToDataSet } from '../dicom/json-part10.js';
import type { DicomJson } from '../dicom/json-model.js';
import { Tag, tagToHex } from '../dicom/tags.js';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { DimseAuditTrail, dimseOutcome, type DimsePeer } from '../governance/audit/dimse-audit.js';
import { StudyPatients, type AuditedStudy } from '../governance/audit/study-patients.js';
import type { StructuredLog } from '../logging.js';
import type { ArchiveStorage } from '../storage/ports.js';
import { DatasetCollector, EncodedDataset, ReceivedDataset } from './encoded-dataset.js';
// dcmjs-dimse writes P-DATA-TF PDUs through our writer from here on (pdata-writer.ts).
import './pdata-writer.js';
import { FindRefusal, findAnswers, type QueryModel } from './find-scp.js';
import { moveTo } from './move-scu.js';
import { instancesToRetrieve, performSubOperations, retrieveStatus, subOperationData, type RetrieveCounts, type RetrieveOutcome } from './retrieve-scp.js';
import { SopClass, negotiate } from './negotiation.js';
import { ScuAssociation, UNCOMPRESSED, responseStatus } from './scu-association.js';
import { CommitmentRefusal, STORAGE_COMMITMENT_INSTANCE, commitmentResult, parseCommitmentRequest, type CommitmentRequest } from './storage-commitment.js';
import type { DimseSettings } from './settings.js';
import { DimseStatus, errorComment, type DimseOutcome } from './status.js';
import { requestedCharacterSet } from './request-charset.js';
import { storeReceived } from './store-scp.js';

const { Scp } = dcmjsDimse;
/** dcmjs-dimse hands identifiers over decoded by dcmjs ("naturalized"); dcmjs turns them back into DICOM JSON. */
const { DicomMetaDictionary } = (dcmjs as { data: { DicomMetaDictionary: { denaturalizeDataset(elements: Record<string, unknown>): DicomJson } } }).data;
const { CEchoResponse, CFindResponse, CGetResponse, CMoveResponse, CStoreResponse, NActionResponse } = dcmjsDimse.responses;
const { CStoreRequest: StoreRequest, NEventReportRequest } = dcmjsDimse.requests;
const { RejectReason, RejectResult, RejectSource } = dcmjsDimse.constants;
type Association = InstanceType<typeof dcmjsDimse.association.Association>;
type PresentationContext = InstanceType<typeof dcmjsDimse.association.PresentationContext>;
type Requests = typeof dcmjsDimse.requests;
type CFindRequest = InstanceType<Requests['CFindRequest']>;
type CStoreRequest = InstanceType<Requests['CStoreRequest']>;
type CEchoRequest = InstanceType<Requests['CEchoRequest']>;
type CCancelRequest = InstanceType<Requests['CCancelRequest']>;
type CGetRequest = InstanceType<Requests['CGetRequest']>;
type CMoveRequest = InstanceType<Requests['CMoveRequest']>;
type RetrieveRequest = CGetRequest | CMoveRequest;
type NActionRequest = InstanceType<Requests['NActionRequest']>;
type RetrieveResponse = InstanceType<typeof CGetResponse> | InstanceType<typeof CMoveResponse>;
type Response = InstanceType<typeof dcmjsDimse.responses.Response>;

export interface ScpContext {
  storage: ArchiveStorage;
  config: DicomWebConfig;
  settings: DimseSettings;
  log: StructuredLog;
}

const FIND_MODELS: Readonly<Record<string, QueryModel>> = { [SopClass.PatientRootFind]: 'patient', [SopClass.StudyRootFind]: 'study' };
const GET_MODELS: Readonly<Record<string, QueryModel>> = { [SopClass.PatientRootGet]: 'patient', [SopClass.StudyRootGet]: 'study' };
const MOVE_MODELS: Readonly<Record<string, QueryModel>> = { [SopClass.PatientRootMove]: 'patient', [SopClass.StudyRootMove]: 'study' };
const FAILED_SOP_INSTANCE_UID_LIST = '00080058';

/** What a C-GET or C-MOVE sends, for its audit records: the studies, and a C-MOVE's destination. */
interface Transfer {
  studies: string[];
  destination?: DimsePeer;
}

/** A retrieve whose start could not be recorded is not carried out (nothing is sent). */
const NOT_RECORDED: RetrieveOutcome = { status: DimseStatus.SubOperationsOutOfResources, comment: 'the retrieve could not be recorded in the audit trail' };

export class ArchiveScp extends Scp {
  /** C-FINDs, C-GETs and C-MOVEs under way, by message ID, so that a C-CANCEL can stop them. */
  private readonly cancelled = new Map<number, boolean>();
  /** Set once the requester asked to release: nothing more is sent on the association. */
  private released = false;
  /** Every C-STORE, C-FIND, C-GET and C-MOVE is recorded (governance/audit). */
  private readonly audit: DimseAuditTrail;

  constructor(
    private readonly connection: Socket,
    private readonly context: ScpContext,
    /** Set when the listener is at its association limit: the association is rejected as transient. */
    private readonly overLimit: boolean,
  ) {
    super(connection, { associationTimeout: context.settings.associationTimeoutMs, pduTimeout: context.settings.idleTimeoutMs, connectTimeout: context.settings.idleTimeoutMs });
    this.audit = new DimseAuditTrail(
      { log: context.storage.audit, sourceID: context.config.auditSourceId, patients: new StudyPatients(context.storage.index), errors: context.log },
      () => ({ aeTitle: this.peer, ...(connection.remoteAddress ? { address: connection.remoteAddress } : {}) }),
    );
    // Nagle's algorithm delays each small response behind the peer's delayed ACK (about 20 times slower C-STOREs).
    connection.setNoDelay(true);
    // dcmjs-dimse starts its association timer on 'connect', which an accepted socket never emits.
    Object.assign(this, { connected: true, connectedTime: Date.now() });
    this.on('networkError', (e: Error) => {
      context.log('warn', 'DIMSE connection ended on an error', { peer: connection.remoteAddress, error: e.message });
      connection.destroy();
    });
  }

  private get peer(): string {
    const association = (this as unknown as { association?: Association }).association;
    return association?.getCallingAeTitle().trim() ?? '(no association)';
  }

  override associationRequested(association: Association): void {
    if (this.overLimit) {
      this.context.log('warn', 'DIMSE association rejected: too many at once', { calling: association.getCallingAeTitle(), limit: this.context.settings.maxAssociations });
      this.sendAssociationReject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded);
      return;
    }
    const rejection = negotiate(association, this.context.settings);
    if (rejection) {
      this.context.log('warn', 'DIMSE association rejected', { calling: association.getCallingAeTitle(), reason: rejection.why });
      this.sendAssociationReject(rejection.result, rejection.source, rejection.reason);
      return;
    }
    this.sendAssociationAccept();
  }

  override associationReleaseRequested(): void {
    this.released = true;
    this.sendAssociationReleaseResponse();
  }

  /** Storage Commitment (N-ACTION, action type 1): answered at once; the report follows as N-EVENT-REPORT. */
  override nActionRequest(request: NActionRequest, callback: (response: InstanceType<typeof NActionResponse>) => void): void {
    const response = NActionResponse.fromRequest(request);
    let commitment: CommitmentRequest | undefined;
    try {
      if (request.getRequestedSopClassUid() !== SopClass.StorageCommitmentPushModel) throw new CommitmentRefusal(DimseStatus.SOPClassNotSupported, 'N-ACTION is served for Storage Commitment Push Model only');
      if (request.getActionTypeId() !== 1) throw new CommitmentRefusal(DimseStatus.NoSuchActionType, `action type ${request.getActionTypeId()} is not Request Storage Commitment (1)`);
      commitment = parseCommitmentRequest(this.identifierOf(request));
      respond(response, { status: DimseStatus.Success });
    } catch (e) {
      if (!(e instanceof CommitmentRefusal)) throw e;
      respond(response, { status: e.status, comment: e.message });
    }
    callback(response);
    const syntax = request.getDataset()?.getTransferSyntaxUid() ?? '1.2.840.10008.1.2';
    if (commitment) this.reportCommitment(commitment, syntax).catch((e: unknown) => this.context.log('error', 'storage commitment not reported', { calling: this.peer, error: String(e) }));
  }

  /**
   * N-EVENT-REPORT to a requester with an address in DIMSE_PEERS over a new association (asynchronously,
   * as IHE RAD-10 and most SCUs expect: they release once their N-ACTION is answered); to one without an
   * address on this association, if it is still open (PS3.4 J.3.3).
   */
  private async reportCommitment(commitment: CommitmentRequest, syntax: string): Promise<void> {
    const { eventTypeId, dataset } = await commitmentResult(this.context.storage, commitment, this.context.settings.aeTitle);
    const report = (ts: string) => {
      const request = new NEventReportRequest(SopClass.StorageCommitmentPushModel, STORAGE_COMMITMENT_INSTANCE, eventTypeId);
      request.setDataset(new EncodedDataset([jsonToDataSet(dataset, ts)], ts));
      return request;
    };
    const peer = this.context.settings.peers.find((p) => p.aeTitle === this.peer);
    if (!peer) {
      const status = this.released ? DimseStatus.ProcessingFailure : await responseStatus(this, this.connection, report(syntax));
      if (status === DimseStatus.ProcessingFailure) {
        this.context.log('warn', 'storage commitment not reported: the association ended and the requester has no address in DIMSE_PEERS', { calling: this.peer, transactionUID: commitment.transactionUID });
      }
      return;
    }
    const association = await ScuAssociation.openTo(peer, this.context.settings, [{ abstractSyntax: SopClass.StorageCommitmentPushModel, transferSyntaxes: UNCOMPRESSED, scpRole: true }]);
    try {
      const [accepted] = association.acceptedSyntaxes(SopClass.StorageCommitmentPushModel);
      if (!accepted) throw new Error(`${peer.aeTitle} accepted no Storage Commitment context`);
      await association.send(report(accepted));
    } finally {
      await association.release();
    }
  }

  override cEchoRequest(request: CEchoRequest, callback: (response: InstanceType<typeof CEchoResponse>) => void): void {
    const response = CEchoResponse.fromRequest(request);
    response.setStatus(DimseStatus.Success);
    callback(response);
  }

  override createStoreWritableStream(): DatasetCollector {
    return new DatasetCollector(this.context.config.maxInstanceBytes);
  }

  override createDatasetFromStoreWritableStream(writable: DatasetCollector, context: PresentationContext, callback: (dataset: ReceivedDataset) => void): void {
    callback(new ReceivedDataset(writable, context.getAcceptedTransferSyntaxUid()!));
  }

  override cStoreRequest(request: CStoreRequest, callback: (response: InstanceType<typeof CStoreResponse>) => void): void {
    const dataset = request.getDataset() as ReceivedDataset;
    const answer = (outcome: DimseOutcome) => {
      const response = CStoreResponse.fromRequest(request);
      respond(response, outcome);
      callback(response);
    };
    storeReceived(this.context.storage, this.context.config, {
      sopClassUID: request.getAffectedSopClassUid(),
      sopInstanceUID: request.getAffectedSopInstanceUid(),
      transferSyntaxUID: dataset.getTransferSyntaxUid(),
      parts: dataset.parts,
      received: dataset.received,
      overflowed: dataset.overflowed,
      callingAeTitle: this.peer,
    })
      .catch((e: unknown): DimseOutcome & { study?: AuditedStudy } => {
        this.context.log('error', 'C-STORE failed', { calling: this.peer, sopInstanceUID: request.getAffectedSopInstanceUid(), error: String(e), stack: (e as Error).stack });
        return { status: DimseStatus.ProcessingFailure, comment: 'the archive could not store the instance' };
      })
      .then(async (outcome): Promise<DimseOutcome> => {
        const recorded = await this.audit.stored(dimseOutcome(outcome.status, outcome.comment), outcome.study);
        return recorded ? outcome : { status: DimseStatus.OutOfResources, comment: 'not recorded in the audit trail; send it again' };
      })
      .then(answer)
      .catch((e: unknown) => this.fail('C-STORE answer', e));
  }

  override cFindRequest(request: CFindRequest, callback: (responses: Response[]) => void): void {
    const messageId = request.getMessageId();
    this.cancelled.set(messageId, false);
    const final = (outcome: DimseOutcome) => {
      this.cancelled.delete(messageId);
      const response = CFindResponse.fromRequest(request);
      response.setAffectedSopClassUid(request.getAffectedSopClassUid());
      respond(response, outcome);
      callback([response]);
    };
    const audited = { recorded: false };
    this.find(request, audited)
      .catch((e: unknown): DimseOutcome => this.refusal('C-FIND', e))
      .then(async (outcome): Promise<DimseOutcome> => {
        // Recorded before the first match left; a search without matches, or refused, is recorded now.
        if (audited.recorded || (await this.audit.searched(request.getAffectedSopClassUid(), this.identifierOf(request), dimseOutcome(outcome.status, outcome.comment)))) return outcome;
        return outcome.status === DimseStatus.Success ? { status: DimseStatus.OutOfResources, comment: 'the search could not be recorded in the audit trail' } : outcome;
      })
      .then(final)
      .catch((e: unknown) => this.fail('C-FIND answer', e));
  }

  override cGetRequest(request: CGetRequest, callback: (responses: InstanceType<typeof CGetResponse>[]) => void): void {
    this.runRetrieve('C-GET', request, (transfer) => this.get(request, transfer), (response) => callback([response as InstanceType<typeof CGetResponse>]));
  }

  override cMoveRequest(request: CMoveRequest, callback: (responses: InstanceType<typeof CMoveResponse>[]) => void): void {
    this.runRetrieve('C-MOVE', request, (transfer) => this.move(request, transfer), (response) => callback([response as InstanceType<typeof CMoveResponse>]));
  }

  private runRetrieve(service: 'C-GET' | 'C-MOVE', request: RetrieveRequest, work: (transfer: Transfer) => Promise<RetrieveOutcome>, final: (response: RetrieveResponse) => void): void {
    const messageId = request.getMessageId();
    this.cancelled.set(messageId, false);
    const transfer: Transfer = { studies: [] };
    work(transfer)
      .catch((e: unknown): RetrieveOutcome => this.refusal(service, e))
      .then(async (outcome) => {
        this.cancelled.delete(messageId);
        // Refused before its instances were looked up: the studies its identifier names.
        if (!transfer.studies.length) transfer.studies = identifierStudies(this.identifierOf(request));
        const counts = outcome.counts ? ` (${outcome.counts.completed} sent, ${outcome.counts.failed} failed, ${outcome.counts.warning} with warnings)` : '';
        // Data already sent cannot be called back: a record that fails here is in the error log, the begin record in the trail.
        await this.audit.transferred(service, transfer.studies, dimseOutcome(outcome.status, `${outcome.comment ?? ''}${counts}`.trim()), transfer.destination);
        final(this.retrieveResponse(request, outcome, true));
      })
      .catch((e: unknown) => this.fail(`${service} answer`, e));
  }

  /** C-MOVE: the instances sent over a new association to a known destination, with the progress reported here. */
  private async move(request: CMoveRequest, transfer: Transfer): Promise<RetrieveOutcome> {
    const model = MOVE_MODELS[request.getAffectedSopClassUid()];
    if (!model) return { status: DimseStatus.SOPClassNotSupported, comment: 'C-MOVE is served for the Patient Root and Study Root models' };
    const destinationTitle = String(request.getCommandDataset().getElement('MoveDestination') ?? '').trim();
    const destination = this.context.settings.peers.find((p) => p.aeTitle === destinationTitle && p.destination);
    if (!destination) return { status: DimseStatus.MoveDestinationUnknown, comment: `move destination "${destinationTitle}" is not a destination in DIMSE_PEERS` };
    transfer.destination = { aeTitle: destination.aeTitle, address: destination.host };
    const instances = await instancesToRetrieve(this.context.storage, this.context.config, { model, identifier: this.identifierOf(request), aeTitle: this.context.settings.aeTitle });
    if (instances.length === 0) return { status: DimseStatus.Success, counts: { remaining: 0, completed: 0, failed: 0, warning: 0, failedSopInstanceUIDs: [] } };
    if (!(await this.beginTransfer('C-MOVE', instances, transfer))) return NOT_RECORDED;
    return moveTo(destination, instances, {
      storage: this.context.storage,
      config: this.context.config,
      settings: this.context.settings,
      log: this.context.log,
      originator: { aeTitle: this.peer, messageId: request.getMessageId() },
      progress: this.reportProgress(request),
      cancelled: this.cancellation(request),
    });
  }

  /** C-GET: each instance sent back on this association with C-STORE, in a syntax the requester accepted for it. */
  private async get(request: CGetRequest, transfer: Transfer): Promise<RetrieveOutcome> {
    const model = GET_MODELS[request.getAffectedSopClassUid()];
    if (!model) return { status: DimseStatus.SOPClassNotSupported, comment: 'C-GET is served for the Patient Root and Study Root models' };
    const instances = await instancesToRetrieve(this.context.storage, this.context.config, { model, identifier: this.identifierOf(request), aeTitle: this.context.settings.aeTitle });
    if (instances.length && !(await this.beginTransfer('C-GET', instances, transfer))) return NOT_RECORDED;
    const counts = await performSubOperations(
      instances,
      {
        prepare: (instance) => subOperationData(this.context.storage, this.context.config, instance, this.acceptedSyntaxes(instance.sopClassUID)),
        transmit: (dataset) => responseStatus(this, this.connection, new StoreRequest(dataset)),
        notSent: (_instance, reason) => this.context.log('warn', 'C-GET sub-operation not sent', { calling: this.peer, reason }),
      },
      this.reportProgress(request),
      this.cancellation(request),
    );
    return { status: retrieveStatus(counts), counts };
  }

  /** Records the transfer's start (its studies kept for its end record); false if the record could not be written. */
  private beginTransfer(service: 'C-GET' | 'C-MOVE', instances: readonly { studyInstanceUID: string }[], transfer: Transfer): Promise<boolean> {
    transfer.studies = [...new Set(instances.map((i) => i.studyInstanceUID))];
    return this.audit.transferBegins(service, transfer.studies, transfer.destination);
  }

  /** A pending C-GET or C-MOVE response with the counts so far, after each sub-operation. */
  private reportProgress(request: RetrieveRequest): (counts: RetrieveCounts) => void {
    return (counts) => this.sendResponse(request, this.retrieveResponse(request, { status: DimseStatus.Pending, counts }, false));
  }

  /** Whether to stop: the requester sent C-CANCEL, or went away. */
  private cancellation(request: RetrieveRequest): () => boolean {
    return () => this.cancelled.get(request.getMessageId()) === true || this.connection.destroyed;
  }

  /** The transfer syntaxes accepted on this association for a SOP class (the requester's storage contexts). */
  private acceptedSyntaxes(sopClassUID: string): string[] {
    const association = (this as unknown as { association: Association }).association;
    return association
      .getPresentationContexts()
      .map(({ id }) => association.getPresentationContext(id))
      .filter((pc) => pc.getAbstractSyntaxUid() === sopClassUID && pc.getResult() === dcmjsDimse.constants.PresentationContextResult.Accept)
      .map((pc) => pc.getAcceptedTransferSyntaxUid()!);
  }

  /** A C-GET (or C-MOVE) response: counts on pending and final answers, failed instances listed at the end. */
  private retrieveResponse(request: RetrieveRequest, outcome: RetrieveOutcome, final: boolean): RetrieveResponse {
    const response = request instanceof dcmjsDimse.requests.CMoveRequest ? CMoveResponse.fromRequest(request) : CGetResponse.fromRequest(request);
    response.setAffectedSopClassUid(request.getAffectedSopClassUid());
    respond(response, outcome);
    const counts = outcome.counts;
    if (counts) {
      if (!final || outcome.status === DimseStatus.Cancel) response.setRemaining(counts.remaining);
      response.setCompleted(counts.completed);
      response.setFailures(counts.failed);
      response.setWarnings(counts.warning);
      if (final && counts.failedSopInstanceUIDs.length) {
        const syntax = request.getDataset()?.getTransferSyntaxUid() ?? '1.2.840.10008.1.2';
        response.setDataset(new EncodedDataset([jsonToDataSet({ [FAILED_SOP_INSTANCE_UID_LIST]: { vr: 'UI', Value: counts.failedSopInstanceUIDs } }, syntax)], syntax));
      }
    }
    return response;
  }

  private identifierOf(request: CFindRequest | RetrieveRequest | NActionRequest): DicomJson {
    return DicomMetaDictionary.denaturalizeDataset(request.getDataset()?.getElements() ?? {});
  }

  /** A request the archive could not carry out: its refusal status, or Unable to Process for a failure of its own (logged). */
  private refusal(service: string, e: unknown): RetrieveOutcome {
    if (e instanceof FindRefusal) return { status: e.status, comment: e.message };
    this.context.log('error', `${service} failed`, { calling: this.peer, error: String(e), stack: (e as Error).stack });
    return { status: DimseStatus.UnableToProcess, comment: `the archive could not carry out the ${service}` };
  }

  override cCancelRequest(request: CCancelRequest): void {
    const id = request.getMessageIdBeingRespondedTo();
    if (this.cancelled.has(id)) this.cancelled.set(id, true);
  }

  /** Sends a pending response per match; ends with Cancel if the requester cancelled, else Success. */
  private async find(request: CFindRequest, audited: { recorded: boolean }): Promise<DimseOutcome> {
    const model = FIND_MODELS[request.getAffectedSopClassUid()];
    if (!model) return { status: DimseStatus.SOPClassNotSupported, comment: `C-FIND is served for the Patient Root and Study Root models` };
    const syntax = request.getDataset()?.getTransferSyntaxUid() ?? '1.2.840.10008.1.2';
    const identifier = this.identifierOf(request);
    const socket = this.connection;
    const characterSet = requestedCharacterSet(request.getDataset(), syntax !== '1.2.840.10008.1.2');
    for await (const answer of findAnswers(this.context.storage, this.context.config, { model, identifier, aeTitle: this.context.settings.aeTitle, ...(characterSet ? { characterSet } : {}) })) {
      if (this.cancelled.get(request.getMessageId())) return { status: DimseStatus.Cancel };
      if (socket.destroyed) return { status: DimseStatus.Cancel };
      if (!audited.recorded) {
        if (!(await this.audit.searched(request.getAffectedSopClassUid(), identifier, dimseOutcome(DimseStatus.Success)))) return { status: DimseStatus.OutOfResources, comment: 'the search could not be recorded in the audit trail' };
        audited.recorded = true;
      }
      const pending = CFindResponse.fromRequest(request);
      pending.setAffectedSopClassUid(request.getAffectedSopClassUid());
      pending.setStatus(DimseStatus.Pending);
      pending.setDataset(new EncodedDataset([jsonToDataSet(answer.attributes, syntax, answer.charset)], syntax));
      // The library's callback answers once: pending answers go out as they are found, the final one through it.
      this.sendResponse(request, pending);
      // Matches are read from the index as the requester takes them, never all queued in memory.
      if (socket.writableNeedDrain) await new Promise((resolve) => socket.once('drain', resolve));
    }
    return { status: this.cancelled.get(request.getMessageId()) ? DimseStatus.Cancel : DimseStatus.Success };
  }

  /** A failure to answer (the connection broke, the library refused): the association cannot go on. */
  private fail(what: string, e: unknown): void {
    this.context.log('warn', `DIMSE ${what} not sent; association closed`, { calling: this.peer, error: String(e) });
    this.connection.destroy();
  }

  override abort(): void {
    this.connection.destroy();
  }
}

function identifierStudies(identifier: DicomJson): string[] {
  const value = identifier[tagToHex(Tag.StudyInstanceUID)]?.Value?.[0];
  return typeof value === 'string' && value ? value.split('\\').filter(Boolean).slice(0, 100) : [];
}

function respond(response: Response, outcome: DimseOutcome): void {
  response.setStatus(outcome.status);
  if (outcome.comment && outcome.status !== DimseStatus.Success && outcome.status !== DimseStatus.Pending) response.setErrorComment(errorComment(outcome.comment));
}

