// `npm run upload -- <folder>`: sends every DICOM file under a folder to a DICOMweb archive (STOW-RS),
// several requests at once, with a progress bar and a summary of what was stored, skipped and refused.
import { SingleBar, Presets } from 'cli-progress';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { peekSopIdentity } from '../dicom/instance.js';
import { looksLikeDicom } from '../dicom/parser.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env.DICOMWEB_URL ?? 'http://localhost:8080/dicomweb' },
    // A deployed archive wants a Cognito access token with the dicomweb/write scope (docs/deploy.md).
    token: { type: 'string', default: process.env.DICOMWEB_TOKEN },
    concurrency: { type: 'string', default: '4' },
    'batch-files': { type: 'string', default: '20' },
    'batch-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
  },
});

if (positionals.length === 0) {
  console.error('usage: npm run upload -- <folder or file>... [--url http://localhost:8080/dicomweb] [--token <access token>] [--concurrency 4]');
  process.exit(2);
}

async function* walk(path: string): AsyncGenerator<string> {
  const info = await stat(path);
  if (info.isFile()) {
    yield path;
    return;
  }
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

const HEADER_BYTES = 256 * 1024;

/** Reads the start of a file: is it DICOM, and which SOP Instance UID does it carry (to pair responses with files)? */
async function inspect(file: string): Promise<{ dicom: boolean; sop?: string }> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEADER_BYTES, 0);
    const bytes = head.subarray(0, bytesRead);
    if (!looksLikeDicom(bytes)) return { dicom: false };
    // The archive reads the UID the same way when it refuses a file, so failures pair with files by UID.
    return { dicom: true, sop: peekSopIdentity(bytes).sopInstanceUID };
  } finally {
    await handle.close();
  }
}

interface Summary {
  stored: number;
  skipped: string[];
  refused: Array<{ file: string; reason: string }>;
}

const boundary = `upload-${Date.now().toString(36)}`;

interface Candidate {
  file: string;
  size: number;
  sop?: string;
}

async function send(batch: Candidate[], summary: Summary): Promise<void> {
  const contents = await Promise.all(batch.map((c) => readFile(c.file)));
  const chunks: Buffer[] = [];
  for (const c of contents) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), c, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const res = await fetch(`${values.url}/studies`, {
    method: 'POST',
    headers: {
      'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
      Accept: 'application/dicom+json',
      ...(values.token ? { Authorization: `Bearer ${values.token}` } : {}),
    },
    body: new Uint8Array(Buffer.concat(chunks)),
  });
  const text = await res.text();
  if (![200, 202, 409].includes(res.status)) {
    const reason = `HTTP ${res.status}: ${text.slice(0, 300)}`;
    batch.forEach(({ file }) => summary.refused.push({ file, reason }));
    return;
  }
  const body = JSON.parse(text) as Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> }>;
  summary.stored += body['00081199']?.Value?.length ?? 0;
  // A batch never holds one SOP Instance UID twice, so failures pair with files by UID; the rest in order.
  const unpaired = [...batch];
  for (const item of body['00081198']?.Value ?? []) {
    const sop = item['00081155']?.Value?.[0];
    const byUid = unpaired.findIndex((c) => c.sop === sop);
    const at = byUid >= 0 ? byUid : Math.max(0, unpaired.findIndex((c) => !c.sop));
    const [candidate] = unpaired.splice(at, 1);
    summary.refused.push({ file: candidate?.file ?? '(unknown file)', reason: String(item['00000902']?.Value?.[0] ?? `failure ${item['00081197']?.Value?.[0]}`) });
  }
}

const summary: Summary = { stored: 0, skipped: [], refused: [] };
const candidates: string[] = [];
for (const root of positionals) for await (const file of walk(root)) candidates.push(file);

const dicomFiles: Candidate[] = [];
for (const file of candidates) {
  const { dicom, sop } = await inspect(file);
  if (dicom) dicomFiles.push({ file, size: (await stat(file)).size, sop });
  else summary.skipped.push(file);
}

const batches: Candidate[][] = [];
let current: Candidate[] = [];
let currentBytes = 0;
for (const candidate of dicomFiles) {
  const full = current.length >= Number(values['batch-files']) || currentBytes + candidate.size > Number(values['batch-bytes']);
  const repeatsSop = candidate.sop !== undefined && current.some((c) => c.sop === candidate.sop);
  if (current.length && (full || repeatsSop)) {
    batches.push(current);
    current = [];
    currentBytes = 0;
  }
  current.push(candidate);
  currentBytes += candidate.size;
}
if (current.length) batches.push(current);

const bar = new SingleBar({ format: 'Uploading |{bar}| {value}/{total} files | {eta_formatted} left', hideCursor: true }, Presets.shades_classic);
const started = Date.now();
bar.start(dicomFiles.length, 0);
const limit = pLimit(Number(values.concurrency));
await Promise.all(
  batches.map((batch) =>
    limit(async () => {
      try {
        await send(batch, summary);
      } catch (e) {
        batch.forEach(({ file }) => summary.refused.push({ file, reason: `request failed: ${(e as Error).message}` }));
      }
      bar.increment(batch.length);
    }),
  ),
);
bar.stop();

const seconds = (Date.now() - started) / 1000;
console.log(`\nStored ${summary.stored}, skipped ${summary.skipped.length} (not DICOM), refused ${summary.refused.length} — ${seconds.toFixed(1)} s to ${values.url}`);
for (const { file, reason } of summary.refused.slice(0, 50)) console.log(`  refused ${relative(process.cwd(), file)}: ${reason}`);
if (summary.refused.length > 50) console.log(`  … and ${summary.refused.length - 50} more`);
process.exit(summary.refused.length > 0 ? 1 : 0);
