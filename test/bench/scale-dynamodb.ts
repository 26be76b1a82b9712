// The DynamoDB half of `npm run bench:scale`: the AWS index on DynamoDB Local holding at least 100,000
// items, and for each common query shape the requests one search makes (by command; never a Scan), with
// the time DynamoDB Local took (a local Java emulator: the counts carry over to AWS, the times do not).
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tag } from '../../lambdas/dicom/tags.js';
import { DynamoDbIndex } from '../../lambdas/storage/aws/dynamodb-index.js';
import { FsBlobStore } from '../../lambdas/storage/local/fs-blob-store.js';
import type { IndexQuery } from '../../lambdas/storage/ports.js';
import { startDynamoDbLocal } from '../helpers/dynamodb-local.js';
import { MODALITIES, SURNAMES, accessionOf, instanceRecord, patientIdOf, studyDateOf, studyUidOf } from '../helpers/hospital-records.js';
import { createIndexTable } from '../helpers/index-table.js';

const MIN_ITEMS = Number(process.env.SCALE_DYNAMODB_ITEMS ?? 100_000);
const SERIES = 2;
const PER_SERIES = 5;
const RUNS = 20;

export async function benchDynamoDb(): Promise<void> {
  const dynamo = await startDynamoDbLocal();
  const overflow = mkdtempSync(join(tmpdir(), 'scale-overflow-'));
  try {
    const counts = new Map<string, number>();
    dynamo.client.middlewareStack.add((next, context) => async (args) => {
      counts.set(context.commandName as string, (counts.get(context.commandName as string) ?? 0) + 1);
      return next(args);
    }, { step: 'initialize', name: 'countRequests' });
    const table = await createIndexTable(dynamo.client);
    const index = new DynamoDbIndex(dynamo.client, table, new FsBlobStore(overflow));

    const started = performance.now();
    let studies = 0;
    let items = 0;
    while (items < MIN_ITEMS) {
      const batch = Array.from({ length: 5 }, (_, b) => studies + b); // 50 stores at once: the SDK's sockets
      await Promise.all(batch.flatMap((s) => Array.from({ length: SERIES * PER_SERIES }, (_, n) => index.commitInstance(instanceRecord(s, Math.floor(n / PER_SERIES), n % PER_SERIES, `2.25.5${String(s).padStart(9, '0')}${n}`), 'reject'))));
      studies += batch.length;
      if (studies % 250 === 0) {
        items = (await dynamo.client.send(new DescribeTableCommand({ TableName: table }))).Table?.ItemCount ?? 0;
        process.stdout.write(`\r  DynamoDB Local: ${studies.toLocaleString('en')} studies, ${items.toLocaleString('en')} items`);
      }
    }
    console.log(` in ${((performance.now() - started) / 1000).toFixed(0)} s`);

    const pick = (r: number) => Math.floor(((r * 7919) % 1000) / 1000 * studies);
    const q = (filters: Array<[number, string, string]>, extra: Partial<IndexQuery> = {}): IndexQuery => ({ level: 'study', filters: filters.map(([tag, vr, value]) => ({ tag, vr, value })), fuzzy: false, limit: 100, offset: 0, ...extra });
    const shapes: Array<[string, (r: number) => IndexQuery]> = [
      ['patient name prefix', (r) => q([[Tag.PatientName, 'PN', `${SURNAMES[r % SURNAMES.length]}${r % 97}*`]])],
      ['patient ID', (r) => q([[Tag.PatientID, 'LO', patientIdOf(pick(r))]])],
      ['accession number', (r) => q([[Tag.AccessionNumber, 'SH', accessionOf(pick(r))]])],
      ['date range (a week)', (r) => q([[Tag.StudyDate, 'DA', `${studyDateOf(pick(r))}-${studyDateOf(pick(r) + 380)}`]])],
      ['modality', (r) => q([[Tag.ModalitiesInStudy, 'CS', MODALITIES[r % MODALITIES.length]]])],
      ['study UID', (r) => q([[Tag.StudyInstanceUID, 'UI', studyUidOf(pick(r))]])],
      ['series of a study', (r) => q([], { level: 'series', studyInstanceUID: studyUidOf(pick(r)) })],
    ];
    console.log('\nDynamoDB index, requests a search (mean)          Query  BatchGet  GetItem  Scan   answers   p95 ms (local)');
    for (const [name, query] of shapes) {
      counts.clear();
      const times: number[] = [];
      let answers = 0;
      for (let r = 0; r < RUNS; r++) {
        const t = performance.now();
        for await (const _ of index.query(query(r))) answers++;
        times.push(performance.now() - t);
      }
      const mean = (command: string) => ((counts.get(command) ?? 0) / RUNS).toFixed(1).padStart(7);
      const p95 = [...times].sort((a, b) => a - b)[Math.floor(0.95 * times.length)];
      console.log(`  ${name.padEnd(48)}${mean('QueryCommand')}${mean('BatchGetItemCommand').padStart(10)}${mean('GetItemCommand').padStart(9)}${mean('ScanCommand').padStart(6)}${(answers / RUNS).toFixed(1).padStart(10)}${p95.toFixed(0).padStart(12)}`);
      if (counts.get('ScanCommand')) throw new Error(`${name}: a search scanned the table`);
    }
  } finally {
    await dynamo.stop();
    rmSync(overflow, { recursive: true, force: true });
  }
}

// `npx tsx test/bench/scale-dynamodb.ts` runs this half alone.
if (process.argv[1]?.endsWith('scale-dynamodb.ts')) await benchDynamoDb();
