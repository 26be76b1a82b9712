// Runs a de-identified export: the cohort (studies named, and those a QIDO-RS query matches) read
// instance by instance from the archive, each de-identified (governance/deidentify) and written to the
// destination under <job>/<study>/<series>/<instance>.dcm with a manifest.json that names only copies;
// what became of each original is kept by the archive (the job's manifest entries). Progress is saved as
// it goes. The export is recorded in the audit trail (110106 Export, naming every study) before its
// first copy is written, and again with its outcome.
import type { DicomWebConfig } from '../../dicomweb/config.js';
import { parseQuery } from '../../dicomweb/query/qido.js';
import type { StructuredLog } from '../../logging.js';
import type { ArchiveStorage, BlobStore, ExportJob, ExportJobStore, ExportManifestEntry } from '../../storage/ports.js';
import { AuditEvent, AuditRole } from '../audit/audit-codes.js';
import { auditRecord, type AuditOutcome } from '../audit/http-audit.js';
import type { StudyPatients } from '../audit/study-patients.js';
import { deidentifyInstance } from '../deidentify/deidentify.js';
import type { ProfileOption } from '../deidentify/profile.js';
import type { Pseudonyms } from '../deidentify/pseudonyms.js';

export interface ExportDeps {
  storage: ArchiveStorage;
  config: DicomWebConfig;
  jobs: ExportJobStore;
  /** Where copies go; keys begin with the job's id. */
  target: BlobStore;
  pseudonyms: Pseudonyms;
  patients: StudyPatients;
  log: StructuredLog;
}

/** Progress is saved after this many instances (and at the end). */
const SAVE_EVERY = 25;

/** The cohort's Study Instance UIDs: those named, then those the query matches, each once. */
async function cohort(job: ExportJob, deps: ExportDeps): Promise<string[]> {
  const studies = new Set(job.request.studies ?? []);
  if (job.request.query) {
    const parsed = parseQuery(job.request.query, 'study', deps.config);
    for await (const m of deps.storage.index.query({ level: 'study', filters: parsed.filters, fuzzy: parsed.fuzzy, limit: deps.config.maxQueryResults, offset: 0 })) studies.add(m.studyInstanceUID);
  }
  return [...studies];
}

export async function runExport(job: ExportJob, deps: ExportDeps): Promise<ExportJob> {
  const options = new Set(job.request.options as ProfileOption[]);
  const save = async (changes: Partial<ExportJob> = {}) => {
    Object.assign(job, changes, { updatedAt: new Date().toISOString() });
    await deps.jobs.put(job);
  };
  const listing: Array<{ file: string; studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; patient: string }> = [];
  const exported = new Set<string>();
  try {
    const studies = await cohort(job, deps);
    await save({ progress: { ...job.progress, studies: studies.length } });
    // Nothing leaves the archive unrecorded: the export begins only once its record is written.
    if (!(await recordExport(job, studies, deps, { indicator: 0, description: `export of ${studies.length} studies begins` }))) {
      await save({ state: 'failed', error: 'not started: the audit trail cannot take the export\'s record' });
      return job;
    }
    for (const study of studies) {
      const entries: ExportManifestEntry[] = [];
      for (const instance of await deps.storage.index.listInstances({ studyInstanceUID: study })) {
        job.progress.instances += 1;
        const original = { studyInstanceUID: instance.studyInstanceUID, seriesInstanceUID: instance.seriesInstanceUID, sopInstanceUID: instance.sopInstanceUID };
        try {
          // A copy is made in memory: an instance of gigabytes (a whole-slide image) is not read whole.
          if (instance.size > deps.config.maxDecompressedBytes) {
            throw new Error(`the instance is ${instance.size} bytes, more than the ${deps.config.maxDecompressedBytes} (MAX_DECOMPRESSED_BYTES) de-identified in memory`);
          }
          const bytes = await deps.storage.blobs.get(instance.blobKey);
          if (!bytes) throw new Error('its stored file is missing');
          const result = deidentifyInstance(bytes, deps.pseudonyms, { options, includeBurnedIn: job.request.includeBurnedIn });
          if (result.status === 'excluded') {
            job.progress.excluded += 1;
            entries.push({ status: 'excluded', original, reason: result.reason });
            continue;
          }
          const file = `${job.id}/${result.copy.studyInstanceUID}/${result.copy.seriesInstanceUID}/${result.copy.sopInstanceUID}.dcm`;
          await deps.target.put(file, result.bytes);
          job.progress.copied += 1;
          exported.add(study);
          entries.push({ status: 'copied', original, copy: { ...result.copy, file } });
          listing.push({ file: file.slice(job.id.length + 1), ...result.copy, patient: result.patientPseudonym });
        } catch (error) {
          job.progress.failed += 1;
          entries.push({ status: 'failed', original, reason: error instanceof Error ? error.message : String(error) });
        }
        if (job.progress.instances % SAVE_EVERY === 0) await save();
      }
      await deps.jobs.addManifestEntries(job.id, entries);
    }
    // The research side's manifest: the copies, no original identifier.
    const manifest = { export: job.id, createdAt: job.createdAt, profile: ['Basic Application Confidentiality Profile', ...job.request.options], instances: listing, excluded: job.progress.excluded, failed: job.progress.failed };
    await deps.target.put(`${job.id}/manifest.json`, new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
    await save({ state: 'done' });
  } catch (error) {
    deps.log('error', 'export failed', { export: job.id, error: String(error) });
    await save({ state: 'failed', error: error instanceof Error ? error.message : String(error) });
  }
  const outcome = job.state === 'done'
    ? { indicator: job.progress.failed ? (4 as const) : (0 as const), description: `${job.progress.copied} copied, ${job.progress.excluded} left out, ${job.progress.failed} failed` }
    : { indicator: 8 as const, description: job.error ?? 'failed' };
  await recordExport(job, [...exported], deps, outcome);
  return job;
}

/** The export in the audit trail: who had which studies copied out, and where to; false if it could not be written. */
async function recordExport(job: ExportJob, studies: string[], deps: ExportDeps, outcome: AuditOutcome): Promise<boolean> {
  const record = auditRecord({
    action: { event: AuditEvent.Export, action: 'R', studies, archiveRole: AuditRole.Source, description: `de-identified export ${job.id}` },
    at: new Date(),
    outcome,
    requester: { userID: job.requestedBy },
    sourceID: deps.config.auditSourceId,
    studies: await Promise.all(studies.map((s) => deps.patients.lookup(s))),
    participants: [{ UserID: job.destination, UserIsRequestor: false, RoleIDCode: AuditRole.Destination }],
  });
  try {
    await deps.storage.audit.append(record);
    return true;
  } catch (error) {
    deps.log('error', 'the audit record of an export could not be written', { auditRecord: record, error: String(error) });
    return false;
  }
}
