// What a hostile or broken DIMSE peer gets: the refusal the standard defines, and an archive that keeps
// serving and has stored nothing half-written.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDicom } from '../../lambdas/dicom/parser.js';
import { parsePeers } from '../../lambdas/dimse/settings.js';
import { startTestArchive, type TestArchive } from '../helpers/archive.js';
import { dcmtk, dimseSettings } from '../helpers/dcmtk.js';
import { RawAssociation, associateRequest, cStoreCommand, commandStatus, pData } from '../helpers/dicom-pdus.js';
import { SAMPLES_DIR, sampleBytes } from '../helpers/samples.js';

const CT = 'highdicom/ct_image.dcm'; // 39 KB, over this archive's 20 KB instance limit
const SEG = 'highdicom/seg_image_cr_binary.dcm'; // 2.7 KB
const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

let archive: TestArchive;
let port: number;

beforeAll(async () => {
  const settings = await dimseSettings({ acceptUnknownCallers: false, peers: parsePeers('MODALITY@127.0.0.1:104:store,VIEWER@127.0.0.1:105:find'), maxAssociations: 2 });
  port = settings.port;
  archive = await startTestArchive({ maxInstanceBytes: 20_000 }, undefined, { dimse: settings });
});

afterAll(async () => {
  await archive?.dispose();
});

const echo = (calling: string) => dcmtk('echoscu', ['-v', '-aet', calling, '-aec', 'CLOUDPACS', '127.0.0.1', String(port)]);
/** Files in the blob store (its folder appears with the first write). */
const blobFiles = () => {
  const dir = join(archive.dataDir, 'blobs');
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.dcm')) : [];
};

/** The data set of a sample file (after its File Meta Information), as a C-STORE carries it. */
function dataSetOf(file: string): Buffer {
  const bytes = sampleBytes(file);
  return bytes.subarray(parseDicom(bytes).datasetOffset);
}

async function openStoreAssociation(): Promise<RawAssociation> {
  const peer = await RawAssociation.connect(port);
  peer.send(associateRequest('MODALITY', 'CLOUDPACS', SEGMENTATION_STORAGE, EXPLICIT_LE));
  expect(await peer.waitFor(0x02)).toBeDefined(); // A-ASSOCIATE-AC
  return peer;
}

describe('associations the archive refuses', () => {
  it('rejects a calling AE title it does not know, and accepts a known one', async () => {
    const unknown = await echo('STRANGER');
    expect(unknown.code).not.toBe(0);
    expect(unknown.output).toMatch(/Calling AE Title Not Recognized/i);
    expect((await echo('MODALITY')).output).toMatch(/Received Echo Response \(Success\)/);
  });

  it('rejects the presentation contexts of services a peer may not use', async () => {
    const run = await dcmtk('findscu', ['-v', '-S', '-aet', 'MODALITY', '-aec', 'CLOUDPACS', '-k', 'QueryRetrieveLevel=STUDY', '127.0.0.1', String(port)]);
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/No Acceptable Presentation Contexts|No presentation context/i);
  });

  it('rejects an abstract syntax it does not support (Modality Worklist)', async () => {
    const run = await dcmtk('findscu', ['-v', '-W', '-aet', 'VIEWER', '-aec', 'CLOUDPACS', '-k', 'PatientName', '127.0.0.1', String(port)]);
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/No Acceptable Presentation Contexts|No presentation context/i);
  });

  it('rejects associations over the limit as transient, and closes connections far past it unread', async () => {
    // Two connections that never ask for anything fill this archive's limit of two.
    const idle = await Promise.all([RawAssociation.connect(port), RawAssociation.connect(port)]);
    try {
      const run = await echo('MODALITY');
      expect(run.code).not.toBe(0);
      expect(run.output).toMatch(/Local Limit Exceeded/i);
      // Up to twice the limit are answered with a rejection; the fifth at once is closed.
      for (let i = 0; i < 2; i++) idle.push(await RawAssociation.connect(port));
      const fifth = await RawAssociation.connect(port);
      idle.push(fifth);
      expect(await fifth.waitClosed()).toBe(true);
      expect(fifth.received.length).toBe(0);
    } finally {
      idle.forEach((i) => i.destroy());
    }
    await new Promise((r) => setTimeout(r, 100));
    expect((await echo('MODALITY')).output).toMatch(/Received Echo Response \(Success\)/);
  });
});

describe('malformed traffic', () => {
  it('aborts on bytes that are not a PDU, and keeps serving', async () => {
    const peer = await RawAssociation.connect(port);
    peer.send(Buffer.from('GET / HTTP/1.1\r\nHost: pacs\r\n\r\n'));
    expect(await peer.waitFor(0x07)).toBeDefined(); // A-ABORT
    expect(await peer.waitClosed()).toBe(true);
    expect((await echo('MODALITY')).code).toBe(0);
  });

  it('aborts on a PDU longer than the maximum before reading it', async () => {
    const peer = await RawAssociation.connect(port);
    peer.send(Buffer.from([0x01, 0, 0xff, 0xff, 0xff, 0xf0, 0, 1]));
    expect(await peer.waitFor(0x07)).toBeDefined();
    expect(await peer.waitClosed()).toBe(true);
    expect((await echo('MODALITY')).code).toBe(0);
  });

  it('aborts a command set that never ends (fragments past 64 KiB, none marked last)', async () => {
    const peer = await openStoreAssociation();
    for (let i = 0; i < 6; i++) peer.send(pData(Buffer.alloc(15_000, 0x20), true, false));
    expect(await peer.waitFor(0x07)).toBeDefined();
    expect(await peer.waitClosed()).toBe(true);
    expect((await echo('MODALITY')).code).toBe(0);
  });

  it('aborts a data set past 16 MiB that belongs to no C-STORE', async () => {
    const peer = await openStoreAssociation();
    // A complete C-ECHO-RQ command set that says a data set follows, then data that never ends.
    peer.send(pData(cEchoCommandWithDataSet(), true, true));
    const block = Buffer.alloc(16_000, 0x41);
    for (let i = 0; i < 1100 && !peer.closed; i++) peer.send(pData(block, false, false));
    expect(await peer.waitFor(0x07)).toBeDefined();
    expect(await peer.waitClosed()).toBe(true);
    expect((await echo('MODALITY')).code).toBe(0);
  });
});

/** A C-ECHO-RQ command set (Implicit VR Little Endian) whose Command Data Set Type says a data set follows. */
function cEchoCommandWithDataSet(): Buffer {
  const element = (elementNumber: number, value: Buffer) => {
    const header = Buffer.alloc(8);
    header.writeUInt16LE(0, 0);
    header.writeUInt16LE(elementNumber, 2);
    header.writeUInt32LE(value.length, 4);
    return Buffer.concat([header, value]);
  };
  const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);
  return Buffer.concat([element(0x0002, Buffer.from('1.2.840.10008.1.1\0', 'latin1')), element(0x0100, us(0x0030)), element(0x0110, us(7)), element(0x0800, us(0x0000))]);
}

describe('C-STORE that goes wrong', () => {
  it('stores nothing when the peer disconnects in the middle of a data set', async () => {
    const before = blobFiles().length;
    const peer = await openStoreAssociation();
    const dataSet = dataSetOf(SEG);
    peer.send(pData(cStoreCommand(SEGMENTATION_STORAGE, '1.2.3.4.5.6.7.8.9'), true, true));
    peer.send(pData(dataSet.subarray(0, 1000), false, false));
    await new Promise((r) => setTimeout(r, 200));
    peer.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect(blobFiles().length).toBe(before);
    const found = await fetch(`${archive.url}/instances?SOPInstanceUID=1.2.3.4.5.6.7.8.9`);
    expect(await found.json()).toEqual([]);
  });

  it('refuses a data set whose SOP Instance UID is not the one its command names (A900)', async () => {
    const peer = await openStoreAssociation();
    peer.send(pData(cStoreCommand(SEGMENTATION_STORAGE, '1.2.3.999'), true, true));
    peer.send(pData(dataSetOf(SEG).subarray(0, 1000), false, false));
    peer.send(pData(dataSetOf(SEG).subarray(1000), false, true));
    expect(commandStatus((await peer.waitFor(0x04))!)).toBe(0xa900);
    peer.destroy();
    expect(blobFiles()).toEqual([]);
  });

  it('refuses an instance larger than MAX_INSTANCE_BYTES without holding it (A700)', async () => {
    const run = await dcmtk('storescu', ['-v', '-R', '-aet', 'MODALITY', '-aec', 'CLOUDPACS', '127.0.0.1', String(port), join(SAMPLES_DIR, CT)]);
    expect(run.output).toMatch(/Received Store Response \(Refused: OutOfResources\)/); // A700, dcmtk's name for it
    expect(blobFiles()).toEqual([]);
  });
});
