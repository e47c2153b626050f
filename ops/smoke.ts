import { parseArgs } from 'node:util';
import type { Pair } from '../lambda/config.ts';
import type { Outcome, Result } from '../lambda/result.ts';
import { UsageError } from './drill.ts';
import { formatResult, type Names } from './format.ts';

export const DEMO_STACK = 'EniFailoverDemo';

export const USAGE = `usage: npm run smoke -- [options]

Deploys the demo stack (cdk deploy -c demo=true) into an AWS account, drives every way a failover
starts, for real, and destroys the stack again:
  1. SetAlarmState ALARM on the primary's status-check alarm: CloudWatch runs the alarm's action
     (alarm topic -> function), which finds the primary healthy and leaves the ENI there
  2. a stop of the primary: EventBridge's state-change event -> function, which moves the ENI
     to the standby
  3. the primary started again, then a drill: a dry run, then the real move back (the fail-back)
Each path waits for the ENI to be where it should (read from EC2) and for the function's
notification (an SQS queue subscribed to the notification topic), and prints the timeline.

Use a sandbox account: it runs two t4g.nano instances for about 15 minutes.

Options:
  --profile <name>     the AWS profile (default: the SDK's default credential chain)
  --region <region>    the region (default: the profile's or AWS_REGION)
  --stack-name <name>  the stack (default: ${DEMO_STACK})
  --keep               leave the stack deployed afterwards (also after a failure)
  --yes                deploy without asking (there is no question without a terminal)
  --json               print the report as JSON (cdk's progress still goes to stderr)
  --help               print this help

Exit status: 0 when every path behaved, 1 when one did not, 2 on a usage or setup error (no
credentials, an environment that is not bootstrapped, a failed deploy or destroy).`;

export interface SmokeOptions {
  profile: string | undefined;
  region: string | undefined;
  stackName: string;
  keep: boolean;
  yes: boolean;
  json: boolean;
}

export function parseSmokeArgs(argv: string[]): SmokeOptions | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        profile: { type: 'string' },
        region: { type: 'string' },
        'stack-name': { type: 'string', default: DEMO_STACK },
        keep: { type: 'boolean', default: false },
        yes: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const stackName = values['stack-name'] as string;
  // CloudFormation: a stack name starts with a letter; letters, digits and hyphens; at most 128.
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    throw new UsageError(
      `--stack-name must start with a letter and hold only letters, digits and hyphens (at most 128), got "${stackName}"`,
    );
  }
  for (const name of ['profile', 'region'] as const) {
    if (values[name] === '') throw new UsageError(`--${name} needs a value`);
  }
  return {
    profile: values.profile as string | undefined,
    region: values.region as string | undefined,
    stackName,
    keep: values.keep === true,
    yes: values.yes === true,
    json: values.json === true,
  };
}

/** The demo stack as deployed: what the paths drive and watch. */
export interface Deployed {
  functionName: string;
  notificationTopicArn: string;
  pair: Pair;
  /** The status-check alarm on the pair's primary. */
  alarmName: string;
}

/** A notification as the queue received it: the function's result, or something else on the topic. */
export interface Notification {
  subject: string;
  result: Result | undefined;
}

export interface Listener {
  /** Notifications that arrived, waiting up to `waitSeconds` for the first. */
  receive(waitSeconds: number): Promise<Notification[]>;
  close(): Promise<void>;
}

/** What a resource that outlives `cdk destroy` (DeletionPolicy Retain) is, and how to remove it. */
export interface Retained {
  type: string;
  id: string;
  removeWith: string;
}

/** Deploying and destroying (the project's CDK CLI). */
export interface CdkPort {
  deploy(): Promise<void>;
  destroy(): Promise<void>;
}

/** Everything the smoke test asks of AWS. smoke-aws.ts has the real one over SDK clients. */
export interface AwsPort {
  /** The account and region of the CDK bootstrap stack; undefined when it is not bootstrapped. */
  bootstrap(): Promise<{ account: string; region: string } | undefined>;
  discover(): Promise<Deployed>;
  /** The stack's resources that its template retains after a destroy. */
  retained(): Promise<Retained[]>;
  alarmState(alarmName: string): Promise<string | undefined>;
  setAlarmState(alarmName: string, state: 'ALARM' | 'OK', reason: string): Promise<void>;
  stop(instanceId: string): Promise<void>;
  start(instanceId: string): Promise<void>;
  instanceState(instanceId: string): Promise<string | undefined>;
  holder(networkInterfaceId: string): Promise<string | null>;
  /** Detach the ENI from whoever holds it (not forced), and wait until it is available. */
  release(networkInterfaceId: string): Promise<void>;
  /** A synchronous Invoke; throws when the function threw. */
  invoke(functionName: string, event: unknown): Promise<Result>;
  listen(topicArn: string): Promise<Listener>;
}

export interface SmokeDeps {
  cdk: CdkPort;
  aws: AwsPort;
  confirm(question: string): Promise<boolean>;
  out(line: string): void;
  err(line: string): void;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** How long to wait; the real figures are in TIMEOUTS. */
  timeouts?: Partial<typeof TIMEOUTS>;
}

export const TIMEOUTS = {
  /** From a trigger to the ENI in place and the notification received. */
  pathMs: 180_000,
  /** A t4g.nano from stopped to running. */
  startMs: 300_000,
  /**
   * After subscribing the queue: SNS documents "a small time period immediately after subscribing
   * the SQS queue ... where messages are not able to be delivered" (SNS SubscribeQueue).
   */
  settleMs: 10_000,
  /** Between two looks at EC2. */
  pollMs: 2_000,
};

interface Path {
  name: string;
  /** Starts the path; returns the function's answer when the trigger is a synchronous invoke. */
  trigger(d: Deployed, aws: AwsPort): Promise<Result | undefined>;
  outcome: Outcome;
  holder(pair: Pair): string;
  says: string;
}

const PATHS: Path[] = [
  {
    name: 'status-check alarm (SetAlarmState ALARM)',
    trigger: async (d, aws) => {
      // An alarm action runs on a state change only: from ALARM already, set OK first.
      if ((await aws.alarmState(d.alarmName)) === 'ALARM') {
        await aws.setAlarmState(d.alarmName, 'OK', 'eni-failover smoke test: reset before the test');
      }
      // CloudWatch API Reference, SetAlarmState: when the new state differs from the previous one,
      // the action configured for that state is invoked.
      await aws.setAlarmState(d.alarmName, 'ALARM', 'eni-failover smoke test: SetAlarmState');
      return undefined;
    },
    outcome: 'unchanged',
    holder: (p) => p.primaryInstanceId,
    says: 'the alarm reached the function, which found the primary healthy and left the ENI on it',
  },
  {
    name: 'stop of the primary (EventBridge state change)',
    trigger: async (d, aws) => {
      await aws.stop(d.pair.primaryInstanceId);
      return undefined;
    },
    outcome: 'moved',
    holder: (p) => p.standbyInstanceId,
    says: 'the ENI moved to the standby',
  },
  {
    name: 'drill: dry run of the fail-back',
    trigger: (d, aws) =>
      aws.invoke(d.functionName, { action: 'move', pair: d.pair.name, to: 'primary', dryRun: true }),
    outcome: 'dry-run',
    holder: (p) => p.standbyInstanceId,
    says: 'every check passed and nothing moved',
  },
  {
    name: 'drill: the fail-back',
    trigger: (d, aws) => aws.invoke(d.functionName, { action: 'move', pair: d.pair.name, to: 'primary' }),
    outcome: 'moved',
    holder: (p) => p.primaryInstanceId,
    says: 'the ENI is home on the primary',
  },
];

/** One path as it happened. */
export interface PathReport {
  name: string;
  expected: Outcome;
  ok: boolean;
  /** The function's answer (its notification, or the invoke's result). */
  result: Result | undefined;
  /** From the trigger to EC2 showing the ENI where it should be (for the paths that move it). */
  triggerToPlacedMs: number | undefined;
  /** From the trigger to the notification in the queue (polled: within about a second). */
  triggerToNotifiedMs: number | undefined;
  problem: string | undefined;
}

export interface SmokeReport {
  ok: boolean;
  stackName: string;
  account: string | undefined;
  region: string | undefined;
  paths: PathReport[];
  timeline: { atMs: number; what: string }[];
  destroyed: boolean;
  problems: string[];
}

class SetupError extends Error {
  override readonly name = 'SetupError';
}

/** The smoke test: returns the exit status (0 every path behaved, 1 one did not, 2 setup). */
export async function runSmoke(given: SmokeOptions, deps: SmokeDeps): Promise<number> {
  let options = given;
  const limits = { ...TIMEOUTS, ...deps.timeouts };
  const started = deps.now();
  const report: SmokeReport = {
    ok: false,
    stackName: options.stackName,
    account: undefined,
    region: undefined,
    paths: [],
    timeline: [],
    destroyed: false,
    problems: [],
  };
  const say = (line: string) => {
    if (!options.json) deps.out(line);
  };
  const mark = (what: string) => {
    const atMs = deps.now() - started;
    report.timeline.push({ atMs, what });
    say(`${`+${(atMs / 1000).toFixed(1)} s`.padStart(9)}  ${what}`);
  };
  const finish = (code: number) => {
    if (options.json) deps.out(JSON.stringify(report, null, 2));
    return code;
  };

  const env = await preflight(options, deps);
  if (!env) return finish(2);
  // The region the profile chose, when --region did not: every command printed from here names it.
  options = { ...options, region: env.region };
  report.account = env.account;
  report.region = env.region;
  const where = `account ${env.account}, ${env.region}`;

  let deployed: Deployed | undefined;
  let listener: Listener | undefined;
  let code = 0;
  let retained: Retained[] = [];
  try {
    mark(`cdk deploy ${options.stackName} into ${where}`);
    await deps.cdk.deploy().catch((error: Error) => {
      throw new SetupError(`cdk deploy failed: ${error.message}`);
    });
    retained = await deps.aws.retained().catch(() => []);
    deployed = await deps.aws.discover().catch((error: Error) => {
      throw new SetupError(`the deployed stack is not as expected: ${error.message}`);
    });
    const { pair } = deployed;
    const names: Names = { [pair.primaryInstanceId]: 'primary', [pair.standbyInstanceId]: 'standby' };
    mark(
      `deployed: ${pair.networkInterfaceId} of pair ${pair.name} on ${await deps.aws.holder(pair.networkInterfaceId)}; primary ${pair.primaryInstanceId}, standby ${pair.standbyInstanceId}`,
    );
    listener = await deps.aws.listen(deployed.notificationTopicArn);
    mark(`queue subscribed to ${deployed.notificationTopicArn}`);
    await deps.sleep(limits.settleMs);

    for (const [i, path] of PATHS.entries()) {
      // The drill fails back to the primary, which the second path stopped.
      if (i === 2) await restart(pair.primaryInstanceId, deps, limits, mark);
      say(`\n== ${i + 1}. ${path.name}`);
      const entry = await runPath(path, deployed, listener, deps, limits, mark);
      report.paths.push(entry);
      if (entry.result) say(indent(formatResult(entry.result, names)));
      if (!entry.ok) {
        say(`  NOT AS EXPECTED: ${entry.problem}`);
        code = 1;
        break;
      }
      say(`  OK: ${path.says}`);
    }
  } catch (error) {
    const problem = (error as Error).message;
    report.problems.push(problem);
    deps.err(`error: ${problem}`);
    code = error instanceof PathError ? 1 : 2;
  } finally {
    if (listener) await listener.close().catch(() => undefined);
    if (options.keep) {
      mark(`kept ${options.stackName}; remove it with: ${cdkCommand(options, 'destroy')}`);
    } else {
      code = Math.max(code, await destroy(options, deps, deployed, retained, report, mark));
    }
  }
  if (!options.json) {
    deps.out('');
    if (report.paths.length > 0) for (const line of figures(report.paths)) deps.out(line);
    deps.out(
      code === 0
        ? `\nEvery path behaved (${report.paths.length} of ${PATHS.length}).`
        : `\nThe smoke test did not pass (${report.paths.filter((p) => p.ok).length} of ${PATHS.length} paths behaved).`,
    );
  }
  report.ok = code === 0;
  return finish(code);
}

/**
 * Starts an instance the stop path stopped. The ENI moves on `stopping`, and EC2 cannot start an
 * instance that is still stopping (IncorrectInstanceState), so wait for `stopped` first.
 */
async function restart(
  instanceId: string,
  deps: SmokeDeps,
  limits: typeof TIMEOUTS,
  mark: (what: string) => void,
): Promise<void> {
  const reaches = async (state: string) =>
    (await until(deps, limits.startMs, limits.pollMs, async () =>
      (await deps.aws.instanceState(instanceId)) === state ? true : undefined,
    )) ?? false;
  if (!(await reaches('stopped'))) {
    throw new PathError(`the primary ${instanceId} did not reach stopped within ${limits.startMs / 1000} s`);
  }
  mark(`the primary is stopped; start it`);
  await deps.aws.start(instanceId);
  if (!(await reaches('running'))) {
    throw new PathError(`the primary ${instanceId} did not reach running within ${limits.startMs / 1000} s`);
  }
  mark('the primary is running');
}

/** Where it would deploy, once the environment is bootstrapped and the operator agrees; else undefined. */
async function preflight(
  options: SmokeOptions,
  deps: SmokeDeps,
): Promise<{ account: string; region: string } | undefined> {
  const env = await deps.aws.bootstrap().catch((error: Error) => {
    deps.err(`error: cannot reach AWS (${error.name}: ${error.message}); check --profile and --region`);
    return null;
  });
  if (env === null) return undefined;
  if (env === undefined) {
    deps.err(
      'error: this account and region are not bootstrapped for the CDK (no CDKToolkit stack): run\n' +
        `  npx cdk bootstrap${options.profile ? ` --profile ${options.profile}` : ''} aws://ACCOUNT/${options.region ?? 'REGION'}`,
    );
    return undefined;
  }
  if (options.yes) return env;
  const yes = await deps.confirm(
    `Deploy ${options.stackName} (two t4g.nano instances, a Lambda function, alarms) into account ${env.account}, ${env.region}, stop and move things in it, then destroy it?`,
  );
  if (yes) return env;
  deps.err('Nothing deployed (confirm with y, or pass --yes).');
  return undefined;
}

/** The command a person would type for this stack. */
function cdkCommand(options: SmokeOptions, verb: string): string {
  const stack = options.stackName === DEMO_STACK ? '' : ` -c stackName=${options.stackName}`;
  const profile = options.profile ? ` --profile ${options.profile}` : '';
  const region = options.region ? `AWS_REGION=${options.region} ` : '';
  return `${region}npx cdk ${verb} -c demo=true${stack}${profile}`;
}

class PathError extends Error {
  override readonly name = 'PathError';
}

/** Polls `look` until it answers, or the time is up (undefined). */
async function until<T>(
  deps: SmokeDeps,
  timeoutMs: number,
  pollMs: number,
  look: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const deadline = deps.now() + timeoutMs;
  for (;;) {
    const seen = await look();
    if (seen !== undefined) return seen;
    if (deps.now() >= deadline) return undefined;
    await deps.sleep(pollMs);
  }
}

// A notification of these for the pair, while waiting for another outcome, ends the wait.
const FINAL: readonly Outcome[] = ['refused', 'failed', 'ignored'];

async function runPath(
  path: Path,
  d: Deployed,
  listener: Listener,
  deps: SmokeDeps,
  limits: typeof TIMEOUTS,
  mark: (what: string) => void,
): Promise<PathReport> {
  const entry: PathReport = {
    name: path.name,
    expected: path.outcome,
    ok: false,
    result: undefined,
    triggerToPlacedMs: undefined,
    triggerToNotifiedMs: undefined,
    problem: undefined,
  };
  const want = path.holder(d.pair);
  const moves = path.outcome === 'moved';
  const t0 = deps.now();
  mark(`trigger: ${path.name}`);
  try {
    entry.result = await path.trigger(d, deps.aws);
  } catch (error) {
    entry.problem = `the trigger failed: ${(error as Error).name}: ${(error as Error).message}`;
    return entry;
  }
  if (entry.result) mark(`the function answered ${entry.result.outcome}`);
  let holder: string | null = null;
  let unexpected: Result | undefined;
  await until(deps, limits.pathMs, 0, async () => {
    for (const n of await listener.receive(Math.max(1, Math.round(limits.pollMs / 1000)))) {
      mark(`notification: "${n.subject}"`);
      if (n.result?.pair !== d.pair.name) continue;
      if (n.result.outcome === path.outcome && entry.triggerToNotifiedMs === undefined) {
        entry.triggerToNotifiedMs = deps.now() - t0;
        entry.result = n.result;
      } else if (FINAL.includes(n.result.outcome) && n.result.outcome !== path.outcome) {
        unexpected = n.result;
      }
    }
    holder = await deps.aws.holder(d.pair.networkInterfaceId);
    if (holder === want && moves && entry.triggerToPlacedMs === undefined) {
      entry.triggerToPlacedMs = deps.now() - t0;
      mark(`EC2: ${d.pair.networkInterfaceId} is on ${want}`);
    }
    const done = entry.triggerToNotifiedMs !== undefined && holder === want;
    return done || unexpected ? true : undefined;
  });
  if (unexpected) {
    entry.result = unexpected;
    entry.problem = `the function answered ${unexpected.outcome} (${unexpected.reasons.join('; ')})`;
  } else if (entry.triggerToNotifiedMs === undefined) {
    entry.problem = `no "${path.outcome}" notification for pair ${d.pair.name} within ${limits.pathMs / 1000} s`;
  } else if (holder !== want) {
    entry.problem = `the ENI is on ${holder ?? 'no one'}, not on ${want}`;
  } else if (entry.result?.outcome !== path.outcome) {
    entry.problem = `the function answered ${entry.result?.outcome}, not ${path.outcome}`;
  } else {
    entry.ok = true;
  }
  return entry;
}

async function destroy(
  options: SmokeOptions,
  deps: SmokeDeps,
  deployed: Deployed | undefined,
  retained: Retained[],
  report: SmokeReport,
  mark: (what: string) => void,
): Promise<number> {
  try {
    if (deployed) {
      // The function moved the ENI under attachments CloudFormation did not make; CloudFormation
      // cannot delete it while attached (EC2 API Reference, DeleteNetworkInterface: "You must detach
      // the network interface before you can delete it"), so let it go first.
      const eni = deployed.pair.networkInterfaceId;
      await deps.aws.release(eni).then(
        () => mark(`detached ${eni} so that CloudFormation can delete it`),
        (error: Error) =>
          mark(`could not detach ${eni} (${error.name}: ${error.message}); destroying all the same`),
      );
    }
    mark(`cdk destroy ${options.stackName}`);
    await deps.cdk.destroy();
    report.destroyed = true;
    mark('destroyed');
  } catch (error) {
    const problem = `cdk destroy failed: ${(error as Error).message}`;
    report.problems.push(problem);
    const profile = options.profile ? ` --profile ${options.profile}` : '';
    const region = options.region ? ` --region ${options.region}` : '';
    deps.err(
      [
        `error: ${problem}`,
        `The stack ${options.stackName} may still exist and cost money. Remove it by hand:`,
        `  aws cloudformation delete-stack --stack-name ${options.stackName}${profile}${region}`,
        `  aws cloudformation describe-stack-events --stack-name ${options.stackName}${profile}${region}   # what failed`,
        'An ENI that is still attached blocks the delete: detach it (aws ec2 detach-network-interface) and delete the stack again.',
      ].join('\n'),
    );
    return 2;
  }
  if (retained.length > 0 && !options.json) {
    deps.out('\nThe stack retains these after a destroy (their DeletionPolicy); remove them when done:');
    for (const r of retained) deps.out(`  ${r.type} ${r.id}: ${r.removeWith}`);
  }
  return 0;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

/** The figures: for each path, how long each hop took as seen from here and inside the function. */
export function figures(paths: PathReport[]): string[] {
  const rows = [['path', 'outcome', 'trigger->EC2', 'trigger->notified', 'in the function']];
  for (const p of paths) {
    const inside = p.result?.steps.reduce((sum, s) => sum + s.ms, 0);
    rows.push([
      p.name,
      p.result?.outcome ?? '-',
      seconds(p.triggerToPlacedMs),
      seconds(p.triggerToNotifiedMs),
      seconds(inside),
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** The command line: parses, builds the real (or a test's) ports, runs. Returns the exit status. */
export async function smokeMain(
  argv: string[],
  build: (options: SmokeOptions) => SmokeDeps,
  io: Pick<SmokeDeps, 'out' | 'err'>,
): Promise<number> {
  let options: SmokeOptions | 'help';
  try {
    options = parseSmokeArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    io.out(USAGE);
    return 0;
  }
  return runSmoke(options, build(options));
}
