// `npm run bench:stow-floor`: what a Node STOW-RS server costs on this machine with no DICOM work at all,
// beside this archive, so that the archive's STOW figures can be read against a floor. Each round runs,
// one after the other, the same four-client upload (10 CT instances of 525 KB per request) against:
//   - "receive + durable write": Node's HTTP server, the archive's multipart parser, and one file per
//     part written and fdatasync'ed before the answer (test/bench/stow-floor-server.mjs);
//   - this archive (`npm start`'s server): parsing, hashing, the index, events, the STOW response;
//   - two independent archive processes, two clients each: the most that more event loops could give.
// Prints instances/s and the server's CPU per instance (user, kernel) from /proc. Not a test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { syntheticInstance } from '../helpers/synthetic.js';
import { multipartBody, processCpuMs, stowClient } from './stow-client.js';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 1200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CLIENTS = 4;
const repoRoot = resolve(import.meta.dirname, '../..');
const BOUNDARY = 'stowFloorBoundary';

const pixels = new Uint16Array(512 * 512).map((_, i) => (i * 31) % 4096);
const bodies: Buffer[] = [];
for (let i = 0; i < INSTANCES; i += 10) {
  const instances: Uint8Array[] = [];
  for (let j = i; j < Math.min(i + 10, INSTANCES); j++) {
    const study = `1.2.826.0.1.3680043.10.1002.${Math.floor(j / 100)}`;
    instances.push(
      syntheticInstance(
        {
          StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, SOPInstanceUID: `${study}.1.${j}`, PatientName: 'FLOOR^TEST', PatientID: 'FLOOR',
          Modality: 'CT', InstanceNumber: j + 1, Rows: 512, Columns: 512, BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0,
          SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2',
        },
        pixels,
      ),
    );
  }
  bodies.push(multipartBody(instances, BOUNDARY));
}

const post = stowClient(BOUNDARY, CLIENTS);
const cpuMs = processCpuMs;

async function waitUntilListening(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await post(url, Buffer.from(`--${BOUNDARY}--\r\n`));
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${url} did not come up`);
}

/** Runs the upload against the servers (clients spread over them) and reports throughput and their CPU. */
async function measure(name: string, servers: Array<{ child: ChildProcess; url: string }>): Promise<void> {
  try {
    for (const { url } of servers) await waitUntilListening(url);
    const before = servers.map(({ child }) => cpuMs(child.pid!));
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const { url } = servers[client % servers.length];
        while (next < bodies.length) {
          const status = await post(url, bodies[next++]);
          if (status !== 200) throw new Error(`${name} answered ${status}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const used = servers.map(({ child }, i) => {
      const after = cpuMs(child.pid!);
      return { user: after.user - before[i].user, system: after.system - before[i].system };
    });
    const per = (ms: number) => (ms / INSTANCES).toFixed(2);
    const total = (key: 'user' | 'system') => used.reduce((n, u) => n + u[key], 0);
    console.log(`${name.padEnd(34)} ${(INSTANCES / seconds).toFixed(0).padStart(4)} instances/s; server CPU per instance ${per(total('user'))} ms user + ${per(total('system'))} ms kernel`);
  } finally {
    for (const { child } of servers) {
      child.kill('SIGTERM');
      await new Promise((done) => child.once('exit', done));
    }
  }
}

function startArchive(port: number): { child: ChildProcess; url: string; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'stow-floor-archive-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'lambdas/local/main.ts')], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), DIMSE_PORT: '0', HOST: '127.0.0.1', AI_ENABLED: 'false' },
    stdio: 'ignore',
  });
  return { child, url: `http://127.0.0.1:${port}/dicomweb/studies`, dataDir };
}

for (let round = 1; round <= ROUNDS; round++) {
  console.log(`round ${round} (${INSTANCES} instances, ${CLIENTS} clients)`);
  const floorDir = mkdtempSync(join(tmpdir(), 'stow-floor-'));
  const floor = spawn(process.execPath, [join(repoRoot, 'test/bench/stow-floor-server.mjs'), floorDir, '18183'], { stdio: 'inherit' });
  await measure('receive + durable write', [{ child: floor, url: 'http://127.0.0.1:18183/' }]);
  rmSync(floorDir, { recursive: true, force: true });

  const archive = startArchive(18184);
  await measure('this archive', [archive]);
  rmSync(archive.dataDir, { recursive: true, force: true });

  // Two independent archives, two clients each: what taking away the one-event-loop cap could give at
  // most (no coordination between the processes, which a real multi-process archive would need).
  const pair = [startArchive(18185), startArchive(18186)];
  await measure('two archive processes (upper bound)', pair);
  for (const { dataDir } of pair) rmSync(dataDir, { recursive: true, force: true });
}
