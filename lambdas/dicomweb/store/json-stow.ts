// STOW-RS with metadata and bulk data (PS3.18 10.5.1.4): an application/dicom+json part holding an
// array of DICOM JSON objects, and one part per bulk data value, found by its Content-Location from the
// BulkDataURI that names it. Each object becomes a Part 10 instance, stored like any other.
import { tagFromHex, tagToHex } from '../../dicom/dictionary.js';
import type { DicomJson, DicomJsonValue } from '../../dicom/json-model.js';
import { Tag } from '../../dicom/tags.js';
import { TransferSyntax, transferSyntaxInfo } from '../../dicom/transfer-syntax.js';
import { JsonEncodingError, jsonToPart10, type ResolvedAttribute, type ResolvedDataset } from '../../dicom/json-part10.js';

export interface RequestPart {
  /** Media type without parameters, lower case. */
  type: string;
  /** The transfer-syntax parameter, if any. */
  transferSyntax?: string;
  contentLocation?: string;
  bytes: Uint8Array;
}

export type JsonInstance = { bytes: Uint8Array } | { problem: string; sopInstanceUID?: string; sopClassUID?: string };

/** PS3.18 Table 8.7.3-2: the transfer syntax a compressed media type means when it names none. */
const DEFAULT_SYNTAX_OF_MEDIA_TYPE: Record<string, string> = {
  'image/jpeg': '1.2.840.10008.1.2.4.50',
  'image/jls': '1.2.840.10008.1.2.4.80',
  'image/jp2': '1.2.840.10008.1.2.4.90',
  'image/jpx': '1.2.840.10008.1.2.4.92',
  'image/jphc': '1.2.840.10008.1.2.4.201',
  'image/jxl': '1.2.840.10008.1.2.4.110',
  'image/dicom-rle': '1.2.840.10008.1.2.5',
};

export const METADATA_TYPES = new Set(['application/dicom+json', 'application/json']);

class BulkDataProblem extends Error {}

/** Pixel Data from its parts: native as one octet-stream part, compressed as one part per frame in one syntax. */
function pixelData(uri: string, parts: RequestPart[]): { frames: Uint8Array[]; transferSyntaxUID: string } {
  const [first] = parts;
  if (first.type === 'application/octet-stream' && (!first.transferSyntax || first.transferSyntax === TransferSyntax.ExplicitVRLittleEndian)) {
    if (parts.length > 1) throw new BulkDataProblem(`uncompressed Pixel Data must come in one part, but ${parts.length} parts have Content-Location ${uri}`);
    return { frames: [first.bytes], transferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian };
  }
  const syntax = first.transferSyntax ?? DEFAULT_SYNTAX_OF_MEDIA_TYPE[first.type];
  if (!syntax || !transferSyntaxInfo(syntax).encapsulated) {
    throw new BulkDataProblem(`Pixel Data part ${uri} has media type ${first.type}${first.transferSyntax ? `; transfer-syntax=${first.transferSyntax}` : ''}, which is not a pixel data encoding`);
  }
  if (parts.some((p) => p.type !== first.type || (p.transferSyntax ?? syntax) !== syntax)) {
    throw new BulkDataProblem(`the frames of Pixel Data ${uri} come in different media types or transfer syntaxes`);
  }
  return { frames: parts.map((p) => p.bytes), transferSyntaxUID: syntax };
}

/**
 * The data set with every BulkDataURI and InlineBinary replaced by its bytes, and the transfer syntax
 * that its Pixel Data needs.
 */
function resolve(dataset: DicomJson, bulk: Map<string, RequestPart[]>, topLevel: boolean, state: { transferSyntaxUID: string }): ResolvedDataset {
  const out: ResolvedDataset = {};
  for (const [hex, attribute] of Object.entries(dataset)) {
    if (!/^[0-9A-Fa-f]{8}$/.test(hex) || !attribute || typeof attribute !== 'object' || typeof attribute.vr !== 'string') {
      throw new BulkDataProblem(`"${hex}" is not a DICOM JSON attribute (8 hex digits with a vr)`);
    }
    const tag = tagFromHex(hex);
    let resolved: ResolvedAttribute = { vr: attribute.vr, Value: attribute.Value };
    if (attribute.BulkDataURI !== undefined) {
      const parts = bulk.get(attribute.BulkDataURI);
      if (!parts) throw new BulkDataProblem(`BulkDataURI "${attribute.BulkDataURI}" of (${hex.slice(0, 4)},${hex.slice(4)}) names no part of the request (by Content-Location)`);
      if (topLevel && tag === Tag.PixelData) {
        const pixels = pixelData(attribute.BulkDataURI, parts);
        state.transferSyntaxUID = pixels.transferSyntaxUID;
        resolved = { vr: pixels.transferSyntaxUID === TransferSyntax.ExplicitVRLittleEndian ? attribute.vr : 'OB', bytes: pixels.frames };
      } else {
        if (parts.length > 1 || parts[0].type !== 'application/octet-stream') {
          throw new BulkDataProblem(`bulk data ${attribute.BulkDataURI} must be one application/octet-stream part`);
        }
        resolved = { vr: attribute.vr, bytes: [parts[0].bytes] };
      }
    } else if (attribute.InlineBinary !== undefined) {
      resolved = { vr: attribute.vr, bytes: [new Uint8Array(Buffer.from(attribute.InlineBinary, 'base64'))] };
    } else if (attribute.vr === 'SQ') {
      resolved = { vr: 'SQ', Value: (attribute.Value ?? []).map((item) => resolve(item as DicomJson, bulk, false, state) as unknown as DicomJsonValue) };
    }
    out[tagToHex(tag)] = resolved;
  }
  return out;
}

function identity(dataset: DicomJson): { sopInstanceUID?: string; sopClassUID?: string } {
  const text = (tag: number): string | undefined => {
    const v = dataset[tagToHex(tag)]?.Value?.[0];
    return typeof v === 'string' ? v : undefined;
  };
  return { sopInstanceUID: text(Tag.SOPInstanceUID), sopClassUID: text(Tag.SOPClassUID) };
}

/** Builds one Part 10 instance per DICOM JSON object of the request, or says why it cannot. */
export function instancesFromJson(parts: RequestPart[]): JsonInstance[] {
  const bulk = new Map<string, RequestPart[]>();
  const metadata: RequestPart[] = [];
  for (const part of parts) {
    if (METADATA_TYPES.has(part.type)) metadata.push(part);
    else if (part.contentLocation) bulk.set(part.contentLocation, [...(bulk.get(part.contentLocation) ?? []), part]);
  }
  if (metadata.length === 0) return [{ problem: 'the request has no application/dicom+json part with the instances\' metadata' }];
  const out: JsonInstance[] = [];
  metadata.forEach((part, index) => {
    let objects: unknown;
    try {
      objects = JSON.parse(Buffer.from(part.bytes).toString('utf8'));
    } catch (e) {
      out.push({ problem: `metadata part ${index + 1} is not JSON: ${(e as Error).message}` });
      return;
    }
    const list = Array.isArray(objects) ? objects : [objects];
    for (const object of list) {
      if (!object || typeof object !== 'object' || Array.isArray(object)) {
        out.push({ problem: `metadata part ${index + 1} holds something other than DICOM JSON objects` });
        continue;
      }
      const dataset = object as DicomJson;
      const who = identity(dataset);
      try {
        const state = { transferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian as string };
        const resolved = resolve(dataset, bulk, true, state);
        out.push({ bytes: jsonToPart10(resolved, state.transferSyntaxUID) });
      } catch (e) {
        if (!(e instanceof BulkDataProblem || e instanceof JsonEncodingError || e instanceof RangeError || e instanceof SyntaxError)) throw e;
        out.push({ problem: `instance ${who.sopInstanceUID ?? '(no SOP Instance UID)'} cannot be built from its metadata: ${e.message}`, ...who });
      }
    }
  });
  return out;
}
