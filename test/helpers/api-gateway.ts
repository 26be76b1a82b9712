// A stand-in for the deployment's front door, for tests: requests are routed as the CloudFront function
// routes them (lambdas/aws/edge/route.ts) either to the streaming runtime (a plain HTTP origin) or to
// API Gateway (REST API, Lambda proxy integration, binary media types */*) in front of the Lambda handler.
// Each API Gateway request becomes the event API Gateway would send, with the limits a deployment has:
// 10 MB request bodies at API Gateway (413), 6 MB invocation payloads at Lambda (413 for requests; 502 for
// responses, as API Gateway reports a function result it cannot take).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { runtimeFor } from '../../lambdas/aws/edge/route.js';

export const API_GATEWAY_MAX_BODY = 10 * 1024 * 1024;
export const LAMBDA_MAX_REQUEST = 6_291_456;
export const LAMBDA_MAX_RESPONSE = 6_291_556;

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface ApiGatewayStandIn {
  url: string;
  /** Requests each runtime served. */
  served: { lambda: number; streaming: number };
  close(): Promise<void>;
}

/**
 * What the Cognito authorizer hands the function: the access token's claims. The stand-in checks no
 * signature (the token checks are tested where the archive makes them: bearer-scopes, the streaming
 * runtime); it passes on the claims of the token a request carries, as the authorizer does once it has.
 */
function authorizerOf(headers: Record<string, string>): APIGatewayProxyEvent['requestContext']['authorizer'] {
  const header = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  const payload = /^Bearer\s+[^.]+\.([^.]+)\./i.exec(header ?? '')?.[1];
  if (!payload) return null;
  return { claims: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, string> };
}

function eventOf(req: http.IncomingMessage, body: Buffer, stage: string): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    headers[name] = req.rawHeaders[i + 1];
    (multiValueHeaders[name] ??= []).push(req.rawHeaders[i + 1]);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const path = url.pathname;
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length ? multiQuery : null,
    pathParameters: { proxy: path.slice(1) },
    stageVariables: null,
    body: body.length ? body.toString('base64') : null,
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      authorizer: authorizerOf(headers),
      protocol: 'HTTP/1.1',
      httpMethod: req.method ?? 'GET',
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1' } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/${stage}${path}`,
      stage,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'proxy',
      resourcePath: '/{proxy+}',
    },
  };
}

/** Relays a request unchanged to the streaming runtime's origin. */
function proxy(req: http.IncomingMessage, res: http.ServerResponse, origin: string): void {
  const upstream = http.request(new URL(req.url ?? '/', origin), { method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
}

/** With `streamingOrigin` undefined (a region without a streaming runtime), Lambda serves every request. */
export async function startApiGateway(handler: Handler, streamingOrigin: string | undefined, stage = 'prod'): Promise<ApiGatewayStandIn> {
  const served = { lambda: 0, streaming: 0 };
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (streamingOrigin && runtimeFor(req.method ?? 'GET', path, req.headers['content-length']) === 'streaming') {
      served.streaming++;
      return proxy(req, res, streamingOrigin);
    }
    served.lambda++;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= API_GATEWAY_MAX_BODY) chunks.push(chunk);
    }
    const reply = (status: number, message: string) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message }));
    };
    if (size > API_GATEWAY_MAX_BODY) return reply(413, 'Request Too Large');
    const event = eventOf(req, Buffer.concat(chunks), stage);
    event.headers['X-Forwarded-Proto'] = 'http'; // API Gateway says https; this stand-in serves plain HTTP
    event.headers['X-Forwarded-Host'] = req.headers.host ?? ''; // as the CloudFront function does in front of API Gateway
    if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_MAX_REQUEST) return reply(413, 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
    let result: APIGatewayProxyResult;
    try {
      result = await handler(event, { awsRequestId: event.requestContext.requestId } as Context);
    } catch {
      return reply(502, 'Internal server error');
    }
    if (Buffer.byteLength(JSON.stringify(result)) > LAMBDA_MAX_RESPONSE) return reply(502, 'Internal server error');
    const headers: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
    for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String);
    res.writeHead(result.statusCode, headers);
    res.end(result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
