// Memory is given back: the server (in a process of its own, as `npm start` runs it) goes back to its
// baseline after refusing deflate bombs and an oversized header and after a fixed-seed fuzz run (broken
// files stored, retrieved, rendered), and never comes near the 500 MB it may use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../fuzz/corpus.js';
import { deflateBomb } from '../fuzz/mutate-instance.js';
import { runFuzz } from '../fuzz/fuzz-run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { multipartBody, BOUNDARY } from '../helpers/archive.js';
import { sampleBytes } from '../helpers/samples.js';

const MB = 1e6;

describe('memory under hostile input', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess();
  });
  afterAll(() => server?.stop());

  const stow = (body: Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/studies`, { method: 'POST', headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`, ...headers }, body });

  it('returns to its baseline after refused and completed requests, and stays far below 500 MB', async () => {
    const threadsWithoutWorkers = server.threads();
    // Warm up every path once (codecs, the index, the rendering code) so that the baseline includes them.
    await runFuzz({ url: server.url, seed: 7, count: 40, concurrency: 2 });
    // Decoding workers end after 10 s without frames (and with them their codecs' memory); both readings
    // are taken once they have, which a loaded machine can take a few seconds longer to do.
    const idle = async () => {
      await new Promise((r) => setTimeout(r, 11_000));
      for (let i = 0; i < 40 && server.threads() > threadsWithoutWorkers; i++) await new Promise((r) => setTimeout(r, 500));
      await new Promise((r) => setTimeout(r, 1000));
    };
    await idle();
    const baseline = server.rss();

    const seed = loadCorpus().find((s) => s.name === 'highdicom/ct_image.dcm')!;
    for (const mebibytes of [300, 2200, 4500]) {
      const res = await stow(multipartBody([{ bytes: deflateBomb(seed, mebibytes) }]));
      expect(res.status).toBe(409);
      expect(JSON.stringify(await res.json())).toMatch(/inflates to more than/);
    }
    const tooLarge = await stow(multipartBody([{ bytes: sampleBytes('highdicom/ct_image.dcm') }]), { 'X-Padding': 'x'.repeat(100 * 1024) });
    expect(tooLarge.status).toBe(431);
    expect(await tooLarge.json()).toMatchObject({ status: 431 });
    await runFuzz({ url: server.url, seed: 8, count: 60, concurrency: 2 });

    await idle();
    const after = server.rss();
    console.log(`server RSS: baseline ${Math.round(baseline / MB)} MB, peak ${Math.round(server.peakRss() / MB)} MB, after ${Math.round(after / MB)} MB`);
    expect(server.peakRss()).toBeLessThan(500 * MB);
    // Idle readings of the same server vary by about 100 MB from run to run (177-287 MB measured at the
    // baseline, glibc keeping or returning freed arenas), so "back to its baseline" allows that much;
    // what it guards against is gigabytes kept after the bombs, as before this work.
    expect(after).toBeLessThan(baseline + 100 * MB);
    expect(server.exited()).toBeUndefined();
  }, 180_000);
});
