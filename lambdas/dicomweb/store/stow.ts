// STOW-RS (PS3.18 Section 10.5): POST /studies and /studies/{study}.
import { getMultipartBoundary } from '@remix-run/multipart-parser';
import type { Context } from 'hono';
import type { Readable } from 'node:stream';
import pLimit from 'p-limit';
import { tagToHex } from '../../dicom/dictionary.js';
import type { DicomJson } from '../../dicom/json-model.js';
import { Tag } from '../../dicom/tags.js';
import { noteAuditedStudy } from '../../governance/audit/http-audit.js';
import { auditedStudyOf } from '../../governance/audit/study-patients.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import type { DicomWebConfig } from '../config.js';
import { MultipartFormatError, MultipartLimitError, readMultipart } from '../http/multipart-reader.js';
import { HttpProblem } from '../http/problem.js';
import { warningHeader } from '../http/warning.js';
import { dicomWebRoot, instanceUrl, studyUrl } from '../http/urls.js';
import { METADATA_TYPES, instancesFromMetadata, type RequestPart } from './metadata-stow.js';
import { InstanceSpool, type InstanceSource, type SpoolSettings } from './spool.js';
import { FailureReason, storeInstance, type StoreOutcome } from './store-instance.js';

const ui = (v: string) => ({ vr: 'UI', Value: [v] });
const us = (v: number) => ({ vr: 'US', Value: [v] });

export async function handleStow(c: Context, storage: ArchiveStorage, config: DicomWebConfig, studyInstanceUID?: string): Promise<Response> {
  const contentType = c.req.header('content-type') ?? '';
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  const store = (source: Uint8Array | InstanceSource) => storeInstance(storage, source, { duplicatePolicy: config.duplicatePolicy, maxInflatedBytes: config.maxInflatedBytes, expectedStudyInstanceUID: studyInstanceUID });
  if (mediaType === 'application/dicom') {
    // An extension (as Azure's DICOM service has): one Part 10 instance as the whole body, `curl --data-binary @file.dcm`.
    const spool = await singleInstanceBody(c, config);
    try {
      const outcome = await store(await spool.finish());
      return stowResponse(c, config, [outcome], undefined, studyInstanceUID);
    } finally {
      await spool.discard();
    }
  }
  if (mediaType !== 'multipart/related') {
    throw new HttpProblem(415, `STOW-RS needs Content-Type multipart/related; type="application/dicom" (or application/dicom for one instance), got "${contentType || '(none)'}"`);
  }
  const typeParam = /type="?([^";]+)"?/i.exec(contentType.replace(/boundary=("[^"]*"|[^;]*)/i, ''))?.[1]?.toLowerCase();
  const metadataAndBulkData = typeParam !== undefined && METADATA_TYPES.has(typeParam);
  if (typeParam && typeParam !== 'application/dicom' && !metadataAndBulkData) {
    throw new HttpProblem(
      415,
      `STOW-RS accepts type="application/dicom" (Part 10 instances), or type="application/dicom+json" or "application/dicom+xml" (metadata and bulk data), not type="${typeParam}"`,
    );
  }
  const boundary = getMultipartBoundary(contentType);
  if (!boundary) throw new HttpProblem(400, 'the multipart/related Content-Type has no boundary parameter');
  const body = requestBody(c);
  if (!body) throw new HttpProblem(400, 'the STOW-RS request has no body');
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > config.maxRequestBytes) {
    // Answered at once (a client may declare a length it never sends); what does arrive is read and discarded.
    throw new HttpProblem(413, `request body of ${declared} bytes exceeds the limit of ${config.maxRequestBytes} bytes; send fewer instances per request`);
  }

  const limit = pLimit(config.storeConcurrency);
  const pending: Array<Promise<StoreOutcome>> = [];
  // Metadata refers to bulk data parts that may follow it, so those requests are read whole first.
  const collected: RequestPart[] = [];
  let bodyProblem: string | undefined;
  let current: { spool: InstanceSpool; headers: Record<string, string> } | undefined;
  try {
    for await (const event of readMultipart(body, boundary, {
      maxPartSize: config.maxInstanceBytes,
      maxTotalSize: config.maxRequestBytes,
      maxParts: 100_000,
      maxHeaderSize: 16 * 1024,
    })) {
      if (event.type === 'headers') {
        current = { spool: new InstanceSpool(metadataAndBulkData ? { inMemoryBytes: Infinity } : spoolSettings(config)), headers: event.headers };
        continue;
      }
      const part = current!;
      if (event.type === 'data') {
        await part.spool.write(event.bytes);
        continue;
      }
      current = undefined;
      const source = await part.spool.finish();
      const [partType, ...parameters] = (part.headers['content-type'] ?? (metadataAndBulkData ? 'application/octet-stream' : 'application/dicom')).split(';');
      if (metadataAndBulkData && 'bytes' in source) {
        const transferSyntax = parameters.map((p) => /^\s*transfer-syntax\s*=\s*"?([^"]*)"?\s*$/i.exec(p)?.[1]).find(Boolean);
        const contentId = part.headers['content-id']?.trim().replace(/^<(.*)>$/, '$1') || undefined;
        collected.push({ type: partType.trim().toLowerCase(), transferSyntax, contentLocation: part.headers['content-location'] ?? undefined, contentId, bytes: source.bytes });
        continue;
      }
      const index = pending.length + 1;
      if (partType.trim().toLowerCase() !== 'application/dicom') {
        await part.spool.discard();
        pending.push(Promise.resolve(notDicom(`part ${index} has Content-Type ${partType.trim()}, not application/dicom`)));
        continue;
      }
      pending.push(limit(() => store(source).finally(() => part.spool.discard())));
    }
  } catch (e) {
    await current?.spool.discard();
    if (e instanceof MultipartLimitError) {
      await Promise.allSettled(pending);
      throw new HttpProblem(413, `${e.message}: the limits are ${config.maxInstanceBytes} bytes per instance (MAX_INSTANCE_BYTES) and ${config.maxRequestBytes} per request (MAX_REQUEST_BYTES)`);
    }
    if (!(e instanceof MultipartFormatError)) {
      await Promise.allSettled(pending);
      throw e;
    }
    bodyProblem = `malformed multipart body (boundary "${boundary}"): ${e.message}`;
  }
  if (metadataAndBulkData && collected.length) {
    for (const built of instancesFromMetadata(collected)) {
      if ('bytes' in built) pending.push(limit(() => store(built.bytes)));
      else pending.push(Promise.resolve({ status: 'failed', failureReason: FailureReason.CannotUnderstand, message: built.problem, sopInstanceUID: built.sopInstanceUID, sopClassUID: built.sopClassUID }));
    }
  }
  const outcomes = await Promise.all(pending);
  if (outcomes.length === 0) throw new HttpProblem(400, bodyProblem ?? 'the multipart body holds no parts');
  return stowResponse(c, config, outcomes, bodyProblem, studyInstanceUID);
}

/** The Store Instances Response (PS3.18 10.5.3) for what became of each instance. */
function stowResponse(c: Context, config: DicomWebConfig, outcomes: StoreOutcome[], bodyProblem: string | undefined, studyInstanceUID: string | undefined): Response {
  const root = dicomWebRoot(c, config);
  const referenced: DicomJson[] = [];
  const failed: DicomJson[] = [];
  const messages: string[] = bodyProblem ? [bodyProblem] : [];
  let warnings = false;
  const studies = new Set<string>();
  for (const o of outcomes) {
    if (o.status === 'failed') {
      const item: DicomJson = { [tagToHex(Tag.FailureReason)]: us(o.failureReason) };
      if (o.sopClassUID) item[tagToHex(Tag.ReferencedSOPClassUID)] = ui(o.sopClassUID);
      if (o.sopInstanceUID) item[tagToHex(Tag.ReferencedSOPInstanceUID)] = ui(o.sopInstanceUID);
      item['00000902'] = { vr: 'LO', Value: [o.message] }; // Error Comment: the reason in words
      failed.push(item);
      messages.push(o.message);
      continue;
    }
    const { instance } = o;
    studies.add(instance.studyInstanceUID);
    noteAuditedStudy(c, auditedStudyOf(instance.studyInstanceUID, instance.studyAttributes));
    const item: DicomJson = {
      [tagToHex(Tag.ReferencedSOPClassUID)]: ui(instance.sopClassUID),
      [tagToHex(Tag.ReferencedSOPInstanceUID)]: ui(instance.sopInstanceUID),
      [tagToHex(Tag.RetrieveURL)]: { vr: 'UR', Value: [instanceUrl(root, instance.studyInstanceUID, instance.seriesInstanceUID, instance.sopInstanceUID)] },
    };
    if (o.warnings.length) {
      warnings = true;
      item[tagToHex(Tag.WarningReason)] = us(o.warningReason);
      item['00000902'] = { vr: 'LO', Value: [o.warnings.join('; ')] };
      messages.push(`instance ${instance.sopInstanceUID}: ${o.warnings.join('; ')}`);
    }
    referenced.push(item);
  }
  const response: DicomJson = {};
  const onlyStudy = studyInstanceUID ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (onlyStudy && referenced.length) response[tagToHex(Tag.RetrieveURL)] = { vr: 'UR', Value: [studyUrl(root, onlyStudy)] };
  if (failed.length) response[tagToHex(Tag.FailedSOPSequence)] = { vr: 'SQ', Value: failed };
  if (referenced.length) response[tagToHex(Tag.ReferencedSOPSequence)] = { vr: 'SQ', Value: referenced };

  // PS3.18 Table 10.5.3-2: 200 all stored; 202 some stored or stored with warnings; 409 none stored.
  const status = referenced.length === 0 ? 409 : failed.length || warnings || bodyProblem ? 202 : 200;
  const headers: Record<string, string> = { 'Content-Type': 'application/dicom+json' };
  if (messages.length) headers['Warning'] = warningHeader(messages);
  return new Response(JSON.stringify(response), { status, headers });
}

/**
 * The request body as chunks. Behind the Node server this is the IncomingMessage itself, which saves
 * the copy into a web ReadableStream on the hottest path; elsewhere (Lambda) the standard body.
 */
function requestBody(c: Context): AsyncIterable<Uint8Array> | undefined {
  // Early exits (a refused part) must not destroy the body: what is left is read and discarded after the
  // answer (node-server.ts), so that the client receives it.
  const incoming = (c.env as { incoming?: Readable } | undefined)?.incoming;
  if (incoming) return incoming.iterator({ destroyOnReturn: false });
  const body = c.req.raw.body as (ReadableStream<Uint8Array> & { values(o: { preventCancel: boolean }): AsyncIterable<Uint8Array> }) | null;
  return body?.values({ preventCancel: true });
}

/** A single-part request's body: one instance, spooled up to MAX_INSTANCE_BYTES (413 past it). */
async function singleInstanceBody(c: Context, config: DicomWebConfig): Promise<InstanceSpool> {
  const body = requestBody(c);
  const tooLarge = (size: number | string) => new HttpProblem(413, `the instance of ${size} bytes exceeds the limit of ${config.maxInstanceBytes} bytes (MAX_INSTANCE_BYTES)`);
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > config.maxInstanceBytes) throw tooLarge(declared);
  const spool = new InstanceSpool(spoolSettings(config));
  let size = 0;
  try {
    for await (const chunk of body ?? []) {
      size += chunk.byteLength;
      if (size > config.maxInstanceBytes) throw tooLarge(`more than ${config.maxInstanceBytes}`);
      await spool.write(chunk);
    }
  } catch (e) {
    await spool.discard();
    throw e;
  }
  if (size === 0) throw new HttpProblem(400, 'the STOW-RS request has no body: send one Part 10 instance as application/dicom');
  return spool;
}

function spoolSettings(config: DicomWebConfig): SpoolSettings {
  return { inMemoryBytes: config.maxInMemoryInstanceBytes, stagingDir: config.stagingDir };
}

function notDicom(message: string): StoreOutcome {
  return { status: 'failed', failureReason: FailureReason.CannotUnderstand, message };
}
