// What a cold start of a bundled function parses, and where a given dependency went: index.mjs and the chunks it imports statically,
// transitively. Chunks imported only with import() load when the code first needs them, if ever.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Minified static imports: import{a as b}from"./chunk-X.mjs", import*as a from"./…", import"./…" (never import(…)).
const STATIC_IMPORT = /\bimport\s*(?:\{[^}]*\}\s*from\s*|\*\s*as\s*[\w$]+\s*from\s*|[\w$]+\s*from\s*)?"\.\/([^"]+\.mjs)"/g;

export function loadedAtStart(dir: string, entry = 'index.mjs'): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(STATIC_IMPORT)) visit(m[1]);
  };
  visit(entry);
  return [...seen];
}

/** The chunk files whose code contains `text` (an operation name of the S3 client's schemas finds the S3 client). */
export function chunksHolding(dir: string, text: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('chunk-') && f.endsWith('.mjs') && readFileSync(join(dir, f), 'utf8').includes(text));
}
