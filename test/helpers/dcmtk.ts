// dcmtk's network tools (Debian's dcmtk) as the peers of DIMSE tests, and what they print and write.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetToJson, type DicomJson } from '../../lambdas/dicom/json-model.js';
import { parseDicom } from '../../lambdas/dicom/parser.js';
import type { DimseSettings } from '../../lambdas/dimse/settings.js';

export interface ToolRun {
  code: number | null;
  output: string;
}

/** Runs a dcmtk tool with Nagle's algorithm off (TCP_NODELAY=1, as the field notes advise). */
export function dcmtk(tool: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { cwd: options.cwd, env: { ...process.env, TCP_NODELAY: '1' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A TCP port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function dimseSettings(overrides: Partial<DimseSettings> = {}): Promise<DimseSettings> {
  return {
    port: await freePort(),
    host: '127.0.0.1',
    aeTitle: 'CLOUDPACS',
    peers: [],
    acceptUnknownCallers: true,
    maxPduLength: 256 * 1024,
    maxAssociations: 8,
    associationTimeoutMs: 10_000,
    idleTimeoutMs: 30_000,
    forwardRules: [],
    forwardMaxAttempts: 3,
    forwardRetryMs: 100,
    libraryLogLevel: 'silent',
    ...overrides,
  };
}

/** findscu with -X: the answers it wrote, as DICOM JSON, and its output. */
/** `queryFiles`: data sets holding the query keys, read by findscu after the peer's address. */
export async function findscu(port: number, args: string[], queryFiles: string[] = []): Promise<{ run: ToolRun; answers: DicomJson[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'findscu-'));
  try {
    const run = await dcmtk('findscu', ['-v', '-aec', 'CLOUDPACS', '-X', '-od', dir, ...args, '127.0.0.1', String(port), ...queryFiles]);
    const answers = readdirSync(dir)
      .sort()
      .map((f) => datasetToJson(parseDicom(readFileSync(join(dir, f))).dataset));
    return { run, answers };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** dcmtk's storescp accepting every syntax (+xa) into `dir` on a free port, once it answers C-ECHO (sent with `echoArgs`: TLS options). */
export async function startStorescp(dir: string, extraArgs: string[] = [], echoArgs: string[] = []): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const child = spawn('storescp', ['-aet', 'STORESCP', '+xa', ...extraArgs, '-od', dir, String(port)], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: 'ignore' });
  for (let i = 0; i < 100 && (await dcmtk('echoscu', [...echoArgs, '127.0.0.1', String(port)])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
  return { port, stop: () => child.kill() };
}
