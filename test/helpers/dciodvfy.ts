// dciodvfy (dicom3tools) validates an object against its IOD; we keep its error lines.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function dciodvfyErrors(bytes: Uint8Array): { errors: string[]; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dciodvfy-'));
  try {
    const file = join(dir, 'object.dcm');
    writeFileSync(file, bytes);
    const run = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    if (run.error) throw run.error;
    const output = `${run.stdout}${run.stderr}`;
    return { errors: output.split('\n').filter((l) => l.startsWith('Error')), output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
