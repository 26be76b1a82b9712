// Builds what an analyser sees of a study revision: metadata of every instance the pipeline did not
// write itself, frames decoded on demand to modality values, and the index for related studies.
import type { DicomJson } from '../../dicom/json-model.js';
import { UnsupportedEncodingError, decodeFrame } from '../../imaging/codecs.js';
import { pixelModuleOf } from '../../imaging/pixels.js';
import { frameSource, readFrame } from '../../dicomweb/retrieve/wado.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { NotAnalysableError, type InstanceView, type ModalityFrame, type StudyInput } from '../analysers/analyser.js';
import type { AnalysisResult } from '../ports.js';

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
    query: (q) => storage.index.query(q),
    instancesOf: (study) => storage.index.listInstances({ studyInstanceUID: study }),
    frame: (instance, frameIndex) => modalityFrame(storage, instance, frameIndex),
  };
}

async function modalityFrame(storage: ArchiveStorage, instance: InstanceView, frameIndex: number): Promise<ModalityFrame> {
  const pm = pixelModuleOf(instance.metadata, frameIndex);
  if (pm.samplesPerPixel !== 1 || !pm.photometricInterpretation.startsWith('MONOCHROME')) {
    throw new NotAnalysableError(`instance ${instance.sopInstanceUID} is ${pm.photometricInterpretation}, not greyscale`);
  }
  if (!instance.record.frames) throw new NotAnalysableError(`instance ${instance.sopInstanceUID} has no pixel data`);
  try {
    const source = await frameSource(storage, instance.record);
    const decoded = await decodeFrame(await readFrame(source, frameIndex), instance.record.transferSyntaxUID, pm);
    const values = new Float32Array(decoded.values.length);
    for (let i = 0; i < values.length; i++) values[i] = decoded.values[i] * pm.rescaleSlope + pm.rescaleIntercept;
    return { rows: decoded.rows, columns: decoded.columns, values };
  } catch (e) {
    if (e instanceof UnsupportedEncodingError) throw new NotAnalysableError(`instance ${instance.sopInstanceUID}: ${e.message}`);
    throw e;
  }
}
