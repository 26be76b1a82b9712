// multipart/related responses (RFC 2387) streamed part by part, so a study is never held in memory.
import { randomUUID } from 'node:crypto';

/** Bytes read as they are sent (a stored file of gigabytes), with their length known beforehand. */
export interface StreamedBody {
  length: number;
  chunks: AsyncIterable<Uint8Array>;
}

export interface ResponsePart {
  contentType: string;
  contentLocation?: string;
  /** The part's bytes, its consecutive pieces (a transcoded instance is not joined into one buffer), or a stream. */
  body: Uint8Array | readonly Uint8Array[] | StreamedBody;
}

export function isStreamedBody(body: ResponsePart['body']): body is StreamedBody {
  return !(body instanceof Uint8Array) && !Array.isArray(body);
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
  // A streamed part in progress: one chunk per pull, so the client's pace sets how much is read.
  let streaming: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (finished) return;
      if (streaming) {
        const next = await streaming.next();
        if (!next.done) {
          controller.enqueue(next.value);
          return;
        }
        streaming = undefined;
        controller.enqueue(encoder.encode('\r\n'));
        return;
      }
      const { value, done } = await iterator.next();
      if (done) {
        finished = true;
        controller.enqueue(encoder.encode(`--${boundary}--\r\n`));
        controller.close();
        return;
      }
      const body = value.body;
      const pieces = isStreamedBody(body) ? [] : body instanceof Uint8Array ? [body] : body;
      const head =
        `--${boundary}\r\nContent-Type: ${value.contentType}\r\n` +
        (value.contentLocation ? `Content-Location: ${value.contentLocation}\r\n` : '') +
        `Content-Length: ${isStreamedBody(body) ? body.length : pieces.reduce((n, p) => n + p.byteLength, 0)}\r\n\r\n`;
      controller.enqueue(encoder.encode(head));
      if (isStreamedBody(body)) {
        streaming = body.chunks[Symbol.asyncIterator]();
        return;
      }
      for (const piece of pieces) controller.enqueue(piece);
      controller.enqueue(encoder.encode('\r\n'));
    },
    async cancel() {
      await streaming?.return?.();
      await iterator.return?.();
    },
  });
}
