// The DIMSE listener: TCP (or DICOM TLS, PS3.15 Annex B) connections, each an ArchiveScp. Bounds what a
// peer can make the process hold: associations at once, and the length of every PDU, checked from its
// header before the library gathers it.
import dcmjsDimse from 'dcmjs-dimse';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../dicom/implementation.js';
import { ArchiveScp, type ScpContext } from './archive-scp.js';

export interface DimseListener {
  port: number;
  close(): Promise<void>;
}

/** Connections past the association limit still get an A-ASSOCIATE-RJ; past twice the limit they are closed unread. */
const HARD_LIMIT_FACTOR = 2;
/** An A-ASSOCIATE-RQ with many presentation contexts can exceed a small maximum PDU; it is still bounded. */
const MIN_ASSOCIATE_PDU = 64 * 1024;
const PDU_TYPES = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);

export async function startDimseListener(context: ScpContext): Promise<DimseListener> {
  const { settings, log } = context;
  dcmjsDimse.log.setLevel((process.env.DIMSE_LOG_LEVEL as 'warn' | undefined) ?? 'silent');
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
    guardPdus(socket, Math.max(settings.maxPduLength, MIN_ASSOCIATE_PDU), (why) => {
      log('warn', 'DIMSE connection aborted', { peer: socket.remoteAddress, reason: why });
      abortAndClose(socket);
    });
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
    server.once('error', reject);
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

/**
 * Follows the PDU headers in the byte stream (type, reserved, 32-bit length: PS3.8 9.3.1) and calls
 * `violation` for an unknown PDU type or one longer than `maxLength`, before its body is buffered.
 */
function guardPdus(socket: Socket, maxLength: number, violation: (why: string) => void): void {
  const header = Buffer.alloc(6);
  let headerFill = 0;
  let bodyLeft = 0;
  const inspect = (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length) {
      if (bodyLeft > 0) {
        const skip = Math.min(bodyLeft, chunk.length - at);
        bodyLeft -= skip;
        at += skip;
        continue;
      }
      const take = Math.min(6 - headerFill, chunk.length - at);
      chunk.copy(header, headerFill, at, at + take);
      headerFill += take;
      at += take;
      if (headerFill < 6) return;
      headerFill = 0;
      const type = header[0];
      const length = header.readUInt32BE(2);
      if (!PDU_TYPES.has(type)) return stop(`PDU type 0x${type.toString(16)} is not a DICOM PDU`);
      if (length > maxLength + 6) return stop(`PDU of ${length} bytes is longer than the ${maxLength} this archive accepts (DIMSE_MAX_PDU)`);
      bodyLeft = length;
    }
  };
  const stop = (why: string) => {
    socket.off('data', inspect);
    violation(why);
  };
  socket.prependListener('data', inspect);
}

/** A-ABORT from the service provider (source 2, reason 0: not specified), then the connection is closed. */
function abortAndClose(socket: Socket): void {
  const abort = Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 0]);
  socket.write(abort, () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}
