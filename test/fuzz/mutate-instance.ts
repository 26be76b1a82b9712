// Mutations of a sample file into a hostile instance: bit flips, truncation, length fields, pixel
// geometry, encapsulated fragments, character sets, UIDs, nested sequences and deflate bombs.
// Every choice comes from the plan's numbers, so a seed reproduces the same bytes.
import { constants, deflateRawSync } from 'node:zlib';
import { Tag } from '../../lambdas/dicom/tags.js';
import type { ElementSite, SeedFile } from './corpus.js';

/** Draws numbers from a plan's list of random integers, in turn. */
export class Draw {
  private i = 0;
  constructor(private readonly numbers: number[]) {}
  int(n: number): number {
    const round = Math.floor(this.i / this.numbers.length);
    const v = this.numbers[this.i++ % this.numbers.length];
    // Past the end of the list the same numbers are mixed differently, so draws stay varied.
    return n <= 0 ? 0 : (round === 0 ? v : Math.imul(v ^ round, 2654435761) >>> 0) % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

const le16 = (v: number) => Buffer.from([v & 0xff, (v >> 8) & 0xff]);
const le32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

function writeLength(bytes: Buffer, site: ElementSite, value: number): void {
  if (site.lengthSize === 2) site.littleEndian ? bytes.writeUInt16LE(value & 0xffff, site.lengthOffset) : bytes.writeUInt16BE(value & 0xffff, site.lengthOffset);
  else site.littleEndian ? bytes.writeUInt32LE(value >>> 0, site.lengthOffset) : bytes.writeUInt32BE(value >>> 0, site.lengthOffset);
}

/** Replaces a top-level element's value (and its length field) with other bytes. */
function replaceValue(bytes: Buffer, site: ElementSite, value: Buffer): Buffer {
  const padded = value.length % 2 ? Buffer.concat([value, Buffer.from(' ')]) : value;
  const capped = site.lengthSize === 2 ? padded.subarray(0, 0xfffe) : padded;
  const head = Buffer.from(bytes.subarray(0, site.valueOffset));
  writeLength(head, site, capped.length);
  return Buffer.concat([head, capped, bytes.subarray(site.valueOffset + site.length)]);
}

/** An explicit VR little endian element (the encoding of most samples; others see it as a broken element). */
function element(tag: number, vr: string, value: Buffer): Buffer {
  const t = Buffer.concat([le16(tag >>> 16), le16(tag & 0xffff)]);
  if (['OB', 'OW', 'SQ', 'UN', 'UT', 'UC', 'UR'].includes(vr)) return Buffer.concat([t, Buffer.from(vr), Buffer.alloc(2), le32(value.length), value]);
  return Buffer.concat([t, Buffer.from(vr), le16(value.length), value]);
}

/** A new random UID of the same length as the one in the file, so that every mutated instance is a new instance. */
export function renewSopInstanceUid(seed: SeedFile, draw: Draw): Buffer {
  const bytes = Buffer.from(seed.bytes);
  const sop = seed.elements.get(Tag.SOPInstanceUID);
  if (!sop) return bytes;
  const old = bytes.subarray(sop.valueOffset, sop.valueOffset + sop.length).toString('latin1');
  const fresh = [...old].map((ch, i) => (/[0-9]/.test(ch) && i > old.length - 14 && !(i > 0 && old[i - 1] === '.' && i === old.length - 1) ? String((draw.int(9) + 1) % 10) : ch));
  // A component never starts with 0 unless it is "0" itself.
  for (let i = 0; i < fresh.length; i++) if (fresh[i] === '0' && (i === 0 || fresh[i - 1] === '.') && /[0-9]/.test(fresh[i + 1] ?? '')) fresh[i] = '1';
  const uid = Buffer.from(fresh.join(''), 'latin1');
  uid.copy(bytes, sop.valueOffset);
  const mediaSop = seed.elements.get(0x00020003);
  if (mediaSop && mediaSop.length === sop.length) uid.copy(bytes, mediaSop.valueOffset);
  return bytes;
}

function flipBits(bytes: Buffer, draw: Draw, from: number, to: number, count: number): Buffer {
  for (let i = 0; i < count && to > from; i++) bytes[from + draw.int(to - from)] ^= 1 << draw.int(8);
  return bytes;
}

const GEOMETRY_VALUES: Record<number, number[]> = {
  [Tag.Rows]: [0, 1, 3, 4096, 32768, 65535],
  [Tag.Columns]: [0, 1, 7, 4096, 32768, 65535],
  [Tag.BitsAllocated]: [0, 1, 7, 12, 24, 32, 64, 255, 65535],
  [Tag.BitsStored]: [0, 1, 17, 33, 255],
  [Tag.HighBit]: [0, 15, 31, 255],
  [Tag.SamplesPerPixel]: [0, 2, 3, 4, 255, 65535],
  [Tag.PixelRepresentation]: [1, 2, 65535],
  [Tag.PlanarConfiguration]: [1, 2],
};

function geometry(seed: SeedFile, bytes: Buffer, draw: Draw): Buffer {
  const candidates = [Tag.Rows, Tag.Columns, Tag.BitsAllocated, Tag.BitsStored, Tag.HighBit, Tag.SamplesPerPixel, Tag.PixelRepresentation, Tag.PlanarConfiguration, Tag.NumberOfFrames, Tag.PhotometricInterpretation]
    .map((t) => seed.elements.get(t))
    .filter((s): s is ElementSite => !!s);
  if (!candidates.length) return flipBits(bytes, draw, 0, bytes.length, 4);
  let out = bytes;
  for (let n = 0; n < 1 + draw.int(3); n++) {
    const site = draw.pick(candidates);
    if (site.tag === Tag.NumberOfFrames) {
      out = replaceValue(out, site, Buffer.from(draw.pick(['0', '2', '3', '1000', '99999999', '-1', '1.5', 'x', '4294967297'])));
      return out;
    }
    if (site.tag === Tag.PhotometricInterpretation) {
      return replaceValue(out, site, Buffer.from(draw.pick(['YBR_FULL_422', 'PALETTE COLOR', 'RGB', 'MONOCHROME1', 'YBR_RCT', 'GARBAGE', ''])));
    }
    if (site.length < 2 || site.vr !== 'US') continue;
    const v = draw.pick(GEOMETRY_VALUES[site.tag] ?? [0, 65535]);
    site.littleEndian ? out.writeUInt16LE(v, site.valueOffset) : out.writeUInt16BE(v, site.valueOffset);
  }
  return out;
}

function lengthField(seed: SeedFile, bytes: Buffer, draw: Draw): Buffer {
  if (!seed.allElements.length) return flipBits(bytes, draw, 0, bytes.length, 8);
  const site = draw.pick(seed.allElements);
  const remaining = bytes.length - site.valueOffset;
  const value = draw.pick([0, 1, site.length + 1, Math.max(0, site.length - 1), site.length * 2, remaining, remaining + 2, 0xfffe, 0xffff, 0xfffffffe, 0xffffffff, 0x7fffffff, draw.int(0x10000)]);
  const out = Buffer.from(bytes);
  writeLength(out, site, value);
  return out;
}

function fragments(seed: SeedFile, bytes: Buffer, draw: Draw): Buffer {
  if (seed.fragments.length < 2) return geometry(seed, bytes, draw);
  const index = draw.int(seed.fragments.length);
  const f = seed.fragments[index];
  const site: ElementSite = { tag: Tag.Item, vr: 'OB', valueOffset: f.offset, length: f.length, lengthOffset: f.offset - 4, lengthSize: 4, littleEndian: true };
  switch (draw.pick(['empty', 'truncate', 'flip', 'byte', 'drop', 'duplicate', 'bot', 'no-delimiter', 'length'] as const)) {
    case 'empty':
      return replaceValue(bytes, site, Buffer.alloc(0));
    case 'truncate':
      return replaceValue(bytes, site, bytes.subarray(f.offset, f.offset + Math.floor(f.length / (2 + draw.int(8))) * 2));
    case 'flip':
      return flipBits(bytes, draw, f.offset, f.offset + f.length, 1 + draw.int(16));
    case 'byte': {
      bytes[f.offset + draw.int(Math.max(1, f.length))] = draw.pick([0x00, 0xff, 0xd9, 0xd8, 0x4f]);
      return bytes;
    }
    case 'drop':
      return Buffer.concat([bytes.subarray(0, f.offset - 8), bytes.subarray(f.offset + f.length)]);
    case 'duplicate':
      return Buffer.concat([bytes.subarray(0, f.offset + f.length), bytes.subarray(f.offset - 8, f.offset + f.length), bytes.subarray(f.offset + f.length)]);
    case 'bot': {
      const bot = seed.fragments[0];
      const offsets = Buffer.alloc(4 * (1 + draw.int(6)));
      for (let o = 0; o < offsets.length; o += 4) offsets.writeUInt32LE(draw.pick([0, 1, 7, 0xffffffff, draw.int(bytes.length)]), o);
      return replaceValue(bytes, { ...site, valueOffset: bot.offset, length: bot.length, lengthOffset: bot.offset - 4 }, offsets);
    }
    case 'no-delimiter': {
      const last = seed.fragments[seed.fragments.length - 1];
      return bytes.subarray(0, last.offset + last.length);
    }
    case 'length':
      return lengthField(seed, bytes, draw);
  }
}

const CHARSETS = ['ISO 2022 IR 87', 'ISO 2022 IR 149', '\\ISO 2022 IR 87', 'ISO_IR 192', 'GB18030', 'ISO_IR 13\\ISO 2022 IR 87', 'ISO 2022 IR 58', 'GARBAGE\\NONSENSE', 'ISO_IR 100\\\\\\', '\u00ff\u00fe'];
const TEXT = [
  Buffer.from([0x1b, 0x24, 0x42, 0x3b, 0x33, 0x45, 0x44, 0x1b, 0x28, 0x42]), // ISO 2022 IR 87 kanji
  Buffer.from([0x1b, 0x24, 0x29, 0x43, 0xb1, 0xe8]), // ISO 2022 IR 149, cut short
  Buffer.from([0x1b, 0x1b, 0x1b, 0x24]), // escapes only
  Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xe2, 0x82]), // invalid UTF-8
  Buffer.from('Doe^John\r\nWarning: 199 - "x"\u0000'),
  Buffer.from('=^^^^=\\\\'),
];

function charset(seed: SeedFile, bytes: Buffer, draw: Draw): Buffer {
  let out = bytes;
  const name = seed.elements.get(Tag.PatientName);
  const cs = seed.elements.get(Tag.SpecificCharacterSet);
  // Later elements first, so earlier offsets stay valid.
  if (name && (!cs || name.valueOffset > cs.valueOffset)) out = replaceValue(out, name, Buffer.concat([draw.pick(TEXT), draw.pick(TEXT)]));
  if (cs) out = replaceValue(out, cs, Buffer.from(draw.pick(CHARSETS), 'latin1'));
  else out = Buffer.concat([out.subarray(0, seed.datasetOffset), element(Tag.SpecificCharacterSet, 'CS', Buffer.from(draw.pick(CHARSETS), 'latin1')), out.subarray(seed.datasetOffset)]);
  return out;
}

const BAD_UIDS = [
  '1.2.3\u00004', '1.2.840.10008.1.2.4.50\r\nX-Injected: 1', ' 1.2.3 ', '1..2', 'abc', '1.2.3.' + '9'.repeat(70), '', '\u00e9\u00e8.1', '1.2.840.10008.1.2.4.80"; a=b',
  '1.2.840.10008.1.2.1\u0000\u0000', '1.2.840.10008.1.2.4.90 ', '0.0', '1.2.840.10008.1.2.99999', '1.2.840.10008.1.2.1.99',
];

function uid(seed: SeedFile, bytes: Buffer, draw: Draw): Buffer {
  const targets = [Tag.TransferSyntaxUID, Tag.SOPInstanceUID, Tag.SOPClassUID, Tag.StudyInstanceUID, Tag.SeriesInstanceUID, 0x00020003, 0x00020012]
    .map((t) => seed.elements.get(t))
    .filter((s): s is ElementSite => !!s);
  if (!targets.length) return flipBits(bytes, draw, 0, Math.min(bytes.length, 400), 4);
  return replaceValue(bytes, draw.pick(targets), Buffer.from(draw.pick(BAD_UIDS), 'latin1'));
}

/** A private sequence nested `depth` levels deep, with defined or undefined lengths (built in one pass). */
function nestedSequence(depth: number, undefinedLengths: boolean): Buffer {
  const innermost = element(0x00091002, 'LO', Buffer.from('deep'));
  const sequenceHead = (length: number) => Buffer.concat([le16(0x0009), le16(0x1001), Buffer.from('SQ'), Buffer.alloc(2), le32(length)]);
  const itemHead = (length: number) => Buffer.concat([Buffer.from([0xfe, 0xff, 0x00, 0xe0]), le32(length)]);
  const heads: Buffer[] = [];
  const tails: Buffer[] = [];
  let size = innermost.length;
  for (let i = 0; i < depth; i++) {
    if (undefinedLengths) {
      heads.push(Buffer.concat([sequenceHead(0xffffffff), itemHead(0xffffffff)]));
      tails.push(Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]));
    } else {
      heads.push(Buffer.concat([sequenceHead(size + 8), itemHead(size)]));
      size += 20;
    }
  }
  return Buffer.concat([element(0x00090010, 'LO', Buffer.from('FUZZ')), ...heads.reverse(), innermost, ...tails]);
}

function sequenceDepth(seed: SeedFile, bytes: Buffer, draw: Draw): Buffer {
  const depth = draw.pick([10, 47, 49, 200, 5000, 50000]);
  const insertAt = [...seed.elements.values()].filter((s) => s.tag >>> 16 > 0x0009 && s.valueOffset > seed.datasetOffset).sort((a, b) => a.valueOffset - b.valueOffset)[0];
  const at = insertAt ? insertAt.lengthOffset - (insertAt.lengthSize === 2 ? 6 : 8) : seed.datasetOffset;
  return Buffer.concat([bytes.subarray(0, at), nestedSequence(depth, draw.int(2) === 0), bytes.subarray(at)]);
}

const MiB = 1024 * 1024;
const zeroBlock = deflateRawSync(Buffer.alloc(MiB), { finishFlush: constants.Z_SYNC_FLUSH });
const finalBlock = deflateRawSync(Buffer.alloc(0));

/**
 * A Deflated Explicit VR Little Endian instance whose data set inflates to `mebibytes` MiB, almost all of
 * it a private OB value of zeros: about a kilobyte of deflate per mebibyte (each repeated block stands alone).
 */
export function deflateBomb(seed: SeedFile, mebibytes: number): Buffer {
  const ts = seed.elements.get(Tag.TransferSyntaxUID)!;
  const meta = replaceValue(Buffer.from(seed.bytes.subarray(0, seed.datasetOffset)), ts, Buffer.from('1.2.840.10008.1.2.1.99'));
  const groupLength = seed.elements.get(0x00020000);
  if (groupLength) meta.writeUInt32LE(meta.length - (groupLength.valueOffset + 4), groupLength.valueOffset);
  const dataset = seed.bytes.subarray(seed.datasetOffset);
  const chunks = Math.max(1, Math.floor(mebibytes / 4000) + 1);
  const perElement = Math.ceil(mebibytes / chunks);
  const parts: Buffer[] = [];
  for (let c = 0; c < chunks; c++) {
    const head = Buffer.concat([c === 0 ? dataset : Buffer.alloc(0), c === 0 ? element(0x7fe10010, 'LO', Buffer.from('FUZZ')) : Buffer.alloc(0)]);
    const tag = Buffer.concat([le16(0x7fe1), le16(0x1000 + c), Buffer.from('OB'), Buffer.alloc(2), le32(perElement * MiB)]);
    parts.push(deflateRawSync(Buffer.concat([head, tag]), { finishFlush: constants.Z_SYNC_FLUSH }));
    for (let i = 0; i < perElement; i++) parts.push(zeroBlock);
  }
  parts.push(finalBlock);
  return Buffer.concat([meta, ...parts]);
}

export const INSTANCE_MUTATIONS = ['none', 'flip-header', 'flip-anywhere', 'truncate', 'length-field', 'geometry', 'fragments', 'charset', 'uid', 'sequence-depth', 'deflate-bomb'] as const;
export type InstanceMutation = (typeof INSTANCE_MUTATIONS)[number];

export function mutateInstance(seed: SeedFile, kind: InstanceMutation, draw: Draw): Buffer {
  const bytes = renewSopInstanceUid(seed, draw);
  const pixels = seed.elements.get(Tag.PixelData);
  const headerEnd = pixels ? pixels.valueOffset : bytes.length;
  const structured = seed.elements.size > 0;
  switch (kind) {
    case 'none':
      return bytes;
    case 'flip-header':
      return flipBits(bytes, draw, 0, headerEnd, 1 + draw.int(8));
    case 'flip-anywhere':
      return flipBits(bytes, draw, 0, bytes.length, 1 + draw.int(32));
    case 'truncate':
      return bytes.subarray(0, draw.int(bytes.length));
    case 'length-field':
      return lengthField(seed, bytes, draw);
    case 'geometry':
      return structured ? geometry(seed, bytes, draw) : flipBits(bytes, draw, 0, headerEnd, 4);
    case 'fragments':
      return structured ? fragments(seed, bytes, draw) : flipBits(bytes, draw, 0, bytes.length, 4);
    case 'charset':
      return structured ? charset(seed, bytes, draw) : flipBits(bytes, draw, 0, headerEnd, 4);
    case 'uid':
      return structured ? uid(seed, bytes, draw) : flipBits(bytes, draw, 0, headerEnd, 4);
    case 'sequence-depth':
      return structured && seed.transferSyntaxUID !== '1.2.840.10008.1.2' ? sequenceDepth(seed, bytes, draw) : flipBits(bytes, draw, 0, headerEnd, 4);
    case 'deflate-bomb':
      return deflateBomb(seed, draw.pick([8, 300, 2200, 4500]));
  }
}
