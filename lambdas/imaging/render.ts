// From stored sample values to a picture (PS3.18 8.3.5 rendered media types): modality LUT, VOI window,
// photometric interpretation, viewport scaling, then JPEG or PNG encoding.
import { runtimePackage, type DecodedFrame } from './codecs.js';
import type { PaletteLut, PixelModule } from './pixels.js';

export interface Window {
  center: number;
  width: number;
  /** LINEAR, LINEAR_EXACT or SIGMOID (PS3.3 C.11.2.1.2). */
  fn: string;
}

export interface Viewport {
  width: number;
  height: number;
  /** The part of the image to show (PS3.18 8.3.5.1.3 sx, sy, sw, sh); the whole image without it. */
  region?: SourceRegion;
}

/** A rectangle of the image in its pixels, and whether to mirror it (a negative sw or sh asks for that). */
export interface SourceRegion {
  x: number;
  y: number;
  width: number;
  height: number;
  flipHorizontal: boolean;
  flipVertical: boolean;
}

/** An 8-bit RGBA picture. */
export interface Picture {
  width: number;
  height: number;
  rgba: Uint8Array;
}

export class RenderError extends Error {}

/** Window used when the request names none: the instance's own, else the full range of the frame. */
export function defaultWindow(pm: PixelModule, values: ArrayLike<number>): Window {
  if (pm.windowCenter !== undefined && pm.windowWidth !== undefined && pm.windowWidth > 0) {
    return { center: pm.windowCenter, width: pm.windowWidth, fn: pm.voiLutFunction };
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] * pm.rescaleSlope + pm.rescaleIntercept;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) return { center: 0, width: 1, fn: 'LINEAR' };
  return { center: (min + max) / 2, width: Math.max(1, max - min), fn: 'LINEAR_EXACT' };
}

function voi(value: number, w: Window): number {
  const { center: c, width } = w;
  if (w.fn === 'SIGMOID') return 255 / (1 + Math.exp((-4 * (value - c)) / width));
  if (w.fn === 'LINEAR_EXACT') {
    if (value <= c - width / 2) return 0;
    if (value > c + width / 2) return 255;
    return ((value - (c - width / 2)) / width) * 255;
  }
  const wl = Math.max(width, 1);
  if (value <= c - 0.5 - (wl - 1) / 2) return 0;
  if (value > c - 0.5 + (wl - 1) / 2) return 255;
  return ((value - (c - 0.5)) / (wl - 1) + 0.5) * 255;
}

const clamp8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Largest picture made before scaling to the viewport (4096 × 4096 pixels, 64 MiB of RGBA). */
export const MAX_PICTURE_PIXELS = 4096 * 4096;

/**
 * Every how many pixels a frame is sampled when it becomes a picture: a frame far larger than its viewport
 * (a thumbnail of a mammogram) is sampled down first, so the picture never holds much more than the
 * viewport shows. A picture that would still exceed MAX_PICTURE_PIXELS is refused.
 */
export function samplingStep(frame: { rows: number; columns: number }, viewport: Viewport | undefined): number {
  const width = viewport?.region?.width ?? frame.columns;
  const height = viewport?.region?.height ?? frame.rows;
  const step = viewport ? Math.max(1, Math.floor(Math.min(width / viewport.width, height / viewport.height))) : 1;
  const pixels = Math.ceil(frame.rows / step) * Math.ceil(frame.columns / step);
  if (pixels > MAX_PICTURE_PIXELS) {
    throw new RenderError(`a ${frame.columns} × ${frame.rows} frame would make a picture of ${pixels} pixels, more than the ${MAX_PICTURE_PIXELS} rendered at once; ask for a smaller viewport`);
  }
  return step;
}

/** Turns a decoded frame into RGBA, at its own size or every `step`-th pixel of it (see samplingStep). */
export function toPicture(frame: DecodedFrame, pm: PixelModule, window: Window | undefined, palette?: PaletteLut, step = 1): Picture {
  const { rows, columns } = frame;
  const n = rows * columns;
  const width = Math.ceil(columns / step);
  const height = Math.ceil(rows / step);
  const rgba = new Uint8Array(width * height * 4);
  // The sample (pixel index) that output pixel o shows.
  const sampled = step === 1 ? (o: number) => o : (o: number) => Math.floor(o / width) * step * columns + (o % width) * step;
  const count = width * height;
  const v = frame.values;
  const photometric = frame.photometricInterpretation;
  if (photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2') {
    const w = window ?? defaultWindow(pm, v);
    const invert = photometric === 'MONOCHROME1';
    // A lookup table over the stored range is much faster than windowing each pixel, when the range is small.
    const lut = buildGreyLut(pm, w, invert, v);
    for (let o = 0; o < count; o++) {
      const i = sampled(o);
      const g = lut ? lut.table[v[i] - lut.offset] : clamp8(invert ? 255 - voi(v[i] * pm.rescaleSlope + pm.rescaleIntercept, w) : voi(v[i] * pm.rescaleSlope + pm.rescaleIntercept, w));
      rgba[o * 4] = g;
      rgba[o * 4 + 1] = g;
      rgba[o * 4 + 2] = g;
      rgba[o * 4 + 3] = 255;
    }
    return { width, height, rgba };
  }
  if (photometric === 'PALETTE COLOR') {
    if (!palette) throw new RenderError('PALETTE COLOR image without a usable palette');
    const shift = palette.bits > 8 ? palette.bits - 8 : 0;
    const last = palette.red.length - 1;
    for (let o = 0; o < count; o++) {
      const idx = Math.min(last, Math.max(0, v[sampled(o)] - palette.firstValue));
      rgba[o * 4] = palette.red[idx] >> shift;
      rgba[o * 4 + 1] = palette.green[idx] >> shift;
      rgba[o * 4 + 2] = palette.blue[idx] >> shift;
      rgba[o * 4 + 3] = 255;
    }
    return { width, height, rgba };
  }
  if (frame.samplesPerPixel !== 3) throw new RenderError(`cannot render ${photometric} with ${frame.samplesPerPixel} samples per pixel`);
  const scale = pm.bitsStored > 8 ? 255 / ((1 << pm.bitsStored) - 1) : 1;
  const ybr = photometric.startsWith('YBR_FULL');
  const planar = frame.planar;
  for (let o = 0; o < count; o++) {
    const i = sampled(o);
    const a = (planar ? v[i] : v[i * 3]) * scale;
    const b = (planar ? v[n + i] : v[i * 3 + 1]) * scale;
    const c = (planar ? v[2 * n + i] : v[i * 3 + 2]) * scale;
    if (ybr) {
      rgba[o * 4] = clamp8(a + 1.402 * (c - 128));
      rgba[o * 4 + 1] = clamp8(a - 0.344136 * (b - 128) - 0.714136 * (c - 128));
      rgba[o * 4 + 2] = clamp8(a + 1.772 * (b - 128));
    } else {
      rgba[o * 4] = clamp8(a);
      rgba[o * 4 + 1] = clamp8(b);
      rgba[o * 4 + 2] = clamp8(c);
    }
    rgba[o * 4 + 3] = 255;
  }
  return { width, height, rgba };
}

function buildGreyLut(pm: PixelModule, w: Window, invert: boolean, v: ArrayLike<number>): { table: Uint8Array; offset: number } | undefined {
  if (pm.floatPixels || pm.bitsStored > 16) return undefined;
  const min = pm.pixelRepresentation === 1 ? -(1 << (pm.bitsStored - 1)) : 0;
  const max = pm.pixelRepresentation === 1 ? (1 << (pm.bitsStored - 1)) - 1 : (1 << pm.bitsStored) - 1;
  // Values outside BitsStored occur in the wild; widen the table to what this frame holds.
  let lo = min;
  let hi = max;
  for (let i = 0; i < v.length; i++) {
    if (v[i] < lo) lo = v[i];
    if (v[i] > hi) hi = v[i];
  }
  if (hi - lo > 1 << 20) return undefined;
  const table = new Uint8Array(hi - lo + 1);
  for (let s = lo; s <= hi; s++) {
    const g = clamp8(voi(s * pm.rescaleSlope + pm.rescaleIntercept, w));
    table[s - lo] = invert ? 255 - g : g;
  }
  return { table, offset: lo };
}

/** The source region of a picture, mirrored as asked. */
export function crop(picture: Picture, region: SourceRegion): Picture {
  const { x, y, width, height, flipHorizontal, flipVertical } = region;
  if (x < 0 || y < 0 || width < 1 || height < 1 || x + width > picture.width || y + height > picture.height) {
    throw new RenderError(`the source region ${width}×${height} at (${x}, ${y}) lies outside the ${picture.width}×${picture.height} image`);
  }
  const out = new Uint8Array(width * height * 4);
  for (let row = 0; row < height; row++) {
    const from = y + (flipVertical ? height - 1 - row : row);
    if (!flipHorizontal) {
      out.set(picture.rgba.subarray((from * picture.width + x) * 4, (from * picture.width + x + width) * 4), row * width * 4);
      continue;
    }
    for (let col = 0; col < width; col++) {
      const p = (from * picture.width + x + width - 1 - col) * 4;
      out.set(picture.rgba.subarray(p, p + 4), (row * width + col) * 4);
    }
  }
  return { width, height, rgba: out };
}

/** A source region in the pixels of a picture sampled every `step` pixels. */
function sampledRegion(r: SourceRegion, step: number, picture: Picture): SourceRegion {
  const x = Math.min(Math.floor(r.x / step), picture.width - 1);
  const y = Math.min(Math.floor(r.y / step), picture.height - 1);
  return { ...r, x, y, width: Math.max(1, Math.min(Math.floor(r.width / step), picture.width - x)), height: Math.max(1, Math.min(Math.floor(r.height / step), picture.height - y)) };
}

/**
 * Shows the viewport's source region (or the whole picture) scaled to fit the viewport, keeping its
 * aspect ratio (area averaging when shrinking). The viewport is a maximum, as PS3.18 reads rows and
 * columns: a picture is never enlarged past its own pixels, which would add bytes and no information
 * (a 4096 × 4096 viewport on a 512 × 512 image would cost 64 MB and seconds to encode).
 */
export function fit(whole: Picture, viewport: Viewport | undefined, step = 1): Picture {
  if (!viewport) return whole;
  const region = viewport.region && step > 1 ? sampledRegion(viewport.region, step, whole) : viewport.region;
  const picture = region ? crop(whole, region) : whole;
  const scale = Math.min(1, viewport.width / picture.width, viewport.height / picture.height);
  const width = Math.max(1, Math.round(picture.width * scale));
  const height = Math.max(1, Math.round(picture.height * scale));
  if (width === picture.width && height === picture.height) return picture;
  const out = new Uint8Array(width * height * 4);
  const sx = picture.width / width;
  const sy = picture.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.min(picture.height, Math.floor((y + 1) * sy)));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.min(picture.width, Math.floor((x + 1) * sx)));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) {
          const p = (yy * picture.width + xx) * 4;
          r += picture.rgba[p];
          g += picture.rgba[p + 1];
          b += picture.rgba[p + 2];
        }
      }
      const count = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 4;
      out[o] = r / count;
      out[o + 1] = g / count;
      out[o + 2] = b / count;
      out[o + 3] = 255;
    }
  }
  return { width, height, rgba: out };
}

export function encodePicture(picture: Picture, mediaType: 'image/jpeg' | 'image/png', quality = 90): Uint8Array {
  if (mediaType === 'image/jpeg') {
    const jpeg = runtimePackage<typeof import('jpeg-js')>('jpeg-js');
    return jpeg.encode({ data: Buffer.from(picture.rgba.buffer, picture.rgba.byteOffset, picture.rgba.byteLength), width: picture.width, height: picture.height }, quality).data;
  }
  const { PNG } = runtimePackage<typeof import('pngjs')>('pngjs');
  const png = new PNG({ width: picture.width, height: picture.height });
  png.data = Buffer.from(picture.rgba.buffer, picture.rgba.byteOffset, picture.rgba.byteLength);
  return PNG.sync.write(png);
}
