// Monitoring from recorded results: rates by scanner and site, and the drift signal.
import { describe, expect, it } from 'vitest';
import { analyserMetrics, driftOf } from '../../lambdas/ai/monitoring/metrics.js';
import type { AnalysisResult } from '../../lambdas/ai/ports.js';
import { tierOf } from '../../lambdas/ai/analysers/missing-priors.js';

let seed = 11;
const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) + 1) / 0x80000000;

function result(i: number, fields: Partial<AnalysisResult>): AnalysisResult {
  return {
    studyInstanceUID: `1.2.${i}`,
    revision: 1,
    analyserId: 'seg',
    analyserVersion: '1.0.0',
    key: `1.2.${i}/1/seg@1.0.0`,
    status: 'analysed',
    summary: '',
    positive: false,
    outputs: {},
    objects: [],
    scannerModel: i % 2 ? 'Scanner A' : 'Scanner B',
    site: 'Site 1',
    attempts: 1,
    latencyMs: 100 + i,
    createdAt: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    ...fields,
  };
}

describe('metrics', () => {
  it('computes rates overall and by scanner model', () => {
    const results = Array.from({ length: 10 }, (_, i) => result(i, { positive: i < 4, status: i === 9 ? 'failed' : 'analysed' }));
    const m = analyserMetrics('seg', results);
    expect(m).toMatchObject({ count: 10, analysed: 9, failed: 1, failureRate: 0.1 });
    expect(m.positiveRate).toBeCloseTo(4 / 9);
    expect(m.byScannerModel['Scanner A'].count).toBe(5);
    expect(m.latencyMs.p50).toBe(105);
    expect(m.drift.status).toBe('insufficient-data');
  });

  it('reports stable output as stable and a shift in rate or in an output as drift', () => {
    const stable = Array.from({ length: 200 }, (_, i) => result(i, { positive: random() < 0.2, outputs: { volumeMl: 50 + 5 * (random() - 0.5) } }));
    expect(driftOf(stable).status).toBe('stable');
    // The newest 50 (highest i) flag far more often and measure larger volumes.
    const shifted = Array.from({ length: 200 }, (_, i) =>
      result(i, i >= 150 ? { positive: random() < 0.7, outputs: { volumeMl: 60 + 5 * (random() - 0.5) } } : { positive: random() < 0.2, outputs: { volumeMl: 50 + 5 * (random() - 0.5) } }),
    );
    const drift = driftOf(shifted);
    expect(drift.status).toBe('drift');
    expect(drift.reasons.join(' ')).toMatch(/positive rate/);
    expect(drift.reasons.join(' ')).toMatch(/volumeMl mean/);
  });
});

describe('storage tiers of priors', () => {
  it('follows the lifecycle ages', () => {
    const policy = { infrequentAccessAfterDays: 30, archiveAfterDays: 90 };
    const now = new Date('2026-06-01T00:00:00Z');
    expect(tierOf(new Date('2026-05-20T00:00:00Z'), now, policy)).toBe('standard');
    expect(tierOf(new Date('2026-04-01T00:00:00Z'), now, policy)).toBe('infrequent-access');
    expect(tierOf(new Date('2025-12-01T00:00:00Z'), now, policy)).toBe('archive');
  });
});
