// Finds the patient's earlier comparable studies (same patient ID, earlier date, a modality in common,
// and an overlapping body part where both record one) and where their files sit in the storage tiers.
// Flags a study with no comparable prior, or whose latest prior has aged into the archive tier.
import { Tag, tagToHex } from '../../dicom/tags.js';
import { firstString, type DicomJson } from '../../dicom/json-model.js';
import { Codes } from '../results/codes.js';
import { NotAnalysableError, type Analyser, type AnalysisOutcome, type StudyInput } from './analyser.js';
import { profileOf, sourceOf, text } from './attributes.js';

/** The object store's lifecycle (the S3 rule the CDK app configures): days after storing. */
export interface StorageTierPolicy {
  infrequentAccessAfterDays: number;
  archiveAfterDays: number;
}
export type StorageTier = 'standard' | 'infrequent-access' | 'archive';

export function tierOf(storedAt: Date, now: Date, policy: StorageTierPolicy): StorageTier {
  const days = (now.getTime() - storedAt.getTime()) / 86_400_000;
  return days >= policy.archiveAfterDays ? 'archive' : days >= policy.infrequentAccessAfterDays ? 'infrequent-access' : 'standard';
}

const NON_IMAGE = new Set(['SR', 'SEG', 'KO', 'PR', 'DOC', 'REG', 'RWV']);
const MAX_PRIORS_EXAMINED = 50;

interface Prior {
  studyInstanceUID: string;
  date: string;
  modalities: string[];
  accession?: string;
  tier: StorageTier;
}

const values = (json: DicomJson, tag: number): string[] =>
  ((json[tagToHex(tag)]?.Value ?? []) as unknown[]).map((v) => String(v).toUpperCase());

export function createMissingPriors(policy: StorageTierPolicy): Analyser {
  return {
    id: 'missing-priors',
    name: 'Prior study finder',
    version: '1.0.0',
    vendor: 'Serverless PACS',
    intendedUse: 'Workflow: lists the patient\'s earlier comparable studies in this archive for comparison reading; flags when none exists or when the latest one is in the archive storage tier.',
    stage: 'primary',
    filter: {},
    async analyse(study: StudyInput): Promise<AnalysisOutcome> {
      const images = study.instances.filter((i) => !NON_IMAGE.has(text(i.metadata, 'Modality') ?? ''));
      if (!images.length) throw new NotAnalysableError('the study has no images');
      const first = images[0].metadata;
      const patientID = text(first, 'PatientID');
      if (!patientID) throw new NotAnalysableError('the study has no Patient ID, so its priors cannot be found');
      const profile = profileOf(images);
      const studyDate = text(first, 'StudyDate') ?? '99999999';
      const modalities = profile.modalities.filter((m) => !NON_IMAGE.has(m));
      const matches = await study.query({
        level: 'study',
        filters: [{ tag: Tag.PatientID, vr: 'LO', value: patientID }],
        fuzzy: false,
        limit: 1000,
        offset: 0,
      });
      const issuer = text(first, 'IssuerOfPatientID');
      const candidates = matches
        .filter((m) => m.studyInstanceUID !== study.studyInstanceUID)
        // Exact identity: the query value could hold wildcard characters, and IDs from another issuer are another patient.
        .filter((m) => text(m.attributes, 'PatientID') === patientID)
        .filter((m) => !issuer || !text(m.attributes, 'IssuerOfPatientID') || text(m.attributes, 'IssuerOfPatientID') === issuer)
        .filter((m) => (firstString(m.attributes, Tag.StudyDate) ?? '') < studyDate)
        .filter((m) => values(m.attributes, Tag.ModalitiesInStudy).some((x) => modalities.includes(x)))
        .sort((a, b) => (firstString(b.attributes, Tag.StudyDate) ?? '').localeCompare(firstString(a.attributes, Tag.StudyDate) ?? ''))
        .slice(0, MAX_PRIORS_EXAMINED);
      const priors: Prior[] = [];
      for (const m of candidates) {
        const instances = await study.instancesOf(m.studyInstanceUID);
        if (!instances.length) continue;
        if (profile.bodyParts.length) {
          const series = await study.query({ level: 'series', filters: [], fuzzy: false, studyInstanceUID: m.studyInstanceUID, limit: 1000, offset: 0 });
          const parts = series.map((s) => text(s.attributes, 'BodyPartExamined')?.toUpperCase()).filter((p): p is string => !!p);
          if (parts.length && !parts.some((p) => profile.bodyParts.includes(p))) continue;
        }
        const oldest = instances.reduce((a, i) => (i.storedAt < a ? i.storedAt : a), instances[0].storedAt);
        priors.push({
          studyInstanceUID: m.studyInstanceUID,
          date: firstString(m.attributes, Tag.StudyDate) ?? '',
          modalities: values(m.attributes, Tag.ModalitiesInStudy),
          accession: firstString(m.attributes, Tag.AccessionNumber),
          tier: tierOf(new Date(oldest), study.now, policy),
        });
      }
      const describe = (p: Prior) =>
        `Prior ${p.modalities.join('/')} study of ${p.date || 'unknown date'} (Study Instance UID ${p.studyInstanceUID}${p.accession ? `, accession ${p.accession}` : ''}), storage tier: ${p.tier}`;
      const latest = priors[0];
      const flag = !latest ? 'no comparable prior study in the archive' : latest.tier === 'archive' ? `latest prior (${latest.date}) is in the archive storage tier` : undefined;
      return {
        status: 'analysed',
        summary: flag ?? `${priors.length} comparable prior(s), latest ${latest.date} (${latest.tier})`,
        positive: !!flag,
        outputs: { priors: priors.length },
        sourceImages: images.slice(0, 1).map(sourceOf),
        evaluations: [
          ...(flag ? [{ name: Codes.Finding, value: flag.charAt(0).toUpperCase() + flag.slice(1) }] : []),
          ...priors.map((p) => ({ name: Codes.Finding, value: describe(p) })),
        ],
        groups: [],
      };
    },
  };
}
