// Compressed frames are decoded in worker threads (Piscina), never on the thread that serves requests:
// a codestream crafted to make a decoder run for seconds is stopped after FRAME_DECODE_TIMEOUT_MS (its
// worker is terminated, and with it whatever memory the decoder grew), and decoding does not hold up
// other requests. Piscina and the bundled worker are shipped beside the bundles that decode (with the
// codecs); where they are missing, decoding is refused like a missing codec.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import type { Piscina as PiscinaType } from 'piscina';
import type { NativeFrame } from './codecs.js';
import type { DecodeTask } from './frame-decoder-worker.js';

const require = createRequire(import.meta.url);

/** The package name under which the bundled worker is shipped in the codecs' node_modules (lib/constructs/codec-modules.ts). */
export const FRAME_DECODER_PACKAGE = 'cloud-pacs-frame-decoder';

/** Longest a frame may take to decode; set FRAME_DECODE_TIMEOUT_MS to change it. */
export function frameDecodeTimeoutMs(): number {
  const ms = Number(process.env.FRAME_DECODE_TIMEOUT_MS ?? 5000);
  return Number.isFinite(ms) && ms > 0 ? ms : 5000;
}

export class FrameDecodingUnavailable extends Error {}

function workerFile(): string {
  // From the sources (npm start, tests) the bootstrap loads the TypeScript worker; bundled runtimes ship it built.
  if (import.meta.url.endsWith('.ts')) return new URL('./frame-decoder-worker.bootstrap.mjs', import.meta.url).href;
  try {
    return pathToFileURL(require.resolve(FRAME_DECODER_PACKAGE)).href;
  } catch {
    throw new FrameDecodingUnavailable('the frame decoder is not installed beside this runtime');
  }
}

let pool: PiscinaType | undefined;

function decoderPool(): PiscinaType {
  if (pool) return pool;
  let Piscina: typeof PiscinaType;
  try {
    Piscina = (require('piscina') as { Piscina: typeof PiscinaType }).Piscina;
  } catch {
    throw new FrameDecodingUnavailable('piscina is not installed beside this runtime');
  }
  pool = new Piscina({
    filename: workerFile(),
    // Workers start with the first frames (loading a codec takes 0.1-0.3 s) and end after 10 s without
    // any: the WebAssembly memory their codecs grew, which no codec gives back, goes with them.
    // One core is left to the serving thread, which renders, encodes and parses while workers decode; each
    // worker holds its own codecs (a large JPEG XL frame grows one by 150 MB), so there are at most two.
    minThreads: 0,
    maxThreads: frameDecodingConcurrency(),
    idleTimeout: 10_000,
  });
  return pool;
}

/** How many frames are worth handing to the pool at once. */
export function frameDecodingConcurrency(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

/**
 * Decodes a compressed frame in a worker; rejects with an AbortError once the frame has been decoding for
 * longer than its time budget. The budget counts from when a worker takes the frame (it says so on a
 * port), not from when it was queued: frames waiting behind others under load are not refused for it.
 */
export async function decodeInWorker(task: DecodeTask): Promise<NativeFrame> {
  const bytes = new Uint8Array(task.bytes); // a copy of its own, handed over without another
  const stop = new AbortController();
  const { port1: started, port2: startedPort } = new MessageChannel();
  let budget: NodeJS.Timeout | undefined;
  started.once('message', () => (budget = setTimeout(() => stop.abort(), frameDecodeTimeoutMs())));
  started.unref();
  try {
    return (await decoderPool().run({ ...task, bytes, started: startedPort }, { transferList: [bytes.buffer, startedPort], signal: stop.signal })) as NativeFrame;
  } finally {
    clearTimeout(budget);
    started.close();
  }
}

/** Stops the workers (for a clean exit of tests and short-lived processes). */
export async function closeFrameDecoders(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.destroy();
}
