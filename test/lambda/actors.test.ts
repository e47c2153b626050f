// Issue 14: one address, many actors. Each finding of the issue, reproduced through the handler over
// the in-memory EC2 (ops/fake-ec2.ts), with what an operator sees: where the ENI is, which calls were
// made (Force or not), every invocation's outcome, and the pages sent.
import { AttachNetworkInterfaceCommand, DetachNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { Result } from '../../lambda/result.ts';
import { throttled } from '../../ops/fake-ec2.ts';
import { sample } from '../helpers/events.ts';
import { fleet, type Harness, harness, results } from '../helpers/harness.ts';
import { localState, tableThrottled, withFaults } from '../helpers/state.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const stateChange = (id: string, state = 'stopped') => ({
  ...sample('eventbridge-state-change'),
  detail: { 'instance-id': id, state },
});
const alarmOn = (id: string) => sample('sns-alarm', { [PRIMARY]: id });
const reconcile = { action: 'reconcile' };
const failBack = { action: 'move', pair: 'web', to: 'primary' };

const one = async (promise: Promise<unknown>) => (await results(promise))[0] as Result;
const checks = (r: Result) => r.reasons.map((x) => /^([a-z-]+): /.exec(x)?.[1]).filter(Boolean);
const subjects = (h: Harness) => h.published().map((p) => p.subject);
const forced = (h: Harness) =>
  h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand).map((c) => c.args[0].input.Force);
/** The pair's lease, once every invocation has ended: none. */
const lease = async (h: Harness) => (await h.state.read('web')).lease;
const automaticMoves = async (h: Harness) => (await h.state.read('web')).automaticMoves;

describe('damping never keeps the address on a dead holder', () => {
  it('a fail-back drill, then the primary stops a minute later: moved to the standby at once', async () => {
    const h = harness();
    h.ec2.place(STANDBY);
    expect(await one(h.invoke(failBack))).toMatchObject({ outcome: 'moved', to: PRIMARY });
    h.clock.tick(60_000);
    h.ec2.set(PRIMARY, { state: 'stopped' });

    const r = await one(h.invoke(stateChange(PRIMARY)));

    expect(r).toMatchObject({ outcome: 'moved', from: PRIMARY, to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(subjects(h).at(-1)).toMatch(/^eni-failover web: MOVED \(FORCED\) to /);
  });

  it('a manual move or adopting a stranded ENI arms no cool-down: an impaired holder a minute later is left', async () => {
    const h = harness();
    expect(await one(h.invoke({ action: 'move', pair: 'web', to: 'standby' }))).toMatchObject({
      outcome: 'moved',
    });
    h.clock.tick(60_000);
    h.ec2.set(STANDBY, { instanceStatus: 'impaired' });
    expect(await one(h.invoke(alarmOn(STANDBY)))).toMatchObject({ outcome: 'moved', to: PRIMARY });
    // That automatic move is counted; adopting is not.
    expect(await automaticMoves(h)).toHaveLength(1);
    h.ec2.unplace();
    expect(await one(h.invoke(reconcile))).toMatchObject({ outcome: 'moved', from: null });
    expect(await automaticMoves(h)).toHaveLength(1);
  });

  it('the flap limit: the 4th automatic move in an hour off a holder that still runs is refused as flapping, paged once', async () => {
    const h = harness();
    const flap = async (from: string) => {
      h.ec2.set(from, { systemStatus: 'impaired' });
      const r = await one(h.invoke(alarmOn(from)));
      h.ec2.set(from, { systemStatus: 'ok', launchTime: new Date(h.clock.now()) });
      h.clock.tick(301_000);
      return r;
    };
    expect((await flap(PRIMARY)).outcome).toBe('moved');
    expect((await flap(STANDBY)).outcome).toBe('moved');
    expect((await flap(PRIMARY)).outcome).toBe('moved');
    h.ec2.set(STANDBY, { systemStatus: 'impaired' });
    const pagesBefore = h.published().length;

    const refused = await one(h.invoke(alarmOn(STANDBY)));
    const round = await one(h.invoke(reconcile));
    const again = await one(h.invoke(alarmOn(STANDBY)));

    expect([refused, round, again].map((r) => r.outcome)).toEqual(['refused', 'refused', 'refused']);
    expect(checks(refused)).toEqual(['flapping']);
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(subjects(h).slice(pagesBefore)).toEqual(['eni-failover web: REFUSED: flapping']);
    // A dead holder is still left at once.
    h.ec2.set(STANDBY, { state: 'stopped' });
    expect(await one(h.invoke(stateChange(STANDBY)))).toMatchObject({ outcome: 'moved', to: PRIMARY });
  });
});

describe('reads read through', () => {
  it('the first read of an alarm, throttled past the SDK’s own retries, is asked again: moved', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.fail('DescribeNetworkInterfaces', throttled(), 3);
    expect(await one(h.invoke(stateChange(PRIMARY)))).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(subjects(h)).toEqual([expect.stringMatching(/^eni-failover web: MOVED \(FORCED\) to /)]);
  });

  it('a fleet round whose batched read fails falls back to per-pair reads: every pair decided, one page a pair', async () => {
    const { h, pairs } = fleet(3);
    for (const p of pairs) h.ec2.set(p.primaryInstanceId, { state: 'stopped' });
    // The batched read fails for good (after the SDK's retries); each pair's own read is throttled once more.
    h.ec2.fail('DescribeInstances', throttled(), 4);

    const r = await results(h.invoke(reconcile));

    expect(r.map((x) => x.outcome)).toEqual(['moved', 'moved', 'moved']);
    for (const p of pairs) expect(h.ec2.holder(p.networkInterfaceId)).toBe(p.standbyInstanceId);
    expect(
      h
        .published()
        .map((p) => p.body.pair)
        .sort(),
    ).toEqual(['web-0', 'web-1', 'web-2']);
  });

  it('a terminated member whose ID EC2 refuses in DescribeInstanceStatus does not fail the observation', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'terminated' });
    expect(await one(h.invoke(reconcile))).toMatchObject({ outcome: 'moved', to: STANDBY });
    // And one that EC2 still lists as shutting down but already refuses by ID.
    const g = harness();
    g.ec2.set(PRIMARY, { state: 'shutting-down' });
    g.ec2.refusedInStatus.add(PRIMARY);
    expect(await one(g.invoke(reconcile))).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(g.ec2.calls.filter((c) => c === 'DescribeInstanceStatus').length).toBeGreaterThan(1);
  });
});

describe('Force by need', () => {
  it('a live holder with only its attached-EBS check impaired: detached without Force; the fail-back is not refused', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { ebsStatus: 'impaired' });
    expect(await one(h.invoke(alarmOn(PRIMARY)))).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(forced(h)).toEqual([false]);
    expect((await h.state.read('web')).forcedDetach).toBeUndefined();
    h.ec2.set(PRIMARY, { ebsStatus: 'ok' });
    expect(await one(h.invoke(failBack))).toMatchObject({ outcome: 'moved', to: PRIMARY });
  });

  it('a detach without Force that hangs (the OS does not let go) is forced after 20 s, and recorded', async () => {
    const h = harness();
    h.ec2.hungDetach = true;
    h.ec2.set(PRIMARY, { ebsStatus: 'impaired' });
    const start = h.clock.now();

    const r = await one(h.invoke(alarmOn(PRIMARY)));

    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(forced(h)).toEqual([false, true]);
    expect(r.reasons.join('\n')).toMatch(/had not finished after 20 s: forced/);
    expect(h.clock.now() - start).toBeGreaterThanOrEqual(20_000);
    expect((await h.state.read('web')).forcedDetach?.instanceId).toBe(PRIMARY);
    // Every page about a forced move says so, an escalated one too.
    expect(subjects(h)).toEqual([expect.stringMatching(/^eni-failover web: MOVED \(FORCED\) to /)]);
  });

  it('the forced-detach record survives throttling: retried until it is written', async () => {
    const state = withFaults(localState());
    const h = harness({ state });
    h.ec2.set(PRIMARY, { systemStatus: 'impaired' });
    // The table throttles the record three times (after the SDK's own retries).
    h.ec2.when('DetachNetworkInterface', 'after', async () => state.fail('change', tableThrottled, 3));
    expect(await one(h.invoke(alarmOn(PRIMARY)))).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(forced(h)).toEqual([true]);
    expect((await h.state.read('web')).forcedDetach?.instanceId).toBe(PRIMARY);
  });
});

describe('a move keeps its promises at the end', () => {
  it('a drill whose attach is throttled to the deadline still has time to put the ENI back', async () => {
    const h = harness();
    h.ec2.mock.on(AttachNetworkInterfaceCommand, { InstanceId: STANDBY }).rejects(throttled());
    const start = h.clock.now();

    const r = await one(h.invoke({ action: 'move', pair: 'web', to: 'standby' }, 60_000));

    expect(r.outcome).toBe('failed');
    expect(r.reasons[0]).toMatch(/the ENI was put back on .*, which serves the address again/);
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.clock.now() - start).toBeLessThanOrEqual(60_000);
  });

  it('a standby that stops while the ENI is moved onto it: not reported moved, but failed, saying where the ENI is', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.when('AttachNetworkInterface', 'after', async () => h.ec2.set(STANDBY, { state: 'stopping' }));

    const r = await one(h.invoke(stateChange(PRIMARY)));

    expect(r.outcome).toBe('failed');
    expect(r.reasons[0]).toMatch(/verify-target failed: .* is stopping now, not running/);
    expect(subjects(h)).toEqual([expect.stringMatching(/^eni-failover web: FAILED mid-failover/)]);
    expect(await lease(h)).toBeUndefined();
  });
});

describe('one address, many actors', () => {
  it('5 concurrent deliveries for one stopped primary, each in its own container, answers lost and replayed: one moved, one page', async () => {
    const h = harness();
    h.ec2.withLatency(1, 15, 7);
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.loseAnswer('DetachNetworkInterface');
    h.ec2.loseAnswer('AttachNetworkInterface');
    const events = [
      alarmOn(PRIMARY),
      stateChange(PRIMARY),
      reconcile,
      stateChange(PRIMARY, 'stopping'),
      alarmOn(PRIMARY),
    ];

    const r = await Promise.all(events.map((e) => one(h.container()(e))));

    expect(r.map((x) => x.outcome).sort()).toEqual([
      'moved',
      'unchanged',
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.ec2.attaches).toEqual([{ eni: PAIR.networkInterfaceId, instance: STANDBY }]);
    expect(subjects(h)).toEqual([expect.stringMatching(/^eni-failover web: MOVED \(FORCED\) to /)]);
    expect(await lease(h)).toBeUndefined();
  });

  it.each([
    ['before the detach', 'DetachNetworkInterface', 'before'],
    ['detaching', 'DetachNetworkInterface', 'after'],
    ['available', 'AttachNetworkInterface', 'before'],
    ['attaching', 'AttachNetworkInterface', 'after'],
  ] as const)(
    'a reconcile round racing a fail-back drill %s: one move, one page, the drill succeeds',
    async (_phase, action, phase) => {
      const h = harness();
      h.ec2.place(STANDBY);
      const round = h.container();
      let roundResult: Result | undefined;
      h.ec2.when(action, phase, async () => {
        roundResult = await one(round(reconcile));
      });

      const drill = await one(h.invoke(failBack));

      expect(drill).toMatchObject({ outcome: 'moved', to: PRIMARY });
      expect(roundResult).toMatchObject({ outcome: 'unchanged' });
      expect(h.ec2.holder()).toBe(PRIMARY);
      expect(h.ec2.attaches).toEqual([{ eni: PAIR.networkInterfaceId, instance: PRIMARY }]);
      expect(subjects(h)).toEqual([expect.stringMatching(/^eni-failover web: MOVED to /)]);
    },
  );

  it('a lease left by an invocation that died is taken over once expired', async () => {
    const h = harness();
    const now = h.clock.now();
    await h.state.takeLease(
      'web',
      {
        owner: 'dead0001',
        target: STANDBY,
        takenAt: now - 61_000,
        until: now - 1_000,
      },
      0,
    );
    h.ec2.set(PRIMARY, { state: 'stopped' });
    expect(await one(h.invoke(stateChange(PRIMARY)))).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(await lease(h)).toBeUndefined();
  });

  it("status shows another invocation's live lease, the damping and the automatic moves", async () => {
    const h = harness();
    const now = h.clock.now();
    await h.state.takeLease(
      'web',
      { owner: 'b0b0b0b0', target: STANDBY, takenAt: now, until: now + 30_000 },
      0,
    );
    await h.state.change('web', () => ({ automaticMoves: [now - 60_000] }));
    const r = await one(h.invoke({ action: 'status', pair: 'web' }));
    expect(r.state).toMatchObject({
      automaticMoves: { lastHour: 1, limit: 3 },
      damping: `cooldown until ${new Date(now + 240_000).toISOString()}`,
      lease: { owner: 'b0b0b0b0', to: STANDBY, until: new Date(now + 30_000).toISOString() },
      state: 'ok',
    });
  });
});
