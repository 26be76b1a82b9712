// WADO-RS (PS3.18 Section 10.4): instances, metadata, frames and bulk data.
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { tagFromHex, tagToHex } from '../../dicom/dictionary.js';
import { FrameLayoutError, assembleFrame, locateFrames, type ByteRange, type FrameLayout } from '../../dicom/frames.js';
import { toLittleEndian, type DicomJson } from '../../dicom/json-model.js';
import { parseStoredDicom } from '../../dicom/inflate.js';
import { type DicomDataSet, type DicomElement, type ParsedDicom } from '../../dicom/parser.js';
import { Tag } from '../../dicom/tags.js';
import { DEFAULT_SYNTAX_OF_MEDIA_TYPE, TransferSyntax, transferSyntaxInfo } from '../../dicom/transfer-syntax.js';
import { UnsupportedEncodingError } from '../../imaging/codecs.js';
import { ENCODABLE_TRANSFER_SYNTAXES, encodingRefusal, type EncodingInput } from '../../imaging/encoders.js';
import { pixelModuleOf } from '../../imaging/pixels.js';
import { canTranscode, transcodeFrame, transcodeInstance } from '../../imaging/transcode.js';
import type { ArchiveStorage, ReferenceScope, StoredInstance } from '../../storage/ports.js';
import type { DicomWebConfig } from '../config.js';
import { parseAccept, partType } from '../http/accept.js';
import { isStreamedBody, multipartBoundary, multipartContentType, multipartStream, type ResponsePart } from '../http/multipart.js';
import { HttpProblem } from '../http/problem.js';
import { dicomWebRoot, instanceUrl } from '../http/urls.js';

const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
export const IMMUTABLE = 'public, max-age=86400, immutable';
export const REVALIDATE = 'public, max-age=0, must-revalidate';

export function scopeName(scope: ReferenceScope): string {
  if (scope.sopInstanceUID) return `instance ${scope.sopInstanceUID} in series ${scope.seriesInstanceUID} of study ${scope.studyInstanceUID}`;
  if (scope.seriesInstanceUID) return `series ${scope.seriesInstanceUID} of study ${scope.studyInstanceUID}`;
  return `study ${scope.studyInstanceUID}`;
}

export async function instancesIn(storage: ArchiveStorage, scope: ReferenceScope): Promise<StoredInstance[]> {
  const records = await storage.index.listInstances(scope);
  if (records.length === 0) throw new HttpProblem(404, `no ${scopeName(scope)} is stored`);
  return records;
}

/** A strong validator for what the scope holds: the content hashes of its instances. */
export function etagOf(records: Array<{ sha256: string }>, suffix = ''): string {
  const hash = records.length === 1 ? records[0].sha256 : createHash('sha256').update(records.map((r) => r.sha256).join(',')).digest('hex');
  return `"${hash.slice(0, 40)}${suffix}"`;
}

export function notModified(c: Context, etag: string, cacheControl: string): Response | undefined {
  const inm = c.req.header('if-none-match');
  if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    return new Response(null, { status: 304, headers: { ETag: etag, 'Cache-Control': cacheControl } });
  }
  return undefined;
}

// ---- Instances ---------------------------------------------------------------------------------

/** What PS3.18 8.7.8.2 and Table 8.7.3-2 means by no transfer-syntax parameter: Explicit VR Little Endian. */
const DEFAULT_SYNTAX = TransferSyntax.ExplicitVRLittleEndian;

/** Why an instance cannot be encoded in a syntax, or undefined when it can (or when only decoding can tell). */
type RefusalCheck = (record: StoredInstance, syntax: string) => Promise<string | undefined>;

/**
 * Whether frames can be encoded in a compressed syntax is known from the metadata, before any decoding:
 * read once for the scope, and only when a compressed syntax is asked for.
 */
function encodingRefusals(storage: ArchiveStorage, scope: ReferenceScope): RefusalCheck {
  let inputs: Promise<Map<string, EncodingInput>> | undefined;
  return async (record, syntax) => {
    // Only encoders have limits that the metadata tells; decompression fails, if at all, on the codestream.
    if (!ENCODABLE_TRANSFER_SYNTAXES.has(syntax) || syntax === record.transferSyntaxUID) return undefined;
    inputs ??= storage.index.metadataJson(scope).then((rows) => {
      const bySop = new Map<string, EncodingInput>();
      for (const row of rows) {
        const json = JSON.parse(row.json) as DicomJson;
        if (!json[tagToHex(Tag.PixelData)]) continue;
        const pm = pixelModuleOf(json);
        bySop.set(row.sopInstanceUID, { bitsAllocated: pm.bitsAllocated, signed: pm.pixelRepresentation === 1, photometricInterpretation: pm.photometricInterpretation });
      }
      return bySop;
    });
    const input = (await inputs).get(record.sopInstanceUID);
    if (!input) return undefined;
    // Compressed YBR data comes out of its decoder as RGB (JPEG, JPEG 2000) or at full resolution (RLE): never subsampled.
    const decoded = transferSyntaxInfo(record.transferSyntaxUID).encapsulated && input.photometricInterpretation.startsWith('YBR_') ? { ...input, photometricInterpretation: 'RGB' } : input;
    return encodingRefusal(decoded, syntax);
  };
}

/**
 * The transfer syntax an instance is served in for a requested one: as stored, transcoded, or not at all
 * (with the reason). `*\/*` accepts anything: the default syntax where it can be made, the stored one otherwise.
 */
async function servedSyntax(record: StoredInstance, requested: string | undefined, anything: boolean, refusal: RefusalCheck): Promise<{ syntax?: string; refused?: string }> {
  const wanted = requested ?? DEFAULT_SYNTAX;
  if (wanted === '*' || wanted === record.transferSyntaxUID) return { syntax: record.transferSyntaxUID };
  const refused = canTranscode(record.transferSyntaxUID, wanted) ? await refusal(record, wanted) : `it cannot be transcoded into ${wanted}`;
  if (!refused) return { syntax: wanted };
  return anything ? { syntax: record.transferSyntaxUID } : { refused: `instance ${record.sopInstanceUID}: ${refused}` };
}

/** ETag suffix of a representation other than the stored one. */
function representationTag(syntax: string): string {
  return syntax === DEFAULT_SYNTAX ? '-le' : `-${syntax}`;
}

interface Representation {
  /** The file as stored (streamed when large), or transcoded as consecutive pieces. */
  bytes: ResponsePart['body'];
  transferSyntaxUID: string;
}

export async function retrieveInstances(c: Context, storage: ArchiveStorage, config: DicomWebConfig, scope: ReferenceScope): Promise<Response> {
  const records = await instancesIn(storage, scope);
  const accepted = parseAccept(c.req.header('accept'));
  const refusal = encodingRefusals(storage, scope);
  // The first acceptable entry that every instance can be served in wins.
  let choice: { multipart: boolean; anything: boolean; served: string[] } | undefined;
  let reason: string | undefined;
  for (const a of accepted) {
    const p = partType(a);
    if (!['application/dicom', '*/*'].includes(p.type)) continue;
    const bare = !p.multipart && a.type !== '*/*';
    if (bare && records.length > 1) continue; // a bare application/dicom holds one instance
    const anything = p.type === '*/*';
    const outcomes = await Promise.all(records.map((r) => servedSyntax(r, p.transferSyntax, anything, refusal)));
    const refused = outcomes.find((o) => o.refused);
    if (refused) {
      reason ??= refused.refused;
      continue;
    }
    choice = { multipart: !bare, anything, served: outcomes.map((o) => o.syntax!) };
    break;
  }
  if (!choice) {
    const stored = [...new Set(records.map((r) => r.transferSyntaxUID))].join(', ');
    throw new HttpProblem(
      406,
      `cannot serve ${scopeName(scope)} as requested (Accept: ${c.req.header('accept')})${reason ? ` (${reason})` : ''}: it is stored as ${stored}; instances are served as stored (transfer-syntax=*), as Explicit VR Little Endian (${DEFAULT_SYNTAX}, the default), Implicit VR Little Endian, Deflated Explicit VR Little Endian or in ${[...ENCODABLE_TRANSFER_SYNTAXES].join(', ')}`,
    );
  }
  const { anything, served } = choice;
  const transcodedTo = served.find((syntax, i) => syntax !== records[i].transferSyntaxUID);
  const etag = etagOf(records, transcodedTo ? representationTag(transcodedTo) : '');
  const cacheControl = scope.sopInstanceUID ? IMMUTABLE : REVALIDATE;
  const cached = notModified(c, etag, cacheControl);
  if (cached) return cached;
  const represent = async (i: number): Promise<Representation> => {
    const record = records[i];
    const asStored = async (): Promise<Representation> => ({ bytes: await storedBytes(storage, record), transferSyntaxUID: record.transferSyntaxUID });
    if (served[i] === record.transferSyntaxUID) return asStored();
    const cannot = (why: string) => new HttpProblem(406, `instance ${record.sopInstanceUID} (stored as ${record.transferSyntaxUID}) cannot be served as ${served[i]}: ${why}; ask for transfer-syntax=*`);
    // A transcode holds the stored file and its decompressed frames: a file above the limit is not even read.
    if (record.size > config.maxDecompressedBytes) {
      if (anything) return asStored();
      throw cannot(`its stored file of ${record.size} bytes is larger than the ${config.maxDecompressedBytes} this server decompresses at once (MAX_DECOMPRESSED_BYTES)`);
    }
    const bytes = await readBlob(storage, record);
    try {
      return { bytes: await transcodeInstance(bytes, served[i], config), transferSyntaxUID: served[i] };
    } catch (e) {
      if (!(e instanceof UnsupportedEncodingError)) throw e;
      if (anything) return { bytes, transferSyntaxUID: record.transferSyntaxUID };
      throw cannot(e.message);
    }
  };
  // One instance is prepared before answering, so that a codestream that cannot be transcoded is a 406.
  const first = records.length === 1 ? await represent(0) : undefined;
  if (!choice.multipart) {
    const { bytes } = first!;
    const body = bytes instanceof Uint8Array ? (bytes as Uint8Array<ArrayBuffer>) : isStreamedBody(bytes) ? chunkStream(bytes.chunks) : piecesStream(bytes);
    const length = bytes instanceof Uint8Array ? bytes.byteLength : isStreamedBody(bytes) ? bytes.length : bytes.reduce((n, p) => n + p.byteLength, 0);
    return new Response(body, {
      headers: { 'Content-Type': `application/dicom; transfer-syntax=${first!.transferSyntaxUID}`, 'Content-Length': String(length), ETag: etag, 'Cache-Control': cacheControl },
    });
  }
  const root = dicomWebRoot(c, config);
  const boundary = multipartBoundary();
  async function* parts(): AsyncGenerator<ResponsePart> {
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const { bytes, transferSyntaxUID } = i === 0 && first ? first : await represent(i);
      yield {
        contentType: `application/dicom; transfer-syntax=${transferSyntaxUID}`,
        contentLocation: instanceUrl(root, r.studyInstanceUID, r.seriesInstanceUID, r.sopInstanceUID),
        body: bytes,
      };
    }
  }
  // The header names one syntax only when every part is known to be in it before streaming starts
  // (with */* an instance that fails to transcode falls back to its stored syntax).
  const planned = new Set(served);
  const uniform = first ? first.transferSyntaxUID : planned.size === 1 && !(anything && transcodedTo) ? [...planned][0] : undefined;
  return new Response(multipartStream(boundary, parts()), {
    headers: { 'Content-Type': multipartContentType(boundary, 'application/dicom', uniform), ETag: etag, 'Cache-Control': cacheControl },
  });
}

/** Pieces of one body sent one after the other. */
function piecesStream(pieces: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < pieces.length) controller.enqueue(pieces[next++]);
      else controller.close();
    },
  });
}

/** Chunks read as the client takes them. */
function chunkStream(chunks: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

/** Stored files above this size are streamed from the object store rather than read whole. */
const STREAM_STORED_ABOVE = 16 * 1024 * 1024;

/**
 * A stored file as it is sent: read whole when small, streamed when large (a whole-slide image), its first
 * piece read here so that a missing file is an error before the answer starts.
 */
async function storedBytes(storage: ArchiveStorage, r: StoredInstance): Promise<ResponsePart['body']> {
  if (r.size <= STREAM_STORED_ABOVE) return readBlob(storage, r);
  const iterator = storage.blobs.stream(r.blobKey)[Symbol.asyncIterator]();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await iterator.next();
  } catch (e) {
    throw new HttpProblem(500, `the stored file of instance ${r.sopInstanceUID} cannot be read from the object store: ${(e as Error).message}`);
  }
  // Ending early (a client that goes away) closes the stored file, even before the first piece is taken.
  let held = first.done ? undefined : first.value;
  const chunks: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        if (!held) return iterator.next();
        const value = held;
        held = undefined;
        return { done: false, value };
      },
      return: async () => {
        held = undefined;
        await iterator.return?.();
        return { done: true, value: undefined };
      },
    }),
  };
  return { length: r.size, chunks };
}

export async function readBlob(storage: ArchiveStorage, r: StoredInstance): Promise<Uint8Array> {
  const bytes = await storage.blobs.get(r.blobKey);
  if (!bytes) throw new HttpProblem(500, `the stored file of instance ${r.sopInstanceUID} is missing from the object store`);
  return bytes;
}

// ---- Frames ------------------------------------------------------------------------------------

export function parseFrameList(text: string, numberOfFrames: number | undefined, sop: string): number[] {
  const frames = text.split(',').map((s) => s.trim());
  if (frames.some((f) => !/^[1-9]\d*$/.test(f))) throw new HttpProblem(400, `frame list "${text}" must be positive integers separated by commas (frames count from 1)`);
  const numbers = frames.map(Number);
  const max = numberOfFrames ?? 1;
  const outOfRange = numbers.filter((n) => n > max);
  if (outOfRange.length) throw new HttpProblem(404, `instance ${sop} has ${max} frame(s); frame ${outOfRange.join(', ')} does not exist`);
  return numbers;
}

export interface FrameSource {
  layout: FrameLayout;
  read: (ranges: ByteRange[]) => Promise<Uint8Array[]>;
}

/** Frames are cut from the stored file; deflated files are inflated first since their offsets refer to the inflated data set. */
export async function frameSource(storage: ArchiveStorage, record: StoredInstance): Promise<FrameSource> {
  if (!record.frames) throw new HttpProblem(404, `instance ${record.sopInstanceUID} has no frames that can be served (no or inconsistent Pixel Data)`);
  if (!record.needsFullParse) {
    return { layout: record.frames, read: (ranges) => storage.blobs.getRanges(record.blobKey, ranges) };
  }
  const parsed = await parseStoredDicom(await readBlob(storage, record));
  const layout = locatedFrames(parsed, record)!;
  const bytes = parsed.dataset.bytes;
  return { layout, read: async (ranges) => ranges.map((r) => bytes.subarray(r.offset, r.offset + r.length)) };
}

/** Frames of a re-read stored file; ones that cannot be told apart are served only within the instance as stored. */
function locatedFrames(parsed: ParsedDicom, record: StoredInstance): FrameLayout | undefined {
  try {
    return locateFrames(parsed);
  } catch (e) {
    if (!(e instanceof FrameLayoutError)) throw e;
    throw new HttpProblem(406, `the frames of instance ${record.sopInstanceUID} cannot be located (${e.message}); retrieve the instance as stored (transfer-syntax=*)`);
  }
}

export async function readFrame(source: FrameSource, index: number): Promise<Uint8Array> {
  const ranges = source.layout.frames[index];
  const chunks = await source.read(ranges);
  const byRange = new Map(ranges.map((r, i) => [r, chunks[i]]));
  return assembleFrame(source.layout, index, (r) => byRange.get(r)!);
}

export async function retrieveFrames(c: Context, storage: ArchiveStorage, scope: Required<ReferenceScope>, frameList: string): Promise<Response> {
  const [record] = await instancesIn(storage, scope);
  const frames = parseFrameList(frameList, record.numberOfFrames, record.sopInstanceUID);
  const ts = transferSyntaxInfo(record.transferSyntaxUID);
  const encapsulated = record.frames?.encapsulated ?? ts.encapsulated;
  const storedSyntax = encapsulated ? record.transferSyntaxUID : DEFAULT_SYNTAX;
  const storedMediaType = encapsulated ? ts.frameMediaType : 'application/octet-stream';
  // Frames are served as stored when the media type and syntax allow it (a compressed media type without a
  // transfer-syntax parameter accepts the stored syntax of that type); otherwise transcoded into the syntax
  // asked for, or the media type's default syntax.
  let choice: { multipart: boolean; syntax: string } | undefined;
  let reason: string | undefined;
  const refusal = encodingRefusals(storage, scope);
  for (const a of parseAccept(c.req.header('accept'))) {
    const p = partType(a);
    if (!p.multipart && a.type !== '*/*' && frames.length > 1) continue;
    const multipart = p.multipart || a.type === '*/*';
    const asStored = { multipart, syntax: storedSyntax };
    if (p.type === '*/*' || (p.transferSyntax === '*' && (p.type === storedMediaType || p.type === 'application/octet-stream'))) {
      choice = asStored;
      break;
    }
    const compressedAsStored = encapsulated && p.type === storedMediaType && storedMediaType !== 'application/octet-stream';
    const wanted = p.transferSyntax ?? (compressedAsStored ? storedSyntax : DEFAULT_SYNTAX_OF_MEDIA_TYPE[p.type]);
    if (!wanted || transferSyntaxInfo(wanted).frameMediaType !== p.type) continue;
    const nativeAsked = wanted === DEFAULT_SYNTAX || wanted === TransferSyntax.ImplicitVRLittleEndian;
    if (wanted === storedSyntax || (!encapsulated && nativeAsked)) choice = asStored;
    else if (canTranscode(record.transferSyntaxUID, wanted)) {
      const refused = await refusal(record, wanted);
      if (refused) reason ??= `${wanted}: ${refused}`;
      else choice = { multipart, syntax: wanted };
    }
    if (choice) break;
  }
  if (!choice) {
    throw new HttpProblem(
      406,
      `frames of instance ${record.sopInstanceUID} are stored as ${storedMediaType} (transfer syntax ${record.transferSyntaxUID}); Accept "${c.req.header('accept')}" asks for an encoding they cannot be served in${reason ? ` (${reason})` : ''} — ask for type="${storedMediaType}", transfer-syntax=*, application/octet-stream (decompressed) or a syntax among ${[...ENCODABLE_TRANSFER_SYNTAXES].join(', ')}`,
    );
  }
  const transcoded = choice.syntax !== storedSyntax;
  const etag = etagOf([record], `-f${frames.join('.')}${transcoded ? representationTag(choice.syntax) : ''}`);
  const cached = notModified(c, etag, IMMUTABLE);
  if (cached) return cached;
  const source = await frameSource(storage, record);
  const mediaType = transferSyntaxInfo(choice.syntax).frameMediaType;
  const partContentType = `${mediaType}; transfer-syntax=${choice.syntax}`;
  let read = (n: number): Promise<Uint8Array> => readFrame(source, n - 1);
  if (transcoded) {
    // Transcoded before answering, so that a frame that cannot be is a 406 rather than a broken stream.
    const converted = await transcodeFrames(storage, record, source, frames, choice.syntax);
    read = async (n) => converted.get(n)!;
  }
  if (!choice.multipart) {
    return new Response((await read(frames[0])) as Uint8Array<ArrayBuffer>, { headers: { 'Content-Type': partContentType, ETag: etag, 'Cache-Control': IMMUTABLE } });
  }
  const boundary = multipartBoundary();
  async function* parts(): AsyncGenerator<ResponsePart> {
    for (const n of frames) yield { contentType: partContentType, body: await read(n) };
  }
  return new Response(multipartStream(boundary, parts()), {
    headers: { 'Content-Type': multipartContentType(boundary, mediaType, choice.syntax), ETag: etag, 'Cache-Control': IMMUTABLE },
  });
}

/**
 * Requested frames in another syntax: decompressed to native little endian samples in the stored pixel
 * description's layout (JPEG decoders turn YBR into RGB, as PS3.5 8.2.1 expects), then encoded if asked.
 */
async function transcodeFrames(storage: ArchiveStorage, record: StoredInstance, source: FrameSource, frames: number[], to: string): Promise<Map<number, Uint8Array>> {
  const [stored] = await storage.index.metadataJson({
    studyInstanceUID: record.studyInstanceUID,
    seriesInstanceUID: record.seriesInstanceUID,
    sopInstanceUID: record.sopInstanceUID,
  });
  const metadata = JSON.parse(stored.json) as DicomJson;
  const converted = new Map<number, Uint8Array>();
  for (const n of new Set(frames)) {
    try {
      const frame = await transcodeFrame(await readFrame(source, n - 1), record.transferSyntaxUID, to, pixelModuleOf(metadata, n - 1));
      converted.set(n, frame.bytes);
    } catch (e) {
      if (e instanceof UnsupportedEncodingError) {
        throw new HttpProblem(406, `frame ${n} of instance ${record.sopInstanceUID} cannot be served as ${to}: ${e.message}; ask for transfer-syntax=* to receive it as stored`);
      }
      throw e;
    }
  }
  return converted;
}

// ---- Bulk data ---------------------------------------------------------------------------------

/** Follows a BulkDataURI path ("00540016/0/00281201") through sequences to an element. */
function findElement(ds: DicomDataSet, path: string[]): { ds: DicomDataSet; el: DicomElement } | undefined {
  const [tagHex, itemIndex, ...rest] = path;
  if (!/^[0-9A-Fa-f]{8}$/.test(tagHex ?? '')) return undefined;
  const el = ds.elements.get(tagFromHex(tagHex));
  if (!el) return undefined;
  if (itemIndex === undefined) return { ds, el };
  const item = el.items?.[Number(itemIndex)];
  return item && /^\d+$/.test(itemIndex) ? findElement(item, rest) : undefined;
}

export async function retrieveBulkData(c: Context, storage: ArchiveStorage, scope: Required<ReferenceScope>, path: string[]): Promise<Response> {
  const [record] = await instancesIn(storage, scope);
  const accepted = parseAccept(c.req.header('accept'));
  const parsed = await parseStoredDicom(await readBlob(storage, record));
  const found = findElement(parsed.dataset, path);
  if (!found) throw new HttpProblem(404, `instance ${record.sopInstanceUID} has no bulk data at ${path.join('/')}`);
  const { ds, el } = found;
  const etag = etagOf([record], `-b${path.join('.')}`);
  const cached = notModified(c, etag, IMMUTABLE);
  if (cached) return cached;
  const boundary = multipartBoundary();
  let parts: ResponsePart[];
  if (el.tag === Tag.PixelData && el.fragments) {
    const ts = transferSyntaxInfo(record.transferSyntaxUID);
    const layout = locatedFrames(parsed, record);
    const frames = layout ? layout.frames.map((_, i) => assembleFrame(layout, i, (r) => ds.bytes.subarray(r.offset, r.offset + r.length))) : [];
    parts = frames.map((body) => ({ contentType: `${ts.frameMediaType}; transfer-syntax=${record.transferSyntaxUID}`, body }));
  } else if (BINARY_VRS.has(el.vr)) {
    const body = toLittleEndian(ds.bytes.subarray(el.offset, el.offset + el.length), el.encodedVr === 'OB' ? 'OB' : el.vr, ds.littleEndian);
    parts = [{ contentType: 'application/octet-stream', body }];
  } else {
    throw new HttpProblem(404, `${path.join('/')} of instance ${record.sopInstanceUID} is a ${el.vr} value, not bulk data; read it from the metadata`);
  }
  const wantsMultipart = accepted.some((a) => a.type === 'multipart/related' || a.type === '*/*');
  if (!wantsMultipart && parts.length === 1 && accepted.some((a) => a.type === 'application/octet-stream')) {
    return new Response(parts[0].body as Uint8Array<ArrayBuffer>, { headers: { 'Content-Type': 'application/octet-stream', ETag: etag, 'Cache-Control': IMMUTABLE } });
  }
  if (!wantsMultipart) throw new HttpProblem(406, `bulk data is served as multipart/related; type="application/octet-stream"`);
  async function* gen(): AsyncGenerator<ResponsePart> {
    yield* parts;
  }
  return new Response(multipartStream(boundary, gen()), {
    headers: { 'Content-Type': multipartContentType(boundary, parts[0]?.contentType.split(';')[0] ?? 'application/octet-stream'), ETag: etag, 'Cache-Control': IMMUTABLE },
  });
}
