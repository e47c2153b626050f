// Issue 8: the failover as real EC2 treats it, item by item, through the real adapter, planner and
// executor over the in-memory EC2 (each behaviour cites its AWS source in ops/fake-ec2.ts).
import { DescribeNetworkInterfacesCommand, DetachNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { Result } from '../../lambda/result.ts';
import { BREADCRUMB } from '../../lambda/view.ts';
import { ec2Error, throttled } from '../../ops/fake-ec2.ts';
import { sample } from '../helpers/events.ts';
import { harness, outcome } from '../helpers/harness.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const stoppedEvent = sample('eventbridge-state-change');
const drill = { action: 'move', pair: 'web', to: 'standby' };

const checks = (r: Result) => r.reasons.map((x) => /^([a-z-]+): /.exec(x)?.[1]).filter(Boolean);

describe('1. transient errors during a move never abort it', () => {
  it.each([
    ['the settle polls after the detach', 'DescribeNetworkInterfaces', 6],
    ['the attach', 'AttachNetworkInterface', 4],
    ['the detach', 'DetachNetworkInterface', 4],
    ['keeping the attachment on termination', 'ModifyNetworkInterfaceAttribute', 4],
    ['the tag', 'CreateTags', 4],
  ])('a run of RequestLimitExceeded on %s (after the SDK gave up): moved', async (_what, action, times) => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    // The observation reads the ENI once; the run starts on the reads that follow it.
    h.ec2.fail(action, throttled(), times, action === 'DescribeNetworkInterfaces' ? 1 : 0);
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('moved');
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.ec2.attachment?.deleteOnTermination).toBe(false);
    expect((await h.state.read('web')).lastMove?.to).toBe(STANDBY);
  });

  it('a throttled read that never clears ends at the deadline, reported before the Lambda times out', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.fail('DescribeNetworkInterfaces', throttled(), Number.POSITIVE_INFINITY, 1);
    const started = h.clock.now();
    const r = await outcome(h.invoke(stoppedEvent, 30_000));
    expect(r.outcome).toBe('failed');
    expect(r.reasons[0]).toMatch(
      // The first read after the detach is the wait for it.
      /wait-detached failed: SettleTimeoutError: could not read .* RequestLimitExceeded/,
    );
    expect(h.clock.now() - started).toBeLessThanOrEqual(30_000 - 5_000);
    expect(h.published().at(-1)?.body.outcome).toBe('failed');
  });

  it('a permanent error on a read during the move ends it at once, saying so', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.fail('DescribeNetworkInterfaces', ec2Error('UnauthorizedOperation', 'not allowed'), 1, 1);
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('failed');
    expect(r.reasons[0]).toMatch(/wait-detached failed: UnauthorizedOperation: not allowed/);
  });
});

describe("2. a mutation's error is judged by re-reading EC2", () => {
  it('a detach EC2 carried out but whose answer was lost (the replay answers IncorrectState): moved', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.loseAnswer('DetachNetworkInterface');
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('moved');
    expect(h.ec2.calls).toContain('DetachNetworkInterface (replayed by the SDK)');
    expect(r.reasons).toContainEqual(
      expect.stringMatching(/^force-detach: EC2 answered IncorrectState.*shows the step done/),
    );
    expect(h.ec2.holder()).toBe(STANDBY);
  });

  it('a detach whose replay finds the attachment gone (InvalidAttachmentID.NotFound): moved', async () => {
    const h = harness({ settle: { detachMs: 0, attachMs: 1_000 } });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.loseAnswer('DetachNetworkInterface');
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('moved');
    expect(r.reasons).toContainEqual(expect.stringMatching(/EC2 answered InvalidAttachmentID.NotFound/));
  });

  it('an attach EC2 carried out but whose replay answers InvalidNetworkInterface.InUse: moved, kept, tagged', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.loseAnswer('AttachNetworkInterface');
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('moved');
    expect(r.reasons).toContainEqual(
      expect.stringMatching(/^attach: EC2 answered InvalidNetworkInterface.InUse/),
    );
    expect(h.ec2.attaches).toEqual([{ eni: PAIR.networkInterfaceId, instance: STANDBY }]);
    expect(h.ec2.attachment?.deleteOnTermination).toBe(false);
    // Damping reads this record: without it, the next failure would not be damped.
    expect((await h.state.read('web')).automaticMoves).toHaveLength(1);
    expect(h.ec2.tags[BREADCRUMB]).toMatch(/^2026-/);
  });

  it('an attach EC2 really refused is not taken for done: failed, reported where the ENI is', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.fail('AttachNetworkInterface', ec2Error('InvalidParameterValue', 'refused'), 1);
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('failed');
    expect(r.reasons[1]).toMatch(/attached to no one/);
    expect(h.ec2.holder()).toBeUndefined();
  });
});

describe('3. eventual consistency: the attachment the attach returned is followed', () => {
  it('reads just after the attach still show the old attachment on the primary: the move goes on', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.stale(2, 'AttachNetworkInterface', 'DetachNetworkInterface');
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('moved');
    expect(h.ec2.holder()).toBe(STANDBY);
  });
});

describe('4. large accounts', () => {
  it('an account where unpaginated filtered DescribeNetworkInterfaces fails: the ENI is asked for by ID', async () => {
    const h = harness();
    h.ec2.largeAccount = true;
    h.ec2.set(PRIMARY, { state: 'stopped' });
    expect(await outcome(h.invoke(stoppedEvent))).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(h.ec2.mock).toHaveReceivedCommandWith(DescribeNetworkInterfacesCommand, {
      NetworkInterfaceIds: [PAIR.networkInterfaceId],
    });
  });

  it('an ENI that no longer exists (InvalidNetworkInterfaceID.NotFound) is refused as eni-exists', async () => {
    const h = harness({ pairs: [{ ...PAIR, networkInterfaceId: 'eni-0bbbbbbbbbbbbbbb9' }] });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('refused');
    expect(checks(r)).toEqual(['eni-exists']);
    expect(h.ec2.mutations).toEqual([]);
  });

  it('DescribeInstances answering one instance a page: both members are seen', async () => {
    const h = harness();
    h.ec2.pageSize = 1;
    h.ec2.set(PRIMARY, { state: 'stopped' });
    expect(await outcome(h.invoke(stoppedEvent))).toMatchObject({ outcome: 'moved', to: STANDBY });
    // Two pages for the observation, one for the target's re-read before reporting.
    expect(h.ec2.calls.filter((c) => c === 'DescribeInstances')).toHaveLength(3);
  });
});

describe('5. network cards', () => {
  it('a standby with an EFA at card 1 / index 1 takes the ENI at card 0 / index 1', async () => {
    const h = harness();
    h.ec2.set(STANDBY, { type: 'p4d.24xlarge' });
    h.ec2.addEni('eni-0e0e0e0e0e0e0e0e1');
    h.ec2.place(STANDBY, 1, 'eni-0e0e0e0e0e0e0e0e1', 1);
    h.ec2.set(PRIMARY, { state: 'stopped' });
    expect(await outcome(h.invoke(stoppedEvent))).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
  });

  it('a standby whose card 0 is full is refused by card 0\u2019s own limit, before anything changes', async () => {
    const h = harness();
    // t3.micro: 2 interfaces on its one card; its root interface and this one fill it.
    h.ec2.addEni('eni-0e0e0e0e0e0e0e0e2');
    h.ec2.place(STANDBY, 2, 'eni-0e0e0e0e0e0e0e0e2');
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await outcome(h.invoke(stoppedEvent));
    expect(checks(r)).toEqual(['target-interface-limit']);
    expect(h.ec2.mutations).toEqual([]);
  });
});

describe('6. per-interface address limits', () => {
  it('an ENI with more addresses than the standby type allows per interface: refused before the detach', async () => {
    const h = harness();
    h.ec2.setEni(PAIR.networkInterfaceId, { ipv4: 2, ipv4Prefixes: 1 });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.outcome).toBe('refused');
    expect(checks(r)).toEqual(['target-address-limit']);
    expect(r.reasons[0]).toMatch(/carries 3 IPv4 addresses and prefixes; t3.micro .* allows 2 per interface/);
    expect(h.ec2.mutations).toEqual([]);
    expect(h.ec2.holder()).toBe(PRIMARY);
  });

  it('an IPv6 address and a standby type without IPv6: refused, named', async () => {
    const h = harness();
    h.ec2.set(STANDBY, { type: 't2.micro' });
    h.ec2.setEni(PAIR.networkInterfaceId, { ipv6: 1 });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.reasons[0]).toMatch(/^target-address-limit: .*does not support IPv6/);
    expect(h.ec2.mutations).toEqual([]);
  });
});

describe('7. a move that cannot finish puts the ENI back', () => {
  it('a drill whose attach EC2 refuses: the ENI goes back to the healthy primary, and the result says so', async () => {
    const h = harness();
    h.ec2.fail('AttachNetworkInterface', ec2Error('InvalidParameterValue', 'refused by EC2'), 1);
    const r = await outcome(h.invoke(drill));
    expect(r.outcome).toBe('failed');
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.ec2.attachment?.deleteOnTermination).toBe(false);
    expect(r.reasons[0]).toMatch(
      /^attach failed: PutBackError: InvalidParameterValue: refused by EC2; the ENI was put back on i-0123/,
    );
    expect(r.reasons[1]).toMatch(/attached to primary i-0123456789abcdef0 \(attached\)/);
    expect(r.steps.map((s) => s.name)).toContain('put-back');
    expect(r.reasons.join(' ')).not.toMatch(/retry/);
  });

  it('a drill whose put-back fails too: the truth, with no promise that anything will retry', async () => {
    const h = harness();
    h.ec2.fail('AttachNetworkInterface', ec2Error('InvalidParameterValue', 'refused by EC2'), 2);
    const r = await outcome(h.invoke(drill));
    expect(r.outcome).toBe('failed');
    expect(h.ec2.holder()).toBeUndefined();
    expect(r.reasons[0]).toMatch(/putting it back on i-0123456789abcdef0 failed too/);
    expect(r.reasons[1]).toMatch(/attached to no one .*nothing retries a manual invocation: move it again/);
  });

  it('an automatic move off a failed holder does not put the ENI back on it', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.fail('AttachNetworkInterface', ec2Error('InvalidParameterValue', 'refused'), 1);
    const r = await outcome(h.invoke(stoppedEvent));
    expect(r.steps.map((s) => s.name)).not.toContain('put-back');
    expect(h.ec2.attaches).toEqual([]);
  });
});

describe('8. after Force', () => {
  it('the instance force-detached from is refused as a target until it has been stopped and started', async () => {
    const h = harness({ pairs: [{ ...PAIR, cooldownSeconds: 0 }] });
    h.ec2.set(PRIMARY, { systemStatus: 'impaired' });
    expect(await outcome(h.invoke(sample('sns-alarm')))).toMatchObject({ outcome: 'moved', to: STANDBY });
    h.ec2.set(PRIMARY, { systemStatus: 'ok' });

    const back = await outcome(h.invoke({ action: 'move', pair: 'web', to: 'primary' }));
    expect(back.outcome).toBe('refused');
    expect(checks(back)).toEqual(['target-forced-detach']);
    expect(h.ec2.holder()).toBe(STANDBY);

    h.clock.tick(60_000);
    h.ec2.set(PRIMARY, { launchTime: new Date(h.clock.now()) });
    expect(await outcome(h.invoke({ action: 'move', pair: 'web', to: 'primary' }))).toMatchObject({
      outcome: 'moved',
      to: PRIMARY,
    });
  });
});

describe('10. attached-EBS status', () => {
  it('a holder whose attached EBS status is impaired has failed: moved, without Force (it still answers), nothing recorded', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { ebsStatus: 'impaired' });
    const r = await outcome(h.invoke(sample('sns-alarm')));
    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(r.reasons[0]).toMatch(/attached EBS status check is impaired/);
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: false });
    expect(h.ec2.mock).not.toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: true });
    expect((await h.state.read('web')).forcedDetach).toBeUndefined();
  });
});

describe('11. EC2 is the lock across containers', () => {
  it('the same failure delivered to 5 containers at once: one attach, the ENI on the standby, nothing failed', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const containers = Array.from({ length: 5 }, () => h.container());
    const results = await Promise.all(containers.map((invoke) => outcome(invoke(stoppedEvent))));
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.ec2.attaches).toEqual([{ eni: PAIR.networkInterfaceId, instance: STANDBY }]);
    expect(results.map((r) => r.outcome)).not.toContain('failed');
    expect(results.filter((r) => r.outcome === 'moved').length).toBeGreaterThanOrEqual(1);
    expect(h.ec2.attachment?.deleteOnTermination).toBe(false);
  });
});

describe('review: what real EC2 does on a bad day, continued', () => {
  const checked = { ...PAIR, applicationCheck: { protocol: 'http' as const, port: 8080 } };

  it('a detach without Force that hangs (the OS stopped answering) is forced once the instance has failed', async () => {
    const h = harness({ pairs: [checked] });
    h.ec2.set(PRIMARY, { appStatus: 'impaired' });
    h.ec2.set(STANDBY, { appStatus: 'ok' });
    h.ec2.hungDetach = true;
    const first = await outcome(h.invoke({ action: 'reconcile' }, 20_000));
    expect(first.outcome).toBe('failed');
    expect(first.reasons[1]).toMatch(/still detaching from primary .*forcing it if that instance has failed/);
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: false });
    // Minutes later EC2 sees the instance itself impaired: the next round forces the hung detach.
    h.ec2.set(PRIMARY, { instanceStatus: 'impaired' });
    const next = await outcome(h.invoke({ action: 'reconcile' }));
    expect(next).toMatchObject({ outcome: 'moved', from: null, to: STANDBY });
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: true });
    expect(h.ec2.holder()).toBe(STANDBY);
  });

  it('a drill whose detach answer was lost, judged against a stale read, still moves', async () => {
    const h = harness();
    h.ec2.loseAnswer('DetachNetworkInterface');
    h.ec2.stale(2, 'DetachNetworkInterface', 'DetachNetworkInterface');
    const r = await outcome(h.invoke(drill));
    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
  });

  it('an application-only move whose attach fails puts the ENI back on the holder, which runs (docs/contract.md)', async () => {
    const h = harness({ pairs: [checked] });
    h.ec2.set(PRIMARY, { appStatus: 'impaired' });
    h.ec2.set(STANDBY, { appStatus: 'ok' });
    h.ec2.fail('AttachNetworkInterface', ec2Error('InvalidParameterValue', 'refused'), 1);
    const r = await outcome(h.invoke(sample('sns-alarm')));
    expect(r.outcome).toBe('failed');
    expect(r.steps.map((s) => s.name)).toContain('put-back');
    expect(r.reasons[0]).toMatch(/the ENI was put back on i-\w+, which serves the address again/);
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.ec2.attaches).toEqual([{ eni: PAIR.networkInterfaceId, instance: PRIMARY }]);
  });

  it('a drill rehearses the last steps too: no permission to tag is refused before anything moves', async () => {
    const h = harness();
    h.ec2.fail(
      'CreateTags',
      ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
    );
    const r = await outcome(h.invoke(sample('manual-drill')));
    expect(r.outcome).toBe('refused');
    expect(r.reasons).toEqual([
      expect.stringMatching(/^permission: the function may not call CreateTags here/),
    ]);
    expect(h.ec2.mutations).toEqual([]);
  });
});
