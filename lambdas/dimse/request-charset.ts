// The Specific Character Set a request was sent in. dcmjs-dimse decodes identifiers with dcmjs, which
// rewrites Specific Character Set to ISO_IR 192 once it has turned the text into Unicode; to answer in
// the requester's own set, the bytes it decoded are kept beside each data set (the library's decoding
// method is internal, so its version is pinned in package.json).
import dcmjsDimse from 'dcmjs-dimse';

const receivedBytes = new WeakMap<object, Buffer>();
const prototype = dcmjsDimse.Dataset.prototype as unknown as { _fromElementsBuffer(this: object, buffer: Buffer, transferSyntaxUid: string): unknown };
const decode = prototype._fromElementsBuffer;
prototype._fromElementsBuffer = function (this: object, buffer: Buffer, transferSyntaxUid: string) {
  receivedBytes.set(this, buffer);
  return decode.call(this, buffer, transferSyntaxUid);
};

const SPECIFIC_CHARACTER_SET = 0x00080005;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);

/** Specific Character Set (0008,0005) as the requester wrote it, when the data set came over the network. */
export function requestedCharacterSet(dataset: object | undefined, explicitVr: boolean): string | undefined {
  const bytes = dataset && receivedBytes.get(dataset);
  if (!bytes) return undefined;
  for (let at = 0; at + 8 <= bytes.length; ) {
    const tag = ((bytes.readUInt16LE(at) << 16) | bytes.readUInt16LE(at + 2)) >>> 0;
    if (tag > SPECIFIC_CHARACTER_SET) return undefined;
    let length: number;
    let value: number;
    const vr = bytes.toString('latin1', at + 4, at + 6);
    if (explicitVr && LONG_VRS.has(vr)) {
      length = bytes.readUInt32LE(at + 8);
      value = at + 12;
    } else if (explicitVr) {
      length = bytes.readUInt16LE(at + 6);
      value = at + 8;
    } else {
      length = bytes.readUInt32LE(at + 4);
      value = at + 8;
    }
    if (length === 0xffffffff || value + length > bytes.length) return undefined;
    if (tag === SPECIFIC_CHARACTER_SET) return bytes.toString('latin1', value, value + length).replace(/[\0 ]+$/, '').trim();
    at = value + length;
  }
  return undefined;
}
