// A worker thread of the frame-decoding pool (frame-decoder-pool.ts): decodes one compressed frame with
// the codecs, apart from the thread that serves requests, so that a decoder that runs too long can be
// stopped and the WebAssembly memory it grew is given back.
import type { PixelModule } from './pixels.js';
import { decompressFrameHere, type NativeFrame } from './codecs.js';

export interface DecodeTask {
  bytes: Uint8Array;
  transferSyntaxUID: string;
  pm: PixelModule;
}

export default async function decode({ bytes, transferSyntaxUID, pm }: DecodeTask): Promise<NativeFrame> {
  const frame = await decompressFrameHere(bytes, transferSyntaxUID, pm);
  // Copied back to the serving thread (structured clone): one copy of the decoded samples.
  return frame;
}
