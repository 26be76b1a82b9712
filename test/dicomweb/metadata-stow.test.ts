// STOW-RS with metadata and bulk data (application/dicom+json and application/dicom+xml): what a client
// does to copy instances between archives without Part 10 files — read metadata and bulk data from one
// archive over WADO-RS, send them to another — must give back the same attributes and the same frames;
// and the Native DICOM Model that dcmtk's dcm2xml writes must store the instance it describes.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOUNDARY, getMultipart, startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { SAMPLES_DIR, sampleBytes } from '../helpers/samples.js';
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
    // Trailing empty name components are insignificant (PS3.5 6.2) and the XML model cannot carry them:
    // "^^^^" is an empty name.
    if (a.vr === 'PN') {
      const names = (a.Value ?? []).map((v) => {
        if (!v || typeof v !== 'object') return null;
        const groups = Object.entries(v).map(([g, t]) => [g, String(t).replace(/\^+$/, '')]).filter(([, t]) => t !== '');
        return groups.length ? Object.fromEntries(groups) : null;
      });
      out[tag] = names.every((n) => n === null) ? { vr: 'PN' } : { vr: 'PN', Value: names };
      continue;
    }
    out[tag] = a.BulkDataURI ? { vr: a.vr, BulkDataURI: 'bulk' } : a.vr === 'SQ' ? { vr: 'SQ', Value: (a.Value ?? []).map((i) => comparable(i as Json)) } : a;
  }
  return out;
}

/** Binary values of multi-byte words reduced to their presence. */
function withoutWordValues(dataset: Json): Json {
  const out: Json = {};
  for (const [tag, a] of Object.entries(dataset)) {
    if (['OW', 'OF', 'OD', 'OL', 'OV'].includes(a.vr) && a.InlineBinary !== undefined) out[tag] = { vr: a.vr, InlineBinary: 'words' };
    else out[tag] = a.vr === 'SQ' ? { vr: 'SQ', Value: (a.Value ?? []).map((i) => withoutWordValues(i as Json)) } : a;
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

  const copies: Array<[string, 'application/dicom+json' | 'application/dicom+xml']> = [
    ['as DICOM JSON', 'application/dicom+json'],
    ['as Native DICOM Model XML', 'application/dicom+xml'],
  ];
  it.each(copies)('copies instances between archives %s with the same attributes and frames', async (_, metadataType) => {
    for (const file of SAMPLES) {
      // Storing the same file again is an idempotent success that names where the instance is.
      const sop = (await stow(source.url, [sampleBytes(file)])).body['00081199']?.Value?.[0] as Json;
      const url = sop['00081190'].Value![0] as string;
      const [metadata] = (await (await fetch(`${url}/metadata`)).json()) as Json[];
      let metadataPart: Uint8Array = Buffer.from(JSON.stringify([metadata]));
      if (metadataType === 'application/dicom+xml') {
        const xml = await getMultipart(`${url}/metadata`, 'multipart/related; type="application/dicom+xml"');
        expect(xml.status, file).toBe(200);
        metadataPart = xml.parts[0].body;
      }
      const parts: Array<{ contentType: string; contentLocation?: string; bytes: Uint8Array }> = [{ contentType: metadataType, bytes: metadataPart }];
      for (const uri of bulkDataUris(metadata)) {
        const bulk = await getMultipart(uri, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
        expect(bulk.status, `${file} ${uri}`).toBe(200);
        for (const p of bulk.parts) parts.push({ contentType: p.headers['content-type'], contentLocation: uri, bytes: p.body });
      }
      // The copy is a new instance in the target when the same file went there the other way already.
      await fetch(`${target.url}/studies/${metadata['0020000D'].Value![0]}`, { method: 'DELETE' });
      const res = await post(target.url, body(parts), metadataType);
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
    // No metadata part at all; metadata that is not JSON; XML that is not well formed or not the Native
    // DICOM Model; a private attribute whose creator the data set does not declare; a type that is neither.
    expect((await post(target.url, body([{ contentType: 'application/octet-stream', contentLocation: 'x', bytes: new Uint8Array(4) }]))).status).toBe(409);
    const notJson = await post(target.url, body([{ contentType: 'application/dicom+json', bytes: Buffer.from('[{"00080018": ') }]));
    expect(notJson.status).toBe(409);
    expect(JSON.stringify(notJson.body)).toMatch(/not JSON/);
    const xmlCases: Array<[string, RegExp]> = [
      ['<NativeDicomModel><DicomAttribute tag="00080018"', /not a Native DICOM Model document: not well-formed XML/],
      ['<x/>', /the document element is <x>, not <NativeDicomModel>/],
      ['<NativeDicomModel><DicomAttribute tag="00190010" vr="lo"/></NativeDicomModel>', /has no valid vr/],
      [
        `<NativeDicomModel><DicomAttribute tag="00080018" vr="UI"><Value number="1">${uid()}</Value></DicomAttribute><DicomAttribute tag="00190001" vr="LO" privateCreator="NOBODY"><Value number="1">x</Value></DicomAttribute></NativeDicomModel>`,
        /names creator .+NOBODY.+, which the data set does not declare/,
      ],
    ];
    for (const [xml, reason] of xmlCases) {
      const res = await post(target.url, body([{ contentType: 'application/dicom+xml', bytes: Buffer.from(xml) }]), 'application/dicom+xml');
      expect(res.status, xml).toBe(409);
      expect(JSON.stringify(res.body), xml).toMatch(reason);
    }
    expect((await post(target.url, body([{ contentType: 'text/plain', bytes: Buffer.from('x') }]), 'text/plain')).status).toBe(415);
  });

  it('stores what dcmtk’s dcm2xml writes as the Native DICOM Model (binary values inline, private attributes by creator)', async () => {
    const own = await startTestArchive();
    try {
      // 8-bit pixels (OB) in GB18030 and UTF-8, 16-bit pixels (OW) with overlays and Siemens private groups, an SR.
      for (const file of ['orthanc-tests/SCSX2', 'pydicom-data/SC_rgb.dcm', 'highdicom/ct_image.dcm', 'pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm', 'dcmjs/sample-sr.dcm']) {
        const xml = execFileSync('dcm2xml', ['-nat', '+Eb', '+U8', join(SAMPLES_DIR, file)], { maxBuffer: 256 * 1024 * 1024 });
        const res = await post(own.url, body([{ contentType: 'application/dicom+xml', bytes: xml }]), 'application/dicom+xml');
        expect(res.status, `${file}: ${JSON.stringify(res.body['00081198'] ?? res.body.error)}`).toBe(200);
        const stored = (res.body['00081199'].Value![0] as Json)['00081190'].Value![0] as string;
        const original = (await stow(source.url, [sampleBytes(file)])).body['00081199']?.Value?.[0] as Json;
        const originalUrl = original['00081190'].Value![0] as string;
        const [[fromXml], [fromFile]] = await Promise.all([stored, originalUrl].map(async (u) => (await (await fetch(`${u}/metadata`)).json()) as Json[]));
        // dcmtk 3.6.7 writes an absent phonetic name group as a copy of the ideographic one.
        for (const [tag, a] of Object.entries(fromXml)) {
          if (a.vr !== 'PN') continue;
          a.Value = a.Value?.map((v, i) => {
            const name = v as { Ideographic?: string; Phonetic?: string } | null;
            const own = fromFile[tag]?.Value?.[i] as { Phonetic?: string } | null | undefined;
            if (!name || name.Phonetic !== name.Ideographic || own?.Phonetic) return v;
            const { Phonetic: _copy, ...groups } = name;
            return groups;
          });
        }
        // dcmtk 3.6.7 writes OW values as Base64 of big endian words (PS3.19 and PS3.18 F.2.7 want little
        // endian): only their presence is compared, and only OB pixel data.
        expect(withoutWordValues(comparable(fromXml)), file).toEqual(withoutWordValues(comparable(fromFile)));
        if (fromFile['7FE00010']?.vr === 'OB') {
          const accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
          const [a, b] = await Promise.all([getMultipart(`${originalUrl}/frames/1`, accept), getMultipart(`${stored}/frames/1`, accept)]);
          expect(sha(b.parts[0].body), `${file} frame 1`).toBe(sha(a.parts[0].body));
        }
      }
    } finally {
      await own.dispose();
    }
  });
});
