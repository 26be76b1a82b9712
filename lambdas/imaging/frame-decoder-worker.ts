// A worker thread of the frame-decoding pool (frame-decoder-pool.ts): decodes one compressed frame with
// the codecs, apart from the thread that serves requests, so that a decoder that runs too long can be
// stopped and the WebAssembly memory it grew is given back.
import type { PixelModule } from './pixels.js';
import { decompressFrameHere, releaseCodecs, type NativeFrame } from './codecs.js';

export interface DecodeTask {
  bytes: Uint8Array;
  transferSyntaxUID: string;
  pm: PixelModule;
}

/** A worker whose codecs hold more memory than this after a frame drops them (reloaded on next use). */
const RELEASE_ABOVE_BYTES = 256 * 1024 * 1024;

export default async function decode({ bytes, transferSyntaxUID, pm }: DecodeTask): Promise<NativeFrame> {
  const frame = await decompressFrameHere(bytes, transferSyntaxUID, pm);
  if (process.memoryUsage().external > RELEASE_ABOVE_BYTES) releaseCodecs();
  // Copied back to the serving thread (structured clone): one copy of the decoded samples.
  return frame;
}
