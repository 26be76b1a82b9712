// STOW-RS with metadata and bulk data (application/dicom+json): what a client does to copy instances
// between archives without Part 10 files — read metadata and bulk data from one archive over WADO-RS,
// send them to another — must give back the same attributes and the same frames.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOUNDARY, getMultipart, startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { sampleBytes } from '../helpers/samples.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

// Native and compressed (single- and multi-frame), sequences, private tags, character sets, overlays.
const SAMPLES = [
  'highdicom/ct_image.dcm',
  'highdicom/sm_image_jpegls.dcm',
  'pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm',
  'pydicom-data/MR2_J2KR.dcm',
  'pydicom-data/emri_small_RLE.dcm',
  'pydicom-data/OBXXXX1A_expb.dcm',
  'pydicom/examples_ybr_color.dcm',
  'orthanc-tests/SCSX2',
  'orthanc-tests/Lena-shift-jis.dcm',
  'dcmjs/sample-sr.dcm',
  'dcm4che/jpeg-ls-Palette.dcm',
];

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function body(parts: Array<{ contentType: string; contentLocation?: string; bytes: Uint8Array }>): Uint8Array<ArrayBuffer> {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Type: ${p.contentType}\r\n${p.contentLocation ? `Content-Location: ${p.contentLocation}\r\n` : ''}\r\n`));
    chunks.push(Buffer.from(p.bytes), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return new Uint8Array(Buffer.concat(chunks));
}

async function post(url: string, payload: Uint8Array<ArrayBuffer>, type = 'application/dicom+json') {
  const res = await fetch(`${url}/studies`, { method: 'POST', headers: { 'Content-Type': `multipart/related; type="${type}"; boundary=${BOUNDARY}` }, body: payload });
  return { status: res.status, body: (await res.json()) as Json & { error?: string } };
}

/** Every BulkDataURI in a data set, items included. */
function bulkDataUris(dataset: Json): string[] {
  return Object.values(dataset).flatMap((a) =>
    a.BulkDataURI ? [a.BulkDataURI] : a.vr === 'SQ' ? (a.Value ?? []).flatMap((item) => bulkDataUris(item as Json)) : [],
  );
}

/** A data set without what legitimately differs between the two archives: URIs and the character set (JSON is Unicode). */
function comparable(dataset: Json): Json {
  const out: Json = {};
  for (const [tag, a] of Object.entries(dataset)) {
    if (tag === '00080005') continue;
    // A single empty value ([null]) and no value are the same thing once written back.
    if (a.Value?.every((v) => v === null)) {
      out[tag] = { vr: a.vr };
      continue;
    }
    out[tag] = a.BulkDataURI ? { vr: a.vr, BulkDataURI: 'bulk' } : a.vr === 'SQ' ? { vr: 'SQ', Value: (a.Value ?? []).map((i) => comparable(i as Json)) } : a;
  }
  return out;
}

describe('STOW-RS of metadata and bulk data (application/dicom+json)', () => {
  let source: TestArchive;
  let target: TestArchive;
  const dir = mkdtempSync(join(tmpdir(), 'json-stow-'));
  beforeAll(async () => {
    [source, target] = await Promise.all([startTestArchive(), startTestArchive()]);
    const res = await stow(source.url, SAMPLES.map((f) => sampleBytes(f)));
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await source?.dispose();
    await target?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies instances between archives with the same attributes and frames', async () => {
    for (const file of SAMPLES) {
      // Storing the same file again is an idempotent success that names where the instance is.
      const sop = (await stow(source.url, [sampleBytes(file)])).body['00081199']?.Value?.[0] as Json;
      const url = sop['00081190'].Value![0] as string;
      const [metadata] = (await (await fetch(`${url}/metadata`)).json()) as Json[];
      const parts: Array<{ contentType: string; contentLocation?: string; bytes: Uint8Array }> = [
        { contentType: 'application/dicom+json', bytes: Buffer.from(JSON.stringify([metadata])) },
      ];
      for (const uri of bulkDataUris(metadata)) {
        const bulk = await getMultipart(uri, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
        expect(bulk.status, `${file} ${uri}`).toBe(200);
        for (const p of bulk.parts) parts.push({ contentType: p.headers['content-type'], contentLocation: uri, bytes: p.body });
      }
      const res = await post(target.url, body(parts));
      expect(res.status, `${file}: ${JSON.stringify(res.body['00081198'] ?? res.body.error)}`).toBe(200);
      const copy = (res.body['00081199'].Value![0] as Json)['00081190'].Value![0] as string;
      const [copied] = (await (await fetch(`${copy}/metadata`)).json()) as Json[];
      expect(comparable(copied), file).toEqual(comparable(metadata));
      // dcmtk reads the file the archive wrote, every element of it.
      const written = await getMultipart(copy, 'multipart/related; type="application/dicom"; transfer-syntax=*');
      const path = join(dir, `${file.replaceAll('/', '_')}.dcm`);
      writeFileSync(path, written.parts[0].body);
      const dump = spawnSync('dcmdump', ['-E', path], { encoding: 'utf8' });
      expect(dump.status, `${file}: ${dump.stderr}`).toBe(0);
      expect(dump.stderr, file).toBe('');
      const frames = Number(metadata['00280008']?.Value?.[0] ?? (metadata['7FE00010'] ? 1 : 0));
      if (frames > 0) {
        const list = Array.from({ length: Math.min(frames, 5) }, (_, i) => i + 1).join(',');
        const accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
        const [a, b] = await Promise.all([getMultipart(`${url}/frames/${list}`, accept), getMultipart(`${copy}/frames/${list}`, accept)]);
        expect(b.parts.map((p) => sha(p.body)), `${file} frames`).toEqual(a.parts.map((p) => sha(p.body)));
        expect(b.parts.map((p) => p.headers['content-type'])).toEqual(a.parts.map((p) => p.headers['content-type']));
      }
    }
  });

  it('refuses what it cannot build, naming the instance and the reason, and stores the rest (202)', async () => {
    const good = syntheticInstance({ StudyInstanceUID: uid(), SeriesInstanceUID: uid(), PatientID: 'JSON-1' });
    // The good instance's JSON, read back from the source archive after a Part 10 store.
    const stored = await stow(source.url, [good]);
    const url = ((stored.body['00081199'].Value![0] as Json)['00081190'].Value![0]) as string;
    const [metadata] = (await (await fetch(`${url}/metadata`)).json()) as Json[];
    const missingBulk: Json = { ...metadata, '00080018': { vr: 'UI', Value: [uid()] }, '7FE00010': { vr: 'OW', BulkDataURI: 'https://example.org/nothing' } };
    const res = await post(target.url, body([{ contentType: 'application/dicom+json', bytes: Buffer.from(JSON.stringify([metadata, missingBulk])) }]));
    expect(res.status).toBe(202);
    const failed = res.body['00081198'].Value as Json[];
    expect(failed).toHaveLength(1);
    expect(failed[0]['00081155'].Value).toEqual(missingBulk['00080018'].Value);
    expect(failed[0]['00000902'].Value![0]).toMatch(/BulkDataURI "https:\/\/example.org\/nothing" of \(7FE0,0010\) names no part/);
    // No metadata part at all; metadata that is not JSON; XML metadata (not supported).
    expect((await post(target.url, body([{ contentType: 'application/octet-stream', contentLocation: 'x', bytes: new Uint8Array(4) }]))).status).toBe(409);
    const notJson = await post(target.url, body([{ contentType: 'application/dicom+json', bytes: Buffer.from('[{"00080018": ') }]));
    expect(notJson.status).toBe(409);
    expect(JSON.stringify(notJson.body)).toMatch(/not JSON/);
    expect((await post(target.url, body([{ contentType: 'application/dicom+xml', bytes: Buffer.from('<x/>') }]), 'application/dicom+xml')).status).toBe(415);
  });
});
