// Headless Chromium (Debian's chromium) to drive the OHIF Viewer the archive serves: a real DICOMweb client.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium as playwrightChromium, type Browser, type Page } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--window-size=1400,900',
  '--virtual-time-budget=40000',
];

/** Runs headless Chromium asynchronously: the archive and the viewer's server live in this process. */
export async function chromium(args: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-'));
  const { stdout } = await promisify(execFile)('chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  return stdout;
}

/**
 * Debian's Chromium driven by playwright-core (no browser download): waits in real time, so a page
 * whose decoders compile in workers is judged once it has drawn, not when a time budget runs out.
 */
export async function launchBrowser(): Promise<Browser> {
  return playwrightChromium.launch({
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_FLAGS.filter((f) => !f.startsWith('--headless') && !f.startsWith('--virtual-time') && !f.startsWith('--window-size')),
  });
}

/** Opens a page (`prepare` may listen to it first) and takes screenshots until `done` accepts one, or the time runs out; returns the last. */
export async function screenshotWhen(browser: Browser, url: string, done: (png: Buffer) => boolean, seconds = 90, prepare?: (page: Page) => void): Promise<Buffer> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  prepare?.(page);
  try {
    await page.goto(url, { waitUntil: 'load' });
    const deadline = Date.now() + seconds * 1000;
    let shot = await page.screenshot();
    while (!done(shot) && Date.now() < deadline) {
      await page.waitForTimeout(1000);
      shot = await page.screenshot();
    }
    return shot;
  } finally {
    await page.close();
  }
}
