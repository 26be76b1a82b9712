// The fuzzing driver: plans drawn by fast-check from a seed, turned into hostile instances and requests,
// sent to a running archive; every instance it accepts is then retrieved every way a viewer would.
// What counts as a failure: a status of 500 or more, a connection reset or time-out, or an error
// answered without a JSON body. At the end, every instance QIDO lists must be retrievable as stored.
import fc from 'fast-check';
import { request as httpRequest, Agent } from 'node:http';
import { Tag } from '../../lambdas/dicom/tags.js';
import { loadCorpus } from './corpus.js';
import { Draw, INSTANCE_MUTATIONS, mutateInstance, type InstanceMutation } from './mutate-instance.js';
import { REQUEST_MUTATIONS, mutateRequest, retrievalVariants, type FuzzRequest, type RequestMutation } from './mutate-request.js';

export interface FuzzPlan {
  kind: InstanceMutation | RequestMutation;
  sample: number;
  numbers: number[];
}

const planArbitrary = fc.record({
  kind: fc.oneof(
    { arbitrary: fc.constantFrom(...INSTANCE_MUTATIONS.filter((k) => k !== 'deflate-bomb')), weight: 84 },
    { arbitrary: fc.constant<InstanceMutation>('deflate-bomb'), weight: 1 },
    { arbitrary: fc.constantFrom(...REQUEST_MUTATIONS), weight: 15 },
  ),
  sample: fc.nat(),
  numbers: fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
});

export const fuzzPlans = (seed: number, count: number): FuzzPlan[] => fc.sample(planArbitrary, { seed, numRuns: count });

export interface Exchange {
  label: string;
  status: number | 'reset' | 'timeout';
  ms: number;
  problem?: string;
  /** How far the server's resident memory rose during the exchange (bytes), when the caller can read it. */
  rssRise?: number;
}

export interface FuzzReport {
  inputs: number;
  requests: number;
  statuses: Record<string, number>;
  failures: Exchange[];
  slowest: Exchange[];
  /** How many exchanges took 2 s or more. */
  overTwoSeconds: number;
  /** The exchanges during which the server's resident memory rose most (exact at concurrency 1). */
  hungriest: Exchange[];
  stored: number;
  /** Peak resident memory of the server process, when the caller can read it. */
  peakRssBytes?: number;
  consistency: { listed: number; problems: string[] };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

// Idle connections are dropped before the server's keep-alive timeout (5 s), so that a reused connection the
// server is closing at that moment is not mistaken for a reset.
const agent = new Agent({ keepAlive: true, maxSockets: 16, timeout: 4000 });

function send(root: string, req: FuzzRequest, timeoutMs: number): Promise<Answer> {
  const url = new URL(root + req.path);
  return new Promise((resolve, reject) => {
    const r = httpRequest(url, { method: req.method, headers: { ...(req.body ? { 'Content-Length': String(req.body.length) } : {}), ...req.headers }, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end(req.body);
  });
}

export interface FuzzOptions {
  /** DICOMweb root, e.g. http://127.0.0.1:8080/dicomweb. */
  url: string;
  seed: number;
  count: number;
  concurrency?: number;
  /** Reads the server's peak resident memory (a server in a process of its own). */
  peakRss?: () => number;
  /** Reads the server's resident memory now, to tell which requests made it grow. */
  rss?: () => number;
  timeoutMs?: number;
  /** Runs only these plans (by index), to reproduce a finding. */
  only?: number[];
  /** Runs only plans of these kinds (mutations), to study one class of input. */
  kinds?: string[];
  onProgress?: (done: number) => void;
}

const BOUNDARY = 'fuzz-stow-boundary';
const stowRequest = (instance: Buffer): FuzzRequest => ({
  method: 'POST',
  path: '/studies',
  headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}` },
  body: Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), instance, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]),
});

type Item = Record<string, { Value?: unknown[] }>;

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const corpus = loadCorpus();
  const deflatable = corpus.filter((s) => s.transferSyntaxUID === '1.2.840.10008.1.2.1' && s.elements.has(Tag.TransferSyntaxUID) && s.bytes.length < 200_000);
  const plans = fuzzPlans(options.seed, options.count);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const exchanges: Exchange[] = [];
  let stored = 0;
  let done = 0;

  const exchange = async (label: string, req: FuzzRequest): Promise<Answer | undefined> => {
    const started = performance.now();
    const rssBefore = options.rss?.();
    try {
      const answer = await send(options.url, req, timeoutMs);
      const ms = performance.now() - started;
      const record: Exchange = { label, status: answer.status, ms };
      if (rssBefore !== undefined) record.rssRise = options.rss!() - rssBefore;
      if (answer.status >= 500) record.problem = answer.body.toString('utf8').slice(0, 300);
      else if (answer.status >= 400 && req.method !== 'HEAD' && !isJson(answer.body)) record.problem = `error without a JSON body: ${answer.body.toString('utf8').slice(0, 200)}`;
      exchanges.push(record);
      return answer;
    } catch (e) {
      const message = (e as Error).message;
      exchanges.push({ label, status: message === 'timeout' ? 'timeout' : 'reset', ms: performance.now() - started, problem: message });
      return undefined;
    }
  };

  const runPlan = async (plan: FuzzPlan, index: number) => {
    const draw = new Draw(plan.numbers);
    const pool = plan.kind === 'deflate-bomb' ? deflatable : corpus;
    const seed = pool[plan.sample % pool.length];
    const label = `#${index} ${plan.kind} ${seed.name}`;
    if ((REQUEST_MUTATIONS as readonly string[]).includes(plan.kind)) {
      const req = mutateRequest(plan.kind as RequestMutation, mutateInstance(seed, 'none', draw), draw);
      await exchange(`${label} ${req.method} ${req.path.slice(0, 80)}`, req);
      return;
    }
    const answer = await exchange(`${label} STOW`, stowRequest(mutateInstance(seed, plan.kind as InstanceMutation, draw)));
    if (!answer || answer.status >= 300 || !isJson(answer.body)) return;
    const referenced = ((JSON.parse(answer.body.toString()) as Item)['00081199']?.Value ?? []) as Item[];
    for (const item of referenced) {
      const instanceUrl = String(item['00081190']?.Value?.[0] ?? '');
      const path = instanceUrl.slice(instanceUrl.indexOf('/studies/'));
      stored++;
      const gets: Array<{ suffix: string; accept: string }> = [
        { suffix: '', accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
        { suffix: '', accept: 'multipart/related; type="application/dicom"' },
        { suffix: '/metadata', accept: 'application/dicom+json' },
        { suffix: '/frames/1', accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
        ...retrievalVariants(draw),
      ];
      for (const g of gets) await exchange(`${label} GET ${g.suffix || 'instance'} (${g.accept})`, { method: 'GET', path: path + g.suffix, headers: { Accept: g.accept } });
    }
  };

  let next = 0;
  const workers = Array.from({ length: options.concurrency ?? 4 }, async () => {
    while (next < plans.length) {
      const index = next++;
      if (options.only && !options.only.includes(index)) continue;
      if (options.kinds && !options.kinds.includes(plans[index].kind)) continue;
      await runPlan(plans[index], index);
      options.onProgress?.(++done);
    }
  });
  await Promise.all(workers);
  const consistency = await checkConsistency(options.url, exchange);

  const statuses: Record<string, number> = {};
  for (const e of exchanges) statuses[e.status] = (statuses[e.status] ?? 0) + 1;
  return {
    inputs: plans.length,
    requests: exchanges.length,
    statuses,
    failures: exchanges.filter((e) => e.problem && (e.status === 'reset' || e.status === 'timeout' || e.status >= 400)),
    slowest: [...exchanges].sort((a, b) => b.ms - a.ms).slice(0, 10),
    overTwoSeconds: exchanges.filter((e) => e.ms >= 2000).length,
    hungriest: exchanges.filter((e) => (e.rssRise ?? 0) > 0).sort((a, b) => b.rssRise! - a.rssRise!).slice(0, 10),
    stored,
    peakRssBytes: options.peakRss?.(),
    consistency,
  };
}

function isJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Every instance QIDO lists is retrievable as stored, and its metadata too. */
async function checkConsistency(root: string, exchange: (label: string, req: FuzzRequest) => Promise<Answer | undefined>): Promise<FuzzReport['consistency']> {
  const problems: string[] = [];
  let listed = 0;
  const page = 1000;
  for (let offset = 0; ; offset += page) {
    const answer = await exchange('QIDO all instances', { method: 'GET', path: `/instances?limit=${page}&offset=${offset}`, headers: { Accept: 'application/dicom+json' } });
    if (!answer || answer.status !== 200) {
      if (answer?.status !== 204) problems.push(`QIDO /instances offset ${offset} answered ${answer?.status ?? 'nothing'}`);
      break;
    }
    const rows = JSON.parse(answer.body.toString()) as Item[];
    for (const row of rows) {
      listed++;
      const [study, series, sop] = [Tag.StudyInstanceUID, Tag.SeriesInstanceUID, Tag.SOPInstanceUID].map((t) => String(row[t.toString(16).padStart(8, '0').toUpperCase()]?.Value?.[0]));
      const path = `/studies/${study}/series/${series}/instances/${sop}`;
      for (const [suffix, accept] of [['', 'multipart/related; type="application/dicom"; transfer-syntax=*'], ['/metadata', 'application/dicom+json']]) {
        const got = await exchange(`consistency GET ${path}${suffix}`, { method: 'GET', path: path + suffix, headers: { Accept: accept } });
        if (got?.status !== 200) problems.push(`${path}${suffix} is listed by QIDO but answered ${got?.status ?? 'nothing'}`);
      }
    }
    if (rows.length < page) break;
  }
  return { listed, problems };
}
