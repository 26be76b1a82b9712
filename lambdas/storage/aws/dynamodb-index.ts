// ArchiveIndex on Amazon DynamoDB: one table, items grouped by study, and sparse secondary indexes
// for the QIDO access paths. The key design is documented in docs/aws-index.md; in short:
//
//   pk                 sk                              what
//   STUDY#<study>      STUDY                           study attributes and derived counts
//   STUDY#<study>      SERIES#<series>                 series attributes and its instance count
//   STUDY#<study>      INSTANCE#<series>#<sop>         instance record; attributes and metadata gzip'd
//   SOP#<sop>          SOP                             where a SOP Instance UID lives (uniqueness)
//   BLOB#<key>         SOP#<sop>                       which instances reference a blob (consistent reads)
//   WORKITEM#<uid>     WORKITEM                        a UPS workitem (dynamodb-workitems.ts)
//
// Every store is one TransactWriteItems over these items, so counts and references never drift.
import { gunzipSync, gzipSync } from 'node:zlib';
import { createHash, randomUUID } from 'node:crypto';
import {
  TransactionCanceledException,
  type AttributeDefinition,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type BatchGetCommandOutput,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { firstString, type DicomJson, type PersonNameJson } from '../../dicom/json-model.js';
import { compileFilter, parseRange, type AttributeFilter } from '../../dicom/matching.js';
import { Tag, tagToHex } from '../../dicom/tags.js';
import type {
  ArchiveIndex,
  BlobStore,
  CommitResult,
  DuplicatePolicy,
  IndexQuery,
  InstanceRecord,
  MetadataRow,
  QueryMatch,
  ReferenceScope,
  StoredInstance,
} from '../ports.js';
import { RecentlyUsed } from '../recently-used.js';
import { WORKITEM_INDEX } from './dynamodb-workitems.js';

/** Study listing and series-by-modality indexes are spread over this many partitions. */
export const SHARDS = 16;
/** Items hold 400 KB: a compressed body above this goes to the blob store, and so does a record above RECORD_MAX. */
const INLINE_BODY_MAX = 300 * 1024;
const RECORD_MAX = 64 * 1024;
const TRANSACTION_ATTEMPTS = 12;
/** Instances removed at once by a delete. */
const DELETE_CONCURRENCY = 8;

const KEYS_ONLY = { ProjectionType: 'KEYS_ONLY' as const };
const gsi = (name: string, pk: string, sk: string): GlobalSecondaryIndex => ({
  IndexName: name,
  KeySchema: [
    { AttributeName: pk, KeyType: 'HASH' },
    { AttributeName: sk, KeyType: 'RANGE' },
  ],
  Projection: KEYS_ONLY,
});

/** The table's keys and indexes, shared by the CDK app and the tests that create the table. */
export const INDEX_TABLE_SCHEMA: { keySchema: KeySchemaElement[]; attributes: AttributeDefinition[]; indexes: GlobalSecondaryIndex[] } = {
  keySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  attributes: ['pk', 'sk', 'patientKey', 'accessionKey', 'dateBucket', 'nameBucket', 'studyShard', 'modalityShard', 'dateKey', 'nameKey', 'uidKey', WORKITEM_INDEX.pk, WORKITEM_INDEX.sk].map(
    (AttributeName) => ({ AttributeName, AttributeType: 'S' as const }),
  ),
  indexes: [
    gsi('byPatientId', 'patientKey', 'dateKey'),
    gsi('byAccession', 'accessionKey', 'uidKey'),
    gsi('byStudyDate', 'dateBucket', 'dateKey'),
    gsi('byPatientName', 'nameBucket', 'nameKey'),
    gsi('allStudies', 'studyShard', 'dateKey'),
    gsi('seriesByModality', 'modalityShard', 'dateKey'),
    // UPS workitems, whole: a worklist is read item by item in this order (dynamodb-workitems.ts).
    { ...gsi(WORKITEM_INDEX.name, WORKITEM_INDEX.pk, WORKITEM_INDEX.sk), Projection: { ProjectionType: 'ALL' } },
  ],
};

type Item = Record<string, unknown>;

const studyPk = (study: string) => `STUDY#${study}`;
const instanceSk = (series: string, sop: string) => `INSTANCE#${series}#${sop}`;
const shardOf = (uid: string) => createHash('sha1').update(uid).digest()[0] % SHARDS;

/** Upper-cased Alphabetic group of the first patient name ("" when none). */
function alphabeticName(study: DicomJson): string {
  const v = study[tagToHex(Tag.PatientName)]?.Value?.[0] as PersonNameJson | undefined;
  return (v?.Alphabetic ?? '').toUpperCase();
}

const isTransactionConflict = (e: unknown) =>
  e instanceof TransactionCanceledException && (e.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');

/** Which items of a cancelled transaction failed their condition. */
const failedConditions = (e: unknown): number[] =>
  e instanceof TransactionCanceledException ? (e.CancellationReasons ?? []).flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : [])) : [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class DynamoDbIndex implements ArchiveIndex {
  /** Records kept parsed by recordOf. */
  private readonly largeRecords = new RecentlyUsed<StoredInstance>(8);
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
    /** Where instance bodies (attributes, metadata, frame layouts) too large for an item go. */
    private readonly overflow: BlobStore,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  // ---- Store ---------------------------------------------------------------------------------

  async commitInstance(record: InstanceRecord, policy: DuplicatePolicy): Promise<CommitResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tryCommit(record, policy);
      } catch (e) {
        // Concurrent stores into one study touch the same study item; DynamoDB cancels one of them.
        if (!isTransactionConflict(e) || attempt >= TRANSACTION_ATTEMPTS) throw e;
        await sleep(Math.random() * 10 * 2 ** Math.min(attempt, 6));
      }
    }
  }

  private async tryCommit(record: InstanceRecord, policy: DuplicatePolicy): Promise<CommitResult> {
    const existing = (await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: `SOP#${record.sopInstanceUID}`, sk: 'SOP' }, ConsistentRead: true }))).Item;
    if (existing) {
      if (existing.sha256 === record.sha256) return { outcome: 'identical' };
      if (policy === 'reject') return { outcome: 'conflict', reason: 'an instance with this SOP Instance UID and different content is already stored' };
    }
    const series = (await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: `SERIESOWNER#${record.seriesInstanceUID}`, sk: 'OWNER' }, ConsistentRead: true }))).Item;
    if (series && series.study !== record.studyInstanceUID) {
      return { outcome: 'conflict', reason: `Series ${record.seriesInstanceUID} already belongs to study ${series.study as string}` };
    }
    const { metadata: _m, studyAttributes: _s, seriesAttributes: _se, instanceAttributes, ...stored } = record;
    const body = await this.packBody(record, instanceAttributes, stored);
    const study = record.studyAttributes;
    const studyDate = firstString(study, Tag.StudyDate) ?? '';
    const dateKey = `${studyDate || '-'}#${record.studyInstanceUID}`;
    const patientID = firstString(study, Tag.PatientID);
    const accession = firstString(study, Tag.AccessionNumber);
    const name = alphabeticName(study);
    const modality = firstString(record.seriesAttributes, Tag.Modality);

    const transact: Item[] = [];
    // 1. The SOP Instance UID is new (or, when replacing, still the one we read).
    transact.push({
      Put: {
        TableName: this.table,
        Item: { pk: `SOP#${record.sopInstanceUID}`, sk: 'SOP', study: record.studyInstanceUID, series: record.seriesInstanceUID, sha256: record.sha256, blobKey: record.blobKey, bodyKey: body.key },
        ...(existing
          ? { ConditionExpression: 'sha256 = :old', ExpressionAttributeValues: { ':old': existing.sha256 } }
          : { ConditionExpression: 'attribute_not_exists(pk)' }),
      },
    });
    // 2. The series belongs to this study (first writer decides).
    transact.push({
      Put: {
        TableName: this.table,
        Item: { pk: `SERIESOWNER#${record.seriesInstanceUID}`, sk: 'OWNER', study: record.studyInstanceUID },
        // A new series is counted once: of two first instances stored at once, one fails here and retries.
        ...(series
          ? { ConditionExpression: 'study = :study', ExpressionAttributeValues: { ':study': record.studyInstanceUID } }
          : { ConditionExpression: 'attribute_not_exists(pk)' }),
      },
    });
    const newSeries = !series;
    // 3. The instance item.
    transact.push({
      Put: {
        TableName: this.table,
        Item: {
          pk: studyPk(record.studyInstanceUID),
          sk: instanceSk(record.seriesInstanceUID, record.sopInstanceUID),
          record: body.record,
          // Names this commit of the instance: a large record kept parsed (recordOf) is known by it.
          storedAt: record.storedAt,
          sopClassUID: record.sopClassUID,
          blobKey: record.blobKey,
          instanceNumber: Number(firstString(instanceAttributes, Tag.InstanceNumber) ?? NaN) || undefined,
          ...(body.inline ? { body: body.inline } : { bodyKey: body.key }),
        },
      },
    });
    // 4. The blob reference.
    transact.push({ Put: { TableName: this.table, Item: { pk: `BLOB#${record.blobKey}`, sk: `SOP#${record.sopInstanceUID}` } } });
    const replacing = existing && (existing.study !== record.studyInstanceUID || existing.series !== record.seriesInstanceUID || existing.blobKey !== record.blobKey);
    if (existing && existing.blobKey !== record.blobKey) {
      transact.push({ Delete: { TableName: this.table, Key: { pk: `BLOB#${existing.blobKey as string}`, sk: `SOP#${record.sopInstanceUID}` } } });
    }
    if (replacing && (existing.study !== record.studyInstanceUID || existing.series !== record.seriesInstanceUID)) {
      transact.push({ Delete: { TableName: this.table, Key: { pk: studyPk(existing.study as string), sk: instanceSk(existing.series as string, record.sopInstanceUID) } } });
    }
    // 5. Series and study items: attributes from the latest instance, counts added atomically.
    const counting = !existing || existing.study !== record.studyInstanceUID || existing.series !== record.seriesInstanceUID;
    transact.push({
      Update: {
        TableName: this.table,
        Key: { pk: studyPk(record.studyInstanceUID), sk: `SERIES#${record.seriesInstanceUID}` },
        UpdateExpression: `SET attrs = :attrs, modality = :modality, seriesNumber = :num, dateKey = :dateKey${modality ? ', modalityShard = :mshard' : ''} ADD numInstances :n`,
        ExpressionAttributeValues: {
          ':attrs': JSON.stringify(record.seriesAttributes),
          ':modality': modality ?? '',
          ':num': Number(firstString(record.seriesAttributes, Tag.SeriesNumber) ?? NaN) || 0,
          ':dateKey': `${studyDate || '-'}#${record.seriesInstanceUID}`,
          ':n': counting ? 1 : 0,
          ...(modality ? { ':mshard': `MOD#${modality}#${shardOf(record.seriesInstanceUID)}` } : {}),
        },
      },
    });
    const studyValues: Item = {
      ':attrs': JSON.stringify(study),
      ':dateKey': dateKey,
      ':uidKey': record.studyInstanceUID,
      ':shard': `S#${shardOf(record.studyInstanceUID)}`,
      ':n': counting ? 1 : 0,
      ':one': 1,
      ':newSeries': newSeries ? 1 : 0,
      ':classes': new Set([record.sopClassUID]),
    };
    const sets = ['attrs = :attrs', 'dateKey = :dateKey', 'uidKey = :uidKey', 'studyShard = :shard'];
    const removes: string[] = [];
    const optional = (attribute: string, value: string | undefined) => {
      if (value) {
        sets.push(`${attribute} = :${attribute}`);
        studyValues[`:${attribute}`] = value;
      } else removes.push(attribute);
    };
    optional('patientKey', patientID && `PID#${patientID}`);
    optional('accessionKey', accession && `ACC#${accession}`);
    optional('dateBucket', studyDate && `D#${studyDate.slice(0, 6)}`);
    optional('nameBucket', name && `N#${name.slice(0, 1)}`);
    optional('nameKey', name && `${name}#${record.studyInstanceUID}`);
    if (modality) studyValues[':modalities'] = new Set([modality]);
    transact.push({
      Update: {
        TableName: this.table,
        Key: { pk: studyPk(record.studyInstanceUID), sk: 'STUDY' },
        UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''} ADD numInstances :n, numSeries :newSeries, revision :one, sopClasses :classes${modality ? ', modalities :modalities' : ''}`,
        ExpressionAttributeValues: studyValues,
      },
    });
    try {
      // One token per attempt, reused by the SDK's retries of this request: a retry after a lost answer
      // succeeds instead of failing its own conditions. (A token tied to the content would be wrong: a
      // store repeated after a delete would be answered from the first one's idempotency window.)
      await this.doc.send(new TransactWriteCommand({ TransactItems: transact as never, ClientRequestToken: randomUUID() }));
    } catch (e) {
      const failed = failedConditions(e);
      // Someone stored this SOP Instance UID or opened this series meanwhile: decide again on fresh reads.
      if (failed.includes(0) || failed.includes(1)) return this.tryCommit(record, policy);
      throw e;
    }
    if (existing) {
      // The replaced instance's counts and sets are recomputed where it was.
      await this.refresh(existing.study as string);
      if (existing.study !== record.studyInstanceUID) await this.refresh(record.studyInstanceUID);
      if (existing.bodyKey && existing.bodyKey !== body.key) await this.overflow.delete([existing.bodyKey as string]);
      return { outcome: 'replaced', previousBlobKey: existing.blobKey as string };
    }
    return { outcome: 'stored' };
  }

  /**
   * The instance's heavy parts — QIDO attributes, full metadata, and the record when its frame layout is
   * large — gzip'd together; kept in the item when small, in the blob store otherwise.
   */
  private async packBody(record: InstanceRecord, attributes: DicomJson, stored: StoredInstance): Promise<{ inline?: Uint8Array; key?: string; record?: string }> {
    const recordJson = JSON.stringify(stored);
    const inlineRecord = recordJson.length <= RECORD_MAX;
    const packed = gzipSync([JSON.stringify(attributes), JSON.stringify(record.metadata), inlineRecord ? '' : recordJson].join('\n'));
    const recordField = inlineRecord ? { record: recordJson } : {};
    if (packed.length <= INLINE_BODY_MAX) return { inline: packed, ...recordField };
    const key = `metadata/${record.sha256.slice(0, 2)}/${record.sha256}.json.gz`;
    await this.overflow.put(key, packed);
    return { key, ...recordField };
  }

  private async bodyOf(item: Item): Promise<{ attributes: string; metadata: string; record: string }> {
    let packed = item.body as Uint8Array | undefined;
    if (!packed) {
      packed = await this.overflow.get(item.bodyKey as string);
      if (!packed) throw new Error(`the metadata of ${item.sk as string} is missing from the object store (${item.bodyKey as string})`);
    }
    const [attributes, metadata, record] = gunzipSync(packed).toString('utf8').split('\n');
    return { attributes, metadata, record: (item.record as string | undefined) ?? record };
  }

  /**
   * A record too large for its item (a whole-slide image's 40,000 frame ranges) is in S3 with the metadata:
   * fetched and parsed once and kept while the item names the same commit, so that each tile request does
   * not read and parse it again.
   */
  private async recordOf(item: Item): Promise<StoredInstance> {
    if (item.record !== undefined) return JSON.parse(item.record as string) as StoredInstance;
    const key = `${item.sk as string}|${item.bodyKey as string}|${item.storedAt as string}`;
    return this.largeRecords.get(key, async () => JSON.parse((await this.bodyOf(item)).record) as StoredInstance);
  }

  // ---- Read ----------------------------------------------------------------------------------

  private async *queryAll(input: Omit<QueryCommandInput, 'TableName'>): AsyncGenerator<Item> {
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ TableName: this.table, ...input, ExclusiveStartKey }));
      for (const item of page.Items ?? []) yield item;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }

  private async collect(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const out: Item[] = [];
    for await (const item of this.queryAll(input)) out.push(item);
    return out;
  }

  private async batchGet(keys: Array<{ pk: string; sk: string }>): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let request: Item | undefined = { [this.table]: { Keys: keys.slice(i, i + 100), ConsistentRead: true } };
      for (let attempt = 0; request && Object.keys(request).length; attempt++) {
        const res: BatchGetCommandOutput = await this.doc.send(new BatchGetCommand({ RequestItems: request as never }));
        out.push(...(res.Responses?.[this.table] ?? []));
        request = res.UnprocessedKeys && Object.keys(res.UnprocessedKeys).length ? (res.UnprocessedKeys as Item) : undefined;
        if (request) await sleep(20 * 2 ** Math.min(attempt, 6));
      }
    }
    return out;
  }

  /** Instance items under a scope, in the archive's order: series number, series, instance number, SOP. */
  private async instanceItems(scope: ReferenceScope): Promise<Item[]> {
    const pk = studyPk(scope.studyInstanceUID);
    let items: Item[];
    if (scope.seriesInstanceUID && scope.sopInstanceUID) {
      const got = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk, sk: instanceSk(scope.seriesInstanceUID, scope.sopInstanceUID) }, ConsistentRead: true }));
      items = got.Item ? [got.Item] : [];
    } else {
      const prefix = scope.seriesInstanceUID ? `INSTANCE#${scope.seriesInstanceUID}#` : 'INSTANCE#';
      items = await this.collect({ KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)', ExpressionAttributeValues: { ':pk': pk, ':p': prefix }, ConsistentRead: true });
      if (scope.sopInstanceUID) items = items.filter((i) => (i.sk as string).endsWith(`#${scope.sopInstanceUID}`));
    }
    if (items.length < 2) return items;
    const series = await this.collect({ KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)', ExpressionAttributeValues: { ':pk': pk, ':p': 'SERIES#' }, ConsistentRead: true });
    const seriesNumber = new Map(series.map((s) => [(s.sk as string).slice(7), Number(s.seriesNumber ?? 0)]));
    const seriesOf = (i: Item) => (i.sk as string).split('#')[1];
    return items.sort(
      (a, b) =>
        (seriesNumber.get(seriesOf(a)) ?? 0) - (seriesNumber.get(seriesOf(b)) ?? 0) ||
        seriesOf(a).localeCompare(seriesOf(b)) ||
        Number(a.instanceNumber ?? Infinity) - Number(b.instanceNumber ?? Infinity) ||
        (a.sk as string).localeCompare(b.sk as string),
    );
  }

  async listInstances(scope: ReferenceScope): Promise<StoredInstance[]> {
    return Promise.all((await this.instanceItems(scope)).map((i) => this.recordOf(i)));
  }

  async metadataJson(scope: ReferenceScope): Promise<MetadataRow[]> {
    return this.metadataOf(await this.instanceItems(scope));
  }

  async *metadataJsonPages(scope: ReferenceScope, pageSize: number): AsyncGenerator<MetadataRow[]> {
    // The items hold their metadata gzipped (or in S3 when large): it is unpacked or fetched a page at a time.
    const items = await this.instanceItems(scope);
    for (let at = 0; at < items.length; at += pageSize) yield this.metadataOf(items.slice(at, at + pageSize));
  }

  private metadataOf(items: Awaited<ReturnType<DynamoDbIndex['instanceItems']>>): Promise<MetadataRow[]> {
    return Promise.all(
      items.map(async (i) => {
        const [, series, sop] = (i.sk as string).split('#');
        return { sopInstanceUID: sop, seriesInstanceUID: series, json: (await this.bodyOf(i)).metadata };
      }),
    );
  }

  // ---- Query ---------------------------------------------------------------------------------

  async *query(q: IndexQuery): AsyncGenerator<QueryMatch> {
    const matchers = q.filters.map((f) => compileFilter(f, tagToHex(f.tag), q.fuzzy));
    let skipped = 0;
    let yielded = 0;
    for await (const match of this.candidates(q)) {
      if (!matchers.every((m) => m(match.attributes))) continue;
      if (skipped < q.offset) {
        skipped++;
        continue;
      }
      yield match;
      if (++yielded >= q.limit) return;
    }
  }

  /** Candidate matches from the narrowest access path the filters allow; the matchers decide. */
  private async *candidates(q: IndexQuery): AsyncGenerator<QueryMatch> {
    if (q.studyInstanceUID) {
      yield* this.withinStudy(q.studyInstanceUID, q);
      return;
    }
    if (q.level !== 'study') {
      for await (const study of this.studyUids(q)) yield* this.withinStudy(study, q);
      return;
    }
    // Study items a hundred at a time (one BatchGetItem, not a GetItem per candidate), in candidate order.
    const seen = new Set<string>();
    for await (const uids of inBatches(this.studyUids(q), 100)) {
      const fresh = uids.filter((uid) => !seen.has(uid) && seen.add(uid));
      const items = new Map((await this.batchGet(fresh.map((uid) => ({ pk: studyPk(uid), sk: 'STUDY' })))).map((i) => [i.pk as string, i]));
      for (const uid of fresh) {
        const item = items.get(studyPk(uid));
        if (item) yield { attributes: studyAttributesOf(item), studyInstanceUID: uid };
      }
    }
  }

  private async *withinStudy(studyUid: string, q: IndexQuery): AsyncGenerator<QueryMatch> {
    // Each level reads only its own items: a study match never reads the (large) instance items.
    const pk = studyPk(studyUid);
    const studyItem = (await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk, sk: 'STUDY' }, ConsistentRead: true }))).Item;
    if (!studyItem) return;
    const studyAttributes = studyAttributesOf(studyItem);
    if (q.level === 'study') {
      yield { attributes: studyAttributes, studyInstanceUID: studyUid };
      return;
    }
    const below = (prefix: string) => this.collect({ KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)', ExpressionAttributeValues: { ':pk': pk, ':p': prefix }, ConsistentRead: true });
    const partition = [...(await below(q.seriesInstanceUID ? `SERIES#${q.seriesInstanceUID}` : 'SERIES#')), ...(q.level === 'instance' ? await below(q.seriesInstanceUID ? `INSTANCE#${q.seriesInstanceUID}#` : 'INSTANCE#') : [])];
    const series = partition
      .filter((i) => (i.sk as string).startsWith('SERIES#') && (!q.seriesInstanceUID || i.sk === `SERIES#${q.seriesInstanceUID}`))
      .sort((a, b) => Number(a.seriesNumber ?? 0) - Number(b.seriesNumber ?? 0) || (a.sk as string).localeCompare(b.sk as string));
    for (const s of series) {
      const seriesUid = (s.sk as string).slice(7);
      const seriesAttributes: DicomJson = {
        ...studyAttributes,
        ...(JSON.parse(s.attrs as string) as DicomJson),
        [tagToHex(Tag.NumberOfSeriesRelatedInstances)]: { vr: 'IS', Value: [Number(s.numInstances ?? 0)] },
      };
      if (q.level === 'series') {
        yield { attributes: seriesAttributes, studyInstanceUID: studyUid, seriesInstanceUID: seriesUid };
        continue;
      }
      const instances = partition
        .filter((i) => (i.sk as string).startsWith(`INSTANCE#${seriesUid}#`))
        .sort((a, b) => Number(a.instanceNumber ?? Infinity) - Number(b.instanceNumber ?? Infinity) || (a.sk as string).localeCompare(b.sk as string));
      for (const i of instances) {
        yield {
          attributes: { ...seriesAttributes, ...(JSON.parse((await this.bodyOf(i)).attributes) as DicomJson) },
          studyInstanceUID: studyUid,
          seriesInstanceUID: seriesUid,
          sopInstanceUID: (i.sk as string).split('#')[2],
        };
      }
    }
  }

  /** Study UIDs to look at, from the narrowest index a filter allows (documented in docs/aws-index.md). */
  private async *studyUids(q: IndexQuery): AsyncGenerator<string> {
    const filter = (tag: number): AttributeFilter | undefined => q.filters.find((f) => f.tag === tag && f.value !== '' && f.value !== '*');
    const exact = (f: AttributeFilter | undefined) => (f && !/[*?\\]/.test(f.value) ? f.value : undefined);
    const fromKeys = async function* (items: AsyncIterable<Item>, prefix = 'STUDY#') {
      for await (const i of items) if ((i.pk as string).startsWith(prefix)) yield (i.pk as string).slice(prefix.length);
    };

    const studyList = filter(Tag.StudyInstanceUID);
    if (studyList) {
      yield* studyList.value.split('\\');
      return;
    }
    if (q.level !== 'study') {
      const sop = filter(Tag.SOPInstanceUID);
      if (sop && q.level === 'instance') {
        const owners = await this.batchGet(sop.value.split('\\').map((s) => ({ pk: `SOP#${s}`, sk: 'SOP' })));
        yield* [...new Set(owners.map((o) => o.study as string))];
        return;
      }
      const series = filter(Tag.SeriesInstanceUID);
      if (series) {
        const owners = await this.batchGet(series.value.split('\\').map((s) => ({ pk: `SERIESOWNER#${s}`, sk: 'OWNER' })));
        yield* [...new Set(owners.map((o) => o.study as string))];
        return;
      }
    }
    const date = filter(Tag.StudyDate);
    const range = date ? safeRange(date.value) : undefined;
    const dateCondition = (attribute: string): Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'> | undefined =>
      range?.from || range?.to
        ? { KeyConditionExpression: `${attribute} BETWEEN :from AND :to`, ExpressionAttributeValues: { ':from': `${range.from ?? '0'}#`, ':to': `${range.to ?? '99999999'}#~` } }
        : undefined;

    const patientID = exact(filter(Tag.PatientID));
    if (patientID) {
      const d = dateCondition('dateKey');
      yield* fromKeys(
        this.queryAll({
          IndexName: 'byPatientId',
          KeyConditionExpression: `patientKey = :p${d ? ` AND ${d.KeyConditionExpression}` : ''}`,
          ExpressionAttributeValues: { ':p': `PID#${patientID}`, ...d?.ExpressionAttributeValues },
        }),
      );
      return;
    }
    const accession = exact(filter(Tag.AccessionNumber));
    if (accession) {
      yield* fromKeys(this.queryAll({ IndexName: 'byAccession', KeyConditionExpression: 'accessionKey = :a', ExpressionAttributeValues: { ':a': `ACC#${accession}` } }));
      return;
    }
    const modality = exact(filter(q.level === 'study' ? Tag.ModalitiesInStudy : Tag.Modality));
    if (modality && !range) {
      const seen = new Set<string>();
      for (let shard = 0; shard < SHARDS; shard++) {
        for await (const uid of fromKeys(this.queryAll({ IndexName: 'seriesByModality', KeyConditionExpression: 'modalityShard = :m', ExpressionAttributeValues: { ':m': `MOD#${modality}#${shard}` } }))) {
          if (!seen.has(uid)) {
            seen.add(uid);
            yield uid;
          }
        }
      }
      return;
    }
    if (range?.from && range.to && Number(range.to.slice(0, 4)) - Number(range.from.slice(0, 4)) <= 20) {
      for (const bucket of monthsBetween(range.from, range.to)) {
        yield* fromKeys(
          this.queryAll({
            IndexName: 'byStudyDate',
            KeyConditionExpression: 'dateBucket = :b AND dateKey BETWEEN :from AND :to',
            ExpressionAttributeValues: { ':b': `D#${bucket}`, ':from': `${range.from}#`, ':to': `${range.to}#~` },
          }),
        );
      }
      return;
    }
    const name = filter(Tag.PatientName);
    const prefix = name && !q.fuzzy ? /^[^*?]*/.exec(name.value)![0].toUpperCase() : '';
    // The name index holds the Alphabetic group; other groups (ideographic, phonetic) are not ASCII-first, so
    // only an ASCII prefix may use it.
    if (prefix && /^[\x20-\x7e]+$/.test(prefix) && !prefix.includes('=')) {
      yield* fromKeys(
        this.queryAll({ IndexName: 'byPatientName', KeyConditionExpression: 'nameBucket = :b AND begins_with(nameKey, :p)', ExpressionAttributeValues: { ':b': `N#${prefix[0]}`, ':p': prefix } }),
      );
      return;
    }
    // No narrowing key: every study, newest partition order first (16 shards).
    for (let shard = 0; shard < SHARDS; shard++) {
      yield* fromKeys(this.queryAll({ IndexName: 'allStudies', KeyConditionExpression: 'studyShard = :s', ExpressionAttributeValues: { ':s': `S#${shard}` }, ScanIndexForward: false }));
    }
  }

  // ---- Delete --------------------------------------------------------------------------------

  async deleteInstances(scope: ReferenceScope): Promise<string[]> {
    const items = await this.instanceItems(scope);
    if (!items.length) {
      // Nothing left to remove, but a previous attempt may have failed before it recounted.
      await this.refresh(scope.studyInstanceUID);
      return [];
    }
    const blobKeys: string[] = [];
    const metadataKeys: string[] = [];
    // Each instance's items go together, so that no SOP or blob reference outlives its instance item.
    const removeOne = async (i: Item) => {
      const sop = (i.sk as string).split('#')[2];
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: { TableName: this.table, Key: { pk: i.pk, sk: i.sk } } },
            { Delete: { TableName: this.table, Key: { pk: `SOP#${sop}`, sk: 'SOP' } } },
            { Delete: { TableName: this.table, Key: { pk: `BLOB#${i.blobKey as string}`, sk: `SOP#${sop}` } } },
          ] as never,
          ClientRequestToken: randomUUID(),
        }),
      );
      blobKeys.push(i.blobKey as string);
      if (i.bodyKey) metadataKeys.push(i.bodyKey as string);
    };
    for (let n = 0; n < items.length; n += DELETE_CONCURRENCY) await Promise.all(items.slice(n, n + DELETE_CONCURRENCY).map(removeOne));
    await this.refresh(scope.studyInstanceUID);
    if (metadataKeys.length) await this.overflow.delete(metadataKeys);
    return blobKeys;
  }

  /**
   * Recomputes a study's derived attributes from its items after a removal, and drops series and study
   * items left empty. A store that lands meanwhile bumps the study's revision, and the recount is redone.
   */
  private async refresh(studyUid: string): Promise<void> {
    for (let attempt = 0; attempt < TRANSACTION_ATTEMPTS; attempt++) {
      const partition = await this.collect({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': studyPk(studyUid) }, ConsistentRead: true });
      const studyItem = partition.find((i) => i.sk === 'STUDY');
      if (!studyItem) return;
      const instances = partition.filter((i) => (i.sk as string).startsWith('INSTANCE#'));
      const series = partition.filter((i) => (i.sk as string).startsWith('SERIES#'));
      const perSeries = new Map<string, number>();
      const classes = new Set<string>();
      for (const i of instances) {
        const seriesUid = (i.sk as string).split('#')[1];
        perSeries.set(seriesUid, (perSeries.get(seriesUid) ?? 0) + 1);
        classes.add(i.sopClassUID as string);
      }
      const live = series.filter((s) => perSeries.has((s.sk as string).slice(7)));
      const modalities = new Set(live.map((s) => s.modality as string).filter(Boolean));
      const condition = { ConditionExpression: 'revision = :rev', ExpressionAttributeValues: { ':rev': studyItem.revision } };
      const transact: Item[] = [];
      if (!instances.length) {
        transact.push({ Delete: { TableName: this.table, Key: { pk: studyPk(studyUid), sk: 'STUDY' }, ...condition } });
      } else {
        transact.push({
          Update: {
            TableName: this.table,
            Key: { pk: studyPk(studyUid), sk: 'STUDY' },
            UpdateExpression: `SET numInstances = :n, numSeries = :s, sopClasses = :c${modalities.size ? ', modalities = :m' : ''}, revision = revision + :one${modalities.size ? '' : ' REMOVE modalities'}`,
            ConditionExpression: 'revision = :rev',
            ExpressionAttributeValues: { ':rev': studyItem.revision, ':n': instances.length, ':s': live.length, ':c': classes, ':one': 1, ...(modalities.size ? { ':m': modalities } : {}) },
          },
        });
      }
      for (const s of series) {
        const seriesUid = (s.sk as string).slice(7);
        const n = perSeries.get(seriesUid) ?? 0;
        if (n === Number(s.numInstances)) continue;
        transact.push(
          n === 0
            ? { Delete: { TableName: this.table, Key: { pk: s.pk, sk: s.sk } } }
            : { Update: { TableName: this.table, Key: { pk: s.pk, sk: s.sk }, UpdateExpression: 'SET numInstances = :n', ExpressionAttributeValues: { ':n': n } } },
        );
        if (n === 0) transact.push({ Delete: { TableName: this.table, Key: { pk: `SERIESOWNER#${seriesUid}`, sk: 'OWNER' } } });
      }
      try {
        for (let i = 0; i < transact.length; i += 100) await this.doc.send(new TransactWriteCommand({ TransactItems: transact.slice(i, i + 100) as never }));
        return;
      } catch (e) {
        if (!failedConditions(e).length && !isTransactionConflict(e)) throw e;
        await sleep(Math.random() * 10 * 2 ** Math.min(attempt, 6));
      }
    }
    throw new Error(`the counts of study ${studyUid} could not be brought up to date: it keeps changing`);
  }

  async referencesBlob(key: string): Promise<boolean> {
    const res = await this.doc.send(
      new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `BLOB#${key}` }, Limit: 1, ConsistentRead: true }),
    );
    return (res.Items?.length ?? 0) > 0;
  }

  async close(): Promise<void> {
    this.doc.destroy();
  }
}

function studyAttributesOf(item: Item): DicomJson {
  const set = (v: unknown) => [...((v as Set<string> | undefined) ?? new Set<string>())].sort();
  const modalities = set(item.modalities);
  const classes = set(item.sopClasses);
  return {
    ...(JSON.parse(item.attrs as string) as DicomJson),
    [tagToHex(Tag.ModalitiesInStudy)]: modalities.length ? { vr: 'CS', Value: modalities } : { vr: 'CS' },
    [tagToHex(Tag.SOPClassesInStudy)]: classes.length ? { vr: 'UI', Value: classes } : { vr: 'UI' },
    [tagToHex(Tag.NumberOfStudyRelatedSeries)]: { vr: 'IS', Value: [Number(item.numSeries ?? 0)] },
    [tagToHex(Tag.NumberOfStudyRelatedInstances)]: { vr: 'IS', Value: [Number(item.numInstances ?? 0)] },
  };
}

function safeRange(value: string): { from?: string; to?: string } | undefined {
  try {
    return parseRange('DA', value, 'StudyDate');
  } catch {
    return undefined; // the matcher reports the malformed value
  }
}

function monthsBetween(from: string, to: string): string[] {
  const months: string[] = [];
  let y = Number(from.slice(0, 4));
  let m = Number(from.slice(4, 6));
  const endY = Number(to.slice(0, 4));
  const endM = Number(to.slice(4, 6));
  while (y < endY || (y === endY && m <= endM)) {
    months.push(`${y}${String(m).padStart(2, '0')}`);
    if (++m > 12) {
      m = 1;
      y++;
    }
  }
  return months;
}

/** An async sequence in arrays of up to `size`. */
async function* inBatches<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}
