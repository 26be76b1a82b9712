// Decompression to Explicit VR Little Endian: what WADO-RS serves when a client asks for no transfer
// syntax, or for 1.2.840.10008.1.2.1, and the instance is stored compressed (PS3.18 8.7.8.2, Table 8.7.3-2).
// Only decompression is offered: re-compressing into another syntax is answered 406 by the caller.
import { encodeExplicitLittleEndian, textValue, unsignedShortValue, type ElementValue } from '../dicom/explicit-le.js';
import { assembleFrame, locateFrames } from '../dicom/frames.js';
import { datasetToJson } from '../dicom/json-model.js';
import { DicomParseError, parseDicom, type ParsedDicom } from '../dicom/parser.js';
import { Tag } from '../dicom/tags.js';
import { transferSyntaxInfo } from '../dicom/transfer-syntax.js';
import { DECODABLE_TRANSFER_SYNTAXES, UnsupportedEncodingError, decompressFrame } from './codecs.js';
import { pixelModuleOf, type PixelModule } from './pixels.js';

const ExtendedOffsetTable = 0x7fe00001;
const ExtendedOffsetTableLengths = 0x7fe00002;
const LossyImageCompression = 0x00282110;
/** Syntaxes that are lossy by definition; others (JPEG 2000, JPEG-LS near-lossless…) say so in the data set. */
const ALWAYS_LOSSY = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51']);

/** Whether instances stored in this syntax can be served as Explicit VR Little Endian. */
export function canServeAsExplicitLittleEndian(transferSyntaxUID: string): boolean {
  return !transferSyntaxInfo(transferSyntaxUID).encapsulated || DECODABLE_TRANSFER_SYNTAXES.has(transferSyntaxUID);
}

export interface UncompressedFrame {
  bytes: Uint8Array;
  photometricInterpretation: string;
}

/**
 * One frame decompressed into the stored pixel description's layout (Bits Allocated, rows, columns,
 * samples), colour interleaved pixel by pixel (Planar Configuration 0); 1-bit frames packed from a byte boundary.
 */
export async function uncompressedFrame(frame: Uint8Array, transferSyntaxUID: string, pm: PixelModule): Promise<UncompressedFrame> {
  if (![1, 8, 16].includes(pm.bitsAllocated)) {
    throw new UnsupportedEncodingError(`compressed frames with ${pm.bitsAllocated} bits allocated cannot be decompressed`);
  }
  const decoded = await decompressFrame(frame, transferSyntaxUID, pm);
  if (decoded.rows !== pm.rows || decoded.columns !== pm.columns || decoded.samplesPerPixel !== pm.samplesPerPixel) {
    throw new UnsupportedEncodingError(
      `the codestream holds ${decoded.columns}×${decoded.rows}×${decoded.samplesPerPixel} samples but the data set declares ${pm.columns}×${pm.rows}×${pm.samplesPerPixel}`,
    );
  }
  const samples = pm.rows * pm.columns * pm.samplesPerPixel;
  const photometricInterpretation = decoded.photometricInterpretation;
  if (pm.bitsAllocated === 1) {
    const packed = decoded.bitsAllocated === 1 ? decoded.bytes.subarray(0, Math.ceil(samples / 8)) : packBits(decoded.bytes, decoded.bitsAllocated, samples);
    return { bytes: packed, photometricInterpretation };
  }
  let bytes = resample(decoded.bytes, decoded.bitsAllocated, pm.bitsAllocated, decoded.signed, samples);
  if (decoded.planar && pm.samplesPerPixel > 1) bytes = interleave(bytes, pm.samplesPerPixel, pm.bitsAllocated / 8);
  return { bytes, photometricInterpretation };
}

/** Sample values (8 or 16 bits each) as bits, least significant first, any non-zero value a 1. */
function packBits(values: Uint8Array, bitsAllocated: number, samples: number): Uint8Array {
  const step = bitsAllocated / 8;
  if (values.length < samples * step) throw new UnsupportedEncodingError(`the decoded frame has ${values.length} bytes, ${samples * step} expected`);
  const out = new Uint8Array(Math.ceil(samples / 8));
  for (let i = 0; i < samples; i++) {
    const set = step === 1 ? values[i] !== 0 : values[i * 2] !== 0 || values[i * 2 + 1] !== 0;
    if (set) out[i >> 3] |= 1 << (i & 7);
  }
  return out;
}

/** Colour planes (all red, all green, all blue) as pixels (RGB RGB …). */
function interleave(planes: Uint8Array, samplesPerPixel: number, bytesPerSample: number): Uint8Array {
  const pixels = planes.length / (samplesPerPixel * bytesPerSample);
  const out = new Uint8Array(planes.length);
  for (let s = 0; s < samplesPerPixel; s++) {
    for (let p = 0; p < pixels; p++) {
      for (let b = 0; b < bytesPerSample; b++) out[(p * samplesPerPixel + s) * bytesPerSample + b] = planes[(s * pixels + p) * bytesPerSample + b];
    }
  }
  return out;
}

/** 1-bit frames follow each other bit by bit in native Pixel Data, not from byte boundaries (PS3.5 8.1.1). */
function concatenateBits(frames: Uint8Array[], samplesPerFrame: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((frames.length * samplesPerFrame) / 8));
  frames.forEach((frame, f) => {
    for (let i = 0; i < samplesPerFrame; i++) {
      if ((frame[i >> 3] >> (i & 7)) & 1) {
        const at = f * samplesPerFrame + i;
        out[at >> 3] |= 1 << (at & 7);
      }
    }
  });
  return out;
}

/** Samples of `from` bits as samples of `to` bits (8 ↔ 16); a codec may output 16 bits for 8 allocated or the reverse. */
function resample(bytes: Uint8Array, from: number, to: number, signed: boolean, samples: number): Uint8Array {
  const needed = (samples * to) / 8;
  if (from === to) {
    if (bytes.length < needed) throw new UnsupportedEncodingError(`the decoded frame has ${bytes.length} bytes, ${needed} expected`);
    return bytes.subarray(0, needed);
  }
  if (bytes.length < (samples * from) / 8) throw new UnsupportedEncodingError(`the decoded frame has ${bytes.length} bytes, ${(samples * from) / 8} expected`);
  const out = new Uint8Array(needed);
  if (from === 8) {
    const view = new DataView(out.buffer);
    for (let i = 0; i < samples; i++) view.setInt16(i * 2, signed ? (bytes[i] << 24) >> 24 : bytes[i], true);
  } else {
    for (let i = 0; i < samples; i++) out[i] = bytes[i * 2];
  }
  return out;
}

/**
 * The stored Part 10 file as Explicit VR Little Endian. Encapsulated pixel data is decompressed frame by
 * frame; Photometric Interpretation and Planar Configuration then describe what the decoder produced
 * (PS3.5 8.2.1: JPEG's YBR becomes RGB), and offset tables that only apply to encapsulated data go.
 */
export async function toExplicitLittleEndian(file: Uint8Array, options: { maxDecompressedBytes: number }): Promise<Uint8Array> {
  let parsed: ParsedDicom;
  try {
    parsed = parseDicom(file);
  } catch (e) {
    // Stored files that only part of could be read (a truncated value after the header) cannot be re-encoded.
    if (e instanceof DicomParseError) throw new UnsupportedEncodingError(`its data set cannot be read completely (${e.message})`);
    throw e;
  }
  const syntax = parsed.transferSyntaxUID;
  const pixelData = parsed.dataset.elements.get(Tag.PixelData);
  if (!transferSyntaxInfo(syntax).encapsulated || !pixelData?.fragments) {
    // Native pixel data (or none): only the encoding of the elements changes.
    return encodeExplicitLittleEndian(parsed);
  }
  if (!DECODABLE_TRANSFER_SYNTAXES.has(syntax)) throw new UnsupportedEncodingError(`frames in transfer syntax ${syntax} cannot be decompressed`);
  const layout = locateFrames(parsed);
  if (!layout) throw new UnsupportedEncodingError('its encapsulated Pixel Data has no frames that can be located');
  const pm = pixelModuleOf(datasetToJson(parsed.dataset, { inlineBinaryMax: 0 }));
  const decompressedBytes = Math.ceil((pm.rows * pm.columns * pm.samplesPerPixel * pm.bitsAllocated * layout.frames.length) / 8);
  if (decompressedBytes > options.maxDecompressedBytes) {
    throw new UnsupportedEncodingError(`decompressed it would take ${decompressedBytes} bytes, more than the ${options.maxDecompressedBytes} this server decompresses at once (MAX_DECOMPRESSED_BYTES)`);
  }
  const ds = parsed.dataset;
  const frames: Uint8Array[] = [];
  let described: UncompressedFrame | undefined;
  for (let i = 0; i < layout.frames.length; i++) {
    const frame = assembleFrame(layout, i, (r) => ds.bytes.subarray(r.offset, r.offset + r.length));
    const decoded = await uncompressedFrame(frame, syntax, pm);
    described ??= decoded;
    frames.push(decoded.bytes);
  }
  const joined = pm.bitsAllocated === 1 ? [concatenateBits(frames, pm.rows * pm.columns * pm.samplesPerPixel)] : frames;
  const length = joined.reduce((n, f) => n + f.length, 0);
  const pixels = Buffer.concat(joined, length + (length % 2)); // zero-padded to even length
  const changes = new Map<number, ElementValue | null>([
    [Tag.PixelData, { vr: pm.bitsAllocated > 8 ? 'OW' : 'OB', bytes: pixels }],
    [ExtendedOffsetTable, null],
    [ExtendedOffsetTableLengths, null],
  ]);
  if (described) changes.set(Tag.PhotometricInterpretation, textValue('CS', described.photometricInterpretation));
  if (pm.samplesPerPixel > 1) changes.set(Tag.PlanarConfiguration, unsignedShortValue(0));
  if (ALWAYS_LOSSY.has(syntax) && !ds.elements.has(LossyImageCompression)) changes.set(LossyImageCompression, textValue('CS', '01'));
  return encodeExplicitLittleEndian(parsed, changes);
}

