// Compressed frames are decoded within a budget, in worker threads: a frame whose geometry is absurd or
// whose codestream describes another image is refused before any decoder runs, and a decoder that runs
// past FRAME_DECODE_TIMEOUT_MS is stopped (its worker replaced) with the reason.
import { afterEach, describe, expect, it } from 'vitest';
import { assembleFrame } from '../../lambdas/dicom/frames.js';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { UnsupportedEncodingError, decompressFrame } from '../../lambdas/imaging/codecs.js';
import { pixelModuleOf } from '../../lambdas/imaging/pixels.js';
import { sampleBytes } from '../helpers/samples.js';

function firstFrame(file: string) {
  const bytes = sampleBytes(file);
  const instance = readInstance(bytes);
  const frame = assembleFrame(instance.frames!, 0, (r) => bytes.subarray(r.offset, r.offset + r.length));
  return { frame, syntax: instance.transferSyntaxUID, pm: pixelModuleOf(instance.metadata) };
}

describe('frame decoding budget', () => {
  afterEach(() => {
    delete process.env.FRAME_DECODE_TIMEOUT_MS;
  });

  it('decodes JPEG 2000, JPEG-LS and JPEG lossless frames in a worker, to the declared geometry', async () => {
    for (const file of ['pydicom-data/MR2_J2KR.dcm', 'dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm', 'pydicom-data/JPEG-LL.dcm']) {
      const { frame, syntax, pm } = firstFrame(file);
      const decoded = await decompressFrame(frame, syntax, pm);
      expect([decoded.rows, decoded.columns, decoded.samplesPerPixel], file).toEqual([pm.rows, pm.columns, pm.samplesPerPixel]);
      expect(decoded.bytes.length, file).toBe(pm.rows * pm.columns * pm.samplesPerPixel * (decoded.bitsAllocated / 8));
    }
  });

  it('refuses, before decoding, a frame whose codestream describes another image than the data set', async () => {
    const { frame, syntax, pm } = firstFrame('pydicom-data/MR2_J2KR.dcm');
    await expect(decompressFrame(frame, syntax, { ...pm, rows: 512 })).rejects.toThrow(/codestream's header describes 1024 × 1024 × 1 samples, the data set 1024 × 512 × 1/);
    const ls = firstFrame('dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm');
    await expect(decompressFrame(ls.frame, ls.syntax, { ...ls.pm, columns: ls.pm.columns + 1 })).rejects.toThrow(/codestream's header describes/);
  });

  it('refuses absurd geometry without allocating it', async () => {
    const { frame, syntax, pm } = firstFrame('pydicom-data/MR2_J2KR.dcm');
    await expect(decompressFrame(frame, syntax, { ...pm, rows: 65535, columns: 65535 })).rejects.toThrow(/would take 8589672450 bytes decoded, more than/);
    await expect(decompressFrame(frame, syntax, { ...pm, bitsAllocated: 12 })).rejects.toThrow(/Bits Allocated 12/);
    await expect(decompressFrame(frame, syntax, { ...pm, samplesPerPixel: 0 })).rejects.toThrow(UnsupportedEncodingError);
  });

  it('stops a decoder that runs past the time budget, and decodes again afterwards', async () => {
    const { frame, syntax, pm } = firstFrame('pydicom-data/MR2_J2KR.dcm');
    process.env.FRAME_DECODE_TIMEOUT_MS = '1';
    await expect(decompressFrame(frame, syntax, pm)).rejects.toThrow(/took longer than 1 ms and was stopped/);
    delete process.env.FRAME_DECODE_TIMEOUT_MS;
    expect((await decompressFrame(frame, syntax, pm)).rows).toBe(1024);
  });
});
