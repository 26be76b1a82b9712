// Writing Part 10 files for objects the archive creates itself (AI results). dcmjs does the encoding;
// we hand it DICOM JSON built by DatasetBuilder, which is the form dcmjs keeps internally.
import dcmjs from 'dcmjs';
import { lookupKeyword, resolveAmbiguousVr, tagToHex } from './dictionary.js';
import type { DicomJson, DicomJsonAttribute, DicomJsonValue, PersonNameJson } from './json-model.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './implementation.js';
import { TransferSyntax } from './transfer-syntax.js';

interface DcmjsDicomDict {
  dict: Record<string, unknown>;
  write(options?: Record<string, unknown>): ArrayBuffer;
}
const data = (dcmjs as unknown as { data: { DicomDict: new (meta: Record<string, unknown>) => DcmjsDicomDict } }).data;

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
    // dcmjs writes binary values from ArrayBuffers; the cast keeps the JSON type for everything else.
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    this.attributes[hex] = { vr, Value: [buffer as unknown as DicomJsonValue] };
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

function sopIdentity(dataset: DicomJson): { sopClassUID: string; sopInstanceUID: string } {
  const text = (keyword: string): string => {
    const value = dataset[entryFor(keyword).hex]?.Value?.[0];
    if (typeof value !== 'string' || !value) throw new DatasetError(`${keyword} is required to write a Part 10 file`);
    return value;
  };
  return { sopClassUID: text('SOPClassUID'), sopInstanceUID: text('SOPInstanceUID') };
}

/** Encodes a data set as a Part 10 file in explicit VR little endian, with UTF-8 text (ISO_IR 192). */
export function writePart10(dataset: DicomJson): Uint8Array {
  const { sopClassUID, sopInstanceUID } = sopIdentity(dataset);
  const meta = new DatasetBuilder()
    .binary('FileMetaInformationVersion', 'OB', new Uint8Array([0, 1]))
    .set('MediaStorageSOPClassUID', sopClassUID)
    .set('MediaStorageSOPInstanceUID', sopInstanceUID)
    .set('TransferSyntaxUID', TransferSyntax.ExplicitVRLittleEndian)
    .set('ImplementationClassUID', IMPLEMENTATION_CLASS_UID)
    .set('ImplementationVersionName', IMPLEMENTATION_VERSION_NAME)
    .build();
  const dict = new data.DicomDict(forDcmjs(meta));
  dict.dict = forDcmjs({ ...dataset, [entryFor('SpecificCharacterSet').hex]: { vr: 'CS', Value: ['ISO_IR 192'] } });
  return new Uint8Array(dict.write());
}

/** dcmjs expects every attribute to have a Value array; DICOM JSON leaves it out when empty. */
function forDcmjs(dataset: DicomJson): Record<string, unknown> {
  const out: Record<string, DicomJsonAttribute> = {};
  for (const [hex, attribute] of Object.entries(dataset)) {
    const values = attribute.Value ?? [];
    out[hex] = {
      vr: attribute.vr,
      Value: attribute.vr === 'SQ' ? values.map((item) => forDcmjs(item as DicomJson) as unknown as DicomJsonValue) : values,
    };
  }
  return out;
}
