// The contract between the pipeline and an analyser. An analyser sees one study revision (metadata,
// frames on demand, the archive for priors) and returns findings as typed values; the pipeline turns
// them into DICOM SR/SEG, stores them in the study and updates the worklist.
import type { DicomJson } from '../../dicom/json-model.js';
import type { IndexQuery, QueryMatch, StoredInstance } from '../../storage/ports.js';
import type { AnalysisResult, PriorityLevel } from '../ports.js';
import type { Code } from '../results/codes.js';
import type { SourceInstance } from '../results/common.js';
import type { Measurement, QualitativeEvaluation } from '../results/measurement-report.js';
import type { Segment, SliceGeometry, SourceSlice } from '../results/segmentation.js';

/** Which studies an analyser accepts. Every given criterion must match; an empty filter accepts all. */
export interface AnalyserFilter {
  /** Any of the study's modalities. */
  modalities?: string[];
  /** Body Part Examined of any series (upper case). */
  bodyParts?: string[];
  /** Any instance's SOP Class UID. */
  sopClasses?: string[];
  /** Institution Name of any instance (the sending site). */
  sites?: string[];
  /** A case-insensitive regular expression over Study Description. */
  studyDescription?: string;
}

export interface InstanceView {
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  numberOfFrames: number;
  metadata: DicomJson;
  record: StoredInstance;
}

/** Modality values (after Rescale Slope/Intercept) of one greyscale frame. */
export interface ModalityFrame {
  rows: number;
  columns: number;
  values: Float32Array;
}

export interface StudyInput {
  studyInstanceUID: string;
  revision: number;
  /** The study's instances, without the results the pipeline itself wrote. */
  instances: InstanceView[];
  /** Decodes one frame (0-based) of an instance; throws NotAnalysableError when it cannot be decoded. */
  frame(instance: InstanceView, frameIndex: number): Promise<ModalityFrame>;
  /** The archive's index, for finding related studies. */
  query(query: IndexQuery): Promise<QueryMatch[]>;
  instancesOf(studyInstanceUID: string): Promise<StoredInstance[]>;
  /** Results of this revision from the primary analysers (seen by summary analysers such as triage). */
  primaryResults: AnalysisResult[];
  /** The current time, injectable for tests of age-dependent rules. */
  now: Date;
}

/** A measurement group; `segmentNumber` ties it to a segment of the outcome's segmentation. */
export interface OutcomeGroup {
  trackingIdentifier: string;
  finding: Code;
  findingSite?: Code;
  measurements: Measurement[];
  segmentNumber?: number;
}

export interface OutcomeSegmentation {
  sourceSeriesInstanceUID: string;
  contentLabel: string;
  contentDescription: string;
  geometry: SliceGeometry;
  slices: SourceSlice[];
  segments: Segment[];
}

export type AnalysisOutcome =
  | { status: 'not-analysed'; reason: string }
  | {
      status: 'analysed';
      summary: string;
      /** Whether the result flags something (for the positive rate). */
      positive: boolean;
      priority?: { level: PriorityLevel; reason: string };
      /** Numbers to monitor over time (drift), e.g. volumeMl. */
      outputs: Record<string, number>;
      sourceImages: SourceInstance[];
      evaluations: QualitativeEvaluation[];
      groups: OutcomeGroup[];
      segmentation?: OutcomeSegmentation;
      /** The model file that produced it, when a model did. */
      modelSha256?: string;
    };

export interface Analyser {
  id: string;
  name: string;
  version: string;
  vendor: string;
  intendedUse: string;
  /** Primary analysers run on arrival; summary analysers (triage) after all primary ones finished. */
  stage: 'primary' | 'summary';
  filter: AnalyserFilter;
  /** The model file it runs, from the archive's model store. */
  model?: { name: string; version: string };
  analyse(study: StudyInput): Promise<AnalysisOutcome>;
}

/** An input the analyser cannot handle: recorded as "not analysed: reason", never retried. */
export class NotAnalysableError extends Error {}
