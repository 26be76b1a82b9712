// The servers a benchmark compares, each in a process of its own on a fresh data directory: this
// archive as `npm start` runs it, and Orthanc with its DICOMweb plugin (Debian's packages) as the peer.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const repoRoot = resolve(import.meta.dirname, '../..');

export interface Server {
  name: string;
  root: string;
  pid: number;
  stop(): Promise<void>;
}

export async function waitFor(url: string, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((done) => {
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
}

/** `dimsePort`: where its DIMSE listener listens (off when 0). */
export async function startOurs(dir: string, port: number, dimsePort = 0): Promise<Server> {
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=.tmp/prof" profiles the server under the load.
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(repoRoot, 'lambdas/local/main.ts')], {
    env: {
      ...process.env,
      DATA_DIR: dir,
      PORT: String(port),
      DIMSE_PORT: String(dimsePort),
      HOST: '127.0.0.1',
      AI_ENABLED: process.env.AI_ENABLED ?? 'false',
    },
    stdio: ['ignore', openSync(join(repoRoot, '.tmp/bench-server.log'), 'w'), openSync(join(repoRoot, '.tmp/bench-server.log'), 'a')],
  });
  const root = `http://127.0.0.1:${port}/dicomweb`;
  await waitFor(`${root}/studies?limit=1`);
  return { name: 'this archive', root, pid: child.pid!, stop: stopper(child) };
}

export async function startOrthanc(dir: string, port: number): Promise<Server> {
  const plugin = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
  if (!existsSync('/usr/sbin/Orthanc') || !existsSync(plugin)) {
    throw new Error('Orthanc is not installed: apt-get install orthanc orthanc-dicomweb');
  }
  const config = {
    Name: 'bench', HttpPort: port, DicomPort: port + 1, StorageDirectory: join(dir, 'storage'), IndexDirectory: join(dir, 'index'),
    RemoteAccessAllowed: false, AuthenticationEnabled: false, Plugins: [plugin], DicomWeb: { Enable: true, Root: '/dicom-web/' },
    HttpBindAddress: '127.0.0.1', DicomAlwaysAllowStore: true, DicomAlwaysAllowFind: true, DicomAlwaysAllowGet: true, LimitFindResults: 0, LimitFindInstances: 0,
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'orthanc.json'), JSON.stringify(config));
  // dcmtk inside Orthanc leaves Nagle's algorithm on unless TCP_NODELAY is set (about 10 times slower C-STOREs).
  const child = spawn('/usr/sbin/Orthanc', [join(dir, 'orthanc.json')], { stdio: 'ignore', env: { ...process.env, TCP_NODELAY: '1' } });
  const root = `http://127.0.0.1:${port}/dicom-web`;
  await waitFor(`${root}/studies?limit=1`);
  return { name: 'Orthanc', root, pid: child.pid!, stop: stopper(child) };
}

/** Peak resident memory of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}
