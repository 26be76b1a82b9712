// Settings of the AI pipeline, shared by every runtime; read from the environment in local mode.
import type { StorageTierPolicy } from './analysers/missing-priors.js';
import type { ThresholdSegmentationOptions } from './analysers/threshold-segmentation.js';
import { DEFAULT_THRESHOLD_OPTIONS } from './analysers/threshold-segmentation.js';

export interface AiConfig {
  enabled: boolean;
  quietPeriodMs: number;
  pollIntervalMs: number;
  maxAttempts: number;
  retryBackoffMs: number;
  visibilityTimeoutMs: number;
  tiers: StorageTierPolicy;
  noiseLimitHU: number;
  segmentation: ThresholdSegmentationOptions;
}

const env = (name: string): string | undefined => process.env[name]?.trim() || undefined;
function numberEnv(name: string, fallback: number, { min = 0, integer = false } = {}): number {
  const v = env(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${v}"`);
  return n;
}

export function aiConfigFromEnv(): AiConfig {
  const enabled = env('AI_ENABLED') ?? 'true';
  if (enabled !== 'true' && enabled !== 'false') throw new Error(`AI_ENABLED must be "true" or "false", got "${enabled}"`);
  const config: AiConfig = {
    enabled: enabled === 'true',
    quietPeriodMs: numberEnv('AI_QUIET_PERIOD_SECONDS', 30) * 1000,
    pollIntervalMs: numberEnv('AI_POLL_INTERVAL_MS', 1000, { min: 10, integer: true }),
    maxAttempts: numberEnv('AI_MAX_ATTEMPTS', 3, { min: 1, integer: true }),
    retryBackoffMs: numberEnv('AI_RETRY_BACKOFF_MS', 5000, { min: 0, integer: true }),
    visibilityTimeoutMs: numberEnv('AI_VISIBILITY_TIMEOUT_SECONDS', 900, { min: 1 }) * 1000,
    tiers: {
      infrequentAccessAfterDays: numberEnv('STORAGE_INFREQUENT_ACCESS_AFTER_DAYS', 30, { min: 0 }),
      archiveAfterDays: numberEnv('STORAGE_ARCHIVE_AFTER_DAYS', 90, { min: 0 }),
    },
    noiseLimitHU: numberEnv('AI_NOISE_LIMIT_HU', 25, { min: 0 }),
    segmentation: {
      ...DEFAULT_THRESHOLD_OPTIONS,
      lowerHU: numberEnv('AI_DENSE_LOWER_HU', DEFAULT_THRESHOLD_OPTIONS.lowerHU, { min: -10000 }),
    },
  };
  if (config.tiers.archiveAfterDays < config.tiers.infrequentAccessAfterDays) {
    throw new Error('STORAGE_ARCHIVE_AFTER_DAYS must not be smaller than STORAGE_INFREQUENT_ACCESS_AFTER_DAYS');
  }
  return config;
}
