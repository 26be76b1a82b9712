// A whole-slide image at real size through `npm start`'s server: stored with single-part and with multipart
// STOW-RS while the server's resident memory is watched, then its frames, metadata, a rendered frame and
// the thumbnail timed. Results go in docs/benchmarks.md.
//   npm run bench:wsi                  (40,000 tiles, about 2.3 GiB, generated into a temporary directory)
//   WSI_FILE=slide.dcm npm run bench:wsi   (an existing file; WSI_FRAMES sets the generated size)
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { writeWsi } from './make-wsi.js';

const FRAMES = Number(process.env.WSI_FRAMES ?? 40_000);
const uids = { study: '2.25.7310001', series: '2.25.7310002', sop: '2.25.7310003' };
const BOUNDARY = 'wsiBenchBoundary7310';

/** Sends `body` (streamed from the file) and returns the status and the time to the answer. */
function post(url: string, contentType: string, body: () => Readable, length: number): Promise<{ status: number; ms: number; text: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': String(length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, text }));
    });
    req.on('error', reject);
    body().pipe(req);
  });
}

/** Samples the server's resident memory while `work` runs: the highest seen. */
async function watchRss(server: ServerProcess, work: () => Promise<void>): Promise<number> {
  let peak = server.rss();
  const timer = setInterval(() => (peak = Math.max(peak, server.rss())), 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, server.rss());
}

/** Times a GET, counting the answer's bytes as they arrive (never holding them). */
async function timed(url: string, accept: string): Promise<{ ms: number; status: number; bytes: number }> {
  const started = performance.now();
  const res = await fetch(url, { headers: { Accept: accept } });
  let bytes = 0;
  for await (const chunk of (res.body ?? []) as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
  return { ms: performance.now() - started, status: res.status, bytes };
}

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wsi-bench-'));
  try {
    let path = process.env.WSI_FILE;
    if (!path) {
      path = join(dir, 'slide.dcm');
      const started = performance.now();
      await writeWsi(path, FRAMES, uids);
      console.log(`generated ${FRAMES} tiles, ${mib(statSync(path).size)}, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const size = statSync(path).size;
    const limit = String(4 * 1024 ** 3);
    const server = await startServerProcess({ MAX_INSTANCE_BYTES: limit, MAX_REQUEST_BYTES: limit, VIEWER: 'off' });
    try {
      const idle = server.rss();
      console.log(`server resident at rest: ${mib(idle)}`);
      let single = { status: 0, ms: 0, text: '' };
      const singlePeak = await watchRss(server, async () => {
        single = await post(`${server.url}/studies`, 'application/dicom', () => createReadStream(path), size);
      });
      console.log(`single-part STOW: ${single.status} in ${(single.ms / 1000).toFixed(1)} s (${mib(size / (single.ms / 1000))}/s), server peak resident ${mib(singlePeak)}`);
      if (single.status !== 200) console.log(single.text);
      // The same instance again in a multipart body: stored once (identical), read and checked the same way.
      const head = Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`);
      const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
      let multi = { status: 0, ms: 0, text: '' };
      const multiPeak = await watchRss(server, async () => {
        const body = () => Readable.from((async function* () {
          yield head;
          yield* createReadStream(path);
          yield tail;
        })());
        multi = await post(`${server.url}/studies`, `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`, body, head.length + size + tail.length);
      });
      console.log(`multipart STOW: ${multi.status} in ${(multi.ms / 1000).toFixed(1)} s, server peak resident ${mib(multiPeak)}`);
      const instance = `${server.url}/studies/${uids.study}/series/${uids.series}/instances/${uids.sop}`;
      for (const n of [1, Math.ceil(FRAMES / 2), FRAMES]) {
        const f = await timed(`${instance}/frames/${n}`, 'multipart/related; type="image/jpeg"; transfer-syntax=*');
        console.log(`frame ${n}: ${f.status} ${f.ms.toFixed(0)} ms (${f.bytes} bytes)`);
      }
      const metadata = await timed(`${instance}/metadata`, 'application/dicom+json');
      console.log(`metadata: ${metadata.status} ${metadata.ms.toFixed(0)} ms`);
      const rendered = await timed(`${instance}/frames/1/rendered`, 'image/jpeg');
      console.log(`rendered frame: ${rendered.status} ${rendered.ms.toFixed(0)} ms (${rendered.bytes} bytes)`);
      const thumbnail = await timed(`${instance}/thumbnail`, 'image/jpeg');
      console.log(`thumbnail: ${thumbnail.status} ${thumbnail.ms.toFixed(0)} ms (${thumbnail.bytes} bytes)`);
      // The whole instance as stored, read by the client as it comes.
      let whole = { ms: 0, status: 0, bytes: 0 };
      const retrievePeak = await watchRss(server, async () => {
        whole = await timed(instance, 'application/dicom; transfer-syntax=*');
      });
      console.log(`whole instance as stored: ${whole.status} ${(whole.ms / 1000).toFixed(1)} s (${mib(whole.bytes)}), server peak resident ${mib(retrievePeak)}`);
      const refused = await timed(instance, 'application/dicom');
      console.log(`whole instance decompressed (refused, not read): ${refused.status} ${refused.ms.toFixed(0)} ms`);
      console.log(`server peak resident over the run (VmHWM): ${mib(server.peakRss())}`);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
