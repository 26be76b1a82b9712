// OHIF Viewer, unchanged, against the archive in headless Chromium: the study list (QIDO-RS) and the
// viewer (series metadata and frames over WADO-RS) work as a radiologist would use them.
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import type { Browser } from 'playwright-core';
import { chromium, launchBrowser, screenshotWhen, serveOhif } from '../helpers/ohif.js';
import { sampleBytes } from '../helpers/samples.js';

const FILES = ['dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm', 'pydicom-data/693_UNCI.dcm', 'orthanc-tests/SCSH32'];

/** Share of the viewport (the right-hand pane) that is not near-black. */
function litShare(png: Buffer): number {
  const p = PNG.sync.read(png);
  let lit = 0;
  let total = 0;
  for (let y = Math.floor(p.height * 0.2); y < p.height * 0.8; y += 2) {
    for (let x = Math.floor(p.width * 0.35); x < p.width * 0.9; x += 2) {
      const i = (y * p.width + x) * 4;
      total++;
      if (p.data[i] + p.data[i + 1] + p.data[i + 2] > 120) lit++;
    }
  }
  return lit / total;
}

describe('OHIF Viewer as a client', () => {
  let archive: TestArchive;
  let ohif: Awaited<ReturnType<typeof serveOhif>>;
  let browser: Browser;
  beforeAll(async () => {
    archive = await startTestArchive();
    expect((await stow(archive.url, FILES.map(sampleBytes))).status).toBe(200);
    ohif = await serveOhif(archive.url);
    browser = await launchBrowser();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await ohif?.close();
    await archive?.dispose();
  });

  it('lists every study, names in every character set included', async () => {
    const dom = await chromium(['--dump-dom', `${ohif.url}/`]);
    expect(dom).toContain('CQ500-CT-310');
    expect(dom).toContain('ﾔﾏﾀﾞ, ﾀﾛｳ'); // OHIF shows "Family, Given"
    expect(dom).toMatch(/1CT1|CT1/);
  }, 180_000);

  for (const file of FILES.slice(0, 2)) {
    it(`shows the image of ${file}`, async () => {
      const { studyInstanceUID } = readInstance(sampleBytes(file));
      const shot = await screenshotWhen(browser, `${ohif.url}/viewer?StudyInstanceUIDs=${studyInstanceUID}`, (png) => litShare(png) > 0.05);
      const share = litShare(shot);
      expect(share).toBeGreaterThan(0.05);
    }, 400_000);
  }
});
