// The rehearsal (docs/contract.md event 9) through the real handler path (createFailover, the EC2 adapter, the SNS
// publisher) over the in-memory EC2 (ops/fake-ec2.ts), with a pair-state port of the test's own.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import { publishResult } from '../../lambda/aws/sns.ts';
import type { Pair } from '../../lambda/config.ts';
import { parseEvent } from '../../lambda/events.ts';
import { createFailover } from '../../lambda/failover.ts';
import type { Result } from '../../lambda/result.ts';
import type { StatePort } from '../../lambda/state.ts';
import { ec2Error, FakeClock, FakeEc2 } from '../../ops/fake-ec2.ts';
import { sample } from '../helpers/events.ts';
import { TOPIC } from '../helpers/harness.ts';
import { localState } from '../helpers/state.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

/**
 * The pair-state port as the rehearsal uses it: `rehearse` answers undefined (the conditional write was allowed)
 * or DynamoDB's refusal. Nothing else of it is called by a rehearsal; a call would fail the test.
 */
function stateThatAnswers(refusal?: string): StatePort {
  const unused = () => {
    throw new Error('a rehearsal must not read or write pair state');
  };
  return {
    read: unused,
    takeLease: unused,
    renewLease: unused,
    change: unused,
    observe: unused,
    rehearse: async () => refusal,
    isTransient: () => false,
  };
}

// EC2 answers a DryRun the caller may not make with UnauthorizedOperation, and one it may with DryRunOperation
// (EC2 API Reference, the DryRun parameter of DetachNetworkInterface, AttachNetworkInterface, StopInstances, …).
const unauthorized = () =>
  ec2Error(
    'UnauthorizedOperation',
    'You are not authorized to perform this operation. Encoded authorization failure message: …',
  );

function setup(options: { pairs?: Pair[]; state?: StatePort } = {}) {
  const ec2 = new FakeEc2(PAIR.networkInterfaceId, 'eu-west-1a', 'vpc-1', new FakeClock());
  ec2.addInstance({ id: PRIMARY });
  ec2.addInstance({ id: STANDBY });
  ec2.place(PRIMARY);
  const snsClient = new SNSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const sns = mockClient(snsClient);
  sns.resolves({ MessageId: 'm-1' });
  const failover = createFailover({
    config: { pairs: options.pairs ?? [PAIR], topicArn: TOPIC },
    ec2: new Ec2Adapter(ec2.client),
    notify: (r, signal) => publishResult(snsClient, TOPIC, r, signal),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'EniFailoverTest' }),
    region: 'eu-west-1',
    state: options.state ?? stateThatAnswers(),
  });
  const invoke = async (event: unknown) =>
    (await failover(event, { getRemainingTimeInMillis: () => 60_000 })) as Result[];
  const dryRuns = () => ec2.calls.filter((c) => !c.startsWith('Describe'));
  return { ec2, sns, invoke, dryRuns };
}

describe('rehearse: {"action":"rehearse"}', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('parses with or without a pair, and refuses unknown fields', () => {
    expect(parseEvent({ action: 'rehearse' }).triggers).toEqual([{ kind: 'rehearse', pair: undefined }]);
    expect(parseEvent({ action: 'rehearse', pair: 'web' }).triggers).toEqual([
      { kind: 'rehearse', pair: 'web' },
    ]);
    expect(parseEvent({ action: 'rehearse', dryRun: false }).triggers[0]).toMatchObject({ kind: 'ignored' });
  });

  it('a ready pair: every call of a move tried with DryRun, nothing changed, nobody paged', async () => {
    const { ec2, sns, invoke, dryRuns } = setup();

    const [r, ...more] = await invoke(sample('manual-rehearse'));

    expect(more).toEqual([]);
    expect(r).toMatchObject({
      outcome: 'ready',
      pair: 'web',
      from: PRIMARY,
      rehearsal: { refusedCalls: [], failedChecks: [], deployable: true },
    });
    // Detach and the attachment's DeleteOnTermination on the attachment there is, the attach to each member, the
    // breadcrumb tag and the removal of an earlier version's tags.
    expect(dryRuns().sort()).toEqual(
      [
        'AttachNetworkInterface',
        'AttachNetworkInterface',
        'CreateTags',
        'DeleteTags',
        'DetachNetworkInterface',
        'ModifyNetworkInterfaceAttribute',
      ].sort(),
    );
    expect(ec2.mutations).toEqual([]);
    expect(ec2.holder()).toBe(PRIMARY);
    expect(sns.calls()).toHaveLength(0);
  });

  it("a refused detach makes the pair not ready, names the call and EC2's answer, and pages", async () => {
    const { ec2, sns, invoke } = setup();
    ec2.fail('DetachNetworkInterface', unauthorized());

    const [r] = await invoke({ action: 'rehearse', pair: 'web' });

    expect(r?.outcome).toBe('not-ready');
    expect(r?.reasons).toEqual([
      `permission: ec2:DetachNetworkInterface on ${PAIR.networkInterfaceId} (from primary ${PRIMARY}): UnauthorizedOperation`,
    ]);
    expect(r?.rehearsal).toEqual({ refusedCalls: r?.reasons, failedChecks: [], deployable: false });
    expect(ec2.mutations).toEqual([]);
    const pages = sns.calls().map((c) => c.args[0].input as { Subject: string });
    expect(pages).toHaveLength(1);
    expect(pages[0]?.Subject).toContain('NOT READY: permission: ec2:DetachNetworkInterface');
  });

  it('an attach refused toward the standby only is named with that direction', async () => {
    const { ec2, invoke } = setup();
    ec2.fail('AttachNetworkInterface', unauthorized(), 1, 1);

    const [r] = await invoke({ action: 'rehearse' });

    expect(r?.rehearsal?.refusedCalls).toEqual([
      `permission: ec2:AttachNetworkInterface on ${PAIR.networkInterfaceId} to standby ${STANDBY}: UnauthorizedOperation`,
    ]);
  });

  it('a pair with fence rehearses StopInstances of each member; a pair without does not', async () => {
    const fenced = setup({ pairs: [{ ...PAIR, fence: true }] });
    const [r] = await fenced.invoke({ action: 'rehearse' });
    expect(r?.outcome).toBe('ready');
    expect(fenced.dryRuns().filter((c) => c === 'StopInstances')).toHaveLength(2);
    expect(fenced.ec2.mutations).toEqual([]);
    expect(fenced.ec2.instances.get(PRIMARY)?.state).toBe('running');

    const plain = setup();
    await plain.invoke({ action: 'rehearse' });
    expect(plain.dryRuns()).not.toContain('StopInstances');

    const refused = setup({ pairs: [{ ...PAIR, fence: true }] });
    refused.ec2.fail('StopInstances', unauthorized(), 2);
    const [s] = await refused.invoke({ action: 'rehearse' });
    expect(s?.rehearsal?.refusedCalls).toEqual([
      `permission: ec2:StopInstances on primary ${PRIMARY}: UnauthorizedOperation`,
      `permission: ec2:StopInstances on standby ${STANDBY}: UnauthorizedOperation`,
    ]);
  });

  it("the real state table (the DynamoDB adapter over dynalite): its write is allowed, and the pair's item stays as it was", async () => {
    const state = localState();
    const { invoke } = setup({ state });
    const [r] = await invoke({ action: 'rehearse' });
    expect(r?.outcome).toBe('ready');
    // No item was made: a rehearsal changes nothing, the table included.
    expect((await state.read(PAIR.name)).version).toBe(0);
  });

  it("the state table's write refused is a refused call", async () => {
    const { invoke } = setup({
      state: stateThatAnswers(
        'AccessDeniedException: User is not authorized to perform: dynamodb:UpdateItem',
      ),
    });
    const [r] = await invoke({ action: 'rehearse' });
    expect(r?.outcome).toBe('not-ready');
    expect(r?.rehearsal?.refusedCalls).toEqual([
      "permission: dynamodb on the pair's state item: AccessDeniedException: User is not authorized to perform: dynamodb:UpdateItem",
    ]);
  });

  it('topology refusals are failed checks, in both directions; deployUnready lets only those deploy', async () => {
    const other: Pair = {
      name: 'other',
      networkInterfaceId: 'eni-0ccccccccccccccc3',
      primaryInstanceId: 'i-0ccccccccccccccc3',
      standbyInstanceId: 'i-0ccccccccccccccc4',
      deviceIndex: 1,
      deployUnready: true,
    };
    const { ec2, invoke } = setup({ pairs: [PAIR, other] });
    ec2.addEni(other.networkInterfaceId);
    ec2.addInstance({ id: other.primaryInstanceId });
    ec2.addInstance({ id: other.standbyInstanceId, az: 'eu-west-1b' });
    ec2.place(other.primaryInstanceId, 1, other.networkInterfaceId);
    ec2.set(STANDBY, { az: 'eu-west-1b' });

    const results = await invoke({ action: 'rehearse' });

    const web = results.find((r) => r.pair === 'web');
    expect(web?.outcome).toBe('not-ready');
    expect(web?.rehearsal).toEqual({
      refusedCalls: [],
      failedChecks: [`target-az: standby ${STANDBY} is in eu-west-1b, but the ENI is in eu-west-1a`],
      deployable: false,
    });
    const unready = results.find((r) => r.pair === 'other');
    expect(unready?.outcome).toBe('not-ready');
    expect(unready?.rehearsal?.deployable).toBe(true);
    expect(unready?.reasons.at(-1)).toMatch(/^deployUnready: /);
    // A refused call is never deployable, deployUnready or not.
    ec2.fail('CreateTags', unauthorized(), 2);
    const again = await invoke({ action: 'rehearse' });
    expect(again.map((r) => r.rehearsal?.deployable)).toEqual([false, false]);
    expect(ec2.mutations).toEqual([]);
  });

  it('an EC2 answer that is not about permission (an attachment gone since the look) is a failed check, not a refusal', async () => {
    const { ec2, invoke } = setup({ pairs: [{ ...PAIR, deployUnready: true }] });
    ec2.fail(
      'DetachNetworkInterface',
      ec2Error('InvalidAttachmentID.NotFound', "The attachment ID 'eni-attach-1' does not exist"),
      1,
    );
    const [r] = await invoke({ action: 'rehearse' });
    expect(r?.outcome).toBe('not-ready');
    expect(r?.rehearsal?.refusedCalls).toEqual([]);
    expect(r?.rehearsal?.failedChecks).toEqual([
      expect.stringMatching(/^dry-run: ec2:DetachNetworkInterface on .*: InvalidAttachmentID\.NotFound/),
    ]);
    expect(r?.rehearsal?.deployable).toBe(true);
    expect(ec2.mutations).toEqual([]);
  });

  it('an unknown pair is ignored; the scheduled run publishes Ready 1 or 0 per pair and NotReady', async () => {
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(console, 'log').mockImplementation((text: unknown) => {
      lines.push(JSON.parse(String(text)));
    });
    const second: Pair = {
      name: 'db',
      networkInterfaceId: 'eni-0ddddddddddddddd4',
      primaryInstanceId: 'i-0ddddddddddddddd4',
      standbyInstanceId: 'i-0ddddddddddddddd5',
      deviceIndex: 1,
    };
    const { ec2, invoke } = setup({ pairs: [PAIR, second] });
    ec2.addEni(second.networkInterfaceId);
    ec2.addInstance({ id: second.primaryInstanceId });
    ec2.addInstance({ id: second.standbyInstanceId });
    ec2.place(second.standbyInstanceId, 1, second.networkInterfaceId);
    ec2.fail('DetachNetworkInterface', unauthorized(), 1, 1);

    expect(await invoke({ action: 'rehearse', pair: 'nope' })).toMatchObject([
      { outcome: 'ignored', reasons: ['unknown pair "nope"; configured: web, db'] },
    ]);
    const results = await invoke({ action: 'rehearse' });

    expect(results.map((r) => [r.pair, r.outcome])).toEqual([
      ['web', 'ready'],
      ['db', 'not-ready'],
    ]);
    const emf = lines.filter((l) => '_aws' in l);
    expect(emf.filter((l) => 'Ready' in l).map((l) => [l.Pair, l.Ready])).toEqual([
      ['web', 1],
      ['db', 0],
    ]);
    expect(emf.find((l) => 'NotReady' in l)).toMatchObject({ NotReady: 1 });
    expect(emf.find((l) => 'NotReady' in l)).not.toHaveProperty('Pair');
  });
});
