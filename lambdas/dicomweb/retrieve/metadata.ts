// WADO-RS metadata (PS3.18 10.4.1.1.2): the stored DICOM JSON of a study, series or instance, as JSON or as
// the Native DICOM Model in XML, with BulkDataURIs made absolute for the request.
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import type { DicomJson } from '../../dicom/json-model.js';
import { toNativeDicomXml } from '../../dicom/xml-model.js';
import type { ArchiveStorage, MetadataRow, ReferenceScope } from '../../storage/ports.js';
import type { DicomWebConfig } from '../config.js';
import { parseAccept, partType } from '../http/accept.js';
import { multipartBoundary, multipartContentType, multipartStream, type ResponsePart } from '../http/multipart.js';
import { HttpProblem } from '../http/problem.js';
import { dicomWebRoot, instanceUrl } from '../http/urls.js';
import { IMMUTABLE, REVALIDATE, notModified, scopeName } from './wado.js';

/** JSON (the default) or the Native DICOM Model in XML, whichever Accept names first. */
function metadataFormat(accept: string | undefined): 'json' | 'xml' {
  for (const a of parseAccept(accept)) {
    if (['application/dicom+json', 'application/json', '*/*', 'application/*'].includes(a.type)) return 'json';
    const p = partType(a);
    if (p.multipart && p.type === 'application/dicom+xml') return 'xml';
  }
  throw new HttpProblem(406, `metadata is served as application/dicom+json or multipart/related; type="application/dicom+xml"; Accept was "${accept}"`);
}

/** Instances of metadata read from the index at a time. */
const METADATA_PAGE = 256;
/** Metadata answers up to this much JSON are made as one string; larger ones are streamed page by page. */
const METADATA_IN_MEMORY_CHARS = 4 * 1024 * 1024;

export async function retrieveMetadata(c: Context, storage: ArchiveStorage, config: DicomWebConfig, scope: ReferenceScope): Promise<Response> {
  const format = metadataFormat(c.req.header('accept'));
  // ETags come from the stored JSON itself, so they change whenever any instance does. The first pass
  // hashes it page by page and keeps it only while it is small; a study of thousands of instances is
  // read again as it is sent, so its metadata is never held whole.
  const hash = createHash('sha256');
  let kept: MetadataRow[] | undefined = [];
  let count = 0;
  let chars = 0;
  for await (const page of storage.index.metadataJsonPages(scope, METADATA_PAGE)) {
    for (const row of page) {
      hash.update(count++ ? `\n${row.json}` : row.json);
      chars += row.json.length;
    }
    if (kept && chars <= METADATA_IN_MEMORY_CHARS) kept.push(...page);
    else kept = undefined;
  }
  if (count === 0) throw new HttpProblem(404, `no ${scopeName(scope)} is stored`);
  const etag = `"${hash.digest('hex').slice(0, 40)}${format === 'xml' ? '-xml' : ''}"`;
  const cacheControl = scope.sopInstanceUID ? IMMUTABLE : REVALIDATE;
  const cached = notModified(c, etag, cacheControl);
  if (cached) return cached;
  const root = dicomWebRoot(c, config);
  const withUris = (r: MetadataRow) =>
    r.json.replaceAll('"BulkDataURI":"', `"BulkDataURI":"${instanceUrl(root, scope.studyInstanceUID, r.seriesInstanceUID, r.sopInstanceUID)}/`);
  const rows = async function* (): AsyncGenerator<MetadataRow> {
    if (kept) yield* kept;
    else for await (const page of storage.index.metadataJsonPages(scope, METADATA_PAGE)) yield* page;
  };
  const encoder = new TextEncoder();
  if (format === 'json') {
    const headers = { 'Content-Type': 'application/dicom+json', ETag: etag, 'Cache-Control': cacheControl };
    if (kept) return new Response(`[${kept.map(withUris).join(',')}]`, { headers });
    return new Response(jsonArrayStream(rows(), withUris), { headers });
  }
  const boundary = multipartBoundary();
  async function* parts(): AsyncGenerator<ResponsePart> {
    for await (const row of rows()) yield { contentType: 'application/dicom+xml', body: encoder.encode(toNativeDicomXml(JSON.parse(withUris(row)) as DicomJson)) };
  }
  return new Response(multipartStream(boundary, parts()), {
    headers: { 'Content-Type': multipartContentType(boundary, 'application/dicom+xml'), ETag: etag, 'Cache-Control': cacheControl },
  });
}

/** A JSON array of the rows' texts, encoded as the client reads it. */
function jsonArrayStream(rows: AsyncIterable<MetadataRow>, text: (r: MetadataRow) => string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = rows[Symbol.asyncIterator]();
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) {
        controller.enqueue(encoder.encode(started ? ']' : '[]'));
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(`${started ? ',' : '['}${text(next.value)}`));
      started = true;
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

