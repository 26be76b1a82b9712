// Coded concepts used in the results we write (PS3.16). One place, so that reports and tests agree.
export interface Code {
  value: string;
  scheme: string;
  meaning: string;
}

const code = (value: string, scheme: string, meaning: string): Code => ({ value, scheme, meaning });

export const Codes = {
  ImagingMeasurementReport: code('126000', 'DCM', 'Imaging Measurement Report'),
  LanguageOfContent: code('121049', 'DCM', 'Language of Content Item and Descendants'),
  EnglishUS: code('en-US', 'RFC5646', 'English (United States)'),
  ObserverType: code('121005', 'DCM', 'Observer Type'),
  Device: code('121007', 'DCM', 'Device'),
  DeviceObserverUID: code('121012', 'DCM', 'Device Observer UID'),
  DeviceObserverName: code('121013', 'DCM', 'Device Observer Name'),
  DeviceObserverManufacturer: code('121014', 'DCM', 'Device Observer Manufacturer'),
  DeviceObserverModelName: code('121015', 'DCM', 'Device Observer Model Name'),
  ProcedureReported: code('121058', 'DCM', 'Procedure reported'),
  ImageLibrary: code('111028', 'DCM', 'Image Library'),
  ImageLibraryGroup: code('126200', 'DCM', 'Image Library Group'),
  ImagingMeasurements: code('126010', 'DCM', 'Imaging Measurements'),
  MeasurementGroup: code('125007', 'DCM', 'Measurement Group'),
  TrackingIdentifier: code('112039', 'DCM', 'Tracking Identifier'),
  TrackingUniqueIdentifier: code('112040', 'DCM', 'Tracking Unique Identifier'),
  ReferencedSegment: code('121191', 'DCM', 'Referenced Segment'),
  SourceSeriesForSegmentation: code('121232', 'DCM', 'Source series for segmentation'),
  Finding: code('121071', 'DCM', 'Finding'),
  FindingSite: code('363698007', 'SCT', 'Finding Site'),
  QualitativeEvaluations: code('C0034375', 'UMLS', 'Qualitative Evaluations'),
  AlgorithmName: code('111001', 'DCM', 'Algorithm Name'),
  AlgorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
  AlgorithmParameters: code('111002', 'DCM', 'Algorithm Parameters'),
  Derivation: code('121401', 'DCM', 'Derivation'),
  Mean: code('373098007', 'SCT', 'Mean'),
  StandardDeviation: code('386136009', 'SCT', 'Standard Deviation'),
  Volume: code('118565006', 'SCT', 'Volume'),
  AttenuationCoefficient: code('112031', 'DCM', 'Attenuation Coefficient'),
  SourceImageForSegmentation: code('121322', 'DCM', 'Source image for image processing operation'),
  Segmentation: code('113076', 'DCM', 'Segmentation'),
  AnatomicalStructure: code('91723000', 'SCT', 'Anatomical Structure'),
  Bone: code('272673000', 'SCT', 'Bone'),
  ComputedTomography: code('77477000', 'SCT', 'Computed Tomography'),
  MagneticResonanceImaging: code('113091000', 'SCT', 'Magnetic Resonance Imaging'),
  Imaging: code('363679005', 'SCT', 'Imaging'),
} as const;

export const Units = {
  Milliliter: code('ml', 'UCUM', 'milliliter'),
  HounsfieldUnit: code("[hnsf'U]", 'UCUM', 'Hounsfield unit'),
  NoUnits: code('1', 'UCUM', 'no units'),
} as const;

/** The procedure a report is about, from the study's modalities. */
export function procedureFor(modalities: string[]): Code {
  if (modalities.includes('CT')) return Codes.ComputedTomography;
  if (modalities.includes('MR')) return Codes.MagneticResonanceImaging;
  return Codes.Imaging;
}
