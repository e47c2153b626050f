import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { Pair } from '../../lambda/config.ts';
import type { Result } from '../../lambda/result.ts';
import { buildWorld, type MotoWorld } from '../../ops/world.ts';
import { alarmMessage, SAMPLE_INSTANCE, sample, snsAlarm } from './events.ts';
import type { FaultProxy } from './fault-proxy.ts';
import { localFailover } from './local-failover.ts';

/** Many pairs in one moto VPC: each its own primary, standby and ENI at device index 1, all in eu-west-1a. */
export interface ManyPairs {
  world: MotoWorld;
  pairs: Pair[];
}

/** `n` pairs (the world's own pair 'web' first), built in parallel, as a group of one function holds them. */
export async function buildPairs(n: number): Promise<ManyPairs> {
  const world = await buildWorld();
  const more = await Promise.all(
    Array.from({ length: n - 1 }, async (_, i): Promise<Pair> => {
      const [primary, standby] = await Promise.all([
        world.launch(world.subnetA),
        world.launch(world.subnetA),
      ]);
      const eni = await world.createEni(world.subnetA, { instanceId: primary, deviceIndex: 1 });
      return {
        name: `svc-${String(i + 2).padStart(2, '0')}`,
        networkInterfaceId: eni,
        primaryInstanceId: primary,
        standbyInstanceId: standby,
        deviceIndex: 1,
      };
    }),
  );
  return { world, pairs: [world.pair, ...more] };
}

/** Where each pair's ENI is, and how many instances list it (more than one is a double attachment). */
export async function whereAll(
  m: ManyPairs,
): Promise<{ pair: string; holder: string | null; listedBy: number }[]> {
  const r = await m.world.ec2.send(
    new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: m.pairs.map((p) => p.networkInterfaceId) }),
  );
  const instances = await m.world.ec2.send(
    new DescribeInstancesCommand({
      Filters: [{ Name: 'vpc-id', Values: [m.world.vpcId] }],
    }),
  );
  const all = (instances.Reservations ?? []).flatMap((x) => x.Instances ?? []);
  return m.pairs.map((p) => {
    const eni = (r.NetworkInterfaces ?? []).find((n) => n.NetworkInterfaceId === p.networkInterfaceId);
    return {
      pair: p.name,
      holder: eni?.Attachment?.InstanceId ?? null,
      listedBy: all.filter((i) =>
        (i.NetworkInterfaces ?? []).some((n) => n.NetworkInterfaceId === p.networkInterfaceId),
      ).length,
    };
  });
}

export interface Outbreak {
  /** Each invocation's results, in the order the invocations were made. */
  results: Result[][];
  /** From the first event to the last answer, ms. */
  wallMs: number;
  /** Each moved ENI's move as EC2 saw it: from its detach to its last call (the tags), ms. */
  moves: Map<string, { from: number; to: number }>;
}

/**
 * The primaries of all `pairs` fail at once (one StopInstances), and the events arrive at once:
 * each of the first `separate` pairs' state change in its own function instance (a separate Lambda
 * container: its own clients, queues and caches), and the rest as the records of one SNS alarm batch
 * in one more instance. Every container is configured with all the pairs, as the function's group is.
 */
export async function failAtOnce(m: ManyPairs, proxy: FaultProxy, separate: number): Promise<Outbreak> {
  const { pairs } = m;
  await m.world.ec2.send(new StopInstancesCommand({ InstanceIds: pairs.map((p) => p.primaryInstanceId) }));
  // Which ENI each attachment belongs to: a detach names only the attachment.
  const attachments = new Map<string, string>();
  const before = await m.world.ec2.send(
    new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: pairs.map((p) => p.networkInterfaceId) }),
  );
  for (const n of before.NetworkInterfaces ?? [])
    if (n.Attachment?.AttachmentId && n.NetworkInterfaceId)
      attachments.set(n.Attachment.AttachmentId, n.NetworkInterfaceId);

  const events = pairs
    .slice(0, separate)
    .map((p) => sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: p.primaryInstanceId }));
  const batch = pairs.slice(separate);
  if (batch.length > 0) {
    events.push(
      snsAlarm(
        batch.map((p) =>
          alarmMessage({
            Trigger: {
              ...(alarmMessage().Trigger as Record<string, unknown>),
              Dimensions: [{ name: 'InstanceId', value: p.primaryInstanceId }],
            },
          }),
        ),
      ),
    );
  }
  const containers = events.map(() => localFailover(pairs));
  proxy.log.length = 0;
  const start = performance.now();
  const results = await Promise.all(
    events.map(async (e, i) => {
      const r = await (containers[i] as ReturnType<typeof localFailover>).answer(e);
      return (Array.isArray(r) ? r : [r]) as Result[];
    }),
  );
  const wallMs = performance.now() - start;

  const moves = new Map<string, { from: number; to: number }>();
  for (const call of proxy.log) {
    const eni = call.action === 'DetachNetworkInterface' ? attachments.get(call.target ?? '') : call.target;
    if (!eni) continue;
    const move = moves.get(eni);
    if (call.action === 'DetachNetworkInterface' && !move) moves.set(eni, { from: call.at, to: call.at });
    else if (move) move.to = call.at;
  }
  return { results, wallMs, moves };
}

/** The most moves in flight at one moment. */
export function peakOverlap(moves: Iterable<{ from: number; to: number }>): number {
  const edges = [...moves].flatMap((m) => [
    { at: m.from, d: 1 },
    { at: m.to, d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) {
    now += e.d;
    peak = Math.max(peak, now);
  }
  return peak;
}
