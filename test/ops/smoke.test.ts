import { describe, expect, it } from 'vitest';
import type { Result } from '../../lambda/result.ts';
import type { AwsPort, CdkPort, SmokeDeps, SmokeOptions } from '../../ops/smoke.ts';
import { runSmoke, smokeMain, USAGE } from '../../ops/smoke.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

// The deploy and destroy failures below cannot be made to happen against moto on purpose; the
// orchestration around them is what these tests show, so the ports are stubs that record calls.
// The paths themselves run against moto in smoke.moto.test.ts.

const options: SmokeOptions = {
  profile: 'sandbox',
  region: 'eu-west-2',
  stackName: 'EniFailoverDemo',
  keep: false,
  yes: true,
  json: false,
};

function world(overrides: { cdk?: Partial<CdkPort>; aws?: Partial<AwsPort>; confirm?: boolean } = {}) {
  const calls: string[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const unexpected = (name: string) => async () => {
    throw new Error(`${name} was not expected here`);
  };
  const aws = {
    bootstrap: async () => ({ account: '123456789012', region: 'eu-west-2' }),
    discover: async () => ({
      functionName: 'fn',
      notificationTopicArn: 'arn:aws:sns:eu-west-2:123456789012:topic',
      pair: { ...PAIR, name: 'demo' },
      alarmName: 'alarm',
    }),
    retained: async () => [],
    alarmState: unexpected('alarmState'),
    setAlarmState: unexpected('setAlarmState'),
    stop: unexpected('stop'),
    start: unexpected('start'),
    instanceState: unexpected('instanceState'),
    holder: async () => PAIR.primaryInstanceId,
    release: async () => {
      calls.push('release');
    },
    invoke: unexpected('invoke'),
    listen: unexpected('listen'),
    ...overrides.aws,
  } as AwsPort;
  const deps: SmokeDeps = {
    cdk: {
      deploy: async () => {
        calls.push('deploy');
      },
      destroy: async () => {
        calls.push('destroy');
      },
      ...overrides.cdk,
    },
    aws,
    confirm: async (question) => {
      calls.push(`confirm: ${question}`);
      return overrides.confirm ?? false;
    },
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    now: () => Date.now(),
    sleep: async () => undefined,
    timeouts: { settleMs: 0 },
  };
  return { deps, calls, out, err };
}

describe('npm run smoke: the command line', () => {
  it.each([
    [['--stack'], /Unknown option '--stack'/],
    [['deploy'], /positional argument/],
    [['--stack-name', '1bad_name'], /--stack-name must start with a letter .* got "1bad_name"/],
    [['--region'], /Option '--region <value>' argument missing/],
    [['--profile='], /--profile needs a value/],
  ])(
    '%j is a usage error: exit 2, the problem and the usage, nothing built or deployed',
    async (argv, message) => {
      const out: string[] = [];
      const err: string[] = [];
      let built = false;
      const code = await smokeMain(
        argv,
        () => {
          built = true;
          return world().deps;
        },
        { out: (l) => out.push(l), err: (l) => err.push(l) },
      );
      expect(code).toBe(2);
      expect(built).toBe(false);
      expect(err.join('\n')).toMatch(message);
      expect(err.join('\n')).toContain(USAGE);
    },
  );

  it('--help prints what it does, what it costs and the exit codes, and builds nothing', async () => {
    const out: string[] = [];
    const code = await smokeMain(
      ['--help'],
      () => {
        throw new Error('nothing may be built for --help');
      },
      { out: (l) => out.push(l), err: (l) => out.push(l) },
    );
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/SetAlarmState[\s\S]*t4g\.nano[\s\S]*Exit status: 0/);
  });
});

describe('npm run smoke: setup and cleanup', () => {
  it('asks before deploying, naming the account and region; a no deploys nothing (exit 2)', async () => {
    const { deps, calls, err } = world({ confirm: false });
    expect(await runSmoke({ ...options, yes: false }, deps)).toBe(2);
    expect(calls).toEqual([
      expect.stringMatching(/^confirm: Deploy EniFailoverDemo .* into account 123456789012, eu-west-2/),
    ]);
    expect(err.join('\n')).toContain('Nothing deployed');
  });

  it('without credentials: exit 2 naming --profile and --region, nothing deployed', async () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    const { deps, calls, err } = world({ aws: { bootstrap: () => Promise.reject(noCredentials) } });
    expect(await runSmoke(options, deps)).toBe(2);
    expect(calls).toEqual([]);
    expect(err.join('\n')).toMatch(
      /cannot reach AWS \(CredentialsProviderError: .*\); check --profile and --region/,
    );
  });

  it('a failed deploy: exit 2, and the stack is still destroyed (CloudFormation leaves a rolled-back stack)', async () => {
    const { deps, calls, err } = world({
      cdk: { deploy: () => Promise.reject(new Error('cdk deploy exited with 1: ROLLBACK_COMPLETE')) },
    });
    expect(await runSmoke(options, deps)).toBe(2);
    expect(calls).toEqual(['destroy']);
    expect(err.join('\n')).toContain('cdk deploy failed: cdk deploy exited with 1: ROLLBACK_COMPLETE');
  });

  it('a destroy that fails: exit 2, and the commands that remove the stack by hand, with the profile and the region the profile chose', async () => {
    const { deps, calls, err } = world({
      aws: { discover: () => Promise.reject(new Error('stack EniFailoverDemo has no FunctionNames output')) },
      cdk: { destroy: () => Promise.reject(new Error('cdk destroy exited with 1: DELETE_FAILED')) },
    });
    expect(await runSmoke({ ...options, region: undefined }, deps)).toBe(2);
    expect(calls).toEqual(['deploy']);
    const text = err.join('\n');
    expect(text).toContain(
      'the deployed stack is not as expected: stack EniFailoverDemo has no FunctionNames output',
    );
    expect(text).toContain('cdk destroy failed: cdk destroy exited with 1: DELETE_FAILED');
    expect(text).toContain(
      'aws cloudformation delete-stack --stack-name EniFailoverDemo --profile sandbox --region eu-west-2',
    );
  });

  it('--keep after a failure: nothing destroyed or detached, and the command that destroys it later', async () => {
    const { deps, calls, out } = world({
      aws: { listen: () => Promise.reject(new Error('AuthorizationError: not allowed to subscribe')) },
    });
    expect(await runSmoke({ ...options, keep: true, stackName: 'Smoke1' }, deps)).toBe(2);
    expect(calls).toEqual(['deploy']);
    expect(out.join('\n')).toContain(
      'kept Smoke1; remove it with: AWS_REGION=eu-west-2 npx cdk destroy -c demo=true -c stackName=Smoke1 --profile sandbox',
    );
  });
});

describe('npm run smoke: real EC2 timing that moto does not show', () => {
  it('starts the stopped primary only once it is stopped: EC2 refuses to start a stopping instance', async () => {
    // moto stops at once; real EC2 passes through `stopping` (the ENI moves then) for tens of seconds,
    // and StartInstances on a stopping instance fails with IncorrectInstanceState (EC2 API Reference).
    const notes: Result[] = [];
    let holder = PRIMARY;
    let primary = 'running';
    let looksWhileStopping = 0;
    const note = (outcome: Result['outcome'], from: string, to: string | null): Result => ({
      outcome,
      pair: 'demo',
      networkInterfaceId: PAIR.networkInterfaceId,
      from,
      to,
      deviceIndex: 1,
      reasons: [],
      steps: [{ name: 'observe', ms: 40 }],
    });
    const move = (to: string, dryRun = false) => {
      const r = note(dryRun ? 'dry-run' : 'moved', holder, to);
      if (!dryRun) holder = to;
      notes.push(r);
      return r;
    };
    const { deps, calls } = world({
      aws: {
        alarmState: async () => 'OK',
        setAlarmState: async (_name, state) => {
          if (state === 'ALARM') notes.push(note('unchanged', holder, null));
        },
        stop: async () => {
          primary = 'stopping';
          move(STANDBY);
        },
        instanceState: async () => {
          if (primary === 'stopping' && ++looksWhileStopping === 3) primary = 'stopped';
          return primary;
        },
        start: async () => {
          if (primary !== 'stopped')
            throw Object.assign(new Error('stopping'), { name: 'IncorrectInstanceState' });
          calls.push('start');
          primary = 'running';
        },
        holder: async () => holder,
        invoke: async (_fn, event) => {
          const e = event as { dryRun?: boolean };
          return move(PRIMARY, e.dryRun === true);
        },
        listen: async () => ({
          receive: async () =>
            notes.splice(0).map((result) => ({ subject: `eni-failover demo: ${result.outcome}`, result })),
          close: async () => undefined,
        }),
      },
    });
    expect(await runSmoke(options, deps)).toBe(0);
    expect(looksWhileStopping).toBe(3);
    expect(calls).toEqual(['deploy', 'start', 'release', 'destroy']);
    expect(holder).toBe(PRIMARY);
  });
});
