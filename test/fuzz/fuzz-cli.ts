// `npm run fuzz [-- --count 20000 --seed 1 --concurrency 4]`: starts `npm start`'s server in a process of its
// own on a fresh data directory, sends it mutated instances and hostile requests, and prints the status
// histogram, the slowest requests, the server's peak resident memory and the QIDO-versus-WADO check.
import { Presets, SingleBar } from 'cli-progress';
import { parseArgs } from 'node:util';
import { runFuzz } from './fuzz-run.js';
import { startServerProcess } from '../helpers/server-process.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '4' },
    ai: { type: 'boolean', default: false },
    only: { type: 'string' },
    kinds: { type: 'string' },
  },
});

const server = await startServerProcess({ AI_ENABLED: values.ai ? 'true' : 'false' });
const { url } = server;
// Interrupted, the fuzzer takes its server with it (held by some input, it would not stop by itself).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.process.kill('SIGKILL');
    process.exit(130);
  });
}
const baseline = server.rss();
let highest = baseline;
const sampler = setInterval(() => {
  if (server.exited() === undefined) highest = Math.max(highest, server.rss());
}, 200);

const count = Number(values.count);
const bar = new SingleBar({ format: 'fuzzing {bar} {value}/{total} inputs | {duration_formatted} | server RSS {rss} MB' }, Presets.shades_classic);
bar.start(count, 0, { rss: Math.round(baseline / 1e6) });
const started = performance.now();
const report = await runFuzz({
  url,
  seed: Number(values.seed),
  count,
  concurrency: Number(values.concurrency),
  only: values.only?.split(',').map(Number),
  kinds: values.kinds?.split(','),
  peakRss: server.peakRss,
  rss: server.rss,
  onProgress: (done) => bar.update(done, { rss: Math.round(server.rss() / 1e6) }),
});
bar.stop();
clearInterval(sampler);
const exited = server.exited();
const after = exited === undefined ? server.rss() : 0;
const seconds = (performance.now() - started) / 1000;

const mb = (b: number | undefined) => (b === undefined ? '?' : `${Math.round(b / 1e6)} MB`);
const fivexx = Object.entries(report.statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0);
console.log(`\n${report.inputs} inputs, ${report.requests} requests in ${seconds.toFixed(0)} s (seed ${values.seed}); ${report.stored} instances accepted and retrieved`);
console.log('\nstatus histogram:');
for (const [status, n] of Object.entries(report.statuses).sort()) console.log(`  ${status.padEnd(8)} ${n}`);
console.log('\nslowest requests:');
for (const e of report.slowest) console.log(`  ${e.ms.toFixed(0).padStart(6)} ms  ${e.status}  ${e.label}`);
console.log('\nrequests during which the server\'s RSS rose most (exact with --concurrency 1):');
for (const e of report.hungriest) console.log(`  +${mb(e.rssRise)}  ${e.ms.toFixed(0).padStart(6)} ms  ${e.status}  ${e.label}`);
console.log(`\nserver RSS: ${mb(baseline)} at start, peak ${mb(Math.max(highest, report.peakRssBytes ?? 0))} (VmHWM ${mb(report.peakRssBytes)}), ${mb(after)} at the end`);
console.log(`QIDO vs WADO: ${report.consistency.listed} instances listed, ${report.consistency.problems.length} not retrievable as stored`);
for (const p of report.consistency.problems.slice(0, 20)) console.log(`  ${p}`);
console.log(`\nfailures (5xx, resets, time-outs, errors without JSON): ${report.failures.length}`);
for (const f of report.failures.slice(0, 30)) console.log(`  ${f.status}  ${f.label}: ${f.problem?.replace(/\s+/g, ' ').slice(0, 200)}`);
console.log(`\ntargets: 5xx ${fivexx}, resets ${(report.statuses.reset ?? 0) + (report.statuses.timeout ?? 0)}, over 2 s ${report.overTwoSeconds}${report.overTwoSeconds ? ` (slowest ${report.slowest[0].ms.toFixed(0)} ms)` : ''}, peak RSS ${mb(Math.max(highest, report.peakRssBytes ?? 0))}, process ${exited === undefined ? 'alive' : `exited (${exited})`}`);

await server.stop();
process.exit(report.failures.length || report.consistency.problems.length || exited !== undefined ? 1 : 0);
