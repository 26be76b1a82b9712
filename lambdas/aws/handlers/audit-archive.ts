// Copies the audit trail, as it is written, into a bucket with S3 Object Lock in compliance mode: the
// audit table's stream delivers each new item, and each batch becomes one object (JSON lines, one record
// a line) that nobody — no role, not the account's root user — can change or delete before its retention
// ends. A record naming several studies is several items; only its first is copied. An item changed or
// removed (which the archive's roles cannot do) is copied too, under tampering/, and logged as an error.
// Deployed by lib/constructs/audit-archive.ts.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { StructuredLog } from '../../logging.js';
import { observability, powertoolsLog } from '../observability.js';

export const AUDIT_ARCHIVE_PREFIX = 'audit/';
export const TAMPERING_PREFIX = 'tampering/';

export type AuditArchiveHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

export function createAuditArchiver(s3: S3Client, bucket: string, log: StructuredLog): AuditArchiveHandler {
  const put = (Key: string, lines: string[]) =>
    // Object Lock needs an integrity checksum on every PUT.
    s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `${lines.join('\n')}\n`, ContentType: 'application/x-ndjson', ChecksumAlgorithm: 'SHA256' }));
  return async (event) => {
    const records: string[] = [];
    const changes: string[] = [];
    for (const r of event.Records) {
      const image = r.dynamodb?.NewImage;
      if (r.eventName === 'INSERT') {
        if (image?.sk?.S?.endsWith('#0000') && image.record?.S) records.push(image.record.S);
      } else {
        changes.push(JSON.stringify({ eventName: r.eventName, sequenceNumber: r.dynamodb?.SequenceNumber, keys: r.dynamodb?.Keys, oldImage: r.dynamodb?.OldImage, newImage: image }));
      }
    }
    if (!event.Records.length) return { batchItemFailures: [] };
    const first = event.Records[0].dynamodb?.SequenceNumber ?? 'unknown';
    const last = event.Records[event.Records.length - 1].dynamodb?.SequenceNumber ?? 'unknown';
    // Named by the batch's sequence numbers: a batch delivered again is the same object (a new version, also locked).
    const day = (records.length ? (JSON.parse(records[0]) as { EventIdentification: { EventDateTime: string } }).EventIdentification.EventDateTime : new Date().toISOString()).slice(0, 10).replace(/-/g, '/');
    try {
      if (records.length) await put(`${AUDIT_ARCHIVE_PREFIX}${day}/${first}-${last}.jsonl`, records);
      if (changes.length) {
        log('error', 'audit trail items were changed or removed; copied under tampering/', { count: changes.length, first, last });
        await put(`${TAMPERING_PREFIX}${day}/${first}-${last}.jsonl`, changes);
      }
    } catch (error) {
      log('error', 'audit records not copied to the locked bucket; the stream delivers the batch again', { first, last, error: String(error) });
      return { batchItemFailures: [{ itemIdentifier: first }] };
    }
    return { batchItemFailures: [] };
  };
}

const { logger } = observability('audit-archive');
let cached: AuditArchiveHandler | undefined;
export const handler: AuditArchiveHandler = (event) => {
  if (!cached) {
    const bucket = process.env.AUDIT_ARCHIVE_BUCKET?.trim();
    if (!bucket) throw new Error('AUDIT_ARCHIVE_BUCKET is not set; the CDK app sets it on the function');
    cached = createAuditArchiver(new S3Client({}), bucket, powertoolsLog(logger));
  }
  return cached(event);
};
