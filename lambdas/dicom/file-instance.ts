// Reads an instance of any size from a file without loading it: the header from the file's start up to
// the Pixel Data, the Pixel Data's extent (and, when encapsulated, where each fragment lies, walking the
// item headers), and whatever follows it. A whole-slide image of gigabytes is read with a few megabytes.
import { implicitVr } from './dictionary.js';
import { describeInstance, InvalidInstanceError, peekSopIdentity, type ParsedInstance } from './instance.js';
import { DicomParseError, parseDicom, parseElements, readFileMeta, type DicomDataSet, type DicomElement, type Fragment, type ParsedDicom } from './parser.js';
import { Tag } from './tags.js';
import { transferSyntaxInfo } from './transfer-syntax.js';
import { LONG_LENGTH_VRS, UNDEFINED_LENGTH } from './vr.js';

/** A file read at offsets. */
export interface RandomAccessFile {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** The first header read; doubled up to HEADER_LIMIT while the header is longer. */
const FIRST_HEADER_READ = 1024 * 1024;
/** Headers (and what follows Pixel Data) beyond this are read whole by the caller instead. */
export const HEADER_LIMIT = 64 * 1024 * 1024;
/** Float Pixel Data (7FE0,0008) is the first of the pixel data elements; the header stops there. */
const FIRST_PIXEL_TAG = 0x7fe00008;
const PIXEL_TAGS = new Set<number>([Tag.PixelData, Tag.FloatPixelData, Tag.DoubleFloatPixelData]);
/** Binary values up to this size go inline into DICOM JSON (json-model.ts's default). */
const INLINE_VALUE_LIMIT = 1024;
/** Item headers are read through blocks of this size (fragments of small tiles share one read). */
const BLOCK = 16 * 1024;

/**
 * The instance in `file`, or undefined when its shape needs it read whole (a deflated data set, a header or
 * trailing elements above HEADER_LIMIT, a large value that is no Pixel Data). Throws InvalidInstanceError
 * for a file that is not a readable instance.
 */
export async function readInstanceFromFile(file: RandomAccessFile): Promise<ParsedInstance | undefined> {
  let head: Uint8Array | undefined;
  try {
    const header = await readHeader(file);
    if (!header) return undefined;
    head = header.head;
    const { parsed } = header;
    const ds = parsed.dataset;
    const at = parsed.end;
    const pixels = await readPixelElement(file, ds, at);
    if (!pixels) return undefined;
    ds.elements.set(pixels.element.tag, pixels.element);
    let trailing: DicomDataSet | undefined;
    if (pixels.end < file.size) {
      if (file.size - pixels.end > HEADER_LIMIT) return undefined;
      trailing = parseElements(await file.read(pixels.end, file.size - pixels.end), ds.littleEndian, ds.explicitVr);
    }
    return describeInstance(parsed, file.size, { trailing, peek: pixels.peek });
  } catch (e) {
    if (e instanceof DicomParseError) throw new InvalidInstanceError(e.message, head ? peekSopIdentity(head) : {});
    throw e;
  }
}

/** The data set up to its first pixel data element, reading more of the file while the header is longer. */
async function readHeader(file: RandomAccessFile): Promise<{ head: Uint8Array; parsed: ParsedDicom } | undefined> {
  for (let want = FIRST_HEADER_READ; ; want *= 2) {
    const length = Math.min(file.size, want);
    const head = await file.read(0, length);
    const whole = length === file.size;
    // A deflated data set's offsets are those of the inflated data: it is read whole, within its own limit.
    if (transferSyntaxInfo(readFileMeta(head).transferSyntaxUID).deflated) return undefined;
    let parsed: ParsedDicom;
    try {
      parsed = parseDicom(head, { untilTag: FIRST_PIXEL_TAG });
    } catch (e) {
      // Cut inside an element: read more, unless this was all of it. Any other fault is the file's own.
      if (!(e instanceof DicomParseError) || whole || !/^truncated data|runs past the end/.test(e.message)) throw e;
      if (length >= HEADER_LIMIT) return undefined;
      continue;
    }
    if (parsed.end < length || whole) return { head, parsed };
    if (length >= HEADER_LIMIT) return undefined;
  }
}

interface PixelElement {
  element: DicomElement;
  /** Where the file goes on after it. */
  end: number;
  /** The offset table's and each fragment's first bytes, as frame location asks for them. */
  peek: (offset: number, length: number) => Uint8Array;
}

/** The pixel data element at `at` (undefined when there is none there), its fragments located from the file. */
async function readPixelElement(file: RandomAccessFile, ds: DicomDataSet, at: number): Promise<PixelElement | undefined> {
  if (at >= file.size) return undefined;
  const le = ds.littleEndian;
  const headerBytes = await file.read(at, Math.min(12, file.size - at));
  const header = new DataView(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength);
  if (header.byteLength < 8) throw new DicomParseError(`truncated data: an element header at byte ${at} is cut short`);
  const tag = ((header.getUint16(0, le) << 16) | header.getUint16(2, le)) >>> 0;
  if (!PIXEL_TAGS.has(tag)) return undefined;
  let encodedVr: string;
  let length: number;
  let valueStart: number;
  if (ds.explicitVr) {
    encodedVr = String.fromCharCode(header.getUint8(4), header.getUint8(5));
    if (!LONG_LENGTH_VRS.has(encodedVr) || encodedVr === 'UN' || header.byteLength < 12) return undefined;
    length = header.getUint32(8, le);
    valueStart = at + 12;
  } else {
    encodedVr = implicitVr(tag);
    length = header.getUint32(4, le);
    valueStart = at + 8;
  }
  const vr = tag === Tag.PixelData ? (encodedVr === 'OB' ? 'OB' : 'OW') : encodedVr;
  if (length !== UNDEFINED_LENGTH) {
    // A small float value would be given inline in the metadata, from bytes not read here (Pixel Data never is).
    if (tag !== Tag.PixelData && length <= INLINE_VALUE_LIMIT) return undefined;
    if (valueStart + length > file.size) {
      throw new DicomParseError(`truncated data: Pixel Data declares ${length} bytes at byte ${valueStart}, but only ${file.size - valueStart} remain`);
    }
    const element: DicomElement = { tag, vr, encodedVr, offset: valueStart, length, undefinedLength: false };
    return { element, end: valueStart + length, peek: () => new Uint8Array(0) };
  }
  if (tag !== Tag.PixelData) throw new DicomParseError(`a ${encodedVr} pixel data element of undefined length at byte ${at}`);
  const { fragments, end, peeked } = await walkFragments(file, valueStart, le);
  const element: DicomElement = { tag, vr: 'OB', encodedVr, offset: valueStart, length: end - valueStart, undefinedLength: true, fragments };
  const peek = (offset: number, n: number) => {
    const kept = peeked.get(offset);
    if (!kept || kept.length < Math.min(n, 4)) throw new Error(`no bytes kept at ${offset}`);
    return kept.subarray(0, n);
  };
  return { element, end, peek };
}

/** The items of encapsulated Pixel Data from `start`, as the parser reads them (the same refusals). */
async function walkFragments(file: RandomAccessFile, start: number, le: boolean): Promise<{ fragments: Fragment[]; end: number; peeked: Map<number, Uint8Array> }> {
  const fragments: Fragment[] = [];
  const peeked = new Map<number, Uint8Array>();
  let block: Uint8Array = new Uint8Array(0);
  let blockStart = 0;
  const bytesAt = async (offset: number, n: number): Promise<Uint8Array> => {
    if (offset < blockStart || offset + n > blockStart + block.length) {
      block = await file.read(offset, Math.min(Math.max(BLOCK, n), file.size - offset));
      blockStart = offset;
    }
    return block.subarray(offset - blockStart, offset - blockStart + n);
  };
  let pos = start;
  for (;;) {
    // Some writers end the file right after the last fragment, without a Sequence Delimitation Item.
    if (pos === file.size && fragments.length > 0) break;
    if (pos + 8 > file.size) throw new DicomParseError(`truncated data: a fragment item header at byte ${pos} needs 8 bytes, only ${file.size - pos} left`);
    const itemHeader = await bytesAt(pos, 8);
    const view = new DataView(itemHeader.buffer, itemHeader.byteOffset, 8);
    const itemTag = ((view.getUint16(0, le) << 16) | view.getUint16(2, le)) >>> 0;
    const length = view.getUint32(4, le);
    if (itemTag === Tag.SequenceDelimitationItem) {
      pos += 8;
      break;
    }
    if (itemTag !== Tag.Item) throw new DicomParseError(`expected a fragment item in (7FE0,0010) Pixel Data at byte ${pos}, found another tag`);
    const offset = pos + 8;
    if (length === UNDEFINED_LENGTH || offset + length > file.size) {
      throw new DicomParseError(`truncated data: fragment of (7FE0,0010) Pixel Data at byte ${pos} declares ${length} bytes, only ${file.size - offset} remain`);
    }
    // The offset table whole (a few bytes a frame); of fragments, the first bytes that tell where a frame starts.
    const keep = fragments.length === 0 ? length : Math.min(4, length);
    // A copy: a view would keep the whole block it was read into alive.
    if (keep > 0) peeked.set(offset, new Uint8Array(await bytesAt(offset, keep)));
    fragments.push({ offset, length });
    pos = offset + length;
  }
  return { fragments, end: pos, peeked };
}
