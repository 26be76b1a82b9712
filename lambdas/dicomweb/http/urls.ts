// Absolute URLs of archive resources, as PS3.18 wants them in RetrieveURL and BulkDataURI.
import type { Context } from 'hono';
import type { DicomWebConfig } from '../config.js';

export function dicomWebRoot(c: Context, config: DicomWebConfig): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/$/, '');
  const url = new URL(c.req.url);
  const proto = c.req.header('x-forwarded-proto') ?? url.protocol.replace(':', '');
  const host = c.req.header('x-forwarded-host') ?? c.req.header('host') ?? url.host;
  // A path the archive is reached under that it does not see itself (API Gateway's stage, a proxy's prefix).
  const prefix = (c.req.header('x-forwarded-prefix') ?? '').replace(/\/$/, '');
  return `${proto}://${host}${prefix}${config.basePath}`;
}

export const studyUrl = (root: string, study: string) => `${root}/studies/${study}`;
export const seriesUrl = (root: string, study: string, series: string) => `${studyUrl(root, study)}/series/${series}`;
export const instanceUrl = (root: string, study: string, series: string, sop: string) => `${seriesUrl(root, study, series)}/instances/${sop}`;
