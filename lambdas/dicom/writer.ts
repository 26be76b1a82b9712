// Building the data sets of objects the archive creates itself (AI results) by keyword, with VRs from
// the data dictionary, and writing them as Part 10 files with the archive's own encoder (json-part10.ts;
// dcmjs's writer would add 700 KiB to every AI function's bundle).
import { lookupKeyword, resolveAmbiguousVr, tagToHex } from './dictionary.js';
import { jsonToPart10 } from './json-part10.js';
import type { DicomJson, PersonNameJson } from './json-model.js';
import { TransferSyntax } from './transfer-syntax.js';

export class DatasetError extends Error {}

type Primitive = string | number | PersonNameJson;

/** Builds a data set by keyword, with the VR taken from the data dictionary. */
export class DatasetBuilder {
  private readonly attributes: DicomJson = {};

  /** Sets an attribute; `undefined` or no values gives an empty (type 2) attribute. */
  set(keyword: string, ...values: Array<Primitive | undefined>): this {
    const { hex, vr } = entryFor(keyword);
    const present = values.filter((v): v is Primitive => v !== undefined && v !== '');
    this.attributes[hex] = present.length ? { vr, Value: present } : { vr };
    return this;
  }

  /** Sets an AT attribute to the tags of other attributes, named by keyword (DICOM JSON writes them as hex). */
  setTags(keyword: string, ...attributeKeywords: string[]): this {
    const { hex, vr } = entryFor(keyword);
    if (vr !== 'AT') throw new DatasetError(`${keyword} is not an attribute tag (AT)`);
    this.attributes[hex] = { vr, Value: attributeKeywords.map((k) => entryFor(k).hex) };
    return this;
  }

  /** Sets only when a value is given (type 3 attributes). */
  setIfPresent(keyword: string, ...values: Array<Primitive | undefined>): this {
    return values.some((v) => v !== undefined && v !== '') ? this.set(keyword, ...values) : this;
  }

  sequence(keyword: string, items: Array<DatasetBuilder | DicomJson>): this {
    const { hex, vr } = entryFor(keyword);
    if (vr !== 'SQ') throw new DatasetError(`${keyword} is not a sequence`);
    this.attributes[hex] = { vr, Value: items.map((i) => (i instanceof DatasetBuilder ? i.build() : i)) };
    return this;
  }

  binary(keyword: string, vr: 'OB' | 'OW', bytes: Uint8Array): this {
    const { hex } = entryFor(keyword);
    this.attributes[hex] = { vr, InlineBinary: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
    return this;
  }

  /** Copies attributes from another data set (DICOM JSON) as they are; missing ones become empty when `asType2`. */
  copyFrom(source: DicomJson, keywords: readonly string[], asType2 = true): this {
    for (const keyword of keywords) {
      const { hex, vr } = entryFor(keyword);
      const attribute = source[hex];
      if (attribute && !attribute.BulkDataURI) this.attributes[hex] = structuredClone(attribute);
      else if (asType2) this.attributes[hex] = { vr };
    }
    return this;
  }

  build(): DicomJson {
    return this.attributes;
  }
}

function entryFor(keyword: string): { hex: string; vr: string } {
  const entry = lookupKeyword(keyword);
  if (!entry) throw new DatasetError(`unknown attribute keyword ${keyword}`);
  return { hex: tagToHex(entry.tag), vr: resolveAmbiguousVr(entry.vr) };
}

/** AI results are stored like any instance: without its identity a data set is a programming error, named here. */
function requireSopIdentity(dataset: DicomJson): void {
  for (const keyword of ['SOPClassUID', 'SOPInstanceUID']) {
    const value = dataset[entryFor(keyword).hex]?.Value?.[0];
    if (typeof value !== 'string' || !value) throw new DatasetError(`${keyword} is required to write a Part 10 file`);
  }
}

/** Encodes a data set as a Part 10 file in explicit VR little endian, with UTF-8 text (ISO_IR 192). */
export function writePart10(dataset: DicomJson): Uint8Array {
  requireSopIdentity(dataset);
  return jsonToPart10(dataset, TransferSyntax.ExplicitVRLittleEndian);
}
