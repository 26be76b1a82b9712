// Settings of the DICOMweb application, shared by every runtime (local server, Lambda).
import { hostname } from 'node:os';
import { DEFAULT_MAX_INFLATED_BYTES } from '../dicom/parser.js';
import type { DuplicatePolicy } from '../storage/ports.js';

export interface DicomWebConfig {
  /** Path prefix of the DICOMweb root, e.g. "/dicomweb". */
  basePath: string;
  /** Absolute URL of the DICOMweb root as clients see it; derived from each request when unset. */
  publicUrl?: string;
  /** Largest STOW-RS request body accepted, in bytes. */
  maxRequestBytes: number;
  /** Largest single instance accepted, in bytes. */
  maxInstanceBytes: number;
  /**
   * Instances up to this size are held in memory while they arrive; larger ones are written to `stagingDir`
   * as they arrive and stored from there, so memory stays flat whatever their size.
   */
  maxInMemoryInstanceBytes: number;
  /**
   * Directory of instances being received. Unset: the local server's DATA_DIR/staging (on the blob store's
   * file system, so that storing is a link), elsewhere the system's temporary directory.
   */
  stagingDir?: string;
  /**
   * Largest instance decompressed in memory for a client that asks for Explicit VR Little Endian; larger
   * ones answer 406 (a whole-slide image can decompress to many gigabytes).
   */
  maxDecompressedBytes: number;
  /** Largest data set a deflated instance may inflate to when it is stored; larger ones are refused (zip bombs). */
  maxInflatedBytes: number;
  duplicatePolicy: DuplicatePolicy;
  /** Largest QIDO-RS page; larger limits are reduced with a Warning header. */
  maxQueryResults: number;
  /**
   * Largest QIDO-RS answer, in bytes of JSON: matches past it are left for the next page (offset), said in a
   * Warning. Bounds memory whatever the matches hold, and keeps a Lambda answer under its 6 MB payload limit.
   */
  maxQueryResponseBytes: number;
  /** Instances stored at once within one STOW-RS request. */
  storeConcurrency: number;
  /**
   * Who may keep a copy of a cacheable response: "public" (any cache; an archive without sign-in) or
   * "private" (only the client's own cache, so that no shared proxy keeps patient data fetched with a
   * token; the AWS deployment's CloudFront still caches per token through its minimum TTL).
   */
  cacheScope: 'public' | 'private';
  /** The archive's name in its audit records (AuditSourceID). */
  auditSourceId: string;
}

const env = (name: string): string | undefined => process.env[name]?.trim() || undefined;
const intEnv = (name: string, fallback: number): number => {
  const v = env(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
};

export function configFromEnv(): DicomWebConfig {
  const policy = env('DUPLICATE_POLICY') ?? 'reject';
  if (policy !== 'reject' && policy !== 'replace') throw new Error(`DUPLICATE_POLICY must be "reject" or "replace", got "${policy}"`);
  const cacheScope = env('CACHE_SCOPE') ?? 'public';
  if (cacheScope !== 'public' && cacheScope !== 'private') throw new Error(`CACHE_SCOPE must be "public" or "private", got "${cacheScope}"`);
  return {
    cacheScope,
    basePath: env('DICOMWEB_BASE_PATH') ?? '/dicomweb',
    publicUrl: env('PUBLIC_URL'),
    maxRequestBytes: intEnv('MAX_REQUEST_BYTES', 1024 ** 3),
    maxInstanceBytes: intEnv('MAX_INSTANCE_BYTES', 1024 ** 3),
    maxInMemoryInstanceBytes: intEnv('MAX_IN_MEMORY_INSTANCE_BYTES', 32 * 1024 ** 2),
    stagingDir: env('STAGING_DIR'),
    maxDecompressedBytes: intEnv('MAX_DECOMPRESSED_BYTES', 512 * 1024 ** 2),
    maxInflatedBytes: intEnv('MAX_INFLATED_BYTES', DEFAULT_MAX_INFLATED_BYTES),
    duplicatePolicy: policy,
    maxQueryResults: intEnv('MAX_QUERY_RESULTS', 10000),
    maxQueryResponseBytes: intEnv('MAX_QUERY_RESPONSE_BYTES', 16 * 1024 ** 2),
    storeConcurrency: intEnv('STORE_CONCURRENCY', 8),
    auditSourceId: env('AUDIT_SOURCE_ID') ?? `cloud-pacs@${hostname()}`,
  };
}
