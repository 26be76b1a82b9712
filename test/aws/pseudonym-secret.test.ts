// The pseudonym secret on AWS: made once in the index table however many tasks ask at once, and the same
// for every later export (what lets exports of one patient link up).
import { describe, expect, inject, it } from 'vitest';
import { pseudonymSecret } from '../../lambdas/storage/aws/pseudonym-secret.js';
import { emulatorClients } from '../helpers/aws-emulators.js';
import { createIndexTable } from '../helpers/index-table.js';

describe('the pseudonym secret in the index table', () => {
  it('is made once when several tasks ask at once, and read back the same later', async () => {
    const { dynamodb } = emulatorClients({ fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') });
    const table = await createIndexTable(dynamodb);
    const [a, b, c] = await Promise.all([pseudonymSecret(dynamodb, table), pseudonymSecret(dynamodb, table), pseudonymSecret(dynamodb, table)]);
    expect(a).toHaveLength(32);
    expect(Buffer.from(b).equals(Buffer.from(a)) && Buffer.from(c).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(await pseudonymSecret(dynamodb, table)).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(await pseudonymSecret(dynamodb, await createIndexTable(dynamodb))).equals(Buffer.from(a))).toBe(false);
  });
});
