// `npm run bench:dimse`: this archive's DIMSE listener against Orthanc's (Debian's, with its own
// configuration), in one run, driven by dcmtk's tools with Nagle's algorithm off (TCP_NODELAY=1):
//   - storescu of 1,000 CT instances over 1 association, and another 1,000 over 4 at once (instances/s,
//     each instance acknowledged only once durable on our side);
//   - C-FIND at the STUDY level over 10,000 instances (1,000 studies): p50 and p95 of findscu runs;
//   - getscu of a 300-instance series (instances/s; received, not written).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticInstance, uid } from '../helpers/synthetic.js';
import { startOrthanc, startOurs, waitFor, type Server } from './bench-servers.js';

const CT_INSTANCES = 1000;
const CT_SIZE = 256;
const FIND_STUDIES = 1000;
const PER_STUDY = 10;
const FIND_RUNS = 60;
const GET_RUNS = 3;

function run(tool: string, args: string[]): Promise<{ code: number | null; ms: number; output: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env: { ...process.env, TCP_NODELAY: '1' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ms: performance.now() - started, output }));
  });
}

/** CT slices in `dirs` folders (one per association), `seriesSizes` series of one study. */
function writeCtSet(root: string, dirs: number, seriesSizes: number[], tag: string): { series: string[] } {
  const study = uid();
  const pixels = new Uint16Array(CT_SIZE * CT_SIZE).map((_, i) => (i * 7) % 4096);
  const series: string[] = [];
  let n = 0;
  for (const count of seriesSizes) {
    const seriesUid = uid();
    series.push(seriesUid);
    for (let i = 0; i < count; i++, n++) {
      const dir = join(root, `a${n % dirs}`);
      mkdirSync(dir, { recursive: true });
      const file = syntheticInstance(
        { StudyInstanceUID: study, SeriesInstanceUID: seriesUid, PatientID: `BENCH-${tag}`, PatientName: `Bench^${tag}`, InstanceNumber: i + 1, Rows: CT_SIZE, Columns: CT_SIZE, BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' },
        pixels,
      );
      writeFileSync(join(dir, `${n}.dcm`), file);
    }
  }
  return { series };
}

function writeFindSet(root: string): void {
  mkdirSync(root, { recursive: true });
  const names = ['Smith', 'Jones', 'Brown', 'Garcia', 'Miller', 'Davis', 'Wilson', 'Moore', 'Taylor', 'Anderson'];
  for (let s = 0; s < FIND_STUDIES; s++) {
    const study = uid();
    const series = uid();
    const date = `20${String(10 + (s % 15)).padStart(2, '0')}${String(1 + (s % 12)).padStart(2, '0')}${String(1 + (s % 28)).padStart(2, '0')}`;
    for (let i = 0; i < PER_STUDY; i++) {
      const file = syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: series, PatientID: `P${s}`, PatientName: `${names[s % names.length]}^Pat${s}`, StudyDate: date, AccessionNumber: `A${s}`, StudyDescription: 'CT CHEST', InstanceNumber: i + 1 });
      writeFileSync(join(root, `${s}-${i}.dcm`), file);
    }
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const median = (values: number[]) => percentile(values, 50);

interface Side {
  server: Server;
  aeTitle: string;
  port: number;
}

async function storeDirs(side: Side, dirs: string[]): Promise<number> {
  const started = performance.now();
  const runs = await Promise.all(dirs.map((d) => run('storescu', ['-aec', side.aeTitle, '+sd', '127.0.0.1', String(side.port), d])));
  const failed = runs.find((r) => r.code !== 0);
  if (failed) throw new Error(`storescu to ${side.server.name} failed: ${failed.output.slice(0, 500)}`);
  return performance.now() - started;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'dimse-bench-'));
  const servers: Server[] = [];
  try {
    console.log('writing the data sets…');
    const oneAssociation = writeCtSet(join(work, 'ct1'), 1, [300, 300, 300, 100], 'ONE');
    writeCtSet(join(work, 'ct4'), 4, [250, 250, 250, 250], 'FOUR');
    writeFindSet(join(work, 'find'));
    const ours = await startOurs(join(work, 'ours'), 18180, 18181);
    servers.push(ours);
    await waitFor(`${ours.root}/studies?limit=1`);
    const orthanc = await startOrthanc(join(work, 'orthanc'), 18190);
    servers.push(orthanc);
    const sides: Side[] = [
      { server: ours, aeTitle: 'CLOUDPACS', port: 18181 },
      { server: orthanc, aeTitle: 'ORTHANC', port: 18191 },
    ];
    const results = new Map<string, Record<string, number>>();
    for (const side of sides) {
      const r: Record<string, number> = {};
      console.log(`${side.server.name}: C-STORE…`);
      r.store1 = CT_INSTANCES / ((await storeDirs(side, [join(work, 'ct1', 'a0')])) / 1000);
      r.store4 = CT_INSTANCES / ((await storeDirs(side, [0, 1, 2, 3].map((i) => join(work, 'ct4', `a${i}`)))) / 1000);
      console.log(`${side.server.name}: loading ${FIND_STUDIES * PER_STUDY} instances for C-FIND…`);
      r.loadFind = (FIND_STUDIES * PER_STUDY) / ((await storeDirs(side, [join(work, 'find')])) / 1000);
      const findMs: number[] = [];
      for (let q = 0; q < FIND_RUNS; q++) {
        const keys = [
          ['-k', `PatientID=P${(q * 37) % FIND_STUDIES}`],
          ['-k', `PatientName=${['Smith', 'Jones', 'Brown'][q % 3]}^Pat${q % 10}*`],
          ['-k', `StudyDate=20${10 + (q % 15)}0101-20${10 + (q % 15)}0630`],
        ][q % 3];
        const find = await run('findscu', ['-S', '-aec', side.aeTitle, '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '-k', 'PatientName', '-k', 'StudyDate', ...keys, '127.0.0.1', String(side.port)]);
        if (find.code !== 0) throw new Error(`findscu against ${side.server.name} failed: ${find.output.slice(0, 300)}`);
        findMs.push(find.ms);
      }
      r.findP50 = median(findMs);
      r.findP95 = percentile(findMs, 95);
      const getMs: number[] = [];
      for (let g = 0; g < GET_RUNS; g++) {
        const get = await run('getscu', ['-S', '-aec', side.aeTitle, '--ignore', '-k', 'QueryRetrieveLevel=SERIES', '-k', `SeriesInstanceUID=${oneAssociation.series[0]}`, '127.0.0.1', String(side.port)]);
        if (get.code !== 0) throw new Error(`getscu against ${side.server.name} failed: ${get.output.slice(0, 300)}`);
        getMs.push(get.ms);
      }
      r.get = 300 / (median(getMs) / 1000);
      results.set(side.server.name, r);
    }
    const a = results.get(ours.name)!;
    const b = results.get(orthanc.name)!;
    const row = (label: string, key: string, unit: string, digits = 0) => `| ${label} | ${a[key].toFixed(digits)} ${unit} | ${b[key].toFixed(digits)} ${unit} | ${(a[key] / b[key]).toFixed(2)} |`;
    console.log(`\n| measure | this archive | Orthanc | ratio |\n|---|---|---|---|`);
    console.log(row(`C-STORE, ${CT_INSTANCES} CT ${CT_SIZE}² instances, 1 association`, 'store1', 'instances/s'));
    console.log(row(`C-STORE, ${CT_INSTANCES} CT ${CT_SIZE}² instances, 4 associations`, 'store4', 'instances/s'));
    console.log(row(`C-STORE, ${FIND_STUDIES * PER_STUDY} small instances, 1 association (loading for C-FIND)`, 'loadFind', 'instances/s'));
    console.log(row(`C-FIND STUDY level over ${FIND_STUDIES * PER_STUDY} instances, p50 (findscu run)`, 'findP50', 'ms'));
    console.log(row(`C-FIND STUDY level over ${FIND_STUDIES * PER_STUDY} instances, p95 (findscu run)`, 'findP95', 'ms'));
    console.log(row('C-GET of a 300-instance series (median of 3)', 'get', 'instances/s'));
  } finally {
    for (const s of servers) await s.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
