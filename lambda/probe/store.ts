// The prober's view across runs, in the pair-state table (docs/contract.md, "Pair state"): one item per probed
// pair, `pk = "prober#<pair>"`, beside the function's own `pk = "<pair>"` items, which the prober never reads
// nor writes. Each run starts from it (which member a probe has ever reached, what was paged) and writes its
// own view of the members on each change, so that overlapping runs see each other: a run that saw the holder
// pass vetoes another run's evidence about it (issue 23). Written on changes only, never once a probe: a few
// writes a run per pair (on-demand, about 0.2 USD a month a pair; docs/deploying.md, "Monthly cost").
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { STATE_HTTP } from '../aws/clients.ts';

/** The key of a pair's prober item: never a pair's own name, which the function's item uses. */
export const proberKey = (pair: string) => `prober#${pair}`;

/** One run's view of one member: passing or failing since when, and its last pass. Epoch ms. */
export interface MemberRunView {
  readonly passing: boolean;
  readonly since: number;
  readonly passedAt?: number;
}

/** One run's view of a pair's members, by instance ID; `until`: when the run stops probing. */
export interface RunView {
  readonly until: number;
  readonly members: Readonly<Record<string, MemberRunView>>;
}

/** An outage of the service address: its first failed probe to the first passing one. Epoch ms. */
export interface Outage {
  readonly from: number;
  readonly to: number;
  readonly ms: number;
}

export interface ProberView {
  /** When a probe last reached each member (passed, or was refused or answered: not only timed out). */
  readonly reachedAt: Readonly<Record<string, number>>;
  /** Pages already sent for an episode, by key (`blind`, `unreached#<instance>`), with their time. */
  readonly paged: Readonly<Record<string, number>>;
  /** Every run's view, by run ID. */
  readonly runs: Readonly<Record<string, RunView>>;
  readonly outage?: Outage;
}

export const EMPTY_VIEW: ProberView = { reachedAt: {}, paged: {}, runs: {} };

export interface ViewChange {
  readonly run?: { readonly id: string; readonly view: RunView };
  readonly reached?: Readonly<Record<string, number>>;
  readonly outage?: Outage;
  /** Runs to forget (ended long ago) and pages whose episode has ended. */
  readonly dropRuns?: readonly string[];
  readonly clearPages?: readonly string[];
}

/** The prober's port to its view; lambda/probe/loop.ts uses it, tests give the real one over dynalite. */
export interface ViewStore {
  load(pair: string): Promise<ProberView>;
  write(pair: string, change: ViewChange): Promise<void>;
  /** Claims a page for an episode: true for the one run that claims `key` first, false once claimed. */
  claimPage(pair: string, key: string, at: number): Promise<boolean>;
}

const RUN = 'run#';
const REACHED = 'reached#';
const PAGED = 'paged#';

/** The table's adapter: strongly consistent reads, since a veto must see the other run's last write. */
export class DynamoViewStore implements ViewStore {
  constructor(
    private readonly table: string,
    // The pair state's short timeouts, two attempts: a view that is slow to come is one the run does without.
    private readonly doc: DynamoDBDocumentClient = DynamoDBDocumentClient.from(
      new DynamoDBClient({ requestHandler: STATE_HTTP, maxAttempts: 2 }),
    ),
  ) {}

  async load(pair: string): Promise<ProberView> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: proberKey(pair) }, ConsistentRead: true }),
    );
    if (!Item) return EMPTY_VIEW;
    const view = { reachedAt: {}, paged: {}, runs: {} } as {
      reachedAt: Record<string, number>;
      paged: Record<string, number>;
      runs: Record<string, RunView>;
      outage?: Outage;
    };
    for (const [name, value] of Object.entries(Item)) {
      if (name.startsWith(RUN)) view.runs[name.slice(RUN.length)] = value as RunView;
      else if (name.startsWith(REACHED)) view.reachedAt[name.slice(REACHED.length)] = Number(value);
      else if (name.startsWith(PAGED)) view.paged[name.slice(PAGED.length)] = Number(value);
      else if (name === 'outage') view.outage = value as Outage;
    }
    return view;
  }

  async write(pair: string, change: ViewChange): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const set: string[] = [];
    const remove: string[] = [];
    const put = (attribute: string, value: unknown) => {
      const i = set.length;
      names[`#s${i}`] = attribute;
      values[`:s${i}`] = value;
      set.push(`#s${i} = :s${i}`);
    };
    const drop = (attribute: string) => {
      const i = remove.length;
      names[`#r${i}`] = attribute;
      remove.push(`#r${i}`);
    };
    if (change.run) put(RUN + change.run.id, change.run.view);
    for (const [id, at] of Object.entries(change.reached ?? {})) put(REACHED + id, at);
    if (change.outage) put('outage', change.outage);
    for (const id of change.dropRuns ?? []) if (id !== change.run?.id) drop(RUN + id);
    for (const key of change.clearPages ?? []) drop(PAGED + key);
    if (set.length + remove.length === 0) return;
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: proberKey(pair) },
        UpdateExpression: [
          set.length ? `SET ${set.join(', ')}` : '',
          remove.length ? `REMOVE ${remove.join(', ')}` : '',
        ].join(' '),
        ExpressionAttributeNames: names,
        ...(set.length ? { ExpressionAttributeValues: values } : {}),
      }),
    );
  }

  async claimPage(pair: string, key: string, at: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: proberKey(pair) },
          UpdateExpression: 'SET #p = :at',
          ConditionExpression: 'attribute_not_exists(#p)',
          ExpressionAttributeNames: { '#p': PAGED + key },
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

/**
 * The service address's last outage for a pair's `status` (lambda/result.ts PairState.addressOutage): the
 * function's status path reads the prober's item through this; null when the prober has measured none.
 */
export async function lastAddressOutage(
  store: Pick<ViewStore, 'load'>,
  pair: string,
): Promise<{ from: string; to: string; ms: number } | null> {
  const { outage } = await store.load(pair);
  if (!outage) return null;
  const iso = (ms: number) => new Date(ms).toISOString();
  return { from: iso(outage.from), to: iso(outage.to), ms: outage.ms };
}
