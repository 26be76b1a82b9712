// Install step (npm's postinstall): fetches the prebuilt OHIF Viewer as its package tarball (npm pack:
// the registry, npm's cache and its integrity check; not the viewer's dependency tree), unpacks it
// without source maps, and compresses its text and WebAssembly files once (.br and .gz beside each), so
// that the archive sends a 17 MB bundle as 3 MB without compressing it per request.
// VIEWER=off skips it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { constants, brotliCompressSync, gzipSync } from 'node:zlib';
import { OHIF_HOME, OHIF_VERSION, installedOhif } from './ohif-package.js';

/** Files worth compressing (what browsers fetch as text or WebAssembly), above this size. */
const COMPRESSIBLE = /\.(js|mjs|css|html|json|wasm|svg|txt|xml)$/;
const MIN_COMPRESSED_SIZE = 1024;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Brotli at quality 5 (a fifth of the time of quality 9 for 6 % more bytes) and gzip for clients without it. */
function precompress(dist: string): number {
  let count = 0;
  for (const file of filesUnder(dist)) {
    if (!COMPRESSIBLE.test(file) || statSync(file).size < MIN_COMPRESSED_SIZE) continue;
    const bytes = readFileSync(file);
    writeFileSync(`${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }));
    writeFileSync(`${file}.gz`, gzipSync(bytes, { level: 6 }));
    count++;
  }
  return count;
}

function install(): void {
  if (process.env.VIEWER?.trim().toLowerCase() === 'off') {
    console.log('OHIF Viewer: not installed (VIEWER=off)');
    return;
  }
  if (installedOhif()) return;
  const started = Date.now();
  mkdirSync(join(OHIF_HOME, '..'), { recursive: true });
  const work = mkdtempSync(join(OHIF_HOME, '..', `.ohif-app-${OHIF_VERSION}-`));
  try {
    const packed = JSON.parse(execFileSync('npm', ['pack', `@ohif/app@${OHIF_VERSION}`, '--json', '--pack-destination', work], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as Array<{ filename: string }>;
    execFileSync('tar', ['-xzf', join(work, packed[0].filename), '-C', work, '--exclude=*.map']);
    const compressed = precompress(join(work, 'package', 'dist'));
    rmSync(OHIF_HOME, { recursive: true, force: true });
    // Moved into place whole, so that an interrupted install leaves no half viewer behind.
    renameSync(join(work, 'package'), OHIF_HOME);
    console.log(`OHIF Viewer ${OHIF_VERSION}: installed in ${OHIF_HOME} (${compressed} files precompressed, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

install();
