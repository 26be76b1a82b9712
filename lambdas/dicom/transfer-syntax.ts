// Transfer syntaxes (PS3.5 Section 10 and PS3.6 Table A-1) and the media types PS3.18 pairs them with.
export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  EncapsulatedUncompressedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.98',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  DeflatedImageFrameCompression: '1.2.840.10008.1.2.8.1',
} as const;

export interface TransferSyntaxInfo {
  explicitVr: boolean;
  littleEndian: boolean;
  deflated: boolean;
  /** Pixel data is encapsulated (fragments), i.e. compressed or otherwise framed. */
  encapsulated: boolean;
  /** Media type of a single frame in this syntax for WADO-RS frame retrieval (PS3.18 Table 8.7.3-2). */
  frameMediaType: string;
}

const native = (explicitVr: boolean, littleEndian: boolean, deflated = false): TransferSyntaxInfo => ({
  explicitVr,
  littleEndian,
  deflated,
  encapsulated: false,
  frameMediaType: 'application/octet-stream',
});
const encapsulated = (frameMediaType: string): TransferSyntaxInfo => ({
  explicitVr: true,
  littleEndian: true,
  deflated: false,
  encapsulated: true,
  frameMediaType,
});

const known: Record<string, TransferSyntaxInfo> = {
  '1.2.840.10008.1.2': native(false, true),
  '1.2.840.10008.1.2.1': native(true, true),
  '1.2.840.10008.1.2.1.99': native(true, true, true),
  '1.2.840.10008.1.2.2': native(true, false),
  '1.2.840.10008.1.2.1.98': encapsulated('application/octet-stream'),
  '1.2.840.10008.1.2.4.50': encapsulated('image/jpeg'),
  '1.2.840.10008.1.2.4.51': encapsulated('image/jpeg'),
  '1.2.840.10008.1.2.4.53': encapsulated('image/jpeg'),
  '1.2.840.10008.1.2.4.55': encapsulated('image/jpeg'),
  '1.2.840.10008.1.2.4.57': encapsulated('image/jpeg'),
  '1.2.840.10008.1.2.4.70': encapsulated('image/jpeg'),
  '1.2.840.10008.1.2.4.80': encapsulated('image/jls'),
  '1.2.840.10008.1.2.4.81': encapsulated('image/jls'),
  '1.2.840.10008.1.2.4.90': encapsulated('image/jp2'),
  '1.2.840.10008.1.2.4.91': encapsulated('image/jp2'),
  '1.2.840.10008.1.2.4.92': encapsulated('image/jpx'),
  '1.2.840.10008.1.2.4.93': encapsulated('image/jpx'),
  '1.2.840.10008.1.2.4.201': encapsulated('image/jphc'),
  '1.2.840.10008.1.2.4.202': encapsulated('image/jphc'),
  '1.2.840.10008.1.2.4.203': encapsulated('image/jphc'),
  '1.2.840.10008.1.2.4.110': encapsulated('image/jxl'),
  '1.2.840.10008.1.2.4.111': encapsulated('image/jxl'),
  '1.2.840.10008.1.2.4.112': encapsulated('image/jxl'),
  '1.2.840.10008.1.2.5': encapsulated('image/dicom-rle'),
  '1.2.840.10008.1.2.8.1': encapsulated('application/octet-stream'),
  '1.2.840.10008.1.2.4.100': encapsulated('video/mpeg2'),
  '1.2.840.10008.1.2.4.101': encapsulated('video/mpeg2'),
  '1.2.840.10008.1.2.4.102': encapsulated('video/mp4'),
  '1.2.840.10008.1.2.4.103': encapsulated('video/mp4'),
  '1.2.840.10008.1.2.4.104': encapsulated('video/mp4'),
  '1.2.840.10008.1.2.4.105': encapsulated('video/mp4'),
  '1.2.840.10008.1.2.4.106': encapsulated('video/mp4'),
  '1.2.840.10008.1.2.4.107': encapsulated('video/H265'),
  '1.2.840.10008.1.2.4.108': encapsulated('video/H265'),
};

/** Whether a transfer syntax is one of PS3.5's (the archive reads every one of them). */
export function isKnownTransferSyntax(uid: string): boolean {
  return Object.hasOwn(known, uid);
}

/**
 * Any transfer syntax not listed is treated as an encapsulated explicit VR little endian syntax:
 * PS3.5 requires every compressed syntax to use that encoding, so new ones are stored and served as is.
 */
export function transferSyntaxInfo(uid: string): TransferSyntaxInfo {
  return known[uid] ?? encapsulated('application/octet-stream');
}

/**
 * The transfer syntax a single-frame media type means without a transfer-syntax parameter
 * (PS3.18 Table 8.7.3-5); for frames, application/octet-stream means Explicit VR Little Endian.
 */
export const DEFAULT_SYNTAX_OF_MEDIA_TYPE: Readonly<Record<string, string>> = {
  'application/octet-stream': TransferSyntax.ExplicitVRLittleEndian,
  'image/jpeg': '1.2.840.10008.1.2.4.70',
  'image/jls': '1.2.840.10008.1.2.4.80',
  'image/jp2': '1.2.840.10008.1.2.4.90',
  'image/jpx': '1.2.840.10008.1.2.4.92',
  'image/dicom-rle': '1.2.840.10008.1.2.5',
  'image/jphc': '1.2.840.10008.1.2.4.201',
  'image/jxl': '1.2.840.10008.1.2.4.110',
};
