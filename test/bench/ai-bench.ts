// `npm run bench:ai`: how fast the AI pipeline turns arriving studies into results, locally.
// Runs `npm start`'s server with the pipeline on, stores synthetic CT studies (air, a water-density
// body, a dense sphere, noise) and measures
//   - latency: from the STOW-RS answer for a study's last instance to the study being fully analysed
//     (every analyser's SR/SEG stored, triage done), minus the quiet period, one study at a time;
//   - throughput: studies analysed per minute when BENCH_STUDIES studies arrive back to back;
//   - per-analyser latency from /ai/metrics.
// Writes .tmp/ai-bench-results.json. Not a test: nothing here asserts a time.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorklistItem } from '../../lambdas/ai/ports.js';
import { multipartBody, BOUNDARY } from '../helpers/archive.js';
import { syntheticCt, type SyntheticCt } from '../helpers/synthetic-ct.js';

const STUDIES = Number(process.env.BENCH_STUDIES ?? 10);
const LATENCY_STUDIES = Number(process.env.BENCH_LATENCY_STUDIES ?? 3);
const SLICES = Number(process.env.BENCH_SLICES ?? 64);
const SIZE = Number(process.env.BENCH_SIZE ?? 512);
const QUIET_SECONDS = Number(process.env.AI_QUIET_PERIOD_SECONDS ?? 2);
const repoRoot = resolve(import.meta.dirname, '../..');

async function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string; aiUrl: string }> {
  mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
  const log = openSync(join(repoRoot, '.tmp/ai-bench-server.log'), 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'lambdas/local/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', DIMSE_PORT: '0', HOST: '127.0.0.1', AI_ENABLED: 'true', AI_QUIET_PERIOD_SECONDS: String(QUIET_SECONDS), AI_POLL_INTERVAL_MS: '100' },
    stdio: ['ignore', 'pipe', log],
  });
  return new Promise((resolveStart, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"([^"]+)","aiUrl":"([^"]+)"/.exec(out);
      if (m) resolveStart({ child, url: m[1], aiUrl: m[2] });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

/** fetch, tried again when a kept-alive connection was closed under it (the server is busy analysing). */
async function fetchRetrying(url: string, init?: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (e) {
      if (attempt >= 5) throw e;
      await sleep(200);
    }
  }
}

async function store(url: string, study: SyntheticCt): Promise<number> {
  for (let i = 0; i < study.files.length; i += 16) {
    const body = multipartBody(study.files.slice(i, i + 16).map((bytes) => ({ bytes })));
    const res = await fetchRetrying(`${url}/studies`, { method: 'POST', body, headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}` } });
    if (res.status !== 200) throw new Error(`STOW answered ${res.status}`);
    await res.arrayBuffer();
  }
  return performance.now();
}

async function analysedAt(aiUrl: string, studies: Set<string>): Promise<Map<string, number>> {
  const done = new Map<string, number>();
  while (done.size < studies.size) {
    const list = (await (await fetchRetrying(`${aiUrl}/worklist?state=analysed&limit=1000`)).json()) as WorklistItem[];
    for (const item of list) if (studies.has(item.studyInstanceUID) && !done.has(item.studyInstanceUID)) done.set(item.studyInstanceUID, performance.now());
    await sleep(50);
  }
  return done;
}

const make = (i: number) =>
  syntheticCt({ patientID: `BENCH${i}`, studyDate: '20250101', studyDescription: 'CT CHEST', slices: SLICES, size: SIZE, sphereRadiusMm: Math.min(40, SIZE / 8), seed: i + 1 });

const dataDir = mkdtempSync(join(tmpdir(), 'ai-bench-'));
const server = await startServer(dataDir);
try {
  console.log(`AI pipeline benchmark: CT studies of ${SLICES} slices of ${SIZE}×${SIZE}, quiet period ${QUIET_SECONDS} s`);
  // Latency: one study at a time, nothing else running.
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_STUDIES; i++) {
    const study = make(1000 + i);
    const stored = await store(server.url, study);
    const done = await analysedAt(server.aiUrl, new Set([study.studyInstanceUID]));
    latencies.push(done.get(study.studyInstanceUID)! - stored - QUIET_SECONDS * 1000);
  }
  console.log(`latency beyond the quiet period: ${latencies.map((l) => `${(l / 1000).toFixed(2)} s`).join(', ')}`);

  // Throughput: STUDIES studies back to back.
  const studies = Array.from({ length: STUDIES }, (_, i) => make(i));
  const ids = new Set(studies.map((s) => s.studyInstanceUID));
  const waiting = analysedAt(server.aiUrl, ids);
  const storedAt: number[] = [];
  for (const s of studies) storedAt.push(await store(server.url, s));
  const done = await waiting;
  const firstReady = storedAt[0] + QUIET_SECONDS * 1000;
  const lastDone = Math.max(...done.values());
  const studiesPerMinute = STUDIES / ((lastDone - firstReady) / 60_000);
  console.log(`throughput: ${STUDIES} studies in ${((lastDone - firstReady) / 1000).toFixed(1)} s after the first was ready = ${studiesPerMinute.toFixed(1)} studies/min`);

  const metrics = (await (await fetch(`${server.aiUrl}/metrics`)).json()) as Array<{ analyserId: string; count: number; latencyMs: { mean: number; p95: number } }>;
  for (const m of metrics) console.log(`  ${m.analyserId.padEnd(24)} ${String(m.count).padStart(4)} runs, mean ${m.latencyMs.mean.toFixed(0)} ms, p95 ${m.latencyMs.p95.toFixed(0)} ms`);
  writeFileSync(
    join(repoRoot, '.tmp/ai-bench-results.json'),
    JSON.stringify({ slices: SLICES, size: SIZE, quietSeconds: QUIET_SECONDS, latenciesMs: latencies, studies: STUDIES, studiesPerMinute, metrics }, null, 2),
  );
} finally {
  server.child.kill('SIGTERM');
  await sleep(500);
  rmSync(dataDir, { recursive: true, force: true });
}
