// Issue 10: reconcile rounds (a schedule, or by hand), application health, and the fleet's status,
// through the real adapter, planner and executor over the in-memory EC2.
import { DetachNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { alarmMessage, snsAlarm } from '../helpers/events.ts';
import { fleet, type Harness, harness, results } from '../helpers/harness.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const reconcileAll = { action: 'reconcile' };
const trigger = alarmMessage().Trigger as Record<string, unknown>;

describe('reconcile: the automatic rules applied to what EC2 shows now', () => {
  it('a healthy fleet: one unchanged result per pair, no mutating call, nobody paged', async () => {
    const { h } = fleet(3);
    const r = await results(h.invoke(reconcileAll));
    expect(r.map((x) => [x.pair, x.outcome])).toEqual([
      ['web-0', 'unchanged'],
      ['web-1', 'unchanged'],
      ['web-2', 'unchanged'],
    ]);
    expect(h.ec2.mutations).toEqual([]);
    expect(h.published()).toEqual([]);
  });

  it('observes the whole fleet in one round of calls: 20 pairs cost what one does', async () => {
    const one = fleet(1).h;
    await one.invoke(reconcileAll);
    const twenty = fleet(20).h;
    await twenty.invoke(reconcileAll);
    const reads = (h: Harness) => h.ec2.calls.filter((c) => c.startsWith('Describe'));
    expect(reads(twenty)).toEqual(reads(one));
    expect(reads(one)).toEqual([
      'DescribeNetworkInterfaces',
      'DescribeInstances',
      'DescribeInstanceStatus',
      'DescribeInstanceTypes',
    ]);
  });

  it('acts on an alarm that stayed in ALARM: a failed holder nobody moved is moved, and that is published', async () => {
    const { h } = fleet(2);
    h.ec2.set(PRIMARY, { instanceStatus: 'impaired' });
    const r = await results(h.invoke(reconcileAll));
    expect(r.map((x) => x.outcome)).toEqual(['moved', 'unchanged']);
    expect(r[0]?.reasons).toContainEqual(expect.stringMatching(/triggered by reconcile round/));
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.published().map((p) => p.body.outcome)).toEqual(['moved']);
  });

  it('heals a stranded ENI (attached to no one): attached to the standby, not damped by the cool-down', async () => {
    const h = harness();
    h.ec2.unplace();
    await h.state.change('web', () => ({ automaticMoves: [h.clock.now() - 10_000] }));
    const r = await results(h.invoke({ action: 'reconcile', pair: 'web' }));
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ outcome: 'moved', from: null, to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
  });

  it('re-evaluates a cool-down refusal once the cool-down has passed', async () => {
    const h = harness();
    // Still running, but its instance check fails: damping applies (a stopped holder is left at once).
    h.ec2.set(PRIMARY, { instanceStatus: 'impaired' });
    await h.state.change('web', () => ({ automaticMoves: [h.clock.now() - 60_000] }));
    const early = await results(h.invoke(reconcileAll));
    expect(early[0]?.outcome).toBe('refused');
    expect(early[0]?.reasons[0]).toMatch(/^cooldown: /);
    // A refusal every minute pages nobody: the AutomaticRefusals alarm does, once.
    expect(h.published()).toEqual([]);
    h.clock.tick(300_000);
    const later = await results(h.invoke(reconcileAll));
    expect(later[0]).toMatchObject({ outcome: 'moved', to: STANDBY });
  });

  it('one pair by name answers an array of one; an unknown pair is ignored, naming the configured ones', async () => {
    const { h } = fleet(2);
    expect((await results(h.invoke({ action: 'reconcile', pair: 'web-1' }))).map((r) => r.pair)).toEqual([
      'web-1',
    ]);
    const [unknown] = await results(h.invoke({ action: 'reconcile', pair: 'db' }));
    expect(unknown).toMatchObject({ outcome: 'ignored' });
    expect(unknown?.reasons[0]).toMatch(/unknown pair "db"; configured: web-0, web-1/);
  });
});

describe('application health (EC2 application status checks)', () => {
  const checked: Pair = { ...PAIR, applicationCheck: { protocol: 'http', port: 8080, path: '/health' } };
  const appAlarm = snsAlarm([
    alarmMessage({
      AlarmName: 'web-primary-application',
      Trigger: { ...trigger, MetricName: 'StatusCheckFailed_Application' },
    }),
  ]);

  it('a holder whose application is impaired while the instance runs: moved, without Force', async () => {
    const h = harness({ pairs: [checked] });
    h.ec2.set(PRIMARY, { appStatus: 'impaired' });
    h.ec2.set(STANDBY, { appStatus: 'ok' });
    const [r] = await results(h.invoke(appAlarm));
    expect(r).toMatchObject({ outcome: 'moved', from: PRIMARY, to: STANDBY });
    expect(r?.reasons[0]).toMatch(/application status check is impaired/);
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: false });
  });

  it('the reconcile round is a detector too: an impaired application is moved away from', async () => {
    const h = harness({ pairs: [checked] });
    h.ec2.set(PRIMARY, { appStatus: 'impaired' });
    h.ec2.set(STANDBY, { appStatus: 'ok' });
    expect((await results(h.invoke(reconcileAll)))[0]).toMatchObject({ outcome: 'moved', to: STANDBY });
  });

  it('a standby whose application is impaired is refused as a target, by name', async () => {
    const h = harness({ pairs: [checked] });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.set(STANDBY, { appStatus: 'impaired' });
    const [r] = await results(h.invoke(reconcileAll));
    expect(r?.outcome).toBe('refused');
    expect(r?.reasons).toEqual([expect.stringMatching(/^target-application: standby i-\w+ reports/)]);
    expect(h.ec2.mutations).toEqual([]);
  });

  it('a pair without an application check ignores the application status', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { appStatus: 'impaired' });
    expect((await results(h.invoke(reconcileAll)))[0]).toMatchObject({ outcome: 'unchanged', from: PRIMARY });
  });
});

describe('status of the whole fleet', () => {
  it('every pair: holder, both members, redundancy and the last move; changes nothing, pages nobody', async () => {
    const { h } = fleet(2);
    h.ec2.set(STANDBY, { state: 'stopped' });
    const at = Date.parse('2026-11-20T08:00:00.000Z');
    const lastMove = { at, from: STANDBY, to: PRIMARY, reason: 'fail-back', automatic: false, probe: false };
    await h.state.change('web-0', () => ({ lastMove }));
    const r = await results(h.invoke({ action: 'status' }));
    expect(r.map((x) => x.outcome)).toEqual(['status', 'status']);
    expect(r[0]?.state).toEqual({
      holder: 'primary',
      primary: 'running, status ok/ok/EBS ok, eu-west-1a',
      standby: 'stopped, status not-applicable/not-applicable/EBS not-applicable, eu-west-1a',
      // The in-memory EC2 gives no PrivateIpAddress unless a test sets one.
      addresses: { primary: null, standby: null, service: '10.0.1.23' },
      attached: true,
      serving: true,
      redundant: false,
      lastMove: { at: '2026-11-20T08:00:00.000Z', from: STANDBY, to: PRIMARY },
      members: { primary: PRIMARY, standby: STANDBY },
      events: { primary: [], standby: [] },
      plannedMove: null,
      automaticMoves: { lastHour: 0, limit: 3 },
      damping: null,
      lease: null,
      maintenance: null,
      forcedDetach: null,
      condemned: [],
      state: 'ok',
    });
    expect(r[1]?.state).toMatchObject({ holder: 'primary', redundant: true, lastMove: null });
    expect(h.ec2.mutations).toEqual([]);
    expect(h.published()).toEqual([]);
  });
});
