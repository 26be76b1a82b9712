// Every sample stored over STOW-RS and read back over WADO-RS: identical bytes, correct frames.
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { elementText, parseDicom, type ParsedDicom } from '../../lambdas/dicom/parser.js';
import { Tag } from '../../lambdas/dicom/tags.js';
import { transferSyntaxInfo } from '../../lambdas/dicom/transfer-syntax.js';
import { getMultipart, parseMultipart, startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { pydicomReadings } from '../helpers/reference.js';
import { SAMPLES_DIR, repoRoot, sampleBytes, samples, type Sample } from '../helpers/samples.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

const execFileAsync = promisify(execFile);
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

  describe('served as Explicit VR Little Endian, the default transfer syntax (PS3.18 8.7.8.2, Table 8.7.3-2)', () => {
    const DEFAULT_ACCEPT = 'multipart/related; type="application/dicom"';
    const EXPLICIT_LE = '1.2.840.10008.1.2.1';
    // Uncompressed copies of the same images, for the JPEG 2000 and deflated samples that neither dcmtk nor
    // pydicom decodes here.
    const UNCOMPRESSED_COPY: Record<string, string> = {
      'pydicom-data/MR2_J2KR.dcm': 'pydicom-data/MR2_UNCR.dcm',
      'pydicom-data/MR2_J2KI.dcm': 'pydicom-data/MR2_UNCI.dcm',
      'pydicom-data/693_J2KR.dcm': 'pydicom-data/693_UNCR.dcm',
      'pydicom-data/US1_J2KR.dcm': 'pydicom-data/US1_UNCR.dcm',
      'pydicom-data/US1_J2KI.dcm': 'pydicom-data/US1_UNCI.dcm',
      'pydicom-data/emri_small_jpeg_2k_lossless.dcm': 'pydicom-data/emri_small.dcm',
      'pydicom-data/liver_j2k.dcm': 'pydicom-data/liver.dcm',
      'pydicom-data/liver_rle.dcm': 'pydicom-data/liver.dcm',
      'pydicom-data/liver_deflate.dcm': 'pydicom-data/liver.dcm',
      'pydicom-data/liver_nonbyte_aligned_j2k.dcm': 'pydicom-data/liver_nonbyte_aligned.dcm',
      'pydicom-data/liver_nonbyte_aligned_rle.dcm': 'pydicom-data/liver_nonbyte_aligned.dcm',
      'pydicom-data/liver_nonbyte_aligned_deflate.dcm': 'pydicom-data/liver_nonbyte_aligned.dcm',
    };
    // What cannot be decompressed here, and why (each would answer 406 naming the reason): nothing since
    // the 12-bit JPEG samples decode through dcmjs-codecs' IJG libjpeg.
    const NOT_SERVABLE: Record<string, RegExp> = {};
    const served = new Map<string, { entry: Expected; path: string; body: Buffer }>();
    let tmp: string;
    beforeAll(() => {
      tmp = mkdtempSync(join(tmpdir(), 'transcoded-'));
    });
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    it('serves every stored sample in it, attributes and pixels agreeing with dcmtk and pydicom', async () => {
      const refused: Record<string, string> = {};
      for (const e of firsts.filter((x) => x.storable)) {
        const url = `${archive.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}`;
        const res = await fetch(url, { headers: { Accept: DEFAULT_ACCEPT } });
        if (res.status === 406) {
          refused[e.sample.file] = ((await res.json()) as { error: string }).error;
          continue;
        }
        expect(res.status, e.sample.file).toBe(200);
        const parts = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
        expect(parts[0].headers['content-type'], e.sample.file).toBe(`application/dicom; transfer-syntax=${EXPLICIT_LE}`);
        const path = join(tmp, `${served.size}.dcm`);
        writeFileSync(path, parts[0].body);
        served.set(e.sample.file, { entry: e, path, body: parts[0].body });
        if (parseDicom(sampleBytes(e.sample.file)).transferSyntaxUID === EXPLICIT_LE && e.sample.file.endsWith('.dcm')) {
          // Already in the default syntax: served as stored, byte for byte.
          expect(sha(parts[0].body), e.sample.file).toBe(sha(sampleBytes(e.sample.file)));
        }
      }
      // Files whose data set cannot be read completely are stored (their header is sound) but cannot be re-encoded.
      const unreadable = Object.keys(refused).filter((f) => /cannot be read completely/.test(refused[f]));
      expect(Object.keys(refused).filter((f) => !unreadable.includes(f)).sort()).toEqual(Object.keys(NOT_SERVABLE).sort());
      for (const [file, reason] of Object.entries(NOT_SERVABLE)) expect(refused[file], file).toMatch(reason);
      for (const file of unreadable) expect(() => parseDicom(sampleBytes(file))).toThrow(/truncated/);

      const args = [...served.values()].map(({ entry, path }) => {
        const copy = UNCOMPRESSED_COPY[entry.sample.file];
        return `${entry.sample.path}::${path}${copy ? `::${join(SAMPLES_DIR, copy)}` : ''}`;
      });
      // Asynchronously: the archive serves from this process, and a blocked event loop would stall its sockets.
      const { stdout } = await execFileAsync('/usr/bin/python3', [join(repoRoot, 'test/reference/compare_transcoded.py'), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const report = JSON.parse(stdout) as Record<string, { syntax: string; attributeDifferences: string[]; pixels: { reference: string; maxDifference: number | null } | null }>;
      let pixelsCompared = 0;
      for (const [file, { path }] of served) {
        const r = report[path];
        expect(r.syntax, file).toBe(EXPLICIT_LE);
        expect(r.attributeDifferences, file).toEqual([]);
        if (r.pixels?.maxDifference !== undefined && r.pixels.maxDifference !== null) {
          expect(r.pixels.maxDifference, `${file} against ${r.pixels.reference}`).toBe(0);
          pixelsCompared++;
        }
      }
      const compressed = [...served.keys()].filter((f) => transferSyntaxInfo(parseDicom(sampleBytes(f)).transferSyntaxUID).encapsulated);
      expect(compressed.length).toBeGreaterThan(30);
      expect(pixelsCompared).toBeGreaterThan(80);
    });

    it('decompresses frames asked for as application/octet-stream, the same samples as in the instance', async () => {
      let checked = 0;
      for (const [file, { entry: e, body }] of served) {
        const stored = parseDicom(sampleBytes(file));
        if (!transferSyntaxInfo(stored.transferSyntaxUID).encapsulated) continue;
        const instance = parseDicom(new Uint8Array(body));
        const pixelData = instance.dataset.elements.get(Tag.PixelData);
        if (!pixelData) continue;
        const frameCount = Number(elementText(instance.dataset, Tag.NumberOfFrames) ?? 1);
        const list = Array.from({ length: Math.min(frameCount, 4) }, (_, i) => i + 1);
        const { status, parts, headers } = await getMultipart(
          `${archive.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}/frames/${list.join(',')}`,
          'multipart/related; type="application/octet-stream"',
        );
        expect(status, file).toBe(200);
        expect(headers.get('content-type'), file).toContain(`transfer-syntax=${EXPLICIT_LE}`);
        const pixels = instance.dataset.bytes.subarray(pixelData.offset, pixelData.offset + pixelData.length);
        const bitsAllocated = bitsAllocatedOf(instance);
        const samplesPerFrame = parts.length ? expectedSamples(instance) : 0;
        parts.forEach((part, i) => {
          expect(part.headers['content-type'], file).toBe(`application/octet-stream; transfer-syntax=${EXPLICIT_LE}`);
          expect(sha(part.body), `${file} frame ${i + 1}`).toBe(sha(frameOf(pixels, i, samplesPerFrame, bitsAllocated)));
        });
        checked++;
      }
      expect(checked).toBeGreaterThan(30);
    });

    it('serves a compressed instance as stored when its own syntax or any syntax is asked for, with another ETag', async () => {
      const file = 'pydicom-data/MR2_J2KR.dcm';
      const { entry: e } = served.get(file)!;
      const url = `${archive.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}`;
      const asStored = await fetch(url, { headers: { Accept: 'application/dicom; transfer-syntax=1.2.840.10008.1.2.4.90' } });
      expect(asStored.status).toBe(200);
      expect(sha(Buffer.from(await asStored.arrayBuffer()))).toBe(sha(sampleBytes(file)));
      const decompressed = await fetch(url, { headers: { Accept: 'application/dicom' } });
      expect(decompressed.headers.get('content-type')).toBe(`application/dicom; transfer-syntax=${EXPLICIT_LE}`);
      expect(sha(Buffer.from(await decompressed.arrayBuffer()))).toBe(sha(served.get(file)!.body));
      expect(decompressed.headers.get('etag')).not.toBe(asStored.headers.get('etag'));
      const recompress = await fetch(url, { headers: { Accept: 'application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50' } });
      expect(recompress.status).toBe(406);
      // The first acceptable entry wins.
      const either = await fetch(url, { headers: { Accept: 'application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50, application/dicom; transfer-syntax=*' } });
      expect(either.headers.get('content-type')).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.4.90');
      await either.arrayBuffer();
    });

    it('does not decompress an instance beyond MAX_DECOMPRESSED_BYTES, and says so', async () => {
      const small = await startTestArchive({ maxDecompressedBytes: 100_000 });
      try {
        const file = 'pydicom-data/MR2_J2KR.dcm'; // 1024 × 1024 × 16 bits: 2,097,152 bytes decompressed, more than 100,000 stored
        const e = served.get(file)!.entry;
        expect((await stow(small.url, [sampleBytes(file)])).status).toBe(200);
        const url = `${small.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}`;
        const refused = await fetch(url, { headers: { Accept: DEFAULT_ACCEPT } });
        expect(refused.status).toBe(406);
        // Refused before the file is read: the stored file alone is already above the limit.
        expect(((await refused.json()) as { error: string }).error).toMatch(/stored file of \d+ bytes is larger than the 100000 this server decompresses at once \(MAX_DECOMPRESSED_BYTES\)/);
        const asStored = await getMultipart(url, `${DEFAULT_ACCEPT}; transfer-syntax=*`);
        expect(sha(asStored.parts[0].body)).toBe(sha(sampleBytes(file)));
      } finally {
        await small.dispose();
      }
      // A stored file under the limit that decompresses above it: refused once its frames are measured.
      const middle = await startTestArchive({ maxDecompressedBytes: 1_000_000 });
      try {
        const file = 'pydicom-data/MR2_J2KR.dcm';
        const e = served.get(file)!.entry;
        expect(sampleBytes(file).length).toBeLessThan(1_000_000);
        expect((await stow(middle.url, [sampleBytes(file)])).status).toBe(200);
        const refused = await fetch(`${middle.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}`, { headers: { Accept: DEFAULT_ACCEPT } });
        expect(refused.status).toBe(406);
        expect(((await refused.json()) as { error: string }).error).toMatch(/2097152 bytes, more than the 1000000 .*MAX_DECOMPRESSED_BYTES/);
      } finally {
        await middle.dispose();
      }
    });

    it('answers 406 with the reason for frames it cannot decompress, and serves them as stored on request', async () => {
      // A JPEG Lossless instance whose first fragment lost its markers (the file is otherwise sound).
      const file = 'pydicom-data/JPEG-LL.dcm';
      const damaged = new Uint8Array(sampleBytes(file));
      const { dataset } = parseDicom(damaged); // a view of `damaged`
      const firstFragment = dataset.elements.get(Tag.PixelData)!.fragments![1]; // after the Basic Offset Table
      dataset.bytes.fill(0, firstFragment.offset, firstFragment.offset + 64);
      expect(sha(damaged)).not.toBe(sha(sampleBytes(file)));
      const own = await startTestArchive();
      try {
        expect((await stow(own.url, [damaged])).status).toBe(200);
        const e = firsts.find((x) => x.sample.file === file)!;
        const instance = `${own.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}`;
        const res = await fetch(`${instance}/frames/1`, { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
        expect(res.status).toBe(406);
        expect(((await res.json()) as { error: string }).error).toMatch(/frame 1 of instance .* cannot be served as 1\.2\.840\.10008\.1\.2\.1: the JPEG codestream has no start-of-frame marker/);
        const asStored = await getMultipart(`${instance}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
        expect(asStored.status).toBe(200);
        expect(asStored.parts[0].headers['content-type']).toBe('image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70');
        // The instance: 406 for the default syntax; a client that accepts anything (*/*, curl's default) gets it as stored.
        expect((await fetch(instance, { headers: { Accept: 'application/dicom' } })).status).toBe(406);
        const anything = await getMultipart(instance, '*/*');
        expect(anything.status).toBe(200);
        expect(anything.parts[0].headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.4.70');
        expect(sha(anything.parts[0].body)).toBe(sha(damaged));
      } finally {
        await own.dispose();
      }
    });
  });

  describe('transcoded into other transfer syntaxes on request (PS3.18 8.7.3)', () => {
    const LOSSLESS = ['1.2.840.10008.1.2.5', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.202'];
    const HTJ2K_RPCL = '1.2.840.10008.1.2.4.202';
    const BASELINE = '1.2.840.10008.1.2.4.50';
    // Varied pixel descriptions and stored syntaxes, with an uncompressed copy where neither dcmtk nor pydicom
    // decodes the original: signed 14-bit CT, 12-bit MR, big endian 10 frames, planar RGB, 16-bit JPEG-LS in several fragments,
    // JPEG 2000 colour, 12-bit JPEG, RLE 2 frames, JPEG Baseline YBR_FULL_422 and a PALETTE COLOR JPEG-LS.
    const SOURCES: Record<string, string | undefined> = {
      'pydicom-data/693_UNCR.dcm': undefined,
      'pydicom-data/MR2_UNCR.dcm': undefined,
      'pydicom-data/emri_small_big_endian.dcm': undefined,
      'pydicom-data/color-pl.dcm': undefined,
      'dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm': undefined,
      'pydicom-data/US1_J2KR.dcm': 'pydicom-data/US1_UNCR.dcm',
      'cornerstone/CTImage.dcm_JPEGProcess2_4TransferSyntax_1.2.840.10008.1.2.4.51.dcm': undefined,
      'dicomParser/CT0012.not_fragmented_bot_rle.dcm': undefined,
      'cornerstone/TestPattern_JPEG-Baseline_YBR422.dcm': undefined,
      'dcm4che/jpeg-ls-Palette.dcm': undefined,
    };
    const instanceUrl = (e: Expected) => `${archive.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}`;
    /** The stored instance with this sample's SOP Instance UID (another file of the same image may have come first). */
    const entry = (file: string) => {
      const e = firstOfInstance.get(readings[join(SAMPLES_DIR, file)].uids?.SOPInstanceUID ?? '');
      if (!e || !outcomes.get(e.sample.file)?.stored) throw new Error(`no instance of ${file} is stored in this run`);
      return e;
    };

    it('serves every lossless syntax with the original pixels and JPEG Baseline close to them, as dcmtk and OpenJPEG decode them', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'compressed-'));
      try {
        const args: string[] = [];
        const syntaxOf = new Map<string, { file: string; syntax: string }>();
        const refusals: string[] = [];
        const colourOf = new Map<string, boolean>();
        for (const [wanted, uncompressed] of Object.entries(SOURCES)) {
          const e = entry(wanted);
          const file = e.sample.file;
          // Pixels are compared with the sample asked for when the stored file is another encoding of it.
          const copy = uncompressed ?? (file !== wanted ? wanted : undefined);
          const original = parseDicom(sampleBytes(file));
          const photometric = elementText(original.dataset, Tag.PhotometricInterpretation)!;
          colourOf.set(file, !['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR'].includes(photometric));
          // JPEG Baseline holds 8-bit samples, and would corrupt palette indices.
          const lossyRefused = bitsAllocatedOf(original) > 8 || photometric === 'PALETTE COLOR';
          for (const syntax of [...LOSSLESS, BASELINE]) {
            const { status, parts } = await getMultipart(instanceUrl(e), `multipart/related; type="application/dicom"; transfer-syntax=${syntax}`);
            if (syntax === BASELINE && lossyRefused) {
              expect(status, `${file} as ${syntax}`).toBe(406);
              refusals.push(file);
              continue;
            }
            expect(status, `${file} as ${syntax}`).toBe(200);
            expect(parts[0].headers['content-type']).toBe(`application/dicom; transfer-syntax=${syntax}`);
            if (syntax === original.transferSyntaxUID) {
              expect(sha(parts[0].body), `${file} as stored`).toBe(sha(sampleBytes(file)));
              continue;
            }
            const path = join(dir, `${args.length}.dcm`);
            writeFileSync(path, parts[0].body);
            syntaxOf.set(path, { file, syntax });
            args.push(`${join(SAMPLES_DIR, file)}::${path}${copy ? `::${join(SAMPLES_DIR, copy)}` : ''}`);
          }
        }
        expect(refusals.length).toBeGreaterThan(3);
        const { stdout } = await execFileAsync('/usr/bin/python3', [join(repoRoot, 'test/reference/compare_transcoded.py'), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        const report = JSON.parse(stdout) as Record<string, { syntax: string; photometric: string; attributeDifferences: string[]; pixels: { reference: string; maxDifference: number | null; meanDifference?: number } | null }>;
        let compared = 0;
        for (const [path, { file, syntax }] of syntaxOf) {
          const r = report[path];
          const what = `${file} as ${syntax}`;
          expect(r.syntax, what).toBe(syntax);
          expect(r.attributeDifferences, what).toEqual([]);
          expect(r.pixels?.maxDifference, `${what}: pixels against ${r.pixels?.reference}`).not.toBeNull();
          compared++;
          const served = parseDicom(readFileSync(path));
          if (syntax === HTJ2K_RPCL) {
            // RPCL progression in COD, tile-part lengths (TLM) and one tile-part per resolution level.
            const fragment = served.dataset.elements.get(Tag.PixelData)!.fragments![1];
            const codestream = Buffer.from(served.dataset.bytes.subarray(fragment.offset, fragment.offset + fragment.length));
            const cod = codestream.indexOf(Buffer.from([0xff, 0x52]));
            expect(codestream[cod + 5], `${what}: progression order`).toBe(2);
            expect(codestream.indexOf(Buffer.from([0xff, 0x55])), `${what}: TLM`).toBeGreaterThan(0);
            expect(codestream.indexOf(Buffer.from([0xff, 0x55])), `${what}: TLM in the main header`).toBeLessThan(codestream.indexOf(Buffer.from([0xff, 0x90])));
            expect(codestream.toString('hex').split('ff90').length - 1, `${what}: tile-parts`).toBeGreaterThan(1);
          }
          const colour = colourOf.get(file)!;
          if (syntax === BASELINE) {
            // Lossy: close to the original, and recorded as lossy with its ratio and method (PS3.3 C.7.6.1.1.5).
            expect(r.pixels!.meanDifference!, what).toBeLessThan(2.5);
            expect(elementText(served.dataset, 0x00282110), what).toBe('01');
            expect(elementText(served.dataset, 0x00282114), what).toMatch(/(^|\\)ISO_10918_1$/);
            expect(Number(elementText(served.dataset, 0x00282112)?.split('\\').pop()), what).toBeGreaterThan(1);
            expect(r.photometric, what).toBe(colour ? 'YBR_FULL' : 'MONOCHROME2');
          } else {
            expect(r.pixels!.maxDifference, what).toBe(0);
            // JPEG 2000 and HTJ2K code RGB through the reversible component transform (PS3.5 8.2.4, 8.2.14);
            // the others keep the decoded RGB.
            const j2k = ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.201', HTJ2K_RPCL].includes(syntax);
            if (colour) expect(r.photometric, what).toBe(j2k ? 'YBR_RCT' : 'RGB');
          }
        }
        expect(compared).toBeGreaterThan(45);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('keeps sample bits above Bits Stored through every lossless encoding (such frames are coded at Bits Allocated)', async () => {
      // 12 bits stored in 16, with bit 15 set in every seventh sample, as overlays in the pixel data do.
      const values = new Uint16Array(64 * 64);
      for (let i = 0; i < values.length; i++) values[i] = ((i * 37) & 0x0fff) | (i % 7 === 0 ? 0x8000 : 0);
      const study = uid();
      const series = uid();
      const sop = uid();
      const file = syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: sop, Rows: 64, Columns: 64, BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' }, values);
      expect((await stow(archive.url, [file])).status).toBe(200);
      const dir = mkdtempSync(join(tmpdir(), 'high-bits-'));
      try {
        const original = join(dir, 'original.dcm');
        writeFileSync(original, file);
        const args: string[] = [];
        for (const syntax of LOSSLESS) {
          const { status, parts } = await getMultipart(`${archive.url}/studies/${study}/series/${series}/instances/${sop}`, `multipart/related; type="application/dicom"; transfer-syntax=${syntax}`);
          expect(status, syntax).toBe(200);
          const path = join(dir, `${syntax}.dcm`);
          writeFileSync(path, parts[0].body);
          args.push(`${original}::${path}`);
        }
        const { stdout } = await execFileAsync('/usr/bin/python3', [join(repoRoot, 'test/reference/compare_transcoded.py'), ...args], { encoding: 'utf8' });
        const report = Object.values(JSON.parse(stdout) as Record<string, { syntax: string; pixels: { maxDifference: number | null } | null }>);
        expect(report.map((r) => [r.syntax, r.pixels?.maxDifference])).toEqual(LOSSLESS.map((syntax) => [syntax, 0]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('serves Implicit VR Little Endian and Deflated Explicit VR Little Endian on request, every attribute and pixel kept', async () => {
      const IMPLICIT = '1.2.840.10008.1.2';
      const DEFLATED = '1.2.840.10008.1.2.1.99';
      // Private attributes and overlays, an SR's nested sequences, big endian, JPEG 2000 colour, multi-frame JPEG-LS, GB18030.
      const files = ['pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm', 'dcmjs/sample-sr.dcm', 'pydicom-data/OBXXXX1A_expb.dcm', 'pydicom-data/US1_J2KR.dcm', 'pydicom-data/emri_small_jpeg_ls_lossless.dcm', 'orthanc-tests/SCSX2'];
      const dir = mkdtempSync(join(tmpdir(), 'uncompressed-'));
      try {
        const args: string[] = [];
        const syntaxOf = new Map<string, string>();
        for (const wanted of files) {
          const e = entry(wanted);
          for (const syntax of [IMPLICIT, DEFLATED]) {
            const { status, parts } = await getMultipart(instanceUrl(e), `multipart/related; type="application/dicom"; transfer-syntax=${syntax}`);
            expect(status, `${wanted} as ${syntax}`).toBe(200);
            expect(parts[0].headers['content-type']).toBe(`application/dicom; transfer-syntax=${syntax}`);
            const path = join(dir, `${args.length}.dcm`);
            writeFileSync(path, parts[0].body);
            syntaxOf.set(path, syntax);
            // Pixels against dcmtk's reading of the stored file, or for JPEG 2000 an uncompressed copy of the image.
            const copy = e.sample.file === 'pydicom-data/US1_J2KR.dcm' ? 'pydicom-data/US1_UNCR.dcm' : undefined;
            args.push(`${join(SAMPLES_DIR, e.sample.file)}::${path}${copy ? `::${join(SAMPLES_DIR, copy)}` : ''}`);
          }
        }
        const { stdout } = await execFileAsync('/usr/bin/python3', [join(repoRoot, 'test/reference/compare_transcoded.py'), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        const report = JSON.parse(stdout) as Record<string, { syntax: string; attributeDifferences: string[]; pixels: { reference: string; maxDifference: number | null } | null }>;
        for (const [path, syntax] of syntaxOf) {
          const r = report[path];
          expect(r.syntax, path).toBe(syntax);
          expect(r.attributeDifferences, `${path} (${syntax})`).toEqual([]);
          if (r.pixels) expect(r.pixels.maxDifference, `${path} (${syntax}) against ${r.pixels.reference}`).toBe(0);
        }
        // dcmtk reads both encodings completely.
        for (const path of syntaxOf.keys()) await execFileAsync('dcmdump', ['-E', path]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('serves frames in the media type asked for: image/jls, image/jp2 with a syntax, image/jpeg meaning JPEG Lossless', async () => {
      const e = entry('pydicom-data/emri_small_big_endian.dcm');
      const cases: Array<[string, string]> = [
        ['multipart/related; type="image/jls"', 'image/jls; transfer-syntax=1.2.840.10008.1.2.4.80'],
        ['multipart/related; type="image/jp2"; transfer-syntax=1.2.840.10008.1.2.4.91', 'image/jp2; transfer-syntax=1.2.840.10008.1.2.4.91'],
        ['multipart/related; type="image/jpeg"', 'image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70'],
        ['multipart/related; type="image/dicom-rle"', 'image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5'],
        ['multipart/related; type="image/jphc"', 'image/jphc; transfer-syntax=1.2.840.10008.1.2.4.201'],
      ];
      for (const [accept, partType] of cases) {
        const syntax = partType.split('transfer-syntax=')[1];
        const frames = await getMultipart(`${instanceUrl(e)}/frames/2,9`, accept);
        expect(frames.status, accept).toBe(200);
        expect(frames.parts.map((p) => p.headers['content-type']), accept).toEqual([partType, partType]);
        // The same codestreams as in the instance transcoded whole into that syntax.
        const whole = await getMultipart(instanceUrl(e), `multipart/related; type="application/dicom"; transfer-syntax=${syntax}`);
        const pixelData = parseDicom(new Uint8Array(whole.parts[0].body)).dataset;
        const fragments = pixelData.elements.get(Tag.PixelData)!.fragments!;
        [2, 9].forEach((n, i) => {
          const fragment = pixelData.bytes.subarray(fragments[n].offset, fragments[n].offset + fragments[n].length);
          expect(sha(frames.parts[i].body) === sha(fragment) || sha(frames.parts[i].body) === sha(withoutTrailingPad(Buffer.from(fragment))), `${accept} frame ${n}`).toBe(true);
        });
      }
      // A 12-bit MR cannot be JPEG Baseline: 406 naming the reason.
      const refused = await fetch(`${instanceUrl(e)}/frames/1`, { headers: { Accept: 'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.50' } });
      expect(refused.status).toBe(406);
      expect(((await refused.json()) as { error: string }).error).toMatch(/1\.2\.840\.10008\.1\.2\.4\.50: JPEG Baseline holds unsigned 8-bit samples only/);
    });

    it('refuses what cannot be compressed with 406 and the reason: 1-bit segmentations, unknown syntaxes', async () => {
      const seg = entry('pydicom-data/liver.dcm');
      const res = await fetch(instanceUrl(seg), { headers: { Accept: 'application/dicom; transfer-syntax=1.2.840.10008.1.2.4.80' } });
      expect(res.status).toBe(406);
      expect(((await res.json()) as { error: string }).error).toMatch(/frames with 1 bits allocated cannot be compressed/);
      const unknown = await fetch(instanceUrl(seg), { headers: { Accept: 'application/dicom; transfer-syntax=1.2.840.10008.1.2.4.92' } });
      expect(unknown.status).toBe(406);
      expect(((await unknown.json()) as { error: string }).error).toMatch(/instances are served as stored .* or in 1\.2\.840\.10008\.1\.2\.5/);
    });
  });

  it('serves metadata as Native DICOM Model XML that agrees with dcmtk’s dcm2xml', async () => {
    const XML = 'multipart/related; type="application/dicom+xml"';
    const dir = mkdtempSync(join(tmpdir(), 'xml-metadata-'));
    try {
      const args: string[] = [];
      for (const e of firsts.filter((x) => x.storable)) {
        const url = `${archive.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}/metadata`;
        const { status, parts, headers } = await getMultipart(url, XML);
        expect(status, e.sample.file).toBe(200);
        expect(headers.get('content-type'), e.sample.file).toMatch(/^multipart\/related; type="application\/dicom\+xml"/);
        expect(parts.length).toBe(1);
        expect(parts[0].headers['content-type']).toBe('application/dicom+xml');
        const path = join(dir, `${args.length}.xml`);
        writeFileSync(path, parts[0].body);
        args.push(`${e.sample.path}::${path}`);
      }
      const { stdout } = await execFileAsync('/usr/bin/python3', [join(repoRoot, 'test/reference/compare_xml.py'), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const report = JSON.parse(stdout) as Record<string, string[] | null>;
      const compared = Object.values(report).filter((r) => r !== null);
      const differing = Object.entries(report).filter(([, r]) => r && r.length > 0);
      expect(differing).toEqual([]);
      expect(compared.length).toBeGreaterThan(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // One part per instance for a series; JSON stays the default; XML needs the multipart form.
    const e = firsts.find((x) => x.sample.file === 'pydicom-data/emri_small.dcm')!;
    const series = `${archive.url}/studies/${e.study}/series/${e.series}/metadata`;
    const json = await fetch(series);
    const instances = ((await json.json()) as unknown[]).length;
    const xml = await getMultipart(series, XML);
    expect(xml.parts.length).toBe(instances);
    expect(xml.headers.get('etag')).not.toBe(json.headers.get('etag'));
    expect((await fetch(series, { headers: { Accept: 'application/dicom+xml' } })).status).toBe(406);
  });

  it('streams the metadata of a study too large to answer as one string, the same as a small one', async () => {
    const study = uid();
    const series = uid();
    // Six instances of a megabyte of comments each: over the 4 MiB answered as one string.
    const comment = 'a long comment '.repeat(70_000);
    const files = Array.from({ length: 6 }, (_, i) => syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: series, InstanceNumber: String(i + 1), ImageComments: comment }));
    expect((await stow(archive.url, files)).status).toBe(200);
    const url = `${archive.url}/studies/${study}/metadata`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull(); // streamed
    const instances = (await res.json()) as Array<Record<string, { Value?: unknown[] }>>;
    expect(instances.map((m) => m['00200013'].Value)).toEqual([[1], [2], [3], [4], [5], [6]]);
    expect(instances.every((m) => m['00204000'].Value?.[0] === comment.trimEnd())).toBe(true);
    const etag = res.headers.get('etag')!;
    expect((await fetch(url, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    const xml = await getMultipart(url, 'multipart/related; type="application/dicom+xml"');
    expect(xml.parts).toHaveLength(6);
    // A series of it is small: one string, with a Content-Length, and the same JSON.
    const one = await fetch(`${archive.url}/studies/${study}/series/${series}/instances/${String(instances[0]['00080018'].Value?.[0])}/metadata`);
    expect(one.headers.get('content-length')).not.toBeNull();
    expect(await one.json()).toEqual([instances[0]]);
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

function bitsAllocatedOf(instance: ParsedDicom): number {
  const el = instance.dataset.elements.get(Tag.BitsAllocated)!;
  return new DataView(instance.dataset.bytes.buffer, instance.dataset.bytes.byteOffset + el.offset, 2).getUint16(0, true);
}

function expectedSamples(instance: ParsedDicom): number {
  const number = (tag: number): number => {
    const el = instance.dataset.elements.get(tag)!;
    return new DataView(instance.dataset.bytes.buffer, instance.dataset.bytes.byteOffset + el.offset, 2).getUint16(0, true);
  };
  return number(Tag.Rows) * number(Tag.Columns) * number(Tag.SamplesPerPixel);
}

/** Frame `index` of native pixel data; 1-bit frames are cut bit by bit and packed from a byte boundary. */
function frameOf(pixels: Uint8Array, index: number, samples: number, bitsAllocated: number): Uint8Array {
  if (bitsAllocated !== 1) return pixels.subarray((index * samples * bitsAllocated) / 8, ((index + 1) * samples * bitsAllocated) / 8);
  const out = new Uint8Array(Math.ceil(samples / 8));
  for (let i = 0; i < samples; i++) {
    const at = index * samples + i;
    if ((pixels[at >> 3] >> (at & 7)) & 1) out[i >> 3] |= 1 << (i & 7);
  }
  return out;
}

function withoutTrailingPad(b: Buffer): Buffer {
  return b.length > 0 && b[b.length - 1] === 0 ? b.subarray(0, b.length - 1) : b;
}
