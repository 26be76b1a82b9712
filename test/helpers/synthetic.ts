// Synthetic instances written with dcmjs, for query tests and benchmarks.
import dcmjs from 'dcmjs';

interface DcmjsData {
  DicomMetaDictionary: { denaturalizeDataset(d: Record<string, unknown>): Record<string, unknown> };
  DicomDict: new (meta: Record<string, unknown>) => { dict: Record<string, unknown>; write(): ArrayBuffer };
}
const data = (dcmjs as unknown as { data: DcmjsData }).data;

let counter = 0;
export const uid = (prefix = '2.25') => `${prefix}.${Date.now()}${process.pid}${++counter}`;

export interface SyntheticInstance {
  StudyInstanceUID: string;
  SeriesInstanceUID: string;
  SOPInstanceUID?: string;
  SOPClassUID?: string;
  [keyword: string]: unknown;
}

/** A Part 10 file (explicit VR little endian) with the given attributes; pixels if Rows/Columns are given. */
export function syntheticInstance(attrs: SyntheticInstance, pixels?: Uint16Array): Uint8Array {
  const sop = attrs.SOPInstanceUID ?? uid();
  const sopClass = attrs.SOPClassUID ?? '1.2.840.10008.5.1.4.1.1.2';
  const dataset: Record<string, unknown> = { Modality: 'CT', ...attrs, SOPClassUID: sopClass, SOPInstanceUID: sop };
  if (pixels) {
    dataset.PixelData = [pixels.buffer];
    dataset._vrMap = { PixelData: 'OW' };
  }
  const meta = data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClass,
    MediaStorageSOPInstanceUID: sop,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '2.25.80302813137786398554742050926734630921',
  });
  const dict = new data.DicomDict(meta);
  dict.dict = data.DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}
