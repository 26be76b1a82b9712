// Reading attributes of an instance's DICOM JSON by keyword, for analysers. The keywords are those of
// `Tag` (checked when compiling), so that the pipeline's arrival and dispatch stages, which read them
// too, do not load the whole DICOM dictionary.
import { firstNumber, firstString, type DicomJson } from '../../dicom/json-model.js';
import { Tag, tagToHex, type TagKeyword } from '../../dicom/tags.js';
import type { SourceInstance } from '../results/common.js';
import type { InstanceView } from './analyser.js';

const hexOf = (keyword: TagKeyword): string => tagToHex(Tag[keyword]);

export function text(metadata: DicomJson | undefined, keyword: TagKeyword): string | undefined {
  if (!metadata) return undefined;
  const value = firstString(metadata, Tag[keyword])?.trim();
  return value || undefined;
}

export function numbers(metadata: DicomJson | undefined, keyword: TagKeyword): number[] {
  const values = metadata?.[hexOf(keyword)]?.Value ?? [];
  return values.map((v) => (typeof v === 'number' ? v : Number(v))).filter((n) => Number.isFinite(n));
}

export function number(metadata: DicomJson | undefined, keyword: TagKeyword): number | undefined {
  return metadata ? firstNumber(metadata, Tag[keyword]) : undefined;
}

export function item(metadata: DicomJson | undefined, keyword: TagKeyword, index = 0): DicomJson | undefined {
  return (metadata?.[hexOf(keyword)]?.Value?.[index] ?? undefined) as DicomJson | undefined;
}

export const sourceOf = (i: InstanceView): SourceInstance => ({ sopClassUID: i.sopClassUID, sopInstanceUID: i.sopInstanceUID, seriesInstanceUID: i.seriesInstanceUID });

/** Modalities, body parts, SOP classes, sites and description of a study, for filters and rules. */
export interface StudyProfile {
  modalities: string[];
  bodyParts: string[];
  sopClasses: string[];
  sites: string[];
  studyDescription: string;
  /** What was asked for: Requested Procedure Description, else Study Description. */
  requestedProcedure: string;
  scannerModel: string;
  site: string;
}

const IMAGE_EXCLUDED = new Set(['SR', 'SEG', 'KO', 'PR', 'RWV', 'REG', 'DOC']);

export function profileOf(instances: InstanceView[]): StudyProfile {
  const set = (f: (i: InstanceView) => string | undefined) => [...new Set(instances.map(f).filter((v): v is string => !!v))].sort();
  const first = instances[0]?.metadata;
  const requested =
    text(first, 'RequestedProcedureDescription') ??
    text(item(first, 'RequestAttributesSequence'), 'RequestedProcedureDescription') ??
    text(item(first, 'RequestAttributesSequence'), 'ScheduledProcedureStepDescription') ??
    text(first, 'StudyDescription') ??
    '';
  const images = instances.filter((i) => !IMAGE_EXCLUDED.has(text(i.metadata, 'Modality') ?? ''));
  return {
    modalities: set((i) => text(i.metadata, 'Modality')?.toUpperCase()),
    bodyParts: set((i) => text(i.metadata, 'BodyPartExamined')?.toUpperCase()),
    sopClasses: set((i) => i.sopClassUID),
    sites: set((i) => text(i.metadata, 'InstitutionName')),
    studyDescription: text(first, 'StudyDescription') ?? '',
    requestedProcedure: requested,
    scannerModel: text(images[0]?.metadata, 'ManufacturerModelName') ?? 'unknown',
    site: text(images[0]?.metadata, 'InstitutionName') ?? 'unknown',
  };
}
