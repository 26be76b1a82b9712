// C-GET and C-MOVE against dcmtk's getscu, movescu and storescp: instances arrive as stored when the
// receiver accepts their syntax, decompressed (as WADO-RS decompresses them) when it accepts only
// uncompressed ones; the counts, the refusals and an unreachable destination as PS3.4 C.4 says.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDicom } from '../../lambdas/dicom/parser.js';
import { TransferSyntax } from '../../lambdas/dicom/transfer-syntax.js';
import { parsePeers } from '../../lambdas/dimse/settings.js';
import { getMultipart, startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { dcmtk, dimseSettings, freePort, startStorescp } from '../helpers/dcmtk.js';
import { sampleBytes } from '../helpers/samples.js';

const CT = { file: 'highdicom/ct_image.dcm', study: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322' };
const MR_J2K = { file: 'pydicom-data/MR2_J2KR.dcm', study: '1.3.6.1.4.1.5962.1.2.5.20040826185059.5457', sop: '1.3.6.1.4.1.5962.1.1.5.1.2.20040826185059.5457' };
const J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';

let archive: TestArchive;
let port: number;
let received: string;
let storescp: Awaited<ReturnType<typeof startStorescp>>;

beforeAll(async () => {
  received = mkdtempSync(join(tmpdir(), 'retrieved-'));
  storescp = await startStorescp(received);
  const destinationPort = storescp.port;
  const unreachable = await freePort();
  const settings = await dimseSettings({ peers: parsePeers(`STORESCP@127.0.0.1:${destinationPort},GONE@127.0.0.1:${unreachable}:dest,VIEWER@127.0.0.1:1:find+get`) });
  port = settings.port;
  archive = await startTestArchive({}, undefined, { dimse: settings });
  expect((await stow(archive.url, [sampleBytes(CT.file), sampleBytes(MR_J2K.file)])).status).toBe(200);
});

afterAll(async () => {
  storescp?.stop();
  await archive?.dispose();
  rmSync(received, { recursive: true, force: true });
});

beforeEach(() => {
  for (const f of readdirSync(received)) rmSync(join(received, f));
});

const receivedFiles = () => readdirSync(received).map((f) => readFileSync(join(received, f)));

async function getscu(args: string[]): Promise<{ output: string; files: Buffer[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'getscu-'));
  try {
    const run = await dcmtk('getscu', ['-v', '+B', '-aet', 'VIEWER', '-aec', 'CLOUDPACS', '-od', dir, ...args, '127.0.0.1', String(port)]);
    return { output: run.output, files: readdirSync(dir).map((f) => readFileSync(join(dir, f))) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The stored instance's data set, as WADO-RS serves it in `syntax`. */
async function wadoDataSet(study: string, syntax: string): Promise<Buffer> {
  const res = await getMultipart(`${archive.url}/studies/${study}`, `multipart/related; type="application/dicom"; transfer-syntax=${syntax}`);
  const part = res.parts[0].body;
  const parsed = parseDicom(part);
  return part.subarray(parsed.datasetOffset);
}

const dataSetOf = (file: Buffer) => file.subarray(parseDicom(file).datasetOffset);

describe('C-GET', () => {
  it('sends a JPEG 2000 instance as stored to a requester that accepts it', async () => {
    const { output, files } = await getscu(['+xv', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${MR_J2K.study}`]);
    expect(output).toMatch(/Received C-GET Response \(Success\)/);
    expect(files).toHaveLength(1);
    expect(parseDicom(files[0]).transferSyntaxUID).toBe(J2K_LOSSLESS);
    expect(Buffer.compare(dataSetOf(files[0]), await wadoDataSet(MR_J2K.study, '*'))).toBe(0);
  });

  it('decompresses it, as WADO-RS does, for a requester that accepts only uncompressed data', async () => {
    const { output, files } = await getscu(['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${MR_J2K.study}`]);
    expect(output).toMatch(/Received C-GET Response \(Success\)/);
    expect(parseDicom(files[0]).transferSyntaxUID).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(Buffer.compare(dataSetOf(files[0]), await wadoDataSet(MR_J2K.study, TransferSyntax.ExplicitVRLittleEndian))).toBe(0);
  });

  it('retrieves at the IMAGE level by a list of SOP Instance UIDs, and counts the sub-operations', async () => {
    const { output, files } = await getscu(['-S', '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${MR_J2K.study}`, '-k', `SOPInstanceUID=${MR_J2K.sop}\\1.2.3.4.404`]);
    expect(files).toHaveLength(1);
    expect(output).toMatch(/Number of Completed Suboperations : 1/);
    expect(output).toMatch(/Number of Failed Suboperations\s+: 0/);
  });

  it('refuses an identifier without unique keys (A900)', async () => {
    const { output, files } = await getscu(['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']);
    expect(files).toHaveLength(0);
    expect(output).toMatch(/C-GET Response \(Error: DataSetDoesNotMatchSOPClass\)|Failed: IdentifierDoesNotMatchSOPClass/);
  });
});

describe('C-MOVE', () => {
  const movescu = (destination: string, study: string) =>
    dcmtk('movescu', ['-v', '-S', '-aec', 'CLOUDPACS', '-aem', destination, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`, '127.0.0.1', String(port)]);

  it('sends a study to a configured destination (dcmtk storescp), in the syntax it is stored in', async () => {
    const run = await movescu('STORESCP', MR_J2K.study);
    expect(run.output).toMatch(/Received Final Move Response \(Success\)/);
    const files = receivedFiles();
    expect(files).toHaveLength(1);
    expect(parseDicom(files[0]).transferSyntaxUID).toBe(J2K_LOSSLESS);
    const moved = await movescu('STORESCP', CT.study);
    expect(moved.output).toMatch(/Received Final Move Response \(Success\)/);
    expect(receivedFiles()).toHaveLength(2);
  });

  it('refuses a destination it does not know (A801)', async () => {
    const run = await movescu('ELSEWHERE', CT.study);
    expect(run.output).toMatch(/Final Move Response \(Refused: MoveDestinationUnknown\)/);
    expect(receivedFiles()).toHaveLength(0);
  });

  it('answers Out of Resources – unable to perform sub-operations (A702) when the destination cannot be reached', async () => {
    const run = await movescu('GONE', CT.study);
    expect(run.output).toMatch(/Final Move Response \(Refused: OutOfResourcesSubOperations\)|a702/i);
  });

  it('refuses C-MOVE to a peer without the move right', async () => {
    const run = await dcmtk('movescu', ['-v', '-S', '-aet', 'VIEWER', '-aec', 'CLOUDPACS', '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${CT.study}`, '127.0.0.1', String(port)]);
    // Its C-MOVE context is rejected (user rejection): movescu has nothing to send the request on.
    expect(run.output).toMatch(/No valid Presentation Context/i);
    expect(run.output).not.toMatch(/Move Response/);
  });
});
