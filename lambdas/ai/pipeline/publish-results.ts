// Turns an analyser's outcome into DICOM objects (a SEG when it segmented, and a TID 1500 SR) and stores
// them into the source study through the normal ingest path. UIDs derive from the analysis key, so a
// retried analysis writes the same objects again instead of new ones.
import { uidFromName } from '../../dicom/uid.js';
import { storeInstance } from '../../dicomweb/store/store-instance.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import type { Analyser, AnalysisOutcome, InstanceView } from '../analysers/analyser.js';
import { profileOf } from '../analysers/attributes.js';
import type { AnalysisResult } from '../ports.js';
import { procedureFor } from '../results/codes.js';
import type { ResultIdentity, SourceInstance } from '../results/common.js';
import { COMPREHENSIVE_SR, writeMeasurementReport, type MeasurementGroup } from '../results/measurement-report.js';
import { SEGMENTATION_STORAGE, writeSegmentation } from '../results/segmentation.js';

type Analysed = Extract<AnalysisOutcome, { status: 'analysed' }>;

/** Series numbers for results sit far above those of modalities, one per analyser. */
const SERIES_NUMBER_BASE = 9000;

export async function publishResults(
  storage: ArchiveStorage,
  analyser: Analyser,
  analyserIndex: number,
  key: string,
  studyInstanceUID: string,
  instances: InstanceView[],
  outcome: Analysed,
  contentDateTime: Date,
): Promise<AnalysisResult['objects']> {
  const study = instances[0].metadata;
  const algorithm = { name: analyser.name, version: analyser.version, vendor: analyser.vendor };
  const identity = (kind: 'SR' | 'SEG'): ResultIdentity => ({
    study,
    studyInstanceUID,
    seriesInstanceUID: uidFromName(`${key}/${kind}/series`),
    sopInstanceUID: uidFromName(`${key}/${kind}/instance`),
    seriesNumber: SERIES_NUMBER_BASE + analyserIndex * 10 + (kind === 'SEG' ? 1 : 0),
    seriesDescription: `${analyser.name} ${analyser.version} (${kind === 'SEG' ? 'segmentation' : 'report'})`.slice(0, 64),
    contentDateTime,
    algorithm,
  });
  const objects: AnalysisResult['objects'] = [];
  const store = async (bytes: Uint8Array, kind: 'SR' | 'SEG', ref: SourceInstance) => {
    const stored = await storeInstance(storage, bytes, { duplicatePolicy: 'reject', producedBy: key });
    // A conflict means an earlier attempt of this same analysis stored the object under its UID first.
    if (stored.status === 'failed' && stored.failureReason !== 0x0111) throw new Error(`storing the ${kind} failed: ${stored.message}`);
    objects.push({ ...ref, kind });
  };

  let segmentation: SourceInstance | undefined;
  if (outcome.segmentation) {
    const id = identity('SEG');
    const { sourceSeriesInstanceUID: _s, ...content } = outcome.segmentation;
    segmentation = { sopClassUID: SEGMENTATION_STORAGE, sopInstanceUID: id.sopInstanceUID, seriesInstanceUID: id.seriesInstanceUID };
    await store(writeSegmentation({ identity: id, ...content }), 'SEG', segmentation);
  }
  const groups: MeasurementGroup[] = outcome.groups.map((g) => {
    const { segmentNumber, ...rest } = g;
    if (segmentNumber !== undefined) {
      if (!segmentation || !outcome.segmentation) throw new Error(`${analyser.id} refers to segment ${segmentNumber} without a segmentation`);
      return { ...rest, kind: 'volumetric', segment: { segmentation, segmentNumber, sourceSeriesInstanceUID: outcome.segmentation.sourceSeriesInstanceUID } };
    }
    return { ...rest, kind: 'image', sources: outcome.sourceImages };
  });
  const id = identity('SR');
  const report = writeMeasurementReport({
    identity: id,
    procedure: procedureFor(profileOf(instances).modalities),
    sourceImages: outcome.sourceImages,
    groups,
    evaluations: outcome.evaluations,
  });
  await store(report, 'SR', { sopClassUID: COMPREHENSIVE_SR, sopInstanceUID: id.sopInstanceUID, seriesInstanceUID: id.seriesInstanceUID });
  return objects;
}
