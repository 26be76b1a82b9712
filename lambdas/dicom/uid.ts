// UIDs (PS3.5 Section 9): digits and dots, at most 64 characters. Anything else is refused before it
// can reach a storage key or a file path.
import { createHash } from 'node:crypto';

const UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;

/** Describes why a UID is invalid, for error messages. */
export function uidProblem(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return `${name} is missing`;
  if (value.length > 64) return `${name} "${value.slice(0, 80)}" is longer than 64 characters`;
  if (!UID_PATTERN.test(value)) return `${name} "${value.slice(0, 80)}" is not a valid UID (digits and dots only)`;
  return undefined;
}

/**
 * A UID derived from a name (PS3.5 B.2: "2.25." and a UUID as a decimal integer). The UUID is name-based
 * (RFC 9562 version 8 over SHA-256), so the same name always gives the same UID: a retried analysis
 * writes its results under the UIDs of the first attempt.
 */
export function uidFromName(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC variant
  return `2.25.${BigInt(`0x${bytes.toString('hex')}`).toString(10)}`;
}
