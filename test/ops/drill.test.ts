import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config';
import type { Result } from '../../lambda/result';
import { runDrill } from '../../ops/drill';
import { buildWorld, type MotoWorld, useEndpoint } from '../../ops/world';
import { localFailover } from '../helpers/local-failover';
import { type Moto, runMotoTests, startMoto } from '../helpers/tools';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world';

const creds = { region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decode = (payload: unknown) =>
  JSON.parse(
    typeof payload === 'string' ? payload : new TextDecoder().decode(payload as Uint8Array | undefined),
  );

/** A stack with two functions (pairs split across them), as EniFailover deploys many pairs. */
function stubbedAws(answer: (event: Record<string, unknown>) => unknown, functionError?: string) {
  const lambda = new LambdaClient(creds);
  const cloudformation = new CloudFormationClient(creds);
  const lambdaMock = mockClient(lambda);
  const cfnMock = mockClient(cloudformation);
  cfnMock.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'EniFailover',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [{ OutputKey: 'FunctionNames', OutputValue: 'fn-one,fn-two' }],
      },
    ],
  });
  const other: Pair = { ...PAIR, name: 'db', networkInterfaceId: 'eni-0bbbbbbbbbbbbbbb2' };
  lambdaMock
    .on(GetFunctionConfigurationCommand, { FunctionName: 'fn-one' })
    .resolves({ Environment: { Variables: { FAILOVER_PAIRS: JSON.stringify([other]) } } })
    .on(GetFunctionConfigurationCommand, { FunctionName: 'fn-two' })
    .resolves({ Environment: { Variables: { FAILOVER_PAIRS: JSON.stringify([PAIR]) } } })
    .on(InvokeCommand)
    .callsFake(async (input: { Payload: Uint8Array }) => ({
      StatusCode: 200,
      FunctionError: functionError,
      Payload: encode(answer(decode(input.Payload))),
    }));
  const out: string[] = [];
  const err: string[] = [];
  return {
    lambdaMock,
    out,
    err,
    run: (argv: string[]) =>
      runDrill(argv, { lambda, cloudformation, out: (l) => out.push(l), err: (l) => err.push(l) }),
  };
}

const result = (fields: Partial<Result>): Result => ({
  outcome: 'status',
  pair: 'web',
  networkInterfaceId: PAIR.networkInterfaceId,
  from: PRIMARY,
  to: null,
  deviceIndex: 1,
  reasons: [],
  steps: [{ name: 'observe', ms: 120 }],
  ...fields,
});

describe('drill CLI against a stubbed Lambda', () => {
  it("status: finds the function that has the pair among the stack's functions, prints the timeline and the holder", async () => {
    const aws = stubbedAws(() => result({ reasons: ['a move to standby would pass every check'] }));
    expect(await aws.run(['status', '--pair', 'web'])).toBe(0);
    expect(aws.lambdaMock).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'fn-two' });
    expect(decode(aws.lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload)).toEqual({
      action: 'status',
      pair: 'web',
    });
    const text = aws.out.join('\n');
    expect(text).toContain(`[web] STATUS     ${PAIR.networkInterfaceId} is held by ${PRIMARY} (primary)`);
    expect(text).toContain('observe');
    expect(text).toContain(`ENI ${PAIR.networkInterfaceId} is on ${PRIMARY} (primary)`);
  });

  it('drill sends a dry run; a refusal prints every reason and exits 1', async () => {
    const aws = stubbedAws(() =>
      result({
        outcome: 'refused',
        to: STANDBY,
        reasons: ['target-az: standby i-… is in eu-west-1b, but the ENI is in eu-west-1a'],
      }),
    );
    expect(await aws.run(['drill', '--pair', 'web'])).toBe(1);
    expect(decode(aws.lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload)).toEqual({
      action: 'move',
      pair: 'web',
      dryRun: true,
    });
    expect(aws.out.join('\n')).toContain('  x target-az: standby');
  });

  it('move --to primary (a fail-back): the timeline with each step, and where the ENI ended', async () => {
    const aws = stubbedAws(() =>
      result({
        outcome: 'moved',
        from: STANDBY,
        to: PRIMARY,
        steps: [
          { name: 'observe', ms: 150 },
          { name: 'detach', ms: 300 },
          { name: 'wait-detached', ms: 2600 },
          { name: 'attach', ms: 250 },
          { name: 'wait-attached', ms: 3500 },
        ],
      }),
    );
    expect(await aws.run(['move', '--pair', 'web', '--to', 'primary'])).toBe(0);
    expect(decode(aws.lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload)).toEqual({
      action: 'move',
      pair: 'web',
      to: 'primary',
      dryRun: false,
    });
    const text = aws.out.join('\n');
    expect(text).toMatch(/MOVED .* -> i-0123456789abcdef0 \(primary\) at device index 1, in 6\.8 s/);
    expect(text).toMatch(/wait-attached\s+3500 ms/);
    expect(text).toContain(`is on ${PRIMARY} (primary)`);
  });

  it('--json prints the raw result', async () => {
    const r = result({ outcome: 'unchanged' });
    const aws = stubbedAws(() => r);
    expect(await aws.run(['status', '--pair', 'web', '--json'])).toBe(0);
    expect(JSON.parse(aws.out.join('\n'))).toEqual(r);
  });

  it("a failover that failed part-way exits 2 with the function's error", async () => {
    const aws = stubbedAws(
      () => ({ errorType: 'FailoverError', errorMessage: 'web: attach failed: InternalError' }),
      'Unhandled',
    );
    expect(await aws.run(['move', '--pair', 'web', '--to', 'standby'])).toBe(2);
    expect(aws.err.join('\n')).toContain('FAILED     FailoverError: web: attach failed: InternalError');
  });

  it('a pair the stack does not have is named, with those it has', async () => {
    const aws = stubbedAws(() => result({}));
    expect(await aws.run(['status', '--pair', 'api'])).toBe(2);
    expect(aws.err.join('\n')).toContain('stack EniFailover has no pair "api"; it has: db, web');
    expect(aws.lambdaMock).not.toHaveReceivedCommand(InvokeCommand);
  });

  it.each([
    [[], 'a command is required'],
    [['status'], '--pair is required'],
    [['failover', '--pair', 'web'], 'unknown command "failover"'],
    [['move', '--pair', 'web', '--to', 'i-0123456789abcdef0'], '--to must be standby or primary'],
    [['status', '--pair', 'web', '--to', 'standby'], '--to goes with move, not status'],
    [['status', '--pair', 'web', '--dryrun'], "Unknown option '--dryrun'"],
  ])(
    'usage error %j: says what is wrong, shows the usage, invokes nothing, exits 2',
    async (argv, message) => {
      const aws = stubbedAws(() => result({}));
      expect(await aws.run(argv)).toBe(2);
      expect(aws.err.join('\n')).toContain(message);
      expect(aws.err.join('\n')).toContain('usage: npm run drill');
      expect(aws.lambdaMock).not.toHaveReceivedCommand(InvokeCommand);
    },
  );

  it('--help prints the usage and exits 0', async () => {
    const aws = stubbedAws(() => result({}));
    expect(await aws.run(['--help'])).toBe(0);
    expect(aws.out.join('\n')).toMatch(/Commands:[\s\S]*status[\s\S]*drill[\s\S]*move/);
  });
});

describe.runIf(runMotoTests)('drill CLI against the local function (moto EC2)', () => {
  let moto: Moto;
  let w: MotoWorld;
  beforeAll(async () => {
    moto = await startMoto();
    useEndpoint(moto.url);
  });
  afterAll(async () => moto?.stop());
  beforeEach(async () => {
    await moto.reset();
    w = await buildWorld();
  });

  it('status, drill, move and fail-back, each ending where asked', async () => {
    const { answer } = localFailover([w.pair]);
    const lambda = new LambdaClient(creds);
    const cloudformation = new CloudFormationClient(creds);
    mockClient(lambda)
      .on(InvokeCommand)
      .callsFake(async (input: { Payload: Uint8Array }) => ({
        StatusCode: 200,
        Payload: encode(await answer(decode(input.Payload))),
      }));
    const out: string[] = [];
    const drill = (...argv: string[]) =>
      runDrill([...argv, '--function-name', 'local'], {
        lambda,
        cloudformation,
        out: (l) => out.push(l),
        err: (l) => out.push(l),
      });

    expect(await drill('status', '--pair', 'web')).toBe(0);
    expect(await drill('drill', '--pair', 'web')).toBe(0);
    expect(out.join('\n')).toContain('EC2 DryRun allows the detach and the attach');
    expect((await w.where()).holder).toBe(w.primary);
    expect(await drill('move', '--pair', 'web', '--to', 'standby')).toBe(0);
    expect((await w.where()).holder).toBe(w.standby);
    expect(await drill('move', '--pair', 'web', '--to', 'primary')).toBe(0);
    expect((await w.where()).holder).toBe(w.primary);
    expect(out.join('\n')).toContain(`ENI ${w.eni} is on ${w.primary}`);
  });
});
