// multipart/related responses (RFC 2387) streamed part by part, so a study is never held in memory.
import { randomUUID } from 'node:crypto';

export interface ResponsePart {
  contentType: string;
  contentLocation?: string;
  /** The part's bytes, or its consecutive pieces (a transcoded instance is not joined into one buffer). */
  body: Uint8Array | readonly Uint8Array[];
}

export function multipartBoundary(): string {
  return `DICOMwebBoundary${randomUUID().replace(/-/g, '')}`;
}

export function multipartContentType(boundary: string, partType: string, transferSyntax?: string): string {
  return `multipart/related; type="${partType}"; boundary=${boundary}${transferSyntax ? `; transfer-syntax=${transferSyntax}` : ''}`;
}

/** Streams parts produced lazily (each `next()` may read from storage). */
export function multipartStream(boundary: string, parts: AsyncIterable<ResponsePart>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = parts[Symbol.asyncIterator]();
  let finished = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (finished) return;
      const { value, done } = await iterator.next();
      if (done) {
        finished = true;
        controller.enqueue(encoder.encode(`--${boundary}--\r\n`));
        controller.close();
        return;
      }
      const pieces = value.body instanceof Uint8Array ? [value.body] : value.body;
      const head =
        `--${boundary}\r\nContent-Type: ${value.contentType}\r\n` +
        (value.contentLocation ? `Content-Location: ${value.contentLocation}\r\n` : '') +
        `Content-Length: ${pieces.reduce((n, p) => n + p.byteLength, 0)}\r\n\r\n`;
      controller.enqueue(encoder.encode(head));
      for (const piece of pieces) controller.enqueue(piece);
      controller.enqueue(encoder.encode('\r\n'));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
