// Metadata never misstates a value, however a writer left the VRs open: data sets built byte by byte here
// (implicit VR, values written as UN, private blocks, padding, an encoding its meta group does not name),
// read by the archive and checked against pydicom's and dcmtk's readings of the same files.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DicomJson } from '../../lambdas/dicom/json-model.js';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { getMultipart, startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { DataSetWriter, fl, part10File, ss, us } from '../helpers/dataset-bytes.js';
import { repoRoot } from '../helpers/samples.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const IMPLICIT = '1.2.840.10008.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';
const STUDY = '2.25.7340001';

/** The identity every case carries, in tag order, up to (but not including) the Study Instance UID's group. */
const identity = (w: DataSetWriter, sop: string) => w.add(0x00080016, 'UI', CT).add(0x00080018, 'UI', sop);
const uids = (w: DataSetWriter, series: string) => w.add(0x0020000d, 'UI', STUDY).add(0x0020000e, 'UI', series);
const image = (w: DataSetWriter, pixelRepresentation: number, bitsAllocated = 16) =>
  w
    .add(0x00280002, 'US', us(1))
    .add(0x00280004, 'CS', 'MONOCHROME2')
    .add(0x00280010, 'US', us(2))
    .add(0x00280011, 'US', us(2))
    .add(0x00280100, 'US', us(bitsAllocated))
    .add(0x00280101, 'US', us(bitsAllocated))
    .add(0x00280102, 'US', us(bitsAllocated - 1))
    .add(0x00280103, 'US', us(pixelRepresentation));

const cases: Record<string, Uint8Array> = {};
function build(name: string, sop: string, dataset: DataSetWriter, transferSyntax: string): void {
  cases[name] = part10File(dataset.bytes(), transferSyntax, CT, sop);
}

// "US or SS" in implicit VR, at the top level, in a Modality LUT item and in an icon image of its own.
{
  const icon = image(new DataSetWriter(false), 0, 8).add(0x00280106, 'US', us(250)).add(0x7fe00010, 'OB', new Uint8Array([1, 2, 3, 250]));
  const lut = new DataSetWriter(false).add(0x00283002, 'SS', ss(-25536, -1024, 16)).add(0x00283006, 'OW', us(1, 2, 3, 4));
  const w = uids(identity(new DataSetWriter(false), '2.25.7340101'), '2.25.7340100');
  image(w, 1).add(0x00280106, 'SS', ss(-1024)).add(0x00280107, 'SS', ss(3071)).add(0x00280120, 'SS', ss(-2000)).add(0x00280121, 'SS', ss(-1500));
  w.sequence(0x00283000, [lut]).sequence(0x00880200, [icon]).add(0x7fe00010, 'OW', ss(-1024, 0, 100, 3071));
  build('implicit-signed', '2.25.7340101', w, IMPLICIT);
  const u = uids(identity(new DataSetWriter(false), '2.25.7340102'), '2.25.7340100');
  image(u, 0).add(0x00280106, 'US', us(64512)).add(0x7fe00010, 'OW', us(64512, 0, 1, 2));
  build('implicit-unsigned', '2.25.7340102', u, IMPLICIT);
}

// Public attributes written as UN in explicit VR, at the top level and inside sequences (PS3.5 6.2.2),
// Pixel Data written as UN (OW by its 16 bits), Private Creators and vendor elements as UN.
{
  const deepest = new DataSetWriter(false).add(0x00081150, 'UI', CT).add(0x00081155, 'UI', '2.25.7340199');
  const inner = new DataSetWriter(true).sequence(0x0008114a, [deepest], { vr: 'UN', definedLength: true }).add(0x0020000e, 'UN', '2.25.7340198');
  const asUnSequence = new DataSetWriter(false).add(0x00081150, 'UI', CT).add(0x00081155, 'UI', '2.25.7340197');
  const w = identity(new DataSetWriter(true), '2.25.7340201')
    .sequence(0x00081115, [inner])
    .sequence(0x00081140, [asUnSequence], { vr: 'UN' })
    .add(0x00100010, 'UN', 'Doe^Jane')
    .add(0x00180050, 'UN', '2.5');
  uids(w, '2.25.7340200');
  image(w, 1)
    .add(0x00280106, 'UN', ss(-1024))
    .add(0x00290010, 'UN', 'SIEMENS CSA HEADER')
    .add(0x00291008, 'UN', 'IMAGE NUM 4')
    .add(0x00291099, 'UN', 'not in any dictionary')
    .add(0x20010010, 'UN', 'Philips Imaging DD 001')
    .add(0x20011003, 'UN', fl(1000))
    .add(0x7fe00010, 'UN', ss(-1024, 0, 100, 3071));
  build('explicit-un', '2.25.7340201', w, EXPLICIT);
}

// Private blocks in implicit VR: known creators (Siemens' b-value in a block other than 0x10, GE's), an
// unknown creator, an element its creator's dictionary does not list; values of padding only.
{
  const w = new DataSetWriter(false)
    .add(0x00080008, 'CS', 'ORIGINAL\\ \\AXIAL')
    .add(0x00080016, 'UI', CT)
    .add(0x00080018, 'UI', '2.25.7340301')
    .add(0x00081030, 'LO', '\0\0')
    .add(0x00100010, 'PN', '    ')
    .add(0x00190011, 'LO', 'SIEMENS MR HEADER')
    .add(0x0019110c, 'IS', '1000')
    .add(0x001911ee, 'UN', new Uint8Array([1, 2, 3, 4]));
  uids(w, '2.25.7340300')
    .add(0x00270010, 'LO', 'NOBODY KNOWS US')
    .add(0x00271001, 'UN', new Uint8Array([9, 8, 7, 6]))
    .add(0x00430010, 'LO', 'GEMS_PARM_01')
    .add(0x00431039, 'IS', '1000\\8\\0\\0');
  build('implicit-private', '2.25.7340301', w, IMPLICIT);
}

// Meta groups that name the other encoding than the data set's.
{
  const implicitData = uids(identity(new DataSetWriter(false), '2.25.7340401').add(0x00100010, 'PN', 'Doe^John'), '2.25.7340400');
  build('implicit-under-explicit', '2.25.7340401', implicitData, EXPLICIT);
  const explicitData = uids(identity(new DataSetWriter(true), '2.25.7340402').add(0x00100010, 'PN', 'Doe^John'), '2.25.7340400');
  build('explicit-under-implicit', '2.25.7340402', explicitData, IMPLICIT);
}

type Attribute = { vr: string; Value?: unknown[]; InlineBinary?: string };
const at = (json: DicomJson, ...path: string[]): Attribute => {
  let node = json as unknown as Record<string, Attribute>;
  for (let i = 0; i < path.length - 1; i += 2) node = (node[path[i]].Value as Array<Record<string, Attribute>>)[Number(path[i + 1])];
  return node[path[path.length - 1]];
};

describe('metadata of data sets whose file leaves VRs open', () => {
  let dir: string;
  let pydicom: Record<string, { json: DicomJson }>;
  const ours = (name: string) => readInstance(cases[name]).metadata;
  const dcmtk = (name: string, ...options: string[]) => JSON.parse(execFileSync('dcm2json', [...options, join(dir, `${name}.dcm`)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as DicomJson;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fidelity-'));
    for (const [name, bytes] of Object.entries(cases)) writeFileSync(join(dir, `${name}.dcm`), bytes);
    const out = execFileSync('/usr/bin/python3', [join(repoRoot, 'test/reference/pydicom_json.py'), ...Object.keys(cases).map((n) => join(dir, `${n}.dcm`))], { encoding: 'utf8' });
    pydicom = Object.fromEntries(Object.entries(JSON.parse(out) as Record<string, { json: DicomJson }>).map(([path, reading]) => [path.slice(dir.length + 1, -4), reading]));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads "US or SS" as SS when Pixel Representation is 1: -1024 stays -1024, as pydicom and dcmtk read it', () => {
    const json = ours('implicit-signed');
    for (const [tag, value] of [['00280106', -1024], ['00280107', 3071], ['00280120', -2000], ['00280121', -1500]] as const) {
      expect(at(json, tag)).toEqual({ vr: 'SS', Value: [value] });
      expect(at(json, tag)).toEqual(at(pydicom['implicit-signed'].json, tag));
      expect(at(json, tag)).toEqual(at(dcmtk('implicit-signed'), tag));
    }
    // In the Modality LUT item the parent's Pixel Representation holds; the entry count stays unsigned
    // (PS3.3 C.11.1.1.1), which pydicom means to do (its _LUT_DESCRIPTOR_TAGS) but misses after its VR fix.
    expect(at(json, '00283000', '0', '00283002')).toEqual({ vr: 'SS', Value: [40000, -1024, 16] });
    expect(at(pydicom['implicit-signed'].json, '00283000', '0', '00283002')).toEqual({ vr: 'SS', Value: [-25536, -1024, 16] });
    // An icon image's own Pixel Representation (0) wins over the parent's.
    expect(at(json, '00880200', '0', '00280106')).toEqual({ vr: 'US', Value: [250] });
    expect(at(json, '00880200', '0', '00280106')).toEqual(at(pydicom['implicit-signed'].json, '00880200', '0', '00280106'));
    expect(at(json, '7FE00010').vr).toBe('OW'); // implicit VR Pixel Data is OW (PS3.5 A.1)
  });

  it('reads "US or SS" as US when Pixel Representation is 0', () => {
    const json = ours('implicit-unsigned');
    expect(at(json, '00280106')).toEqual({ vr: 'US', Value: [64512] });
    expect(at(json, '00280106')).toEqual(at(pydicom['implicit-unsigned'].json, '00280106'));
    expect(at(json, '00280106')).toEqual(at(dcmtk('implicit-unsigned'), '00280106'));
  });

  it('decodes public attributes written as UN with their dictionary VR, inside sequences too, as pydicom does', () => {
    const json = ours('explicit-un');
    const theirs = pydicom['explicit-un'].json;
    expect(at(json, '00100010')).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] });
    expect(at(json, '00180050')).toEqual({ vr: 'DS', Value: [2.5] });
    expect(at(json, '00280106')).toEqual({ vr: 'SS', Value: [-1024] });
    expect(at(json, '00081140', '0', '00081155')).toEqual({ vr: 'UI', Value: ['2.25.7340197'] });
    expect(at(json, '00081115', '0', '0020000E')).toEqual({ vr: 'UI', Value: ['2.25.7340198'] });
    expect(at(json, '00081115', '0', '0008114A', '0', '00081155')).toEqual({ vr: 'UI', Value: ['2.25.7340199'] });
    for (const path of [['00100010'], ['00180050'], ['00280106'], ['00081140'], ['00081115']]) expect(at(json, ...path)).toEqual(at(theirs, ...path));
    // Pixel Data written as UN: OW, since Bits Allocated is 16.
    expect(at(json, '7FE00010').vr).toBe('OW');
    expect(at(theirs, '7FE00010').vr).toBe('OW');
  });

  it('reads Private Creators as LO and known vendors\' private elements with their VR; unknown ones stay UN', () => {
    const explicit = ours('explicit-un');
    expect(at(explicit, '00290010')).toEqual({ vr: 'LO', Value: ['SIEMENS CSA HEADER'] });
    expect(at(explicit, '00291008')).toEqual({ vr: 'CS', Value: ['IMAGE NUM 4'] });
    expect(at(explicit, '00291099')).toEqual({ vr: 'UN', InlineBinary: Buffer.from('not in any dictionary\0').toString('base64') });
    expect(at(explicit, '20011003')).toEqual({ vr: 'FL', Value: [1000] }); // Philips' diffusion b-factor
    const implicit = ours('implicit-private');
    expect(at(implicit, '00190011')).toEqual({ vr: 'LO', Value: ['SIEMENS MR HEADER'] });
    expect(at(implicit, '0019110C')).toEqual({ vr: 'IS', Value: [1000] }); // Siemens' b-value, in block 0x11
    expect(at(implicit, '00431039')).toEqual({ vr: 'IS', Value: [1000, 8, 0, 0] }); // GE's, in block 0x10
    expect(at(implicit, '001911EE')).toEqual({ vr: 'UN', InlineBinary: 'AQIDBA==' });
    expect(at(implicit, '00271001')).toEqual({ vr: 'UN', InlineBinary: 'CQgHBg==' });
    for (const [name, tags] of [['explicit-un', ['00290010', '00291008', '00291099', '20010010', '20011003']], ['implicit-private', ['00190011', '0019110C', '001911EE', '00270010', '00271001', '00430010', '00431039']]] as const) {
      for (const tag of tags) expect(at(ours(name), tag), `${name} ${tag}`).toEqual(at(pydicom[name].json, tag));
    }
  });

  it('gives no Value for a value of padding only, and null for an empty one among several', () => {
    const json = ours('implicit-private');
    expect(at(json, '00100010')).toEqual({ vr: 'PN' });
    expect(at(json, '00081030')).toEqual({ vr: 'LO' });
    expect(at(json, '00081030')).toEqual(at(pydicom['implicit-private'].json, '00081030'));
    expect(at(json, '00100010')).toEqual(at(dcmtk('implicit-private'), '00100010'));
    // pydicom keeps the space (" "); PS3.18 F.2.5 makes an empty value null.
    expect(at(json, '00080008')).toEqual({ vr: 'CS', Value: ['ORIGINAL', null, 'AXIAL'] });
  });

  it('reads a data set in the encoding it is written in when the meta group names the other, as dcmtk -td and pydicom do', () => {
    for (const name of ['implicit-under-explicit', 'explicit-under-implicit']) {
      const instance = readInstance(cases[name]);
      expect(instance.metadata).toEqual(pydicom[name].json);
      expect(instance.metadata).toEqual(dcmtk(name, '-td'));
      expect(instance.coercions.join()).toMatch(name === 'implicit-under-explicit' ? /written in implicit VR, not in the explicit VR/ : /written in explicit VR, not in the implicit VR/);
    }
  });
});

describe('the same data sets through DICOMweb', () => {
  let archive: TestArchive;
  beforeAll(async () => {
    archive = await startTestArchive();
  });
  afterAll(() => archive?.dispose());

  it('stores a data set in the other encoding as received, with Warning Reason B000 naming what was found', async () => {
    const res = await stow(archive.url, [cases['implicit-under-explicit']]);
    expect(res.status).toBe(202);
    const item = (res.body['00081199'].Value as Array<Record<string, { Value?: unknown[] }>>)[0];
    expect(item['00081196'].Value).toEqual([0xb000]);
    expect(String(item['00000902'].Value?.[0])).toMatch(/implicit VR.*Transfer Syntax UID 1\.2\.840\.10008\.1\.2\.1/);
    expect(res.warning).toMatch(/^299 .*implicit VR/);
    const { parts } = await getMultipart(`${archive.url}/studies/${STUDY}/series/2.25.7340400/instances/2.25.7340401`, 'multipart/related; type="application/dicom"; transfer-syntax=*');
    expect(Buffer.compare(parts[0].body, Buffer.from(cases['implicit-under-explicit']))).toBe(0);
  });

  it('serves -1024 as -1024 in DICOM JSON, DICOM XML, QIDO-RS and a re-encoded file', async () => {
    expect((await stow(archive.url, [cases['implicit-signed'], cases['implicit-private']])).status).toBe(200);
    const instance = `${archive.url}/studies/${STUDY}/series/2.25.7340100/instances/2.25.7340101`;
    const [metadata] = (await (await fetch(`${instance}/metadata`)).json()) as DicomJson[];
    expect(metadata['00280106']).toEqual({ vr: 'SS', Value: [-1024] });
    const xml = await (await fetch(`${instance}/metadata`, { headers: { Accept: 'multipart/related; type="application/dicom+xml"' } })).text();
    expect(xml).toMatch(/<DicomAttribute tag="00280106" vr="SS" keyword="SmallestImagePixelValue">\s*<Value number="1">-1024<\/Value>/);
    const [found] = (await (await fetch(`${archive.url}/studies/${STUDY}/series/2.25.7340100/instances?includefield=00280106`)).json()) as DicomJson[];
    expect(found['00280106']).toEqual({ vr: 'SS', Value: [-1024] });
    // Re-encoded in Explicit VR Little Endian, the VRs are written as read, as dcmtk confirms.
    const { parts } = await getMultipart(instance, `multipart/related; type="application/dicom"; transfer-syntax=${EXPLICIT}`);
    const dir = mkdtempSync(join(tmpdir(), 'fidelity-'));
    try {
      writeFileSync(join(dir, 'out.dcm'), parts[0].body);
      const dump = execFileSync('dcmdump', ['+L', join(dir, 'out.dcm')], { encoding: 'utf8' });
      expect(dump).toMatch(/\(0028,0106\) SS -1024/);
      expect(dump).toMatch(/\(0028,3002\) SS -25536\\-1024\\16/);
      const [privateJson] = (await (await fetch(`${archive.url}/studies/${STUDY}/series/2.25.7340300/instances/2.25.7340301/metadata`)).json()) as DicomJson[];
      expect(privateJson['0019110C']).toEqual({ vr: 'IS', Value: [1000] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('still refuses a data set that is neither valid explicit nor implicit VR, with the reason', async () => {
    // After the SOP Class UID's tag: no VR, and a 32-bit length far past the end.
    const broken = new Uint8Array([0x08, 0x00, 0x16, 0x00, 0x7a, 0x7a, 0xff, 0x7f, ...new Array(40).fill(0x41)]);
    const res = await stow(archive.url, [part10File(broken, EXPLICIT, CT, '2.25.7340501')]);
    expect(res.status).toBe(409);
    const item = (res.body['00081198'].Value as Array<Record<string, { Value?: unknown[] }>>)[0];
    expect(item['00081197'].Value).toEqual([0xc000]);
    expect(String(item['00000902'].Value?.[0])).toMatch(/invalid VR bytes for \(0008,0016\) SOPClassUID/);
  });
});
