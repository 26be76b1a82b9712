// Reading an instance from a file in pieces (what the archive does for instances staged on disk) must give
// exactly what reading it whole gives: every sample, and the layouts a whole-slide image uses, compared.
import { describe, expect, it } from 'vitest';
import { readInstanceFromFile, type RandomAccessFile } from '../../lambdas/dicom/file-instance.js';
import { InvalidInstanceError, readInstance, type ParsedInstance } from '../../lambdas/dicom/instance.js';
import fc from 'fast-check';
import { loadCorpus } from '../fuzz/corpus.js';
import { Draw, INSTANCE_MUTATIONS, mutateInstance } from '../fuzz/mutate-instance.js';
import { sampleBytes, samples } from '../helpers/samples.js';
import { DataSetWriter, part10File, us } from '../helpers/dataset-bytes.js';

const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const VL_WSI = '1.2.840.10008.5.1.4.1.1.77.1.6';

/** An item (or delimiter) header of encapsulated Pixel Data. */
function item(tag: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(0xfffe, 0);
  b.writeUInt16LE(tag, 2);
  b.writeUInt32LE(length, 4);
  return b;
}

/** A JPEG Baseline multi-frame instance, one fragment a frame, with or without an offset table, and trailing padding. */
function encapsulatedInstance(tiles: Buffer[], options: { offsetTable?: boolean; trailingPadding?: number } = {}): Uint8Array {
  const sop = '2.25.7700' + tiles.length;
  const header = new DataSetWriter(true)
    .add(0x00080016, 'UI', VL_WSI)
    .add(0x00080018, 'UI', sop)
    .add(0x00080060, 'CS', 'SM')
    .add(0x0020000d, 'UI', '2.25.7701')
    .add(0x0020000e, 'UI', '2.25.7702')
    .add(0x00280002, 'US', us(1))
    .add(0x00280004, 'CS', 'MONOCHROME2')
    .add(0x00280008, 'IS', String(tiles.length))
    .add(0x00280010, 'US', us(16))
    .add(0x00280011, 'US', us(16))
    .add(0x00280100, 'US', us(8))
    .add(0x00280101, 'US', us(8))
    .add(0x00280102, 'US', us(7))
    .add(0x00280103, 'US', us(0))
    .bytes();
  const offsets: number[] = [];
  let at = 0;
  for (const t of tiles) {
    offsets.push(at);
    at += 8 + t.length;
  }
  const table = options.offsetTable ? Buffer.from(new Uint32Array(offsets).buffer) : Buffer.alloc(0);
  const pixelHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  const pixels = Buffer.concat([pixelHeader, item(0xe000, table.length), table, ...tiles.flatMap((t) => [item(0xe000, t.length), t]), item(0xe0dd, 0)]);
  const trailing = options.trailingPadding ? new DataSetWriter(true).add(0xfffcfffc, 'OB', new Uint8Array(options.trailingPadding)).bytes() : new Uint8Array(0);
  return part10File(new Uint8Array(Buffer.concat([header, pixels, trailing])), JPEG_BASELINE, VL_WSI, sop);
}

/** A file over bytes that counts how much of it was read. */
function fileOver(bytes: Uint8Array): RandomAccessFile & { bytesRead: number } {
  const file = {
    size: bytes.length,
    bytesRead: 0,
    read: async (offset: number, length: number) => {
      if (offset < 0 || offset + length > bytes.length) throw new Error(`read past the end: ${offset}+${length} of ${bytes.length}`);
      file.bytesRead += length;
      return bytes.slice(offset, offset + length);
    },
  };
  return file;
}

const comparable = (i: ParsedInstance) => ({ ...i, metadata: JSON.parse(JSON.stringify(i.metadata)) });

/** A JPEG-like tile: SOI, a few bytes, EOI, padded to an even length. */
const tile = (n: number, size: number) => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(size - 4, n % 251), Buffer.from([0xff, 0xd9])]);

describe('reading an instance from a file in pieces', () => {
  it('gives what reading it whole gives, for every sample', async () => {
    let compared = 0;
    for (const sample of samples) {
      const bytes = sampleBytes(sample.file);
      let whole: ParsedInstance | Error;
      try {
        whole = readInstance(bytes);
      } catch (e) {
        whole = e as Error;
      }
      let pieces: ParsedInstance | undefined | Error;
      try {
        pieces = await readInstanceFromFile(fileOver(bytes));
      } catch (e) {
        pieces = e as Error;
      }
      if (pieces === undefined) continue; // a shape read whole (deflated, no Pixel Data): the caller reads it whole
      if (whole instanceof Error) {
        expect(pieces, sample.file).toBeInstanceOf(InvalidInstanceError);
        continue;
      }
      expect(pieces, sample.file).not.toBeInstanceOf(Error);
      expect(comparable(pieces as ParsedInstance), sample.file).toEqual(comparable(whole));
      compared++;
    }
    // Most samples have Pixel Data and are read in pieces.
    expect(compared).toBeGreaterThan(100);
  });

  it('walks thousands of fragments with an offset table, reading little besides the headers', async () => {
    const frames = 2000;
    const tiles = Array.from({ length: frames }, (_, i) => tile(i, 2000 + (i % 7) * 2));
    const bytes = encapsulatedInstance(tiles, { offsetTable: true, trailingPadding: 64 });
    const file = fileOver(bytes);
    const pieces = (await readInstanceFromFile(file))!;
    expect(comparable(pieces)).toEqual(comparable(readInstance(bytes)));
    expect(pieces.frames!.frames).toHaveLength(frames);
    expect(pieces.metadata['FFFCFFFC']).toBeDefined();
    // Without an offset table, and one frame of several fragments found by its codestream's start.
    const plain = encapsulatedInstance(tiles);
    expect(comparable((await readInstanceFromFile(fileOver(plain)))!)).toEqual(comparable(readInstance(plain)));
  });

  it('reads little of a file with large fragments besides their headers', async () => {
    const tiles = Array.from({ length: 40 }, (_, i) => tile(i, 300_000));
    const bytes = encapsulatedInstance(tiles);
    const file = fileOver(bytes);
    expect((await readInstanceFromFile(file))!.frames!.frames).toHaveLength(40);
    // The first megabyte for the header, then a block of 64 KiB at each of the 40 item headers.
    expect(file.bytesRead).toBeLessThan(1024 * 1024 + 41 * 64 * 1024 + 1);
    expect(file.bytesRead).toBeLessThan(bytes.length / 3);
  });

  it('refuses what reading it whole refuses: a cut fragment, a wrong item tag', async () => {
    const tiles = Array.from({ length: 3 }, (_, i) => tile(i, 100_000));
    const bytes = encapsulatedInstance(tiles);
    const cut = bytes.subarray(0, bytes.length - 50_000);
    expect(() => readInstance(cut)).toThrow(InvalidInstanceError);
    await expect(readInstanceFromFile(fileOver(cut))).rejects.toThrow(/truncated data/);
    const wrongItem = Buffer.from(bytes);
    wrongItem.writeUInt16LE(0xe00d, wrongItem.indexOf(item(0xe000, 100_000), 1000) + 2);
    expect(() => readInstance(wrongItem)).toThrow(InvalidInstanceError);
    await expect(readInstanceFromFile(fileOver(wrongItem))).rejects.toThrow(InvalidInstanceError);
    // A broken header in a file larger than the first read is the file's fault, not a reason to read it whole.
    const large = encapsulatedInstance(Array.from({ length: 30 }, (_, i) => tile(i, 100_000)));
    const brokenVr = Buffer.from(large);
    brokenVr.write('\x01\x02', brokenVr.indexOf(Buffer.from([0x28, 0x00, 0x04, 0x00])) + 4, 'latin1'); // Photometric Interpretation's VR
    expect(brokenVr.length).toBeGreaterThan(2 * 1024 * 1024);
    await expect(readInstanceFromFile(fileOver(brokenVr))).rejects.toThrow(/invalid VR bytes/);
  });

  it('agrees with reading whole on mutated files too: the same instance, or a refusal', async () => {
    const corpus = loadCorpus();
    const kinds = INSTANCE_MUTATIONS.filter((k) => k !== 'deflate-bomb');
    const plans = fc.sample(fc.record({ kind: fc.constantFrom(...kinds), sample: fc.nat(), numbers: fc.array(fc.nat(), { minLength: 32, maxLength: 32 }) }), { seed: 1207, numRuns: 600 });
    let compared = 0;
    for (const plan of plans) {
      const bytes = mutateInstance(corpus[plan.sample % corpus.length], plan.kind, new Draw(plan.numbers));
      let whole: ParsedInstance | undefined;
      try {
        whole = readInstance(bytes);
      } catch (e) {
        if (!(e instanceof InvalidInstanceError)) throw e;
      }
      let pieces: ParsedInstance | undefined | 'refused';
      try {
        pieces = await readInstanceFromFile(fileOver(bytes));
      } catch (e) {
        if (!(e instanceof InvalidInstanceError)) throw e;
        pieces = 'refused';
      }
      if (pieces === undefined) continue; // read whole by the caller
      const label = `${plan.kind} of ${corpus[plan.sample % corpus.length].name}`;
      if (!whole) {
        expect(pieces, label).toBe('refused');
        continue;
      }
      expect(pieces, label).not.toBe('refused');
      expect(comparable(pieces as ParsedInstance), label).toEqual(comparable(whole));
      compared++;
    }
    expect(compared).toBeGreaterThan(200);
  });
});
