// A synthetic CT volume with known content: air around a water-density body, a
// dense sphere whose voxel count the test knows exactly, and Gaussian noise of a known sigma everywhere.
import { syntheticInstance, uid } from './synthetic.js';

export interface SyntheticCtOptions {
  studyInstanceUID?: string;
  patientID: string;
  studyDate: string;
  studyDescription: string;
  bodyPart?: string;
  extra?: Record<string, unknown>;
  slices?: number;
  size?: number;
  noiseSigma?: number;
  sphereRadiusMm?: number;
  sphereHU?: number;
  seed?: number;
}

export interface SyntheticCt {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  files: Uint8Array[];
  sphereVoxels: number;
  voxelMm3: number;
}

export function syntheticCt(o: SyntheticCtOptions): SyntheticCt {
  const study = o.studyInstanceUID ?? uid();
  const series = uid();
  const frameOfReference = uid();
  const slices = o.slices ?? 12;
  const size = o.size ?? 64;
  const pixelMm = 1;
  const sliceMm = 2;
  const radius = o.sphereRadiusMm ?? 8;
  const sphereHU = o.sphereHU ?? 1000;
  const sigma = o.noiseSigma ?? 10;
  let seed = o.seed ?? 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) + 1) / 0x80000000;
  const gauss = () => Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
  const centre = { x: size / 2, y: size / 2, z: (slices / 2) * sliceMm };
  let sphereVoxels = 0;
  const files: Uint8Array[] = [];
  for (let z = 0; z < slices; z++) {
    const pixels = new Uint16Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inBody = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size * 0.45) ** 2;
        const inSphere = (x - centre.x) ** 2 + (y - centre.y) ** 2 + (z * sliceMm - centre.z) ** 2 <= radius ** 2;
        if (inSphere) sphereVoxels++;
        const hu = (inSphere ? sphereHU : inBody ? 40 : -1000) + sigma * gauss();
        pixels[y * size + x] = Math.max(0, Math.round(hu + 1024));
      }
    }
    files.push(
      syntheticInstance(
        {
          StudyInstanceUID: study,
          SeriesInstanceUID: series,
          PatientName: 'Synthetic^Patient',
          PatientID: o.patientID,
          StudyDate: o.studyDate,
          StudyTime: '101500',
          StudyDescription: o.studyDescription,
          AccessionNumber: `${o.patientID}-${o.studyDate.slice(2)}`.slice(0, 16),
          Modality: 'CT',
          SeriesNumber: 2,
          InstanceNumber: z + 1,
          BodyPartExamined: o.bodyPart ?? 'CHEST',
          Manufacturer: 'Synthetic',
          ManufacturerModelName: 'Phantom CT',
          InstitutionName: 'Test Hospital',
          FrameOfReferenceUID: frameOfReference,
          ImagePositionPatient: [-size / 2, -size / 2, z * sliceMm],
          ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
          PixelSpacing: [pixelMm, pixelMm],
          SliceThickness: sliceMm,
          Rows: size,
          Columns: size,
          BitsAllocated: 16,
          BitsStored: 16,
          HighBit: 15,
          PixelRepresentation: 0,
          SamplesPerPixel: 1,
          PhotometricInterpretation: 'MONOCHROME2',
          RescaleIntercept: -1024,
          RescaleSlope: 1,
          ...o.extra,
        },
        pixels,
      ),
    );
  }
  return { studyInstanceUID: study, seriesInstanceUID: series, files, sphereVoxels, voxelMm3: pixelMm * pixelMm * sliceMm };
}
