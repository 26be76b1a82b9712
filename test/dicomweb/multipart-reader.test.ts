// The streaming multipart reader STOW-RS uses: parts come out exactly as sent however the body is cut into
// chunks (including content that nearly matches the boundary), and malformed bodies are refused with a reason.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MultipartFormatError, MultipartLimitError, readMultipart, type MultipartLimits } from '../../lambdas/dicomweb/http/multipart-reader.js';

const BOUNDARY = 'DICOMwebBoundary-1234';
const LIMITS: MultipartLimits = { maxHeaderSize: 1024, maxPartSize: 1 << 20, maxTotalSize: 4 << 20, maxParts: 100 };

interface Part {
  headers: Record<string, string>;
  content: Buffer;
}

function body(parts: Part[], options: { preamble?: string; epilogue?: string } = {}): Buffer {
  const pieces: Buffer[] = [Buffer.from(options.preamble ?? '')];
  for (const p of parts) {
    const head = Object.entries(p.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    pieces.push(Buffer.from(`--${BOUNDARY}\r\n${head}\r\n`), p.content, Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${BOUNDARY}--${options.epilogue ?? '\r\n'}`));
  return Buffer.concat(pieces);
}

async function* chunks(bytes: Buffer, cuts: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    if (cut > at) yield bytes.subarray(at, cut);
    at = Math.max(at, cut);
  }
  if (at < bytes.length) yield bytes.subarray(at);
}

async function read(stream: AsyncIterable<Uint8Array>, limits = LIMITS): Promise<Part[]> {
  const parts: Part[] = [];
  let pieces: Uint8Array[] = [];
  let headers: Record<string, string> = {};
  for await (const event of readMultipart(stream, BOUNDARY, limits)) {
    if (event.type === 'headers') [headers, pieces] = [event.headers, []];
    else if (event.type === 'data') pieces.push(event.bytes);
    else parts.push({ headers, content: Buffer.concat(pieces) });
  }
  return parts;
}

// Content built from pieces of the delimiter itself, so that near-matches cross chunk edges.
const tricky = fc
  .array(fc.oneof(fc.constantFrom('\r', '\n', '\r\n', '--', `\r\n--${BOUNDARY.slice(0, 9)}`, `--${BOUNDARY}`, `\r\n-${BOUNDARY}`), fc.string({ maxLength: 20 })), { maxLength: 30 })
  .map((s) => Buffer.from(s.join(''), 'latin1'))
  // What a sender may not put in a part (RFC 2046 5.1.1): its delimiter.
  .filter((b) => !b.includes(`\r\n--${BOUNDARY}`) && !b.subarray(0, BOUNDARY.length + 2).equals(Buffer.from(`--${BOUNDARY}`)));

describe('the streaming multipart reader', () => {
  it('gives back every part exactly, however the body is cut', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ type: fc.constantFrom('application/dicom', 'application/octet-stream'), content: tricky }), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 40 }), async (given, cuts) => {
        const parts = given.map((g) => ({ headers: { 'content-type': g.type }, content: g.content }));
        expect(await read(chunks(body(parts), cuts))).toEqual(parts);
      }),
      { numRuns: 300, seed: 20261207 },
    );
  });

  it('takes a preamble, an epilogue, parts without headers and folded header lines', async () => {
    const raw = Buffer.from(
      `ignored preamble\r\n--${BOUNDARY}\r\n\r\nno headers\r\n--${BOUNDARY}  \r\nContent-Type: application/dicom;\r\n transfer-syntax=1.2.840.10008.1.2.1\r\nContent-ID: <a>\r\n\r\nsecond\r\n--${BOUNDARY}--\r\nepilogue`,
    );
    const parts = await read(chunks(raw, [1, 2, 30, 31, 60]));
    expect(parts).toEqual([
      { headers: {}, content: Buffer.from('no headers') },
      { headers: { 'content-type': 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1', 'content-id': '<a>' }, content: Buffer.from('second') },
    ]);
  });

  it('refuses bodies that are not multipart, end early or break the limits, keeping the parts before', async () => {
    const one = { headers: { 'content-type': 'application/dicom' }, content: Buffer.from('abc') };
    const whole = body([one, one]);
    const events: string[] = [];
    const collect = async (bytes: Buffer, limits = LIMITS) => {
      events.length = 0;
      for await (const e of readMultipart(chunks(bytes, [7, 50]), BOUNDARY, limits)) if (e.type !== 'data' || events.at(-1) !== 'data') events.push(e.type);
    };
    await expect(collect(Buffer.from('no boundary here'))).rejects.toThrow(new MultipartFormatError(`the body holds no boundary delimiter "--${BOUNDARY}"`));
    await expect(collect(whole.subarray(0, whole.length - 20))).rejects.toThrow(/ends before its closing delimiter.*last part is incomplete/);
    expect(events).toEqual(['headers', 'data', 'end', 'headers', 'data']); // the cut part never ends
    await expect(collect(Buffer.from(`--${BOUNDARY}\r\nContent-Type application/dicom\r\n\r\nx\r\n--${BOUNDARY}--`))).rejects.toThrow(/not "name: value"/);
    await expect(collect(Buffer.from(`--${BOUNDARY}\r\nContent-Type: a\r\n--${BOUNDARY}--`))).rejects.toThrow(/ends inside its headers/);
    await expect(collect(Buffer.from(`--${BOUNDARY}junk\r\n\r\nx\r\n--${BOUNDARY}--`))).rejects.toThrow(/followed by text/);
    await expect(collect(whole, { ...LIMITS, maxPartSize: 2 })).rejects.toThrow(MultipartLimitError);
    await expect(collect(whole, { ...LIMITS, maxTotalSize: 5 })).rejects.toThrow(MultipartLimitError);
    await expect(collect(whole, { ...LIMITS, maxParts: 1 })).rejects.toThrow(/more than 1 parts/);
    await expect(collect(body([{ headers: { 'x-long': 'y'.repeat(2000) }, content: Buffer.from('a') }]))).rejects.toThrow(/headers of part 1 are longer/);
  });
});
