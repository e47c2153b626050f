// The prober end to end (issue 23), for its tests and the bench: two members as real servers on loopback
// addresses, the service address on a third that forwards to whichever member the ENI is attached to, the
// in-memory EC2 on the real clock with its settle times, the real failover function (evidence handed to it as
// Lambda's asynchronous Invoke would), and the prober's view in a real DynamoDB API (dynalite, in process).
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import { StateAdapter } from '../../lambda/aws/state.ts';
import type { Pair, ProbeOption, Role } from '../../lambda/config.ts';
import type { Evidence } from '../../lambda/evidence.ts';
import { createFailover } from '../../lambda/failover.ts';
import { probe } from '../../lambda/probe/check.ts';
import { evidenceEvent, type ProbedPair, type ProberPorts, runProber } from '../../lambda/probe/loop.ts';
import { DynamoViewStore, type Outage } from '../../lambda/probe/store.ts';
import type { Result } from '../../lambda/result.ts';
import { systemClock } from '../../lambda/retry.ts';
import type { StatePort } from '../../lambda/state.ts';
import { createStateTable, dynamoClient, startDynalite } from '../../ops/dynamo.ts';
import { FakeEc2 } from '../../ops/fake-ec2.ts';
import { type MemberServer, memberPair, serviceAddress } from '../../ops/members.ts';
import { localState } from './state.ts';
import { PAIR, PRIMARY, STANDBY } from './world.ts';

/** The pair-state table (partition key `pk`) on dynalite: the function's items and the prober's side by side. */
export interface StateTable {
  /** The prober's view (`prober#<pair>` items). */
  readonly store: DynamoViewStore;
  /** The failover function's pair state (`<pair>` items). */
  readonly state: StatePort;
  close(): Promise<void>;
}

export async function stateTable(): Promise<StateTable> {
  const local = await startDynalite();
  const client = dynamoClient(local.endpoint);
  const name = 'eni-failover-state';
  await createStateTable(client, name);
  return {
    store: new DynamoViewStore(name, DynamoDBDocumentClient.from(client)),
    state: new StateAdapter(client, name),
    close: async () => {
      client.destroy();
      await local.close();
    },
  };
}

export interface ProbeWorld {
  readonly pair: Pair;
  readonly primary: MemberServer;
  readonly standby: MemberServer;
  readonly service: MemberServer;
  readonly ec2: FakeEc2;
  /** Evidence handed to the function, with when (performance.now()) and its answer. */
  readonly sent: { at: number; evidence: Evidence; result?: Result; answeredAt?: number }[];
  /** Pages the function published (subjects). */
  readonly pages: string[];
  /** The prober's own pages: "cannot reach either member", "never reached". */
  readonly proberPages: string[];
  readonly vetoed: Evidence[];
  /** What the prober counted as its own errors (a send, the view's reads and writes). */
  readonly errors: unknown[];
  /** Member probes that failed, retries included: what the path lost. */
  readonly failedAttempts: () => number;
  readonly outages: Outage[];
  /** Probes of the service address: failed, and failed while the holder was attached and up (the alarm's metric). */
  readonly service$: { at: number; ok: boolean; holderUp: boolean }[];
  /**
   * One prober run of `ms`, as a Lambda invocation would make it: the holder from the function's status first.
   * `primaryAt`: the address this run reaches the primary on (another run's path, in another subnet).
   */
  run(ms: number, options?: { runId?: string; primaryAt?: string }): ReturnType<typeof runProber>;
  /** The function's answer to `{"action": "status"}` for the pair. */
  status(): Promise<Result>;
  /** The ENI's mutations (detach and attach calls). */
  moves(): number;
  close(): Promise<void>;
}

/**
 * One world, the ENI on the primary. `base`: the members on 127.0.0.<base> and <base + 1>, the service address on
 * 127.0.1.<base>. The function's answers are awaited by the run (as Lambda's queue would take them), not by the loop.
 */
export async function probeWorld(
  base: number,
  options: {
    probe?: Partial<ProbeOption>;
    pair?: Partial<Pair>;
    settle?: { detachMs: number; attachMs: number };
    /** The table both use; without it, the function gets one of its own and the prober has no view. */
    table?: StateTable;
    /** The prober's view elsewhere (a table out of reach); the function keeps `table`'s state. */
    view?: DynamoViewStore;
  } = {},
): Promise<ProbeWorld> {
  const { primary, standby, port } = await memberPair(base);
  // A name of its own: worlds may share one table, and the prober's item is the pair's.
  const pair: Pair = {
    ...PAIR,
    name: `web-${base}`,
    ...options.pair,
    probe: { protocol: 'http', port, ...options.probe },
  };
  const ec2 = new FakeEc2(
    PAIR.networkInterfaceId,
    'eu-west-1a',
    'vpc-1',
    systemClock,
    options.settle ?? { detachMs: 300, attachMs: 400 },
  );
  ec2.addInstance({ id: PRIMARY });
  ec2.addInstance({ id: STANDBY });
  ec2.place(PRIMARY);
  const addressOf = (id: string | undefined) =>
    id === PRIMARY ? primary.address : id === STANDBY ? standby.address : undefined;
  const service = await serviceAddress(`127.0.1.${base}`, port, () => addressOf(ec2.holder()));
  const pages: string[] = [];
  const failover = createFailover({
    config: { pairs: [pair], topicArn: 'arn:aws:sns:eu-west-1:123456789012:t' },
    ec2: new Ec2Adapter(ec2.client),
    state: options.table?.state ?? localState(),
    proberView: options.table?.store,
    notify: async (r) => {
      pages.push(`${r.outcome} ${r.reasons.join('; ')}`);
    },
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'EniFailoverTest' }),
    region: 'eu-west-1',
  });
  const invoke = (event: unknown) => failover(event, { getRemainingTimeInMillis: () => 120_000 });
  const world = {
    pair,
    primary,
    standby,
    service,
    ec2,
    sent: [] as ProbeWorld['sent'],
    pages,
    proberPages: [] as string[],
    vetoed: [] as Evidence[],
    errors: [] as unknown[],
    outages: [] as Outage[],
    service$: [] as ProbeWorld['service$'],
  };
  let failedAttempts = 0;
  const ports: Omit<ProberPorts, 'runId'> = {
    probe: async (address, settings) => {
      const r = await probe(address, settings);
      if (!r.ok && address !== service.address) failedAttempts++;
      return r;
    },
    view: options.view ?? options.table?.store,
    send: async (p, evidence) => {
      const entry: ProbeWorld['sent'][number] = { at: performance.now(), evidence };
      world.sent.push(entry);
      entry.result = (await invoke(evidenceEvent(p, evidence))) as Result;
      entry.answeredAt = performance.now();
    },
    blind: () => void world.proberPages.push('blind'),
    unreached: (_, m) => void world.proberPages.push(`unreached ${m.role}`),
    record: () => {},
    service: (_, r, holderUp) => void world.service$.push({ at: Date.now(), ok: r.ok, holderUp }),
    outage: (_, o) => void world.outages.push(o),
    vetoed: (_, e) => void world.vetoed.push(e),
    error: (_, e) => void world.errors.push(e),
    now: () => Date.now(),
    sleep: (ms) => sleep(Math.max(0, ms)),
  };
  let runs = 0;
  return {
    ...world,
    failedAttempts: () => failedAttempts,
    async run(ms, { runId = `run-${++runs}`, primaryAt = primary.address } = {}) {
      // What the prober's entry does first (lambda/probe/prober.ts membersOf): the holder from the status.
      // Fleet-wide, as the prober asks (a status of every pair pages nobody).
      const answer = await invoke({ action: 'status' });
      const status = (Array.isArray(answer) ? answer : [answer]).find((r: Result) => r.pair === pair.name) as
        | Result
        | undefined;
      const holder: Role | null = status?.state?.attached ? status.state.holder : null;
      const probed: ProbedPair = {
        pair,
        members: [
          { role: 'primary', instanceId: PRIMARY, address: primaryAt },
          { role: 'standby', instanceId: STANDBY, address: standby.address },
        ],
        service: service.address,
        holder,
      };
      return runProber([probed], { ...ports, runId }, Date.now() + ms);
    },
    status: async () => {
      const answer = await invoke({ action: 'status', pair: pair.name });
      return (Array.isArray(answer) ? answer[0] : answer) as Result;
    },
    moves: () =>
      ec2.calls.filter((c) => c === 'DetachNetworkInterface' || c === 'AttachNetworkInterface').length,
    close: async () => {
      await Promise.all([primary.close(), standby.close(), service.close()]);
    },
  };
}
