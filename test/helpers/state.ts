import { randomUUID } from 'node:crypto';
import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { isTransient } from '../../lambda/aws/clients.ts';
import { StateAdapter } from '../../lambda/aws/state.ts';
import type { StatePort } from '../../lambda/state.ts';
import { createStateTable, dynamoClient, type LocalDynamo, startDynalite } from '../../ops/dynamo.ts';

let local: Promise<LocalDynamo> | undefined;

/** The table moto-backed tests share: each test's containers race for the same pair's lease in it. */
export const MOTO_STATE_TABLE = 'eni-failover-state';

/**
 * A pair state table of its own on this test process's dynalite (started on first use): the real adapter
 * (lambda/aws/state.ts) over DynamoDB's API, never a mock of the lease.
 */
export function localState(): StatePort & { readonly table: string } {
  local ??= startDynalite();
  return stateOn(
    local.then(({ endpoint }) => dynamoClient(endpoint)),
    `state-${randomUUID()}`,
  );
}

/**
 * The state table on moto's DynamoDB (AWS_ENDPOINT_URL points the SDK there), made on first use if a reset
 * removed it: the moto tiers run the lease on moto, as the function would on DynamoDB.
 */
export function motoState(): StatePort & { readonly table: string } {
  return stateOn(Promise.resolve(new DynamoDBClient({})), MOTO_STATE_TABLE);
}

/** The real adapter on `table`, usable at once: the table is made (if missing) before the first call reaches it. */
function stateOn(client: Promise<DynamoDBClient>, table: string): StatePort & { readonly table: string } {
  const ready = client.then(async (c) => {
    try {
      await createStateTable(c, table);
    } catch (error) {
      // Another container of the same test made it first.
      if ((error as Error).name !== 'ResourceInUseException') throw error;
    }
    return new StateAdapter(c, table);
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

/** DynamoDB's throttling answer, which the SDK's standard retry retries (AWS SDK, "Retry behavior"). */
export const tableThrottled = () =>
  new DynamoDBServiceException({
    name: 'ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });

/** A table that does not answer: the connection is refused, as with no route to DynamoDB's endpoint. */
export const tableUnreachable = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { name: 'Error', code: 'ECONNREFUSED' });

type Method = 'read' | 'takeLease' | 'renewLease' | 'change' | 'observe';

/**
 * Faults in front of a real table (the adapter over dynalite keeps its semantics): the next `times` calls of
 * `method` fail with `error` before they reach it. For what dynalite cannot show: throttling, an unreachable table.
 */
export function withFaults(state: StatePort): StatePort & {
  fail(method: Method | 'all', error: () => Error, times?: number): void;
} {
  const faults: { method: Method | 'all'; error: () => Error; times: number }[] = [];
  const gate =
    <A extends unknown[], R>(method: Method, call: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const fault = faults.find((f) => f.times > 0 && (f.method === method || f.method === 'all'));
      if (fault) {
        fault.times--;
        throw fault.error();
      }
      return call(...a);
    };
  return {
    read: gate('read', (...a: Parameters<StatePort['read']>) => state.read(...a)),
    takeLease: gate('takeLease', (...a: Parameters<StatePort['takeLease']>) => state.takeLease(...a)),
    renewLease: gate('renewLease', (...a: Parameters<StatePort['renewLease']>) => state.renewLease(...a)),
    change: gate('change', (...a: Parameters<StatePort['change']>) => state.change(...a)),
    observe: gate('observe', (...a: Parameters<StatePort['observe']>) => state.observe(...a)),
    rehearse: (pair) => state.rehearse(pair),
    isTransient: (e) => state.isTransient(e),
    fail: (method, error, times = Number.POSITIVE_INFINITY) => {
      faults.push({ method, error, times });
    },
  };
}
