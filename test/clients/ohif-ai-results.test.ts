// The OHIF Viewer the archive serves shows the AI pipeline's results with the study they belong to: the
// segmentation and the measurement reports appear in the viewer's series list next to the CT, and the
// segmentation, opened, is drawn over the CT (checked in the screenshot's pixels).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import type { AnalysisResult, WorklistItem } from '../../lambdas/ai/ports.js';
import { startTestArchive, stow, testAiConfig, type TestArchive } from '../helpers/archive.js';
import { launchBrowser } from '../helpers/ohif.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';

const aiConfig = testAiConfig({ quietPeriodMs: 300 });

describe('OHIF Viewer shows AI results', () => {
  let archive: TestArchive;
  let browser: Browser;
  const ct = syntheticCt({ patientID: 'OHIF-AI', studyDate: '20250101', studyDescription: 'CT CHEST', slices: 12, size: 64 });
  beforeAll(async () => {
    archive = await startTestArchive({}, undefined, { ai: aiConfig, viewer: true });
    expect((await stow(archive.url, ct.files)).status).toBe(200);
    for (let i = 0; i < 300; i++) {
      const list = (await (await fetch(`${archive.aiUrl}/worklist?state=analysed`)).json()) as WorklistItem[];
      if (list.some((w) => w.studyInstanceUID === ct.studyInstanceUID)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    browser = await launchBrowser();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await archive?.dispose();
  });

  it('lists the segmentation and the reports among the study\'s series', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      await page.goto(`${archive.viewerUrl}viewer?StudyInstanceUIDs=${ct.studyInstanceUID}`, { waitUntil: 'load' });
      // The series list names each display set by its Series Description.
      await page.waitForFunction(() => document.body.innerText.includes('High-density structure segmentation 1.0.0 (segmentation)'), undefined, { timeout: 120_000 });
      const text = await page.evaluate(() => document.body.innerText);
      expect(text).toContain('High-density structure segmentation 1.0.0 (segmentation)');
      expect(text).toContain('Worklist triage 1.0.0 (report)');
    } finally {
      await page.close();
    }
  }, 300_000);

  /** Pixels of the viewport that are clearly red: OHIF draws the segment (its outline and fill) in red. */
  const redPixels = (png: Buffer): number => {
    const p = PNG.sync.read(png);
    let n = 0;
    for (let i = 0; i < p.data.length; i += 4) if (p.data[i] > 120 && p.data[i] > 2 * p.data[i + 1] && p.data[i] > 2 * p.data[i + 2]) n++;
    return n;
  };

  /** Opens the study with `series` in the viewport, scrolls to the middle slices, and returns the viewport's picture. */
  async function viewportShowing(series: string): Promise<Buffer> {
    const page: Page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      await page.goto(`${archive.viewerUrl}viewer?StudyInstanceUIDs=${ct.studyInstanceUID}&initialSeriesInstanceUID=${series}`, { waitUntil: 'load' });
      await page.waitForFunction(() => /I:\d+ \(\d+\/12\)/.test(document.body.innerText), undefined, { timeout: 120_000 });
      // OHIF's first-visit tour and its investigational-use notice cover the viewport.
      for (const label of ['Skip all', 'Confirm and hide']) {
        const button = page.getByText(label, { exact: true });
        if (await button.count()) await button.first().click();
      }
      await page.mouse.move(800, 450);
      for (let k = 0; k < 4; k++) {
        await page.mouse.wheel(0, 100);
        await page.waitForTimeout(300);
      }
      await page.waitForTimeout(1500);
      return await page.screenshot({ clip: { x: 300, y: 60, width: 1000, height: 760 } });
    } finally {
      await page.close();
    }
  }

  it('draws the segmentation over the CT when the reader opens it', async () => {
    const results = (await (await fetch(`${archive.aiUrl}/studies/${ct.studyInstanceUID}/results`)).json()) as AnalysisResult[];
    const seg = results.flatMap((r) => r.objects).find((o) => o.kind === 'SEG')!;
    expect(seg).toBeDefined();
    // The CT alone has no red; with the segmentation opened (loaded without a prompt) the dense sphere is outlined and filled.
    expect(redPixels(await viewportShowing(ct.seriesInstanceUID))).toBeLessThan(50);
    expect(redPixels(await viewportShowing(seg.seriesInstanceUID))).toBeGreaterThan(500);
  }, 300_000);
});
