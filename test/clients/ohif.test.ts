// OHIF Viewer, unchanged, as `npm start` serves it at its root, in headless Chromium: the study list
// (QIDO-RS), the viewer (series metadata and frames over WADO-RS, thumbnails from the archive) work as a
// radiologist would use them; VIEWER=off serves none.
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { stow } from '../helpers/archive.js';
import { chromium, launchBrowser, screenshotWhen } from '../helpers/ohif.js';
import { sampleBytes } from '../helpers/samples.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

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

describe('OHIF Viewer served by the archive', () => {
  let server: ServerProcess;
  let viewer: string;
  let browser: Browser;
  beforeAll(async () => {
    server = await startServerProcess();
    viewer = server.viewerUrl!.replace(/\/$/, '');
    expect((await stow(server.url, FILES.map(sampleBytes))).status).toBe(200);
    browser = await launchBrowser();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('serves the viewer at the root, configured to the archive, its bundles compressed and cached', async () => {
    const index = await fetch(`${viewer}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('app-config.js');
    const config = await (await fetch(`${viewer}/app-config.js`)).text();
    expect(config).toContain('window.location.origin + "/dicomweb"');
    expect(config).toContain("thumbnailRendering: 'thumbnail'");
    // A client-side route is the app itself.
    expect((await fetch(`${viewer}/viewer?StudyInstanceUIDs=1.2.3`)).headers.get('content-type')).toContain('text/html');
    const bundle = /src="\/?(app\.bundle\.[0-9a-f]+\.js)"/.exec(await (await fetch(`${viewer}/`)).text())![1];
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' 'sha256-/);
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    const compressed = await fetch(`${viewer}/${bundle}`, { headers: { 'Accept-Encoding': 'br' } });
    expect(compressed.headers.get('content-encoding')).toBe('br');
    expect(compressed.headers.get('cache-control')).toContain('immutable');
    const missing = await fetch(`${viewer}/no-such-file.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toContain('no-such-file.js');
    expect((await fetch(`${viewer}/`, { method: 'POST' })).status).toBe(405);
  });

  it('lists every study, names in every character set included', async () => {
    const dom = await chromium(['--dump-dom', `${viewer}/`]);
    expect(dom).toContain('CQ500-CT-310');
    expect(dom).toContain('ﾔﾏﾀﾞ, ﾀﾛｳ'); // OHIF shows "Family, Given"
    expect(dom).toMatch(/1CT1|CT1/);
  }, 180_000);

  for (const file of FILES.slice(0, 2)) {
    it(`shows the image of ${file}, frames as stored and the archive's thumbnails`, async () => {
      const { studyInstanceUID } = readInstance(sampleBytes(file));
      const requests: Array<{ url: string; accept?: string }> = [];
      const refused: string[] = [];
      const shot = await screenshotWhen(browser, `${viewer}/viewer?StudyInstanceUIDs=${studyInstanceUID}`, (png) => litShare(png) > 0.05, 90, (page) => {
        page.on('request', (r) => requests.push({ url: r.url(), accept: r.headers().accept }));
        page.on('console', (m) => /Content Security Policy/.test(m.text()) && refused.push(m.text()));
      });
      expect(litShare(shot)).toBeGreaterThan(0.05);
      // The viewer works within its Content Security Policy (the one CloudFront sends too).
      expect(refused).toEqual([]);
      expect(requests.some((r) => /\/thumbnail\?viewport=256(,|%2C)256$/.test(r.url))).toBe(true);
      const frames = requests.filter((r) => /\/frames\/\d+$/.test(r.url));
      expect(frames.length).toBeGreaterThan(0);
      for (const r of frames) expect(r.accept).toContain('transfer-syntax=*');
    }, 400_000);
  }
});

describe('VIEWER=off', () => {
  it('serves the archive without a viewer', async () => {
    const server = await startServerProcess({ VIEWER: 'off' });
    try {
      expect(server.viewerUrl).toBeUndefined();
      const root = await fetch(new URL('/', server.url));
      expect(root.status).toBe(404);
      expect(root.headers.get('content-type')).toContain('application/json');
      expect((await fetch(new URL('/app-config.js', server.url))).status).toBe(404);
      expect((await fetch(`${server.url}/studies`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  }, 60_000);
});
