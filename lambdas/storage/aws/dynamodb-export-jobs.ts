// De-identified export jobs in the index table: a job is an item under one partition (pk EXPORTS, sk its
// id, which begins with its creation time, so the newest come first), its manifest entries items under
// the job's own partition (pk EXPORT#<id>, sk ENTRY#<sequence>), written 25 at a time.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ExportJob, ExportJobStore, ExportManifestEntry } from '../ports.js';

const JOBS = 'EXPORTS';
const entriesPk = (id: string) => `EXPORT#${id}`;
const BATCH = 25;

export class DynamoDbExportJobs implements ExportJobStore {
  private readonly doc: DynamoDBDocumentClient;
  /** Entries added so far by this process, per job (one process runs a job). */
  private readonly sequence = new Map<string, number>();

  constructor(client: DynamoDBClient, private readonly table: string) {
    this.doc = DynamoDBDocumentClient.from(client);
  }

  async put(job: ExportJob): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: JOBS, sk: job.id, job: JSON.stringify(job) } }));
  }

  async get(id: string): Promise<ExportJob | undefined> {
    const item = (await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: JOBS, sk: id }, ConsistentRead: true }))).Item;
    return item ? (JSON.parse(item.job as string) as ExportJob) : undefined;
  }

  async list(limit: number): Promise<ExportJob[]> {
    const page = await this.doc.send(new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': JOBS }, ScanIndexForward: false, Limit: limit }));
    return (page.Items ?? []).map((i) => JSON.parse(i.job as string) as ExportJob);
  }

  async addManifestEntries(id: string, entries: ExportManifestEntry[]): Promise<void> {
    let seq = this.sequence.get(id) ?? 0;
    const items = entries.map((e) => ({ pk: entriesPk(id), sk: `ENTRY#${String(seq++).padStart(9, '0')}`, entry: JSON.stringify(e) }));
    this.sequence.set(id, seq);
    for (let i = 0; i < items.length; i += BATCH) {
      let requests: Array<{ PutRequest: { Item: Record<string, unknown> } }> | undefined = items.slice(i, i + BATCH).map((Item) => ({ PutRequest: { Item } }));
      // DynamoDB may leave some writes of a batch undone under load: they are sent again.
      for (let attempt = 0; requests?.length; attempt++) {
        if (attempt > 8) throw new Error('DynamoDB kept leaving manifest entries unwritten');
        const result = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } }));
        requests = result.UnprocessedItems?.[this.table] as typeof requests;
        if (requests?.length) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  async *manifest(id: string): AsyncIterable<ExportManifestEntry> {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': entriesPk(id) }, ExclusiveStartKey, Limit: 500 }));
      for (const item of page.Items ?? []) yield JSON.parse(item.entry as string) as ExportManifestEntry;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }

  /** The client is the index's too: it closes it. */
  async close(): Promise<void> {}
}
