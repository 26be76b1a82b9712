// `npm start`'s server in a process of its own on a fresh data directory, so that its memory can be read
// from /proc apart from the client's.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/samples.js';

export interface ServerProcess {
  /** The DICOMweb root. */
  url: string;
  /** The viewer at the root, unless VIEWER=off. */
  viewerUrl?: string;
  process: ChildProcess;
  /** Resident memory now (VmRSS) and the highest it has been (VmHWM), in bytes. */
  rss(): number;
  /** Threads of the process now (a decoding worker adds its own). */
  threads(): number;
  peakRss(): number;
  /** The exit code, once it has exited. */
  exited(): number | null | undefined;
  stop(): Promise<void>;
}

const status = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

export async function startServerProcess(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pacs-fuzz-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'lambdas/local/main.ts'], {
    cwd: repoRoot,
    // As `npm start` runs it (package.json), on a fresh data directory and a free port.
    env: { ...process.env, MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', PORT: '0', DIMSE_PORT: '0', DATA_DIR: dataDir, AI_ENABLED: 'false', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let log = '';
  let exitCode: number | null | undefined;
  child.on('exit', (code) => (exitCode = code));
  const ready = await new Promise<{ url: string; viewerUrl?: string }>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const line = log.split('\n').find((l) => l.includes('"DICOMweb archive ready"'));
      if (line) resolve(JSON.parse(line) as { url: string; viewerUrl?: string });
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before it was ready:\n${log}`)));
  });
  return {
    url: ready.url,
    viewerUrl: ready.viewerUrl,
    process: child,
    rss: () => status(child.pid!, 'VmRSS'),
    threads: () => Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0),
    peakRss: () => status(child.pid!, 'VmHWM'),
    exited: () => exitCode,
    stop: async () => {
      if (exitCode === undefined) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        // A server whose event loop is held (what the fuzzer looks for) cannot run its shutdown.
        const held = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(held);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
