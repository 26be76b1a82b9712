// The Node HTTP server both long-running runtimes use (`npm start` and the streaming runtime on Fargate).
// What Node's own server does with requests it cannot parse is not good enough for an archive on a
// hostile network: a request whose headers are too large is answered with a bare 431 and the socket is
// closed at once, so a client still sending its body gets a connection reset instead of the answer.
// Here such requests get the status and a JSON body, and the connection is closed gracefully: what the
// client still sends is read and discarded for a while, so the answer reaches it.
import { serve, type ServerType } from '@hono/node-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { problemBody } from './dicomweb/http/problem.js';

type Fetch = (request: Request, env: unknown) => Response | Promise<Response>;

/** How long a refused connection is read from (and what it sends discarded) before it is closed. */
const LINGER_MS = 2000;

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are larger than the 16 KiB this server accepts'],
  HPE_REQUEST_TIMEOUT: [408, 'the request was not received in time'],
};

function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, `the request is not valid HTTP/1.1 (${error.code ?? error.message})`];
  // A HEAD request gets no body (its request line is at the start of what the parser last read, if anywhere).
  const body = /^HEAD /.test((error as { rawPacket?: Buffer }).rawPacket?.toString('latin1', 0, 5) ?? '') ? '' : problemBody(status, message);
  // Stop feeding the HTTP parser, then read and discard until the client is done or the time is up.
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
  socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * An answer sent before its request's body was read (413 for a body past a limit, a refused STOW part) must
 * still reach a client that sends the whole body before reading: closing at once, with the body unread,
 * makes the kernel reset the connection, and the answer may be lost with it. What is left is read and
 * discarded; the connection is closed once the client has sent it (or has closed), or after LINGER_MS.
 */
function lingerUntilBodyRead(env: unknown): void {
  const { incoming, outgoing } = (env ?? {}) as { incoming?: IncomingMessage; outgoing?: ServerResponse };
  if (!incoming || !outgoing) return;
  outgoing.once('finish', () => {
    if (incoming.complete) return;
    const socket = incoming.socket;
    // Node has just ended a `Connection: close` answer's socket and would destroy it once the answer is
    // flushed (socket.destroySoon): it is destroyed here instead, when the body is in or the time is up.
    socket.removeListener('finish', socket.destroy);
    const close = () => {
      clearTimeout(cutOff);
      if (!outgoing.shouldKeepAlive) socket.destroy();
    };
    const cutOff = setTimeout(() => socket.destroy(), LINGER_MS);
    cutOff.unref();
    incoming.once('end', close);
    socket.once('close', () => clearTimeout(cutOff));
    incoming.resume();
  });
}

export function serveOnNode(fetch: Fetch, port: number, hostname: string, onListening?: () => void): ServerType {
  const lingering: Fetch = (request, env) => {
    lingerUntilBodyRead(env);
    return fetch(request, env);
  };
  const server = serve({ fetch: lingering, port, hostname }, onListening);
  server.on('clientError', answerClientError);
  return server;
}
