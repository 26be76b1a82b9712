// The Native DICOM Model (PS3.19 A.1): the XML form of instance metadata that WADO-RS serves and
// STOW-RS accepts as multipart/related; type="application/dicom+xml". Written from and read into the
// DICOM JSON model, which carries the same information (PS3.18 F.2 and PS3.19 A.1 map one to one).
import { XmlElement, XmlError, parseXml } from '@rgrove/parse-xml';
import { isPrivateTag, lookupTag, tagFromHex, tagToHex } from './dictionary.js';
import type { DicomJson, DicomJsonAttribute, DicomJsonValue, PersonNameJson } from './json-model.js';

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

export class NativeDicomXmlError extends Error {}

const childElements = (parent: XmlElement, name: string): XmlElement[] =>
  parent.children.filter((c): c is XmlElement => c instanceof XmlElement && c.name === name);

/** Children numbered from 1 (Value, PersonName, Item) in their order; a gap is an empty value. */
function numbered(parent: XmlElement, name: string): Array<XmlElement | undefined> {
  const out: Array<XmlElement | undefined> = [];
  childElements(parent, name).forEach((child, i) => {
    const number = child.attributes.number === undefined ? i + 1 : Number(child.attributes.number);
    if (!Number.isInteger(number) || number < 1 || number > 1_000_000) throw new NativeDicomXmlError(`<${name} number="${child.attributes.number}"> is not a value number`);
    out[number - 1] = child;
  });
  return Array.from(out);
}

function personNameFromXml(element: XmlElement | undefined): DicomJsonValue {
  if (!element) return null;
  const value: PersonNameJson = {};
  for (const group of NAME_GROUPS) {
    const [groupElement] = childElements(element, group);
    if (!groupElement) continue;
    value[group] = NAME_COMPONENTS.map((name) => childElements(groupElement, name)[0]?.text ?? '')
      .join('^')
      .replace(/\^+$/, '');
  }
  return Object.keys(value).length ? value : null;
}

function attributeFromXml(vr: string, element: XmlElement): DicomJsonAttribute {
  const [bulk] = childElements(element, 'BulkData');
  if (bulk) {
    // By uri (matched to a part's Content-Location) or by uuid (matched to a part's Content-ID).
    const reference = bulk.attributes.uri ?? bulk.attributes.uuid;
    if (!reference) throw new NativeDicomXmlError('a <BulkData> element has neither a uri nor a uuid');
    return { vr, BulkDataURI: reference };
  }
  const [inline] = childElements(element, 'InlineBinary');
  if (inline) return { vr, InlineBinary: inline.text.replace(/\s+/g, '') };
  let values: DicomJsonValue[];
  if (vr === 'SQ') values = numbered(element, 'Item').map((item) => (item ? datasetFromXml(item) : {}));
  else if (vr === 'PN') values = numbered(element, 'PersonName').map(personNameFromXml);
  // Text as written: the Part 10 writer turns it into numbers where the VR is binary.
  else values = numbered(element, 'Value').map((v) => (v && v.children.length ? v.text : null));
  return values.length ? { vr, Value: values } : { vr };
}

function datasetFromXml(parent: XmlElement): DicomJson {
  const elements = childElements(parent, 'DicomAttribute').map((element) => {
    const hex = element.attributes.tag ?? '';
    const vr = element.attributes.vr ?? '';
    if (!/^[0-9A-Fa-f]{8}$/.test(hex)) throw new NativeDicomXmlError(`<DicomAttribute tag="${hex}"> is not a tag of 8 hex digits`);
    if (!/^[A-Z]{2}$/.test(vr)) throw new NativeDicomXmlError(`<DicomAttribute tag="${hex}"> has no valid vr ("${vr}")`);
    return { element, tag: tagFromHex(hex), vr };
  });
  // A private element named by its creator (gggg00ee + privateCreator) goes into the block its creator
  // (gggg,00xx) reserves in this data set.
  const blocks = new Map<string, number>();
  for (const { element, tag } of elements) {
    const low = tag & 0xffff;
    if (isPrivateTag(tag) && low >= 0x10 && low <= 0xff) {
      const creator = childElements(element, 'Value')[0]?.text;
      if (creator !== undefined) blocks.set(`${tag >>> 16}|${creator.trim()}`, low);
    }
  }
  const out: DicomJson = {};
  for (const { element, tag, vr } of elements) {
    let placed = tag;
    const creator = element.attributes.privateCreator;
    if (creator !== undefined && isPrivateTag(tag) && ((tag >>> 8) & 0xff) === 0) {
      const block = blocks.get(`${tag >>> 16}|${creator.trim()}`);
      if (block === undefined) throw new NativeDicomXmlError(`private attribute ${tagToHex(tag)} names creator "${creator}", which the data set does not declare`);
      placed = (tag | (block << 8)) >>> 0;
    }
    out[tagToHex(placed)] = attributeFromXml(vr, element);
  }
  return out;
}

/** One Native DICOM Model document as DICOM JSON; a <BulkData> reference becomes a BulkDataURI. */
export function fromNativeDicomXml(xml: string): DicomJson {
  let root: XmlElement | null;
  try {
    root = parseXml(xml).root;
  } catch (e) {
    if (e instanceof XmlError) throw new NativeDicomXmlError(`not well-formed XML: ${e.message}`);
    throw e;
  }
  if (root?.name !== 'NativeDicomModel') throw new NativeDicomXmlError(`the document element is <${root?.name ?? ''}>, not <NativeDicomModel>`);
  return datasetFromXml(root);
}
