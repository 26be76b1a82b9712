// Writes a whole-slide image for large-instance tests and benchmarks (never committed): one VL Whole Slide
// Microscopy Image instance, TILED_FULL, JPEG Baseline tiles of 256 × 256 RGB — 40,000 frames, about
// 2 GB by default — streamed to disk tile by tile, so the writer never holds the file.
//   npx tsx test/bench/make-wsi.ts out.dcm [frames]
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { compressFrame } from '../../lambdas/imaging/encoders.js';
import { DataSetWriter, part10File, us } from '../helpers/dataset-bytes.js';

const WSI = '1.2.840.10008.5.1.4.1.1.77.1.6';
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const TILE = 256;
/** Distinct tiles, repeated: enough variety for decoders, not so many that writing waits on the encoder. */
const DISTINCT_TILES = 64;

const ul = (value: number) => new Uint8Array(new Uint32Array([value]).buffer);
const item = (tag: number, length: number) => {
  const out = Buffer.alloc(8);
  out.writeUInt16LE(tag >>> 16, 0);
  out.writeUInt16LE(tag & 0xffff, 2);
  out.writeUInt32LE(length, 4);
  return out;
};

/** Tissue-like texture: colour noise over smooth gradients, so a tile compresses to tens of kilobytes. */
async function solidTile([r, g, b]: [number, number, number]): Promise<Uint8Array> {
  const rgb = new Uint8Array(TILE * TILE * 3).map((_, i) => [r, g, b][i % 3]);
  return evenLength((await compressFrame({ bytes: rgb, rows: TILE, columns: TILE, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, signed: false, photometricInterpretation: 'RGB' }, JPEG_BASELINE)).bytes);
}

const evenLength = (bytes: Uint8Array): Uint8Array => (bytes.length % 2 ? Buffer.concat([bytes, Buffer.alloc(1)]) : bytes);

async function tiles(): Promise<{ tiles: Uint8Array[]; photometricInterpretation: string }> {
  const out: Uint8Array[] = [];
  let photometricInterpretation = 'RGB';
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let t = 0; t < DISTINCT_TILES; t++) {
    const rgb = new Uint8Array(TILE * TILE * 3);
    for (let i = 0; i < TILE * TILE; i++) {
      const x = i % TILE;
      const y = Math.floor(i / TILE);
      const base = 150 + 60 * Math.sin((x + t * 13) / 17) * Math.cos((y - t * 7) / 23);
      rgb[i * 3] = Math.max(0, Math.min(255, base + 60 * random()));
      rgb[i * 3 + 1] = Math.max(0, Math.min(255, base * 0.6 + 80 * random()));
      rgb[i * 3 + 2] = Math.max(0, Math.min(255, base * 0.9 + 40 * random()));
    }
    const encoded = await compressFrame({ bytes: rgb, rows: TILE, columns: TILE, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, signed: false, photometricInterpretation: 'RGB' }, JPEG_BASELINE);
    out.push(evenLength(encoded.bytes));
    photometricInterpretation = encoded.photometricInterpretation;
  }
  return { tiles: out, photometricInterpretation };
}

export async function writeWsi(
  path: string,
  frames: number,
  uids: { study: string; series: string; sop: string },
  /** Solid tiles of a colour by position instead of the texture (for checking what an overview shows). */
  options: { colourOf?: (column: number, row: number) => [number, number, number] } = {},
): Promise<number> {
  // TILED_FULL needs every tile of the matrix: the widest grid up to square whose rows the frames fill.
  let across = Math.floor(Math.sqrt(frames));
  while (frames % across) across--;
  const { tiles: distinct, photometricInterpretation } = await tiles();
  const solid = new Map<string, Uint8Array>();
  const tileAt = async (f: number): Promise<Uint8Array> => {
    if (!options.colourOf) return distinct[f % distinct.length];
    const colour = options.colourOf(f % across, Math.floor(f / across));
    let tile = solid.get(colour.join());
    if (!tile) solid.set(colour.join(), (tile = await solidTile(colour)));
    return tile;
  };
  const explicit = () => new DataSetWriter(true);
  const code = (value: string, scheme: string, meaning: string) => explicit().add(0x00080100, 'SH', value).add(0x00080102, 'SH', scheme).add(0x00080104, 'LO', meaning);
  const pixelMeasures = explicit().add(0x00180050, 'DS', '0.001').add(0x00280030, 'DS', '0.00025\\0.00025');
  const header = new DataSetWriter(true)
    .add(0x00080008, 'CS', 'DERIVED\\PRIMARY\\VOLUME\\NONE')
    .add(0x00080016, 'UI', WSI)
    .add(0x00080018, 'UI', uids.sop)
    .add(0x00080020, 'DA', '20261207')
    .add(0x00080023, 'DA', '20261207')
    .add(0x0008002a, 'DT', '20261207120000')
    .add(0x00080030, 'TM', '120000')
    .add(0x00080033, 'TM', '120000')
    .add(0x00080050, 'SH', 'WSI-0001')
    .add(0x00080060, 'CS', 'SM')
    .add(0x00080070, 'LO', 'cloud-pacs test generator')
    .add(0x00080090, 'PN', '')
    .add(0x00081090, 'LO', 'make-wsi.ts')
    .add(0x00089206, 'CS', 'VOLUME')
    .add(0x00100010, 'PN', 'Slide^Large')
    .add(0x00100020, 'LO', 'WSI-BENCH')
    .add(0x00100030, 'DA', '')
    .add(0x00100040, 'CS', '')
    .add(0x00181000, 'LO', '1')
    .add(0x00181020, 'LO', '1')
    .add(0x0020000d, 'UI', uids.study)
    .add(0x0020000e, 'UI', uids.series)
    .add(0x00200010, 'SH', '1')
    .add(0x00200011, 'IS', '1')
    .add(0x00200013, 'IS', '1')
    .sequence(0x00209221, [explicit().add(0x00209164, 'UI', `${uids.sop}.8`)])
    .add(0x00209311, 'CS', 'TILED_FULL')
    .add(0x00280002, 'US', us(3))
    .add(0x00280004, 'CS', photometricInterpretation)
    .add(0x00280006, 'US', us(0))
    .add(0x00280008, 'IS', String(frames))
    .add(0x00280010, 'US', us(TILE))
    .add(0x00280011, 'US', us(TILE))
    .add(0x00280100, 'US', us(8))
    .add(0x00280101, 'US', us(8))
    .add(0x00280102, 'US', us(7))
    .add(0x00280103, 'US', us(0))
    .add(0x00280301, 'CS', 'NO')
    .add(0x00282110, 'CS', '01')
    .add(0x00282112, 'DS', '10')
    .add(0x00282114, 'CS', 'ISO_10918_1')
    .add(0x00400512, 'LO', 'SLIDE-1')
    .sequence(0x00400513, [])
    .sequence(0x00400518, [code('433466003', 'SCT', 'Microscope slide')])
    .sequence(0x00400555, [])
    .sequence(0x00400560, [explicit().add(0x00400551, 'LO', 'SPECIMEN-1').add(0x00400554, 'UI', `${uids.sop}.9`).sequence(0x00400562, []).sequence(0x00400610, [])])
    .add(0x00480001, 'FL', new Uint8Array(new Float32Array([across * TILE * 0.00025]).buffer))
    .add(0x00480002, 'FL', new Uint8Array(new Float32Array([(frames / across) * TILE * 0.00025]).buffer))
    .add(0x00480003, 'FL', new Uint8Array(new Float32Array([0.001]).buffer))
    .add(0x00480006, 'UL', ul(across * TILE))
    .add(0x00480007, 'UL', ul((frames / across) * TILE))
    .sequence(0x00480008, [explicit().add(0x0040072a, 'DS', '0').add(0x0040073a, 'DS', '0')])
    .add(0x00480010, 'CS', 'NO')
    .add(0x00480011, 'CS', 'AUTO')
    .add(0x00480012, 'CS', 'NO')
    .add(0x00480102, 'DS', '0\\-1\\0\\-1\\0\\0')
    .sequence(0x00480105, [explicit().sequence(0x00220016, [code('111744', 'DCM', 'Brightfield illumination')]).add(0x00480106, 'SH', '1').sequence(0x00480108, [code('414298005', 'SCT', 'Full Spectrum')])])
    .add(0x00480302, 'UL', ul(1))
    .add(0x00480303, 'UL', ul(1))
    .sequence(0x52009229, [explicit().sequence(0x00289110, [pixelMeasures]).sequence(0x00400710, [explicit().add(0x00089007, 'CS', 'DERIVED\\PRIMARY\\VOLUME\\NONE')])])
    .bytes();
  const file = createWriteStream(path);
  const write = async (bytes: Uint8Array) => {
    if (!file.write(bytes)) await once(file, 'drain');
  };
  await write(part10File(header, JPEG_BASELINE, WSI, uids.sop));
  const pixelData = Buffer.alloc(12);
  pixelData.writeUInt32LE(0x00107fe0, 0);
  pixelData.write('OB', 4, 'latin1');
  pixelData.writeUInt32LE(0xffffffff, 8);
  await write(pixelData);
  await write(item(0xfffee000, 0)); // an empty Basic Offset Table: 40,000 offsets are found by walking the fragments
  let size = 0;
  for (let f = 0; f < frames; f++) {
    const tile = await tileAt(f);
    await write(item(0xfffee000, tile.length));
    await write(tile);
    size += tile.length + 8;
  }
  await write(item(0xfffee0dd, 0));
  file.end();
  await once(file, 'finish');
  return size;
}

if (process.argv[1]?.endsWith('make-wsi.ts')) {
  const [path, frames] = [process.argv[2], Number(process.argv[3] ?? 40_000)];
  if (!path) throw new Error('usage: npx tsx test/bench/make-wsi.ts out.dcm [frames]');
  const stamp = Date.now();
  const size = await writeWsi(path, frames, { study: `2.25.${stamp}1`, series: `2.25.${stamp}2`, sop: `2.25.${stamp}3` });
  console.log(`wrote ${path}: ${frames} JPEG tiles, ${(size / 2 ** 30).toFixed(2)} GiB of pixel data`);
}
