// What a frame may cost to decode, checked before any decoder runs: the data set's geometry must be
// plausible and within a size budget, and the codestream's own header must describe the same image.
// A decoder handed a codestream that claims 65535 × 65535 pixels would otherwise grow its WebAssembly
// memory to gigabytes, which a WebAssembly instance never gives back.
import type { PixelModule } from './pixels.js';

/**
 * Largest decoded frame: 64 MiB holds a 16-bit 5792 × 5792 image or 8-bit colour 4729 × 4729 — more than
 * a mammogram (4096 × 5120 × 16 bits, 40 MiB); whole-slide images come as tiles. Rendering holds a few
 * times this, so the limit is what keeps a hostile frame within the server's memory.
 */
export const MAX_DECODED_FRAME_BYTES = 64 * 1024 * 1024;

interface CodestreamSize {
  rows: number;
  columns: number;
  components: number;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** JPEG (all processes) and JPEG-LS: the first start-of-frame marker (SOF0–SOF15 but DHT/JPG/DAC; SOF55 for JPEG-LS). Rows 0 means a DNL marker gives them later. */
function jpegSize(b: Uint8Array): CodestreamSize | undefined {
  if (b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    const isSof = (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7;
    if (isSof) return { rows: u16(b, i + 5), columns: u16(b, i + 7), components: b[i + 9] };
    if (marker === 0xd9 || marker === 0xda) return undefined;
    i += 2 + u16(b, i + 2);
  }
  return undefined;
}

/** JPEG 2000 and HTJ2K: the SIZ marker segment after SOC, in a raw codestream or inside a JP2 box. */
function j2kSize(b: Uint8Array): CodestreamSize | undefined {
  let at = 0;
  if (u32(b, 0) === 12 && u32(b, 4) === 0x6a502020) {
    // JP2 file: walk the boxes to the contiguous codestream box (jp2c).
    for (at = 0; at + 8 <= b.length; ) {
      const length = u32(b, at);
      if (u32(b, at + 4) === 0x6a703263) {
        at += 8;
        break;
      }
      if (length < 8) return undefined;
      at += length;
    }
  }
  if (b[at] !== 0xff || b[at + 1] !== 0x4f || b[at + 2] !== 0xff || b[at + 3] !== 0x51 || at + 42 > b.length) return undefined;
  const siz = at + 4; // Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz
  const columns = u32(b, siz + 4) - u32(b, siz + 12);
  const rows = u32(b, siz + 8) - u32(b, siz + 16);
  return { rows, columns, components: u16(b, siz + 36) };
}

const CODESTREAM_READERS: Record<string, (b: Uint8Array) => CodestreamSize | undefined> = {
  'image/jpeg': jpegSize,
  'image/jls': jpegSize,
  'image/jp2': j2kSize,
  'image/jpx': j2kSize,
  'image/jphc': j2kSize,
};

/**
 * Why a frame must not be decoded, or undefined when it may: `frameMediaType` names the codestream
 * (PS3.18's frame media type of the transfer syntax).
 */
export function frameDecodingRefusal(codestream: Uint8Array, frameMediaType: string, pm: PixelModule): string | undefined {
  const { rows, columns, samplesPerPixel, bitsAllocated } = pm;
  if (!(rows > 0 && columns > 0)) return `Rows ${rows} and Columns ${columns} describe no image`;
  if (![1, 8, 16, 32, 64].includes(bitsAllocated)) return `Bits Allocated ${bitsAllocated} is not 1, 8, 16, 32 or 64`;
  if (![1, 3, 4].includes(samplesPerPixel)) return `Samples per Pixel ${samplesPerPixel} is not 1, 3 or 4`;
  const bytes = (rows * columns * samplesPerPixel * Math.max(8, bitsAllocated)) / 8;
  if (bytes > MAX_DECODED_FRAME_BYTES) return `a ${columns} × ${rows} × ${samplesPerPixel} frame at ${bitsAllocated} bits would take ${bytes} bytes decoded, more than the ${MAX_DECODED_FRAME_BYTES} this server decodes at once`;
  const size = CODESTREAM_READERS[frameMediaType]?.(codestream);
  if (size && ((size.rows !== rows && size.rows !== 0) || size.columns !== columns || size.components !== samplesPerPixel)) {
    return `the codestream's header describes ${size.columns} × ${size.rows} × ${size.components} samples, the data set ${columns} × ${rows} × ${samplesPerPixel}`;
  }
  return undefined;
}
