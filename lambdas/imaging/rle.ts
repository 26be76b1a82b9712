// DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, each segment a
// PackBits stream of one byte plane (most significant byte first, one plane per sample and byte).
export class RleError extends Error {}

/**
 * Decodes one RLE frame into native little endian pixel data, samples interleaved
 * (PlanarConfiguration 0), as a Uint8Array of rows * columns * samples * bytesPerSample bytes.
 */
export function decodeRle(frame: Uint8Array, rows: number, columns: number, samplesPerPixel: number, bitsAllocated: number): Uint8Array {
  if (frame.length < 64) throw new RleError('RLE frame shorter than its 64-byte header');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = Math.ceil(bitsAllocated / 8);
  if (segments !== samplesPerPixel * bytesPerSample) {
    throw new RleError(`RLE header names ${segments} segments; ${samplesPerPixel} sample(s) of ${bitsAllocated} bits need ${samplesPerPixel * bytesPerSample}`);
  }
  const pixels = rows * columns;
  const out = new Uint8Array(pixels * samplesPerPixel * bytesPerSample);
  const plane = new Uint8Array(pixels);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + s * 4, true);
    const end = s + 1 < segments ? view.getUint32(8 + s * 4, true) : frame.length;
    if (start < 64 || start > frame.length || end > frame.length || end < start) throw new RleError(`RLE segment ${s + 1} lies outside the frame`);
    unpackBits(frame.subarray(start, end), plane);
    // Segment order: sample by sample, most significant byte first; output is little endian, interleaved.
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    const stride = samplesPerPixel * bytesPerSample;
    const base = sample * bytesPerSample + byteInSample;
    for (let i = 0; i < pixels; i++) out[base + i * stride] = plane[i];
  }
  return out;
}

function unpackBits(src: Uint8Array, dst: Uint8Array): void {
  let i = 0;
  let o = 0;
  while (i < src.length && o < dst.length) {
    const n = (src[i++] << 24) >> 24; // signed byte
    if (n >= 0) {
      const count = Math.min(n + 1, dst.length - o, src.length - i);
      dst.set(src.subarray(i, i + count), o);
      i += n + 1;
      o += count;
    } else if (n !== -128) {
      const count = Math.min(1 - n, dst.length - o);
      dst.fill(src[i++], o, o + count);
      o += count;
    }
  }
  if (o < dst.length) dst.fill(0, o); // a short segment: the rest stays black rather than garbage
}
