// One frame of an instance decoded to modality values (Rescale Slope/Intercept applied), for analysers;
// loaded by study-input.ts with the first frame asked for.
import { UnsupportedEncodingError, decodeFrame } from '../../imaging/codecs.js';
import { pixelModuleOf } from '../../imaging/pixels.js';
import { frameSource, readFrame } from '../../dicomweb/retrieve/wado.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { NotAnalysableError, type InstanceView, type ModalityFrame } from '../analysers/analyser.js';

export async function modalityFrame(storage: ArchiveStorage, instance: InstanceView, frameIndex: number): Promise<ModalityFrame> {
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
