// Hostile requests that are not about one file's bytes: malformed multipart bodies, oversized and
// strange headers, odd query parameters and paths, and parameters of retrievals of stored instances.
import type { Draw } from './mutate-instance.js';

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'HEAD' | 'PUT';
  /** Relative to the DICOMweb root. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const BOUNDARY = 'fuzz-boundary-31337';
const related = (type = 'application/dicom', boundary = BOUNDARY) => `multipart/related; type="${type}"; boundary=${boundary}`;
const part = (body: Buffer | string, headers = 'Content-Type: application/dicom') => Buffer.concat([Buffer.from(`--${BOUNDARY}\r\n${headers}\r\n\r\n`), Buffer.from(body), Buffer.from('\r\n')]);
const close = Buffer.from(`--${BOUNDARY}--\r\n`);

/** Malformed multipart bodies around a valid instance (the instance must never be half stored). */
function multipart(instance: Buffer, draw: Draw): FuzzRequest {
  const post = (body: Buffer, contentType = related()): FuzzRequest => ({ method: 'POST', path: '/studies', headers: { 'Content-Type': contentType }, body });
  const deepJson = '['.repeat(200_000) + ']'.repeat(200_000);
  switch (draw.pick(['no-close', 'wrong-boundary', 'no-crlf', 'no-boundary', 'json-garbage', 'json-deep', 'json-bulk', 'xml-garbage', 'xml-entities', 'big-part-header', 'many-parts', 'part-type', 'long-boundary', 'preamble', 'bad-type', 'charset-param', 'single-part'] as const)) {
    case 'no-close':
      return post(part(instance));
    case 'wrong-boundary':
      return post(Buffer.concat([part(instance), close]), related('application/dicom', 'other-boundary'));
    case 'no-crlf':
      return post(Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom`), instance, close]));
    case 'no-boundary':
      return post(Buffer.concat([part(instance), close]), 'multipart/related; type="application/dicom"');
    case 'json-garbage':
      return post(Buffer.concat([part('{"00080018": {"vr": "UI", "Value": [1, null, {}]}, "x": ', 'Content-Type: application/dicom+json'), close]), related('application/dicom+json'));
    case 'json-deep':
      return post(Buffer.concat([part(deepJson, 'Content-Type: application/dicom+json'), close]), related('application/dicom+json'));
    case 'json-bulk': {
      const json = JSON.stringify([{ '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] }, '00080018': { vr: 'UI', Value: ['2.25.1'] }, '0020000D': { vr: 'UI', Value: ['2.25.2'] }, '0020000E': { vr: 'UI', Value: ['2.25.3'] }, '7FE00010': { vr: 'OW', BulkDataURI: draw.pick(['cid:missing', 'file:///etc/passwd', 'http://169.254.169.254/latest', '']) }, '00280010': { vr: 'US', Value: [65535] }, '00280011': { vr: 'US', Value: [65535] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'A'.repeat(100_000) }] } }]);
      return post(Buffer.concat([part(json, 'Content-Type: application/dicom+json'), close]), related('application/dicom+json'));
    }
    case 'xml-garbage':
      return post(Buffer.concat([part('<NativeDicomModel><DicomAttribute tag="zz" vr="??"><Value number="-1">', 'Content-Type: application/dicom+xml'), close]), related('application/dicom+xml'));
    case 'xml-entities': {
      const lol = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><NativeDicomModel><DicomAttribute tag="00100010" vr="PN"><PersonName number="1"><Alphabetic><FamilyName>&d;&d;&d;</FamilyName></Alphabetic></PersonName></DicomAttribute></NativeDicomModel>';
      return post(Buffer.concat([part(lol, 'Content-Type: application/dicom+xml'), close]), related('application/dicom+xml'));
    }
    case 'big-part-header':
      return post(Buffer.concat([part(instance, `Content-Type: application/dicom\r\nX-Padding: ${'p'.repeat(64 * 1024)}`), close]));
    case 'many-parts':
      return post(Buffer.concat([...Array.from({ length: 5000 }, () => part('')), close]));
    case 'part-type':
      return post(Buffer.concat([part(instance, draw.pick(['Content-Type: text/plain', 'Content-Type: application/dicom; transfer-syntax=1.2.3\u0000', 'Content-Type:', 'Content-Type: application/dicom\r\nContent-Type: image/jpeg', 'X: y'])), close]));
    case 'long-boundary':
      return post(Buffer.concat([Buffer.from(`--${'b'.repeat(5000)}\r\n\r\n`), instance]), related('application/dicom', 'b'.repeat(5000)));
    case 'preamble':
      return post(Buffer.concat([Buffer.from('preamble text\r\n'.repeat(1000)), part(instance), close]));
    case 'bad-type':
      return post(Buffer.concat([part(instance), close]), draw.pick(['multipart/related; type="application/pdf"; boundary=x', 'multipart/form-data; boundary=x', 'application/octet-stream', 'multipart/related; boundary=""', 'multipart/related; type=; boundary=' + BOUNDARY, 'text/plain']));
    case 'charset-param':
      return post(Buffer.concat([part(instance), close]), `${related()}; charset=ISO-2022-JP; type="application/dicom+json"`);
    case 'single-part':
      // The single-part extension: the instance as the whole body, whole, cut short or absent.
      return post(draw.pick([instance, instance.subarray(0, instance.length >> 1), Buffer.alloc(0)]), draw.pick(['application/dicom', 'Application/DICOM; transfer-syntax=1.2.3']));
  }
}

function headers(draw: Draw): FuzzRequest {
  const big = 'h'.repeat(100 * 1024);
  const method = draw.pick(['GET', 'POST', 'DELETE', 'HEAD'] as const);
  const path = draw.pick(['/studies', '/studies/1.2.3/metadata', '/studies/1.2.3', '/series']);
  switch (draw.pick(['big-header', 'many-headers', 'long-url', 'accept-list', 'accept-garbage', 'if-none-match', 'content-length'] as const)) {
    case 'big-header':
      return { method, path, headers: { 'X-Large': big, 'Content-Type': related() }, body: method === 'POST' ? Buffer.concat([part('x'), close]) : undefined };
    case 'many-headers':
      return { method, path, headers: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`X-H${i}`, 'v'])) };
    case 'long-url':
      return { method: 'GET', path: `/studies?PatientName=${'a'.repeat(100 * 1024)}`, headers: {} };
    case 'accept-list':
      return { method: 'GET', path, headers: { Accept: Array.from({ length: 3000 }, (_, i) => `multipart/related; type="application/dicom"; transfer-syntax=1.2.${i}; q=0.${i % 10}`).join(', ') } };
    case 'accept-garbage':
      return { method: 'GET', path, headers: { Accept: draw.pick(['multipart/related; type=', ';;;;', 'application/dicom; transfer-syntax="', '*/*; q=nan', 'image/jpeg; q=-1, */*;q=2', 'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.50\u00ff']) } };
    case 'if-none-match':
      return { method: 'GET', path, headers: { 'If-None-Match': Array.from({ length: 2000 }, (_, i) => `"${i}"`).join(',') } };
    case 'content-length':
      return { method: 'POST', path: '/studies', headers: { 'Content-Type': related(), 'Content-Length': '99999999999999' }, body: Buffer.alloc(0) };
  }
}

const QUERY_VALUES = [
  'limit=-1', 'limit=1e309', 'limit=99999999999999999999', 'offset=-5', 'offset=1e400', 'limit=abc', 'PatientName=*%00*', 'PatientName=%E0%A4%A', 'PatientName=%1B%24B%3B3',
  'StudyDate=2020-', 'StudyDate=-', 'StudyDate=20201340', 'StudyDate=garbage-garbage', 'StudyTime=25', 'StudyInstanceUID=' + Array.from({ length: 3000 }, (_, i) => `1.2.${i}`).join(','),
  'includefield=all', 'includefield=zzzz', 'includefield=00100010,FFFFFFFF,', 'fuzzymatching=maybe', '00100010=^^^', 'ModalitiesInStudy=CT%5CMR', 'ModalitiesInStudy=', 'PatientID=*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?b',
  'SOPInstanceUID=..', '0020000D=%00', 'PatientBirthDate=19000101-19000101-1900', 'AccessionNumber=' + 'x'.repeat(10000), '&&&=&', '%=%', 'Modality[]=CT', 'PatientName=' + '\\'.repeat(300),
];

function query(draw: Draw): FuzzRequest {
  const level = draw.pick(['/studies', '/series', '/instances', '/studies/1.2.3/series', '/studies/1.2.3/series/4.5/instances']);
  const params = Array.from({ length: 1 + draw.int(3) }, () => draw.pick(QUERY_VALUES)).join('&');
  return { method: 'GET', path: `${level}?${params}`, headers: { Accept: draw.pick(['application/dicom+json', '*/*', 'multipart/related; type="application/dicom+xml"', 'text/html']) } };
}

const BAD_SEGMENTS = ['..', '%2e%2e', '1.2.3%00', '%FF%FE', '1'.repeat(300), '1.2.3%2F..%2F4', '-1', '1.2.3;x=1', '%', ' 1.2', 'ＡＢ'];

function paths(draw: Draw): FuzzRequest {
  const seg = () => draw.pick(BAD_SEGMENTS);
  const method = draw.pick(['GET', 'GET', 'GET', 'DELETE', 'PUT', 'HEAD'] as const);
  const path = draw.pick([
    `/studies/${seg()}`,
    `/studies/1.2.3/series/${seg()}/instances/${seg()}/frames/1`,
    `/studies/1.2.3/series/4.5/instances/6.7/frames/${draw.pick(['0', '-1', '1e3', '1,,2', '99999999999999999999', ' ', '1,2,' + '3,'.repeat(5000)])}`,
    `/studies/1.2.3/series/4.5/instances/6.7/bulkdata/${draw.pick(['7FE00010/99999999999/00000000', 'zz', '00000000/-1', '/'.repeat(500)])}`,
    `/studies/1.2.3/series/4.5/instances/6.7/rendered?window=${draw.pick(['1,0', 'nan,nan', '1e308,1e308'])}`,
    `/${seg()}`,
  ]);
  return { method, path, headers: {} };
}

export const REQUEST_MUTATIONS = ['multipart', 'headers', 'query', 'paths'] as const;
export type RequestMutation = (typeof REQUEST_MUTATIONS)[number];

export function mutateRequest(kind: RequestMutation, instance: Buffer, draw: Draw): FuzzRequest {
  switch (kind) {
    case 'multipart':
      return multipart(instance, draw);
    case 'headers':
      return headers(draw);
    case 'query':
      return query(draw);
    case 'paths':
      return paths(draw);
  }
}

/** Odd but well-formed parameters of retrievals of a stored instance (frames, rendered, thumbnails). */
export function retrievalVariants(draw: Draw): Array<{ suffix: string; accept: string }> {
  const window = draw.pick(['', 'window=40,400', 'window=0,1', 'window=-1e9,1e-9', 'window=1,1,sigmoid', 'window=1,2,linear-exact']);
  const viewport = draw.pick(['', 'viewport=1,1', 'viewport=4096,4096', 'viewport=64,64,0,0,-10,-10', 'viewport=10,10,,,,', 'viewport=10,10,0,0,65535,65535']);
  const query = [window, viewport, draw.pick(['', 'quality=1', 'quality=100'])].filter(Boolean).join('&');
  return [
    { suffix: `/rendered${query ? `?${query}` : ''}`, accept: draw.pick(['image/jpeg', 'image/png', '*/*']) },
    { suffix: `/frames/${draw.pick(['1', '2', '1,1,1', '3,1'])}`, accept: draw.pick(['multipart/related; type="application/octet-stream"', 'multipart/related; type="image/jls"', 'multipart/related; type="image/jp2"', 'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.50', 'multipart/related; type="image/dicom-rle"']) },
    { suffix: '/thumbnail', accept: 'image/jpeg' },
    { suffix: '', accept: draw.pick(['multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.80', 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2', 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1.99', 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.201']) },
  ];
}
