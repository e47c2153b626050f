import {
  AttachNetworkInterfaceCommand,
  DetachNetworkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { PublishCommand } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { FailoverError } from '../../lambda/failover.ts';
import { BREADCRUMB } from '../../lambda/view.ts';
import { ec2Error } from '../../ops/fake-ec2.ts';
import { alarmMessage, sample, snsAlarm } from '../helpers/events.ts';
import { harness, TOPIC } from '../helpers/harness.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

/** A move on EC2: detach, attach, keep, and the breadcrumb tag (the lease and the records are the state table's). */
const MUTATING = [
  'DetachNetworkInterface',
  'AttachNetworkInterface',
  'CreateTags',
  'ModifyNetworkInterfaceAttribute',
];
/** The detach, then the attach, in that order; the tail (keep, breadcrumb) runs side by side, in any order. */
const inOrder = (m: readonly string[]) => [...m.slice(0, 2), ...m.slice(2).sort()];
const stoppedEvent = sample('eventbridge-state-change');
const alarmEvent = sample('sns-alarm');

async function failure(promise: Promise<unknown>): Promise<FailoverError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FailoverError);
  return error as FailoverError;
}

describe('failover: a failed holder', () => {
  it('impaired primary (running, system status impaired): force-detach, attach at the index, keep, tag, notify', async () => {
    // Prepare
    const h = harness();
    h.ec2.set(PRIMARY, { systemStatus: 'impaired' });
    // Act
    const results = (await h.invoke(alarmEvent)) as Record<string, unknown>[];
    // Assess
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      outcome: 'moved',
      pair: 'web',
      from: PRIMARY,
      to: STANDBY,
      deviceIndex: 1,
    });
    expect(inOrder(h.ec2.mutations)).toEqual(MUTATING);
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, {
      AttachmentId: 'eni-attach-1',
      Force: true,
    });
    const record = await h.state.read('web');
    expect(record.forcedDetach).toEqual({ instanceId: PRIMARY, at: expect.any(Number) });
    expect(h.ec2.mock).toHaveReceivedCommandWith(AttachNetworkInterfaceCommand, {
      NetworkInterfaceId: PAIR.networkInterfaceId,
      InstanceId: STANDBY,
      DeviceIndex: 1,
      NetworkCardIndex: 0,
    });
    expect(h.ec2.mock).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: PAIR.networkInterfaceId,
      Attachment: { AttachmentId: 'eni-attach-2', DeleteOnTermination: false },
    });
    expect(h.ec2.attachment?.deleteOnTermination).toBe(false);
    // One breadcrumb on the ENI, for a person; the move itself is recorded in the pair's state.
    expect(Object.keys(h.ec2.tags)).toEqual([BREADCRUMB]);
    expect(h.ec2.tags[BREADCRUMB]).toMatch(
      /^2026-\S+ i-0123456789abcdef0 -> i-0fedcba9876543210: .*system status check is impaired/,
    );
    expect(record.lastMove).toMatchObject({ from: PRIMARY, to: STANDBY, automatic: true, probe: false });
    expect(record.automaticMoves).toHaveLength(1);
    const steps = (results[0]?.steps as { name: string }[] | undefined)?.map((s) => s.name);
    // The critical path in order; the records and the tail run beside it, finishing when they finish.
    expect(
      steps?.filter(
        (n) => !['record-forced-detach', 'keep-on-termination', 'breadcrumb', 'verify-target'].includes(n),
      ),
    ).toEqual([
      'observe',
      'lease',
      'force-detach',
      'wait-detached',
      'attach',
      'wait-attached',
      'record-move',
    ]);
    expect(steps).toEqual(
      expect.arrayContaining(['record-forced-detach', 'keep-on-termination', 'breadcrumb', 'verify-target']),
    );
    // The lease is released once the move ends.
    expect(record.lease).toBeUndefined();
    // Subscribers can filter on the outcome and the pair.
    expect(h.sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC,
      MessageAttributes: {
        outcome: { DataType: 'String', StringValue: 'moved' },
        pair: { DataType: 'String', StringValue: 'web' },
      },
    });
    const [note] = h.published();
    // A forced move says so on the phone.
    expect(note?.subject).toMatch(/^eni-failover web: MOVED \(FORCED\) to i-0fedcba9876543210 in \d+\.\d s$/);
    expect(note?.body).toEqual(results[0]);
  });

  it("settles fast: the attach is seen within a tenth of its settle time, not the waiter's 20 s", async () => {
    const h = harness({ settle: { detachMs: 2_000, attachMs: 5_000 } });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = (await h.invoke(stoppedEvent)) as { steps: { name: string; ms: number }[] };
    const ms = (name: string) => r.steps.find((s) => s.name === name)?.ms ?? Number.NaN;
    expect(ms('wait-detached')).toBeGreaterThanOrEqual(2_000);
    expect(ms('wait-detached')).toBeLessThanOrEqual(2_200);
    expect(ms('wait-attached')).toBeGreaterThanOrEqual(5_000);
    expect(ms('wait-attached')).toBeLessThanOrEqual(5_500);
  });

  it('a duplicate of the same event, delivered after the move, changes nothing', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    await h.invoke(stoppedEvent);
    const mutationsAfterFirst = h.ec2.mutations.length;
    const again = await h.invoke(stoppedEvent);
    expect(again).toMatchObject({ outcome: 'unchanged', from: STANDBY });
    expect(h.ec2.mutations).toHaveLength(mutationsAfterFirst);
  });

  it('an SNS event carrying the same alarm twice ends in one move', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const results = (await h.invoke(snsAlarm([alarmMessage(), alarmMessage()]))) as { outcome: string }[];
    expect(results.map((r) => r.outcome)).toEqual(['moved', 'unchanged']);
    expect(h.ec2.calls.filter((c) => c === 'AttachNetworkInterface')).toHaveLength(1);
    expect(h.published().map((p) => p.body.outcome)).toEqual(['moved', 'unchanged']);
  });
});

describe('failover: flap damping', () => {
  const standbyAlarm = sample('sns-alarm', { [PRIMARY]: STANDBY });

  it('the standby, still running, fails its system check a minute after taking over: refused (cooldown), notified, nothing touched; later it moves', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    expect(await h.invoke(stoppedEvent)).toMatchObject({ outcome: 'moved', to: STANDBY });
    // Started again after the forced detach: it may take the ENI back (target-forced-detach).
    h.clock.tick(30_000);
    h.ec2.set(PRIMARY, { state: 'running', launchTime: new Date(h.clock.now()) });
    h.clock.tick(30_000);
    h.ec2.set(STANDBY, { systemStatus: 'impaired' });
    const before = h.ec2.mutations.length;

    const r = (await h.invoke(standbyAlarm)) as Record<string, unknown>[];

    expect(r[0]?.outcome).toBe('refused');
    expect((r[0]?.reasons as string[] | undefined)?.[0]).toMatch(
      /^cooldown: the last automatic move was 6\d s ago/,
    );
    expect(h.ec2.mutations).toHaveLength(before);
    expect(h.published().at(-1)?.subject).toBe('eni-failover web: REFUSED: cooldown');
    h.clock.tick(300_000);
    expect(await h.invoke(standbyAlarm)).toMatchObject([{ outcome: 'moved', to: PRIMARY }]);
  });
});

describe('failover: fencing', () => {
  const fencing = [{ ...PAIR, fence: true }];

  it('stops the impaired primary right after the forced detach, before the attach', async () => {
    const h = harness({ pairs: fencing });
    h.ec2.set(PRIMARY, { instanceStatus: 'impaired' });
    const r = (await h.invoke(alarmEvent)) as {
      outcome: string;
      reasons: string[];
      steps: { name: string }[];
    }[];
    expect(r[0]?.outcome).toBe('moved');
    const m = h.ec2.mutations;
    expect(m.indexOf('StopInstances')).toBeGreaterThan(m.indexOf('DetachNetworkInterface'));
    expect(m.indexOf('StopInstances')).toBeLessThan(m.indexOf('AttachNetworkInterface'));
    expect(h.ec2.mock).toHaveReceivedCommandWith(StopInstancesCommand, {
      InstanceIds: [PRIMARY],
      Force: true,
    });
    expect(h.ec2.instances.get(PRIMARY)?.state).toBe('stopping');
    expect(r[0]?.reasons).toContain(`fence: stopped ${PRIMARY}, so that it cannot answer on a stale address`);
    expect(r[0]?.steps.map((s) => s.name)).toContain('fence');
  });

  it('a failed stop is reported, and the address still moves', async () => {
    const h = harness({ pairs: fencing });
    h.ec2.set(PRIMARY, { instanceStatus: 'impaired' });
    h.ec2.fail('StopInstances', ec2Error('UnauthorizedOperation', 'not allowed'));
    const [r] = (await h.invoke(alarmEvent)) as { outcome: string; reasons: string[] }[];
    expect(r?.outcome).toBe('moved');
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(r?.reasons).toContainEqual(
      expect.stringMatching(
        /^fence: could not stop i-0123456789abcdef0 \(UnauthorizedOperation: not allowed\); it may still be running$/,
      ),
    );
  });

  it('a pair without fencing never stops anything', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { instanceStatus: 'impaired' });
    await h.invoke(alarmEvent);
    expect(h.ec2.mock).not.toHaveReceivedCommand(StopInstancesCommand);
  });
});

describe('failover: what must not move', () => {
  it('an alarm on a primary that reads healthy again: unchanged, no mutating call', async () => {
    const h = harness();
    expect(await h.invoke(alarmEvent)).toMatchObject([{ outcome: 'unchanged', from: PRIMARY }]);
    expect(h.ec2.mutations).toEqual([]);
  });

  it('a refused failover names every failed check, makes no mutating call, and says so on the phone', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.set(STANDBY, { az: 'eu-west-1b', state: 'stopped' });
    const r = (await h.invoke(stoppedEvent)) as { outcome: string; reasons: string[] };
    expect(r.outcome).toBe('refused');
    expect(r.reasons.map((x) => x.split(':')[0])).toEqual(['target-running', 'target-az']);
    expect(h.ec2.mutations).toEqual([]);
    expect(h.ec2.mock).not.toHaveReceivedCommand(DetachNetworkInterfaceCommand);
    expect(h.published()[0]?.subject).toBe('eni-failover web: REFUSED: target-running, target-az');
  });

  it.each([
    ['an OK alarm', sample('sns-alarm-ok'), /is OK/],
    [
      'an instance outside every pair',
      { ...stoppedEvent, detail: { 'instance-id': 'i-0ccccccccccccccc3', state: 'stopped' } },
      /not a member of any configured pair/,
    ],
    [
      'an event from another region',
      { ...stoppedEvent, region: 'us-east-1' },
      /from region us-east-1; this function manages eu-west-1/,
    ],
    ['an unknown pair', { action: 'move', pair: 'db' }, /unknown pair "db"; configured: web/],
    ['garbage', { hello: 'world' }, /unrecognised event/],
  ])('%s is ignored with a reason and no EC2 call at all', async (_name, event, reason) => {
    const h = harness();
    const r = await h.invoke(event);
    const result = (Array.isArray(r) ? r[0] : r) as { outcome: string; reasons: string[] };
    expect(result.outcome).toBe('ignored');
    expect(result.reasons[0]).toMatch(reason);
    expect(h.ec2.calls).toEqual([]);
    expect(h.published()[0]?.body.outcome).toBe('ignored');
  });

  it('a dry run checks everything, rehearses the detach and attach with EC2 DryRun, and changes nothing', async () => {
    const h = harness();
    const r = await h.invoke(sample('manual-drill'));
    expect(r).toMatchObject({ outcome: 'dry-run', from: PRIMARY, to: STANDBY });
    expect((r as { reasons: string[] }).reasons).toContain('EC2 DryRun allows the detach and the attach');
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, {
      DryRun: true,
      Force: false,
    });
    expect(h.ec2.mock).toHaveReceivedCommandWith(AttachNetworkInterfaceCommand, {
      DryRun: true,
      InstanceId: STANDBY,
      DeviceIndex: 1,
    });
    expect(h.ec2.mutations).toEqual([]);
    expect(h.ec2.holder()).toBe(PRIMARY);
  });

  it('a dry run without permission to detach is refused, naming the permission', async () => {
    const h = harness();
    h.ec2.fail(
      'DetachNetworkInterface',
      ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
    );
    const r = (await h.invoke(sample('manual-drill'))) as { outcome: string; reasons: string[] };
    expect(r.outcome).toBe('refused');
    expect(r.reasons).toEqual([
      'permission: the function may not call DetachNetworkInterface here (You are not authorized to perform this operation.)',
    ]);
    expect(h.ec2.holder()).toBe(PRIMARY);
  });
});

describe('failover: drills and fail-back', () => {
  it('a manual move off a healthy primary detaches without Force', async () => {
    const h = harness();
    expect(await h.invoke({ action: 'move', pair: 'web', to: 'standby' })).toMatchObject({
      outcome: 'moved',
      to: STANDBY,
    });
    expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: false });
    // A detach without Force is not recorded: nothing to refuse the primary for later.
    expect(inOrder(h.ec2.mutations)).toEqual(MUTATING);
    expect(await h.invoke({ action: 'move', pair: 'web' })).toMatchObject({
      outcome: 'moved',
      from: STANDBY,
      to: PRIMARY,
    });
    expect(h.ec2.holder()).toBe(PRIMARY);
  });

  it('status reports where the ENI is, and changes nothing', async () => {
    const h = harness();
    const r = (await h.invoke(sample('manual-status'))) as {
      outcome: string;
      from: string;
      reasons: string[];
    };
    expect(r).toMatchObject({ outcome: 'status', from: PRIMARY });
    expect(r.reasons).toContain(`a move to standby ${STANDBY} would pass every check`);
    expect(h.ec2.mutations).toEqual([]);
  });
});

describe('failover: a failure at each step is published, thrown, and converges on the retry', () => {
  // Permanent errors: a transient one (throttling, 5xx, a timeout) is retried until the deadline
  // (test/lambda/real-ec2.test.ts). A stopped holder's forced detach is not recorded (it restarts anyway).
  it.each([
    // Whatever fails after the lease was taken, the lease is released (asserted below).
    ['observe', 'DescribeInstances', 0, [], PRIMARY],
    ['detach', 'DetachNetworkInterface', 0, ['DetachNetworkInterface'], PRIMARY],
    ['attach', 'AttachNetworkInterface', 0, MUTATING.slice(0, 2), undefined],
    // The breadcrumb is written beside the keep: the ENI did move.
    ['keep-on-termination', 'ModifyNetworkInterfaceAttribute', 0, MUTATING, STANDBY],
  ])('%s fails (%s)', async (step, action, after, mutations, holderAfter) => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.fail(
      action,
      ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
      1,
      after,
    );

    const error = await failure(h.invoke(stoppedEvent));

    expect(error.message).toMatch(new RegExp(`${step} failed: UnauthorizedOperation`));
    expect(inOrder(h.ec2.mutations)).toEqual(mutations);
    expect(h.ec2.holder()).toBe(holderAfter);
    const [note] = h.published();
    expect(note?.body).toMatchObject({ outcome: 'failed', pair: 'web' });
    expect(note?.subject).toMatch(/^eni-failover web: FAILED mid-failover: /);
    expect((await h.state.read('web')).lease).toBeUndefined();
    const where = (note?.body.reasons as string[] | undefined)?.[1];
    expect(where).toMatch(
      holderAfter
        ? new RegExp(`attached to \\w+ ${holderAfter}`)
        : /attached to no one .*Lambda's retry of this event attaches it/,
    );

    // Lambda retries the same event: it converges on the standby.
    const retry = await h.invoke(stoppedEvent);
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(retry).toMatchObject({ outcome: holderAfter === STANDBY ? 'unchanged' : 'moved', pair: 'web' });
    // Whatever step failed, the retry leaves an address that survives its holder's termination.
    expect(h.ec2.attachment?.deleteOnTermination).toBe(false);
  });

  it("the breadcrumb tag is refused (the owner's tag budget is full): the move stands, and says so", async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.fail('CreateTags', ec2Error('TagLimitExceeded', 'The maximum number of tags for a resource is 50'));

    const r = (await h.invoke(stoppedEvent)) as { outcome: string; reasons: string[] };

    expect(r.outcome).toBe('moved');
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(r.reasons).toContainEqual(
      expect.stringMatching(/could not leave the breadcrumb tag .*TagLimitExceeded.*the move stands/),
    );
    expect((await h.state.read('web')).lastMove).toMatchObject({ to: STANDBY });
  });

  it('the detach never settles: the wait ends before the Lambda does, and says where the ENI is', async () => {
    const h = harness({ settle: { detachMs: 10 * 60_000, attachMs: 1_000 } });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const started = h.clock.now();
    const error = await failure(h.invoke(stoppedEvent, 30_000));
    expect(error.message).toMatch(
      /wait-detached failed: SettleTimeoutError: eni-\w+ was not available after/,
    );
    expect(h.clock.now() - started).toBeLessThanOrEqual(30_000 - 5_000);
    expect(h.ec2.mock).not.toHaveReceivedCommand(AttachNetworkInterfaceCommand);
    expect(h.published()[0]?.body.reasons).toContainEqual(
      expect.stringMatching(
        /still detaching from primary i-0123456789abcdef0; Lambda's retry of this event waits/,
      ),
    );
  });

  it('verify: the ENI turns up on another instance instead of the target', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const attach = h.ec2.mock.commandCalls(AttachNetworkInterfaceCommand);
    expect(attach).toHaveLength(0);
    // Someone else attaches the ENI to the primary while we wait for our attachment.
    h.ec2.mock.on(AttachNetworkInterfaceCommand).callsFake(async () => {
      h.ec2.calls.push('AttachNetworkInterface');
      h.ec2.place(PRIMARY);
      return { AttachmentId: 'eni-attach-ours' };
    });
    const error = await failure(h.invoke(stoppedEvent));
    expect(error.message).toMatch(
      /wait-attached failed: .*now attached to i-0123456789abcdef0, not i-0fedcba9876543210/,
    );
    expect(h.ec2.mock).not.toHaveReceivedCommand(ModifyNetworkInterfaceAttributeCommand);
    // No move was recorded, and the lease was released.
    const record = await h.state.read('web');
    expect(record.lastMove).toBeUndefined();
    expect(record.lease).toBeUndefined();
  });

  it('a lost notification does not undo or repeat the move', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.sns.rejects(new Error('SNS is down'));
    expect(await h.invoke(stoppedEvent)).toMatchObject({ outcome: 'moved' });
    expect(h.ec2.holder()).toBe(STANDBY);
  });
});
