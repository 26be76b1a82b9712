// `npm run bench`: the same DICOMweb workload against this archive and against Orthanc with its
// DICOMweb plugin, in one run, on this machine. Prints absolute figures and the ratios, and writes
// them to .tmp/bench-results.json. Not a test: nothing here asserts a time.
//
// Workload (defaults; BENCH_SCALE=0.1 for a quick look): 20 studies x 3 series x 100 CT images of
// 512x512 16-bit (about 0.5 MB each), plus 2,200 small two-instance studies, so queries run over
// 10,000+ instances and 2,200+ studies.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { syntheticInstance } from '../helpers/synthetic.js';
import { multipartBody, processCpuMs, stowClient } from './stow-client.js';
import { peakRssMiB, startOrthanc, startOurs, type Server } from './bench-servers.js';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const CT_STUDIES = Math.max(1, Math.round(20 * scale));
const SERIES_PER_STUDY = 3;
const IMAGES_PER_SERIES = Math.max(2, Math.round(100 * Math.min(1, scale * 2)));
const SMALL_STUDIES = Math.max(10, Math.round(2200 * scale));
const PER_REQUEST = Number(process.env.BENCH_PER_REQUEST ?? 10);
const repoRoot = resolve(import.meta.dirname, '../..');

// ---- workload --------------------------------------------------------------------------------

interface Item {
  study: string;
  series: string;
  sop: string;
  bytes: Uint8Array;
}

const NAMES = ['SMITH^JOHN', 'DOE^JANE', 'GARCIA^MARIA', 'MULLER^HANS', 'TANAKA^YUKI', 'NGUYEN^AN', 'KOWALSKI^PIOTR', 'ROSSI^LUCA'];
const MODALITIES = ['CT', 'MR', 'CR', 'US', 'DX', 'MG'];
const uidOf = (kind: number, a: number, b = 0, c = 0) => `1.2.826.0.1.3680043.10.1001.${kind}.${100000 + a}.${100000 + b}.${100000 + c}`;
const dateOf = (i: number) => {
  const d = new Date(Date.UTC(2019, 0, 1) + (i * 7919 % 2190) * 86400000);
  return d.toISOString().slice(0, 10).replace(/-/g, '');
};

function ctWorkload(): Item[] {
  const pixels = new Uint16Array(512 * 512);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) % 4096;
  const items: Item[] = [];
  for (let s = 0; s < CT_STUDIES; s++) {
    for (let se = 0; se < SERIES_PER_STUDY; se++) {
      for (let i = 0; i < IMAGES_PER_SERIES; i++) {
        const study = uidOf(1, s);
        const series = uidOf(2, s, se);
        const sop = uidOf(3, s, se, i);
        const bytes = syntheticInstance(
          {
            StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: sop, PatientName: `${NAMES[s % NAMES.length]}${s}`,
            PatientID: `CT${s}`, StudyDate: dateOf(s), StudyTime: '101010', AccessionNumber: `A${s}`, StudyDescription: 'CT CHEST',
            Modality: 'CT', SeriesNumber: se + 1, InstanceNumber: i + 1, Rows: 512, Columns: 512, BitsAllocated: 16, BitsStored: 12,
            HighBit: 11, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', SliceThickness: 1.25,
            ImagePositionPatient: [0, 0, i * 1.25], ImageOrientationPatient: [1, 0, 0, 0, 1, 0], PixelSpacing: [0.7, 0.7],
            RescaleIntercept: -1024, RescaleSlope: 1, WindowCenter: 40, WindowWidth: 400,
          },
          pixels,
        );
        items.push({ study, series, sop, bytes });
      }
    }
  }
  return items;
}

function smallWorkload(): Item[] {
  const items: Item[] = [];
  for (let s = 0; s < SMALL_STUDIES; s++) {
    const study = uidOf(4, s);
    const series = uidOf(5, s);
    for (let i = 0; i < 2; i++) {
      const sop = uidOf(6, s, 0, i);
      const modality = MODALITIES[s % MODALITIES.length];
      items.push({
        study, series, sop,
        bytes: syntheticInstance({
          StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: sop, PatientName: `${NAMES[s % NAMES.length]}${s}`,
          PatientID: `P${s}`, StudyDate: dateOf(s), StudyTime: '083000', AccessionNumber: `B${s}`, StudyDescription: `${modality} STUDY`,
          Modality: modality, SeriesNumber: 1, InstanceNumber: i + 1,
        }),
      });
    }
  }
  return items;
}

// ---- servers -----------------------------------------------------------------------------------

// ---- measurements ------------------------------------------------------------------------------

const BOUNDARY = 'benchBoundary0123456789';
const multipart = (items: Item[]) => multipartBody(items.map((it) => it.bytes), BOUNDARY);
const post = stowClient(BOUNDARY, 16);
const cpuMs = processCpuMs;

async function stowAll(server: Server, items: Item[], clients: number): Promise<{ instancesPerSecond: number; mbPerSecond: number; serverCpuMsPerInstance: number; serverKernelCpuMsPerInstance: number; clientCpuMsPerInstance: number }> {
  const batches: Item[][] = [];
  for (let i = 0; i < items.length; i += PER_REQUEST) batches.push(items.slice(i, i + PER_REQUEST));
  let next = 0;
  const started = performance.now();
  const serverCpu = cpuMs(server.pid);
  const clientCpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < batches.length) {
        const n = next++;
        const status = await post(`${server.root}/studies`, multipart(batches[n])).catch((e: Error) => {
          throw new Error(`${server.name}: STOW request ${n + 1} of ${batches.length} failed: ${e.message}`);
        });
        if (status !== 200) throw new Error(`${server.name}: STOW answered ${status}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const bytes = items.reduce((n, it) => n + it.bytes.length, 0);
  const client = process.cpuUsage(clientCpu);
  const serverAfter = cpuMs(server.pid);
  return {
    instancesPerSecond: items.length / seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    // Where the two cores go: the server's CPU (its threads included; in user space and in the kernel,
    // which receives, writes and flushes the data) and this client's, per instance.
    serverCpuMsPerInstance: (serverAfter.user + serverAfter.system - serverCpu.user - serverCpu.system) / items.length,
    serverKernelCpuMsPerInstance: (serverAfter.system - serverCpu.system) / items.length,
    clientCpuMsPerInstance: (client.user + client.system) / 1000 / items.length,
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timed(url: string, accept: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(url, { headers: { Accept: accept } });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return performance.now() - t;
}

async function latencies(urls: string[], accept: string, clients = 1): Promise<{ p50: number; p95: number; perSecond: number }> {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < urls.length) samples.push(await timed(urls[next++], accept));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { p50: percentile(samples, 50), p95: percentile(samples, 95), perSecond: urls.length / seconds };
}

const JSON_ACCEPT = 'application/dicom+json';
const FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

async function measure(server: Server, ct: Item[], small: Item[]) {
  const oneClientShare = Math.round(ct.length * 0.1);
  const stow1 = await stowAll(server, ct.slice(0, oneClientShare), 1);
  const stow4 = await stowAll(server, ct.slice(oneClientShare), 4);
  await stowAll(server, small, 4);
  const repeat = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  const q = (path: string) => `${server.root}${path}`;
  const queries = {
    patientNamePrefix: await latencies(repeat(150, (i) => q(`/studies?PatientName=${NAMES[i % NAMES.length].slice(0, 3)}*&limit=101`)), JSON_ACCEPT),
    studyDateYear: await latencies(repeat(150, (i) => q(`/studies?StudyDate=${2019 + (i % 6)}0101-${2019 + (i % 6)}1231&limit=101`)), JSON_ACCEPT),
    modalitiesInStudy: await latencies(repeat(150, (i) => q(`/studies?ModalitiesInStudy=${MODALITIES[i % MODALITIES.length]}&limit=101`)), JSON_ACCEPT),
    patientId: await latencies(repeat(150, (i) => q(`/studies?PatientID=P${(i * 37) % SMALL_STUDIES}`)), JSON_ACCEPT),
    seriesOfStudy: await latencies(repeat(150, (i) => q(`/studies/${ct[(i * 101) % ct.length].study}/series`)), JSON_ACCEPT),
  };
  const frameUrls = repeat(3000, (i) => {
    const it = ct[(i * 7919) % ct.length];
    return q(`/studies/${it.study}/series/${it.series}/instances/${it.sop}/frames/1`);
  });
  const frames = await latencies(frameUrls, FRAME_ACCEPT, 8);
  const seriesUids = [...new Map(ct.map((it) => [it.series, it])).values()];
  const seriesMetadata = await latencies(repeat(60, (i) => q(`/studies/${seriesUids[i % seriesUids.length].study}/series/${seriesUids[i % seriesUids.length].series}/metadata`)), JSON_ACCEPT);
  return { stow1, stow4, queries, frames, seriesMetadata, peakRssMiB: peakRssMiB(server.pid) };
}

// ---- run ---------------------------------------------------------------------------------------

const only = process.env.BENCH_ONLY; // "ours" or "orthanc" to run one side
console.log(`generating ${CT_STUDIES * SERIES_PER_STUDY * IMAGES_PER_SERIES} CT instances and ${SMALL_STUDIES * 2} small ones…`);
const ct = ctWorkload();
const small = smallWorkload();
mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'pacs-bench-'));
const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
try {
  for (const [key, start] of [
    ['ours', () => startOurs(join(work, 'ours'), 18080)],
    ['orthanc', () => startOrthanc(join(work, 'orthanc'), 18042)],
  ] as const) {
    if (only && only !== key) continue;
    spawnSync('sync');
    const server = await start();
    console.log(`measuring ${server.name}…`);
    try {
      results[key] = await measure(server, ct, small);
    } finally {
      await server.stop();
    }
    console.log(JSON.stringify(results[key], null, 1));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
writeFileSync(join(repoRoot, '.tmp/bench-results.json'), JSON.stringify({ scale, at: new Date().toISOString(), results }, null, 1));
if (results.ours && results.orthanc) {
  const o = results.ours;
  const t = results.orthanc;
  const r = (a: number, b: number) => (a / b).toFixed(2);
  const row = (name: string, ours: string, theirs: string, ratio: string) => console.log(`| ${name} | ${ours} | ${theirs} | ${ratio} |`);
  console.log('\n| measure | this archive | Orthanc | ratio |\n|---|---|---|---|');
  row('STOW, 1 client (instances/s)', o.stow1.instancesPerSecond.toFixed(0), t.stow1.instancesPerSecond.toFixed(0), r(o.stow1.instancesPerSecond, t.stow1.instancesPerSecond));
  row('STOW, 4 clients (instances/s)', o.stow4.instancesPerSecond.toFixed(0), t.stow4.instancesPerSecond.toFixed(0), r(o.stow4.instancesPerSecond, t.stow4.instancesPerSecond));
  row('STOW, 4 clients (MB/s)', o.stow4.mbPerSecond.toFixed(0), t.stow4.mbPerSecond.toFixed(0), r(o.stow4.mbPerSecond, t.stow4.mbPerSecond));
  row('STOW, 4 clients: server CPU per instance (ms)', o.stow4.serverCpuMsPerInstance.toFixed(2), t.stow4.serverCpuMsPerInstance.toFixed(2), r(o.stow4.serverCpuMsPerInstance, t.stow4.serverCpuMsPerInstance));
  row('STOW, 4 clients: of which in the kernel (ms)', o.stow4.serverKernelCpuMsPerInstance.toFixed(2), t.stow4.serverKernelCpuMsPerInstance.toFixed(2), r(o.stow4.serverKernelCpuMsPerInstance, t.stow4.serverKernelCpuMsPerInstance));
  row('STOW, 4 clients: client CPU per instance (ms)', o.stow4.clientCpuMsPerInstance.toFixed(2), t.stow4.clientCpuMsPerInstance.toFixed(2), r(o.stow4.clientCpuMsPerInstance, t.stow4.clientCpuMsPerInstance));
  for (const [name, v] of Object.entries(o.queries)) {
    const w = t.queries[name as keyof typeof t.queries];
    row(`QIDO ${name} p50 / p95 (ms)`, `${v.p50.toFixed(1)} / ${v.p95.toFixed(1)}`, `${w.p50.toFixed(1)} / ${w.p95.toFixed(1)}`, r(v.p95, w.p95));
  }
  row('WADO frames, 8 clients (frames/s)', o.frames.perSecond.toFixed(0), t.frames.perSecond.toFixed(0), r(o.frames.perSecond, t.frames.perSecond));
  row('WADO frame p50 / p95 (ms)', `${o.frames.p50.toFixed(1)} / ${o.frames.p95.toFixed(1)}`, `${t.frames.p50.toFixed(1)} / ${t.frames.p95.toFixed(1)}`, r(o.frames.p95, t.frames.p95));
  row('series metadata p50 / p95 (ms)', `${o.seriesMetadata.p50.toFixed(1)} / ${o.seriesMetadata.p95.toFixed(1)}`, `${t.seriesMetadata.p50.toFixed(1)} / ${t.seriesMetadata.p95.toFixed(1)}`, r(o.seriesMetadata.p95, t.seriesMetadata.p95));
  row('server peak memory (MiB)', o.peakRssMiB.toFixed(0), t.peakRssMiB.toFixed(0), r(o.peakRssMiB, t.peakRssMiB));
}
