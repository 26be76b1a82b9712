// `npm run bench:viewer`: the same 300-slice CT series (512 × 512, 16-bit) opened in OHIF Viewer in
// headless Chromium (Debian's), from this archive and from Orthanc with its DICOMweb plugin, in one run.
// Both are reached through the same small same-origin server, which serves the OHIF build and passes
// DICOMweb requests through to the archive under test, so that the viewer, its settings (docs/viewer.md)
// and the path to the server are identical and only the archive differs. Measured from the page:
// navigation start to the first image cornerstone renders, and until all of the series' images are
// loaded (counted in cornerstone's image cache). Fresh browser context (no cache) per run; runs alternate.
// The same frames and metadata fetched through the front without a browser tell the archive's share.
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { installedOhif } from '../../lambdas/viewer/ohif-package.js';
import { createViewerApp } from '../../lambdas/viewer/viewer-app.js';
import { launchBrowser } from '../helpers/ohif.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';
import { startOrthanc, startOurs, type Server } from './bench-servers.js';
import { multipartBody, stowClient } from './stow-client.js';

const SLICES = Number(process.env.BENCH_SLICES ?? 300);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 300_000);
const BOUNDARY = 'viewerBenchBoundary42';

/** OHIF and a pass-through to `upstream` (a DICOMweb root) under /dicomweb, on one origin. */
async function viewerFront(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const dist = installedOhif();
  if (!dist) throw new Error('the OHIF Viewer is not installed: npm install');
  const app = new Hono();
  app.all('/dicomweb/*', async (c) => {
    const url = new URL(c.req.url);
    const headers = new Headers(c.req.raw.headers);
    headers.delete('host');
    const res = await fetch(`${upstream}${url.pathname.slice('/dicomweb'.length)}${url.search}`, { method: c.req.method, headers });
    const out = new Headers(res.headers);
    // fetch has already decoded any content coding.
    out.delete('content-encoding');
    out.delete('content-length');
    return new Response(res.body, { status: res.status, headers: out });
  });
  app.route('/', createViewerApp(dist, { dicomWebRoot: '/dicomweb' }));
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Put into the page before its scripts (as text: functions passed from here would carry the transpiler's
 * helpers): when cornerstone first renders, and how many images its cache (window.cornerstone, which
 * OHIF publishes) holds loaded.
 */
const PAGE_PROBE = `
window.__bench = {
  firstRender: 0,
  allLoaded: 0,
  loaded: function () {
    var cache = window.cornerstone && window.cornerstone.cache;
    return cache ? Array.from(cache._imageCache.values()).filter(function (e) { return e.image; }).length : 0;
  },
};
document.addEventListener('CORNERSTONE_IMAGE_RENDERED', function () { if (!window.__bench.firstRender) window.__bench.firstRender = performance.now(); }, true);
`;

interface Timing {
  firstImageMs: number;
  allLoadedMs: number;
  loaded: number;
}

/** Opens the study and reads cornerstone's events from the page (hooked as OHIF publishes window.cornerstone). */
async function openStudy(browser: Browser, front: string, studyInstanceUID: string, slices: number): Promise<Timing> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript({ content: PAGE_PROBE });
  try {
    await page.goto(`${front}/viewer?StudyInstanceUIDs=${studyInstanceUID}`);
    type Bench = { firstRender: number; allLoaded: number; loaded(): number };
    await page.waitForFunction(
      (n) => {
        const b = (window as unknown as { __bench: Bench }).__bench;
        if (!b.allLoaded && b.loaded() >= n) b.allLoaded = performance.now();
        return b.firstRender > 0 && b.allLoaded > 0;
      },
      slices,
      { timeout: TIMEOUT_MS, polling: 50 },
    ).catch(async (e: Error) => {
      const state = await page.evaluate(() => {
        const b = (window as unknown as { __bench?: Bench }).__bench;
        return { url: location.href, firstRender: b?.firstRender, loaded: b?.loaded() };
      });
      throw new Error(`${e.message}; the page had ${JSON.stringify(state)}`);
    });
    return await page.evaluate(() => {
      const b = (window as unknown as { __bench: Bench }).__bench;
      return { firstImageMs: Math.round(b.firstRender), allLoadedMs: Math.round(b.allLoaded), loaded: b.loaded() };
    });
  } finally {
    await context.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The same frames and series metadata fetched through the front without a browser: the archive's share. */
async function fetchSeries(front: string, studyInstanceUID: string, seriesInstanceUID: string): Promise<{ framesMs: number; metadataMs: number }> {
  const series = `${front}/dicomweb/studies/${studyInstanceUID}/series/${seriesInstanceUID}`;
  const instances = (await (await fetch(`${series}/instances`)).json()) as Array<Record<string, { Value: string[] }>>;
  const urls = instances.map((i) => `${series}/instances/${i['00080018'].Value[0]}/frames/1`);
  let next = 0;
  const started = performance.now();
  // Six at a time, as a browser talks HTTP/1.1 to one origin.
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < urls.length) {
        const res = await fetch(urls[next++], { headers: { Accept: 'multipart/related; type=application/octet-stream; transfer-syntax=*' } });
        await res.arrayBuffer();
      }
    }),
  );
  const framesMs = performance.now() - started;
  const metadataStarted = performance.now();
  await (await fetch(`${series}/metadata`)).arrayBuffer();
  return { framesMs: Math.round(framesMs), metadataMs: Math.round(performance.now() - metadataStarted) };
}

const work = mkdtempSync(join(tmpdir(), 'viewer-bench-'));
const servers: Server[] = [];
const fronts: Array<{ close(): Promise<void> }> = [];
let browser: Browser | undefined;
try {
  console.log(`generating a ${SLICES}-slice CT (512 × 512, 16-bit)…`);
  const ct = syntheticCt({ patientID: 'VIEWER-BENCH', studyDate: '20261207', studyDescription: 'CT BENCH', slices: SLICES, size: 512 });
  const ours = await startOurs(join(work, 'ours'), 18180);
  servers.push(ours);
  const orthanc = await startOrthanc(join(work, 'orthanc'), 18142);
  servers.push(orthanc);
  const post = stowClient(BOUNDARY, 4);
  for (const server of [ours, orthanc]) {
    for (let i = 0; i < ct.files.length; i += 20) {
      const status = await post(`${server.root}/studies`, multipartBody(ct.files.slice(i, i + 20), BOUNDARY));
      if (status !== 200) throw new Error(`${server.name} answered ${status} to STOW`);
    }
  }
  const sides = await Promise.all([ours, orthanc].map(async (server) => ({ server, front: await viewerFront(server.root) })));
  fronts.push(...sides.map((s) => s.front));
  const direct = new Map<string, Array<{ framesMs: number; metadataMs: number }>>(sides.map((s) => [s.server.name, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const { server, front } of sides) direct.get(server.name)!.push(await fetchSeries(front.url, ct.studyInstanceUID, ct.seriesInstanceUID));
  }
  browser = await launchBrowser();
  const results = new Map<string, Timing[]>(sides.map((s) => [s.server.name, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const { server, front } of run % 2 ? [...sides].reverse() : sides) {
      const t = await openStudy(browser, front.url, ct.studyInstanceUID, SLICES);
      results.get(server.name)!.push(t);
      console.log(`${server.name}, run ${run + 1}: first image ${t.firstImageMs} ms, all ${t.loaded} slices loaded ${t.allLoadedMs} ms`);
    }
  }
  const m = (name: string, key: keyof Timing) => median(results.get(name)!.map((t) => t[key]));
  console.log(`\n| measure (median of ${RUNS}) | this archive | Orthanc | ratio |\n|---|---|---|---|`);
  for (const [label, key] of [['first image painted', 'firstImageMs'], [`all ${SLICES} slices loaded`, 'allLoadedMs']] as const) {
    const a = m(ours.name, key);
    const b = m(orthanc.name, key);
    console.log(`| ${label} | ${a} ms | ${b} ms | ${(a / b).toFixed(2)} |`);
  }
  const d = (name: string, key: 'framesMs' | 'metadataMs') => median(direct.get(name)!.map((t) => t[key]));
  for (const [label, key] of [[`${SLICES} frames fetched without a browser (6 at a time)`, 'framesMs'], ['series metadata fetched without a browser', 'metadataMs']] as const) {
    const a = d(ours.name, key);
    const b = d(orthanc.name, key);
    console.log(`| ${label} | ${a} ms | ${b} ms | ${(a / b).toFixed(2)} |`);
  }
} finally {
  await browser?.close();
  for (const f of fronts) await f.close();
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
}
