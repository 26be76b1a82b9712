// The reading worklist page the archive serves, in headless Chromium: studies ordered by triage, each
// analyser's finding in words, keyboard navigation into the viewer, filters, feedback that the API
// then returns, and new studies appearing by themselves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { WorklistItem } from '../../lambdas/ai/ports.js';
import { startTestArchive, stow, testAiConfig, type TestArchive } from '../helpers/archive.js';
import { launchBrowser } from '../helpers/ohif.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';

const routine = syntheticCt({ patientID: 'WL-ROUTINE', studyDate: '20250101', studyDescription: 'CT ABDOMEN', slices: 8, size: 48, extra: { PatientName: 'Routine^Rita' } });
const urgent = syntheticCt({ patientID: 'WL-URGENT', studyDate: '20250102', studyDescription: 'CT HEAD', slices: 8, size: 48, extra: { PatientName: 'Urgent^Uma', RequestedProcedurePriority: 'STAT' } });
const later = syntheticCt({ patientID: 'WL-LATER', studyDate: '20250103', studyDescription: 'CT CHEST', slices: 8, size: 48, extra: { PatientName: 'Later^Lou' } });

describe('reading worklist page', () => {
  let archive: TestArchive;
  let browser: Browser;
  let page: Page;
  const analysed = async (study: string) => {
    for (let i = 0; i < 600; i++) {
      const list = (await (await fetch(`${archive.aiUrl}/worklist?state=analysed`)).json()) as WorklistItem[];
      if (list.some((w) => w.studyInstanceUID === study)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`study ${study} was not analysed`);
  };
  const rows = () => page.locator('#worklist tbody tr');
  beforeAll(async () => {
    archive = await startTestArchive({}, undefined, { ai: testAiConfig({ quietPeriodMs: 300 }), viewer: true });
    expect((await stow(archive.url, routine.files)).status).toBe(200);
    await analysed(routine.studyInstanceUID);
    expect((await stow(archive.url, urgent.files)).status).toBe(200);
    await analysed(urgent.studyInstanceUID);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(archive.worklistUrl!, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelectorAll('#worklist tbody tr').length >= 2, undefined, { timeout: 60_000 });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await archive?.dispose();
  });

  it('puts the urgent study above the routine one that arrived first, with its findings in words', async () => {
    await expect(rows().nth(0).getAttribute('data-study')).resolves.toBe(urgent.studyInstanceUID);
    await expect(rows().nth(1).getAttribute('data-study')).resolves.toBe(routine.studyInstanceUID);
    const first = await rows().nth(0).innerText();
    expect(first).toContain('urgent');
    expect(first).toContain('requested procedure priority STAT');
    expect(first).toContain('Urgent, Uma');
    expect(first).toContain('CT HEAD');
    expect(first).toContain('done');
    expect(first).toMatch(/High-density structure segmentation: largest structure 300–3000 HU: [\d.]+ mL/);
    expect(first).toMatch(/CT image noise estimate: noise within 25 HU/);
  });

  it('moves with the keyboard and opens the selected study in the viewer', async () => {
    await page.keyboard.press('ArrowDown');
    await expect(rows().nth(1).getAttribute('aria-selected')).resolves.toBe('true');
    await page.keyboard.press('k');
    await expect(rows().nth(0).getAttribute('aria-selected')).resolves.toBe('true');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/viewer\?StudyInstanceUIDs=/);
    expect(new URL(page.url()).searchParams.get('StudyInstanceUIDs')).toBe(urgent.studyInstanceUID);
    // The viewer the link leads to is the one the archive serves.
    await page.waitForFunction(() => document.title.length > 0 && !!document.querySelector('#root'), undefined, { timeout: 60_000 });
    await page.goto(archive.worklistUrl!, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelectorAll('#worklist tbody tr').length >= 2, undefined, { timeout: 60_000 });
  }, 120_000);

  it('keeps both studies on a phone-sized screen: findings move from the list to the panel below it', async () => {
    const narrow = await browser.newPage({ viewport: { width: 420, height: 800 } });
    try {
      await narrow.goto(archive.worklistUrl!, { waitUntil: 'load' });
      await narrow.waitForFunction(() => document.querySelectorAll('#worklist tbody tr').length >= 2, undefined, { timeout: 60_000 });
      const second = await narrow.locator('#worklist tbody tr').nth(1).boundingBox();
      expect(second!.y + second!.height).toBeLessThan(800);
      await expect(narrow.locator('#worklist tbody tr').nth(0).locator('.findings').isVisible()).resolves.toBe(false);
    } finally {
      await narrow.close();
    }
  });

  it('filters by priority and modality', async () => {
    await page.selectOption('select[name=priority]', 'routine');
    await expect(rows().count()).resolves.toBe(1);
    await expect(rows().nth(0).getAttribute('data-study')).resolves.toBe(routine.studyInstanceUID);
    await page.selectOption('select[name=priority]', '');
    await page.selectOption('select[name=modality]', 'CT');
    await expect(rows().count()).resolves.toBe(2);
    await page.selectOption('select[name=modality]', '');
  });

  it('posts agreement with a comment, shows it back, and the API returns it', async () => {
    await page.fill('input[name=reader]', 'Dr Test');
    await page.locator('input[name=reader]').dispatchEvent('change');
    await rows().nth(0).click();
    // The pane shows the selected study once its results have been read.
    await page.waitForFunction(() => document.querySelector('#detail h2')?.textContent?.includes('Urgent, Uma'), undefined, { timeout: 30_000 });
    const segmentation = page.locator('#detail section.result', { hasText: 'High-density structure segmentation' });
    await segmentation.locator('textarea').fill('volume looks right');
    await segmentation.locator('button[data-verdict=accept]').click();
    await page.waitForFunction(() => document.querySelector('#detail')?.textContent?.includes('agreed — Dr Test'), undefined, { timeout: 30_000 });
    const results = (await (await fetch(`${archive.aiUrl}/studies/${urgent.studyInstanceUID}/results`)).json()) as Array<{ analyserId: string; feedback: Array<{ verdict: string; reader: string; comment?: string }> }>;
    // The page answers the latest revision's result; a study can have been analysed more than once.
    const said = results.filter((r) => r.analyserId === 'threshold-segmentation').flatMap((r) => r.feedback);
    expect(said).toEqual([expect.objectContaining({ verdict: 'accept', reader: 'Dr Test', comment: 'volume looks right' })]);
  }, 60_000);

  it('keeps a UPS workitem per study, its priority from the triage, and completes it when the reader marks the study read', async () => {
    type Dataset = Record<string, { Value?: unknown[] }>;
    const workitemOf = async (study: string) => ((await (await fetch(`${archive.url}/workitems?StudyInstanceUID=${study}`)).json()) as Dataset[])[0];
    const before = await workitemOf(urgent.studyInstanceUID);
    expect(before['00741000'].Value).toEqual(['SCHEDULED']);
    expect(before['00741200'].Value).toEqual(['HIGH']);
    expect(before['00404041'].Value).toEqual(['READY']);
    expect((await workitemOf(routine.studyInstanceUID))['00741200'].Value).toEqual(['LOW']);
    await rows().nth(0).click();
    await page.waitForFunction(() => document.querySelector('#detail h2')?.textContent?.includes('Urgent, Uma'), undefined, { timeout: 30_000 });
    await page.locator('#detail button.mark-read').click();
    await page.waitForFunction(() => document.querySelector('#detail .reading')?.textContent?.includes('Read by Dr Test'), undefined, { timeout: 30_000 });
    const after = await workitemOf(urgent.studyInstanceUID);
    expect(after['00741000'].Value).toEqual(['COMPLETED']);
    expect(JSON.stringify(after['00741216'])).toContain('Dr Test');
  }, 60_000);

  it('shows a study that arrives while it is open, without a reload', async () => {
    expect((await stow(archive.url, later.files)).status).toBe(200);
    await page.waitForFunction((uid) => !!document.querySelector(`#worklist tbody tr[data-study="${uid}"]`), later.studyInstanceUID, { timeout: 60_000 });
  }, 90_000);

  it('answers an unchanged worklist with 304', async () => {
    const first = await fetch(`${archive.aiUrl}/worklist?limit=1000`);
    const tag = first.headers.get('etag')!;
    expect(tag).toBeTruthy();
    expect((await fetch(`${archive.aiUrl}/worklist?limit=1000`, { headers: { 'If-None-Match': tag } })).status).toBe(304);
  });
});
