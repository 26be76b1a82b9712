// A TID 1500 Imaging Measurement Report as a typed object, written as a Comprehensive SR.
// Structure (PS3.16 TID 1500): language, device observer context, procedure reported, image library
// of the sources, measurement groups (TID 1411 volumetric with a referenced segment, TID 1501 otherwise),
// and qualitative evaluations.
import { writePart10, DatasetBuilder, DatasetError } from '../../dicom/writer.js';
import { uidFromName } from '../../dicom/uid.js';
import { Codes, type Code } from './codes.js';
import { checkUid, referencedSeries, resultBase, type ResultIdentity, type SourceInstance } from './common.js';
import { encodeRoot, referencedInstances, type ContentItem } from './content-item.js';

export const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';

export interface Measurement {
  name: Code;
  value: number;
  unit: Code;
  /** For example Mean or Standard Deviation of the named quantity. */
  derivation?: Code;
  /** Free-text parameters of the algorithm that produced it (TID 4019). */
  parameters?: string;
}

interface GroupBase {
  trackingIdentifier: string;
  finding: Code;
  findingSite?: Code;
  measurements: Measurement[];
}
export type MeasurementGroup =
  | (GroupBase & { kind: 'volumetric'; segment: { segmentation: SourceInstance; segmentNumber: number; sourceSeriesInstanceUID: string } })
  | (GroupBase & { kind: 'image'; sources: SourceInstance[] });

export interface QualitativeEvaluation {
  name: Code;
  value: Code | string;
}

export interface MeasurementReport {
  identity: ResultIdentity;
  procedure: Code;
  /** The images the results were derived from: listed in the image library and the evidence. */
  sourceImages: SourceInstance[];
  groups: MeasurementGroup[];
  evaluations: QualitativeEvaluation[];
}

function validate(report: MeasurementReport): void {
  if (!report.sourceImages.length) throw new DatasetError('a measurement report needs at least one source image');
  for (const s of report.sourceImages) checkUid(s.sopInstanceUID, 'source SOP Instance UID');
  for (const g of report.groups) {
    if (!g.trackingIdentifier) throw new DatasetError('every measurement group needs a tracking identifier');
    for (const m of g.measurements) if (!Number.isFinite(m.value)) throw new DatasetError(`measurement "${m.name.meaning}" is not a finite number`);
    if (g.kind === 'volumetric' && !(g.segment.segmentNumber >= 1)) throw new DatasetError('a referenced segment number starts at 1');
  }
  for (const e of report.evaluations) if (typeof e.value === 'string' && !e.value.trim()) throw new DatasetError(`evaluation "${e.name.meaning}" is empty`);
}

function observerContext(report: MeasurementReport): ContentItem[] {
  const { algorithm } = report.identity;
  return [
    { relationship: 'HAS OBS CONTEXT', valueType: 'CODE', name: Codes.ObserverType, value: Codes.Device },
    { relationship: 'HAS OBS CONTEXT', valueType: 'UIDREF', name: Codes.DeviceObserverUID, value: uidFromName(`device:${algorithm.vendor}:${algorithm.name}`) },
    { relationship: 'HAS OBS CONTEXT', valueType: 'TEXT', name: Codes.DeviceObserverName, value: algorithm.name },
    { relationship: 'HAS OBS CONTEXT', valueType: 'TEXT', name: Codes.DeviceObserverManufacturer, value: algorithm.vendor },
    { relationship: 'HAS OBS CONTEXT', valueType: 'TEXT', name: Codes.DeviceObserverModelName, value: `${algorithm.name} ${algorithm.version}` },
  ];
}

function measurementItem(m: Measurement, report: MeasurementReport): ContentItem {
  const { algorithm } = report.identity;
  const modifiers: ContentItem[] = [];
  if (m.derivation) modifiers.push({ relationship: 'HAS CONCEPT MOD', valueType: 'CODE', name: Codes.Derivation, value: m.derivation });
  modifiers.push(
    { relationship: 'HAS CONCEPT MOD', valueType: 'TEXT', name: Codes.AlgorithmName, value: algorithm.name },
    { relationship: 'HAS CONCEPT MOD', valueType: 'TEXT', name: Codes.AlgorithmVersion, value: algorithm.version },
  );
  if (m.parameters) modifiers.push({ relationship: 'HAS CONCEPT MOD', valueType: 'TEXT', name: Codes.AlgorithmParameters, value: m.parameters });
  return { relationship: 'CONTAINS', valueType: 'NUM', name: m.name, value: m.value, unit: m.unit, children: modifiers };
}

function groupItem(group: MeasurementGroup, report: MeasurementReport): ContentItem {
  const trackingUid = uidFromName(`tracking:${report.identity.sopInstanceUID}:${group.trackingIdentifier}`);
  const children: ContentItem[] = [
    { relationship: 'HAS OBS CONTEXT', valueType: 'TEXT', name: Codes.TrackingIdentifier, value: group.trackingIdentifier },
    { relationship: 'HAS OBS CONTEXT', valueType: 'UIDREF', name: Codes.TrackingUniqueIdentifier, value: trackingUid },
    { relationship: 'CONTAINS', valueType: 'CODE', name: Codes.Finding, value: group.finding },
  ];
  if (group.kind === 'volumetric') {
    children.push(
      { relationship: 'CONTAINS', valueType: 'IMAGE', name: Codes.ReferencedSegment, reference: { ...group.segment.segmentation, segmentNumber: group.segment.segmentNumber } },
      { relationship: 'CONTAINS', valueType: 'UIDREF', name: Codes.SourceSeriesForSegmentation, value: group.segment.sourceSeriesInstanceUID },
    );
  }
  if (group.findingSite) children.push({ relationship: 'HAS CONCEPT MOD', valueType: 'CODE', name: Codes.FindingSite, value: group.findingSite });
  children.push(...group.measurements.map((m) => measurementItem(m, report)));
  return {
    relationship: 'CONTAINS',
    valueType: 'CONTAINER',
    name: Codes.MeasurementGroup,
    templateId: group.kind === 'volumetric' ? '1411' : '1501',
    children,
  };
}

function contentTree(report: MeasurementReport): ContentItem[] {
  const items: ContentItem[] = [
    { relationship: 'HAS CONCEPT MOD', valueType: 'CODE', name: Codes.LanguageOfContent, value: Codes.EnglishUS },
    ...observerContext(report),
    { relationship: 'HAS CONCEPT MOD', valueType: 'CODE', name: Codes.ProcedureReported, value: report.procedure },
    {
      relationship: 'CONTAINS',
      valueType: 'CONTAINER',
      name: Codes.ImageLibrary,
      children: [
        {
          relationship: 'CONTAINS',
          valueType: 'CONTAINER',
          name: Codes.ImageLibraryGroup,
          children: report.sourceImages.map((s): ContentItem => ({ relationship: 'CONTAINS', valueType: 'IMAGE', reference: s })),
        },
      ],
    },
  ];
  if (report.groups.length) {
    items.push({ relationship: 'CONTAINS', valueType: 'CONTAINER', name: Codes.ImagingMeasurements, children: report.groups.map((g) => groupItem(g, report)) });
  }
  if (report.evaluations.length) {
    items.push({
      relationship: 'CONTAINS',
      valueType: 'CONTAINER',
      name: Codes.QualitativeEvaluations,
      children: report.evaluations.map((e): ContentItem =>
        typeof e.value === 'string'
          ? { relationship: 'CONTAINS', valueType: 'TEXT', name: e.name, value: e.value }
          : { relationship: 'CONTAINS', valueType: 'CODE', name: e.name, value: e.value },
      ),
    });
  }
  return items;
}

/** The report as a Part 10 file. */
export function writeMeasurementReport(report: MeasurementReport): Uint8Array {
  validate(report);
  const children = contentTree(report);
  const ds = resultBase(report.identity, COMPREHENSIVE_SR, 'SR')
    .sequence('ReferencedPerformedProcedureStepSequence', [])
    .set('InstanceNumber', 1)
    .set('CompletionFlag', 'COMPLETE')
    .set('VerificationFlag', 'UNVERIFIED')
    .sequence('PerformedProcedureCodeSequence', []);
  // Evidence: every instance the tree references, grouped by series (all within the source study,
  // because results are stored into the study they describe).
  const bySop = new Map<string, SourceInstance>();
  for (const s of report.sourceImages) bySop.set(s.sopInstanceUID, s);
  for (const g of report.groups) if (g.kind === 'volumetric') bySop.set(g.segment.segmentation.sopInstanceUID, g.segment.segmentation);
  for (const r of referencedInstances(children)) {
    if (!bySop.has(r.sopInstanceUID)) throw new DatasetError(`the report references ${r.sopInstanceUID} without knowing its series`);
  }
  ds.sequence('CurrentRequestedProcedureEvidenceSequence', [
    new DatasetBuilder().set('StudyInstanceUID', report.identity.studyInstanceUID).sequence('ReferencedSeriesSequence', referencedSeries([...bySop.values()])),
  ]);
  encodeRoot(ds, { name: Codes.ImagingMeasurementReport, templateId: '1500', children });
  return writePart10(ds.build());
}
