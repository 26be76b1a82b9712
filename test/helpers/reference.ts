// Independent readings of the samples by pydicom, computed once per test file.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, samples } from './samples.js';

export interface ReferenceReading {
  json?: Record<string, { vr: string; Value?: unknown[]; InlineBinary?: string; BulkDataURI?: string }>;
  uids?: Record<'StudyInstanceUID' | 'SeriesInstanceUID' | 'SOPInstanceUID' | 'SOPClassUID', string>;
  error?: string;
}

let cache: Record<string, ReferenceReading> | undefined;

export function pydicomReadings(): Record<string, ReferenceReading> {
  if (!cache) {
    const out = execFileSync('/usr/bin/python3', [join(repoRoot, 'test/reference/pydicom_json.py'), ...samples.map((s) => s.path)], {
      maxBuffer: 512 * 1024 * 1024,
      encoding: 'utf8',
    });
    cache = JSON.parse(out) as Record<string, ReferenceReading>;
  }
  return cache;
}
