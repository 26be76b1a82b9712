// The Native DICOM Model (PS3.19 A.1): the XML form of instance metadata that WADO-RS serves as
// multipart/related; type="application/dicom+xml". Written from the DICOM JSON model, which carries
// the same information (PS3.18 F.2 and PS3.19 A.1 map one to one).
import { isPrivateTag, lookupTag, tagFromHex } from './dictionary.js';
import type { DicomJson, DicomJsonValue, PersonNameJson } from './json-model.js';

const NAMESPACE = 'http://dicom.nema.org/PS3.19/models/NativeDICOM';
const NAME_COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;
const NAME_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;

/** Text content and attribute values; characters XML 1.0 cannot carry at all are dropped. */
function escape(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML parsers fold CR LF into LF and whitespace in attributes into spaces: references keep them.
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

function personName(value: PersonNameJson, number: number): string {
  const groups = NAME_GROUPS.flatMap((group) => {
    const text = value[group];
    if (!text) return [];
    const components = text.split('^');
    const inner = NAME_COMPONENTS.map((name, i) => (components[i] ? `<${name}>${escape(components[i])}</${name}>` : '')).join('');
    return [`<${group}>${inner}</${group}>`];
  });
  return `<PersonName number="${number}">${groups.join('')}</PersonName>`;
}

/** The creator of a private element (gggg,xxee) is the value of (gggg,00xx) in the same data set. */
function privateCreatorOf(dataset: DicomJson, tag: number): string | undefined {
  const block = (tag >>> 8) & 0xff;
  if (block < 0x10) return undefined;
  const creatorTag = ((tag & 0xffff0000) | block) >>> 0;
  const value = dataset[creatorTag.toString(16).toUpperCase().padStart(8, '0')]?.Value?.[0];
  return typeof value === 'string' ? value : undefined;
}

function attributes(dataset: DicomJson): string {
  const out: string[] = [];
  for (const hex of Object.keys(dataset).sort()) {
    const attribute = dataset[hex];
    const tag = tagFromHex(hex);
    const isPrivate = isPrivateTag(tag);
    const keyword = isPrivate ? undefined : lookupTag(tag)?.keyword;
    const creator = isPrivate ? privateCreatorOf(dataset, tag) : undefined;
    // A private element is named by its creator and its element within the block (PS3.19 A.1.5): gggg00ee,
    // since the block (gggg,xx00) it was written in varies from file to file.
    const written = creator !== undefined ? ((tag & 0xffff00ff) >>> 0).toString(16).toUpperCase().padStart(8, '0') : hex;
    let head = `<DicomAttribute tag="${written}" vr="${attribute.vr}"`;
    if (keyword) head += ` keyword="${keyword}"`;
    if (creator !== undefined) head += ` privateCreator="${escape(creator)}"`;
    out.push(`${head}>${content(attribute.vr, attribute.Value, attribute.InlineBinary, attribute.BulkDataURI)}</DicomAttribute>`);
  }
  return out.join('');
}

function content(vr: string, values: DicomJsonValue[] | undefined, inlineBinary: string | undefined, bulkDataUri: string | undefined): string {
  if (bulkDataUri !== undefined) return `<BulkData uri="${escape(bulkDataUri)}"/>`;
  if (inlineBinary !== undefined) return `<InlineBinary>${inlineBinary}</InlineBinary>`;
  if (!values) return '';
  return values
    .map((value, i) => {
      const number = i + 1;
      if (vr === 'SQ') return `<Item number="${number}">${value && typeof value === 'object' ? attributes(value as DicomJson) : ''}</Item>`;
      if (vr === 'PN') return value && typeof value === 'object' ? personName(value as PersonNameJson, number) : `<PersonName number="${number}"/>`;
      if (value === null) return `<Value number="${number}"/>`;
      return `<Value number="${number}">${escape(String(value))}</Value>`;
    })
    .join('');
}

/** One instance's metadata as a Native DICOM Model document (UTF-8). */
export function toNativeDicomXml(dataset: DicomJson): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel xmlns="${NAMESPACE}" xml:space="preserve">${attributes(dataset)}</NativeDicomModel>\n`;
}
