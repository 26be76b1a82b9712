// Data sets written byte by byte, for tests of how the archive reads what other writers produce:
// implicit VR, values written as UN, private blocks, encodings that disagree with the meta group.
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const UNDEFINED = 0xffffffff;

export type Value = Uint8Array | string;

const bytesOf = (value: Value, pad: number): Uint8Array => {
  const raw = typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'latin1')) : value;
  if (raw.length % 2 === 0) return raw;
  const out = new Uint8Array(raw.length + 1);
  out.set(raw);
  out[raw.length] = pad;
  return out;
};

const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

function header(tag: number, vr: string | undefined, length: number): Uint8Array {
  const long = vr === undefined || LONG_VRS.has(vr);
  const out = Buffer.alloc(vr === undefined ? 8 : long ? 12 : 8);
  out.writeUInt16LE(tag >>> 16, 0);
  out.writeUInt16LE(tag & 0xffff, 2);
  if (vr === undefined) out.writeUInt32LE(length, 4);
  else {
    out.write(vr, 4, 'latin1');
    if (long) out.writeUInt32LE(length, 8);
    else out.writeUInt16LE(length, 6);
  }
  return new Uint8Array(out);
}

/** Little endian data sets: `explicit` false writes every header without its VR (PS3.5 7.1.3). */
export class DataSetWriter {
  private readonly parts: Uint8Array[] = [];
  constructor(readonly explicit: boolean) {}

  /** An element as `vr` (in explicit VR; the VR is left out in implicit VR). Text is padded as PS3.5 6.2 says. */
  add(tag: number, vr: string, value: Value): this {
    const bytes = bytesOf(value, vr === 'UI' || vr === 'OB' || vr === 'UN' ? 0 : 0x20);
    this.parts.push(header(tag, this.explicit ? vr : undefined, bytes.length), bytes);
    return this;
  }

  /** A sequence of the given items; `vr` UN writes it as PS3.5 6.2.2 says (items in implicit VR, undefined length). */
  sequence(tag: number, items: DataSetWriter[], options: { vr?: 'SQ' | 'UN'; definedLength?: boolean } = {}): this {
    const vr = options.vr ?? 'SQ';
    const body = concat(
      items.map((item) => {
        const content = item.bytes();
        return options.definedLength ? concat([header(0xfffee000, undefined, content.length), content]) : concat([header(0xfffee000, undefined, UNDEFINED), content, header(0xfffee00d, undefined, 0)]);
      }),
    );
    if (options.definedLength) this.parts.push(header(tag, this.explicit ? vr : undefined, body.length), body);
    else this.parts.push(header(tag, this.explicit ? vr : undefined, UNDEFINED), body, header(0xfffee0dd, undefined, 0));
    return this;
  }

  bytes(): Uint8Array {
    return concat(this.parts);
  }
}

export const us = (...values: number[]): Uint8Array => new Uint8Array(new Uint16Array(values).buffer);
export const ss = (...values: number[]): Uint8Array => new Uint8Array(new Int16Array(values).buffer);
export const fl = (...values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

/** A Part 10 file: preamble, "DICM", an explicit VR meta group naming `transferSyntaxUID`, then `dataset` as given. */
export function part10File(dataset: Uint8Array, transferSyntaxUID: string, sopClassUID: string, sopInstanceUID: string): Uint8Array {
  const meta = new DataSetWriter(true)
    .add(0x00020001, 'OB', new Uint8Array([0, 1]))
    .add(0x00020002, 'UI', sopClassUID)
    .add(0x00020003, 'UI', sopInstanceUID)
    .add(0x00020010, 'UI', transferSyntaxUID)
    .add(0x00020012, 'UI', '1.2.826.0.1.3680043.10.1')
    .bytes();
  const groupLength = new DataSetWriter(true).add(0x00020000, 'UL', new Uint8Array(new Uint32Array([meta.length]).buffer)).bytes();
  return concat([new Uint8Array(128), new Uint8Array(Buffer.from('DICM')), groupLength, meta, dataset]);
}
