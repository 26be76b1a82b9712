// Local mode's AI pipeline: SQLite state and queues beside the archive, the shipped model seeded into
// the model store, and the pipeline subscribed to the archive's in-process events.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { builtInAnalysers } from '../ai/analysers/built-in.js';
import type { Analyser } from '../ai/analysers/analyser.js';
import type { AiConfig } from '../ai/config.js';
import { createAiApp } from '../ai/http/ai-app.js';
import { IMAGE_NOISE_MODEL } from '../ai/models/model-info.js';
import { AiPipeline } from '../ai/pipeline/pipeline.js';
import type { AnalysisJob } from '../ai/ports.js';
import { ModelStore } from '../ai/runtime/model-store.js';
import { ModelRuntime } from '../ai/runtime/onnx-runtime.js';
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
): Promise<LocalAi> {
  const state = new SqliteAiState(join(dataDir, 'ai.sqlite'));
  const queue = new SqliteWorkQueue<AnalysisJob>(join(dataDir, 'ai-queues.sqlite'), {
    visibilityTimeoutMs: config.visibilityTimeoutMs,
    maxAttempts: config.maxAttempts,
    backoffBaseMs: config.retryBackoffMs,
  });
  const models = new ModelStore(storage.blobs, state);
  await models.register(IMAGE_NOISE_MODEL.name, IMAGE_NOISE_MODEL.version, readFileSync(IMAGE_NOISE_MODEL.file), IMAGE_NOISE_MODEL.provenance);
  const defaults = builtInAnalysers(config, new ModelRuntime(models));
  const analysers = options.analysers ? options.analysers(defaults) : defaults;
  const pipeline = new AiPipeline({
    storage,
    state,
    queue,
    analysers,
    config: { quietPeriodMs: config.quietPeriodMs, pollIntervalMs: config.pollIntervalMs },
    ...(options.now ? { now: options.now } : {}),
  });
  const unsubscribe = storage.events.subscribe((event) => pipeline.handleEvent(event));
  await pipeline.start();
  return {
    pipeline,
    state,
    queue,
    app: createAiApp(state, queue, analysers.map((a) => a.id)),
    close: async () => {
      unsubscribe();
      await pipeline.stop();
      await state.close();
    },
  };
}
