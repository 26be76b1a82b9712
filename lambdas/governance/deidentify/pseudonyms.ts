// Replacement identifiers for de-identified copies, derived from the original by HMAC-SHA-256 under a
// secret the archive keeps: the same original always gives the same replacement (a cohort exported twice,
// or in parts, links up), and without the secret a replacement says nothing of the original.
import { createHmac } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class Pseudonyms {
  constructor(private readonly secret: Uint8Array) {
    if (secret.length < 32) throw new Error('the pseudonym secret must be at least 32 bytes');
  }

  private mac(kind: string, value: string): Buffer {
    return createHmac('sha256', this.secret).update(kind).update('\0').update(value).digest();
  }

  /** A UID under 2.25 (PS3.5 B.2: a UUID as a decimal integer), at most 44 characters. */
  uid(original: string): string {
    return `2.25.${BigInt(`0x${this.mac('uid', original).subarray(0, 16).toString('hex')}`)}`;
  }

  /** A pseudonymous Patient ID (16 characters, fits LO and the PN's family name). */
  patientId(patientID: string, issuer = ''): string {
    const bytes = this.mac('patient', `${issuer}\0${patientID}`);
    let out = 'PSN';
    for (let i = 0; i < 13; i++) out += BASE32[bytes[i] & 31];
    return out;
  }

  /** How many days a patient's dates move back (1 to 11 years), the same for all of that patient's objects. */
  dayShift(pseudonym: string): number {
    return 365 + (this.mac('days', pseudonym).readUInt32BE(0) % 3650);
  }
}
