// OHIF Viewer (the prebuilt @ohif/app package from the npm registry) served locally and pointed at an
// archive, and headless Chromium (Debian's chromium) to drive it: a real DICOMweb client.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium as playwrightChromium, type Browser } from 'playwright-core';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { repoRoot } from './samples.js';

export const OHIF_VERSION = '3.13.2';
const CACHE = join(repoRoot, '.tmp', `ohif-${OHIF_VERSION}`);

/** Unpacks the viewer once into .tmp (npm pack fetches it from the registry). */
export function ohifDist(): string {
  const dist = join(CACHE, 'package', 'dist');
  if (!existsSync(join(dist, 'index.html'))) {
    mkdirSync(CACHE, { recursive: true });
    execFileSync('npm', ['pack', `@ohif/app@${OHIF_VERSION}`, '--silent'], { cwd: CACHE, stdio: 'pipe' });
    execFileSync('tar', ['xzf', `ohif-app-${OHIF_VERSION}.tgz`], { cwd: CACHE });
  }
  return dist;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.txt': 'text/plain',
};

/** Serves the viewer with an app-config.js whose only data source is `dicomWebRoot`. */
export async function serveOhif(dicomWebRoot: string): Promise<{ url: string; close(): Promise<void> }> {
  const dist = ohifDist();
  const config = `window.config = {
  routerBasename: '/', extensions: [], modes: [], showStudyList: true, maxNumberOfWebWorkers: 1,
  showWarningMessageForCrossOrigin: false, showCPUFallbackMessage: false, defaultDataSourceName: 'archive',
  dataSources: [{
    namespace: '@ohif/extension-default.dataSourcesModule.dicomweb', sourceName: 'archive',
    configuration: {
      friendlyName: 'cloud-pacs', name: 'archive', wadoUriRoot: '${dicomWebRoot}', qidoRoot: '${dicomWebRoot}', wadoRoot: '${dicomWebRoot}',
      qidoSupportsIncludeField: true, imageRendering: 'wadors', thumbnailRendering: 'wadors', enableStudyLazyLoad: true,
      supportsFuzzyMatching: true, supportsWildcard: true, staticWado: false, singlepart: 'bulkdata,video',
      bulkDataURI: { enabled: true },
    },
  }],
};`;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/app-config.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(config);
      return;
    }
    const file = normalize(join(dist, path));
    const target = file.startsWith(dist) && existsSync(file) && extname(file) ? file : join(dist, 'index.html'); // client-side routes
    res.writeHead(200, { 'Content-Type': TYPES[extname(target)] ?? 'application/octet-stream' }).end(readFileSync(target));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

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

/** Opens a page and takes screenshots until `done` accepts one, or the time runs out; returns the last. */
export async function screenshotWhen(browser: Browser, url: string, done: (png: Buffer) => boolean, seconds = 90): Promise<Buffer> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
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
