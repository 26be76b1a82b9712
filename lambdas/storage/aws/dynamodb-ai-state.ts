// AiStateStore on DynamoDB: one table for the AI pipeline's state.
//
//   pk                  sk                                  item
//   STUDY#<study>       ACTIVITY                            revision, state, lastChangeAt (+ collectingShard while collecting)
//   STUDY#<study>       JOB#<revision>#<analyser>           a dispatched job (+ unfinishedShard until its result exists)
//   STUDY#<study>       RESULT#<revision>#<analyser>#<key>  a result (copy for per-study listing)
//   STUDY#<study>       WORKLIST                            the worklist entry (+ worklistKey for ordering)
//   RESULT#<key>        RESULT                              a result (the once-only record; analyserId/createdAt for the by-analyser index)
//   RESULT#<key>        FEEDBACK#<at>#<n>                   reader feedback
//   ANALYSERS           ANALYSER#<id>                       registry entries
//   ANALYSER#<id>       CHANGE#<at>#<n>                     change log
//   MODELS              MODEL#<sha256>                      model store records
//
// Sparse indexes: `collecting` (studies still collecting, by last change; 8 shards), `unfinished` (jobs
// without results; 8 shards), `worklist` (one partition ordered by priority then waiting time — the
// reading worklist is small), `byAnalyser` (results by analyser and time).
import { randomUUID, createHash } from 'node:crypto';
import type { AttributeDefinition, DynamoDBClient, GlobalSecondaryIndex, KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand, DeleteCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  PRIORITY_RANK,
  jobKey,
  type AiStateStore,
  type AnalyserRecord,
  type AnalysisJob,
  type AnalysisResult,
  type ChangeLogEntry,
  type Feedback,
  type ModelRecord,
  type StudyActivity,
  type WorklistItem,
} from '../../ai/ports.js';

const SHARDS = 8;
const shard = (text: string) => createHash('sha1').update(text).digest()[0] % SHARDS;
const gsi = (name: string, pk: string, sk: string): GlobalSecondaryIndex => ({
  IndexName: name,
  KeySchema: [
    { AttributeName: pk, KeyType: 'HASH' },
    { AttributeName: sk, KeyType: 'RANGE' },
  ],
  Projection: { ProjectionType: 'ALL' },
});

export const AI_STATE_TABLE_SCHEMA: { keySchema: KeySchemaElement[]; attributes: AttributeDefinition[]; indexes: GlobalSecondaryIndex[] } = {
  keySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  attributes: ['pk', 'sk', 'collectingShard', 'changeKey', 'unfinishedShard', 'jobKey', 'worklistPartition', 'worklistKey', 'analyserId', 'createdAt'].map((AttributeName) => ({
    AttributeName,
    AttributeType: 'S' as const,
  })),
  indexes: [
    gsi('collecting', 'collectingShard', 'changeKey'),
    gsi('unfinished', 'unfinishedShard', 'jobKey'),
    gsi('worklist', 'worklistPartition', 'worklistKey'),
    gsi('byAnalyser', 'analyserId', 'createdAt'),
  ],
};

type Item = Record<string, unknown>;
const study = (uid: string) => `STUDY#${uid}`;

export class DynamoDbAiState implements AiStateStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private async collect(input: Omit<QueryCommandInput, 'TableName'>, limit = Infinity): Promise<Item[]> {
    const out: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ TableName: this.table, ...input, ExclusiveStartKey }));
      out.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey && out.length < limit);
    return out.slice(0, limit);
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk, sk }, ConsistentRead: true }))).Item;
  }

  // ---- Readiness and dispatch ----------------------------------------------------------------

  async recordChanges(changes: Map<string, string>): Promise<Map<string, number>> {
    const revisions = new Map<string, number>();
    for (const [uid, at] of changes) {
      for (let attempt = 0; ; attempt++) {
        const current = await this.get(study(uid), 'ACTIVITY');
        // An instance stored before the revision was dispatched is part of it (its analyses read the study
        // later): a late event for it changes nothing.
        if (current && current.state === 'dispatched' && current.dispatchedAt && at <= String(current.dispatchedAt)) {
          revisions.set(uid, Number(current.revision));
          break;
        }
        // A change after dispatch opens a new revision; during collection it only restarts the quiet period.
        const revision = !current ? 1 : current.state === 'dispatched' ? Number(current.revision) + 1 : Number(current.revision);
        const last = current && current.state === 'collecting' && String(current.lastChangeAt) > at ? String(current.lastChangeAt) : at;
        try {
          await this.doc.send(
            new PutCommand({
              TableName: this.table,
              Item: { pk: study(uid), sk: 'ACTIVITY', revision, state: 'collecting', lastChangeAt: last, collectingShard: `C#${shard(uid)}`, changeKey: `${last}#${uid}`, ...(current?.dispatchedAt ? { dispatchedAt: current.dispatchedAt } : {}) },
              // Optimistic: nobody changed the activity since we read it.
              ...(current ? { ConditionExpression: 'revision = :r AND #s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':r': current.revision, ':s': current.state } } : { ConditionExpression: 'attribute_not_exists(pk)' }),
            }),
          );
          revisions.set(uid, revision);
          break;
        } catch (e) {
          if ((e as { name?: string }).name !== 'ConditionalCheckFailedException' || attempt > 10) throw e;
        }
      }
    }
    return revisions;
  }

  async quietStudies(before: string, limit: number): Promise<StudyActivity[]> {
    const out: StudyActivity[] = [];
    for (let s = 0; s < SHARDS && out.length < limit; s++) {
      const items = await this.collect(
        { IndexName: 'collecting', KeyConditionExpression: 'collectingShard = :s AND changeKey <= :b', ExpressionAttributeValues: { ':s': `C#${s}`, ':b': `${before}#~` } },
        limit - out.length,
      );
      for (const i of items) out.push({ studyInstanceUID: (i.pk as string).slice(6), revision: Number(i.revision), state: 'collecting', lastChangeAt: i.lastChangeAt as string });
    }
    return out.sort((a, b) => a.lastChangeAt.localeCompare(b.lastChangeAt)).slice(0, limit);
  }

  async markDispatched(studyInstanceUID: string, revision: number, jobs: AnalysisJob[]): Promise<boolean> {
    const items: Item[] = [
      {
        Update: {
          TableName: this.table,
          Key: { pk: study(studyInstanceUID), sk: 'ACTIVITY' },
          UpdateExpression: 'SET #s = :d, dispatchedAt = :now REMOVE collectingShard, changeKey',
          ConditionExpression: 'revision = :r AND #s = :c',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: { ':d': 'dispatched', ':c': 'collecting', ':r': revision, ':now': new Date().toISOString() },
        },
      },
      ...jobs.map((job) => ({
        Put: {
          TableName: this.table,
          Item: { pk: study(studyInstanceUID), sk: `JOB#${revision}#${job.analyserId}`, job: JSON.stringify(job), unfinishedShard: `U#${shard(jobKey(job))}`, jobKey: jobKey(job) },
        },
      })),
    ];
    try {
      for (let i = 0; i < items.length; i += 100) await this.doc.send(new TransactWriteCommand({ TransactItems: items.slice(i, i + 100) as never }));
      return true;
    } catch (e) {
      if ((e as { name?: string }).name === 'TransactionCanceledException') return false;
      throw e;
    }
  }

  async activity(studyInstanceUID: string): Promise<StudyActivity | undefined> {
    const i = await this.get(study(studyInstanceUID), 'ACTIVITY');
    return i ? { studyInstanceUID, revision: Number(i.revision), state: i.state as StudyActivity['state'], lastChangeAt: i.lastChangeAt as string } : undefined;
  }

  async forgetStudy(studyInstanceUID: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: study(studyInstanceUID), sk: 'WORKLIST' } }));
    const jobs = await this.collect({ KeyConditionExpression: 'pk = :p AND begins_with(sk, :j)', ExpressionAttributeValues: { ':p': study(studyInstanceUID), ':j': 'JOB#' }, ConsistentRead: true });
    for (const j of jobs.filter((j) => j.unfinishedShard)) await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: j.pk, sk: j.sk } }));
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: study(studyInstanceUID), sk: 'ACTIVITY' },
        UpdateExpression: 'SET #s = :d REMOVE collectingShard, changeKey',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#s': 'state' },
        ExpressionAttributeValues: { ':d': 'dispatched' },
      }),
    ).catch((e: { name?: string }) => {
      if (e.name !== 'ConditionalCheckFailedException') throw e;
    });
  }

  async pendingJobs(studyInstanceUID: string, revision: number): Promise<AnalysisJob[]> {
    const jobs = await this.collect({ KeyConditionExpression: 'pk = :p AND begins_with(sk, :j)', ExpressionAttributeValues: { ':p': study(studyInstanceUID), ':j': `JOB#${revision}#` }, ConsistentRead: true });
    return jobs.filter((j) => j.unfinishedShard).map((j) => JSON.parse(j.job as string) as AnalysisJob);
  }

  async unfinishedJobs(limit: number): Promise<AnalysisJob[]> {
    const out: AnalysisJob[] = [];
    for (let s = 0; s < SHARDS && out.length < limit; s++) {
      const items = await this.collect({ IndexName: 'unfinished', KeyConditionExpression: 'unfinishedShard = :s', ExpressionAttributeValues: { ':s': `U#${s}` } }, limit - out.length);
      out.push(...items.map((i) => JSON.parse(i.job as string) as AnalysisJob));
    }
    return out;
  }

  // ---- Results -------------------------------------------------------------------------------

  async getResult(key: string): Promise<AnalysisResult | undefined> {
    const i = await this.get(`RESULT#${key}`, 'RESULT');
    return i ? (JSON.parse(i.result as string) as AnalysisResult) : undefined;
  }

  async putResult(result: AnalysisResult): Promise<boolean> {
    const body = JSON.stringify(result);
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: { pk: `RESULT#${result.key}`, sk: 'RESULT', result: body, analyserId: result.analyserId, createdAt: `${result.createdAt}#${result.key}` }, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: { TableName: this.table, Item: { pk: study(result.studyInstanceUID), sk: `RESULT#${String(result.revision).padStart(6, '0')}#${result.createdAt}#${result.analyserId}#${result.key}`, result: body } } },
            // The job is finished: out of the unfinished index (for a job never dispatched this leaves a finished marker).
            {
              Update: {
                TableName: this.table,
                Key: { pk: study(result.studyInstanceUID), sk: `JOB#${result.revision}#${result.analyserId}` },
                UpdateExpression: 'REMOVE unfinishedShard, jobKey SET finishedAt = :at',
                ExpressionAttributeValues: { ':at': result.createdAt },
              },
            },
          ] as never,
        }),
      );
      return true;
    } catch (e) {
      if ((e as { name?: string }).name === 'TransactionCanceledException') return false;
      throw e;
    }
  }

  async resultsOf(studyInstanceUID: string, revision?: number): Promise<AnalysisResult[]> {
    const prefix = revision === undefined ? 'RESULT#' : `RESULT#${String(revision).padStart(6, '0')}#`;
    const items = await this.collect({ KeyConditionExpression: 'pk = :p AND begins_with(sk, :r)', ExpressionAttributeValues: { ':p': study(studyInstanceUID), ':r': prefix }, ConsistentRead: true });
    return items.map((i) => JSON.parse(i.result as string) as AnalysisResult);
  }

  async recentResults(analyserId: string, limit: number): Promise<AnalysisResult[]> {
    const items = await this.collect({ IndexName: 'byAnalyser', KeyConditionExpression: 'analyserId = :a', ExpressionAttributeValues: { ':a': analyserId }, ScanIndexForward: false }, limit);
    return items.map((i) => JSON.parse(i.result as string) as AnalysisResult);
  }

  // ---- Worklist ------------------------------------------------------------------------------

  async upsertWorklist(item: WorklistItem): Promise<void> {
    const current = await this.get(study(item.studyInstanceUID), 'WORKLIST');
    const waitingSince = (current?.waitingSince as string | undefined) ?? item.updatedAt;
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: study(item.studyInstanceUID),
          sk: 'WORKLIST',
          item: JSON.stringify(item),
          state: item.state,
          waitingSince,
          worklistPartition: 'WORKLIST',
          worklistKey: `${PRIORITY_RANK[item.priority]}#${waitingSince}#${item.studyInstanceUID}`,
        },
      }),
    );
  }

  async removeFromWorklist(studyInstanceUID: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: study(studyInstanceUID), sk: 'WORKLIST' } }));
  }

  async worklist(options: { state?: WorklistItem['state']; limit: number; offset: number }): Promise<WorklistItem[]> {
    const items = await this.collect(
      {
        IndexName: 'worklist',
        KeyConditionExpression: 'worklistPartition = :w',
        ExpressionAttributeValues: { ':w': 'WORKLIST', ...(options.state ? { ':s': options.state } : {}) },
        ...(options.state ? { FilterExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' } } : {}),
      },
      options.offset + options.limit,
    );
    return items.slice(options.offset).map((i) => ({ ...(JSON.parse(i.item as string) as WorklistItem), waitingSince: i.waitingSince as string }));
  }

  // ---- Feedback, registry, models ------------------------------------------------------------

  async putFeedback(feedback: Feedback): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: `RESULT#${feedback.resultKey}`, sk: `FEEDBACK#${feedback.at}#${randomUUID()}`, feedback: JSON.stringify(feedback) } }));
  }

  async feedbackFor(resultKey: string): Promise<Feedback[]> {
    const items = await this.collect({ KeyConditionExpression: 'pk = :p AND begins_with(sk, :f)', ExpressionAttributeValues: { ':p': `RESULT#${resultKey}`, ':f': 'FEEDBACK#' }, ConsistentRead: true });
    return items.map((i) => JSON.parse(i.feedback as string) as Feedback);
  }

  async putAnalyser(record: AnalyserRecord, change: Omit<ChangeLogEntry, 'analyserId' | 'at'>): Promise<void> {
    const entry: ChangeLogEntry = { analyserId: record.id, at: new Date().toISOString(), ...change };
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.table, Item: { pk: 'ANALYSERS', sk: `ANALYSER#${record.id}`, record: JSON.stringify(record) } } },
          { Put: { TableName: this.table, Item: { pk: `ANALYSER#${record.id}`, sk: `CHANGE#${entry.at}#${randomUUID()}`, entry: JSON.stringify(entry) } } },
        ] as never,
      }),
    );
  }

  async analysers(): Promise<AnalyserRecord[]> {
    const items = await this.collect({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'ANALYSERS' }, ConsistentRead: true });
    return items.map((i) => JSON.parse(i.record as string) as AnalyserRecord);
  }

  async changeLog(analyserId: string): Promise<ChangeLogEntry[]> {
    const items = await this.collect({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': `ANALYSER#${analyserId}` }, ConsistentRead: true });
    return items.map((i) => JSON.parse(i.entry as string) as ChangeLogEntry);
  }

  async putModel(record: ModelRecord): Promise<void> {
    await this.doc
      .send(new PutCommand({ TableName: this.table, Item: { pk: 'MODELS', sk: `MODEL#${record.sha256}`, record: JSON.stringify(record) }, ConditionExpression: 'attribute_not_exists(pk)' }))
      .catch((e: { name?: string }) => {
        if (e.name !== 'ConditionalCheckFailedException') throw e;
      });
  }

  async models(): Promise<ModelRecord[]> {
    const items = await this.collect({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'MODELS' }, ConsistentRead: true });
    return items.map((i) => JSON.parse(i.record as string) as ModelRecord).sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  }

  async close(): Promise<void> {
    this.doc.destroy();
  }
}
