// Rendered images against dcmtk's renderer (dcmj2pnm / dcml2pnm): same window, same pixels.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { SAMPLES_DIR, sampleBytes } from '../helpers/samples.js';

// file, window (center,width) or undefined for a colour image, dcmtk tool
const CASES: Array<[string, [number, number] | undefined, string]> = [
  ['pydicom-data/693_UNCI.dcm', [40, 400], 'dcmj2pnm'], // CT, explicit VR
  ['pydicom-data/MR2_UNCR.dcm', [600, 1200], 'dcmj2pnm'], // MR
  ['fo-dicom/CR-MONO1-10-chest', [512, 1024], 'dcmj2pnm'], // MONOCHROME1, no file meta, implicit VR
  ['pydicom-data/emri_small_big_endian.dcm', [300, 600], 'dcmj2pnm'], // big endian
  ['dicomParser/CT0012.not_fragmented_bot_rle.dcm', [40, 400], 'dcmj2pnm'], // RLE, multi-frame enhanced CT
  ['cornerstone/CTImage.dcm_JPEGProcess14TransferSyntax_1.2.840.10008.1.2.4.57.dcm', [40, 400], 'dcmj2pnm'], // JPEG lossless
  ['cornerstone/CTImage.dcm_JPEGProcess2_4TransferSyntax_1.2.840.10008.1.2.4.51.dcm', [40, 400], 'dcmj2pnm'], // 12-bit DCT JPEG
  ['dcmjs/sample-op.dcm', [128, 256], 'dcmj2pnm'], // labelled JPEG lossless, actually a baseline JPEG codestream
  ['dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm', [40, 400], 'dcml2pnm'], // JPEG-LS in fragments
  ['dcm4che/NM-MONO2-16-13x-heart', [100, 200], 'dcmj2pnm'], // multi-frame NM
  ['pydicom/examples_ybr_color.dcm', undefined, 'dcmj2pnm'], // JPEG baseline YBR colour
  ['cornerstone/US-YBR_FULL_422-EVRLE.dcm', undefined, 'dcmj2pnm'], // native YBR_FULL_422
  ['pydicom-data/SC_rgb_expb_16bit.dcm', undefined, 'dcmj2pnm'], // 16-bit RGB, big endian
  ['orthanc-tests/2023-04-21-RLEPlanarConfigurationYBR_FULL.dcm', undefined, 'dcmj2pnm'], // RLE YBR_FULL
  ['pydicom/examples_palette.dcm', undefined, 'dcmj2pnm'], // PALETTE COLOR, 8-bit
  ['cornerstone/TestPattern_Palette_16.dcm', undefined, 'dcmj2pnm'], // PALETTE COLOR, 16-bit entries
];

function pixels(png: Buffer): { width: number; height: number; rgb: number[] } {
  const p = PNG.sync.read(png);
  const rgb: number[] = [];
  for (let i = 0; i < p.width * p.height; i++) rgb.push(p.data[i * 4], p.data[i * 4 + 1], p.data[i * 4 + 2]);
  return { width: p.width, height: p.height, rgb };
}

describe('rendered', () => {
  let archive: TestArchive;
  let work: string;
  const urls = new Map<string, string>();
  beforeAll(async () => {
    archive = await startTestArchive();
    work = mkdtempSync(join(tmpdir(), 'rendered-'));
    for (const [file] of CASES) {
      const bytes = sampleBytes(file);
      const res = await stow(archive.url, [bytes]);
      expect([200, 202], file).toContain(res.status); // 202: stored with a warning (no file meta)
      const i = readInstance(bytes);
      urls.set(file, `${archive.url}/studies/${i.studyInstanceUID}/series/${i.seriesInstanceUID}/instances/${i.sopInstanceUID}`);
    }
  });
  afterAll(async () => {
    await archive?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  /** Our PNG against dcmtk's rendering of the same file with the given options: same size, same pixels. */
  async function expectSameAsDcmtk(res: Response, file: string, tool: string, args: string[], name = file): Promise<void> {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const ours = pixels(Buffer.from(await res.arrayBuffer()));
    const out = join(work, `${name.replace(/\//g, '_')}.png`);
    execFileSync(tool, ['--write-png', ...args, join(SAMPLES_DIR, file), out], { stdio: 'pipe' });
    const theirs = pixels(readFileSync(out));
    expect([ours.width, ours.height]).toEqual([theirs.width, theirs.height]);
    let total = 0;
    let large = 0;
    for (let i = 0; i < ours.rgb.length; i++) {
      const d = Math.abs(ours.rgb[i] - theirs.rgb[i]);
      total += d;
      if (d > 8) large++;
    }
    // Rounding and colour conversion differ by a level or two; anything structural shows as large differences.
    expect(total / ours.rgb.length).toBeLessThan(2);
    expect(large / ours.rgb.length).toBeLessThan(0.01);
  }

  for (const [file, window, tool] of CASES) {
    it(`${file} matches ${tool}`, async () => {
      const query = window ? `?window=${window[0]},${window[1]},linear` : '';
      const res = await fetch(`${urls.get(file)}/rendered${query}`, { headers: { Accept: 'image/png' } });
      await expectSameAsDcmtk(res, file, tool, window ? ['+Ww', String(window[0]), String(window[1])] : []);
    });
  }

  it('shows the viewport\'s source region, mirrored for a negative width or height, as dcmtk clips and flips', async () => {
    const file = 'pydicom-data/693_UNCI.dcm';
    const url = urls.get(file)!;
    const render = (viewport: string) => fetch(`${url}/rendered?window=40,400,linear&viewport=${viewport}`, { headers: { Accept: 'image/png' } });
    const window = ['+Ww', '40', '400'];
    await expectSameAsDcmtk(await render('200,120,100,60,200,120'), file, 'dcmj2pnm', [...window, '+C', '100', '60', '200', '120'], 'region');
    await expectSameAsDcmtk(await render('200,120,100,60,-200,120'), file, 'dcmj2pnm', [...window, '+C', '100', '60', '200', '120', '+Lh'], 'region-h');
    await expectSameAsDcmtk(await render('200,120,100,60,-200,-120'), file, 'dcmj2pnm', [...window, '+C', '100', '60', '200', '120', '+Lhv'], 'region-hv');
    // Scaled to fit the viewport, keeping the region's aspect ratio; sx, sy, sw, sh left empty are the whole image.
    const half = PNG.sync.read(Buffer.from(await (await render('100,100,100,60,200,120')).arrayBuffer()));
    expect([half.width, half.height]).toEqual([100, 60]);
    const whole = await render('128,128,,,,');
    expect(whole.headers.get('warning')).toBeNull();
    const fitted = PNG.sync.read(Buffer.from(await whole.arrayBuffer()));
    expect(Math.max(fitted.width, fitted.height)).toBe(128);
    // A region outside the image, an empty one, or a malformed list: 400 with the reason.
    for (const bad of ['100,100,500,0,100,100', '100,100,0,0,0,10', '100,100,10', '100,100,a,0,10,10']) {
      const res = await render(bad);
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { error: string }).error, bad).toMatch(/viewport/);
    }
  });

  it('serves JPEG, scales to the viewport and makes thumbnails', async () => {
    const url = urls.get('pydicom-data/693_UNCI.dcm')!;
    const jpeg = await fetch(`${url}/rendered?viewport=128,128&quality=80`, { headers: { Accept: 'image/jpeg' } });
    expect(jpeg.status).toBe(200);
    const bytes = Buffer.from(await jpeg.arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
    const thumb = await fetch(`${url}/thumbnail`, { headers: { Accept: 'image/png' } });
    const t = PNG.sync.read(Buffer.from(await thumb.arrayBuffer()));
    expect(Math.max(t.width, t.height)).toBe(200);
    const series = url.split('/instances/')[0];
    expect((await fetch(`${series}/thumbnail`)).status).toBe(200);
    const nm = urls.get('dcm4che/NM-MONO2-16-13x-heart')!;
    expect((await fetch(`${nm}/frames/13/rendered`)).status).toBe(200);
    expect((await fetch(`${nm}/frames/14/rendered`)).status).toBe(404);
  });

  it('refuses what it cannot render with a reason', async () => {
    const url = urls.get('pydicom-data/693_UNCI.dcm')!;
    expect((await fetch(`${url}/rendered?window=40`)).status).toBe(400);
    expect((await fetch(`${url}/rendered?viewport=0,10`)).status).toBe(400);
    expect((await fetch(`${url}/rendered?quality=101`)).status).toBe(400);
    expect((await fetch(`${url}/rendered`, { headers: { Accept: 'image/gif' } })).status).toBe(406);
  });

  it('renders JPEG XL frames (no dcmtk reference: checks size and content)', async () => {
    const jxl = readInstance(sampleBytes('dcm4che/will-jxl.dcm'));
    expect((await stow(archive.url, [sampleBytes('dcm4che/will-jxl.dcm')])).status).toBe(200);
    const res = await fetch(`${archive.url}/studies/${jxl.studyInstanceUID}/series/${jxl.seriesInstanceUID}/instances/${jxl.sopInstanceUID}/frames/6/rendered`, {
      headers: { Accept: 'image/png' },
    });
    expect(res.status).toBe(200);
    const { width, height, rgb } = pixels(Buffer.from(await res.arrayBuffer()));
    expect([width, height]).toEqual([1016, 708]);
    const coloured = rgb.filter((_, k) => k % 3 === 0).filter((r, k) => Math.abs(r - rgb[k * 3 + 2]) > 60).length;
    expect(coloured).toBeGreaterThan(1000); // the colour Doppler overlay survives decoding
  });
});
