// The Content Security Policy the viewer is served with, locally and by CloudFront alike: exactly what
// OHIF needs — its own scripts and the index page's two inline ones (by hash), WebAssembly, eval and
// workers (its codecs decode frames in workers and evaluate strings there), inline styles (its UI library sets them),
// images from blob/data URLs (thumbnails, rendered canvases) — and requests to this origin and to the
// origins it is told of (on AWS, the sign-in domain). Nothing may frame the viewer.
import { createHash } from 'node:crypto';

/** The SHA-256 source expression of each inline <script> of an HTML page. */
export function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)]
    .map((m) => m[1])
    .filter((code) => code.trim())
    .map((code) => `'sha256-${createHash('sha256').update(code).digest('base64')}'`);
}

/** `otherOrigins`: what the viewer talks to besides its own origin (a DICOMweb root elsewhere, the sign-in domain). */
export function viewerContentSecurityPolicy(indexHtml: string, otherOrigins: string[] = []): string {
  const others = otherOrigins.map((o) => ` ${o}`).join('');
  return [
    "default-src 'self'",
    // 'unsafe-eval': OHIF's frame decoders evaluate strings in their workers (seen as EvalError without it).
    `script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' ${inlineScriptHashes(indexHtml).join(' ')}`,
    "worker-src 'self' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self' blob: data:${others}`,
    `form-action 'self'${others}`,
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'self'",
  ].join('; ');
}
