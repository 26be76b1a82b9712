// `npm run bench:scale`: the archive at hospital scale.
//   - An index of 1,000,000 instances in 100,000 studies (two series of five instances each), put in
//     through the index port as stores would; then `npm start`'s server on it, and QIDO-RS p50/p95 of
//     each common query (patient name prefix, patient ID, accession number, date range, modality, study
//     UID, the series of a study), each answered whole (`limit=100`, as a worklist page asks).
//   - A study of 5,000 instances in the same index: study metadata (time to first byte and to the end,
//     the server's resident memory before, during and after) and QIDO of its instances paged 1,000 at a
//     time (every instance once, in order).
//   - The AWS index on DynamoDB Local with 100,000 items: the requests each query shape makes (no Scan).
// SCALE_STUDIES=10000 runs a tenth of it; SCALE_DATA_DIR=dir keeps the index there and reuses it next time.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteIndex } from '../../lambdas/storage/local/sqlite-index.js';
import { startOurs } from './bench-servers.js';
import { benchDynamoDb } from './scale-dynamodb.js';
import { MODALITIES, SURNAMES, accessionOf, instanceRecord, patientIdOf, studyDateOf, studyUidOf } from '../helpers/hospital-records.js';

const STUDIES = Number(process.env.SCALE_STUDIES ?? 100_000);
const SERIES = 2;
const PER_SERIES = 5;
const LARGE_STUDY = STUDIES; // one more study, of 5,000 instances
const LARGE_SERIES = 10;
const LARGE_PER_SERIES = 500;
const RUNS = 60;

async function populate(dataDir: string): Promise<number> {
  const index = new SqliteIndex(join(dataDir, 'index.sqlite'));
  const started = performance.now();
  let pending: Array<Promise<unknown>> = [];
  let n = 0;
  const add = async (s: number, k: number, i: number) => {
    pending.push(index.commitInstance(instanceRecord(s, k, i, `2.25.7${String(s).padStart(9, '0')}${k}${String(i).padStart(4, '0')}`), 'reject'));
    n++;
    if (pending.length >= 2000) {
      await Promise.all(pending);
      pending = [];
    }
  };
  for (let s = 0; s < STUDIES; s++) {
    for (let k = 0; k < SERIES; k++) for (let i = 0; i < PER_SERIES; i++) await add(s, k, i);
    if (s % 10_000 === 0) process.stdout.write(`\r  ${n.toLocaleString('en')} instances (${((n / (performance.now() - started)) * 1000).toFixed(0)}/s)`);
  }
  for (let k = 0; k < LARGE_SERIES; k++) for (let i = 0; i < LARGE_PER_SERIES; i++) await add(LARGE_STUDY, k, i);
  await Promise.all(pending);
  await index.close();
  process.stdout.write(`\r  ${n.toLocaleString('en')} instances in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  return n;
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function timed(url: string): Promise<{ ms: number; count: number }> {
  const started = performance.now();
  const res = await fetch(url);
  if (res.status !== 200 && res.status !== 204) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const body = res.status === 204 ? [] : ((await res.json()) as unknown[]);
  return { ms: performance.now() - started, count: body.length };
}

async function main(): Promise<void> {
  const kept = process.env.SCALE_DATA_DIR;
  const dataDir = kept ?? mkdtempSync(join(tmpdir(), 'scale-bench-'));
  try {
    console.log(`index: ${STUDIES.toLocaleString('en')} studies of ${SERIES * PER_SERIES} instances, and one of ${LARGE_SERIES * LARGE_PER_SERIES}`);
    if (kept && existsSync(join(kept, 'index.sqlite'))) console.log(`  reusing ${kept}`);
    else {
      mkdirSync(dataDir, { recursive: true });
      await populate(dataDir);
    }
    const server = await startOurs(dataDir, 18_480);
    try {
      const root = server.root;
      const pick = (r: number) => Math.floor(((r * 7919) % 1000) / 1000 * STUDIES);
      const shapes: Array<[string, (r: number) => string]> = [
        ['patient name prefix', (r) => `/studies?PatientName=${SURNAMES[r % SURNAMES.length].toLowerCase()}${r % 97}*&limit=100`],
        ['patient ID', (r) => `/studies?PatientID=${patientIdOf(pick(r))}&limit=100`],
        ['accession number', (r) => `/studies?AccessionNumber=${accessionOf(pick(r))}&limit=100`],
        ['date range (a week)', (r) => `/studies?StudyDate=${studyDateOf(pick(r))}-${studyDateOf(pick(r) + 380)}&limit=100`],
        ['modality', (r) => `/studies?ModalitiesInStudy=${MODALITIES[r % MODALITIES.length]}&limit=100`],
        ['study UID', (r) => `/studies?StudyInstanceUID=${studyUidOf(pick(r))}&limit=100`],
        ['series of a study', (r) => `/studies/${studyUidOf(pick(r))}/series?limit=100`],
      ];
      console.log('\nQIDO-RS (ms, whole answer)        p50      p95   answers');
      for (const [name, url] of shapes) {
        await timed(`${root}${url(RUNS)}`); // warm
        const times: number[] = [];
        let answers = 0;
        for (let r = 0; r < RUNS; r++) {
          const { ms, count } = await timed(`${root}${url(r)}`);
          times.push(ms);
          answers += count;
        }
        console.log(`  ${name.padEnd(30)} ${percentile(times, 50).toFixed(1).padStart(7)}  ${percentile(times, 95).toFixed(1).padStart(7)}  ${(answers / RUNS).toFixed(1).padStart(7)} a query`);
      }

      const large = studyUidOf(LARGE_STUDY);
      const seen = new Set<string>();
      let pages = 0;
      for (let offset = 0; ; offset += 1000) {
        const res = await fetch(`${root}/studies/${large}/instances?limit=1000&offset=${offset}`);
        if (res.status === 204) break;
        const page = (await res.json()) as Array<Record<string, { Value: string[] }>>;
        if (page.length) pages++;
        for (const m of page) seen.add(m['00080018'].Value[0]);
        if (page.length < 1000) break;
      }
      console.log(`\nQIDO of the 5,000-instance study's instances, 1,000 a page: ${pages} pages, ${seen.size} distinct instances`);

      const before = rssMiB(server.pid);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.pid))), 5);
      const started = performance.now();
      const res = await fetch(`${root}/studies/${large}/metadata`);
      const reader = res.body!.getReader();
      let firstByte = 0;
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!firstByte) firstByte = performance.now() - started;
        bytes += value.length;
      }
      const total = performance.now() - started;
      clearInterval(sampler);
      console.log(`study metadata of 5,000 instances: first byte ${firstByte.toFixed(0)} ms, all ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${total.toFixed(0)} ms; server RSS ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB at most while answering, ${rssMiB(server.pid).toFixed(0)} MiB after`);
    } finally {
      await server.stop();
    }
  } finally {
    if (!kept) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
await benchDynamoDb();
