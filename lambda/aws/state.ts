// The pair state table over the SDK (docs/contract.md, "Pair state"): one item per pair, key `pk`.
// Reads are strongly consistent (ConsistentRead); every write carries a ConditionExpression, which DynamoDB
// evaluates atomically with the write (DynamoDB Developer Guide, "Condition expressions"): a compare-and-swap.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  EMPTY_RECORD,
  type Lease,
  type PairRecord,
  type ProbeObservation,
  type RecordChange,
  type StatePort,
} from '../state.ts';
import { isTransient } from './clients.ts';

/** Fields written whole by change(); observations have attributes of their own (see observe). */
const FIELDS = [
  'lease',
  'automaticMoves',
  'flappingPaged',
  'probeRefusalPaged',
  'notices',
  'downPaged',
  'maintenance',
  'forcedDetach',
  'lastMove',
  'migrated',
] as const;
/** A member's probe observation lives in its own attributes, so that the prober's word never races a decision's write. */
const FAILED = 'probeFailed_';
const PASSED = 'probePassed_';
/** The lease may be taken: no one holds it, it has expired, or this owner holds it already. */
const LEASE_FREE = 'attribute_not_exists(lease) OR lease.#until <= :now OR lease.#owner = :owner';
/** A change that keeps meeting another write gives up after this many tries (each one read and one write). */
const CAS_TRIES = 20;

export class StateAdapter implements StatePort {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  isTransient(error: unknown): boolean {
    return isTransient(error);
  }

  async read(pair: string): Promise<PairRecord> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: pair }, ConsistentRead: true }),
    );
    return Item ? toRecord(Item) : EMPTY_RECORD;
  }

  async takeLease(pair: string, lease: Lease, seen: number): Promise<Lease | 'stale' | undefined> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pair },
          UpdateExpression: 'SET lease = :lease, version = if_not_exists(version, :zero) + :one',
          ConditionExpression: `(${LEASE_FREE}) AND ${seen === 0 ? 'attribute_not_exists(version)' : 'version = :seen'}`,
          ExpressionAttributeNames: { '#until': 'until', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':lease': lease,
            ':now': lease.takenAt,
            ':owner': lease.owner,
            ':zero': 0,
            ':one': 1,
            ...(seen === 0 ? {} : { ':seen': seen }),
          },
        }),
      );
      return undefined;
    } catch (error) {
      if (!refused(error)) throw error;
      const now = (await this.read(pair)).lease;
      // The SDK's replay of a take whose answer was lost finds the lease already this owner's.
      if (now?.owner === lease.owner) return undefined;
      return now && now.until > lease.takenAt ? now : 'stale';
    }
  }

  async renewLease(pair: string, lease: Lease): Promise<boolean> {
    try {
      // The whole map, not a path into it: a released lease (the attribute removed) fails the condition cleanly.
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pair },
          UpdateExpression: 'SET lease = :lease, version = version + :one',
          ConditionExpression: 'lease.#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':lease': lease, ':owner': lease.owner, ':one': 1 },
        }),
      );
      return true;
    } catch (error) {
      if (refused(error)) return false;
      throw error;
    }
  }

  async change(
    pair: string,
    change: (record: PairRecord) => RecordChange | undefined,
    options: { readonly releaseLease?: string } = {},
  ): Promise<PairRecord | undefined> {
    for (let i = 0; i < CAS_TRIES; i++) {
      const record = await this.read(pair);
      const wanted = change(record);
      const release = options.releaseLease !== undefined && record.lease?.owner === options.releaseLease;
      if (wanted === undefined && !release) return undefined;
      const fields: RecordChange = { ...wanted, ...(release ? { lease: null } : {}) };
      const set: string[] = ['version = :next'];
      const remove: string[] = [];
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ':next': record.version + 1 };
      for (const [key, value] of Object.entries(fields)) {
        names[`#${key}`] = key;
        if (value === null || value === undefined) remove.push(`#${key}`);
        else {
          set.push(`#${key} = :${key}`);
          values[`:${key}`] = value;
        }
      }
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: pair },
            UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
            // The compare-and-swap: written only over the version that was read.
            ConditionExpression: record.version === 0 ? 'attribute_not_exists(version)' : 'version = :seen',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: record.version === 0 ? values : { ...values, ':seen': record.version },
          }),
        );
        return { ...record, ...withoutNulls(fields), version: record.version + 1 };
      } catch (error) {
        if (!refused(error)) throw error;
      }
    }
    throw new Error(`pair ${pair}'s state kept changing under ${CAS_TRIES} tries to write it`);
  }

  async observe(pair: string, instanceId: string, observation: ProbeObservation): Promise<void> {
    const writes: Promise<void>[] = [];
    if (observation.failedAt !== undefined)
      writes.push(
        this.newer(pair, `${FAILED}${instanceId}`, {
          at: observation.failedAt,
          failures: observation.failures ?? 0,
        }),
      );
    if (observation.passedAt !== undefined)
      writes.push(this.newer(pair, `${PASSED}${instanceId}`, { at: observation.passedAt }));
    await Promise.all(writes);
  }

  /** Sets `attribute` unless it holds a later time already: evidence delivered late never hides newer evidence. */
  private async newer(
    pair: string,
    attribute: string,
    value: { at: number; failures?: number },
  ): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pair },
          UpdateExpression: 'SET #a = :v',
          ConditionExpression: 'attribute_not_exists(#a) OR #a.#at < :at',
          ExpressionAttributeNames: { '#a': attribute, '#at': 'at' },
          ExpressionAttributeValues: { ':v': value, ':at': value.at },
        }),
      );
    } catch (error) {
      if (!refused(error)) throw error;
    }
  }

  async rehearse(pair: string): Promise<string | undefined> {
    try {
      await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: pair }, ConsistentRead: true }));
      // The lease's own write under a condition no item can meet: DynamoDB authorizes it and checks its expressions,
      // then refuses it, changing nothing.
      const now = Date.now();
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pair },
          UpdateExpression: 'SET lease = :lease, version = if_not_exists(version, :zero) + :one',
          ConditionExpression: `(${LEASE_FREE}) AND attribute_exists(pk) AND attribute_not_exists(pk)`,
          ExpressionAttributeNames: { '#until': 'until', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':lease': { owner: 'rehearsal', target: 'none', takenAt: now, until: now },
            ':now': now,
            ':owner': 'rehearsal',
            ':zero': 0,
            ':one': 1,
          },
        }),
      );
      return 'the impossible condition was met';
    } catch (error) {
      if (refused(error)) return undefined;
      const e = error as Error;
      return `${e.name}: ${e.message}`;
    }
  }
}

/** The condition did not hold: someone else's write came first (matched by name, whichever SDK copy threw it). */
const refused = (error: unknown) => (error as Error | undefined)?.name === 'ConditionalCheckFailedException';

const withoutNulls = (fields: RecordChange): Partial<PairRecord> =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v ?? undefined])) as Partial<PairRecord>;

/** The item as the planner reads it; anything missing has its empty default. */
function toRecord(item: Record<string, unknown>): PairRecord {
  const probes: Record<string, { failedAt?: number; failures?: number; passedAt?: number }> = {};
  for (const [key, value] of Object.entries(item)) {
    const v = value as { at?: number; failures?: number };
    if (key.startsWith(FAILED)) {
      const id = key.slice(FAILED.length);
      probes[id] = { ...probes[id], failedAt: v.at, failures: v.failures };
    } else if (key.startsWith(PASSED)) {
      const id = key.slice(PASSED.length);
      probes[id] = { ...probes[id], passedAt: v.at };
    }
  }
  const known = Object.fromEntries(FIELDS.filter((f) => item[f] !== undefined).map((f) => [f, item[f]]));
  return {
    ...EMPTY_RECORD,
    ...known,
    version: typeof item.version === 'number' ? item.version : 0,
    automaticMoves: Array.isArray(item.automaticMoves) ? (item.automaticMoves as number[]) : [],
    notices: (item.notices as PairRecord['notices'] | undefined) ?? {},
    probes,
  };
}
