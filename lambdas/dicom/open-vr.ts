// The VR of an element whose file leaves it open: implicit VR data sets, and elements written as UN in
// explicit VR (PS3.5 6.2.2). Public attributes take their dictionary VR, Private Creators LO, private data
// elements of a known creator their vendor dictionary's VR; the dictionary's "US or SS" and "OB or OW"
// are settled by Pixel Representation and Bits Allocated once the whole data set has been read.
import { isPrivateTag, lookupTag, resolveAmbiguousVr } from './dictionary.js';
import type { DicomDataSet, DicomElement } from './parser.js';
import { isPrivateCreator, privateCreatorTag, privateElementVr } from './private-dictionary.js';
import { Tag } from './tags.js';

/** Bytes per value of the VRs whose values have a fixed size: a length that is no multiple of it stays UN. */
const VALUE_SIZE: Readonly<Record<string, number>> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 4, SV: 8, UV: 8 };

const WAVEFORM_BITS_ALLOCATED = 0x54001004;

/** What the parse has to settle at its end. */
export interface OpenVrState {
  ambiguous: number;
}

/**
 * The VR to read a value with when the file does not give one. `ds` holds the elements read before this
 * one (a Private Creator precedes the elements of its block). Ambiguous dictionary VRs come back in their
 * provisional form (US, OW) and are counted in `state` for settleAmbiguousVrs.
 */
export function openVr(ds: DicomDataSet, tag: number, length: number, state: OpenVrState): string {
  const vr = listedVr(ds, tag, state);
  const size = VALUE_SIZE[vr];
  // A value that cannot be what the dictionary says (seen with vendor dictionaries) is kept as bytes.
  if (size && length !== 0xffffffff && length % size !== 0) return 'UN';
  return vr;
}

function listedVr(ds: DicomDataSet, tag: number, state: OpenVrState): string {
  if ((tag & 0xffff) === 0x0000) return 'UL'; // group length
  if (isPrivateTag(tag)) {
    if (isPrivateCreator(tag)) return 'LO';
    const creatorTag = privateCreatorTag(tag);
    const creator = creatorTag === undefined ? undefined : ds.elements.get(creatorTag);
    if (!creator) return 'UN';
    const name = Buffer.from(ds.bytes.buffer, ds.bytes.byteOffset + creator.offset, creator.length).toString('latin1').replace(/[\0 ]+$/, '');
    return privateElementVr(name, tag) ?? 'UN';
  }
  const listed = lookupTag(tag)?.vr;
  if (!listed) return 'UN';
  // Only these wait for the data set's end: "OB or OW" in implicit VR is OW whatever the pixels (PS3.5 A.1).
  if (listed === 'xs' || (listed === 'ox' && ds.explicitVr)) state.ambiguous++;
  return resolveAmbiguousVr(listed);
}

interface PixelContext {
  signed: boolean;
  bitsAllocated?: number;
}

/**
 * Settles "US or SS" (SS when Pixel Representation is 1, PS3.5 Annex A) and "OB or OW" (OW in implicit
 * VR, PS3.5 A.1; else by Bits Allocated or Waveform Bits Allocated) for the elements whose file left the
 * VR open. A data set's own Pixel Representation (an icon image's) wins over its parent's.
 */
export function settleAmbiguousVrs(ds: DicomDataSet, parent: PixelContext = { signed: false }): void {
  const representation = unsignedShort(ds, Tag.PixelRepresentation);
  const bitsAllocated = unsignedShort(ds, Tag.BitsAllocated);
  const context: PixelContext = {
    signed: representation === undefined ? parent.signed : representation === 1,
    bitsAllocated: bitsAllocated ?? parent.bitsAllocated,
  };
  for (const el of ds.elements.values()) {
    if (el.items) {
      for (const item of el.items) settleAmbiguousVrs(item, context);
      continue;
    }
    if ((ds.explicitVr && el.encodedVr !== 'UN') || el.fragments || isPrivateTag(el.tag)) continue;
    const listed = lookupTag(el.tag)?.vr;
    if (listed === 'xs') el.vr = context.signed ? 'SS' : 'US';
    else if (listed === 'ox' && ds.explicitVr) el.vr = wordVr(el, ds, context);
  }
}

/** "OB or OW" written as UN in explicit VR: OW when the samples it holds are wider than a byte. */
function wordVr(el: DicomElement, ds: DicomDataSet, context: PixelContext): string {
  const bits = el.tag >>> 16 === 0x5400 ? unsignedShort(ds, WAVEFORM_BITS_ALLOCATED) : el.tag >>> 16 >= 0x6000 && el.tag >>> 16 <= 0x60ff ? 16 : context.bitsAllocated;
  return bits !== undefined && bits > 8 && el.length % 2 === 0 ? 'OW' : 'OB';
}

/** The first value of a US element of `ds`, if it has one. */
export function unsignedShort(ds: DicomDataSet, tag: number): number | undefined {
  const el = ds.elements.get(tag);
  if (!el || el.length < 2) return undefined;
  return new DataView(ds.bytes.buffer, ds.bytes.byteOffset + el.offset, 2).getUint16(0, ds.littleEndian);
}
