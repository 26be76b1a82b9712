// The reading worklist page as the files a browser loads: its HTML and CSS as written, its TypeScript
// bundled by esbuild into one module. Built once per process (and by the deployment for its bucket).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PageFile {
  body: string;
  contentType: string;
}

const pageFile = (name: string) => fileURLToPath(new URL(`./page/${name}`, import.meta.url));

/** index.html, worklist.css and worklist.js, by name. */
export async function buildWorklistPage(): Promise<Map<string, PageFile>> {
  const bundled = await build({ entryPoints: [pageFile('worklist.ts')], bundle: true, format: 'esm', target: 'es2022', minify: true, write: false, logLevel: 'silent' });
  return new Map([
    ['index.html', { body: readFileSync(pageFile('worklist.html'), 'utf8'), contentType: 'text/html; charset=utf-8' }],
    ['worklist.css', { body: readFileSync(pageFile('worklist.css'), 'utf8'), contentType: 'text/css; charset=utf-8' }],
    ['worklist.js', { body: bundled.outputFiles[0].text, contentType: 'text/javascript; charset=utf-8' }],
  ]);
}
