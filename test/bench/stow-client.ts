// What the STOW benchmarks share: a lean multipart upload client and the server's CPU from /proc.
import http from 'node:http';
import { readFileSync } from 'node:fs';

/** A multipart/related body of Part 10 instances, one part each. */
export function multipartBody(instances: Uint8Array[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const bytes of instances) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(bytes), Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/**
 * POSTs a STOW-RS body and resolves with the status. Uploads go through node:http, the leanest client
 * here, so that the client takes as little as possible of the two cores it shares with the server.
 */
export function stowClient(boundary: string, maxSockets: number): (url: string, body: Buffer) => Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return (url, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        url,
        { method: 'POST', agent, headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'Content-Length': body.length, Accept: 'application/dicom+json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

/** CPU time a process has used in user space and in the kernel, in milliseconds (Linux clock ticks are 1/100 s). */
export function processCpuMs(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}
