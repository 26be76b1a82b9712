// A whole-slide image as test/bench/make-wsi.ts writes it (here 300 tiles rather than 40,000): stored with
// single-part and multipart STOW (above the tests' in-memory size, so staged in a file as it arrives), its
// tiles served by number exactly as written, its metadata and a thumbnail.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDicom } from '../../lambdas/dicom/parser.js';
import { writeWsi } from '../bench/make-wsi.js';
import { DataSetWriter, part10File } from '../helpers/dataset-bytes.js';
import { BOUNDARY, getMultipart, multipartBody, startTestArchive, testConfig, type TestArchive } from '../helpers/archive.js';

const uids = { study: '2.25.8810001', series: '2.25.8810002', sop: '2.25.8810003' };
const FRAMES = 300;
const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';

describe('a whole-slide image', () => {
  let archive: TestArchive;
  let dir: string;
  let file: Uint8Array;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsi-'));
    await writeWsi(join(dir, 'slide.dcm'), FRAMES, uids);
    file = new Uint8Array(readFileSync(join(dir, 'slide.dcm')));
    // Decompressing a slide is refused (the tiles stay as written); it would need gigabytes.
    // Instances that cannot be read in pieces are read whole up to 5 MiB here.
    archive = await startTestArchive({ maxDecompressedBytes: 8 * 1024 * 1024, maxInflatedBytes: 5 * 1024 * 1024 });
  });
  afterAll(async () => {
    await archive?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is stored whole and serves each tile by number as written', async () => {
    const res = await fetch(`${archive.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: new Uint8Array(file) });
    expect(res.status).toBe(200);
    const fragments = parseDicom(file).dataset.elements.get(0x7fe00010)!.fragments!.slice(1); // after the empty offset table
    expect(fragments).toHaveLength(FRAMES);
    const instance = `${archive.url}/studies/${uids.study}/series/${uids.series}/instances/${uids.sop}`;
    for (const n of [1, 150, FRAMES]) {
      const { status, parts } = await getMultipart(`${instance}/frames/${n}`, 'multipart/related; type="image/jpeg"; transfer-syntax=*');
      expect(status).toBe(200);
      const written = file.subarray(fragments[n - 1].offset, fragments[n - 1].offset + fragments[n - 1].length);
      expect(Buffer.compare(parts[0].body, Buffer.from(written)), `frame ${n}`).toBe(0);
    }
    const [metadata] = (await (await fetch(`${instance}/metadata`)).json()) as Array<Record<string, { Value?: unknown[] }>>;
    expect(metadata['00280008'].Value).toEqual([FRAMES]);
    expect(metadata['00209311'].Value).toEqual(['TILED_FULL']);
    const thumbnail = await fetch(`${instance}/thumbnail`);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(file.length).toBeGreaterThan(testConfig().maxInMemoryInstanceBytes);
    expect(readdirSync(join(archive.dataDir, 'staging'))).toEqual([]);
  });

  it('is stored from a multipart request the same, and the staged files go once answered', async () => {
    const res = await fetch(`${archive.url}/studies`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}` },
      body: multipartBody([{ bytes: file }, { bytes: file }]),
    });
    expect(res.status).toBe(200); // the same bytes again: stored once, both parts answered as stored
    const { parts } = await getMultipart(`${archive.url}/studies/${uids.study}/series/${uids.series}/instances/${uids.sop}`, 'multipart/related; type="application/dicom"; transfer-syntax=*');
    expect(Buffer.compare(parts[0].body, Buffer.from(file))).toBe(0);
    // A large part that is no instance, and one cut short by the end of the body: refused, nothing left behind.
    const garbage = Buffer.alloc(6 * 1024 * 1024, 0x41);
    const refused = await fetch(`${archive.url}/studies`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}` },
      body: multipartBody([{ bytes: garbage }]).subarray(0, 5 * 1024 * 1024),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(/ends before its closing delimiter/);
    const notDicom = await fetch(`${archive.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: garbage });
    expect(notDicom.status).toBe(409);
    expect(readdirSync(join(archive.dataDir, 'staging'))).toEqual([]);
  });

  it('has a thumbnail of the whole slide, not of one tile', async () => {
    const slide = { study: '2.25.8810011', series: '2.25.8810012', sop: '2.25.8810013' };
    const path = join(dir, 'coloured.dcm');
    // 4 tiles across, 6 down: the left half red, the right half blue, the last two rows green.
    await writeWsi(path, 24, slide, { colourOf: (column, row) => (row >= 4 ? [0, 200, 0] : column < 2 ? [220, 0, 0] : [0, 0, 220]) });
    const res = await fetch(`${archive.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: new Uint8Array(readFileSync(path)) });
    expect(res.status).toBe(200);
    for (const url of [`/studies/${slide.study}/series/${slide.series}/instances/${slide.sop}/thumbnail`, `/studies/${slide.study}/thumbnail`]) {
      const thumbnail = await fetch(`${archive.url}${url}`, { headers: { Accept: 'image/jpeg' } });
      expect(thumbnail.status).toBe(200);
      const picture = jpeg.decode(Buffer.from(await thumbnail.arrayBuffer()));
      expect([picture.width, picture.height]).toEqual([133, 200]); // the slide's 1024 × 1536 proportions
      const at = (x: number, y: number) => Array.from(picture.data.subarray((y * picture.width + x) * 4, (y * picture.width + x) * 4 + 3));
      const dominant = (rgb: number[]) => rgb.indexOf(Math.max(...rgb));
      expect(dominant(at(20, 20)), url).toBe(0); // red
      expect(dominant(at(110, 20)), url).toBe(2); // blue
      expect(dominant(at(66, 190)), url).toBe(1); // green
    }
  });

  it('reads a staged instance whose bulk is no Pixel Data whole, within a limit, and refuses a larger one with A700', async () => {
    const pdf = (size: number, sop: string) =>
      part10File(
        new DataSetWriter(true)
          .add(0x00080016, 'UI', ENCAPSULATED_PDF)
          .add(0x00080018, 'UI', sop)
          .add(0x0020000d, 'UI', '2.25.8810021')
          .add(0x0020000e, 'UI', '2.25.8810022')
          .add(0x00420011, 'OB', new Uint8Array(size).fill(0x25))
          .add(0x00420012, 'LO', 'application/pdf')
          .bytes(),
        '1.2.840.10008.1.2.1',
        ENCAPSULATED_PDF,
        sop,
      );
    const send = (bytes: Uint8Array) => fetch(`${archive.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: new Uint8Array(bytes) });
    const fits = pdf(4.5 * 1024 * 1024, '2.25.8810023'); // above the 4 MiB held in memory, so staged
    expect((await send(fits)).status).toBe(200);
    const back = await getMultipart(`${archive.url}/studies/2.25.8810021/series/2.25.8810022/instances/2.25.8810023`, 'multipart/related; type="application/dicom"; transfer-syntax=*');
    expect(Buffer.compare(back.parts[0].body, Buffer.from(fits))).toBe(0);
    const refused = await send(pdf(6 * 1024 * 1024, '2.25.8810024'));
    expect(refused.status).toBe(409);
    const [failed] = ((await refused.json()) as Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>)['00081198'].Value;
    expect(failed['00081197'].Value).toEqual([0xa700]);
    expect(String(failed['00000902'].Value[0])).toMatch(/is read whole, which this archive does up to 5242880 bytes \(MAX_INFLATED_BYTES\)/);
    expect(readdirSync(join(archive.dataDir, 'staging'))).toEqual([]);
  });

  it('is retrieved as stored from a stream, and refused decompressed without being read', async () => {
    const instance = `${archive.url}/studies/${uids.study}/series/${uids.series}/instances/${uids.sop}`;
    const bare = await fetch(instance, { headers: { Accept: 'application/dicom; transfer-syntax=*' } });
    expect(bare.status).toBe(200);
    expect(bare.headers.get('content-length')).toBe(String(file.length));
    expect(Buffer.compare(Buffer.from(await bare.arrayBuffer()), Buffer.from(file))).toBe(0);
    const decompressed = await fetch(instance, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
    expect(decompressed.status).toBe(406);
    expect(((await decompressed.json()) as { error: string }).error).toMatch(/stored file of \d+ bytes is larger than the 8388608 this server decompresses at once \(MAX_DECOMPRESSED_BYTES\); ask for transfer-syntax=\*/);
    // A client that stops reading part way: the server goes on answering.
    const abandoned = await fetch(instance, { headers: { Accept: 'application/dicom; transfer-syntax=*' } });
    const reader = abandoned.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect((await fetch(`${instance}/frames/2`, { headers: { Accept: 'multipart/related; type="image/jpeg"; transfer-syntax=*' } })).status).toBe(200);
  });
});
