// `npm run bench:lambda`: size of each bundled Lambda function and its cold initialisation time, measured
// locally (Node on this machine, not the Lambda runtime): every run is a fresh Node process that
// imports the bundle and answers one request that needs no AWS call; the functions take turns. The app
// is synthesized with a DR region, so the replica's read API and the token-key copier are measured too.
// Writes .tmp/lambda-bench-results.json.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app.js';
import { MODEL_ANALYSER_IDS, PIXEL_ANALYSER_IDS, type BuiltInAnalyserId } from '../../lambdas/ai/analysers/built-in-ids.js';
import { chunksHolding, loadedAtStart } from '../helpers/bundle-imports.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const repoRoot = resolve(import.meta.dirname, '../..');
const outdir = join(repoRoot, '.tmp/lambda-bench');
rmSync(outdir, { recursive: true, force: true });
process.env.CDK_DEFAULT_ACCOUNT ??= '123456789012';
process.env.CDK_DEFAULT_REGION ??= 'eu-west-1';
const { app, stack } = buildApp(new App({ outdir, context: { drRegion: 'eu-central-1' } }));
app.synth();

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
const templateOf = (stackName: string) => JSON.parse(readFileSync(join(outdir, `${stackName}.template.json`), 'utf8')) as Template;
const functions = [stack.stackName, `${stack.stackName}Replica`].flatMap((name) => Object.entries(templateOf(name).Resources));
// API functions answer one request that needs no AWS call; other functions are only imported.
const probe = `
const t0 = performance.now();
const { handler } = await import(process.argv[1]);
const t1 = performance.now();
let res;
if (process.argv[2] === 'api') {
  Object.assign(process.env, { ARCHIVE_BUCKET: 'b', INDEX_TABLE: 't', EVENTS_QUEUE_URL: 'http://127.0.0.1:9/q', AWS_REGION: 'eu-west-1' });
  res = await handler({ resource: '/{proxy+}', path: '/dicomweb/studies/x/series', httpMethod: 'GET', headers: { Host: 'h' }, multiValueHeaders: {}, body: null, isBase64Encoded: false, requestContext: { path: '/prod/dicomweb/studies/x/series', stage: 'prod', httpMethod: 'GET', identity: {} } }, {});
}
const t2 = performance.now();
// What the first use of code kept out of the cold start adds (S3 for the API functions, the result
// writers and model runtime for an AI worker's first job): importing the chunks that hold it (argv[3]),
// with whatever they import.
const later = JSON.parse(process.argv[3]);
const t3 = performance.now();
for (const f of later) await import(new URL(f, new URL(process.argv[1], 'file:')).href);
console.log(JSON.stringify({ importMs: t1 - t0, firstRequestMs: res ? t2 - t1 : 0, laterLoadMs: later.length ? performance.now() - t3 : 0, status: res?.statusCode }));
`;
/**
 * What a function loads after its cold start, by text only that code carries: the S3 client (the API
 * functions and the AI pipeline's events and readiness functions load it on first use); for an AI
 * worker, the SR/SEG writers with the DICOM dictionary (the Comprehensive SR UID), frame decoding for
 * the analysers that read pixels, and the ONNX runtime for those that run a model, all with its first job.
 */
function loadedLater(id: string, analyser: string | undefined): { what: string; markers: string[] } | undefined {
  if (/^(DicomWeb|ReadApi|AiEvents|AiDispatch)/.test(id)) return { what: 'S3 on first use', markers: ['ListObjectsV2'] };
  if (!analyser) return undefined;
  const markers = ['1.2.840.10008.5.1.4.1.1.88.33'];
  if (PIXEL_ANALYSER_IDS.has(analyser as BuiltInAnalyserId)) markers.push('not greyscale');
  if (MODEL_ANALYSER_IDS.has(analyser as BuiltInAnalyserId)) markers.push('ort-wasm-simd-threaded');
  return { what: 'first job', markers };
}
type Timing = { importMs: number; firstRequestMs: number; laterLoadMs: number };
interface Measured {
  id: string;
  dir: string;
  copyDir: string;
  startup: string[];
  later: ReturnType<typeof loadedLater>;
  laterChunks: string[];
  times: Timing[];
}
const measured: Measured[] = [];
for (const [id, r] of functions) {
  if (r.Type !== 'AWS::Lambda::Function') continue;
  // The code asset's directory is named after the hash that is also its S3 key.
  const key = (r.Properties.Code as { S3Key?: string }).S3Key;
  if (!key) continue;
  const dir = join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
  if (!readdirSync(dir).includes('index.mjs')) continue;
  // Run inside the repository (the bundles are self-contained; this only keeps the copies in .tmp).
  const copyDir = join(repoRoot, '.tmp/lambda-bench-run', id);
  rmSync(copyDir, { recursive: true, force: true }); // no chunks of an earlier build
  mkdirSync(copyDir, { recursive: true });
  cpSync(dir, copyDir, { recursive: true }); // index.mjs, its chunks and whatever lies beside them
  const analyser = (r.Properties.Environment as { Variables?: Record<string, string> } | undefined)?.Variables?.ANALYSER_ID;
  const later = loadedLater(id, analyser);
  const startup = loadedAtStart(dir);
  const laterChunks = [...new Set(later?.markers.flatMap((m) => chunksHolding(copyDir, m)) ?? [])].filter((f) => !startup.includes(f));
  if (later && later.markers.length && !laterChunks.length) throw new Error(`${id}: no chunk holds ${later.markers.join(', ')}`);
  measured.push({ id, dir, copyDir, startup, later, laterChunks, times: [] });
}
// Round-robin: every function once per round, so that the machine's drift during the run (it is
// shared and noisy) weighs on all of them alike and their ratios can be compared.
for (let i = 0; i < RUNS; i++) {
  for (const m of measured) {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', probe, join(m.copyDir, 'index.mjs'), /^(DicomWeb|ReadApi)/.test(m.id) ? 'api' : 'other', JSON.stringify(m.laterChunks)], { encoding: 'utf8' });
    const line = run.stdout.trim().split('\n').pop()!;
    m.times.push(JSON.parse(line) as Timing);
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
for (const { id, dir, startup, later, times } of measured) {
  const bytes = startup.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const entry = {
    function: id,
    bundleBytes: bytes,
    bundleGzipBytes: startup.reduce((n, f) => n + gzipSync(readFileSync(join(dir, f))).length, 0),
    allChunksBytes: readdirSync(dir).filter((f) => f.endsWith('.mjs')).reduce((n, f) => n + statSync(join(dir, f)).size, 0),
    medianImportMs: Math.round(median(times.map((t) => t.importMs))),
    medianFirstRequestMs: Math.round(median(times.map((t) => t.firstRequestMs))),
    loadedLater: later?.what,
    medianLaterLoadMs: Math.round(median(times.map((t) => t.laterLoadMs))),
    runs: RUNS,
  };
  results.push(entry);
  console.log(`${id}: ${(bytes / 1024).toFixed(0)} KiB minified loaded at start (${(entry.bundleGzipBytes / 1024).toFixed(0)} KiB gzip; ${(entry.allChunksBytes / 1024).toFixed(0)} KiB with the chunks loaded on demand), cold import ${entry.medianImportMs} ms, first request ${entry.medianFirstRequestMs} ms${later ? `, loaded later (${later.what}) ${entry.medianLaterLoadMs} ms` : ''} (median of ${RUNS}, ${process.version})`);
}
writeFileSync(join(repoRoot, '.tmp/lambda-bench-results.json'), JSON.stringify({ node: process.version, results }, null, 2));
