// The image codec packages that lambdas/imaging loads with require() at run time, laid out as a
// node_modules directory to place beside a bundle: cornerstone's WebAssembly builds as published, and the
// others bundled into the one file their package.json names, beside their WebAssembly module if any
// (dcmjs-codecs' dependencies, dcmjs and what dcmjs needs, would be ~35 MB of node_modules; bundled ~1 MB).
// Built once per synthesis, for the streaming runtime and the functions that decode pixels.
import { buildSync } from 'esbuild';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FRAME_DECODER_PACKAGE } from '../../lambdas/imaging/frame-decoder-pool.js';
import { BUNDLE_BANNER, repoFile } from './archive-function.js';

/** Loaded by lambdas/imaging/codecs.ts, and Piscina by lambdas/imaging/frame-decoder-pool.ts (its worker pool). */
export const CODEC_PACKAGES = [
  'piscina',
  '@cornerstonejs/codec-charls',
  '@cornerstonejs/codec-libjpeg-turbo-8bit',
  '@cornerstonejs/codec-libjxl',
  '@cornerstonejs/codec-openjpeg',
  '@cornerstonejs/codec-openjph',
];
/**
 * Bundled into one file each: dcmjs-codecs (lambdas/imaging/native-codecs.ts: 12-bit JPEG, encoders), the
 * JPEG lossless decoder (lambdas/imaging/codecs.ts) and the JPEG and PNG writers of rendered images
 * (lambdas/imaging/render.ts), loaded with runtimePackage().
 */
export const BUNDLED_CODEC_PACKAGES = ['dcmjs-codecs', 'jpeg-lossless-decoder-js', 'jpeg-js', 'pngjs'];

/** A CommonJS package as one file where its package.json's `main` points, with the .wasm files beside it. */
function bundlePackage(pkg: string, into: string): void {
  const manifest = JSON.parse(readFileSync(repoFile(`node_modules/${pkg}/package.json`), 'utf8')) as { name: string; version: string; main: string };
  const main = repoFile(`node_modules/${pkg}/${manifest.main}`);
  const outfile = join(into, manifest.main);
  buildSync({ entryPoints: [main], outfile, bundle: true, platform: 'node', format: 'cjs', target: 'node22', minify: true, logLevel: 'warning' });
  for (const file of readdirSync(dirname(main)).filter((f) => f.endsWith('.wasm'))) cpSync(join(dirname(main), file), join(dirname(outfile), file));
  mkdirSync(into, { recursive: true });
  writeFileSync(join(into, 'package.json'), JSON.stringify({ name: manifest.name, version: manifest.version, main: manifest.main }));
}

/**
 * The frame-decoding worker (lambdas/imaging/frame-decoder-worker.ts) built into one ES module, shipped as a
 * package of its own so that the pool finds it with require.resolve and it finds the codecs beside it.
 */
function bundleFrameDecoder(into: string): void {
  buildSync({
    entryPoints: [repoFile('lambdas/imaging/frame-decoder-worker.ts')],
    outfile: join(into, 'worker.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    external: ['piscina'],
    banner: { js: BUNDLE_BANNER },
    tsconfig: repoFile('tsconfig.json'),
    logLevel: 'warning',
  });
  writeFileSync(join(into, 'package.json'), JSON.stringify({ name: FRAME_DECODER_PACKAGE, version: '1.0.0', type: 'module', main: 'worker.mjs' }));
}

let built: string | undefined;

/** A directory holding `node_modules/` with every codec package, ready to copy beside a bundle. */
export function codecModules(): string {
  if (built) return built;
  const root = mkdtempSync(join(tmpdir(), 'codec-modules-'));
  // Assets are copied from it during synthesis; nothing needs it once the process ends.
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  for (const pkg of CODEC_PACKAGES) cpSync(repoFile(`node_modules/${pkg}`), join(root, 'node_modules', pkg), { recursive: true });
  for (const pkg of BUNDLED_CODEC_PACKAGES) bundlePackage(pkg, join(root, 'node_modules', pkg));
  bundleFrameDecoder(join(root, 'node_modules', FRAME_DECODER_PACKAGE));
  built = root;
  return root;
}
