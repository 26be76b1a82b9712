// The archive as the calling side of an association: C-MOVE sub-operations and forwarding send C-STORE
// to another AE over it. dcmjs-dimse's Client sends requests it was given before the association exists,
// so it cannot choose each instance's encoding from what the peer accepted; this opens the association
// with the library's Network class (the base of its exported Scp), learns the accepted contexts, and then
// sends one request at a time.
import dcmjsDimse from 'dcmjs-dimse';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { TransferSyntax } from '../dicom/transfer-syntax.js';
import type { EncodedDataset } from './encoded-dataset.js';
import './pdata-writer.js';
import type { DimsePeer, DimseSettings } from './settings.js';
import { DimseStatus } from './status.js';

type Association = InstanceType<typeof dcmjsDimse.association.Association>;
type Response = InstanceType<typeof dcmjsDimse.responses.Response>;
type NetworkInstance = InstanceType<typeof dcmjsDimse.Scp>;
const Network = Object.getPrototypeOf(dcmjsDimse.Scp) as new (socket: net.Socket, options: Record<string, unknown>) => NetworkInstance;
const { PresentationContextResult } = dcmjsDimse.constants;

export interface ProposedContext {
  abstractSyntax: string;
  transferSyntaxes: readonly string[];
  /** Proposes the SCP role for this SOP class (role selection, PS3.7 D.3.3.4): the archive reporting storage commitment. */
  scpRole?: boolean;
}

type Request = InstanceType<typeof dcmjsDimse.requests.Request>;
type Sender = { sendRequests(requests: Request): void };

/**
 * Sends a request on an association and resolves with the status of its (final) response, or with
 * Processing Failure when the connection ends first.
 */
export function responseStatus(sender: Sender, socket: net.Socket, request: Request): Promise<number> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(DimseStatus.ProcessingFailure);
    const closed = () => resolve(DimseStatus.ProcessingFailure);
    socket.once('close', closed);
    request.on('response', (response: Response) => {
      if (response.getStatus() === DimseStatus.Pending) return;
      socket.off('close', closed);
      resolve(response.getStatus());
    });
    sender.sendRequests(request);
  });
}

export interface ScuOptions {
  host: string;
  port: number;
  callingAeTitle: string;
  calledAeTitle: string;
  contexts: readonly ProposedContext[];
  timeoutMs: number;
  /** DICOM TLS towards the peer. */
  tls?: tls.ConnectionOptions;
}

export class AssociationRefused extends Error {}

const pem = new Map<string, Buffer>();
const file = (path: string) => pem.get(path) ?? pem.set(path, readFileSync(path)).get(path)!;

/**
 * DICOM TLS to a peer (PS3.15 B.1): the archive shows its own certificate and verifies the peer's against
 * DIMSE_TLS_CA, by the peer's host name unless it is an address (settings.ts requires all three files).
 */
function tlsTowards(peer: DimsePeer, settings: DimseSettings): tls.ConnectionOptions {
  const t = settings.tls!;
  return { cert: file(t.certFile), key: file(t.keyFile), ca: file(t.caFile!), minVersion: 'TLSv1.2', ...(net.isIP(peer.host) ? {} : { servername: peer.host }) };
}

/** Syntaxes proposed beside an instance's own, so that a peer that takes only uncompressed data gets it. */
export const UNCOMPRESSED = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

export class ScuAssociation {
  private constructor(
    private readonly network: NetworkInstance,
    private readonly socket: net.Socket,
    private readonly association: Association,
  ) {}

  /** Connects and negotiates; fails with AssociationRefused when the peer rejects, aborts or cannot be reached. */
  static open(options: ScuOptions): Promise<ScuAssociation> {
    const association = new dcmjsDimse.association.Association(options.callingAeTitle, options.calledAeTitle);
    for (const context of options.contexts) {
      const id = association.addPresentationContext(context.abstractSyntax);
      for (const syntax of context.transferSyntaxes) association.addTransferSyntaxToPresentationContext(id, syntax);
      if (context.scpRole) {
        association.getPresentationContext(id).setUserRole(false);
        association.getPresentationContext(id).setProviderRole(true);
      }
    }
    const socket = options.tls ? tls.connect({ host: options.host, port: options.port, ...options.tls }) : net.connect({ host: options.host, port: options.port });
    socket.setNoDelay(true);
    const network = new Network(socket, { connectTimeout: options.timeoutMs, associationTimeout: options.timeoutMs, pduTimeout: options.timeoutMs });
    return new Promise((resolve, reject) => {
      const refuse = (why: string) => {
        socket.destroy();
        reject(new AssociationRefused(`${options.calledAeTitle} at ${options.host}:${options.port}: ${why}`));
      };
      // Network relays the socket's 'connect' (over TLS the request waits in the socket until the handshake is done).
      network.on('connect', () => network.sendAssociationRequest(association));
      network.on('associationAccepted', (accepted: Association) => resolve(new ScuAssociation(network, socket, accepted)));
      network.on('associationRejected', (r: { result: number; source: number; reason: number }) => refuse(`association rejected (result ${r.result}, source ${r.source}, reason ${r.reason})`));
      network.on('networkError', (e: Error) => refuse(e.message));
      socket.once('error', (e) => refuse(e.message));
      socket.once('close', () => refuse('the connection closed'));
    });
  }

  /** Associates with a peer of DIMSE_PEERS as the archive's AE title. */
  static openTo(peer: DimsePeer, settings: DimseSettings, contexts: readonly ProposedContext[]): Promise<ScuAssociation> {
    return ScuAssociation.open({
      host: peer.host,
      port: peer.port,
      callingAeTitle: settings.aeTitle,
      calledAeTitle: peer.aeTitle,
      contexts,
      timeoutMs: settings.associationTimeoutMs,
      ...(peer.tls ? { tls: tlsTowards(peer, settings) } : {}),
    });
  }

  /** What the peer accepted for a SOP class. */
  acceptedSyntaxes(sopClassUID: string): string[] {
    return this.association
      .getPresentationContexts()
      .map(({ id }) => this.association.getPresentationContext(id))
      .filter((pc) => pc.getAbstractSyntaxUid() === sopClassUID && pc.getResult() === PresentationContextResult.Accept)
      .map((pc) => pc.getAcceptedTransferSyntaxUid()!);
  }

  /** C-STORE of one data set; resolves with the peer's status (Processing Failure if the association ends first). */
  store(dataset: EncodedDataset, moveOriginator?: { aeTitle: string; messageId: number }): Promise<number> {
    const request = new dcmjsDimse.requests.CStoreRequest(dataset);
    if (moveOriginator) {
      request.getCommandDataset().setElement('MoveOriginatorApplicationEntityTitle', moveOriginator.aeTitle);
      const command = request.getCommandDataset() as unknown as { setElement(tag: string, value: number): void };
      command.setElement('MoveOriginatorMessageID', moveOriginator.messageId);
    }
    return this.send(request);
  }

  /** Any request; resolves with the status of its final response. */
  send(request: Request): Promise<number> {
    return responseStatus(this.network, this.socket, request);
  }

  /** A-RELEASE, waiting (briefly) for the peer's answer before the connection closes. */
  async release(): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.network.on('associationReleaseResponse', () => {
        clearTimeout(timer);
        resolve();
      });
      this.network.sendAssociationReleaseRequest();
    });
    this.socket.end();
  }
}
