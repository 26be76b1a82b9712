// Builds what an analyser sees of a study revision: metadata of every instance the pipeline did not
// write itself, frames decoded on demand to modality values (study-frames.ts), and the index for
// related studies.
import { cachedUntilRejected } from '../../cached-until-rejected.js';
import type { DicomJson } from '../../dicom/json-model.js';
import { allMatches, type ArchiveStorage } from '../../storage/ports.js';
import type { InstanceView, StudyInput } from '../analysers/analyser.js';
import type { AnalysisResult } from '../ports.js';

const studyFrames = cachedUntilRejected(() => import('./study-frames.js'));

export async function loadStudyInput(
  storage: ArchiveStorage,
  studyInstanceUID: string,
  revision: number,
  options: { producedByPipeline: Set<string>; primaryResults: AnalysisResult[]; now: Date },
): Promise<StudyInput> {
  const [records, metadata] = await Promise.all([storage.index.listInstances({ studyInstanceUID }), storage.index.metadataJson({ studyInstanceUID })]);
  const jsonBySop = new Map(metadata.map((m) => [m.sopInstanceUID, m.json]));
  const instances: InstanceView[] = records
    .filter((r) => !options.producedByPipeline.has(r.sopInstanceUID))
    .map((record) => ({
      seriesInstanceUID: record.seriesInstanceUID,
      sopInstanceUID: record.sopInstanceUID,
      sopClassUID: record.sopClassUID,
      numberOfFrames: record.numberOfFrames ?? (record.frames ? 1 : 0),
      metadata: JSON.parse(jsonBySop.get(record.sopInstanceUID) ?? '{}') as DicomJson,
      record,
    }));
  return {
    studyInstanceUID,
    revision,
    instances,
    primaryResults: options.primaryResults,
    now: options.now,
    query: (q) => allMatches(storage.index.query(q)),
    instancesOf: (study) => storage.index.listInstances({ studyInstanceUID: study }),
    // Pixel decoding (codecs, the pixel module's attributes) loads with the first frame an analyser asks
    // for: dispatching a study reads metadata only.
    frame: async (instance, frameIndex) => (await studyFrames()).modalityFrame(storage, instance, frameIndex),
  };
}
