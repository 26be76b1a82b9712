// The AI pipeline: archive events → per-study quiet period → one job per matching analyser on its own
// queue → results stored as DICOM in the study → triage → worklist. The same code runs in-process under
// `npm start`; on AWS the queues are SQS and the loops below are replaced by Lambda event sources that
// call handleEvent, dispatchQuietStudies and process (lambdas/aws/ai).
import { consoleLog, type StructuredLog } from '../../logging.js';
import { Tag, tagToHex } from '../../dicom/tags.js';
import { allMatches, type ArchiveEvent, type ArchiveStorage } from '../../storage/ports.js';
import { NotAnalysableError, type Analyser, type AnalyserFilter, type AnalysisOutcome } from '../analysers/analyser.js';
import { profileOf, text, type StudyProfile } from '../analysers/attributes.js';
import {
  PRIORITY_RANK,
  jobKey,
  type AiStateStore,
  type AnalysisJob,
  type AnalysisResult,
  type PriorityLevel,
  type WorkQueue,
  type WorklistItem,
} from '../ports.js';
import { syncReadingWorkitem } from './reading-workitem.js';
import { loadStudyInput } from './study-input.js';

export interface PipelineConfig {
  /** A study is ready once no instance has arrived for this long. */
  quietPeriodMs: number;
  /** How often readiness is checked and idle queues are polled. */
  pollIntervalMs: number;
}

/** Where the pipeline reports: structured logs (Powertools' Logger fits) and each finished analysis (for metrics). */
export interface PipelineObserver {
  log: StructuredLog;
  analysisFinished?(result: AnalysisResult): void;
}

export interface PipelineDeps {
  storage: ArchiveStorage;
  state: AiStateStore;
  queue: WorkQueue<AnalysisJob>;
  analysers: Analyser[];
  config: PipelineConfig;
  now?: () => Date;
  observer?: PipelineObserver;
}

/** What became of one delivery of a job: done (acknowledged or dead-lettered), or to be tried again later. */
export type DeliveryOutcome = 'done' | 'retry';

/** How long arrival events are gathered before they are written. */
const CHANGE_BATCH_MS = 50;

const consoleObserver: PipelineObserver = { log: consoleLog('ai-pipeline') };

export function matchesFilter(filter: AnalyserFilter, profile: StudyProfile): string | undefined {
  const any = (wanted: string[] | undefined, have: string[]) => !wanted?.length || have.some((h) => wanted.includes(h));
  if (!any(filter.modalities, profile.modalities)) return `modality ${profile.modalities.join('/') || 'none'} not in ${filter.modalities!.join('/')}`;
  if (!any(filter.bodyParts, profile.bodyParts)) return `body part ${profile.bodyParts.join('/') || 'none'} not in ${filter.bodyParts!.join('/')}`;
  if (!any(filter.sopClasses, profile.sopClasses)) return 'no instance of an accepted SOP class';
  if (!any(filter.sites, profile.sites)) return `site ${profile.sites.join('/') || 'unknown'} not accepted`;
  if (filter.studyDescription && !new RegExp(filter.studyDescription, 'i').test(profile.studyDescription)) return 'study description does not match';
  return undefined;
}

export class AiPipeline {
  private readonly byId: Map<string, { analyser: Analyser; index: number }>;
  private running = false;
  private readonly loops: Array<Promise<void>> = [];
  private readonly now: () => Date;
  /** Revisions whose worklist entry was already opened by this process (saves a write per instance). */
  private readonly openedRevisions = new Map<string, number>();
  private pendingChanges = new Map<string, string>();
  private flushing: Promise<void> | undefined;

  private readonly observer: PipelineObserver;

  constructor(private readonly deps: PipelineDeps) {
    this.byId = new Map(deps.analysers.map((analyser, index) => [analyser.id, { analyser, index }]));
    this.now = deps.now ?? (() => new Date());
    this.observer = deps.observer ?? consoleObserver;
  }

  private log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
    this.observer.log(level, message, fields);
  }

  get analysers(): Analyser[] {
    return this.deps.analysers;
  }

  /** Registers analysers, re-queues work a crash interrupted, and starts the dispatcher and one worker per analyser. */
  async start(): Promise<void> {
    await this.registerAnalysers();
    await this.resumeUnfinished();
    this.running = true;
    this.loops.push(this.dispatchLoop());
    for (const analyser of this.deps.analysers) this.loops.push(this.workerLoop(analyser));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.flushing;
    await Promise.allSettled(this.loops); // each loop notices within one poll interval
    await this.deps.queue.close();
  }

  /**
   * Queues again the jobs of dispatched studies that have no result (a crash or a lost message). With
   * `unchangedFor`, only studies whose last change is at least that old: on SQS, a job still waiting in
   * its queue (or in a retry's backoff) would otherwise get a second message once the five-minute
   * deduplication window has passed.
   */
  async resumeUnfinished(options: { unchangedFor?: number } = {}): Promise<number> {
    const cutoff = options.unchangedFor === undefined ? undefined : new Date(this.now().getTime() - options.unchangedFor).toISOString();
    const revisions = new Map<string, { study: string; revision: number }>();
    for (const job of await this.deps.state.unfinishedJobs(10_000)) revisions.set(`${job.studyInstanceUID}/${job.revision}`, { study: job.studyInstanceUID, revision: job.revision });
    const changedAt = new Map<string, string | undefined>();
    let resumed = 0;
    for (const { study, revision } of revisions.values()) {
      if (cutoff) {
        if (!changedAt.has(study)) changedAt.set(study, (await this.deps.state.activity(study))?.lastChangeAt);
        const last = changedAt.get(study);
        if (last && last > cutoff) continue;
      }
      await this.enqueueIfDue(study, revision);
      resumed++;
    }
    return resumed;
  }

  /** Records the installed analysers in the registry (a new version is a change-log entry). */
  async registerAnalysers(): Promise<void> {
    const known = new Map((await this.deps.state.analysers()).map((a) => [a.id, a]));
    for (const a of this.deps.analysers) {
      const previous = known.get(a.id);
      if (previous && previous.version === a.version) continue;
      const modelSha256 = a.model ? (await this.deps.state.models()).find((m) => m.name === a.model!.name && m.version === a.model!.version)?.sha256 : undefined;
      await this.deps.state.putAnalyser(
        {
          id: a.id,
          name: a.name,
          version: a.version,
          vendor: a.vendor,
          intendedUse: a.intendedUse,
          validationStatus: previous?.validationStatus ?? 'research',
          enabled: previous?.enabled ?? true,
          ...(modelSha256 ? { modelSha256 } : {}),
        },
        { who: 'system', change: previous ? `version ${previous.version} → ${a.version}` : `registered version ${a.version}` },
      );
    }
  }

  // ---- Arrival and readiness ----------------------------------------------------------------------

  async handleEvent(event: ArchiveEvent): Promise<void> {
    if (event.type === 'InstanceStored' && event.producedBy) return; // our own results do not make a study change
    // A repeated store changes nothing in a study we already know; it matters only if the first event was lost.
    if (event.type === 'InstanceStored' && event.repeated && (await this.deps.state.activity(event.studyInstanceUID))) return;
    if (event.type === 'InstancesDeleted' && !event.seriesInstanceUID) {
      this.pendingChanges.delete(event.studyInstanceUID);
      await this.deps.state.forgetStudy(event.studyInstanceUID);
      this.openedRevisions.delete(event.studyInstanceUID);
      return;
    }
    // Changes are gathered briefly and written in one transaction: a busy upload makes one write per
    // batch, not one synchronous write per instance on the event loop.
    const previous = this.pendingChanges.get(event.studyInstanceUID);
    if (!previous || previous < event.at) this.pendingChanges.set(event.studyInstanceUID, event.at);
    this.flushing ??= new Promise<void>((resolve) => setTimeout(resolve, CHANGE_BATCH_MS)).then(() => this.flushChanges());
    await this.flushing;
  }

  /** Writes the gathered changes and opens worklist entries for new revisions. */
  async flushChanges(): Promise<void> {
    const changes = this.pendingChanges;
    this.pendingChanges = new Map();
    this.flushing = undefined;
    if (!changes.size) return;
    const revisions = await this.deps.state.recordChanges(changes);
    for (const [study, revision] of revisions) {
      if (this.openedRevisions.get(study) === revision) continue;
      this.openedRevisions.set(study, revision);
      await this.updateWorklist(study, revision, 'collecting');
    }
  }

  /** Dispatches every study that has been quiet for the quiet period; returns how many. */
  async dispatchQuietStudies(): Promise<number> {
    const before = new Date(this.now().getTime() - this.deps.config.quietPeriodMs).toISOString();
    const due = await this.deps.state.quietStudies(before, 100);
    let dispatched = 0;
    for (const activity of due) {
      const { studyInstanceUID, revision } = activity;
      const input = await loadStudyInput(this.deps.storage, studyInstanceUID, revision, {
        producedByPipeline: await this.producedObjects(studyInstanceUID),
        primaryResults: [],
        now: this.now(),
      });
      if (!input.instances.length) {
        await this.deps.state.forgetStudy(studyInstanceUID);
        continue;
      }
      const profile = profileOf(input.instances);
      const enabled = new Set((await this.deps.state.analysers()).filter((r) => r.enabled).map((r) => r.id));
      const jobs: AnalysisJob[] = [];
      for (const a of this.deps.analysers) {
        const skip = !enabled.has(a.id) ? 'disabled in the registry' : matchesFilter(a.filter, profile);
        if (!skip) jobs.push({ studyInstanceUID, revision, analyserId: a.id, analyserVersion: a.version });
      }
      if (!(await this.deps.state.markDispatched(studyInstanceUID, revision, jobs))) continue; // changed meanwhile
      this.openedRevisions.delete(studyInstanceUID); // only studies still collecting are remembered
      dispatched++;
      this.log('info', 'study ready', { studyInstanceUID, revision, analysers: jobs.map((j) => j.analyserId) });
      await this.enqueueIfDue(studyInstanceUID, revision);
      await this.updateWorklist(studyInstanceUID, revision);
    }
    return dispatched;
  }

  /** Queues a revision's unfinished primary jobs, or its summary jobs once no primary job is left. */
  private async enqueueIfDue(studyInstanceUID: string, revision: number): Promise<void> {
    const pending = await this.deps.state.pendingJobs(studyInstanceUID, revision);
    const stage = (j: AnalysisJob) => this.byId.get(j.analyserId)?.analyser.stage ?? 'primary';
    const primary = pending.filter((j) => stage(j) === 'primary');
    for (const job of primary.length ? primary : pending) await this.deps.queue.send(job.analyserId, jobKey(job), job);
  }

  private async producedObjects(studyInstanceUID: string): Promise<Set<string>> {
    const results = await this.deps.state.resultsOf(studyInstanceUID);
    return new Set(results.flatMap((r) => r.objects.map((o) => o.sopInstanceUID)));
  }

  private async dispatchLoop(): Promise<void> {
    while (this.running) {
      try {
        await this.dispatchQuietStudies();
      } catch (e) {
        this.log('error', 'dispatch failed', { error: String(e) });
      }
      await new Promise((r) => setTimeout(r, this.deps.config.pollIntervalMs).unref());
    }
  }

  // ---- Analysis ------------------------------------------------------------------------------------

  private async workerLoop(analyser: Analyser): Promise<void> {
    while (this.running) {
      let messages;
      try {
        messages = await this.deps.queue.receive(analyser.id, 1);
      } catch (e) {
        if (!this.running) return;
        this.log('error', 'receive failed', { analyser: analyser.id, error: String(e) });
        await new Promise((r) => setTimeout(r, this.deps.config.pollIntervalMs).unref());
        continue;
      }
      if (!messages.length) {
        await this.deps.queue.wait(this.deps.config.pollIntervalMs);
        continue;
      }
      for (const m of messages) await this.process(analyser, m.body, m.attempts, m.receipt);
    }
  }

  /** Handles one delivery of a job. Exposed for tests of redelivery. */
  async process(analyser: Analyser, job: AnalysisJob, attempts: number, receipt: string): Promise<DeliveryOutcome> {
    const key = jobKey(job);
    if (await this.deps.state.getResult(key)) {
      await this.deps.queue.ack(analyser.id, receipt); // a redelivery of finished work
      return 'done';
    }
    const started = performance.now();
    let result: AnalysisResult;
    try {
      result = await this.analyse(analyser, job, key, attempts, started);
    } catch (e) {
      const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      const dead = await this.deps.queue.fail(analyser.id, receipt, reason);
      this.log(dead ? 'error' : 'warn', dead ? 'analysis dead-lettered' : 'analysis failed, will retry', { key, attempts, error: reason });
      if (!dead) return 'retry';
      // Dead-lettered: record the failure so triage and the worklist go on without this analyser.
      result = this.result(job, key, attempts, started, { status: 'failed', summary: `failed after ${attempts} attempts: ${reason}` });
      await this.finish(analyser, job, result);
      return 'done';
    }
    await this.finish(analyser, job, result);
    await this.deps.queue.ack(analyser.id, receipt);
    return 'done';
  }

  private async finish(analyser: Analyser, job: AnalysisJob, result: AnalysisResult): Promise<void> {
    await this.deps.state.putResult(result);
    this.observer.analysisFinished?.(result);
    this.log('info', 'analysis finished', {
      key: result.key,
      analyser: analyser.id,
      version: analyser.version,
      status: result.status,
      positive: result.positive,
      latencyMs: Math.round(result.latencyMs),
      scannerModel: result.scannerModel,
      site: result.site,
    });
    await this.enqueueIfDue(job.studyInstanceUID, job.revision);
    await this.updateWorklist(job.studyInstanceUID, job.revision);
  }

  private result(job: AnalysisJob, key: string, attempts: number, started: number, fields: Partial<AnalysisResult> & Pick<AnalysisResult, 'status' | 'summary'>): AnalysisResult {
    return {
      ...job,
      key,
      positive: false,
      outputs: {},
      objects: [],
      scannerModel: 'unknown',
      site: 'unknown',
      attempts,
      latencyMs: performance.now() - started,
      createdAt: this.now().toISOString(),
      ...fields,
    };
  }

  private async analyse(analyser: Analyser, job: AnalysisJob, key: string, attempts: number, started: number): Promise<AnalysisResult> {
    const activity = await this.deps.state.activity(job.studyInstanceUID);
    if (activity && activity.revision > job.revision) {
      return this.result(job, key, attempts, started, { status: 'not-analysed', summary: `superseded by revision ${activity.revision}` });
    }
    if (analyser.version !== job.analyserVersion) {
      return this.result(job, key, attempts, started, { status: 'not-analysed', summary: `version ${job.analyserVersion} is no longer installed (now ${analyser.version})` });
    }
    const primaryResults =
      analyser.stage === 'summary' ? (await this.deps.state.resultsOf(job.studyInstanceUID, job.revision)).filter((r) => this.byId.get(r.analyserId)?.analyser.stage === 'primary') : [];
    const input = await loadStudyInput(this.deps.storage, job.studyInstanceUID, job.revision, {
      producedByPipeline: await this.producedObjects(job.studyInstanceUID),
      primaryResults,
      now: this.now(),
    });
    const profile = profileOf(input.instances);
    const context = { scannerModel: profile.scannerModel, site: profile.site };
    let outcome: AnalysisOutcome;
    try {
      if (!input.instances.length) throw new NotAnalysableError('the study has no instances any more');
      outcome = await analyser.analyse(input);
    } catch (e) {
      if (!(e instanceof NotAnalysableError)) throw e;
      outcome = { status: 'not-analysed', reason: e.message };
    }
    if (outcome.status === 'not-analysed') {
      return this.result(job, key, attempts, started, { ...context, status: 'not-analysed', summary: outcome.reason });
    }
    // The SR and SEG writers, and the DICOM dictionary they need, load with the first result to publish:
    // the functions that only record arrivals or dispatch studies never need them.
    const { publishResults } = await import('./publish-results.js');
    const objects = await publishResults(this.deps.storage, analyser, this.byId.get(analyser.id)!.index, key, job.studyInstanceUID, input.instances, outcome, this.now());
    return this.result(job, key, attempts, started, {
      ...context,
      status: 'analysed',
      summary: outcome.summary,
      positive: outcome.positive,
      outputs: outcome.outputs,
      objects,
      ...(outcome.priority ? { priority: outcome.priority } : {}),
      ...(outcome.modelSha256 ? { modelSha256: outcome.modelSha256 } : {}),
    });
  }

  // ---- Worklist ------------------------------------------------------------------------------------

  private async updateWorklist(studyInstanceUID: string, revision: number, forcedState?: WorklistItem['state']): Promise<void> {
    const [match] = await allMatches(this.deps.storage.index.query({
      level: 'study',
      filters: [{ tag: Tag.StudyInstanceUID, vr: 'UI', value: studyInstanceUID }],
      fuzzy: false,
      limit: 1,
      offset: 0,
    }));
    if (!match) return;
    const all = await this.deps.state.resultsOf(studyInstanceUID);
    const current = all.filter((r) => r.revision === revision);
    const pending = await this.deps.state.pendingJobs(studyInstanceUID, revision);
    const activity = await this.deps.state.activity(studyInstanceUID);
    const state: WorklistItem['state'] = forcedState ?? (activity?.state === 'collecting' ? 'collecting' : pending.length ? 'analysing' : 'analysed');
    // The latest triage decides; until it has run, the most urgent finding so far (of any revision) holds.
    const triage = [...all].reverse().find((r) => this.byId.get(r.analyserId)?.analyser.stage === 'summary' && r.priority);
    const candidates = current.filter((r) => r.priority).map((r) => r.priority!);
    let priority: { level: PriorityLevel; reason: string } = triage?.priority ?? { level: 'routine', reason: 'not yet triaged' };
    if (!triage || triage.revision < revision) {
      for (const c of candidates) if (PRIORITY_RANK[c.level] < PRIORITY_RANK[priority.level]) priority = c;
    }
    const a = match.attributes;
    const name = a[tagToHex(Tag.PatientName)]?.Value?.[0] as { Alphabetic?: string } | undefined;
    const item: WorklistItem = {
      studyInstanceUID,
      revision,
      state,
      priority: priority.level,
      reason: priority.reason,
      patientName: name?.Alphabetic ?? '',
      patientID: text(a, 'PatientID') ?? '',
      studyDescription: text(a, 'StudyDescription') ?? '',
      modalities: ((a[tagToHex(Tag.ModalitiesInStudy)]?.Value ?? []) as string[]).join('\\'),
      flags: current.map((r) => ({ analyserId: r.analyserId, status: r.status, summary: r.summary, positive: r.positive })),
      updatedAt: this.now().toISOString(),
    };
    await this.deps.state.upsertWorklist(item);
    await syncReadingWorkitem(this.deps.storage.workitems, item, this.now());
  }
}
