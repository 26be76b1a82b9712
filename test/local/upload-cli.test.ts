// The upload command against a running archive: a folder tree with DICOM, non-DICOM and broken files.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestArchive, type TestArchive } from '../helpers/archive.js';
import { SAMPLES_DIR, repoRoot } from '../helpers/samples.js';

const run = promisify(execFile);

describe('npm run upload', () => {
  let archive: TestArchive;
  let folder: string;
  beforeAll(async () => {
    archive = await startTestArchive();
    folder = mkdtempSync(join(tmpdir(), 'upload-'));
    mkdirSync(join(folder, 'a/b'), { recursive: true });
    copyFileSync(join(SAMPLES_DIR, 'pydicom-data/693_UNCI.dcm'), join(folder, 'a/ct.dcm'));
    copyFileSync(join(SAMPLES_DIR, 'orthanc-tests/SCSH32'), join(folder, 'a/b/SCSH32'));
    copyFileSync(join(SAMPLES_DIR, 'fo-dicom/CR-MONO1-10-chest'), join(folder, 'a/b/no-meta'));
    copyFileSync(join(SAMPLES_DIR, 'pydicom/JPEGLSNearLossless_08.dcm'), join(folder, 'no-study-uid.dcm'));
    writeFileSync(join(folder, 'notes.txt'), 'not an image');
  });
  afterAll(async () => {
    await archive?.dispose();
    rmSync(folder, { recursive: true, force: true });
  });

  it('stores the DICOM files, skips the others and names what it refused', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'lambdas/local/upload-cli.ts'), '--url', archive.url, folder]).catch(
      (e: { stdout: string; code: number }) => ({ stdout: e.stdout, code: e.code }),
    );
    expect(result.stdout).toMatch(/Stored 3, skipped 1 \(not DICOM\), refused 1/);
    expect(result.stdout).toMatch(/refused .*no-study-uid\.dcm: .*Study Instance UID \(0020,000D\) is missing/);
    expect((result as { code?: number }).code).toBe(1);
    const studies = (await (await fetch(`${archive.url}/studies`)).json()) as unknown[];
    expect(studies).toHaveLength(3);
  });
});
