// A local archive on a temporary data directory, and small DICOMweb client helpers for tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AiConfig } from '../../lambdas/ai/config.js';
import type { DicomWebConfig } from '../../lambdas/dicomweb/config.js';
import type { ArchiveStorage } from '../../lambdas/storage/ports.js';
import { startLocalArchive, type LocalArchive, type LocalArchiveOptions } from '../../lambdas/local/server.js';

export const testConfig = (overrides: Partial<DicomWebConfig> = {}): DicomWebConfig => ({
  basePath: '/dicomweb',
  maxRequestBytes: 256 * 1024 * 1024,
  maxInstanceBytes: 64 * 1024 * 1024,
  // Low, so that the tests store instances staged in files as well as held in memory.
  maxInMemoryInstanceBytes: 4 * 1024 * 1024,
  maxDecompressedBytes: 512 * 1024 * 1024,
  maxInflatedBytes: 256 * 1024 * 1024,
  duplicatePolicy: 'reject',
  maxQueryResults: 10000,
  maxQueryResponseBytes: 32 * 1024 * 1024,
  storeConcurrency: 8,
  cacheScope: 'public',
  auditSourceId: 'test-archive',
  ...overrides,
});

export interface TestArchive extends Omit<LocalArchive, 'storage'> {
  storage: ArchiveStorage;
  dataDir: string;
  dispose(): Promise<void>;
}

/** The AI pipeline as tests run it: a short quiet period, fast polling, two attempts, quick retries. */
export const testAiConfig = (overrides: Partial<AiConfig> = {}): AiConfig => ({
  enabled: true,
  quietPeriodMs: 400,
  pollIntervalMs: 50,
  maxAttempts: 2,
  retryBackoffMs: 50,
  visibilityTimeoutMs: 60_000,
  tiers: { infrequentAccessAfterDays: 30, archiveAfterDays: 90 },
  noiseLimitHU: 25,
  segmentation: { lowerHU: 300, upperHU: 3000, maxVoxels: 10_000_000 },
  ...overrides,
});

/** ARCHIVE_TARGET=lambda runs the same suites through the Lambda handler over the AWS emulators. */
const target = process.env.ARCHIVE_TARGET ?? 'local';

export async function startTestArchive(
  overrides: Partial<DicomWebConfig> = {},
  dataDir?: string,
  ai?: Pick<LocalArchiveOptions, 'ai' | 'aiOptions' | 'viewer' | 'dimse'>,
): Promise<TestArchive> {
  if (target === 'lambda') {
    if (dataDir || ai) throw new Error('a Lambda-backed test archive has no data directory or local AI pipeline');
    const { startLambdaArchive } = await import('./lambda-archive.js');
    const archive = await startLambdaArchive(testConfig(overrides));
    return { ...archive, dataDir: '', dispose: archive.close };
  }
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'pacs-test-'));
  const archive = await startLocalArchive({ dataDir: dir, port: 0, host: '127.0.0.1', config: testConfig(overrides), ...ai });
  return {
    ...archive,
    dataDir: dir,
    dispose: async () => {
      await archive.close();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const BOUNDARY = 'test-boundary-7d1f0c';

export function multipartBody(parts: Array<{ bytes: Uint8Array; contentType?: string }>, boundary = BOUNDARY): Uint8Array<ArrayBuffer> {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${p.contentType ?? 'application/dicom'}\r\n\r\n`));
    chunks.push(Buffer.from(p.bytes));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return new Uint8Array(Buffer.concat(chunks));
}

export interface StowResult {
  status: number;
  body: Record<string, { vr: string; Value?: Array<Record<string, { vr: string; Value?: unknown[] }>> | string[] }>;
  warning: string | null;
}

export async function stow(url: string, files: Uint8Array[], studyUid?: string): Promise<StowResult> {
  const res = await fetch(`${url}/studies${studyUid ? `/${studyUid}` : ''}`, {
    method: 'POST',
    headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}` },
    body: multipartBody(files.map((bytes) => ({ bytes }))),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, warning: res.headers.get('warning') };
}

/** Splits a multipart/related response into its parts (headers and bytes). */
export function parseMultipart(body: Buffer, contentType: string): Array<{ headers: Record<string, string>; body: Buffer }> {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const afterDelimiter = pos + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', afterDelimiter);
    const headers: Record<string, string> = {};
    for (const line of body.subarray(afterDelimiter + 2, headerEnd).toString().split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers['content-length']);
    const start = headerEnd + 4;
    const end = Number.isFinite(length) ? start + length : body.indexOf(delimiter, start) - 2;
    parts.push({ headers, body: body.subarray(start, end) });
    pos = body.indexOf(delimiter, end);
  }
  return parts;
}

export async function getMultipart(url: string, accept: string): Promise<{ status: number; parts: Array<{ headers: Record<string, string>; body: Buffer }>; headers: Headers }> {
  const res = await fetch(url, { headers: { Accept: accept } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { status: res.status, parts: [], headers: res.headers };
  return { status: res.status, parts: parseMultipart(body, res.headers.get('content-type') ?? ''), headers: res.headers };
}
