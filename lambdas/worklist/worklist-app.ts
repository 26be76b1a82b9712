// The reading worklist page served by the archive (local mode) at /worklist/: the page's files and a
// config.json that tells it where the AI pipeline's API and the viewer are. The page reads the same
// APIs a third party would.
import { Hono } from 'hono';
import { problemBody } from '../dicomweb/http/problem.js';
import { buildWorklistPage, type PageFile } from './build-page.js';

export interface WorklistPageSettings {
  /** Root of the AI pipeline's API as the browser reaches it. */
  aiRoot: string;
  /** The DICOMweb root (its UPS-RS workitems) as the browser reaches it. */
  dicomWebRoot: string;
  /** The viewer's study route; none when no viewer is served. */
  viewerUrl?: string;
}

export function createWorklistApp(settings: WorklistPageSettings): Hono {
  const app = new Hono();
  let files: Promise<Map<string, PageFile>> | undefined;
  const config = JSON.stringify(settings);
  // Relative links in the page resolve under /worklist/.
  app.get('/worklist', (c) => c.redirect('/worklist/', 301));
  app.get('/worklist/config.json', (c) => c.body(config, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' }));
  app.get('/worklist/:file{.*}', async (c) => {
    files ??= buildWorklistPage();
    const file = (await files).get(c.req.param('file') || 'index.html');
    if (!file) return c.body(problemBody(404, `the worklist page has no file at ${c.req.path}`), 404, { 'Content-Type': 'application/json' });
    return c.body(file.body, 200, { 'Content-Type': file.contentType, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
  });
  app.notFound((c) => c.body(problemBody(404, `no worklist resource at ${c.req.method} ${c.req.path}`), 404, { 'Content-Type': 'application/json' }));
  return app;
}
