// Specific Character Set (0008,0005) decoding to Unicode, PS3.5 Section 6.1 and PS3.3 C.12.1.1.2.
// Single-byte and multi-byte sets map onto WHATWG decoders (Node's full ICU); the ISO 2022 code
// extensions are handled here by switching decoders at each escape sequence.

type Decode = (bytes: Uint8Array) => string;

const latin1: Decode = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const decoders = new Map<string, TextDecoder>();
function whatwg(label: string): Decode {
  return (b) => {
    let d = decoders.get(label);
    if (!d) {
      d = new TextDecoder(label);
      decoders.set(label, d);
    }
    return d.decode(b);
  };
}

interface CharsetSpec {
  /** Decoder for bytes 0x00-0x7F (G0) and 0x80-0xFF (G1) when this set is active. */
  g0?: Decode;
  g1?: Decode;
  /** Whole-value decoder for sets that cannot be code-extended (UTF-8, GB18030, GBK). */
  whole?: Decode;
  bytesPerChar?: 1 | 2;
}

// JIS X 0208 / 0212 in 7-bit form are decoded by moving them to EUC-JP.
const jisX0208: Decode = (b) => whatwg('euc-jp')(b.map((x) => x | 0x80));
const jisX0212: Decode = (b) => {
  const out = new Uint8Array((b.length / 2) * 3);
  for (let i = 0, j = 0; i + 1 < b.length; i += 2) {
    out[j++] = 0x8f;
    out[j++] = b[i] | 0x80;
    out[j++] = b[i + 1] | 0x80;
  }
  return whatwg('euc-jp')(out);
};
const katakana: Decode = whatwg('shift_jis'); // JIS X 0201: 0xA1-0xDF are half-width katakana in Shift_JIS too
const romaji: Decode = (b) => latin1(b).replace(/\\/g, '\u00a5').replace(/~/g, '\u203e');

const singleByte = (label: string | 'latin1'): CharsetSpec => ({
  g0: latin1,
  g1: label === 'latin1' ? latin1 : whatwg(label),
  bytesPerChar: 1,
});

const SPECS: Record<string, CharsetSpec> = {
  '': { g0: latin1, bytesPerChar: 1 },
  'ISO_IR 6': { g0: latin1, bytesPerChar: 1 },
  'ISO_IR 100': singleByte('latin1'),
  'ISO_IR 101': singleByte('iso-8859-2'),
  'ISO_IR 109': singleByte('iso-8859-3'),
  'ISO_IR 110': singleByte('iso-8859-4'),
  'ISO_IR 144': singleByte('iso-8859-5'),
  'ISO_IR 127': singleByte('iso-8859-6'),
  'ISO_IR 126': singleByte('iso-8859-7'),
  'ISO_IR 138': singleByte('iso-8859-8'),
  'ISO_IR 148': singleByte('iso-8859-9'),
  'ISO_IR 203': singleByte('iso-8859-15'),
  'ISO_IR 166': singleByte('windows-874'),
  'ISO_IR 13': { g0: romaji, g1: katakana, bytesPerChar: 1 },
  'ISO_IR 192': { whole: whatwg('utf-8') },
  GB18030: { whole: whatwg('gb18030') },
  GBK: { whole: whatwg('gbk') },
};

// ISO 2022 escape sequences (PS3.3 Table C.12-3/4) and what they designate.
interface Designation {
  into: 'g0' | 'g1';
  decode: Decode;
  bytesPerChar: 1 | 2;
}
const ESCAPES: Array<[number[], Designation]> = [
  [[0x28, 0x42], { into: 'g0', decode: latin1, bytesPerChar: 1 }], // ESC ( B  ASCII
  [[0x28, 0x4a], { into: 'g0', decode: romaji, bytesPerChar: 1 }], // ESC ( J  JIS X 0201 Romaji
  [[0x29, 0x49], { into: 'g1', decode: katakana, bytesPerChar: 1 }], // ESC ) I  JIS X 0201 Katakana
  [[0x24, 0x42], { into: 'g0', decode: jisX0208, bytesPerChar: 2 }], // ESC $ B  JIS X 0208
  [[0x24, 0x28, 0x44], { into: 'g0', decode: jisX0212, bytesPerChar: 2 }], // ESC $ ( D  JIS X 0212
  [[0x24, 0x29, 0x43], { into: 'g1', decode: whatwg('euc-kr'), bytesPerChar: 2 }], // ESC $ ) C  KS X 1001
  [[0x24, 0x29, 0x41], { into: 'g1', decode: whatwg('gb18030'), bytesPerChar: 2 }], // ESC $ ) A  GB 2312
  [[0x2d, 0x41], { into: 'g1', decode: latin1, bytesPerChar: 1 }], // ESC - A  Latin-1
  [[0x2d, 0x42], { into: 'g1', decode: whatwg('iso-8859-2'), bytesPerChar: 1 }],
  [[0x2d, 0x43], { into: 'g1', decode: whatwg('iso-8859-3'), bytesPerChar: 1 }],
  [[0x2d, 0x44], { into: 'g1', decode: whatwg('iso-8859-4'), bytesPerChar: 1 }],
  [[0x2d, 0x4c], { into: 'g1', decode: whatwg('iso-8859-5'), bytesPerChar: 1 }],
  [[0x2d, 0x47], { into: 'g1', decode: whatwg('iso-8859-6'), bytesPerChar: 1 }],
  [[0x2d, 0x46], { into: 'g1', decode: whatwg('iso-8859-7'), bytesPerChar: 1 }],
  [[0x2d, 0x48], { into: 'g1', decode: whatwg('iso-8859-8'), bytesPerChar: 1 }],
  [[0x2d, 0x4d], { into: 'g1', decode: whatwg('iso-8859-9'), bytesPerChar: 1 }],
  [[0x2d, 0x54], { into: 'g1', decode: whatwg('windows-874'), bytesPerChar: 1 }],
  [[0x2d, 0x62], { into: 'g1', decode: whatwg('iso-8859-15'), bytesPerChar: 1 }],
];

/** Normalises a Defined Term: "ISO 2022 IR 100" -> "ISO_IR 100" form for lookup, and common misspellings. */
function normaliseTerm(term: string): { spec: CharsetSpec; iso2022: boolean } | undefined {
  const t = term.trim().toUpperCase().replace(/^ISO[-_ ]IR[-_ ]?/, 'ISO_IR ');
  const iso2022 = /^ISO 2022 IR /.test(t);
  const key = iso2022 ? t.replace('ISO 2022 IR ', 'ISO_IR ') : t;
  if (iso2022 && ['ISO_IR 87', 'ISO_IR 159', 'ISO_IR 149', 'ISO_IR 58'].includes(key)) {
    // Multi-byte sets only ever appear as code extensions; their initial state is ASCII.
    return { spec: SPECS[''], iso2022 };
  }
  const spec = SPECS[key] ?? (key === 'UTF-8' || key === 'UTF8' ? SPECS['ISO_IR 192'] : undefined);
  return spec ? { spec, iso2022 } : undefined;
}

export interface CharacterSet {
  decode(bytes: Uint8Array): string;
  /** Terms that were not recognised; values were decoded with the default repertoire instead. */
  unknownTerms: string[];
}

const cache = new Map<string, CharacterSet>();

/** `terms` is the raw (0008,0005) value; undefined or empty means the default repertoire. */
export function characterSet(terms: string | undefined): CharacterSet {
  const key = terms ?? '';
  let cs = cache.get(key);
  if (!cs) {
    cs = buildCharacterSet(key);
    cache.set(key, cs);
  }
  return cs;
}

function buildCharacterSet(raw: string): CharacterSet {
  const parts = raw.split('\\');
  const unknownTerms: string[] = [];
  const first = normaliseTerm(parts[0]) ?? (unknownTerms.push(parts[0].trim()), { spec: SPECS[''], iso2022: false });
  if (first.spec.whole) return { decode: first.spec.whole, unknownTerms };
  const extended = parts.length > 1 || first.iso2022;
  // Japanese systems write Shift_JIS under a plain "ISO_IR 13"; its single-byte part is JIS X 0201 anyway.
  if (!extended && first.spec === SPECS['ISO_IR 13']) return { decode: katakana, unknownTerms };
  for (const p of parts.slice(1)) if (!normaliseTerm(p)) unknownTerms.push(p.trim());
  if (!extended) {
    const { g0 = latin1, g1 = latin1 } = first.spec;
    return { decode: (b) => decodeRuns(b, g0, g1), unknownTerms };
  }
  return { decode: (b) => decodeIso2022(b, first.spec), unknownTerms };
}

/** Splits single-byte text into G0 (< 0x80) and G1 runs. */
function decodeRuns(bytes: Uint8Array, g0: Decode, g1: Decode): string {
  if (g0 === g1 || bytes.every((b) => b < 0x80)) return g0(bytes);
  let out = '';
  let start = 0;
  for (let i = 1; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] >= 0x80 !== bytes[start] >= 0x80) {
      const run = bytes.subarray(start, i);
      out += run[0] >= 0x80 ? g1(run) : g0(run);
      start = i;
    }
  }
  return out;
}

const ESC = 0x1b;
// After these, the code elements revert to the initial designation (PS3.5 6.1.2.5.3).
const RESET_AFTER = new Set([0x0a, 0x0c, 0x0d, 0x09, 0x5c, 0x5e, 0x3d]);

function decodeIso2022(bytes: Uint8Array, initial: CharsetSpec): string {
  const init = { g0: initial.g0 ?? latin1, g1: initial.g1 ?? latin1, g0Width: 1 as 1 | 2 };
  let g0 = init.g0;
  let g1 = init.g1;
  let g0Width: 1 | 2 = 1;
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i] === ESC) {
      const match = ESCAPES.find(([seq]) => seq.every((b, k) => bytes[i + 1 + k] === b));
      if (match) {
        const [seq, d] = match;
        if (d.into === 'g0') {
          g0 = d.decode;
          g0Width = d.bytesPerChar;
        } else g1 = d.decode;
        i += 1 + seq.length;
        continue;
      }
      out += '\u001b';
      i++;
      continue;
    }
    // Collect a run decoded by one set.
    const high = bytes[i] >= 0x80;
    let j = i;
    if (high) {
      while (j < bytes.length && bytes[j] >= 0x80) j++;
      out += g1(bytes.subarray(i, j));
    } else if (g0Width === 2) {
      while (j + 1 < bytes.length && bytes[j] !== ESC && bytes[j] >= 0x21 && bytes[j] < 0x80 && bytes[j + 1] >= 0x21 && bytes[j + 1] < 0x80) j += 2;
      if (j === i) {
        // A control character or delimiter inside a two-byte run.
        out += String.fromCharCode(bytes[i]);
        if (RESET_AFTER.has(bytes[i])) {
          g0 = init.g0;
          g1 = init.g1;
          g0Width = 1;
        }
        j = i + 1;
      } else out += g0(bytes.subarray(i, j));
    } else {
      while (j < bytes.length && bytes[j] < 0x80 && bytes[j] !== ESC) {
        j++;
        if (RESET_AFTER.has(bytes[j - 1])) break;
      }
      out += g0(bytes.subarray(i, j));
      if (RESET_AFTER.has(bytes[j - 1])) {
        g0 = init.g0;
        g1 = init.g1;
        g0Width = 1;
      }
    }
    i = j;
  }
  return out;
}

/** The single-byte Specific Character Sets text can be written back in, by the label of their upper half. */
const WRITABLE_SINGLE_BYTE: Readonly<Record<string, string>> = {
  'ISO_IR 100': 'iso-8859-1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO_IR 166': 'windows-874',
};
const encoders = new Map<string, (text: string) => Uint8Array | undefined>();

/**
 * Writes text in a single-byte Specific Character Set (ASCII below, the set's own upper half from 0xA0),
 * or undefined when some character is not in it; undefined for a set this cannot write. The table is the
 * decoder's, inverted: exactly the characters the set decodes to.
 */
export function singleByteEncoder(term: string): ((text: string) => Uint8Array | undefined) | undefined {
  const label = WRITABLE_SINGLE_BYTE[term];
  if (!label) return undefined;
  let encoder = encoders.get(term);
  if (!encoder) {
    const decoder = new TextDecoder(label);
    const upper = new Map<string, number>();
    for (let byte = 0xa0; byte <= 0xff; byte++) {
      const ch = decoder.decode(Uint8Array.of(byte));
      if (ch !== '\ufffd') upper.set(ch, byte);
    }
    encoder = (text) => {
      const out = new Uint8Array(text.length);
      let n = 0;
      for (const ch of text) {
        const code = ch.codePointAt(0)!;
        const byte = code < 0x80 ? code : upper.get(ch);
        if (byte === undefined) return undefined;
        out[n++] = byte;
      }
      return out.subarray(0, n);
    };
    encoders.set(term, encoder);
  }
  return encoder;
}
