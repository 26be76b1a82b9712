// Crash safety and concurrency: a store killed half-way leaves no half-written state, and the same
// instance sent by many clients at once is stored exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getMultipart, startTestArchive, stow } from '../helpers/archive.js';
import { repoRoot } from '../helpers/samples.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const ALL = 'multipart/related; type="application/dicom"; transfer-syntax=*';

function countFiles(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

async function startServerProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'lambdas/local/main.ts')], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', DIMSE_PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, url };
}

function makeInstances(n: number, study: string) {
  const pixels = new Uint16Array(256 * 256).map((_, i) => i % 4096);
  const series = uid();
  return Array.from({ length: n }, (_, i) => {
    const sop = uid();
    const bytes = syntheticInstance(
      { StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: sop, InstanceNumber: i + 1, Rows: 256, Columns: 256, BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' },
      pixels,
    );
    return { sop, series, bytes };
  });
}

describe('durability', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('survives a kill during a store: every listed instance is whole, nothing is orphaned, acknowledged ones are kept', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pacs-kill-'));
    dirs.push(dataDir);
    const study = uid();
    const instances = makeInstances(240, study);
    const bySop = new Map(instances.map((i) => [i.sop, i]));
    let server = await startServerProcess(dataDir);
    const acknowledged = new Set<string>();
    // Six clients, each sending its share in requests of ten; the server is killed mid-flight, once a
    // quarter has been acknowledged (a fixed delay let a fast machine finish the upload before the kill).
    const clients = Array.from({ length: 6 }, async (_, c) => {
      const mine = instances.filter((_, i) => i % 6 === c);
      for (let i = 0; i < mine.length; i += 10) {
        const batch = mine.slice(i, i + 10);
        try {
          const res = await stow(server.url, batch.map((b) => b.bytes));
          if (res.status === 200) batch.forEach((b) => acknowledged.add(b.sop));
          if (acknowledged.size >= instances.length / 4 && server.child.exitCode === null) server.child.kill('SIGKILL');
        } catch {
          return; // the connection died with the server
        }
      }
    });
    await Promise.all(clients);
    expect(acknowledged.size).toBeLessThan(instances.length); // the kill really interrupted the upload

    server = await startServerProcess(dataDir);
    try {
      const listed = (await (await fetch(`${server.url}/studies/${study}/instances?limit=1000`)).json()) as Array<Record<string, { Value: string[] }>>;
      const listedSops = listed.map((m) => m['00080018'].Value[0]);
      for (const sop of acknowledged) expect(listedSops).toContain(sop);
      for (const sop of listedSops) {
        const inst = bySop.get(sop)!;
        const { parts } = await getMultipart(`${server.url}/studies/${study}/series/${inst.series}/instances/${sop}`, ALL);
        expect(sha(parts[0].body)).toBe(sha(inst.bytes));
      }
      // The restart swept the files of interrupted stores: one file per indexed instance, no temporaries.
      expect(countFiles(join(dataDir, 'blobs', 'originals'))).toBe(listedSops.length);
      // Sending everything again completes the study.
      for (let i = 0; i < instances.length; i += 40) {
        const res = await stow(server.url, instances.slice(i, i + 40).map((x) => x.bytes));
        expect(res.status).toBe(200);
      }
      const after = (await (await fetch(`${server.url}/studies/${study}/instances?limit=1000`)).json()) as unknown[];
      expect(after).toHaveLength(instances.length);
      expect(countFiles(join(dataDir, 'blobs', 'originals'))).toBe(instances.length);
    } finally {
      server.child.kill('SIGTERM');
    }
  });

  it('stores an instance sent by many clients at once exactly once', async () => {
    const archive = await startTestArchive();
    try {
      const study = uid();
      const [instance] = makeInstances(1, study);
      const results = await Promise.all(Array.from({ length: 24 }, () => stow(archive.url, [instance.bytes])));
      expect(results.map((r) => r.status)).toEqual(Array(24).fill(200));
      const listed = (await (await fetch(`${archive.url}/studies/${study}/instances`)).json()) as unknown[];
      expect(listed).toHaveLength(1);
      expect(countFiles(join(archive.dataDir, 'blobs', 'originals'))).toBe(1);
    } finally {
      await archive.dispose();
    }
  });

  it('lets exactly one of many different contents for one SOP Instance UID win', async () => {
    const archive = await startTestArchive();
    try {
      const study = uid();
      const series = uid();
      const sop = uid();
      const variants = Array.from({ length: 12 }, (_, i) => syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: sop, InstanceNumber: i + 1 }));
      const results = await Promise.all(variants.map((v) => stow(archive.url, [v])));
      const winners = results.map((r, i) => (r.status === 200 ? i : -1)).filter((i) => i >= 0);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(11);
      const { parts } = await getMultipart(`${archive.url}/studies/${study}/series/${series}/instances/${sop}`, ALL);
      expect(sha(parts[0].body)).toBe(sha(variants[winners[0]]));
      expect(countFiles(join(archive.dataDir, 'blobs', 'originals'))).toBe(1);
    } finally {
      await archive.dispose();
    }
  });
});
