// Every sample stored over STOW-RS and read back over WADO-RS: identical bytes, correct frames.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMultipart, startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { pydicomReadings } from '../helpers/reference.js';
import { repoRoot, sampleBytes, samples, type Sample } from '../helpers/samples.js';

const UID = /^[0-9]+(\.[0-9]+)*$/;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const ALL_SYNTAXES = 'multipart/related; type="application/dicom"; transfer-syntax=*';

interface Expected {
  sample: Sample;
  sop: string;
  study: string;
  series: string;
  storable: boolean;
}

describe('STOW-RS then WADO-RS on every sample', () => {
  let archive: TestArchive;
  const readings = pydicomReadings();
  // One file per SOP Instance UID is stored; the others test the duplicate policy.
  const firstOfInstance = new Map<string, Expected>();
  const laterCopies: Expected[] = [];
  for (const sample of samples) {
    const uids = readings[sample.path].uids;
    const e: Expected = {
      sample,
      sop: uids?.SOPInstanceUID ?? '',
      study: uids?.StudyInstanceUID ?? '',
      series: uids?.SeriesInstanceUID ?? '',
      // Independent judgement: pydicom finds the identifying UIDs and they are valid UIDs.
      storable: [uids?.SOPInstanceUID, uids?.StudyInstanceUID, uids?.SeriesInstanceUID, uids?.SOPClassUID].every((u) => !!u && UID.test(u)),
    };
    if (!e.storable || !firstOfInstance.has(e.sop)) firstOfInstance.set(e.storable ? e.sop : `refused:${sample.file}`, e);
    else laterCopies.push(e);
  }
  const firsts = [...firstOfInstance.values()];
  const outcomes = new Map<string, { stored: boolean; failureReason?: number }>();

  beforeAll(async () => {
    archive = await startTestArchive();
    // Several instances per request, as modalities and routers send them.
    for (let i = 0; i < firsts.length; i += 16) {
      const batch = firsts.slice(i, i + 16);
      const res = await stow(archive.url, batch.map((e) => sampleBytes(e.sample.file)));
      expect([200, 202, 409]).toContain(res.status);
      const referenced = (res.body['00081199']?.Value ?? []) as Array<Record<string, { Value?: unknown[] }>>;
      const failed = (res.body['00081198']?.Value ?? []) as Array<Record<string, { Value?: unknown[] }>>;
      for (const e of batch) {
        if (referenced.some((r) => r['00081155']?.Value?.[0] === e.sop)) outcomes.set(e.sample.file, { stored: true });
      }
      expect(referenced.length + failed.length).toBe(batch.length);
      const refusedInBatch = batch.filter((e) => !outcomes.has(e.sample.file));
      expect(failed.length).toBe(refusedInBatch.length);
      for (const e of refusedInBatch) outcomes.set(e.sample.file, { stored: false });
    }
  });
  afterAll(() => archive?.dispose());

  it('stores exactly the files whose identifying UIDs are valid, and says why it refuses the others', () => {
    const wronglyRefused = firsts.filter((e) => e.storable && !outcomes.get(e.sample.file)?.stored).map((e) => e.sample.file);
    const wronglyStored = firsts.filter((e) => !e.storable && outcomes.get(e.sample.file)?.stored).map((e) => e.sample.file);
    expect(wronglyRefused).toEqual([]);
    expect(wronglyStored).toEqual([]);
  });

  it('returns every stored file byte for byte', async () => {
    for (const e of firsts.filter((x) => x.storable)) {
      const { status, parts } = await getMultipart(`${archive.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}`, ALL_SYNTAXES);
      expect(status, e.sample.file).toBe(200);
      expect(parts.length).toBe(1);
      expect(sha(parts[0].body), e.sample.file).toBe(sha(sampleBytes(e.sample.file)));
    }
  });

  it('serves frames identical to pydicom’s split of the pixel data', async () => {
    const stored = firsts.filter((x) => x.storable);
    const frameHashes = JSON.parse(
      execFileSync('/usr/bin/python3', [join(repoRoot, 'test/reference/pydicom_frames.py'), ...stored.map((e) => e.sample.path)], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      }),
    ) as Record<string, string[]>;
    let compared = 0;
    for (const e of stored) {
      const expected = frameHashes[e.sample.path];
      if (!expected) continue;
      const list = expected.map((_, i) => i + 1).join(',');
      const { status, parts } = await getMultipart(
        `${archive.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}/frames/${list}`,
        'multipart/related; type="application/octet-stream"; transfer-syntax=*',
      );
      expect(status, e.sample.file).toBe(200);
      // pydicom may trim the 0x00 byte that pads a fragment to even length; either form is the same frame.
      const same = parts.every((p, i) => sha(p.body) === expected[i] || sha(withoutTrailingPad(p.body)) === expected[i]);
      expect(same, `${e.sample.file}: frames differ from pydicom's`).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThan(80);
  });

  it('refuses a different file under an already stored SOP Instance UID and keeps the original', async () => {
    const conflicts = laterCopies.filter((e) => e.storable && outcomes.get(firstOfInstance.get(e.sop)!.sample.file)?.stored);
    expect(conflicts.length).toBeGreaterThan(10);
    for (const e of conflicts.slice(0, 12)) {
      const original = firstOfInstance.get(e.sop)!;
      const res = await stow(archive.url, [sampleBytes(e.sample.file)]);
      if (sha(sampleBytes(e.sample.file)) === sha(sampleBytes(original.sample.file))) continue;
      expect(res.status, e.sample.file).toBe(409);
      const failed = res.body['00081198']?.Value as Array<Record<string, { Value?: unknown[] }>>;
      expect(failed[0]['00081197'].Value?.[0]).toBe(0x0111);
      const { parts } = await getMultipart(`${archive.url}/studies/${original.study}/series/${original.series}/instances/${e.sop}`, ALL_SYNTAXES);
      expect(sha(parts[0].body)).toBe(sha(sampleBytes(original.sample.file)));
    }
  });

  it('stores the same bytes again as an idempotent success', async () => {
    const e = firsts.find((x) => x.storable)!;
    const again = await stow(archive.url, [sampleBytes(e.sample.file)]);
    expect(again.status).toBe(200);
    const res = await fetch(`${archive.url}/studies/${e.study}/series/${e.series}/instances?SOPInstanceUID=${e.sop}`);
    expect(((await res.json()) as unknown[]).length).toBe(1);
  });
});

function withoutTrailingPad(b: Buffer): Buffer {
  return b.length > 0 && b[b.length - 1] === 0 ? b.subarray(0, b.length - 1) : b;
}
