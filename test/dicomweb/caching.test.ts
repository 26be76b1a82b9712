// What lets a CDN cache the archive: ETag on every retrieval, 304 for If-None-Match, immutable
// instance-level resources, revalidated study and series resources — and, for deployments with sign-in,
// responses that only the client's own cache (and a CDN keyed by token) may keep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

const image = (study: string, series: string) =>
  syntheticInstance(
    { StudyInstanceUID: study, SeriesInstanceUID: series, Rows: 8, Columns: 8, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' },
    new Uint16Array(64).map((_, i) => i),
  );

describe.each([
  ['public', undefined],
  ['private', 'private' as const],
])('caching headers (%s)', (scope, cacheScope) => {
  let archive: TestArchive;
  let instance: string;
  let series: string;
  const study = uid();
  beforeAll(async () => {
    archive = await startTestArchive(cacheScope ? { cacheScope } : {});
    series = uid();
    const bytes = image(study, series);
    expect((await stow(archive.url, [bytes])).status).toBe(200);
    const listed = (await (await fetch(`${archive.url}/studies/${study}/instances`)).json()) as Array<Record<string, { Value: string[] }>>;
    instance = listed[0]['00080018'].Value[0];
  });
  afterAll(async () => archive?.dispose());

  it('marks frames and instance metadata immutable, with an ETag that answers 304', async () => {
    for (const path of [`/studies/${study}/series/${series}/instances/${instance}/frames/1`, `/studies/${study}/series/${series}/instances/${instance}/metadata`]) {
      const first = await fetch(`${archive.url}${path}`, { headers: { Accept: path.endsWith('metadata') ? 'application/dicom+json' : 'multipart/related; type="application/octet-stream"' } });
      expect(first.status, path).toBe(200);
      expect(first.headers.get('cache-control')).toBe(`${scope}, max-age=86400, immutable`);
      const etag = first.headers.get('etag');
      expect(etag).toBeTruthy();
      await first.arrayBuffer();
      const again = await fetch(`${archive.url}${path}`, { headers: { 'If-None-Match': etag! } });
      expect(again.status, path).toBe(304);
    }
  });

  it('has study and series metadata revalidated, since instances keep arriving', async () => {
    const res = await fetch(`${archive.url}/studies/${study}/series/${series}/metadata`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe(`${scope}, max-age=0, must-revalidate`);
  });
});
