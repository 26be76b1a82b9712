// Local mode's AI pipeline: SQLite state and queues beside the archive, and the pipeline (composed as
// on AWS) subscribed to the archive's in-process events.
import { localCaller } from '../governance/audit/requester.js';
import { StudyPatients } from '../governance/audit/study-patients.js';
import { join } from 'node:path';
import type { Hono } from 'hono';
import type { Analyser } from '../ai/analysers/analyser.js';
import type { AiConfig } from '../ai/config.js';
import { createAiApp } from '../ai/http/ai-app.js';
import { composePipeline } from '../ai/pipeline/compose.js';
import type { AiPipeline } from '../ai/pipeline/pipeline.js';
import type { AnalysisJob } from '../ai/ports.js';
import { SqliteAiState } from '../storage/local/sqlite-ai-state.js';
import { SqliteWorkQueue } from '../storage/local/sqlite-work-queue.js';
import type { LocalStorage } from '../storage/local/create.js';

export interface LocalAi {
  pipeline: AiPipeline;
  state: SqliteAiState;
  queue: SqliteWorkQueue<AnalysisJob>;
  app: Hono;
  close(): Promise<void>;
}

export async function startLocalAi(
  storage: LocalStorage,
  dataDir: string,
  config: AiConfig,
  options: { analysers?: (defaults: Analyser[]) => Analyser[]; now?: () => Date } = {},
  /** The archive's name in the audit records of the API's requests. */
  auditSourceId = 'cloud-pacs',
): Promise<LocalAi> {
  const state = new SqliteAiState(join(dataDir, 'ai.sqlite'));
  const queue = new SqliteWorkQueue<AnalysisJob>(join(dataDir, 'ai-queues.sqlite'), {
    visibilityTimeoutMs: config.visibilityTimeoutMs,
    maxAttempts: config.maxAttempts,
    backoffBaseMs: config.retryBackoffMs,
  });
  const { pipeline, analysers } = await composePipeline({
    storage,
    state,
    queue,
    config,
    ...(options.analysers ? { analysers: options.analysers } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const unsubscribe = storage.events.subscribe((event) => pipeline.handleEvent(event));
  await pipeline.start();
  return {
    pipeline,
    state,
    queue,
    app: createAiApp(state, queue, analysers.map((a) => a.id), undefined, { log: storage.audit, sourceID: auditSourceId, requester: localCaller, patients: new StudyPatients(storage.index) }),
    close: async () => {
      unsubscribe();
      await pipeline.stop();
      await state.close();
    },
  };
}
