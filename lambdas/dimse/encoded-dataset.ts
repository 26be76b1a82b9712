// A data set that travels through dcmjs-dimse as the bytes it was received or stored as. The library's own
// Dataset decodes into JavaScript values and encodes them again with dcmjs, which is not lossless for every
// file a scanner writes (private tags, odd character sets, undefined lengths): the archive sends and stores
// the bytes themselves.
import dcmjsDimse from 'dcmjs-dimse';
import { Writable } from 'node:stream';

export class EncodedDataset extends dcmjsDimse.Dataset {
  /** `identity` is what dcmjs-dimse reads from a data set to build a C-STORE command. */
  constructor(
    readonly parts: readonly Uint8Array[],
    transferSyntaxUid: string,
    identity: { SOPClassUID?: string; SOPInstanceUID?: string } = {},
  ) {
    super({ ...identity }, transferSyntaxUid);
  }

  get size(): number {
    return this.parts.reduce((n, p) => n + p.byteLength, 0);
  }

  override getDenaturalizedDataset(): Buffer {
    return Buffer.concat(this.parts);
  }

  /** The library would relabel the bytes as another syntax without converting them: conversions happen before. */
  override setTransferSyntaxUid(transferSyntaxUid: string): void {
    if (transferSyntaxUid !== this.getTransferSyntaxUid()) throw new Error(`an encoded data set cannot be relabelled from ${this.getTransferSyntaxUid()} to ${transferSyntaxUid}`);
  }
}

/**
 * Where a C-STORE data set accumulates as it arrives, up to a limit; past it the rest is counted and
 * dropped, so that an oversized instance is refused with a status rather than held.
 */
export class DatasetCollector extends Writable {
  readonly parts: Buffer[] = [];
  received = 0;

  constructor(readonly limit: number) {
    super();
  }

  get overflowed(): boolean {
    return this.received > this.limit;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.received += chunk.byteLength;
    if (this.overflowed) this.parts.length = 0;
    else this.parts.push(chunk);
    done();
  }
}

/** A C-STORE's data set as it arrived: its bytes, and how many arrived (more than were kept when it overflowed). */
export class ReceivedDataset extends EncodedDataset {
  readonly received: number;
  readonly overflowed: boolean;

  constructor(collector: DatasetCollector, transferSyntaxUid: string) {
    super(collector.parts, transferSyntaxUid);
    this.received = collector.received;
    this.overflowed = collector.overflowed;
  }
}
