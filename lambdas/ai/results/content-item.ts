// The SR content tree (PS3.3 C.17.3) as typed values, and its encoding as SR Document Content.
import { DatasetBuilder, DatasetError } from '../../dicom/writer.js';
import type { Code } from './codes.js';

export type Relationship = 'CONTAINS' | 'HAS OBS CONTEXT' | 'HAS CONCEPT MOD' | 'HAS PROPERTIES' | 'INFERRED FROM';

export interface SopReference {
  sopClassUID: string;
  sopInstanceUID: string;
}

interface ItemBase {
  relationship: Relationship;
  name: Code;
  children?: ContentItem[];
}
export type ContentItem =
  | (ItemBase & { valueType: 'CONTAINER'; continuity?: 'SEPARATE' | 'CONTINUOUS'; templateId?: string })
  | (ItemBase & { valueType: 'CODE'; value: Code })
  | (ItemBase & { valueType: 'TEXT'; value: string })
  | (ItemBase & { valueType: 'UIDREF'; value: string })
  | (ItemBase & { valueType: 'NUM'; value: number; unit: Code })
  | (Omit<ItemBase, 'name'> & { valueType: 'IMAGE'; name?: Code; reference: SopReference & { segmentNumber?: number } });

/** A root container: its relationship is implied, so only the children carry one. */
export interface RootContainer {
  name: Code;
  templateId: string;
  children: ContentItem[];
}

export function codeItem(code: Code): DatasetBuilder {
  return new DatasetBuilder().set('CodeValue', code.value).set('CodingSchemeDesignator', code.scheme).set('CodeMeaning', code.meaning);
}

/** DS values hold at most 16 characters (PS3.5 6.2). */
export function decimalString(value: number): string {
  if (!Number.isFinite(value)) throw new DatasetError(`cannot encode ${value} as a decimal string`);
  for (let digits = 10; digits >= 1; digits--) {
    const text = String(Number(value.toPrecision(digits)));
    if (text.length <= 16) return text;
  }
  return value.toExponential(6);
}

function templateSequence(templateId: string): DatasetBuilder {
  return new DatasetBuilder().set('MappingResource', 'DCMR').set('TemplateIdentifier', templateId);
}

function encodeItem(item: ContentItem): DatasetBuilder {
  const ds = new DatasetBuilder().set('RelationshipType', item.relationship).set('ValueType', item.valueType);
  if (item.name) ds.sequence('ConceptNameCodeSequence', [codeItem(item.name)]);
  switch (item.valueType) {
    case 'CONTAINER':
      ds.set('ContinuityOfContent', item.continuity ?? 'SEPARATE');
      if (item.templateId) ds.sequence('ContentTemplateSequence', [templateSequence(item.templateId)]);
      break;
    case 'CODE':
      ds.sequence('ConceptCodeSequence', [codeItem(item.value)]);
      break;
    case 'TEXT':
      if (!item.value) throw new DatasetError(`TEXT item "${item.name.meaning}" is empty`);
      ds.set('TextValue', item.value);
      break;
    case 'UIDREF':
      ds.set('UID', item.value);
      break;
    case 'NUM':
      ds.sequence('MeasuredValueSequence', [
        new DatasetBuilder().set('NumericValue', decimalString(item.value)).sequence('MeasurementUnitsCodeSequence', [codeItem(item.unit)]),
      ]);
      break;
    case 'IMAGE': {
      const ref = new DatasetBuilder()
        .set('ReferencedSOPClassUID', item.reference.sopClassUID)
        .set('ReferencedSOPInstanceUID', item.reference.sopInstanceUID);
      if (item.reference.segmentNumber !== undefined) ref.set('ReferencedSegmentNumber', item.reference.segmentNumber);
      ds.sequence('ReferencedSOPSequence', [ref]);
      break;
    }
  }
  if (item.children?.length) ds.sequence('ContentSequence', item.children.map(encodeItem));
  return ds;
}

/** Sets the SR Document Content module of the root container on `ds`. */
export function encodeRoot(ds: DatasetBuilder, root: RootContainer): DatasetBuilder {
  return ds
    .set('ValueType', 'CONTAINER')
    .sequence('ConceptNameCodeSequence', [codeItem(root.name)])
    .set('ContinuityOfContent', 'SEPARATE')
    .sequence('ContentTemplateSequence', [templateSequence(root.templateId)])
    .sequence('ContentSequence', root.children.map(encodeItem));
}

/** Every SOP instance an item tree references (for the evidence sequence). */
export function referencedInstances(items: ContentItem[]): SopReference[] {
  const out: SopReference[] = [];
  const walk = (list: ContentItem[]) => {
    for (const item of list) {
      if (item.valueType === 'IMAGE') out.push(item.reference);
      if (item.children) walk(item.children);
    }
  };
  walk(items);
  return out;
}
