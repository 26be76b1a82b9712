// The floor of a Node STOW-RS server (test/bench/stow-floor.ts): receive the multipart body with the
// archive's multipart parser and make every part durable in its own file (write, fdatasync) before
// answering. No DICOM parsing, hashing, index or response body: what any Node archive must pay at least.
// Usage: node stow-floor-server.mjs <directory> <port>
import { mkdir, open } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { getMultipartBoundary, MultipartParser } from '@remix-run/multipart-parser';

const [dir, port] = process.argv.slice(2);
await mkdir(dir, { recursive: true });
let files = 0;

async function writeDurably(path, bytes) {
  const file = await open(path, 'wx');
  try {
    await file.writeFile(bytes);
    await file.datasync();
  } finally {
    await file.close();
  }
}

http
  .createServer(async (req, res) => {
    const parser = new MultipartParser(getMultipartBoundary(req.headers['content-type'] ?? ''), { maxFileSize: 1e9, maxTotalSize: 1e10 });
    const writes = [];
    for await (const chunk of req) {
      for (const part of parser.write(chunk)) {
        const bytes = part.content.length === 1 ? part.content[0] : Buffer.concat(part.content);
        writes.push(writeDurably(join(dir, `${files++}.dcm`), bytes));
      }
    }
    parser.finish();
    await Promise.all(writes);
    res.writeHead(200, { 'Content-Type': 'application/dicom+json' });
    res.end('{}');
  })
  .listen(Number(port), '127.0.0.1');
