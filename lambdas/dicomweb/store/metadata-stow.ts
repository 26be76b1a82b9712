// STOW-RS with metadata and bulk data (PS3.18 10.5.1.4): application/dicom+json parts holding arrays of
// DICOM JSON objects, or application/dicom+xml parts holding one Native DICOM Model document each, and
// one part per bulk data value, found by its Content-Location from the BulkDataURI (or XML BulkData uri)
// that names it, or by its Content-ID from an XML BulkData uuid. Each data set becomes a Part 10
// instance, stored like any other.
import { tagFromHex, tagToHex } from '../../dicom/dictionary.js';
import { firstString, type DicomJson, type DicomJsonValue } from '../../dicom/json-model.js';
import { NativeDicomXmlError, fromNativeDicomXml } from '../../dicom/xml-model.js';
import { Tag } from '../../dicom/tags.js';
import { DEFAULT_SYNTAX_OF_MEDIA_TYPE, TransferSyntax, transferSyntaxInfo } from '../../dicom/transfer-syntax.js';
import { JsonEncodingError, jsonToPart10, type ResolvedAttribute, type ResolvedDataset } from '../../dicom/json-part10.js';

export interface RequestPart {
  /** Media type without parameters, lower case. */
  type: string;
  /** The transfer-syntax parameter, if any. */
  transferSyntax?: string;
  contentLocation?: string;
  /** Content-ID without its angle brackets. */
  contentId?: string;
  bytes: Uint8Array;
}

export type MetadataInstance = { bytes: Uint8Array } | { problem: string; sopInstanceUID?: string; sopClassUID?: string };

const JSON_TYPES = new Set(['application/dicom+json', 'application/json']);
const XML_TYPE = 'application/dicom+xml';
export const METADATA_TYPES: ReadonlySet<string> = new Set([...JSON_TYPES, XML_TYPE]);

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
      if (!parts) throw new BulkDataProblem(`BulkDataURI "${attribute.BulkDataURI}" of (${hex.slice(0, 4)},${hex.slice(4)}) names no part of the request (by Content-Location, or Content-ID for an XML uuid)`);
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
  return { sopInstanceUID: firstString(dataset, Tag.SOPInstanceUID), sopClassUID: firstString(dataset, Tag.SOPClassUID) };
}

/** The data sets of one metadata part: a JSON array (or object), or one XML document. */
function datasetsOf(part: RequestPart, index: number): Array<{ dataset: DicomJson } | { problem: string }> {
  const text = Buffer.from(part.bytes).toString('utf8');
  if (part.type === XML_TYPE) {
    try {
      return [{ dataset: fromNativeDicomXml(text) }];
    } catch (e) {
      if (!(e instanceof NativeDicomXmlError)) throw e;
      return [{ problem: `metadata part ${index + 1} is not a Native DICOM Model document: ${e.message}` }];
    }
  }
  let objects: unknown;
  try {
    objects = JSON.parse(text);
  } catch (e) {
    return [{ problem: `metadata part ${index + 1} is not JSON: ${(e as Error).message}` }];
  }
  return (Array.isArray(objects) ? objects : [objects]).map((object) =>
    !object || typeof object !== 'object' || Array.isArray(object) ? { problem: `metadata part ${index + 1} holds something other than DICOM JSON objects` } : { dataset: object as DicomJson },
  );
}

/** Builds one Part 10 instance per data set in the request's metadata parts, or says why it cannot. */
export function instancesFromMetadata(parts: RequestPart[]): MetadataInstance[] {
  const bulk = new Map<string, RequestPart[]>();
  const metadata: RequestPart[] = [];
  for (const part of parts) {
    if (METADATA_TYPES.has(part.type)) {
      metadata.push(part);
      continue;
    }
    for (const reference of new Set([part.contentLocation, part.contentId])) {
      if (reference) bulk.set(reference, [...(bulk.get(reference) ?? []), part]);
    }
  }
  if (metadata.length === 0) return [{ problem: 'the request has no application/dicom+json or application/dicom+xml part with the instances\' metadata' }];
  const out: MetadataInstance[] = [];
  metadata.forEach((part, index) => {
    for (const entry of datasetsOf(part, index)) {
      if ('problem' in entry) {
        out.push(entry);
        continue;
      }
      const { dataset } = entry;
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
