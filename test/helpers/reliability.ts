import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import type { Moto } from '../../ops/moto.ts';
import { buildWorld, type MotoWorld, useEndpoint } from '../../ops/world.ts';
import { SAMPLE_INSTANCE, sample } from './events.ts';
import { FAULTS, type Fault, FaultProxy } from './fault-proxy.ts';
import { localFailover } from './local-failover.ts';
import { runMotoTests, startMoto } from './tools.ts';

/** Every EC2 action a failover makes, in the order it makes them. */
export const ACTIONS = [
  'DescribeNetworkInterfaces',
  'DescribeInstances',
  'DescribeInstanceStatus',
  'DescribeInstanceTypes',
  'DetachNetworkInterface',
  'AttachNetworkInterface',
  'ModifyNetworkInterfaceAttribute',
  'CreateTags',
];
const MUTATING = new Set(ACTIONS.slice(4));
/** The steps whose lost answer the function must see through by re-reading EC2. */
const LOST_MUST_MOVE = new Set(['DetachNetworkInterface', 'AttachNetworkInterface']);

/** Short timeouts, so that a call that never answers costs about a second, not ten. */
const TEST_HTTP = { connectionTimeout: 500, requestTimeout: 700, throwOnRequestTimeout: true };

/** moto behind the fault proxy: EC2 goes through the proxy, everything else straight to moto. */
export async function faultyEc2(moto: Moto): Promise<FaultProxy> {
  useEndpoint(moto.url);
  const proxy = await FaultProxy.start(moto.url.replace('localhost', '127.0.0.1'));
  process.env.AWS_ENDPOINT_URL_EC2 = proxy.url;
  return proxy;
}

/**
 * The function retries transient errors until its deadline (the remaining time less 5 s to report):
 * 10 s of remaining time keeps a fault that never ends to about 5 s a cell, not 55.
 */
export const failoverFor = (pair: Pair) => localFailover([pair], TEST_HTTP, 10_000);

/** Where the ENI is: the holder, and how many instances list it (more than one is a double attachment). */
export async function locate(w: MotoWorld): Promise<{ holder: string | null; listedBy: number }> {
  const { holder } = await w.where();
  const r = await w.ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'vpc-id', Values: [w.vpcId] }] }),
  );
  const listedBy = (r.Reservations ?? [])
    .flatMap((x) => x.Instances ?? [])
    .filter((i) => (i.NetworkInterfaces ?? []).some((n) => n.NetworkInterfaceId === w.eni)).length;
  return { holder, listedBy };
}

export interface Cell {
  action: string;
  fault: Fault;
  times: 'once' | 'always';
  /** What the first attempt answered, and where it left the ENI. */
  first: string;
  /** Where the ENI ended after Lambda's retry of the same event (faults cleared). */
  end: string;
  violations: string[];
}

const roleOf = (w: MotoWorld, id: string | null) =>
  id === w.standby ? 'standby' : id === w.primary ? 'primary' : (id ?? 'no one');

/**
 * One cell: the primary stops; the failover runs with `action` failing; then Lambda's retry runs
 * with the fault gone. Returns what happened and every invariant it broke.
 */
export async function runCell(
  moto: Moto,
  proxy: FaultProxy,
  action: string,
  fault: Fault,
  times: 'once' | 'always',
): Promise<Cell> {
  await moto.reset();
  proxy.clear();
  const w = await buildWorld();
  await w.stop(w.primary);
  const event = sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: w.primary });
  const run = failoverFor(w.pair);
  const violations: string[] = [];

  proxy.clear();
  proxy.inject(action, fault, times === 'once' ? 1 : Number.POSITIVE_INFINITY);
  const first = await run.invoke(event);
  const calls = [...proxy.log];
  proxy.clear();
  const after = await locate(w);

  if (first.outcome === 'moved' && after.holder !== w.standby)
    violations.push(`said moved, but the ENI is on ${roleOf(w, after.holder)}`);
  if (first.outcome !== 'moved' && first.outcome !== 'failed')
    violations.push(`unexpected outcome ${first.outcome}`);
  if (first.outcome === 'failed') {
    if (run.published.at(-1)?.outcome !== 'failed') violations.push('the failure was not published');
    const where = first.reasons[1] ?? '';
    const said = /attached to no one|still detaching/.test(where)
      ? null
      : /attached to standby/.test(where)
        ? w.standby
        : /attached to primary/.test(where)
          ? w.primary
          : 'unknown';
    const couldNotLook = /could not see where/.test(where) && action === 'DescribeNetworkInterfaces';
    if (!couldNotLook && said !== after.holder) {
      violations.push(`reported "${where}" but the ENI is on ${roleOf(w, after.holder)}`);
    }
    const failedStep = /^(\S+) failed/.exec(first.reasons[0] ?? '')?.[1];
    if (failedStep === 'observe' && calls.some((c) => MUTATING.has(c.action))) {
      violations.push('a mutating call followed a failed observation');
    }
  }
  if (after.listedBy > 1) violations.push(`double attachment: ${after.listedBy} instances list the ENI`);
  // EC2 carried the detach or attach out and only its answer was lost: re-reading EC2 shows the step
  // done, so the move goes on (CONTRACT: a mutation's error is judged by re-reading EC2).
  if (fault === 'lost' && LOST_MUST_MOVE.has(action) && first.outcome !== 'moved')
    violations.push(`a lost ${action} answer ended ${first.outcome}: EC2 had carried it out`);

  const retry = await run.invoke(event);
  const end = await locate(w);
  if (end.holder !== w.standby)
    violations.push(
      `the retry left the ENI on ${roleOf(w, end.holder)} (${retry.outcome}: ${retry.reasons.join('; ')})`,
    );
  if (end.listedBy !== 1) violations.push(`after the retry ${end.listedBy} instances list the ENI`);

  const step =
    first.outcome === 'failed' ? ` at ${/^(\S+) failed/.exec(first.reasons[0] ?? '')?.[1] ?? '?'}` : '';
  return {
    action,
    fault,
    times,
    first: `${first.outcome}${step}, ENI on ${roleOf(w, after.holder)}`,
    end: `${retry.outcome} -> ${roleOf(w, end.holder)}`,
    violations,
  };
}

/** The matrix as a table a person reads, with totals. */
export function table(cells: Cell[]): string {
  const rows = cells.map(
    (c) =>
      `${c.action.padEnd(32)} ${c.fault.padEnd(9)} ${c.times.padEnd(6)} ${c.first.padEnd(44)} ${c.end.padEnd(22)} ${c.violations.length === 0 ? 'ok' : `VIOLATED: ${c.violations.join('; ')}`}`,
  );
  const moved = cells.filter((c) => c.first.startsWith('moved')).length;
  const failed = cells.length - moved;
  const ok = cells.filter((c) => c.violations.length === 0).length;
  return [
    `${'action'.padEnd(32)} ${'fault'.padEnd(9)} ${'times'.padEnd(6)} ${'first attempt'.padEnd(44)} ${'after retry'.padEnd(22)} invariants`,
    ...rows,
    `${cells.length} cells: ${moved} moved on the first attempt (the SDK's retries absorbed the fault), ${failed} failed and were reported, ${ok} of ${cells.length} kept every invariant and converged on the retry`,
  ].join('\n');
}

/** The matrix as the README's table: one row per action, the first attempt's outcome per fault, once / always. */
export function readmeRows(cells: Cell[]): string {
  const word = (c: Cell | undefined) =>
    !c
      ? '?'
      : c.violations.length > 0
        ? 'VIOLATED'
        : c.first.startsWith('moved')
          ? 'moved'
          : 'failed, reported';
  const actions = [...new Set(cells.map((c) => c.action))];
  return actions
    .map((action) => {
      const of = (fault: Fault, times: Cell['times']) =>
        word(cells.find((c) => c.action === action && c.fault === fault && c.times === times));
      return `| \`${action}\` | ${FAULTS.map((f) => `${of(f, 'once')} / ${of(f, 'always')}`).join(' | ')} |`;
    })
    .join('\n');
}

/** moto behind the fault proxy for one test file: started before its tests, stopped after. */
export function useFaultyMoto(): { moto: () => Moto; proxy: () => FaultProxy } {
  let moto: Moto | undefined;
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    moto = await startMoto();
    proxy = await faultyEc2(moto);
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_EC2;
    await proxy?.stop();
    await moto?.stop();
  });
  return { moto: () => moto as Moto, proxy: () => proxy as FaultProxy };
}

/** The fault matrix for some actions: each x each fault x once/always, the table printed after. */
export function faultMatrix(title: string, actions: string[]): void {
  describe.runIf(runMotoTests)(`fault injection: ${title}`, () => {
    const env = useFaultyMoto();
    const cells: Cell[] = [];
    afterAll(() => console.log(`\n${table(cells)}\n\n${readmeRows(cells)}\n`));
    it.each(actions)(
      '%s: every fault, once and always, converges or is reported exactly',
      async (action) => {
        const mine: Cell[] = [];
        for (const fault of FAULTS) {
          for (const times of ['once', 'always'] as const) {
            mine.push(await runCell(env.moto(), env.proxy(), action, fault, times));
          }
        }
        cells.push(...mine);
        // Every cell runs before judging, so that the printed table shows all of them.
        const broken = mine
          .filter((c) => c.violations.length > 0)
          .map((c) => `${c.fault} ${c.times} (${c.first}): ${c.violations.join('; ')}`);
        expect(broken).toEqual([]);
      },
      240_000,
    );
  });
}
