// Value Representations as PS3.5 encodes them (7.1.2): which exist, which carry a 32-bit length, and
// which encoding a data set is actually written in.

/** VRs whose explicit VR header has two reserved bytes and a 32-bit length. */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
export const VALID_VRS: ReadonlySet<string> = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);
export const UNDEFINED_LENGTH = 0xffffffff;

/**
 * Whether a little endian data set is written in explicit VR, judged from its first element as dcmtk and
 * pydicom do: two upper-case letters where an explicit VR stands, followed by a length that fits, mean
 * explicit; a declared explicit VR data set without them is implicit if its first length fits. When
 * neither reading fits, the declared encoding stands and the parse says what is wrong.
 */
export function encodingOfDataSet(bytes: Uint8Array, pos: number, declaredExplicit: boolean): boolean {
  if (pos + 8 > bytes.length) return declaredExplicit;
  const view = new DataView(bytes.buffer, bytes.byteOffset + pos, 8);
  const vr = String.fromCharCode(bytes[pos + 4], bytes[pos + 5]);
  const left = bytes.length - pos - 8;
  let explicitFits = false;
  if (VALID_VRS.has(vr)) {
    if (!LONG_LENGTH_VRS.has(vr)) explicitFits = view.getUint16(6, true) <= left;
    else if (pos + 12 <= bytes.length && view.getUint16(6, true) === 0) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + pos + 8, 4).getUint32(0, true);
      explicitFits = length === UNDEFINED_LENGTH || length <= left - 4;
    }
  }
  if (explicitFits) return true;
  const implicitLength = view.getUint32(4, true);
  const implicitFits = implicitLength === UNDEFINED_LENGTH || implicitLength <= left;
  return declaredExplicit && !implicitFits;
}
