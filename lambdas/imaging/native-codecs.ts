// dcmjs-codecs: one WebAssembly build of the reference codec libraries (the IJG libjpeg that DCMTK uses,
// with 8-, 12- and 16-bit sample paths; CharLS; OpenJPEG; OpenJPH; libjxl; RLE). The cornerstone builds
// decode everything else; this one covers what they cannot: 12-bit DCT JPEG, and every encoder.
// Loaded with require() on first use, like the other codecs, so that bundles which never transcode never carry it.
import { createRequire } from 'node:module';
import type * as DcmjsCodecs from 'dcmjs-codecs';
import type { NativeFrame } from './codecs.js';

const require = createRequire(import.meta.url);
let loaded: Promise<typeof DcmjsCodecs> | undefined;

export function nativeCodecs(): Promise<typeof DcmjsCodecs> {
  loaded ??= (async () => {
    const codecs = require('dcmjs-codecs') as typeof DcmjsCodecs;
    codecs.log.setLevel('error'); // it logs every codec call at info level otherwise
    await codecs.NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false });
    return codecs;
  })();
  return loaded;
}

/** What dcmjs-codecs needs to know of a frame. */
export type FrameDescription = Omit<NativeFrame, 'bytes' | 'planar'>;

/** A codec context for one frame, colour pixel by pixel, with its encoded or its decoded bytes. */
export function codecContext(
  codecs: typeof DcmjsCodecs,
  frame: FrameDescription,
  buffers: { encodedBuffer: Uint8Array } | { decodedBuffer: Uint8Array },
): DcmjsCodecs.Context {
  return new codecs.Context({
    width: frame.columns,
    height: frame.rows,
    bitsAllocated: frame.bitsAllocated,
    bitsStored: frame.bitsStored,
    samplesPerPixel: frame.samplesPerPixel,
    pixelRepresentation: frame.signed ? 1 : 0,
    planarConfiguration: 0,
    photometricInterpretation: frame.photometricInterpretation,
    ...buffers,
  });
}
