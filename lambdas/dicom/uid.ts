// UIDs (PS3.5 Section 9): digits and dots, at most 64 characters. Anything else is refused before it
// can reach a storage key or a file path.
const UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;

/** Describes why a UID is invalid, for error messages. */
export function uidProblem(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return `${name} is missing`;
  if (value.length > 64) return `${name} "${value.slice(0, 80)}" is longer than 64 characters`;
  if (!UID_PATTERN.test(value)) return `${name} "${value.slice(0, 80)}" is not a valid UID (digits and dots only)`;
  return undefined;
}
