// WADO-RS rendered resources and thumbnails (PS3.18 8.3.5, 10.4.1.1.3): consumer-ready JPEG or PNG of a
// frame, with the window, viewport and quality the request asks for.
import type { Context } from 'hono';
import pLimit from 'p-limit';
import { tagToHex, lookupKeyword } from '../../dicom/dictionary.js';
import { toLittleEndian } from '../../dicom/json-model.js';
import { parseStoredDicom } from '../../dicom/inflate.js';
import { UnsupportedEncodingError, decodeFrame } from '../../imaging/codecs.js';
import { pixelModuleOf, type PaletteLut, type PixelModule } from '../../imaging/pixels.js';
import { RenderError, encodePicture, fit, samplingStep, toPicture, type Picture, type Viewport, type Window } from '../../imaging/render.js';
import { composeOverview, overviewCells, overviewSize, slideTiling, type SlideTiling } from '../../imaging/slide-overview.js';
import type { DicomJson } from '../../dicom/json-model.js';
import type { ArchiveStorage, ReferenceScope, StoredInstance } from '../../storage/ports.js';
import { parseAccept } from '../http/accept.js';
import { HttpProblem } from '../http/problem.js';
import { warningHeader } from '../http/warning.js';
import { IMMUTABLE, etagOf, frameSource, instancesIn, notModified, parseFrameList, readBlob, readFrame } from './wado.js';

const THUMBNAIL_SIZE = 200;

function mediaTypeFor(c: Context): 'image/jpeg' | 'image/png' {
  for (const a of parseAccept(c.req.header('accept'))) {
    if (a.type === 'image/png') return 'image/png';
    if (['image/jpeg', 'image/*', '*/*'].includes(a.type)) return 'image/jpeg';
  }
  throw new HttpProblem(406, `rendered images are served as image/jpeg or image/png; Accept was "${c.req.header('accept')}"`);
}

function parseWindow(text: string | undefined): Window | undefined {
  if (text === undefined) return undefined;
  const [center, width, fn = 'linear'] = text.split(',').map((s) => s.trim());
  const c = Number(center);
  const w = Number(width);
  if (!Number.isFinite(c) || !Number.isFinite(w) || w <= 0 || !['linear', 'linear-exact', 'sigmoid'].includes(fn.toLowerCase())) {
    throw new HttpProblem(400, `window must be "center,width[,linear|linear-exact|sigmoid]" with a positive width, got "${text}"`);
  }
  return { center: c, width: w, fn: fn.toUpperCase().replace('-', '_') };
}

/**
 * `viewport=vw,vh[,sx,sy,sw,sh]` (PS3.18 8.3.5.1.3): the size of the picture, and the part of the image
 * to show in it — from (sx, sy), sw × sh pixels, each defaulting to the whole image (empty or left out);
 * a negative sw or sh mirrors that axis. Checked against the image's size before anything is decoded.
 */
function parseViewport(text: string | undefined, image: { rows: number; columns: number }): Viewport | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((s) => s.trim());
  const [vw, vh] = parts.map(Number);
  if (parts.length !== 2 && parts.length !== 6) {
    throw new HttpProblem(400, `viewport must be "vw,vh" or "vw,vh,sx,sy,sw,sh", got "${text}"`);
  }
  if (!Number.isInteger(vw) || !Number.isInteger(vh) || vw <= 0 || vh <= 0 || vw > 4096 || vh > 4096) {
    throw new HttpProblem(400, `viewport width and height must be pixels from 1 to 4096, got "${text}"`);
  }
  if (parts.length === 2 || parts.slice(2).every((p) => p === '')) return { width: vw, height: vh };
  const value = (p: string, fallback: number, name: string): number => {
    const n = p === '' ? fallback : Number(p);
    if (!Number.isInteger(n)) throw new HttpProblem(400, `viewport ${name} must be a whole number of pixels, got "${p}"`);
    return n;
  };
  const x = value(parts[2], 0, 'sx');
  const y = value(parts[3], 0, 'sy');
  const sw = value(parts[4], image.columns - x, 'sw');
  const sh = value(parts[5], image.rows - y, 'sh');
  const width = Math.abs(sw);
  const height = Math.abs(sh);
  if (x < 0 || y < 0 || width === 0 || height === 0 || x + width > image.columns || y + height > image.rows) {
    throw new HttpProblem(400, `viewport source region ${sw}×${sh} at (${x}, ${y}) does not lie within the ${image.columns}×${image.rows} image`);
  }
  return { width: vw, height: vh, region: { x, y, width, height, flipHorizontal: sw < 0, flipVertical: sh < 0 } };
}

function parseQuality(text: string | undefined): number {
  if (text === undefined) return 90;
  const q = Number(text);
  if (!Number.isInteger(q) || q < 1 || q > 100) throw new HttpProblem(400, `quality must be an integer from 1 to 100, got "${text}"`);
  return q;
}

/** Palette colour tables, read from the stored file (they are bulk data in the metadata). */
async function paletteFor(storage: ArchiveStorage, record: StoredInstance, metadata: DicomJson): Promise<PaletteLut | undefined> {
  const { dataset } = await parseStoredDicom(await readBlob(storage, record));
  const read = (keyword: string): Uint8Array | undefined => {
    const el = dataset.elements.get(lookupKeyword(keyword)!.tag);
    return el ? toLittleEndian(dataset.bytes.subarray(el.offset, el.offset + el.length), 'OW', dataset.littleEndian) : undefined;
  };
  if (read('SegmentedRedPaletteColorLookupTableData')) throw new UnsupportedEncodingError('segmented palette colour tables are not supported');
  const descriptor = metadata[tagToHex(lookupKeyword('RedPaletteColorLookupTableDescriptor')!.tag)]?.Value as number[] | undefined;
  const red = read('RedPaletteColorLookupTableData');
  if (!descriptor || !red) return undefined;
  const entries = descriptor[0] === 0 ? 65536 : descriptor[0];
  const table = (bytes: Uint8Array | undefined): Uint16Array => {
    if (!bytes) return new Uint16Array(entries);
    if (bytes.length === entries) return Uint16Array.from(bytes); // 8-bit entries, one byte each
    const copy = new Uint8Array(bytes);
    return new Uint16Array(copy.buffer, 0, copy.length >> 1);
  };
  return { red: table(red), green: table(read('GreenPaletteColorLookupTableData')), blue: table(read('BluePaletteColorLookupTableData')), firstValue: descriptor[1], bits: descriptor[2] };
}

/** What to render: one frame, a frame as a thumbnail, or (a tiled whole-slide image's thumbnail) the slide. */
type Rendering = 'frame' | 'thumbnail' | 'overview';

async function render(c: Context, storage: ArchiveStorage, record: StoredInstance, frameNumber: number, rendering: Rendering): Promise<Response> {
  const thumbnail = rendering !== 'frame';
  const warnings: string[] = [];
  const mediaType = mediaTypeFor(c);
  const window = parseWindow(c.req.query('window'));
  const quality = parseQuality(c.req.query('quality'));
  if (c.req.query('annotation') !== undefined) warnings.push('annotation is not supported and was ignored');
  const etag = etagOf([record], `-r${frameNumber}-${mediaType}-${c.req.query('window') ?? ''}-${c.req.query('viewport') ?? (thumbnail ? rendering : '')}-${quality}`);
  const cached = notModified(c, etag, IMMUTABLE);
  if (cached) return cached;
  const [stored] = await storage.index.metadataJson({
    studyInstanceUID: record.studyInstanceUID,
    seriesInstanceUID: record.seriesInstanceUID,
    sopInstanceUID: record.sopInstanceUID,
  });
  const metadata = JSON.parse(stored.json) as DicomJson;
  const pm = pixelModuleOf(metadata, frameNumber - 1);
  const viewport = parseViewport(c.req.query('viewport'), pm) ?? (thumbnail ? { width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE } : undefined);
  try {
    const tiling = rendering === 'overview' ? slideTiling(metadata) : undefined;
    let picture: Picture;
    if (tiling) picture = await slideOverview(storage, record, pm, window, tiling);
    else {
      const step = samplingStep(pm, viewport); // before decoding: a picture too large to make is refused first
      const source = await frameSource(storage, record);
      const frame = await decodeFrame(await readFrame(source, frameNumber - 1), record.transferSyntaxUID, pm);
      const palette = frame.photometricInterpretation === 'PALETTE COLOR' ? await paletteFor(storage, record, metadata) : undefined;
      picture = fit(toPicture(frame, pm, window, palette, step), viewport, step);
    }
    const body = encodePicture(picture, mediaType, quality);
    const headers: Record<string, string> = { 'Content-Type': mediaType, ETag: etag, 'Cache-Control': IMMUTABLE };
    if (warnings.length) headers.Warning = warningHeader(warnings);
    return new Response(body as Uint8Array<ArrayBuffer>, { headers });
  } catch (e) {
    if (e instanceof UnsupportedEncodingError || e instanceof RenderError) {
      throw new HttpProblem(406, `instance ${record.sopInstanceUID} cannot be rendered: ${e.message}; retrieve its frames or the instance instead`);
    }
    throw e;
  }
}

export async function retrieveRendered(c: Context, storage: ArchiveStorage, scope: Required<ReferenceScope>, frameList?: string): Promise<Response> {
  const [record] = await instancesIn(storage, scope);
  const frames = frameList ? parseFrameList(frameList, record.numberOfFrames, record.sopInstanceUID) : [1];
  if (frames.length > 1) throw new HttpProblem(400, `rendered frames are served one at a time; ask for one frame, not "${frameList}"`);
  if (!record.frames) throw new HttpProblem(404, `instance ${record.sopInstanceUID} has no image to render (no or inconsistent Pixel Data)`);
  return render(c, storage, record, frames[0], 'frame');
}

/** A thumbnail of an instance, or of the middle image of a series or study (its first series with images). */
export async function retrieveThumbnail(c: Context, storage: ArchiveStorage, scope: ReferenceScope, frameList?: string): Promise<Response> {
  const records = (await instancesIn(storage, scope)).filter((r) => r.frames);
  if (records.length === 0) throw new HttpProblem(404, `no image to make a thumbnail of in ${scope.sopInstanceUID ?? scope.seriesInstanceUID ?? scope.studyInstanceUID}`);
  const series = records[0].seriesInstanceUID;
  const inSeries = records.filter((r) => r.seriesInstanceUID === series);
  const record = inSeries[Math.floor(inSeries.length / 2)];
  const frames = frameList ? parseFrameList(frameList, record.numberOfFrames, record.sopInstanceUID) : [Math.ceil((record.numberOfFrames ?? 1) / 2)];
  return render(c, storage, record, frames[0], frameList ? 'thumbnail' : 'overview');
}

/** The whole slide of a tiled image, from a grid of its tiles decoded a few at a time. */
async function slideOverview(storage: ArchiveStorage, record: StoredInstance, pm: PixelModule, window: Window | undefined, tiling: SlideTiling): Promise<Picture> {
  const size = overviewSize(tiling, THUMBNAIL_SIZE);
  const cells = overviewCells(tiling, size);
  const source = await frameSource(storage, record);
  const limit = pLimit(4);
  const tiles = await Promise.all(
    cells.map((cell) =>
      limit(async () => {
        const frame = await decodeFrame(await readFrame(source, cell.frameIndex), record.transferSyntaxUID, pm);
        return toPicture(frame, pm, window, undefined, samplingStep(pm, { width: cell.width, height: cell.height }));
      }),
    ),
  );
  return composeOverview(size, cells, tiles);
}
