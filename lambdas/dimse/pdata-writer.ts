// Writing a DIMSE message as P-DATA-TF PDUs (PS3.8 9.3.5) without copying its data set: dcmjs-dimse's own
// writer copies every fragment through a growable buffer twice and formats a log line for each message
// (about 0.25 ms per 16 KiB PDU, a quarter of a C-GET's time per instance). Here each PDU is a 12-byte
// header and a view of the data set, written in one batch. Installed on import on the library's Network
// class, which its Scp (and our SCU associations) derive from; the method name is internal, so the
// library's version is pinned in package.json.
import dcmjsDimse from 'dcmjs-dimse';
import type { Socket } from 'node:net';
import { EncodedDataset } from './encoded-dataset.js';

/** dcmjs-dimse caps PDUs at 4 MiB whatever the peer allows. */
const LIBRARY_MAX_PDU = 4 * 1024 * 1024;

interface MessageLike {
  getCommandDataset(): { getDenaturalizedCommandDataset(): Buffer };
  getDataset(): { getDenaturalizedDataset(): Buffer } | undefined;
}

interface NetworkLike {
  socket: Socket;
  statistics: { addBytesSent(bytes: number): void };
}

function pduHeader(pcId: number, fragmentLength: number, command: boolean, last: boolean): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x04;
  header.writeUInt32BE(fragmentLength + 6, 2);
  header.writeUInt32BE(fragmentLength + 2, 6);
  header[10] = pcId;
  header[11] = (command ? 1 : 0) | (last ? 2 : 0);
  return header;
}

function sendPDataTF(this: NetworkLike, message: MessageLike, pcId: number, maxPduLength: number): void {
  const max = maxPduLength === 0 ? LIBRARY_MAX_PDU : Math.min(maxPduLength, LIBRARY_MAX_PDU);
  const fragment = max - 6;
  const socket = this.socket;
  let sent = 0;
  const write = (bytes: Uint8Array, command: boolean) => {
    for (let at = 0; at < bytes.length || (at === 0 && bytes.length === 0); at += fragment) {
      const view = bytes.subarray(at, Math.min(bytes.length, at + fragment));
      socket.write(pduHeader(pcId, view.length, command, at + fragment >= bytes.length));
      socket.write(view);
      sent += 12 + view.length;
      if (bytes.length === 0) break;
    }
  };
  socket.cork();
  write(message.getCommandDataset().getDenaturalizedCommandDataset(), true);
  const dataset = message.getDataset();
  if (dataset) {
    const parts = dataset instanceof EncodedDataset ? dataset.parts : [dataset.getDenaturalizedDataset()];
    write(parts.length === 1 ? parts[0] : Buffer.concat(parts), false);
  }
  socket.uncork();
  this.statistics.addBytesSent(sent);
}

Object.assign((Object.getPrototypeOf(dcmjsDimse.Scp) as { prototype: object }).prototype, { _sendPDataTF: sendPDataTF });
