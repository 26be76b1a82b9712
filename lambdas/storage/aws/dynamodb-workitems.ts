// UPS workitems in the index table: one item per workitem (pk WORKITEM#<uid>), its attributes as JSON,
// and a sparse index (workitemOrder) that lists them by priority, then scheduled start. Changes are
// conditional on the version, so that two performers claiming one workitem at once cannot both win.
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkitemRecord, WorkitemStore } from '../ports.js';

/** The sparse index's name and keys (INDEX_TABLE_SCHEMA). */
export const WORKITEM_INDEX = { name: 'workitemOrder', pk: 'workitemList', sk: 'workitemOrder' } as const;
const LIST = 'WORKITEMS';

const keyOf = (uid: string) => ({ pk: `WORKITEM#${uid}`, sk: 'WORKITEM' });

function itemOf(record: WorkitemRecord): Record<string, unknown> {
  return {
    ...keyOf(record.sopInstanceUID),
    [WORKITEM_INDEX.pk]: LIST,
    [WORKITEM_INDEX.sk]: `${record.priorityRank}#${record.scheduledAt}#${record.sopInstanceUID}`,
    uid: record.sopInstanceUID,
    state: record.state,
    transactionUID: record.transactionUID,
    dataset: JSON.stringify(record.dataset),
    priorityRank: record.priorityRank,
    scheduledAt: record.scheduledAt,
    version: record.version,
  };
}

function recordOf(item: Record<string, unknown>): WorkitemRecord {
  return {
    sopInstanceUID: item.uid as string,
    state: item.state as WorkitemRecord['state'],
    ...(item.transactionUID ? { transactionUID: item.transactionUID as string } : {}),
    dataset: JSON.parse(item.dataset as string) as WorkitemRecord['dataset'],
    priorityRank: Number(item.priorityRank),
    scheduledAt: item.scheduledAt as string,
    version: Number(item.version),
  };
}

const refused = (e: unknown) => e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException';

export class DynamoDbWorkitemStore implements WorkitemStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async create(record: WorkitemRecord): Promise<boolean> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: itemOf(record), ConditionExpression: 'attribute_not_exists(pk)' }));
      return true;
    } catch (e) {
      if (refused(e)) return false;
      throw e;
    }
  }

  async get(sopInstanceUID: string): Promise<WorkitemRecord | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: keyOf(sopInstanceUID), ConsistentRead: true }));
    return Item && recordOf(Item);
  }

  async replace(record: WorkitemRecord): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.table, Item: itemOf(record), ConditionExpression: 'version = :previous', ExpressionAttributeValues: { ':previous': record.version - 1 } }),
      );
      return true;
    } catch (e) {
      if (refused(e)) return false;
      throw e;
    }
  }

  async *list(): AsyncIterable<WorkitemRecord> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: WORKITEM_INDEX.name,
          KeyConditionExpression: '#list = :list',
          ExpressionAttributeNames: { '#list': WORKITEM_INDEX.pk },
          ExpressionAttributeValues: { ':list': LIST },
          ExclusiveStartKey: start,
          Limit: 100,
        }),
      );
      for (const item of page.Items ?? []) yield recordOf(item);
      start = page.LastEvaluatedKey;
    } while (start);
  }

  async close(): Promise<void> {}
}
