// Issue 16: planned failures (Spot interruption warnings, rebalance recommendations, scheduled events),
// through the real adapter, planner and executor over the in-memory EC2.
import { DetachNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import type { Result } from '../../lambda/result.ts';
import { SAMPLE_INSTANCE, sample } from '../helpers/events.ts';
import { harness } from '../helpers/harness.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const at = (iso: string) => new Date(iso);

describe('the adapter reads scheduled events from DescribeInstanceStatus', () => {
  it('Code, NotBefore, NotAfter and Description into the instance view; completed and canceled ones left out', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, {
      events: [
        {
          code: 'instance-retirement',
          notBefore: at('2026-11-25T03:00:00Z'),
          notAfter: at('2026-11-25T05:00:00Z'),
          description: 'The instance is running on degraded hardware',
        },
        {
          code: 'system-reboot',
          notBefore: at('2026-11-23T03:00:00Z'),
          description: '[Completed] scheduled reboot',
        },
        {
          code: 'instance-stop',
          notBefore: at('2026-11-24T03:00:00Z'),
          description: '[Canceled] The instance is running on degraded hardware',
        },
      ],
    });
    const obs = await new Ec2Adapter(h.ec2.client).observe(PAIR);
    expect(obs.instances[PRIMARY]?.scheduledEvents).toEqual([
      {
        code: 'instance-retirement',
        notBefore: Date.parse('2026-11-25T03:00:00Z'),
        notAfter: Date.parse('2026-11-25T05:00:00Z'),
        description: 'The instance is running on degraded hardware',
      },
    ]);
    expect(obs.instances[STANDBY]?.scheduledEvents).toEqual([]);
  });
});

const spotWarning = (instanceId: string) =>
  sample('eventbridge-spot-interruption', { [SAMPLE_INSTANCE]: instanceId });
/** A move off a healthy holder, as for any move: no Force; the breadcrumb tag last (the lease is the table's). */
const GRACEFUL = [
  'DetachNetworkInterface',
  'AttachNetworkInterface',
  'CreateTags',
  'ModifyNetworkInterfaceAttribute',
];
/** The detach, then the attach, in that order; the tail (keep, breadcrumb) runs side by side, in any order. */
const inOrder = (m: readonly string[]) => [...m.slice(0, 2), ...m.slice(2).sort()];

describe('a Spot interruption warning, through the handler', () => {
  it('about the healthy primary: the address moves now, without Force, though damping would hold back a failover; one MOVED page', async () => {
    const h = harness();
    // Three automatic moves this hour, the last 10 s ago, would hold back a move off a holder that still
    // runs (cool-down 300 s, flap limit 3): this holder is going away.
    await h.state.change('web', () => ({
      automaticMoves: [1_800_000, 600_000, 10_000].map((ago) => h.clock.now() - ago),
    }));
    const r = (await h.invoke(spotWarning(PRIMARY))) as Result;
    expect(r).toMatchObject({ outcome: 'moved', from: PRIMARY, to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(inOrder(h.ec2.mutations)).toEqual(GRACEFUL);
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: false });
    expect((await h.state.read('web')).forcedDetach).toBeUndefined();
    expect(h.published().map((p) => p.subject)).toEqual([
      expect.stringMatching(/^eni-failover web: MOVED to i-0fedcba9876543210 in /),
    ]);
    expect(r.reasons.join('\n')).toMatch(
      /going away: Spot interruption warning for i-0123456789abcdef0 \(terminate at 2026-11-22T10:17:00.000Z\)/,
    );
  });

  it('about the standby: nothing moves; "redundancy ends at" paged once, whatever container sees it again', async () => {
    const h = harness();
    const r = (await h.invoke(spotWarning(STANDBY))) as Result;
    expect(r.outcome).toBe('unchanged');
    expect(h.ec2.holder()).toBe(PRIMARY);
    // The notice is recorded in the pair's state; EC2 is not written at all.
    expect(h.ec2.mutations).toEqual([]);
    expect((await h.state.read('web')).notices.standby).toBe('spot-interruption 2026-11-22T10:15:00.000Z');
    expect(h.published().map((p) => p.subject)).toEqual([
      'eni-failover web: REDUNDANCY ENDS at 2026-11-22T10:17:00.000Z, held by i-0123456789abcdef0',
    ]);
    // A retry of the same warning, in another container.
    const again = (await h.container()(spotWarning(STANDBY))) as Result;
    expect(again.outcome).toBe('unchanged');
    expect(again.reasons).toContain('paged already');
    // The alarm-path default would publish an unchanged result; the notice is paged once, so this one is not.
    expect(h.published()).toHaveLength(1);
    expect(h.ec2.mutations).toEqual([]);
  });

  it('a rebalance recommendation for a pair without moveOnRebalance moves nothing; with it, moves without Force', async () => {
    const rebalance = sample('eventbridge-rebalance-recommendation', { [SAMPLE_INSTANCE]: PRIMARY });
    const off = harness();
    expect(await off.invoke(rebalance)).toMatchObject({ outcome: 'unchanged' });
    expect(off.ec2.mutations).toEqual([]);
    expect(off.published()).toEqual([]);
    const on = harness({ pairs: [{ ...PAIR, moveOnRebalance: true }] });
    expect(await on.invoke(rebalance)).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(inOrder(on.ec2.mutations)).toEqual(GRACEFUL);
  });
});

describe('scheduled events, seen by the reconcile round (DescribeInstanceStatus Events)', () => {
  const retiring = (at: number) => [
    {
      code: 'instance-retirement',
      notBefore: new Date(at),
      notAfter: new Date(at + 2 * 3_600_000),
      description: 'The instance is running on degraded hardware',
    },
  ];

  it("the primary's retirement: quiet until NotBefore is 15 minutes away, then one graceful move and one page", async () => {
    const h = harness();
    const notBefore = h.clock.now() + 20 * 60_000;
    h.ec2.set(PRIMARY, { events: retiring(notBefore) });
    const status = (await h.invoke({ action: 'status', pair: 'web' })) as Result;
    expect(status.state).toMatchObject({
      events: {
        primary: [
          {
            code: 'instance-retirement',
            notBefore: '2026-11-22T10:35:00.000Z',
            notAfter: '2026-11-22T12:35:00.000Z',
            description: 'The instance is running on degraded hardware',
            takesItAway: true,
          },
        ],
        standby: [],
      },
      plannedMove: '2026-11-22T10:20:00.000Z',
    });
    expect(status.reasons).toContain(
      'primary i-0123456789abcdef0 has a scheduled instance-retirement 2026-11-22T10:35:00Z to 2026-11-22T12:35:00Z (The instance is running on degraded hardware): the ENI moves off it at 2026-11-22T10:20:00.000Z (15 min before)',
    );
    const early = (await h.invoke({ action: 'reconcile' })) as Result[];
    expect(early.map((x) => x.outcome)).toEqual(['unchanged']);
    expect(h.ec2.mutations).toEqual([]);
    h.clock.tick(5 * 60_000);
    const due = (await h.invoke({ action: 'reconcile' })) as Result[];
    expect(due.map((x) => [x.outcome, x.to])).toEqual([['moved', STANDBY]]);
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(inOrder(h.ec2.mutations)).toEqual(GRACEFUL);
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: false });
    expect(h.published().map((p) => p.body.outcome)).toEqual(['status', 'moved']);
  });

  it('a completed or canceled event moves nothing', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, {
      events: [
        { code: 'instance-stop', notBefore: new Date(h.clock.now()), description: '[Completed] stop' },
        {
          code: 'instance-retirement',
          notBefore: new Date(h.clock.now()),
          description: '[Canceled] retirement',
        },
      ],
    });
    expect(await h.invoke({ action: 'reconcile' })).toMatchObject([{ outcome: 'unchanged' }]);
    expect(h.ec2.mutations).toEqual([]);
  });

  it("the standby's retirement: paged once, when first seen, with the window; later rounds are quiet", async () => {
    const h = harness();
    h.ec2.set(STANDBY, { events: retiring(Date.parse('2026-11-25T03:00:00Z')) });
    await h.invoke({ action: 'reconcile' });
    await h.container()({ action: 'reconcile' });
    await h.invoke({ action: 'reconcile' });
    const pages = h.published();
    expect(pages).toHaveLength(1);
    expect(pages[0]?.subject).toBe(
      'eni-failover web: REDUNDANCY ENDS at 2026-11-25T03:00:00.000Z, held by i-0123456789abcdef0',
    );
    expect(String(pages[0]?.body.reasons)).toMatch(
      /standby i-0fedcba9876543210 has a scheduled instance-retirement 2026-11-25T03:00:00Z to 2026-11-25T05:00:00Z/,
    );
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.ec2.mutations).toEqual([]);
  });
});
