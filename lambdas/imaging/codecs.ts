// Frame decoding for every transfer syntax the archive can render, with maintained codec packages:
// the cornerstone WASM builds of libjpeg-turbo, CharLS, OpenJPEG, OpenJPH and libjxl, jpeg-lossless-decoder-js,
// dcmjs-codecs' IJG libjpeg for 12-bit DCT JPEG, and our own RLE (PS3.5 Annex G). Codecs load on first
// use, so functions that never render never pay.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import type { PixelModule } from './pixels.js';
import { codecContext, nativeCodecs } from './native-codecs.js';
import { decodeInWorker, frameDecodeTimeoutMs } from './frame-decoder-pool.js';
import { decodeRle } from './rle.js';
import { MAX_DECODED_FRAME_BYTES, frameDecodingRefusal } from './frame-budget.js';
import { transferSyntaxInfo } from '../dicom/transfer-syntax.js';

const require = createRequire(import.meta.url);

/**
 * A package loaded at run time rather than bundled (functions that never decode or render do not carry
 * it): beside the bundle in the streaming runtime and the pixel-decoding AI workers, from node_modules
 * locally. Where it is missing the request is refused with the reason instead of failing.
 */
export function runtimePackage<T>(name: string): T {
  try {
    return require(name) as T;
  } catch (e) {
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND') throw new UnsupportedEncodingError(`${name} is not installed beside this runtime`);
    throw e;
  }
}

export interface DecodedFrame {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  /** Photometric interpretation of `values` (a JPEG decoder may already have turned YBR into RGB). */
  photometricInterpretation: string;
  /** Colour samples plane by plane instead of pixel by pixel. */
  planar: boolean;
  values: Int32Array | Float32Array | Float64Array | Uint8Array | Uint16Array | Int16Array | Int8Array | Uint32Array;
}

export class UnsupportedEncodingError extends Error {}

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  /** JPEG-LS only: 0 means the components come one after the other (planar). */
  getInterleaveMode?(): number;
  delete?(): void;
}
type WasmModule<T = WasmDecoder> = Record<string, new () => T>;

const modules = new Map<string, Promise<WasmModule<unknown>>>();
/** A cornerstone codec package's Emscripten module, loaded once; its classes are the decoders (and encoders). */
export function wasm<T = WasmDecoder>(pkg: string, wasmFile?: string): Promise<WasmModule<T>> {
  let m = modules.get(pkg);
  if (!m) {
    type Factory = (options?: object) => Promise<WasmModule>;
    const loaded = require(pkg) as Factory | { default: Factory }; // CommonJS builds, and the ES module of libjxl
    const factory = typeof loaded === 'function' ? loaded : loaded.default;
    // Builds made for browsers fetch their .wasm by URL; in Node we hand them its bytes.
    const wasmBinary = wasmFile ? readFileSync(require.resolve(wasmFile)) : undefined;
    m = factory({ print: () => undefined, printErr: () => undefined, wasmBinary }); // OpenJPEG logs every header otherwise
    modules.set(pkg, m);
  }
  return m as Promise<WasmModule<T>>;
}

async function decodeWith(pkg: string, decoderName: string, bytes: Uint8Array, wasmFile?: string) {
  const module = await wasm(pkg, wasmFile);
  const decoder = new module[decoderName]();
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
    const info = decoder.getFrameInfo();
    const planar = info.componentCount > 1 && decoder.getInterleaveMode?.() === 0;
    // Copy out of WASM memory before the decoder is freed.
    return { info, planar, data: new Uint8Array(decoder.getDecodedBuffer()) };
  } finally {
    decoder.delete?.();
  }
}

/** Typed sample values from little endian native bytes. */
function samplesFrom(bytes: Uint8Array, bitsAllocated: number, bitsStored: number, signed: boolean, float: boolean): DecodedFrame['values'] {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
  const buffer = aligned.buffer;
  const offset = aligned.byteOffset;
  if (float) return bitsAllocated === 64 ? new Float64Array(buffer, offset, aligned.length / 8) : new Float32Array(buffer, offset, aligned.length / 4);
  if (bitsAllocated <= 8) {
    const out = signed ? new Int8Array(buffer, offset, aligned.length) : aligned;
    return bitsStored < 8 && !signed ? out.map((x) => x & ((1 << bitsStored) - 1)) : out;
  }
  const raw = bitsAllocated === 16 ? new Uint16Array(buffer, offset, aligned.length >> 1) : new Uint32Array(buffer, offset, aligned.length >> 2);
  const values = new Int32Array(raw.length);
  const mask = bitsStored >= 32 ? 0xffffffff : (2 ** bitsStored) - 1;
  const signBit = 2 ** (bitsStored - 1);
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i] & mask;
    values[i] = signed && v >= signBit ? v - 2 ** bitsStored : v;
  }
  return values;
}

function unpackBits(bytes: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (bytes[i >> 3] >> (i & 7)) & 1;
  return out;
}

/** YBR_FULL_422 native data: Y1 Y2 Cb Cr per pair of pixels; expanded to YBR_FULL pixel by pixel. */
function expand422(bytes: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0, i = 0; p + 1 < pixels + 1 && i + 3 < bytes.length; p += 2, i += 4) {
    out.set([bytes[i], bytes[i + 2], bytes[i + 3]], p * 3);
    if (p + 1 < pixels) out.set([bytes[i + 1], bytes[i + 2], bytes[i + 3]], (p + 1) * 3);
  }
  return out;
}

/**
 * A frame's samples as native little endian bytes, pixel by pixel or plane by plane, with the geometry
 * and photometric interpretation the decoder produced (a JPEG decoder turns YBR into RGB, for example).
 */
export interface NativeFrame {
  bytes: Uint8Array;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  /** Bits per sample in `bytes`: the stored Bits Allocated for native data, 8 or 16 from a codec. */
  bitsAllocated: number;
  /** Significant bits per sample. */
  bitsStored: number;
  signed: boolean;
  photometricInterpretation: string;
  planar: boolean;
}

/** A frame of native samples as the pixel module describes them. */
export function nativeFrame(bytes: Uint8Array, pm: PixelModule, photometric = pm.photometricInterpretation, planar = pm.planarConfiguration === 1): NativeFrame {
  return {
    bytes,
    rows: pm.rows,
    columns: pm.columns,
    samplesPerPixel: pm.samplesPerPixel,
    bitsAllocated: pm.bitsAllocated,
    bitsStored: pm.bitsStored,
    signed: pm.pixelRepresentation === 1,
    photometricInterpretation: photometric,
    planar,
  };
}

async function fromCodec(
  pkg: string,
  decoderName: string,
  bytes: Uint8Array,
  pm: PixelModule,
  colourOut: (photometric: string) => string,
  wasmFile?: string,
): Promise<NativeFrame> {
  const { info, planar, data } = await decodeWith(pkg, decoderName, bytes, wasmFile);
  const bits = info.bitsPerSample > 8 ? 16 : 8;
  return {
    bytes: data,
    rows: info.height,
    columns: info.width,
    samplesPerPixel: info.componentCount,
    bitsAllocated: bits,
    bitsStored: Math.min(info.bitsPerSample, bits),
    signed: pm.pixelRepresentation === 1 || !!info.isSigned,
    photometricInterpretation: info.componentCount === 3 ? colourOut(pm.photometricInterpretation) : pm.photometricInterpretation,
    planar,
  };
}

/** Decodes one frame into sample values for rendering; any decoder failure becomes an UnsupportedEncodingError naming it. */
export async function decodeFrame(bytes: Uint8Array, transferSyntaxUID: string, pm: PixelModule): Promise<DecodedFrame> {
  const frame = await decompressFrame(bytes, transferSyntaxUID, pm);
  const base = {
    rows: frame.rows,
    columns: frame.columns,
    samplesPerPixel: frame.samplesPerPixel,
    photometricInterpretation: frame.photometricInterpretation,
    planar: frame.planar,
  };
  const pixels = frame.rows * frame.columns;
  if (frame.bitsAllocated === 1) return { ...base, values: unpackBits(frame.bytes, pixels * frame.samplesPerPixel) };
  if (frame.photometricInterpretation === 'YBR_FULL_422' && frame.bitsAllocated === 8) {
    return { ...base, photometricInterpretation: 'YBR_FULL', planar: false, values: expand422(frame.bytes, pixels) };
  }
  return { ...base, values: samplesFrom(frame.bytes, frame.bitsAllocated, frame.bitsStored, frame.signed, pm.floatPixels) };
}

/**
 * The frame's samples as native bytes, whatever its transfer syntax; failures become UnsupportedEncodingErrors.
 * Compressed frames are decoded in a worker thread within a time budget (frame-decoder-pool.ts).
 */
export async function decompressFrame(bytes: Uint8Array, transferSyntaxUID: string, pm: PixelModule): Promise<NativeFrame> {
  if (DECODERS[transferSyntaxUID] === decodeNative) return decompressFrameHere(bytes, transferSyntaxUID, pm);
  try {
    return await decodeInWorker({ bytes, transferSyntaxUID, pm });
  } catch (e) {
    const error = e as Error;
    if (error.name === 'AbortError') throw new UnsupportedEncodingError(`decoding the frame as ${transferSyntaxUID} took longer than ${frameDecodeTimeoutMs()} ms and was stopped`);
    // The worker's refusals and decoder failures arrive as plain errors with their messages.
    throw new UnsupportedEncodingError(error.message);
  }
}

/** decompressFrame on this thread: what the decoding worker runs. */
export async function decompressFrameHere(bytes: Uint8Array, transferSyntaxUID: string, pm: PixelModule): Promise<NativeFrame> {
  const refusal = frameDecodingRefusal(bytes, transferSyntaxInfo(transferSyntaxUID).frameMediaType, pm);
  if (refusal) throw new UnsupportedEncodingError(`the frame is not decoded: ${refusal}`);
  try {
    return await decodeWithSyntax(bytes, transferSyntaxUID, pm);
  } catch (e) {
    if (e instanceof UnsupportedEncodingError) throw e;
    throw new UnsupportedEncodingError(`the frame could not be decoded as ${transferSyntaxUID}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

type FrameDecoder = (bytes: Uint8Array, pm: PixelModule) => Promise<NativeFrame> | NativeFrame;

const decodeNative: FrameDecoder = (bytes, pm) => nativeFrame(bytes, pm); // little endian whatever the stored byte order
const decodeJpeg2000: FrameDecoder = (bytes, pm) =>
  // OpenJPEG undoes the multiple-component transform: YBR_ICT / YBR_RCT come out as RGB.
  fromCodec('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder', bytes, pm, (p) => (p.startsWith('YBR_R') || p.startsWith('YBR_I') ? 'RGB' : p));
const decodeHtj2k: FrameDecoder = (bytes, pm) =>
  fromCodec('@cornerstonejs/codec-openjph/wasmjs', 'HTJ2KDecoder', bytes, pm, (p) => (p.startsWith('YBR_R') || p.startsWith('YBR_I') ? 'RGB' : p));
const decodeJpegLs: FrameDecoder = (bytes, pm) => fromCodec('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder', bytes, pm, (p) => p);
// JPEG XL (including losslessly recompressed JPEG, which libjxl decodes to the original's pixels, RGB for colour).
const decodeJpegXl: FrameDecoder = (bytes, pm) =>
  fromCodec('@cornerstonejs/codec-libjxl/decodewasmjs', 'JpegXLDecoder', bytes, pm, () => 'RGB', '@cornerstonejs/codec-libjxl/decodewasm');

/** The decoder of each transfer syntax this module can decode. */
const DECODERS: Record<string, FrameDecoder> = {
  '1.2.840.10008.1.2': decodeNative,
  '1.2.840.10008.1.2.1': decodeNative,
  '1.2.840.10008.1.2.2': decodeNative,
  '1.2.840.10008.1.2.1.99': decodeNative,
  '1.2.840.10008.1.2.1.98': decodeNative,
  '1.2.840.10008.1.2.8.1': (bytes, pm) => nativeFrame(new Uint8Array(inflateRawSync(bytes, { maxOutputLength: MAX_DECODED_FRAME_BYTES })), pm),
  // RLE segments come out sample by sample and are interleaved by the decoder.
  '1.2.840.10008.1.2.5': (bytes, pm) => nativeFrame(decodeRle(bytes, pm.rows, pm.columns, pm.samplesPerPixel, pm.bitsAllocated), pm, pm.photometricInterpretation, false),
  '1.2.840.10008.1.2.4.50': decodeJpeg,
  '1.2.840.10008.1.2.4.51': decodeJpeg,
  '1.2.840.10008.1.2.4.53': decodeJpeg,
  '1.2.840.10008.1.2.4.55': decodeJpeg,
  '1.2.840.10008.1.2.4.57': decodeJpeg,
  '1.2.840.10008.1.2.4.70': decodeJpeg,
  '1.2.840.10008.1.2.4.80': decodeJpegLs,
  '1.2.840.10008.1.2.4.81': decodeJpegLs,
  '1.2.840.10008.1.2.4.90': decodeJpeg2000,
  '1.2.840.10008.1.2.4.91': decodeJpeg2000,
  '1.2.840.10008.1.2.4.201': decodeHtj2k,
  '1.2.840.10008.1.2.4.202': decodeHtj2k,
  '1.2.840.10008.1.2.4.203': decodeHtj2k,
  '1.2.840.10008.1.2.4.110': decodeJpegXl,
  '1.2.840.10008.1.2.4.111': decodeJpegXl,
  '1.2.840.10008.1.2.4.112': decodeJpegXl,
};

/** Transfer syntaxes whose frames this module can decode. */
export const DECODABLE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set(Object.keys(DECODERS));

async function decodeWithSyntax(bytes: Uint8Array, transferSyntaxUID: string, pm: PixelModule): Promise<NativeFrame> {
  const decoder = DECODERS[transferSyntaxUID];
  if (!decoder) throw new UnsupportedEncodingError(`frames in transfer syntax ${transferSyntaxUID} cannot be decoded`);
  return decoder(bytes, pm);
}

/** The codestream's own start-of-frame marker decides the decoder: writers do label DCT JPEG as lossless. */
function jpegFrameType(bytes: Uint8Array): { lossless: boolean; precision: number } | undefined {
  for (let i = 2; i + 9 < bytes.length; ) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { lossless: marker === 0xc3 || marker === 0xc7 || marker === 0xcb || marker === 0xcf, precision: bytes[i + 4] };
    }
    i += 2 + ((bytes[i + 2] << 8) | bytes[i + 3]);
  }
  return undefined;
}

async function decodeJpeg(bytes: Uint8Array, pm: PixelModule): Promise<NativeFrame> {
  const frame = jpegFrameType(bytes);
  if (!frame) throw new UnsupportedEncodingError('the JPEG codestream has no start-of-frame marker');
  if (frame.lossless) return decodeJpegLossless(bytes, pm);
  if (frame.precision > 8) return decodeJpegExtended(bytes, pm);
  // libjpeg-turbo converts YCbCr to RGB itself.
  return fromCodec('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder', bytes, pm, () => 'RGB');
}

/** DCT JPEG with 12-bit samples (processes 2 & 4 and the retired ones that share them): IJG libjpeg's 12-bit path. */
async function decodeJpegExtended(bytes: Uint8Array, pm: PixelModule): Promise<NativeFrame> {
  const codecs = await nativeCodecs();
  const description = { ...pm, bitsAllocated: 16, signed: pm.pixelRepresentation === 1 };
  const decoded = codecs.NativeCodecs.decodeJpeg(codecContext(codecs, description, { encodedBuffer: bytes }), { convertColorspaceToRgb: true }).getDecodedBuffer();
  if (!decoded) throw new UnsupportedEncodingError('the 12-bit JPEG decoder returned no samples');
  // Copied out of WebAssembly memory; 16 bits per sample, colour converted to RGB and interleaved.
  const frame = nativeFrame(new Uint8Array(decoded), pm, pm.samplesPerPixel === 3 ? 'RGB' : pm.photometricInterpretation, false);
  return { ...frame, bitsAllocated: 16, bitsStored: Math.min(pm.bitsStored, 16) };
}

async function decodeJpegLossless(bytes: Uint8Array, pm: PixelModule): Promise<NativeFrame> {
  const bytesPerSample = pm.bitsAllocated > 8 ? 2 : 1;
  const copy = new Uint8Array(bytes); // the decoder reads through a DataView over the whole buffer
  const { Decoder } = runtimePackage<typeof import('jpeg-lossless-decoder-js')>('jpeg-lossless-decoder-js');
  const decoded = new Decoder().decode(copy.buffer, 0, copy.length, bytesPerSample);
  const bytesOut = ArrayBuffer.isView(decoded) ? new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength) : new Uint8Array(decoded);
  return nativeFrame(bytesOut, pm, pm.samplesPerPixel === 3 ? 'RGB' : pm.photometricInterpretation, false);
}
