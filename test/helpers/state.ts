import { randomUUID } from 'node:crypto';
import { isTransient } from '../../lambda/aws/clients';
import { StateAdapter } from '../../lambda/aws/state';
import type { StatePort } from '../../lambda/state';
import { createStateTable, dynamoClient, type LocalDynamo, startDynalite } from '../../ops/dynamo';

let local: Promise<LocalDynamo> | undefined;

/**
 * A pair state table of its own on this test process's dynalite (started on first use): the real adapter
 * (lambda/aws/state.ts) over DynamoDB's API, never a mock of the lease. Usable at once; the table is made
 * before the first call reaches it.
 */
export function localState(): StatePort & { readonly table: string } {
  const table = `state-${randomUUID()}`;
  local ??= startDynalite();
  const ready = local.then(async ({ endpoint }) => {
    const client = dynamoClient(endpoint);
    await createStateTable(client, table);
    return new StateAdapter(client, table);
  });
  return {
    table,
    read: async (...a) => (await ready).read(...a),
    takeLease: async (...a) => (await ready).takeLease(...a),
    renewLease: async (...a) => (await ready).renewLease(...a),
    change: async (...a) => (await ready).change(...a),
    observe: async (...a) => (await ready).observe(...a),
    rehearse: async (...a) => (await ready).rehearse(...a),
    isTransient,
  };
}
