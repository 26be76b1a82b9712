// Hand-built DICOM upper layer PDUs (PS3.8 9.3) for tests that must send what no well-behaved tool sends:
// a C-STORE cut off in the middle, a command that contradicts its data set, malformed PDUs.
import net from 'node:net';

const text = (s: string) => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const item = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type, 0]), u16(body.length), body]);
const pdu = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type, 0]), u32(body.length), body]);
const ae = (title: string) => Buffer.from(title.padEnd(16, ' '), 'latin1');

/** A-ASSOCIATE-RQ with one presentation context (ID 1) for `abstractSyntax` in `transferSyntax`. */
export function associateRequest(calling: string, called: string, abstractSyntax: string, transferSyntax: string): Buffer {
  const context = item(0x20, Buffer.concat([Buffer.from([1, 0, 0, 0]), item(0x30, Buffer.from(abstractSyntax, 'latin1')), item(0x40, Buffer.from(transferSyntax, 'latin1'))]));
  const userInfo = item(0x50, Buffer.concat([item(0x51, u32(16384)), item(0x52, Buffer.from('1.2.3.4', 'latin1'))]));
  const body = Buffer.concat([u16(1), u16(0), ae(called), ae(calling), Buffer.alloc(32), item(0x10, Buffer.from('1.2.840.10008.3.1.1.1', 'latin1')), context, userInfo]);
  return pdu(0x01, body);
}

/** An Implicit VR Little Endian element. */
function element(group: number, elementNumber: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(elementNumber, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}
const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);

/** The C-STORE-RQ command set (PS3.7 9.3.1.1), Implicit VR Little Endian with its group length. */
export function cStoreCommand(sopClassUID: string, sopInstanceUID: string, messageId = 1): Buffer {
  const elements = Buffer.concat([
    element(0, 0x0002, text(sopClassUID)),
    element(0, 0x0100, us(0x0001)),
    element(0, 0x0110, us(messageId)),
    element(0, 0x0700, us(0)),
    element(0, 0x0800, us(0x0000)),
    element(0, 0x1000, text(sopInstanceUID)),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(elements.length);
  return Buffer.concat([element(0, 0x0000, length), elements]);
}

/** P-DATA-TF carrying one PDV of presentation context 1: a command or data set fragment, last or not. */
export function pData(value: Buffer, command: boolean, last: boolean): Buffer {
  const header = Buffer.from([1, (command ? 1 : 0) | (last ? 2 : 0)]);
  return pdu(0x04, Buffer.concat([u32(value.length + 2), header, value]));
}

/** A TCP connection that collects what the archive sends back and whether it closed. */
export class RawAssociation {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => (this.received = Buffer.concat([this.received, d])));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawAssociation> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawAssociation(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits until a PDU of `type` arrived (returns its bytes), or the connection closed. */
  async waitFor(type: number, timeoutMs = 5000): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let at = 0;
      while (at + 6 <= this.received.length) {
        const length = this.received.readUInt32BE(at + 2);
        if (this.received[at] === type && at + 6 + length <= this.received.length) return this.received.subarray(at, at + 6 + length);
        at += 6 + length;
      }
      if (this.closed) return undefined;
      await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The Status (0000,0900) of the command in a P-DATA-TF holding one command PDV. */
export function commandStatus(pDataTf: Buffer): number | undefined {
  let at = 6 + 4 + 2; // PDU header, PDV length, context ID and control header
  while (at + 8 <= pDataTf.length) {
    const group = pDataTf.readUInt16LE(at);
    const elementNumber = pDataTf.readUInt16LE(at + 2);
    const length = pDataTf.readUInt32LE(at + 4);
    if (group === 0 && elementNumber === 0x0900) return pDataTf.readUInt16LE(at + 8);
    at += 8 + length;
  }
  return undefined;
}
