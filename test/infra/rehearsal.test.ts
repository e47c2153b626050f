// The deploy-time rehearsal (Custom::Rehearsal, lambda/custom/rehearsal.ts) and the daily one, from the synthesized
// template to the real failover function over the in-memory EC2. Lambda's Invoke is mocked (aws-sdk-client-mock)
// to run that real function in process: a synchronous Invoke answers the function's return value as its Payload,
// and an error it throws as a Payload {errorType, errorMessage} with FunctionError "Unhandled" (Lambda API
// Reference, Invoke). CloudFormation's request and response are as the CloudFormation User Guide documents them
// ("Custom resources": Create, Update, Delete requests; the response PUT to ResponseURL).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import type { Pair } from '../../lambda/config.ts';
import { apply, handler, type RehearsalEvent, type RehearsalPorts } from '../../lambda/custom/rehearsal.ts';
import { createFailover } from '../../lambda/failover.ts';
import type { StatePort } from '../../lambda/state.ts';
import { ec2Error, FakeClock, FakeEc2 } from '../../ops/fake-ec2.ts';
import type { CfnTemplate } from '../helpers/policy-engine.ts';
import { pairs, synthConfigured } from '../helpers/synth.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/EniFailover/1';
const event = (
  RequestType: RehearsalEvent['RequestType'],
  extra: Partial<RehearsalEvent> = {},
): RehearsalEvent => ({
  RequestType,
  ResponseURL: 'http://unused',
  StackId: STACK_ID,
  RequestId: 'r-1',
  LogicalResourceId: 'EniFailoverRehearsal',
  ...(RequestType === 'Create' ? {} : { PhysicalResourceId: 'EniFailoverRehearsal-rehearsal' }),
  ResourceProperties: { FunctionNames: ['fn-web'], Fingerprint: 'f1' },
  ...extra,
});

/** The pair-state port's rehearsal answer (nothing else of it is called by a rehearsal). */
const allowedState: StatePort = {
  read: () => Promise.reject(new Error('unused')),
  takeLease: () => Promise.reject(new Error('unused')),
  renewLease: () => Promise.reject(new Error('unused')),
  change: () => Promise.reject(new Error('unused')),
  observe: () => Promise.reject(new Error('unused')),
  rehearse: async () => undefined,
  isTransient: () => false,
};

/** The real failover function named fn-web over an in-memory EC2, behind a mocked Lambda Invoke. */
function world(pairList: Pair[] = [PAIR]) {
  const ec2 = new FakeEc2(PAIR.networkInterfaceId, 'eu-west-1a', 'vpc-1', new FakeClock());
  ec2.addInstance({ id: PRIMARY });
  ec2.addInstance({ id: STANDBY });
  ec2.place(PRIMARY);
  const failover = createFailover({
    config: { pairs: pairList, topicArn: undefined },
    ec2: new Ec2Adapter(ec2.client),
    notify: async () => {},
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'EniFailoverTest' }),
    region: 'eu-west-1',
    state: allowedState,
  });
  const lambda = mockClient(LambdaClient);
  lambda.on(InvokeCommand).callsFake(async (input: { FunctionName: string; Payload: Uint8Array }) => {
    if (input.FunctionName !== 'fn-web')
      throw Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException' });
    try {
      const answer = await failover(JSON.parse(new TextDecoder().decode(input.Payload)), {
        getRemainingTimeInMillis: () => 60_000,
      });
      return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(answer)) };
    } catch (error) {
      const e = error as Error;
      return {
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: new TextEncoder().encode(JSON.stringify({ errorType: e.name, errorMessage: e.message })),
      };
    }
  });
  let status = 'UPDATE_IN_PROGRESS';
  const ports: RehearsalPorts = {
    lambda: new LambdaClient({ region: 'eu-west-1' }),
    stackStatus: async () => status,
  };
  return {
    ec2,
    lambda,
    ports,
    rollingBack: () => {
      status = 'UPDATE_ROLLBACK_IN_PROGRESS';
    },
  };
}

const denied = () => ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.');
const signal = () => AbortSignal.timeout(30_000);

describe('the deploy-time rehearsal (Custom::Rehearsal) over the real function and the in-memory EC2', () => {
  afterEach(() => {
    mockClient(LambdaClient).restore();
  });

  it('every pair ready: Create and Update succeed, and EC2 was changed by nothing', async () => {
    const w = world();
    expect(await apply(w.ports, event('Create'), signal())).toBe('EniFailoverRehearsal-rehearsal');
    expect(await apply(w.ports, event('Update'), signal())).toBe('EniFailoverRehearsal-rehearsal');
    expect(w.ec2.mutations).toEqual([]);
    expect(w.lambda.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it("a refused DryRun detach fails Create and Update, naming the pair, the call and EC2's answer", async () => {
    const w = world();
    w.ec2.fail('DetachNetworkInterface', denied(), Number.POSITIVE_INFINITY);
    for (const type of ['Create', 'Update'] as const) {
      const failure = await apply(w.ports, event(type), signal()).then(
        () => 'succeeded',
        (e: Error) => e.message,
      );
      expect(failure).toContain(
        `pair web (function fn-web) is not-ready: permission: ec2:DetachNetworkInterface on ${PAIR.networkInterfaceId} (from primary ${PRIMARY}): UnauthorizedOperation`,
      );
    }
    expect(w.ec2.mutations).toEqual([]);
  });

  it('a permission refused at first (IAM not settled yet) and allowed on a later ask: the deploy goes on', async () => {
    const w = world();
    w.ec2.fail('DetachNetworkInterface', denied(), 1);
    const settling = { ...w.ports, settle: { forMs: 5_000, everyMs: 10 } };
    expect(await apply(settling, event('Create'), signal())).toBe('EniFailoverRehearsal-rehearsal');
    expect(w.lambda.commandCalls(InvokeCommand)).toHaveLength(2);
    expect(w.ec2.mutations).toEqual([]);
  });

  it('a failed check is not asked again (only a permission may be IAM settling)', async () => {
    const w = world();
    w.ec2.set(STANDBY, { az: 'eu-west-1b' });
    const settling = { ...w.ports, settle: { forMs: 5_000, everyMs: 10 } };
    await expect(apply(settling, event('Create'), signal())).rejects.toThrow(/target-az/);
    expect(w.lambda.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  it('Delete succeeds whatever EC2 says, and asks no function', async () => {
    const w = world();
    w.ec2.fail('DetachNetworkInterface', denied(), Number.POSITIVE_INFINITY);
    w.ec2.fail('AttachNetworkInterface', denied(), Number.POSITIVE_INFINITY);
    expect(await apply(w.ports, event('Delete'), signal())).toBe('EniFailoverRehearsal-rehearsal');
    expect(w.lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('an Update during a rollback succeeds even when a pair is not ready: the rollback must finish', async () => {
    const w = world();
    w.ec2.fail('DetachNetworkInterface', denied(), Number.POSITIVE_INFINITY);
    w.rollingBack();
    expect(await apply(w.ports, event('Update'), signal())).toBe('EniFailoverRehearsal-rehearsal');
  });

  it('topology refusals fail it too, unless the pair says deployUnready; a function that cannot be asked fails it', async () => {
    const strict = world();
    strict.ec2.set(STANDBY, { az: 'eu-west-1b' });
    await expect(apply(strict.ports, event('Create'), signal())).rejects.toThrow(/target-az: standby/);
    strict.lambda.restore();

    const lenient = world([{ ...PAIR, deployUnready: true }]);
    lenient.ec2.set(STANDBY, { az: 'eu-west-1b' });
    expect(await apply(lenient.ports, event('Create'), signal())).toBe('EniFailoverRehearsal-rehearsal');
    // A refused call is never deployable.
    lenient.ec2.fail('CreateTags', denied());
    await expect(apply(lenient.ports, event('Update'), signal())).rejects.toThrow(
      /permission: ec2:CreateTags/,
    );
    await expect(
      apply(lenient.ports, event('Create', { ResourceProperties: { FunctionNames: ['fn-gone'] } }), signal()),
    ).rejects.toThrow(/function fn-gone could not rehearse: ResourceNotFoundException/);
  });

  it('the handler answers CloudFormation at its URL: FAILED with the reason, SUCCESS for Delete', async () => {
    const w = world();
    w.ec2.fail('DetachNetworkInterface', denied(), Number.POSITIVE_INFINITY);
    const bodies: Record<string, unknown>[] = [];
    const server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        bodies.push({ method: req.method, ...JSON.parse(data) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
    try {
      // 12 s left: a refusal is asked again after a third of the 2 s the rehearsal keeps (IAM settling), then fails.
      await handler(event('Create', { ResponseURL: url }), { getRemainingTimeInMillis: () => 12_000 });
      await handler(event('Delete', { ResponseURL: url }), { getRemainingTimeInMillis: () => 12_000 });
    } finally {
      server.close();
    }
    expect(bodies).toMatchObject([
      {
        method: 'PUT',
        Status: 'FAILED',
        PhysicalResourceId: 'EniFailoverRehearsal-rehearsal',
        StackId: STACK_ID,
      },
      { method: 'PUT', Status: 'SUCCESS', PhysicalResourceId: 'EniFailoverRehearsal-rehearsal' },
    ]);
    expect(String(bodies[0]?.Reason)).toContain('ec2:DetachNetworkInterface');
  });
});

describe('the rehearsal in the template', () => {
  let template: CfnTemplate;
  const resources = () => Object.entries(template.Resources);
  const ofType = (type: string) => resources().filter(([, r]) => r.Type === type);
  beforeAll(() => {
    template = synthConfigured({
      pairs: [...pairs(2), { ...(pairs(3)[2] as Pair), group: 'g' }],
    }).template.toJSON() as CfnTemplate;
  });

  it('one Custom::Rehearsal naming every failover function, served by its own function', () => {
    const [[, resource] = []] = ofType('Custom::Rehearsal');
    const functions = ofType('AWS::Lambda::Function')
      .filter(([, f]) => JSON.stringify(f).includes('FAILOVER_PAIRS'))
      .map(([id]) => ({ Ref: id }));
    expect(functions).toHaveLength(2);
    expect(resource?.Properties?.FunctionNames).toEqual(functions);
    expect(resource?.Properties?.Fingerprint).toMatch(/^[0-9a-f]{32}$/);
    expect(ofType('Custom::Rehearsal')).toHaveLength(1);
  });

  it("its role may invoke only the failover functions themselves, and read only this stack's status", () => {
    const policies = ofType('AWS::IAM::Policy').filter(([id]) => id.includes('Rehearsal'));
    const statements = policies.flatMap(
      ([, p]) =>
        (p.Properties?.PolicyDocument as { Statement?: Record<string, unknown>[] } | undefined)?.Statement ??
        [],
    );
    const invoke = statements.find((s) => s.Sid === 'RehearseTheFailoverFunctions');
    expect(invoke?.Action).toBe('lambda:InvokeFunction');
    expect(JSON.stringify(invoke?.Resource)).not.toContain('*');
    expect(invoke?.Resource).toHaveLength(2);
    expect(statements.find((s) => s.Sid === 'ReadThisStacksStatus')).toMatchObject({
      Action: 'cloudformation:DescribeStacks',
      Resource: { Ref: 'AWS::StackId' },
    });
  });

  it('a daily rule invokes every failover function with {"action":"rehearse"}; the NotReady alarm pages', () => {
    const daily = ofType('AWS::Events::Rule').filter(
      ([, r]) => r.Properties?.ScheduleExpression === 'rate(1 day)',
    );
    expect(daily).toHaveLength(1);
    const targets = daily[0]?.[1].Properties?.Targets as {
      Arn: unknown;
      Input: string;
      DeadLetterConfig?: unknown;
    }[];
    expect(targets).toHaveLength(2);
    for (const t of targets) {
      expect(JSON.parse(t.Input)).toEqual({ action: 'rehearse' });
      expect(t.DeadLetterConfig).toBeDefined();
    }
    const alarm = ofType('AWS::CloudWatch::Alarm').find(([, a]) => a.Properties?.MetricName === 'NotReady');
    expect(alarm?.[1].Properties).toMatchObject({
      Namespace: 'EniFailover',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(alarm?.[1].Properties?.AlarmActions).toHaveLength(1);
  });

  it('the fingerprint changes with a pair (an update, which CloudFormation sends the resource) and not otherwise', () => {
    const fingerprintOf = (list: Pair[]) =>
      Object.values(
        synthConfigured({ pairs: list }).template.toJSON().Resources as CfnTemplate['Resources'],
      ).find((r) => r.Type === 'Custom::Rehearsal')?.Properties?.Fingerprint;
    const first = fingerprintOf(pairs(2));
    expect(fingerprintOf(pairs(2))).toBe(first);
    expect(fingerprintOf(pairs(3))).not.toBe(first);
    expect(fingerprintOf(pairs(2).map((p, i) => (i === 0 ? { ...p, fence: true } : p)))).not.toBe(first);
  });
});
