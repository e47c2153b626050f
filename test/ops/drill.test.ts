import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import type { PairState, Result } from '../../lambda/result.ts';
import { runDrill } from '../../ops/drill.ts';
import { buildWorld, type MotoWorld, useEndpoint } from '../../ops/world.ts';
import { localFailover } from '../helpers/local-failover.ts';
import { type Moto, runMotoTests, startMoto } from '../helpers/tools.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const creds = { region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decode = (payload: unknown) =>
  JSON.parse(
    typeof payload === 'string' ? payload : new TextDecoder().decode(payload as Uint8Array | undefined),
  );

const DB: Pair = {
  name: 'db',
  networkInterfaceId: 'eni-0bbbbbbbbbbbbbbb2',
  primaryInstanceId: 'i-0bbbbbbbbbbbbbbb3',
  standbyInstanceId: 'i-0bbbbbbbbbbbbbbb4',
  deviceIndex: 1,
};

/** A stack with two functions (pairs split across them), as EniFailover deploys many pairs. */
function stubbedAws(
  answer: (event: Record<string, unknown>, functionName: string) => unknown,
  functionError?: string | ((functionName: string) => string | undefined),
) {
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
  lambdaMock
    .on(GetFunctionConfigurationCommand, { FunctionName: 'fn-one' })
    .resolves({ Environment: { Variables: { FAILOVER_PAIRS: JSON.stringify([DB]) } } })
    .on(GetFunctionConfigurationCommand, { FunctionName: 'fn-two' })
    .resolves({ Environment: { Variables: { FAILOVER_PAIRS: JSON.stringify([PAIR]) } } })
    .on(InvokeCommand)
    .callsFake(async (input: { FunctionName: string; Payload: Uint8Array }) => ({
      StatusCode: 200,
      FunctionError: typeof functionError === 'function' ? functionError(input.FunctionName) : functionError,
      Payload: encode(answer(decode(input.Payload), input.FunctionName)),
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
    [['drill'], '--pair is required by drill'],
    [['move', '--to', 'standby'], '--pair is required by move'],
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

  it.each(['status', 'drill', 'move', 'rehearse', 'maintenance'])(
    '%s --help prints that command alone, with an example naming the pair by --pair, and exits 0',
    async (command) => {
      const aws = stubbedAws(() => result({}));
      expect(await aws.run([command, '--help'])).toBe(0);
      const text = aws.out.join('\n');
      expect(text).toMatch(new RegExp(`^usage: npm run drill -- ${command} `));
      expect(text).toMatch(new RegExp(`Example: npm run drill -- ${command}( --pair web)?`));
      expect(aws.lambdaMock).not.toHaveReceivedCommand(InvokeCommand);
    },
  );
});

describe('drill CLI maintenance, stubbed', () => {
  const sent = (aws: ReturnType<typeof stubbedAws>) =>
    decode(aws.lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload);
  const answer = () =>
    result({
      reasons: [
        'maintenance until 2026-11-22T10:45:00.000Z: automatic moves of pair web are paused; manual moves still work (drill CLI)',
      ],
    });

  it.each<[string[], number, string | undefined]>([
    [['maintenance', '--pair', 'web', '30m'], 30, undefined],
    [['maintenance', '--pair', 'web', '2h', '--reason', 'kernel patch, by ana'], 120, 'kernel patch, by ana'],
    [['maintenance', '--pair', 'web', '90'], 90, undefined],
    [['maintenance', '--pair', 'web', 'off'], 0, undefined],
    // The older form, still accepted (with a hint).
    [['maintenance', 'web', '45m'], 45, undefined],
  ])(
    '%j sends {"action":"maintenance"} to the function that has the pair, and exits 0',
    async (argv, minutes, reason) => {
      const aws = stubbedAws(answer);
      expect(await aws.run(argv)).toBe(0);
      expect(aws.lambdaMock).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'fn-two' });
      expect(sent(aws)).toEqual({
        action: 'maintenance',
        pair: 'web',
        minutes,
        reason: reason ?? expect.stringMatching(/^drill CLI, by \S+/),
      });
      expect(aws.out.join('\n')).toContain('  - maintenance until 2026-11-22T10:45:00.000Z');
    },
  );

  it.each<[string[], RegExp]>([
    [
      ['maintenance', 'web'],
      /maintenance takes a pair and a duration: maintenance --pair web 30m, or maintenance --pair web off/,
    ],
    [
      ['maintenance', 'web', '30s'],
      /the maintenance duration must be like 30m, 2h, 90 \(minutes\) or off, got "30s"/,
    ],
    [['maintenance', 'web', '0'], /a maintenance window of 0 minutes: to end one, say off/],
    [['maintenance', 'web', '169h'], /a maintenance window lasts at most a week \(10080 min\), got "169h"/],
    [['maintenance', 'web', '30m', '--to', 'standby'], /--to goes with move, not maintenance/],
    [['status', '--reason', 'x'], /--reason goes with maintenance, not status/],
  ])('%j is a usage error: exit 2, nothing invoked', async (argv, message) => {
    const aws = stubbedAws(answer);
    expect(await aws.run(argv)).toBe(2);
    expect(aws.err.join('\n')).toMatch(message);
    expect(aws.lambdaMock).not.toHaveReceivedCommand(InvokeCommand);
  });

  it('the older form (maintenance web 30m) works, and hints at the one syntax; the new one gives no hint', async () => {
    const old = stubbedAws(answer);
    expect(await old.run(['maintenance', 'web', '30m'])).toBe(0);
    expect(old.err).toEqual([
      'hint: name the pair as every command does: npm run drill -- maintenance --pair web 30m',
    ]);
    const now = stubbedAws(answer);
    expect(await now.run(['maintenance', '--pair', 'web', '30m'])).toBe(0);
    expect(now.err).toEqual([]);
  });

  it('a maintenance request the function ignores exits 1', async () => {
    const aws = stubbedAws(() => result({ outcome: 'ignored', pair: null, reasons: ['unknown pair'] }));
    expect(await aws.run(['maintenance', '--function-name', 'fn-two', 'web', '30m'])).toBe(1);
  });
});

const HEALTHY = 'running, status ok/ok/EBS ok, eu-west-1a';
const state = (fields: Partial<PairState> = {}): PairState => ({
  holder: 'primary',
  primary: HEALTHY,
  standby: HEALTHY,
  attached: true,
  serving: true,
  redundant: true,
  lastMove: null,
  members: { primary: PRIMARY, standby: STANDBY },
  events: { primary: [], standby: [] },
  plannedMove: null,
  automaticMoves: { lastHour: 0, limit: 3 },
  damping: null,
  lease: null,
  ...fields,
});
/** What each function of the stub stack answers to {"action":"status"}: fn-one has db, fn-two web. */
const fleetOf = (db: PairState, web: PairState) => (_event: Record<string, unknown>, functionName: string) =>
  functionName === 'fn-one'
    ? [
        result({
          pair: 'db',
          networkInterfaceId: DB.networkInterfaceId,
          from: DB.primaryInstanceId,
          state: db,
        }),
      ]
    : [result({ state: web })];
const rowOf = (text: string, pair: string) => text.split('\n').find((l) => l.startsWith(`${pair} `)) ?? '';

describe('drill CLI status of the whole fleet (no --pair), stubbed', () => {
  it("asks every function of the stack at once and prints one row per pair: holder, both members' health, redundancy, last move", async () => {
    const now = Date.now();
    const at = new Date(now - 5 * 60_000).toISOString();
    const aws = stubbedAws(
      fleetOf(state(), state({ holder: 'standby', lastMove: { at, from: PRIMARY, to: STANDBY } })),
    );
    expect(await aws.run(['status'])).toBe(0);
    const invoked = aws.lambdaMock.commandCalls(InvokeCommand).map((c) => c.args[0].input);
    expect(invoked.map((i) => i.FunctionName).sort()).toEqual(['fn-one', 'fn-two']);
    for (const i of invoked) expect(decode(i.Payload)).toEqual({ action: 'status' });
    const text = aws.out.join('\n');
    expect(text).toMatch(
      /^PAIR\s+HOLDER\s+PRIMARY\s+STANDBY\s+REDUNDANT\s+AUTO MOVES\/H\s+DAMPING\s+MAINTENANCE\s+LAST MOVE$/m,
    );
    expect(rowOf(text, 'db')).toMatch(
      /^db\s+primary\s+running, status ok\/ok\/EBS ok, eu-west-1a\s+running.*\s+yes\s+0\/3\s+-\s+-\s+never$/,
    );
    expect(rowOf(text, 'web')).toMatch(
      /^web\s+standby\s+running.*\s+yes\s+0\/3\s+-\s+-\s+\S+Z \(5 min ago\) primary -> standby$/,
    );
    expect(text).toContain('2 pairs: 2 protected');
  });

  it('planned events: one line per member event under the table, with when the ENI moves off the holder', async () => {
    const now = Date.now();
    const inMinutes = (m: number) => new Date(now + m * 60_000).toISOString();
    const web = state({
      events: {
        primary: [
          {
            code: 'instance-retirement',
            notBefore: inMinutes(3 * 24 * 60),
            notAfter: inMinutes(3 * 24 * 60 + 120),
            description: 'degraded hardware',
            takesItAway: true,
          },
        ],
        standby: [
          {
            code: 'system-maintenance',
            notBefore: inMinutes(60),
            notAfter: null,
            description: 'network maintenance',
            takesItAway: false,
          },
          {
            code: 'instance-stop',
            notBefore: inMinutes(2 * 24 * 60),
            notAfter: null,
            description: 'degraded hardware',
            takesItAway: true,
          },
        ],
      },
      plannedMove: inMinutes(3 * 24 * 60 - 15),
    });
    const aws = stubbedAws(fleetOf(state(), web));
    expect(await aws.run(['status'])).toBe(0);
    const text = aws.out.join('\n');
    const planned = text.split('PLANNED EVENTS\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
    expect(planned).toEqual([
      expect.stringMatching(
        /^web\s+primary\s+instance-retirement \S+Z to \S+Z \(in 3 d\); the ENI moves off it at \S+Z \(in 3 d\)$/,
      ),
      expect.stringMatching(/^web\s+standby\s+system-maintenance \S+Z \(in 60 min\); it keeps running$/),
      expect.stringMatching(/^web\s+standby\s+instance-stop \S+Z \(in 2 d\); redundancy ends then$/),
    ]);
    // A pair without events has no line; the table above is unchanged.
    expect(planned.some((l) => l.startsWith('db '))).toBe(false);
    // DAMPING and MAINTENANCE (issue 14b) both '-'.
    expect(rowOf(text, 'web')).toMatch(/\s+yes\s+0\/3\s+-\s+-\s+never$/);
  });

  it('shows the automatic moves of the last hour against the flap limit, what damps a move, and a move under way', async () => {
    const aws = stubbedAws(
      fleetOf(
        state({
          automaticMoves: { lastHour: 3, limit: 3 },
          damping: 'flapping until 2026-11-22T11:02:00.000Z',
        }),
        state({
          automaticMoves: { lastHour: 1, limit: 3 },
          damping: 'cooldown until 2026-11-22T10:20:00.000Z',
          lease: { owner: 'a1b2c3d4', to: STANDBY, until: '2026-11-22T10:20:55.000Z' },
        }),
      ),
    );
    await aws.run(['status']);
    const text = aws.out.join('\n');
    expect(rowOf(text, 'db')).toMatch(/\syes\s+3\/3\s+flapping until 2026-11-22T11:02:00Z\s+-\s+never$/);
    expect(rowOf(text, 'web')).toMatch(
      /\syes\s+1\/3\s+MOVING to standby \(until 2026-11-22T10:20:55Z\)\s+-\s+never$/,
    );
  });

  it('a pair in maintenance shows its window, and exits 1: its automatic moves are paused', async () => {
    const until = new Date(Date.now() + 20 * 60_000 + 30_000).toISOString();
    const aws = stubbedAws(fleetOf(state(), state({ maintenance: { until, why: 'kernel patch, by ana' } })));
    expect(await aws.run(['status'])).toBe(1);
    const text = aws.out.join('\n');
    expect(rowOf(text, 'web')).toMatch(/\syes\s+0\/3\s+-\s+until \S+Z \(21 min left\)\s+never$/);
    expect(rowOf(text, 'db')).toMatch(/\syes\s+0\/3\s+-\s+-\s+never$/);
    expect(text).toContain('2 pairs: 1 protected; in maintenance (automatic moves paused): web');
  });

  it('a pair without a working standby exits 1, and the summary names it', async () => {
    const aws = stubbedAws(
      fleetOf(
        state(),
        state({
          standby: 'stopped, status not-applicable/not-applicable/EBS unknown, eu-west-1a',
          redundant: false,
        }),
      ),
    );
    expect(await aws.run(['status'])).toBe(1);
    const text = aws.out.join('\n');
    expect(rowOf(text, 'web')).toMatch(/\sstopped, .*\sNO\s+0\/3\s+-\s+-\s+never$/);
    expect(text).toContain('2 pairs: 1 protected; no member could take over now: web');
  });

  it.each([
    [
      'attached to no one',
      state({ holder: null, attached: false, serving: false, redundant: false }),
      /^db\s+NO ONE\s/,
    ],
    [
      'held by a failed member',
      state({ primary: 'running, status impaired/ok/EBS ok, eu-west-1a', serving: false }),
      /^db\s+primary \(FAILED\)\s/,
    ],
    [
      'held by a member whose application is impaired',
      state({ primary: 'running, status ok/ok/EBS ok, application impaired, eu-west-1a', serving: false }),
      /^db\s+primary \(FAILED\)\s/,
    ],
  ])('an address that is down (%s) exits 1 and is called DOWN', async (_, db, row) => {
    const aws = stubbedAws(fleetOf(db, state()));
    expect(await aws.run(['status'])).toBe(1);
    const text = aws.out.join('\n');
    expect(rowOf(text, 'db')).toMatch(row);
    expect(text).toContain('2 pairs: 1 protected; DOWN (attached to no one, or its holder failed): db');
  });

  it("--json prints every function's results merged into one array", async () => {
    const aws = stubbedAws(fleetOf(state(), state({ redundant: false })));
    expect(await aws.run(['status', '--json'])).toBe(1);
    const printed = JSON.parse(aws.out.join('\n')) as Result[];
    expect(printed.map((r) => [r.pair, r.state?.redundant])).toEqual([
      ['db', true],
      ['web', false],
    ]);
  });

  it('--function-name asks only that function', async () => {
    const aws = stubbedAws(fleetOf(state(), state()));
    expect(await aws.run(['status', '--function-name', 'fn-two'])).toBe(0);
    expect(aws.lambdaMock.commandCalls(InvokeCommand).map((c) => c.args[0].input.FunctionName)).toEqual([
      'fn-two',
    ]);
    expect(aws.out.join('\n')).toContain('1 pair: 1 protected');
  });

  it('a function that fails is named and exits 2; the pairs of the others are still shown', async () => {
    const aws = stubbedAws(
      (event, name) =>
        name === 'fn-one'
          ? { errorType: 'FailoverError', errorMessage: 'db: observe: throttled' }
          : fleetOf(state(), state())(event, name),
      (name) => (name === 'fn-one' ? 'Unhandled' : undefined),
    );
    expect(await aws.run(['status'])).toBe(2);
    expect(rowOf(aws.out.join('\n'), 'web')).toMatch(/^web\s+primary\s/);
    expect(aws.err.join('\n')).toContain('error: function fn-one: FailoverError: db: observe: throttled');
  });

  it('status --pair of a pair that is not protected exits 1 as well', async () => {
    const aws = stubbedAws(() => result({ state: state({ redundant: false }) }));
    expect(await aws.run(['status', '--pair', 'web'])).toBe(1);
  });
});

describe('drill CLI rehearse, stubbed', () => {
  const refused = `permission: ec2:DetachNetworkInterface on ${DB.networkInterfaceId} (from primary ${DB.primaryInstanceId}): UnauthorizedOperation`;
  it('asks every function of the stack to rehearse; a pair not ready prints the refused call and exits 1', async () => {
    const aws = stubbedAws((_event, name) =>
      name === 'fn-one'
        ? [
            result({
              outcome: 'not-ready',
              pair: 'db',
              networkInterfaceId: DB.networkInterfaceId,
              reasons: [refused],
            }),
          ]
        : [
            result({
              outcome: 'ready',
              reasons: ['EC2 DryRun allows every call of a move in both directions'],
            }),
          ],
    );

    const code = await aws.run(['rehearse']);

    expect(code).toBe(1);
    const events = aws.lambdaMock
      .commandCalls(InvokeCommand)
      .map((c) => [c.args[0].input.FunctionName, decode(c.args[0].input.Payload)]);
    expect(events).toEqual([
      ['fn-one', { action: 'rehearse' }],
      ['fn-two', { action: 'rehearse' }],
    ]);
    const text = aws.out.join('\n');
    expect(text).toContain(`[db] NOT READY  ${DB.networkInterfaceId}`);
    expect(text).toContain(`  x ${refused}`);
    expect(text).toContain(`[web] READY      ${PAIR.networkInterfaceId}`);
  });

  it('every pair ready exits 0; --pair asks for that pair and leaves out the functions that do not serve it', async () => {
    const aws = stubbedAws((event, name) =>
      name === 'fn-two'
        ? [result({ outcome: 'ready', pair: String(event.pair) })]
        : [result({ outcome: 'ignored', pair: null, reasons: ['unknown pair "web"; configured: db'] })],
    );

    expect(await aws.run(['rehearse', '--pair', 'web'])).toBe(0);
    expect(aws.out.join('\n')).not.toContain('IGNORED');
    expect(decode(aws.lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload)).toEqual({
      action: 'rehearse',
      pair: 'web',
    });
  });

  it('a function that cannot be asked exits 2, naming it', async () => {
    const aws = stubbedAws(
      (_event, name) =>
        name === 'fn-one' ? { errorType: 'Error', errorMessage: 'boom' } : [result({ outcome: 'ready' })],
      (name) => (name === 'fn-one' ? 'Unhandled' : undefined),
    );
    expect(await aws.run(['rehearse'])).toBe(2);
    expect(aws.err.join('\n')).toContain('error: function fn-one: Error: boom');
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

  it('status of the fleet, from the real function: a move, a stopped standby and a misplaced one show, each with its exit code', async () => {
    // Two functions, as a stack with many pairs deploys them: fn-one has web, fn-two has api, whose
    // standby was put in the other AZ by mistake.
    const apiPrimary = await w.launch(w.subnetA);
    const api: Pair = {
      name: 'api',
      networkInterfaceId: await w.createEni(w.subnetA, { instanceId: apiPrimary, deviceIndex: 1 }),
      primaryInstanceId: apiPrimary,
      standbyInstanceId: w.decoy,
      deviceIndex: 1,
    };
    const functions: Record<string, { pairs: Pair[]; answer: (e: unknown) => Promise<unknown> }> = {
      'fn-one': { pairs: [w.pair], answer: localFailover([w.pair]).answer },
      'fn-two': { pairs: [api], answer: localFailover([api]).answer },
    };
    const lambda = new LambdaClient(creds);
    const cloudformation = new CloudFormationClient(creds);
    mockClient(cloudformation)
      .on(DescribeStacksCommand)
      .resolves({
        Stacks: [
          {
            StackName: 'EniFailover',
            CreationTime: new Date(),
            StackStatus: 'CREATE_COMPLETE',
            Outputs: [{ OutputKey: 'FunctionNames', OutputValue: 'fn-one,fn-two' }],
          },
        ],
      });
    mockClient(lambda)
      .on(GetFunctionConfigurationCommand)
      .callsFake(async (input: { FunctionName: string }) => ({
        Environment: { Variables: { FAILOVER_PAIRS: JSON.stringify(functions[input.FunctionName]?.pairs) } },
      }))
      .on(InvokeCommand)
      .callsFake(async (input: { FunctionName: string; Payload: Uint8Array }) => ({
        StatusCode: 200,
        Payload: encode(await functions[input.FunctionName]?.answer(decode(input.Payload))),
      }));
    let out: string[] = [];
    const drill = (...argv: string[]) => {
      out = [];
      return runDrill(argv, { lambda, cloudformation, out: (l) => out.push(l), err: (l) => out.push(l) });
    };

    expect(await drill('status'), out.join('\n')).toBe(1);
    let text = out.join('\n');
    expect(rowOf(text, 'web')).toMatch(
      /^web\s+primary\s+running, status ok\/ok\/EBS \S+, eu-west-1a\s+running.*\s+yes\s+0\/3\s+-\s+-\s+never$/,
    );
    expect(rowOf(text, 'api')).toMatch(/^api\s+primary\s+running.*eu-west-1b\s+NO\s+0\/3\s+-\s+-\s+never$/);
    expect(text).toContain('2 pairs: 1 protected; no member could take over now: api');

    expect(await drill('move', '--pair', 'web', '--to', 'standby')).toBe(0);
    expect(await drill('status')).toBe(1);
    expect(rowOf(out.join('\n'), 'web')).toMatch(
      /^web\s+standby\s+.*\s+yes\s+0\/3\s+-\s+-\s+\S+Z \(\d+ s ago\) primary -> standby$/,
    );

    // The web standby (now the holder) stops: its address is down until the function moves it.
    await w.stop(w.standby);
    expect(await drill('status', '--json')).toBe(1);
    const results = JSON.parse(out.join('\n')) as Result[];
    expect(results.map((r) => [r.pair, r.state?.holder, r.state?.redundant])).toEqual([
      ['web', 'standby', true],
      ['api', 'primary', false],
    ]);
    expect(await drill('status')).toBe(1);
    text = out.join('\n');
    expect(rowOf(text, 'web')).toMatch(/^web\s+standby \(FAILED\)\s+running.*\s+stopped, /);
    expect(text).toContain(
      '2 pairs: 0 protected; DOWN (attached to no one, or its holder failed): web; no member could take over now: api',
    );
    expect((await w.where()).holder).toBe(w.standby);
  });
});
