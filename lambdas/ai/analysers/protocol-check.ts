// Compares what was requested (Requested Procedure Description, else Study Description) with what was
// acquired: modality, body part, contrast, laterality and slice thickness. Each rule is written out
// below so that a site can read exactly why a study was flagged.
import { Codes } from '../results/codes.js';
import { NotAnalysableError, type Analyser, type AnalysisOutcome, type InstanceView, type StudyInput } from './analyser.js';
import { numbers, profileOf, sourceOf, text } from './attributes.js';

const MODALITY_WORDS: Array<[RegExp, string[]]> = [
  [/\b(CT|CAT|COMPUTED TOMOGRAPHY|CTA)\b/, ['CT']],
  [/\b(MR|MRI|MRA|MAGNETIC RESONANCE)\b/, ['MR']],
  [/\b(XR|X-RAY|XRAY|RADIOGRAPH\w*|CR|DX)\b/, ['CR', 'DX', 'DR']],
  [/\b(US|ULTRASOUND|SONO\w*|DOPPLER)\b/, ['US']],
  [/\b(MG|MAMMO\w*|TOMOSYNTHESIS)\b/, ['MG']],
  [/\b(PET|PT)\b/, ['PT']],
  [/\b(NM|SPECT|SCINTI\w*)\b/, ['NM']],
];

/** Body regions named in requests, with the Body Part Examined values (PS3.16 CID 4031 terms) that satisfy them. */
const REGIONS: Array<[RegExp, string[]]> = [
  [/\b(HEAD|BRAIN|SKULL|CRANI\w*)\b/, ['HEAD', 'BRAIN', 'SKULL', 'HEADNECK']],
  [/\b(NECK|CERVICAL)\b/, ['NECK', 'CSPINE', 'HEADNECK', 'NECKCHEST']],
  [/\b(CHEST|THORAX|THORACIC|LUNGS?|PULMONARY)\b/, ['CHEST', 'LUNG', 'THORAX', 'TSPINE', 'CHESTABDOMEN', 'CHESTABDPELVIS', 'NECKCHEST', 'BREAST']],
  [/\b(ABDOMEN|ABDOMINAL|ABD|LIVER|KIDNEYS?|RENAL)\b/, ['ABDOMEN', 'ABDOMENPELVIS', 'CHESTABDOMEN', 'CHESTABDPELVIS', 'LIVER', 'KIDNEY', 'LSPINE']],
  [/\b(PELVIS|PELVIC|HIP)\b/, ['PELVIS', 'ABDOMENPELVIS', 'CHESTABDPELVIS', 'HIP']],
  [/\b(KNEE)\b/, ['KNEE', 'LEG', 'EXTREMITY']],
  [/\b(SPINE|LUMBAR|SPINAL)\b/, ['SPINE', 'CSPINE', 'TSPINE', 'LSPINE', 'SSPINE']],
];

const WITH_CONTRAST = /\b(W\/ ?CONTRAST|WITH CONTRAST|WITH IV CONTRAST|CONTRAST[- ]ENHANCED|C\+|W CON|ANGIO\w*|CTA|MRA)\b|\bC\+/;
const WITHOUT_CONTRAST = /\b(W\/O|WO|WITHOUT( IV)? CONTRAST|NON[- ]?CONTRAST|NONCON|UNENHANCED|PLAIN|C-)(\b|$)/;
const HIGH_RESOLUTION = /\b(HRCT|HIGH[- ]RESOLUTION|THIN[- ]SLICE)\b/;

export interface Mismatch {
  rule: 'modality' | 'body part' | 'contrast' | 'laterality' | 'slice thickness';
  message: string;
  /** Wrong modality or side is a safety matter and raises the study's priority. */
  severe: boolean;
}

function lateralityOf(i: InstanceView): string | undefined {
  return (text(i.metadata, 'Laterality') ?? text(i.metadata, 'ImageLaterality') ?? text(i.metadata, 'FrameLaterality'))?.toUpperCase();
}

export function checkProtocol(instances: InstanceView[]): { requested: string; mismatches: Mismatch[] } {
  const profile = profileOf(instances);
  const requested = profile.requestedProcedure.toUpperCase();
  const mismatches: Mismatch[] = [];
  if (!requested) return { requested, mismatches };

  const wantedModalities = MODALITY_WORDS.filter(([re]) => re.test(requested)).flatMap(([, m]) => m);
  if (wantedModalities.length && !profile.modalities.some((m) => wantedModalities.includes(m))) {
    mismatches.push({ rule: 'modality', severe: true, message: `requested "${profile.requestedProcedure}" but acquired ${profile.modalities.join('/')}` });
  }

  const wantedRegions = REGIONS.filter(([re]) => re.test(requested));
  if (wantedRegions.length && profile.bodyParts.length) {
    const satisfied = wantedRegions.some(([, parts]) => profile.bodyParts.some((p) => parts.includes(p)));
    if (!satisfied) mismatches.push({ rule: 'body part', severe: false, message: `requested "${profile.requestedProcedure}" but Body Part Examined is ${profile.bodyParts.join('/')}` });
  }

  const contrastGiven = instances.some((i) => !!text(i.metadata, 'ContrastBolusAgent'));
  if (WITHOUT_CONTRAST.test(requested) && contrastGiven) {
    mismatches.push({ rule: 'contrast', severe: false, message: `requested without contrast but Contrast/Bolus Agent is recorded` });
  } else if (!WITHOUT_CONTRAST.test(requested) && WITH_CONTRAST.test(requested) && !contrastGiven) {
    mismatches.push({ rule: 'contrast', severe: false, message: `requested with contrast but no series records a Contrast/Bolus Agent` });
  }

  const wantedSide = /\b(LEFT|LT)\b/.test(requested) ? 'L' : /\b(RIGHT|RT)\b/.test(requested) ? 'R' : undefined;
  if (wantedSide && !/\bBILAT\w*\b/.test(requested)) {
    const sides = [...new Set(instances.map(lateralityOf).filter((s): s is string => s === 'L' || s === 'R'))];
    if (sides.length && !sides.includes(wantedSide)) {
      mismatches.push({ rule: 'laterality', severe: true, message: `requested ${wantedSide === 'L' ? 'left' : 'right'} side but images are labelled ${sides.join('/')}` });
    }
  }

  if (profile.modalities.includes('CT') && HIGH_RESOLUTION.test(requested)) {
    const thicknesses = instances.filter((i) => text(i.metadata, 'Modality') === 'CT').map((i) => numbers(i.metadata, 'SliceThickness')[0]).filter((t): t is number => t !== undefined);
    if (thicknesses.length && Math.min(...thicknesses) > 1.5) {
      mismatches.push({ rule: 'slice thickness', severe: false, message: `high-resolution CT requested but the thinnest slices are ${Math.min(...thicknesses)} mm (expected ≤ 1.5 mm)` });
    }
  }
  return { requested, mismatches };
}

export function createProtocolCheck(): Analyser {
  return {
    id: 'protocol-check',
    name: 'Protocol consistency check',
    version: '1.0.0',
    vendor: 'Serverless PACS',
    intendedUse: 'Workflow: flags differences between the requested procedure and the acquisition (modality, body part, contrast, laterality, slice thickness).',
    stage: 'primary',
    filter: { modalities: ['CT', 'MR', 'CR', 'DX', 'DR', 'US', 'MG', 'PT', 'NM', 'XA', 'RF'] },
    async analyse(study: StudyInput): Promise<AnalysisOutcome> {
      const images = study.instances;
      if (!images.length) throw new NotAnalysableError('the study has no instances');
      const { requested, mismatches } = checkProtocol(images);
      if (!requested) throw new NotAnalysableError('neither Requested Procedure Description nor Study Description says what was requested');
      const severe = mismatches.filter((m) => m.severe);
      return {
        status: 'analysed',
        summary: mismatches.length ? mismatches.map((m) => `${m.rule}: ${m.message}`).join('; ') : 'acquisition matches the request',
        positive: mismatches.length > 0,
        ...(severe.length ? { priority: { level: 'high' as const, reason: `protocol mismatch (${severe.map((m) => m.rule).join(', ')})` } } : {}),
        outputs: { mismatches: mismatches.length },
        sourceImages: images.slice(0, 1).map(sourceOf),
        evaluations: mismatches.length
          ? mismatches.map((m) => ({ name: Codes.Finding, value: `Protocol mismatch (${m.rule}): ${m.message}` }))
          : [{ name: Codes.Finding, value: 'Acquisition matches the requested procedure' }],
        groups: [],
      };
    },
  };
}
