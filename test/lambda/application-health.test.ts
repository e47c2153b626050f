// Issue 14, item 5: application health per check. A pair that names its EC2 application status check
// (applicationCheckId) is judged by that check's own result from DescribeApplicationStatus, through the
// real adapter, planner and executor over the in-memory EC2.
import {
  DescribeApplicationStatusCommand,
  DetachNetworkInterfaceCommand,
  EnableApplicationStatusCheckSuppressionCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import type { Result } from '../../lambda/result.ts';
import { ec2Error, throttled } from '../../ops/fake-ec2.ts';
import { alarmMessage, sample, snsAlarm } from '../helpers/events.ts';
import { type Harness, harness, outcome } from '../helpers/harness.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

/** The pair's own check, and another team's check on the same instances. */
const OWN = 'asc-0aaaaaaaaaaaaaaa1';
const THEIRS = 'asc-0bbbbbbbbbbbbbbb2';
const named: Pair = { ...PAIR, applicationCheckId: OWN };
const reconcile = { action: 'reconcile' };
const appAlarm = snsAlarm([
  alarmMessage({
    AlarmName: 'web-primary-application',
    Trigger: { ...(alarmMessage().Trigger as object), MetricName: 'StatusCheckFailed_Application' },
  }),
]);

/** Both members with the pair's own check passing; then each test changes one thing. */
function checked(pairs: Pair[] = [named]): Harness {
  const h = harness({ pairs });
  h.ec2.set(PRIMARY, { appChecks: { [OWN]: { status: 'passed' } } });
  h.ec2.set(STANDBY, { appChecks: { [OWN]: { status: 'passed' } } });
  return h;
}

describe('application health is the pair’s own check, never the instance aggregate', () => {
  it("another team's check failing on the holder moves nothing, though the instance aggregate reads impaired", async () => {
    const h = checked();
    h.ec2.set(PRIMARY, {
      appChecks: { [OWN]: { status: 'passed' }, [THEIRS]: { status: 'failed', reason: 'ConnectionTimeout' } },
      appStatus: 'impaired',
    });
    const r = await outcome(h.invoke(appAlarm));
    expect(r).toMatchObject({ outcome: 'unchanged', from: PRIMARY });
    expect(r.reasons[0]).toMatch(/reads healthy now \(.*application check asc-0aaaaaaaaaaaaaaa1 passed/);
    expect((await outcome(h.invoke(reconcile))).outcome).toBe('unchanged');
    expect(h.ec2.mutations).toEqual([]);
    expect(h.ec2.holder()).toBe(PRIMARY);
  });

  it("the pair's own check failing on a holder that runs moves the ENI, without Force, and pages MOVED once", async () => {
    const h = checked();
    h.ec2.set(PRIMARY, { appChecks: { [OWN]: { status: 'failed', reason: 'ResponseCodeMismatch' } } });
    const r = await outcome(h.invoke(appAlarm));
    expect(r).toMatchObject({ outcome: 'moved', from: PRIMARY, to: STANDBY });
    expect(r.reasons[0]).toMatch(
      /primary i-\w+ holds the ENI and has failed: its application check asc-0aaaaaaaaaaaaaaa1 failed \(ResponseCodeMismatch\)/,
    );
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: false });
    expect(h.ec2.mock).not.toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: true });
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.published().map((p) => p.subject)).toEqual([expect.stringMatching(/: MOVED to i-\w+ in /)]);
  });

  it.each<[string, Partial<Parameters<Harness['ec2']['set']>[1]>, RegExp]>([
    ['initializing', { appChecks: { [OWN]: { status: 'initializing' } } }, /initializing/],
    ['insufficient-data', { appChecks: { [OWN]: { status: 'insufficient-data' } } }, /insufficient-data/],
    ['not-applicable', { appChecks: { [OWN]: { status: 'not-applicable' } } }, /not-applicable/],
    ['without a result for the check (not associated)', { appChecks: {} }, /has no result for it/],
    [
      'passing, but with its reporting suppressed (a deploy)',
      { suppressed: { resumeAt: undefined } },
      /passed and its reporting is suppressed/,
    ],
  ])(
    'an application-only move to a standby whose own check is %s is refused target-application; nothing moves',
    async (_name, standby, detail) => {
      const h = checked();
      h.ec2.set(PRIMARY, { appChecks: { [OWN]: { status: 'failed' } } });
      h.ec2.set(STANDBY, standby);
      const r = await outcome(h.invoke(reconcile));
      expect(r).toMatchObject({ outcome: 'refused', from: PRIMARY, to: STANDBY });
      expect(r.reasons).toEqual([
        expect.stringMatching(/^target-application: standby i-\w+ must pass its own application check/),
      ]);
      expect(r.reasons[0]).toMatch(detail);
      expect(h.ec2.mutations).toEqual([]);
      expect(h.ec2.holder()).toBe(PRIMARY);
    },
  );

  it('a standby whose own check failed is refused as a target for any move, by name', async () => {
    const h = checked();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.set(STANDBY, { appChecks: { [OWN]: { status: 'failed' } } });
    const r = await outcome(h.invoke(reconcile));
    expect(r.outcome).toBe('refused');
    expect(r.reasons).toEqual([
      expect.stringMatching(/^target-application: standby i-\w+ fails its application check asc-\w+ failed/),
    ]);
    expect(h.ec2.mutations).toEqual([]);
  });

  it('a holder that has stopped is left for a standby whose check is still initializing: better than a dead holder', async () => {
    const h = checked();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.set(STANDBY, { appChecks: { [OWN]: { status: 'initializing' } } });
    const r = await outcome(h.invoke(reconcile));
    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: true });
  });

  it('an application-only move whose attach fails puts the ENI back on the holder, which runs', async () => {
    const h = checked();
    h.ec2.set(PRIMARY, { appChecks: { [OWN]: { status: 'failed' } } });
    h.ec2.fail('AttachNetworkInterface', ec2Error('InvalidParameterValue', 'refused by EC2'), 1);
    const r = await outcome(h.invoke(appAlarm));
    expect(r.outcome).toBe('failed');
    expect(r.steps.map((s) => s.name)).toEqual(expect.arrayContaining(['detach', 'attach', 'put-back']));
    expect(r.reasons[0]).toMatch(
      /refused by EC2; the ENI was put back on i-\w+, which serves the address again/,
    );
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.ec2.attaches).toEqual([{ eni: PAIR.networkInterfaceId, instance: PRIMARY }]);
  });

  it("status shows each member's own check and its suppression", async () => {
    const h = checked();
    await h.ec2.client.send(new EnableApplicationStatusCheckSuppressionCommand({ InstanceIds: [STANDBY] }));
    const r = await outcome(h.invoke({ action: 'status', pair: 'web' }));
    expect(r.state?.primary).toMatch(/application check asc-0aaaaaaaaaaaaaaa1 passed, /);
    expect(r.state?.standby).toMatch(/application check asc-0aaaaaaaaaaaaaaa1 passed \(suppressed\), /);
  });
});

describe('DescribeApplicationStatus that cannot be read: state and status checks still decide', () => {
  const denied = () => ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.');

  it('a stopped holder is moved off (MOVED, not FAILED), and the result says once why the checks are unknown', async () => {
    const h = checked();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.fail('DescribeApplicationStatus', denied(), Infinity);
    const r = await outcome(h.invoke(reconcile));
    expect(r).toMatchObject({ outcome: 'moved', from: PRIMARY, to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: true });
    expect(r.reasons.filter((x) => /UnauthorizedOperation/.test(x))).toEqual([
      expect.stringMatching(
        /^application checks could not be read \(DescribeApplicationStatus: UnauthorizedOperation/,
      ),
    ]);
    expect(h.published().map((p) => p.subject)).toEqual([
      expect.stringMatching(/: MOVED \(FORCED\) to i-\w+ in /),
    ]);
  });

  it('a planned move to a standby whose own check cannot be read is refused, naming the error', async () => {
    const h = checked();
    h.ec2.fail('DescribeApplicationStatus', denied(), Infinity);
    // A Spot warning about the healthy primary: a planned move, which needs the standby's own check passed.
    const r = await outcome(h.invoke(sample('eventbridge-spot-interruption')));
    expect(r.outcome).toBe('refused');
    expect(r.reasons).toContainEqual(
      expect.stringMatching(/^target-application: standby i-\w+ .*could not be read \(UnauthorizedOperation/),
    );
    expect(h.ec2.mutations).toEqual([]);
    expect(h.ec2.holder()).toBe(PRIMARY);
  });

  it('a throttled DescribeApplicationStatus is read through: the check decides', async () => {
    const h = checked();
    h.ec2.set(PRIMARY, { appChecks: { [OWN]: { status: 'failed' } } });
    h.ec2.fail('DescribeApplicationStatus', throttled(), 2);
    const r = await outcome(h.invoke(appAlarm));
    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(r.reasons.join('\n')).not.toMatch(/could not be read/);
  });
});

describe('DescribeApplicationStatus is read once per round, for every pair that names a check', () => {
  /** n pairs naming the same check, each its own ENI on its own primary. */
  function fleet(n: number): Harness {
    const pairs: Pair[] = Array.from({ length: n }, (_, i) =>
      i === 0
        ? { ...named, name: 'web-0' }
        : {
            name: `web-${i}`,
            networkInterfaceId: `eni-0${String(i).padStart(16, 'd')}`,
            primaryInstanceId: `i-0${String(i).padStart(16, 'e')}`,
            standbyInstanceId: `i-0${String(i).padStart(16, 'f')}`,
            deviceIndex: 1,
            applicationCheckId: OWN,
          },
    );
    const h = checked(pairs);
    for (const p of pairs.slice(1)) {
      h.ec2.addEni(p.networkInterfaceId);
      for (const id of [p.primaryInstanceId, p.standbyInstanceId])
        h.ec2.addInstance({ id, appChecks: { [OWN]: { status: 'passed' } } });
      h.ec2.place(p.primaryInstanceId, 1, p.networkInterfaceId);
    }
    return h;
  }

  it('a round of 3 pairs asks once for all 6 members, following NextToken across pages', async () => {
    const h = fleet(3);
    h.ec2.appStatusPageSize = 4;
    const r = (await h.invoke(reconcile)) as Result[];
    expect(r.map((x) => x.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    const calls = h.ec2.mock.commandCalls(DescribeApplicationStatusCommand).map((c) => c.args[0].input);
    // One request, in two pages: the same six instances, the second page by the first's token.
    expect(calls).toHaveLength(2);
    expect(new Set(calls.map((c) => [...(c.InstanceIds ?? [])].sort().join()))).toHaveProperty('size', 1);
    expect(calls[0]?.InstanceIds).toHaveLength(6);
    expect(calls.map((c) => c.NextToken)).toEqual([undefined, '4']);
  });

  it('a pair that names no check costs no DescribeApplicationStatus call', async () => {
    const h = harness();
    await h.invoke(reconcile);
    expect(h.ec2.calls).not.toContain('DescribeApplicationStatus');
  });
});
