// The DIMSE listener: TCP (or DICOM TLS, PS3.15 Annex B) connections, each an ArchiveScp. Bounds what a
// peer can make the process hold: associations at once, and what a PDU and a message may hold (PduGuard),
// checked before the library gathers it.
import dcmjsDimse from 'dcmjs-dimse';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../dicom/implementation.js';
import { ArchiveScp, type ScpContext } from './archive-scp.js';
import { PduGuard } from './pdu-guard.js';

export interface DimseListener {
  port: number;
  close(): Promise<void>;
}

/** Connections past the association limit still get an A-ASSOCIATE-RJ; past twice the limit they are closed unread. */
const HARD_LIMIT_FACTOR = 2;
/** An A-ASSOCIATE-RQ with many presentation contexts can exceed a small maximum PDU; it is still bounded. */
const MIN_ASSOCIATE_PDU = 64 * 1024;

export async function startDimseListener(context: ScpContext): Promise<DimseListener> {
  const { settings, log } = context;
  dcmjsDimse.log.setLevel(settings.libraryLogLevel);
  dcmjsDimse.Implementation.setMaxPduLength(settings.maxPduLength);
  dcmjsDimse.Implementation.setImplementationClassUid(IMPLEMENTATION_CLASS_UID);
  dcmjsDimse.Implementation.setImplementationVersion(IMPLEMENTATION_VERSION_NAME);
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    if (sockets.size >= settings.maxAssociations * HARD_LIMIT_FACTOR) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const guard = new PduGuard({ maxPduLength: Math.max(settings.maxPduLength, MIN_ASSOCIATE_PDU) });
    const inspect = (chunk: Buffer) => {
      const violation = guard.inspect(chunk);
      if (!violation) return;
      socket.off('data', inspect);
      log('warn', 'DIMSE connection aborted', { peer: socket.remoteAddress, reason: violation });
      abortAndClose(socket);
    };
    socket.prependListener('data', inspect);
    new ArchiveScp(socket, context, sockets.size > settings.maxAssociations);
  };
  const server = settings.tls
    ? tls.createServer(
        {
          cert: readFileSync(settings.tls.certFile),
          key: readFileSync(settings.tls.keyFile),
          ...(settings.tls.caFile ? { ca: readFileSync(settings.tls.caFile), requestCert: true, rejectUnauthorized: true } : {}),
          minVersion: 'TLSv1.2',
        },
        onConnection,
      )
    : net.createServer(onConnection);
  server.on('tlsClientError', (e: Error) => log('warn', 'DICOM TLS handshake failed', { error: e.message }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`the DIMSE port ${settings.host}:${settings.port} is in use by another program: set DIMSE_PORT to a free port, or to 0 to run without DIMSE`) : e),
    );
    server.listen(settings.port, settings.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** A-ABORT from the service provider (source 2, reason 0: not specified), then the connection is closed. */
function abortAndClose(socket: Socket): void {
  const abort = Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 0]);
  socket.write(abort, () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}
