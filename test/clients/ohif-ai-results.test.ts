// The OHIF Viewer the archive serves shows the AI pipeline's results with the study they belong to: the
// segmentation and the measurement reports appear in the viewer's series list next to the CT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { WorklistItem } from '../../lambdas/ai/ports.js';
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
});
