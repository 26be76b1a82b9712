// Text written back in a single-byte Specific Character Set (C-FIND answers in the requester's set): what
// the archive's own decoder reads back is the text written, for every character of every set; a character
// outside the set is refused, not replaced.
import { describe, expect, it } from 'vitest';
import { characterSet, singleByteEncoder } from '../../lambdas/dicom/charset.js';

const SETS = ['ISO_IR 100', 'ISO_IR 101', 'ISO_IR 109', 'ISO_IR 110', 'ISO_IR 144', 'ISO_IR 127', 'ISO_IR 126', 'ISO_IR 138', 'ISO_IR 148', 'ISO_IR 203', 'ISO_IR 166'];

describe('single-byte encoders', () => {
  it('write every character a set decodes to, and its decoder reads back the same text', () => {
    for (const term of SETS) {
      const decode = (bytes: Uint8Array) => characterSet(term).decode(bytes);
      const all = Uint8Array.from({ length: 0x60 }, (_, i) => 0xa0 + i);
      const text = `Name^${decode(all).replace(/\ufffd/g, '')}`;
      const bytes = singleByteEncoder(term)!(text);
      expect(bytes, term).toBeDefined();
      expect(decode(bytes!), term).toBe(text);
    }
  });

  it('refuse a character the set does not hold, and sets they cannot write', () => {
    expect(singleByteEncoder('ISO_IR 144')!('Müller')).toBeUndefined();
    expect(singleByteEncoder('ISO_IR 100')!('Люк')).toBeUndefined();
    expect(singleByteEncoder('ISO_IR 126')!('Ελλάδα')).toEqual(Uint8Array.from([0xc5, 0xeb, 0xeb, 0xdc, 0xe4, 0xe1]));
    expect(singleByteEncoder('ISO_IR 192')).toBeUndefined();
    expect(singleByteEncoder('ISO 2022 IR 87')).toBeUndefined();
  });
});
