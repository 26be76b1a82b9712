// Cross-origin access for browser viewers (OHIF served from another origin) to the archive's HTTP
// applications: origins from CORS_ORIGINS (comma-separated), any origin by default; the response
// headers viewers read are exposed; the request headers a preflight asks for are allowed.
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

export function viewerCors(allowMethods: string[]): MiddlewareHandler {
  return cors({
    origin: process.env.CORS_ORIGINS?.split(',').map((s) => s.trim()) ?? '*',
    allowMethods: [...allowMethods, 'OPTIONS'],
    exposeHeaders: ['Warning', 'ETag', 'Content-Location', 'Content-Type'],
    maxAge: 600,
  });
}
