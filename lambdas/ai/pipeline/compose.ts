// The pipeline as every runtime assembles it: the shipped model registered in the archive's model store
// (idempotent, hash-checked), the built-in analysers running on it (or a caller's variation of them),
// over the given state store and work queues.
import { readFileSync } from 'node:fs';
import type { ArchiveStorage } from '../../storage/ports.js';
import type { Analyser } from '../analysers/analyser.js';
import { builtInAnalysers } from '../analysers/built-in.js';
import type { AiConfig } from '../config.js';
import { IMAGE_NOISE_MODEL } from '../models/model-info.js';
import type { AiStateStore, AnalysisJob, WorkQueue } from '../ports.js';
import { ModelStore } from '../runtime/model-store.js';
import { ModelRuntime } from '../runtime/onnx-runtime.js';
import { AiPipeline, type PipelineObserver } from './pipeline.js';

export interface PipelineParts {
  storage: ArchiveStorage;
  state: AiStateStore;
  queue: WorkQueue<AnalysisJob>;
  config: AiConfig;
  /** Replaces or wraps the shipped analysers (tests). */
  analysers?: (shipped: Analyser[]) => Analyser[];
  now?: () => Date;
  observer?: PipelineObserver;
}

export async function composePipeline(parts: PipelineParts): Promise<{ pipeline: AiPipeline; analysers: Analyser[] }> {
  const models = new ModelStore(parts.storage.blobs, parts.state);
  await models.register(IMAGE_NOISE_MODEL.name, IMAGE_NOISE_MODEL.version, readFileSync(IMAGE_NOISE_MODEL.file), IMAGE_NOISE_MODEL.provenance);
  const shipped = builtInAnalysers(parts.config, new ModelRuntime(models));
  const analysers = parts.analysers ? parts.analysers(shipped) : shipped;
  const pipeline = new AiPipeline({
    storage: parts.storage,
    state: parts.state,
    queue: parts.queue,
    analysers,
    config: { quietPeriodMs: parts.config.quietPeriodMs, pollIntervalMs: parts.config.pollIntervalMs },
    ...(parts.now ? { now: parts.now } : {}),
    ...(parts.observer ? { observer: parts.observer } : {}),
  });
  return { pipeline, analysers };
}
