// Per-analyser monitoring from recorded results: volume, latency, failure and positive rates (overall,
// by scanner model and by site), and a drift signal comparing the recent window with the results
// before it (two-proportion z-test for the positive rate, Welch's z for each numeric output).
import type { AnalysisResult } from '../ports.js';

export interface RateSummary {
  count: number;
  failureRate: number;
  /** Among analysed results. */
  positiveRate: number;
}

export interface DriftSignal {
  status: 'stable' | 'drift' | 'insufficient-data';
  reasons: string[];
  baseline: { count: number; positiveRate: number; means: Record<string, number> };
  recent: { count: number; positiveRate: number; means: Record<string, number> };
}

export interface AnalyserMetrics extends RateSummary {
  analyserId: string;
  versions: string[];
  analysed: number;
  notAnalysed: number;
  failed: number;
  latencyMs: { mean: number; p50: number; p95: number };
  byScannerModel: Record<string, RateSummary>;
  bySite: Record<string, RateSummary>;
  drift: DriftSignal;
}

export interface DriftOptions {
  recentWindow: number;
  minimumPerWindow: number;
  /** |z| at or above which a difference counts as drift. */
  zThreshold: number;
}
export const DEFAULT_DRIFT: DriftOptions = { recentWindow: 50, minimumPerWindow: 20, zThreshold: 3 };

function rates(results: AnalysisResult[]): RateSummary {
  const analysed = results.filter((r) => r.status === 'analysed');
  return {
    count: results.length,
    failureRate: results.length ? results.filter((r) => r.status === 'failed').length / results.length : 0,
    positiveRate: analysed.length ? analysed.filter((r) => r.positive).length / analysed.length : 0,
  };
}

function groupBy(results: AnalysisResult[], key: (r: AnalysisResult) => string): Record<string, RateSummary> {
  const groups = new Map<string, AnalysisResult[]>();
  for (const r of results) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  return Object.fromEntries([...groups].map(([k, v]) => [k, rates(v)]));
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}

function meanAndVariance(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1);
  return { mean, variance };
}

export function driftOf(results: AnalysisResult[], options: DriftOptions = DEFAULT_DRIFT): DriftSignal {
  // Results newest first, analysed only (failures are watched by the failure rate).
  const analysed = results.filter((r) => r.status === 'analysed').sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const recent = analysed.slice(0, options.recentWindow);
  const baseline = analysed.slice(options.recentWindow);
  const outputNames = [...new Set(analysed.flatMap((r) => Object.keys(r.outputs)))];
  const summary = (set: AnalysisResult[]) => ({
    count: set.length,
    positiveRate: set.length ? set.filter((r) => r.positive).length / set.length : 0,
    means: Object.fromEntries(
      outputNames.map((n) => {
        const v = set.map((r) => r.outputs[n]).filter((x): x is number => Number.isFinite(x));
        return [n, v.length ? meanAndVariance(v).mean : NaN];
      }),
    ),
  });
  const signal: DriftSignal = { status: 'stable', reasons: [], baseline: summary(baseline), recent: summary(recent) };
  if (recent.length < options.minimumPerWindow || baseline.length < options.minimumPerWindow) return { ...signal, status: 'insufficient-data' };

  const p1 = signal.baseline.positiveRate;
  const p2 = signal.recent.positiveRate;
  const pooled = (p1 * baseline.length + p2 * recent.length) / (baseline.length + recent.length);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / baseline.length + 1 / recent.length));
  if (se > 0 && Math.abs(p2 - p1) / se >= options.zThreshold) {
    signal.reasons.push(`positive rate ${(p1 * 100).toFixed(1)}% → ${(p2 * 100).toFixed(1)}% (z = ${((p2 - p1) / se).toFixed(1)})`);
  }
  for (const name of outputNames) {
    const a = baseline.map((r) => r.outputs[name]).filter((x): x is number => Number.isFinite(x));
    const b = recent.map((r) => r.outputs[name]).filter((x): x is number => Number.isFinite(x));
    if (a.length < options.minimumPerWindow || b.length < options.minimumPerWindow) continue;
    const ma = meanAndVariance(a);
    const mb = meanAndVariance(b);
    const seMean = Math.sqrt(ma.variance / a.length + mb.variance / b.length);
    const z = seMean > 0 ? (mb.mean - ma.mean) / seMean : mb.mean === ma.mean ? 0 : Infinity;
    if (Math.abs(z) >= options.zThreshold) signal.reasons.push(`${name} mean ${ma.mean.toPrecision(4)} → ${mb.mean.toPrecision(4)} (z = ${Number.isFinite(z) ? z.toFixed(1) : '∞'})`);
  }
  if (signal.reasons.length) signal.status = 'drift';
  return signal;
}

export function analyserMetrics(analyserId: string, results: AnalysisResult[], options: DriftOptions = DEFAULT_DRIFT): AnalyserMetrics {
  const latencies = results.map((r) => r.latencyMs).sort((a, b) => a - b);
  return {
    analyserId,
    versions: [...new Set(results.map((r) => r.analyserVersion))].sort(),
    ...rates(results),
    analysed: results.filter((r) => r.status === 'analysed').length,
    notAnalysed: results.filter((r) => r.status === 'not-analysed').length,
    failed: results.filter((r) => r.status === 'failed').length,
    latencyMs: {
      mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0,
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
    },
    byScannerModel: groupBy(results, (r) => r.scannerModel),
    bySite: groupBy(results, (r) => r.site),
    drift: driftOf(results, options),
  };
}
