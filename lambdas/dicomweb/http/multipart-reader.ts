// Reads a multipart request body (RFC 2046, RFC 2387) as it arrives: each part's headers, then its content
// in pieces, so that a part of gigabytes (a whole-slide image) never has to be held whole. The boundary
// search is streamsearch's (the engine of busboy); this module only frames parts around it.
import StreamSearch from 'streamsearch';

/** The body is not a well-formed multipart message (the parts before the problem are complete). */
export class MultipartFormatError extends Error {}

/** The parts' content exceeds a size limit (answered 413). */
export class MultipartLimitError extends Error {}

export interface MultipartLimits {
  /** Largest header block of one part. */
  maxHeaderSize: number;
  /** Largest content of one part. */
  maxPartSize: number;
  /** Largest content of all parts together. */
  maxTotalSize: number;
  maxParts: number;
}

export type MultipartEvent =
  | { type: 'headers'; headers: Record<string, string> }
  /** A piece of the current part's content; it may be kept (never reused by the reader). */
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'end' };

type State = 'preamble' | 'delimiter' | 'headers' | 'content' | 'epilogue';

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
/** A delimiter line may carry transport padding (RFC 2046 5.1.1) before its CRLF; not a novel's worth. */
const MAX_DELIMITER_LINE = 1024;
/** What is read and ignored after the closing delimiter. */
const MAX_EPILOGUE = 1024 * 1024;

/**
 * The parts of `body` as events: `headers`, then `data` pieces, then `end`, for each complete part. A part
 * is complete only when the next delimiter arrives, so a truncated last part is never reported as ended.
 * Throws MultipartFormatError or MultipartLimitError where the body goes wrong.
 */
export async function* readMultipart(body: AsyncIterable<Uint8Array>, boundary: string, limits: MultipartLimits): AsyncGenerator<MultipartEvent> {
  let state = 'preamble' as State;
  let pending: Buffer = Buffer.alloc(0); // bytes of a delimiter line or header block seen so far
  let partSize = 0;
  let totalSize = 0;
  let parts = 0;
  let failure: Error | undefined;
  let events: MultipartEvent[] = [];

  const content = (bytes: Uint8Array) => {
    partSize += bytes.length;
    totalSize += bytes.length;
    if (partSize > limits.maxPartSize) throw new MultipartLimitError(`a part is larger than ${limits.maxPartSize} bytes`);
    if (totalSize > limits.maxTotalSize) throw new MultipartLimitError(`the parts hold more than ${limits.maxTotalSize} bytes`);
    events.push({ type: 'data', bytes });
  };
  // Bytes after a delimiter: "--" closes the body; otherwise padding up to CRLF, then the part's headers.
  const afterDelimiter = (bytes: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, bytes]) : bytes;
    if (pending.length < 2) return;
    if (pending[0] === 0x2d && pending[1] === 0x2d) {
      state = 'epilogue';
      return;
    }
    const eol = pending.indexOf(CRLF);
    if (eol < 0) {
      if (pending.length > MAX_DELIMITER_LINE) throw new MultipartFormatError(`the line after a boundary delimiter does not end (no CRLF within ${MAX_DELIMITER_LINE} bytes)`);
      return;
    }
    if (!/^[ \t]*$/.test(pending.toString('latin1', 0, eol))) throw new MultipartFormatError('a boundary delimiter is followed by text on its line');
    if (++parts > limits.maxParts) throw new MultipartFormatError(`the body holds more than ${limits.maxParts} parts`);
    const rest = pending.subarray(eol + 2);
    pending = Buffer.alloc(0);
    state = 'headers';
    partSize = 0;
    inHeaders(rest);
  };
  const inHeaders = (bytes: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, bytes]) : bytes;
    // A part without headers starts its content right after the delimiter line.
    const end = pending[0] === 0x0d && pending[1] === 0x0a ? -2 : pending.indexOf(HEADER_END);
    if (end === -1) {
      if (pending.length > limits.maxHeaderSize) throw new MultipartFormatError(`the headers of part ${parts} are longer than ${limits.maxHeaderSize} bytes`);
      return;
    }
    if (end > limits.maxHeaderSize) throw new MultipartFormatError(`the headers of part ${parts} are longer than ${limits.maxHeaderSize} bytes`);
    events.push({ type: 'headers', headers: parseHeaders(end < 0 ? '' : pending.toString('latin1', 0, end)) });
    const rest = pending.subarray(end + 4);
    pending = Buffer.alloc(0);
    state = 'content';
    if (rest.length) content(rest);
  };

  // The body's first delimiter has no CRLF before it: one is supplied, so every delimiter is "\r\n--boundary".
  const search = new StreamSearch(Buffer.from(`\r\n--${boundary}`, 'latin1'), (isMatch, data, start, end, isSafeData) => {
    if (failure) return;
    try {
      if (data && end > start) {
        const bytes = isSafeData ? data.subarray(start, end) : Buffer.from(data.subarray(start, end));
        if (state === 'content') content(bytes);
        else if (state === 'delimiter') afterDelimiter(bytes);
        else if (state === 'headers') inHeaders(bytes);
      }
      if (!isMatch) return;
      if (state === 'content') events.push({ type: 'end' });
      else if (state === 'headers' || state === 'delimiter') throw new MultipartFormatError(`part ${parts} ends inside its headers`);
      if (state !== 'epilogue') {
        state = 'delimiter';
        pending = Buffer.alloc(0);
      }
    } catch (e) {
      failure = e as Error;
    }
  });

  search.push(CRLF);
  let epilogue = 0;
  for await (const chunk of body) {
    if (state === 'epilogue') {
      // Read on (the client sends its body before reading the answer), up to a limit.
      if ((epilogue += chunk.length) > MAX_EPILOGUE) return;
      continue;
    }
    search.push(chunk);
    const ready = events;
    events = [];
    yield* ready;
    if (failure) throw failure;
  }
  search.destroy();
  yield* events;
  if (failure) throw failure;
  if (state === 'preamble') throw new MultipartFormatError(`the body holds no boundary delimiter "--${boundary}"`);
  if (state !== 'epilogue') throw new MultipartFormatError(`the body ends before its closing delimiter "--${boundary}--"${state === 'content' ? ': its last part is incomplete' : ''}`);
}

/** Header lines of one part (RFC 822 style; folded lines joined), names lower-cased. */
function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  let last: string | undefined;
  for (const line of block ? block.split('\r\n') : []) {
    if (/^[ \t]/.test(line) && last) {
      headers[last] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartFormatError(`a part header line is not "name: value": "${line.slice(0, 80)}"`);
    last = line.slice(0, colon).trim().toLowerCase();
    headers[last] = line.slice(colon + 1).trim();
  }
  return headers;
}
