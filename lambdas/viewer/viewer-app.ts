// The OHIF Viewer served by the archive itself (local mode): its files from the installed distribution,
// compressed ahead of time (install-ohif.ts), and an app-config.js generated for this archive. Paths
// without a file name are the viewer's own routes (/viewer?StudyInstanceUIDs=…): its index.html.
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context } from 'hono';
import { readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { problemBody } from '../dicomweb/http/problem.js';
import { ohifAppConfig, type OhifSettings } from './ohif-config.js';
import { viewerContentSecurityPolicy } from './security-headers.js';

/** Bundles named by their content hash never change; everything else is checked again. */
const CONTENT_HASHED = /(^|[./])[0-9a-f]{16}\.(js|css|wasm)(\.br|\.gz)?$/;

function cacheHeaders(path: string, c: Context): void {
  c.header('Cache-Control', CONTENT_HASHED.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
  c.header('Last-Modified', statSync(path).mtime.toUTCString());
}

export function createViewerApp(dist: string, settings: OhifSettings): Hono {
  const app = new Hono();
  const config = ohifAppConfig(settings);
  // serveStatic takes its root relative to the working directory.
  const root = relative(process.cwd(), dist) || '.';
  // A DICOMweb root on another origin (PUBLIC_URL) must be reachable from the page.
  const dicomWebOrigin = /^https?:\/\//.test(settings.dicomWebRoot) ? [new URL(settings.dicomWebRoot).origin] : [];
  const policy = viewerContentSecurityPolicy(readFileSync(join(dist, 'index.html'), 'utf8'), dicomWebOrigin);
  app.use('*', async (c, next) => {
    await next();
    c.header('Content-Security-Policy', policy);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('X-Frame-Options', 'DENY');
    c.header('Referrer-Policy', 'same-origin');
  });
  app.get('/app-config.js', (c) => c.body(config, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' }));
  app.on(['GET', 'HEAD'], '*', serveStatic({ root, precompressed: true, onFound: cacheHeaders }));
  const index = serveStatic({ root, path: 'index.html', precompressed: true, onFound: cacheHeaders });
  app.on(['GET', 'HEAD'], '*', (c, next) => (extname(c.req.path) ? next() : index(c, next)));
  app.all('*', (c, next) =>
    ['GET', 'HEAD'].includes(c.req.method) ? next() : c.body(problemBody(405, `the viewer's files are read with GET, not ${c.req.method}`), 405, { 'Content-Type': 'application/json', Allow: 'GET, HEAD' }),
  );
  app.notFound((c) => c.body(problemBody(404, `the viewer has no file at ${c.req.path}`), 404, { 'Content-Type': 'application/json' }));
  return app;
}
