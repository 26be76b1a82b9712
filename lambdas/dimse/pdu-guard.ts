// Bounds on what a peer can make the process hold, checked on the byte stream before dcmjs-dimse buffers
// it: every PDU's type and length (PS3.8 9.3.1), and, inside P-DATA-TF PDUs, the fragments (PDVs) of one
// DIMSE message: a command set never grows past 64 KiB, the data set of anything but a C-STORE (an
// identifier, a commitment request) past 16 MiB — a peer that sends fragments without ever marking the
// last one would otherwise fill memory. A C-STORE's data set is bounded where it is collected
// (MAX_INSTANCE_BYTES, answered with Out of Resources).

export interface PduLimits {
  /** Longest PDU accepted (its length field). */
  maxPduLength: number;
}

const PDU_TYPES = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
const P_DATA_TF = 0x04;
const MAX_COMMAND_BYTES = 64 * 1024;
const MAX_MESSAGE_DATA_BYTES = 16 * 1024 * 1024;
const C_STORE_RQ = 0x0001;

/** Follows the stream chunk by chunk; `inspect` returns why the peer broke a bound, or undefined. */
export class PduGuard {
  private readonly header = Buffer.alloc(6);
  private headerFill = 0;
  /** Bytes left in the current PDU's body; in a P-DATA-TF, those parsed as PDV items. */
  private pduLeft = 0;
  private inPData = false;
  private readonly pdvHeader = Buffer.alloc(6);
  private pdvHeaderFill = 0;
  private pdvLeft = 0;
  private command: Buffer[] = [];
  private commandBytes = 0;
  private dataBytes = 0;
  /** Whether the last complete command set was a C-STORE request (its data set is bounded elsewhere). */
  private storing = false;

  constructor(private readonly limits: PduLimits) {}

  inspect(chunk: Buffer): string | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.pduLeft === 0) {
        const take = Math.min(6 - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < 6) return undefined;
        this.headerFill = 0;
        const type = this.header[0];
        const length = this.header.readUInt32BE(2);
        if (!PDU_TYPES.has(type)) return `PDU type 0x${type.toString(16)} is not a DICOM PDU`;
        if (length > this.limits.maxPduLength + 6) return `PDU of ${length} bytes is longer than the ${this.limits.maxPduLength} this archive accepts (DIMSE_MAX_PDU)`;
        this.pduLeft = length;
        this.inPData = type === P_DATA_TF;
        continue;
      }
      if (!this.inPData) {
        const skip = Math.min(this.pduLeft, chunk.length - at);
        this.pduLeft -= skip;
        at += skip;
        continue;
      }
      const problem = this.pData(chunk, at, Math.min(this.pduLeft, chunk.length - at));
      if (typeof problem === 'string') return problem;
      this.pduLeft -= problem;
      at += problem;
    }
    return undefined;
  }

  /** Consumes up to `available` bytes of a P-DATA-TF body from `at`; returns how many, or a violation. */
  private pData(chunk: Buffer, at: number, available: number): number | string {
    if (this.pdvLeft > 0) {
      const take = Math.min(this.pdvLeft, available);
      this.pdvLeft -= take;
      this.fragment(chunk, at, take);
      return take;
    }
    // A PDV item: 4-byte length, presentation context ID, message control header (bit 0 command, bit 1 last).
    const take = Math.min(6 - this.pdvHeaderFill, available);
    chunk.copy(this.pdvHeader, this.pdvHeaderFill, at, at + take);
    this.pdvHeaderFill += take;
    if (this.pdvHeaderFill < 6) return take;
    this.pdvHeaderFill = 0;
    const itemLength = this.pdvHeader.readUInt32BE(0);
    if (itemLength < 2 || itemLength - 2 > this.pduLeft - take) return `a PDV of ${itemLength} bytes does not fit its PDU`;
    const control = this.pdvHeader[5];
    const bytes = itemLength - 2;
    this.pdvLeft = bytes;
    this.pdvIsCommand = (control & 1) === 1;
    this.pdvIsLast = (control & 2) === 2;
    if (this.pdvIsCommand) {
      this.commandBytes += bytes;
      if (this.commandBytes > MAX_COMMAND_BYTES) return `a command set of more than ${MAX_COMMAND_BYTES} bytes`;
    } else if (!this.storing) {
      this.dataBytes += bytes;
      if (this.dataBytes > MAX_MESSAGE_DATA_BYTES) return `a data set of more than ${MAX_MESSAGE_DATA_BYTES} bytes outside a C-STORE`;
    }
    if (bytes === 0) this.fragmentDone();
    return take;
  }

  private pdvIsCommand = false;
  private pdvIsLast = false;

  /** Keeps command fragments (small, bounded) to read the command field once the set is complete. */
  private fragment(chunk: Buffer, at: number, length: number): void {
    if (this.pdvIsCommand) this.command.push(chunk.subarray(at, at + length));
    if (this.pdvLeft === 0) this.fragmentDone();
  }

  private fragmentDone(): void {
    if (!this.pdvIsLast) return;
    if (this.pdvIsCommand) {
      this.storing = commandField(Buffer.concat(this.command)) === C_STORE_RQ;
      this.command = [];
      this.commandBytes = 0;
    } else {
      this.dataBytes = 0;
    }
  }
}

/** Command Field (0000,0100) of a command set (Implicit VR Little Endian), if present. */
function commandField(command: Buffer): number | undefined {
  for (let at = 0; at + 8 <= command.length; ) {
    const group = command.readUInt16LE(at);
    const element = command.readUInt16LE(at + 2);
    const length = command.readUInt32LE(at + 4);
    if (group === 0 && element === 0x0100 && length >= 2 && at + 10 <= command.length) return command.readUInt16LE(at + 8);
    at += 8 + length;
  }
  return undefined;
}
