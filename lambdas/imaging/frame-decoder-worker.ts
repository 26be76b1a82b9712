// A worker thread of the frame-decoding pool (frame-decoder-pool.ts): decodes one compressed frame with
// the codecs, apart from the thread that serves requests, so that a decoder that runs too long can be
// stopped and the WebAssembly memory it grew is given back.
import type { MessagePort } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { PixelModule } from './pixels.js';
import { decompressFrameHere, type NativeFrame } from './codecs.js';

export interface DecodeTask {
  bytes: Uint8Array;
  transferSyntaxUID: string;
  pm: PixelModule;
}

export default async function decode({ bytes, transferSyntaxUID, pm, started }: DecodeTask & { started?: MessagePort }): Promise<unknown> {
  // The time budget starts now (frame-decoder-pool.ts).
  started?.postMessage('started');
  started?.close();
  const frame = await decompressFrameHere(bytes, transferSyntaxUID, pm);
  // The decoded samples are moved to the serving thread, not copied (a frame can be tens of megabytes);
  // a view into memory the worker keeps (a codec's) is copied once into a buffer of its own first.
  const whole = frame.bytes.byteOffset === 0 && frame.bytes.byteLength === frame.bytes.buffer.byteLength && frame.bytes.buffer instanceof ArrayBuffer;
  const samples = whole ? frame.bytes : frame.bytes.slice();
  return move({
    get [transferableSymbol]() {
      return [samples.buffer];
    },
    get [valueSymbol](): NativeFrame {
      return { ...frame, bytes: samples };
    },
  });
}
