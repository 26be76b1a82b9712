// Deflated data sets (Deflated Explicit VR Little Endian) inflated as a stream on libuv's thread pool,
// never past a limit: a few megabytes can inflate to gigabytes, and inflating them in one call would
// hold the event loop and all of that memory before any check could refuse them.
import { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { DEFAULT_MAX_INFLATED_BYTES, DicomParseError, parseDicom, readFileMeta, type ParsedDicom } from './parser.js';
import { transferSyntaxInfo } from './transfer-syntax.js';

const CHUNK = 1024 * 1024;

/** Inflates `deflated` as a stream, handing each piece of output to `take`; any failure is a DicomParseError. */
async function inflateInto(deflated: Uint8Array, take: (chunk: Buffer) => void): Promise<void> {
  const inflater = createInflateRaw({ chunkSize: CHUNK });
  try {
    for await (const chunk of Readable.from([deflated]).pipe(inflater) as AsyncIterable<Buffer>) take(chunk);
  } catch (e) {
    inflater.destroy();
    if (e instanceof DicomParseError) throw e;
    throw new DicomParseError(`deflated data set could not be inflated: ${(e as Error).message}`);
  }
}

/**
 * The inflated bytes, or a DicomParseError as soon as they pass `maxBytes` or the stream is corrupt. Two
 * passes: the first only counts (so a bomb costs CPU on the thread pool and no memory), the second
 * fills one buffer of the size found.
 */
export async function inflateBounded(deflated: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  let total = 0;
  await inflateInto(deflated, (chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw new DicomParseError(`the deflated data set inflates to more than ${maxBytes} bytes (the limit for deflated instances)`);
  });
  const out = new Uint8Array(total);
  let at = 0;
  await inflateInto(deflated, (chunk) => {
    out.set(chunk.subarray(0, Math.min(chunk.length, total - at)), at);
    at += chunk.length;
  });
  return out;
}

/** The inflated data set of a deflated file (off the event loop), or undefined for any other transfer syntax. */
export async function inflatedDataset(bytes: Uint8Array, maxBytes = DEFAULT_MAX_INFLATED_BYTES): Promise<Uint8Array | undefined> {
  const { transferSyntaxUID, datasetStart } = readFileMeta(bytes);
  if (!transferSyntaxInfo(transferSyntaxUID).deflated) return undefined;
  return inflateBounded(bytes.subarray(datasetStart), maxBytes);
}

/**
 * A stored file read whole, its data set inflated off the event loop if it is deflated. Stored files were
 * inflated within the limit when they were accepted; the limit here is only the largest buffer Node makes.
 */
export async function parseStoredDicom(bytes: Uint8Array): Promise<ParsedDicom> {
  return parseDicom(bytes, { inflated: await inflatedDataset(bytes, 2 ** 31 - 1) });
}
