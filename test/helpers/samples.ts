// The shared sample files (../shared/dicom-samples beside the repository, or SAMPLES_DIR).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SAMPLES_DIR = process.env.SAMPLES_DIR ?? resolve(repoRoot, '../shared/dicom-samples');

if (!existsSync(join(SAMPLES_DIR, 'MANIFEST.tsv'))) {
  throw new Error(`DICOM samples not found at ${SAMPLES_DIR}; set SAMPLES_DIR`);
}

export interface Sample {
  file: string;
  path: string;
  sopClass: string;
  transferSyntax: string;
  note: string;
}

export const samples: Sample[] = readFileSync(join(SAMPLES_DIR, 'MANIFEST.tsv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const cols = line.split('\t');
    return { file: cols[0], path: join(SAMPLES_DIR, cols[0]), sopClass: cols[3], transferSyntax: cols[4], note: cols[8] ?? '' };
  });

export const sampleBytes = (file: string): Buffer => readFileSync(join(SAMPLES_DIR, file));
export { repoRoot };
