// Transcoding of stored instances for WADO-RS (PS3.18 8.7.3, 8.7.8.2): into Explicit VR Little Endian, the
// syntax served when a client names none (compressed pixel data decompressed frame by frame), and into the
// compressed syntaxes of ./encoders.ts (frames decompressed if need be, then encoded).
import { ReencodeError, reencodeInstance, textValue, unsignedShortValue, type ElementChanges, type ElementValue } from '../dicom/reencode.js';
import { tagToHex } from '../dicom/dictionary.js';
import { FrameLayoutError, assembleFrame, locateFrames, type FrameLayout } from '../dicom/frames.js';
import { datasetToJson, type DicomJson } from '../dicom/json-model.js';
import { parseStoredDicom } from '../dicom/inflate.js';
import { DicomParseError, type ParsedDicom } from '../dicom/parser.js';
import { Tag } from '../dicom/tags.js';
import { TransferSyntax, transferSyntaxInfo } from '../dicom/transfer-syntax.js';
import { DECODABLE_TRANSFER_SYNTAXES, UnsupportedEncodingError, decompressFrame, nativeFrame } from './codecs.js';
import { ENCODABLE_TRANSFER_SYNTAXES, compressFrame, lossyCompressionMethod } from './encoders.js';
import { frameDecodingConcurrency } from './frame-decoder-pool.js';
import { MemoryBudget } from './memory-budget.js';
import { pixelModuleOf, type PixelModule } from './pixels.js';

const ExtendedOffsetTable = 0x7fe00001;
const ExtendedOffsetTableLengths = 0x7fe00002;
const LossyImageCompression = 0x00282110;
const LossyImageCompressionRatio = 0x00282112;
const LossyImageCompressionMethod = 0x00282114;
/** Syntaxes that are lossy by definition; others (JPEG 2000, JPEG-LS near-lossless…) say so in the data set. */
const ALWAYS_LOSSY = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51']);

/** Whether frames stored in this syntax can be decoded (native ones need no decoding). */
function decodable(transferSyntaxUID: string): boolean {
  return !transferSyntaxInfo(transferSyntaxUID).encapsulated || DECODABLE_TRANSFER_SYNTAXES.has(transferSyntaxUID);
}

/** Uncompressed syntaxes instances can be written in (Explicit VR Big Endian is retired and not offered). */
const NATIVE_TARGETS: ReadonlySet<string> = new Set([TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.DeflatedExplicitVRLittleEndian]);

/** Whether instances (and frames) stored in one syntax can be served in another. */
export function canTranscode(from: string, to: string): boolean {
  return (NATIVE_TARGETS.has(to) || ENCODABLE_TRANSFER_SYNTAXES.has(to)) && decodable(from);
}

export interface FrameBytes {
  bytes: Uint8Array;
  /** Photometric Interpretation of `bytes`, which the codecs may have changed. */
  photometricInterpretation: string;
}

/**
 * One frame decompressed into the stored pixel description's layout (Bits Allocated, rows, columns,
 * samples), colour interleaved pixel by pixel (Planar Configuration 0); 1-bit frames packed from a byte boundary.
 */
export async function uncompressedFrame(frame: Uint8Array, transferSyntaxUID: string, pm: PixelModule): Promise<FrameBytes> {
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

export interface TranscodeOptions {
  /** Largest decompressed pixel data handled at once; larger instances are refused (MAX_DECOMPRESSED_BYTES). */
  maxDecompressedBytes: number;
}

async function parseReadable(file: Uint8Array): Promise<ParsedDicom> {
  try {
    return await parseStoredDicom(file);
  } catch (e) {
    // Stored files that only part of could be read (a truncated value after the header) cannot be re-encoded.
    if (e instanceof DicomParseError) throw new UnsupportedEncodingError(`its data set cannot be read completely (${e.message})`);
    throw e;
  }
}

/** Bytes of decompressed instances being transcoded at once; one larger than this is transcoded alone. */
export const TRANSCODE_BUDGET_BYTES = 64 * 1024 * 1024;
const transcodeBudget = new MemoryBudget(TRANSCODE_BUDGET_BYTES);

/**
 * The stored Part 10 file in another transfer syntax: Explicit VR Little Endian, or a compressed syntax of
 * ./encoders.ts, as consecutive buffers (the frames are not joined into one). Frames are decompressed
 * (when stored compressed) and re-encoded frame by frame, as many at once as there are decoding workers;
 * Photometric Interpretation and Planar Configuration then describe what the codec produced (PS3.5 8.2:
 * JPEG's YBR decodes to RGB; JPEG 2000's component transform is YBR_RCT), offset tables that belonged to
 * the stored encapsulation go, and a lossy encoding is recorded in Lossy Image Compression, its ratio and method.
 */
export async function transcodeInstance(file: Uint8Array, to: string, options: TranscodeOptions): Promise<Uint8Array[]> {
  const parsed = await parseReadable(file);
  const from = parsed.transferSyntaxUID;
  const ds = parsed.dataset;
  const pixelData = ds.elements.get(Tag.PixelData);
  const storedEncapsulated = transferSyntaxInfo(from).encapsulated && !!pixelData?.fragments;
  const decompressing = NATIVE_TARGETS.has(to);
  // Without pixel data (or with native pixel data, for the default syntax) only the encoding of the elements changes.
  if (!pixelData || (decompressing && !storedEncapsulated)) return reencoded(parsed, undefined, to);
  if (!canTranscode(from, to)) {
    throw new UnsupportedEncodingError(decompressing ? `frames in transfer syntax ${from} cannot be decompressed` : `instances cannot be encoded in transfer syntax ${to}`);
  }
  const layout = framesOf(parsed);
  const json = datasetToJson(ds, { inlineBinaryMax: 0 });
  const pm = pixelModuleOf(json);
  if (!decompressing && pm.bitsAllocated !== 8 && pm.bitsAllocated !== 16) {
    throw new UnsupportedEncodingError(`frames with ${pm.bitsAllocated} bits allocated cannot be compressed`);
  }
  const decompressedBytes = Math.ceil((pm.rows * pm.columns * pm.samplesPerPixel * pm.bitsAllocated * layout.frames.length) / 8);
  if (decompressedBytes > options.maxDecompressedBytes) {
    throw new UnsupportedEncodingError(`decompressed it would take ${decompressedBytes} bytes, more than the ${options.maxDecompressedBytes} this server decompresses at once (MAX_DECOMPRESSED_BYTES)`);
  }
  // Instances decompressed at once share one budget (a few concurrent requests for large instances would
  // otherwise add up to gigabytes); the rest of the request waits its turn.
  return transcodeBudget.run(decompressedBytes, async () => {
    // As many frames at once as there are workers to code them, kept in order.
    const frames = await inOrder(layout.frames.length, frameDecodingConcurrency(), (i) =>
      transcodeFrame(assembleFrame(layout, i, (r) => ds.bytes.subarray(r.offset, r.offset + r.length)), from, to, pm),
    );
    const bytes = frames.map((f) => f.bytes);
    const changes = new Map<number, ElementValue | null>([
      [ExtendedOffsetTable, null],
      [ExtendedOffsetTableLengths, null],
    ]);
    if (pm.samplesPerPixel > 1) changes.set(Tag.PlanarConfiguration, unsignedShortValue(0));
    if (frames[0]) changes.set(Tag.PhotometricInterpretation, textValue('CS', frames[0].photometricInterpretation));
    if (decompressing) {
      // The frames are written one after the other as they are: tens of megabytes are never copied into one buffer.
      const parts = pm.bitsAllocated === 1 ? [concatenateBits(bytes, pm.rows * pm.columns * pm.samplesPerPixel)] : bytes;
      changes.set(Tag.PixelData, { vr: pm.bitsAllocated > 8 ? 'OW' : 'OB', parts });
    } else {
      changes.set(Tag.PixelData, { vr: 'OB', frames: bytes });
      const lossyMethod = lossyCompressionMethod(to);
      if (lossyMethod) {
        const compressedBytes = bytes.reduce((n, b) => n + b.length, 0);
        recordLossyCompression(changes, json, (decompressedBytes / compressedBytes).toFixed(2), lossyMethod);
      }
    }
    if (ALWAYS_LOSSY.has(from) && !ds.elements.has(LossyImageCompression)) changes.set(LossyImageCompression, textValue('CS', '01'));
    return reencoded(parsed, changes, to);
  });
}

/** The frames of a stored instance; pixel data whose frames cannot be told apart cannot be converted. */
function framesOf(parsed: ParsedDicom): FrameLayout {
  try {
    const layout = locateFrames(parsed);
    if (layout) return layout;
  } catch (e) {
    if (!(e instanceof FrameLayoutError)) throw e;
    throw new UnsupportedEncodingError(`its frames cannot be located (${e.message})`);
  }
  throw new UnsupportedEncodingError('its Pixel Data has no frames that can be located');
}

/** What the re-encoder cannot write (encapsulated data in implicit VR) is a refusal with its reason. */
async function reencoded(parsed: ParsedDicom, changes: ElementChanges | undefined, to: string): Promise<Uint8Array[]> {
  try {
    return await reencodeInstance(parsed, changes, to);
  } catch (e) {
    if (e instanceof ReencodeError) throw new UnsupportedEncodingError(e.message);
    throw e;
  }
}

/** One frame from its stored syntax into another: decompressed (native frames are only normalised), then encoded unless `to` is uncompressed. */
export async function transcodeFrame(frame: Uint8Array, from: string, to: string, pm: PixelModule): Promise<FrameBytes> {
  const decoded = await uncompressedFrame(frame, from, pm);
  if (NATIVE_TARGETS.has(to)) return decoded;
  return compressFrame(nativeFrame(decoded.bytes, pm, decoded.photometricInterpretation, false), to);
}

/** `work` for 0…count-1, at most `concurrency` at a time, results in order; the first failure stops the rest. */
async function inOrder<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < count) {
      const i = next++;
      try {
        results[i] = await work(i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** PS3.3 C.7.6.1.1.5: once lossy, always "01"; each compression step adds its ratio and method, in order. */
function recordLossyCompression(changes: Map<number, ElementValue | null>, json: DicomJson, ratio: string, method: string): void {
  const earlier = (tag: number) => (json[tagToHex(tag)]?.Value ?? []).map(String);
  changes.set(LossyImageCompression, textValue('CS', '01'));
  changes.set(LossyImageCompressionRatio, textValue('DS', [...earlier(LossyImageCompressionRatio), ratio].join('\\')));
  changes.set(LossyImageCompressionMethod, textValue('CS', [...earlier(LossyImageCompressionMethod), method].join('\\')));
}
