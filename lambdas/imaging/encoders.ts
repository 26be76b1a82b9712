// Frame compression into the transfer syntaxes a WADO-RS client may ask for (PS3.18 8.7.3), with
// dcmjs-codecs' WebAssembly build of the reference libraries (cornerstone's OpenJPH for HTJ2K).
// Everything but JPEG Baseline is encoded losslessly: a lossless codestream is valid in JPEG-LS
// near-lossless, JPEG 2000 and HTJ2K alike, so an archive never discards information it was not asked to.
import type { Context as CodecContext } from 'dcmjs-codecs';
import { codecContext, nativeCodecs } from './native-codecs.js';
import { UnsupportedEncodingError, wasm, type NativeFrame } from './codecs.js';

/** A frame in native little endian layout, colour pixel by pixel (Planar Configuration 0). */
export type FrameToEncode = Omit<NativeFrame, 'planar'>;

export interface EncodedFrame {
  bytes: Uint8Array;
  /** What the codestream holds: a colour transform inside the codec changes it (PS3.5 8.2). */
  photometricInterpretation: string;
}

type Codecs = Awaited<ReturnType<typeof nativeCodecs>>;

interface Encoding {
  /** Lossy by definition: the caller records Lossy Image Compression and its ratio and method. */
  lossyMethod?: string;
  /** Why this encoding cannot take such frames, beyond what every encoding requires. */
  refuses?(frame: EncodingInput): string | undefined;
  encode(frame: FrameToEncode): Promise<EncodedFrame>;
}

/** An encoding by dcmjs-codecs, which takes the frame in a codec context. */
function native(encode: (codecs: Codecs, context: CodecContext, frame: FrameToEncode) => EncodedFrame, limits: Omit<Encoding, 'encode'> = {}): Encoding {
  return {
    ...limits,
    async encode(frame) {
      const codecs = await nativeCodecs();
      return encode(codecs, codecContext(codecs, frame, { decodedBuffer: frame.bytes }), frame);
    },
  };
}

/** The codec's output, which must exist. */
function output(bytes: Uint8Array | undefined): Uint8Array {
  if (!bytes?.length) throw new UnsupportedEncodingError('the encoder returned no codestream');
  return bytes;
}

const same = (bytes: Uint8Array | undefined, frame: FrameToEncode): EncodedFrame => ({ bytes: output(bytes), photometricInterpretation: frame.photometricInterpretation });

// Predictor 1 (selection value 1) is what 1.2.840.10008.1.2.4.70 requires and 4.57 allows. Colour is
// coded as RGB components (an Adobe marker says there is no transform).
const jpegLossless = native(({ NativeCodecs }, context, frame) => same(NativeCodecs.encodeJpeg(context, { lossy: false, predictor: 1, pointTransform: 0 }).getEncodedBuffer(), frame));
const jpegLs = native(({ NativeCodecs }, context, frame) => same(NativeCodecs.encodeJpegLs(context, { lossy: false }).getEncodedBuffer(), frame));
const rle = native(({ NativeCodecs }, context, frame) => same(NativeCodecs.encodeRle(context, {}).getEncodedBuffer(), frame));
// OpenJPEG codes colour through the reversible component transform: YBR_RCT (PS3.5 8.2.4).
const jpeg2000 = native(({ NativeCodecs }, context, frame) => {
  const bytes = output(NativeCodecs.encodeJpeg2000(context, { lossy: false }).getEncodedBuffer());
  const transformed = frame.samplesPerPixel === 3 && multipleComponentTransform(bytes);
  return { bytes, photometricInterpretation: transformed ? 'YBR_RCT' : frame.photometricInterpretation };
});
const jpegBaseline = native(({ NativeCodecs, constants }, context, frame) => {
  const bytes = output(NativeCodecs.encodeJpeg(context, { lossy: true, quality: 90, sampleFactor: constants.JpegSampleFactor.Sf444 }).getEncodedBuffer());
  // libjpeg codes colour as YCbCr without subsampling (a JFIF stream): YBR_FULL (PS3.5 8.2.1).
  return { bytes, photometricInterpretation: frame.samplesPerPixel === 3 ? 'YBR_FULL' : frame.photometricInterpretation };
}, {
  lossyMethod: 'ISO_10918_1',
  refuses: (frame) => {
    if (frame.bitsAllocated !== 8 || frame.signed) return 'JPEG Baseline holds unsigned 8-bit samples only';
    if (frame.photometricInterpretation === 'PALETTE COLOR') return 'palette indices cannot be compressed lossily';
    return undefined;
  },
});

interface Htj2kEncoder {
  getDecodedBuffer(info: { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean; isUsingColorTransform: boolean }): Uint8Array;
  setQuality(lossless: boolean, quantizationStep: number): void;
  setProgressionOrder(order: number): void;
  setTLMMarker(on: boolean): void;
  setTilePartDivisionsAtResolutions(on: boolean): void;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete?(): void;
}

const RPCL = 2; // ISO/IEC 15444-1 Table A.16

/**
 * HTJ2K by OpenJPH (cornerstone's build), whose codestream precision is Bits Stored as PS3.5 8.2.14
 * expects. The RPCL option (1.2.840.10008.1.2.4.202) orders packets resolution first, marks tile-part
 * lengths (TLM) and starts a tile-part at each resolution, so that a viewer can fetch and show a frame
 * progressively, lowest resolution first.
 */
function htj2k(rpcl: boolean): Encoding {
  return {
    async encode(frame) {
      const module = await wasm<Htj2kEncoder>('@cornerstonejs/codec-openjph/wasmjs');
      const encoder = new module.HTJ2KEncoder();
      try {
        const colourTransform = frame.samplesPerPixel === 3 && frame.photometricInterpretation === 'RGB';
        const input = encoder.getDecodedBuffer({
          width: frame.columns,
          height: frame.rows,
          bitsPerSample: frame.bitsStored,
          componentCount: frame.samplesPerPixel,
          isSigned: frame.signed,
          isUsingColorTransform: colourTransform,
        });
        input.set(frame.bytes.subarray(0, input.length));
        encoder.setQuality(true, 0);
        if (rpcl) {
          encoder.setProgressionOrder(RPCL);
          encoder.setTLMMarker(true);
          encoder.setTilePartDivisionsAtResolutions(true);
        }
        encoder.encode();
        return { bytes: new Uint8Array(output(encoder.getEncodedBuffer())), photometricInterpretation: colourTransform ? 'YBR_RCT' : frame.photometricInterpretation };
      } finally {
        encoder.delete?.();
      }
    },
  };
}

/** The COD marker segment's multiple component transformation flag (ISO/IEC 15444-1 A.6.1). */
function multipleComponentTransform(codestream: Uint8Array): boolean {
  for (let i = 2; i + 4 <= codestream.length; ) {
    if (codestream[i] !== 0xff) return false;
    const marker = codestream[i + 1];
    if (marker === 0x90) return false; // start of tile: the main header is over
    const length = (codestream[i + 2] << 8) | codestream[i + 3];
    if (marker === 0x52) return codestream[i + 8] === 1; // Scod, progression order, layers (2), MCT
    i += 2 + length;
  }
  return false;
}

const ENCODINGS: Record<string, Encoding> = {
  '1.2.840.10008.1.2.5': rle,
  '1.2.840.10008.1.2.4.50': jpegBaseline,
  '1.2.840.10008.1.2.4.57': jpegLossless,
  '1.2.840.10008.1.2.4.70': jpegLossless,
  '1.2.840.10008.1.2.4.80': jpegLs,
  '1.2.840.10008.1.2.4.81': jpegLs,
  '1.2.840.10008.1.2.4.90': jpeg2000,
  '1.2.840.10008.1.2.4.91': jpeg2000,
  '1.2.840.10008.1.2.4.201': htj2k(false),
  '1.2.840.10008.1.2.4.202': htj2k(true),
  '1.2.840.10008.1.2.4.203': htj2k(false),
};

/** Compressed transfer syntaxes frames can be encoded in. */
export const ENCODABLE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set(Object.keys(ENCODINGS));

/** The Lossy Image Compression Method (0028,2114) an encoding into this syntax implies, if it is lossy. */
export function lossyCompressionMethod(transferSyntaxUID: string): string | undefined {
  return ENCODINGS[transferSyntaxUID]?.lossyMethod;
}

const SUBSAMPLED = /^YBR_(FULL_422|PARTIAL_42[02])$/;

/** What decides whether frames can be encoded in a syntax, known from the metadata before any decoding. */
export type EncodingInput = Pick<FrameToEncode, 'bitsAllocated' | 'signed' | 'photometricInterpretation'>;

/** Why frames described so cannot be encoded in this syntax, or undefined when they can. */
export function encodingRefusal(frame: EncodingInput, transferSyntaxUID: string): string | undefined {
  if (!ENCODINGS[transferSyntaxUID]) return `frames cannot be encoded in transfer syntax ${transferSyntaxUID}`;
  if (frame.bitsAllocated !== 8 && frame.bitsAllocated !== 16) return `frames with ${frame.bitsAllocated} bits allocated cannot be compressed`;
  if (SUBSAMPLED.test(frame.photometricInterpretation)) return `${frame.photometricInterpretation} samples cannot be compressed again`;
  return ENCODINGS[transferSyntaxUID].refuses?.(frame);
}

/** Whether every sample lies in the range Bits Stored (and Pixel Representation) gives it. */
function fitsBitsStored(frame: FrameToEncode): boolean {
  if (frame.bitsStored >= frame.bitsAllocated) return true;
  // Native pixel data can start at an odd offset in the file (after an odd-length element); a view of 16-bit samples needs an even one.
  const bytes = frame.bytes.byteOffset % 2 ? new Uint8Array(frame.bytes) : frame.bytes;
  const samples = frame.bitsAllocated === 16 ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1) : bytes;
  const width = frame.bitsAllocated;
  const high = frame.signed ? 2 ** (frame.bitsStored - 1) - 1 : 2 ** frame.bitsStored - 1;
  const low = frame.signed ? 2 ** width - 2 ** (frame.bitsStored - 1) : 2 ** width; // sign-extended negatives start here
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i];
    if (v > high && v < low) return false;
  }
  return true;
}

export async function compressFrame(frame: FrameToEncode, transferSyntaxUID: string): Promise<EncodedFrame> {
  const refusal = encodingRefusal(frame, transferSyntaxUID);
  if (refusal) throw new UnsupportedEncodingError(refusal);
  // Samples with bits set above Bits Stored (overlays in the pixel data, or a header that understates them)
  // would be cut by a codec working at that precision: such frames are coded at Bits Allocated instead.
  const input = fitsBitsStored(frame) ? frame : { ...frame, bitsStored: frame.bitsAllocated };
  try {
    const encoded = await ENCODINGS[transferSyntaxUID].encode(input);
    return { ...encoded, bytes: new Uint8Array(encoded.bytes) }; // out of WebAssembly memory
  } catch (e) {
    throw new UnsupportedEncodingError(`the frame could not be encoded as ${transferSyntaxUID}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
