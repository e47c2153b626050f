import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ENV, type Pair, roleOf } from '../lambda/config.ts';
import type { Result } from '../lambda/result.ts';
import { formatFleet, formatResult, unprotected } from './format.ts';

export const USAGE = `usage: npm run drill -- <command> [--pair <name>] [options]

Rehearse and perform failovers of a deployed eni-failover stack, and see where every address is.

Commands:
  status                 every pair of every failover function of the stack, as a table: who holds
                         the ENI, each member's health, whether the other member could take it now
                         (redundant), and the last move
  status --pair <name>   one pair: where its ENI is, both members' health, whether a move would pass
  drill --pair <name>    a dry run: every check, plus EC2 DryRun of the detach and the attach;
                         nothing changes
  move --pair <name>     a real move, to --to standby (a drill) or primary (a fail-back)
  rehearse [--pair <name>]
                         every pair (or one) of every failover function: each call a move could
                         make, in both directions, tried with EC2 DryRun by the function's own
                         role (StopInstances too for pairs with fence), the state table's write,
                         and every check; nothing changes. What the deploy and the daily schedule run
  maintenance --pair <name> <duration>
                         pause the pair's automatic moves for 30m, 2h or 90 (minutes), at most a
                         week; recorded in the pair's state, shown by status; manual moves still work
  maintenance --pair <name> off
                         end the pause now

Every command names its pair the same way, --pair <name>. \`<command> --help\` shows one command with an example.

Options:
  --pair <name>          the pair, as named in the configuration (required by drill, move and maintenance)
  --to standby|primary   with move: where the ENI goes (default: the member that does not hold it)
  --stack-name <name>    the deployed stack whose outputs name the function(s) (default: EniFailover)
  --function-name <name> ask this function only, instead of those the stack names
  --region <region>      the AWS region (default: the SDK's, e.g. AWS_REGION)
  --reason <text>        with maintenance: who and why, recorded with the window (default: the drill CLI and
                         your user name)
  --json                 print the function's raw result (status of the fleet: one array of them all)
  --help                 print this help

Exit status:
  status  0 when every pair shown is protected: its ENI is on a healthy member and the other
          member could take it now; 1 when one is not (the address is down: attached to no one
          or to a failed member; or it has no working standby; or it is in maintenance, its
          automatic moves paused); 2 when a function could not be asked or failed.
  drill, move
          0 when the ENI ends where asked (or nothing needed doing), 1 on a refusal or an
          ignored request, 2 on a failure.
  maintenance
          0 when the window is set (or ended), 1 when the function ignored or refused it, 2 on
          a failure.
  rehearse
          0 when every pair asked is ready, 1 when one is not (or the pair is unknown), 2 when a
          function could not be asked or failed.
  A usage error exits 2.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface DrillDeps {
  lambda: LambdaClient;
  cloudformation: CloudFormationClient;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** One command's help, with an example (`npm run drill -- <command> --help`). */
export const COMMAND_HELP: Record<Options['command'], string> = {
  status: `usage: npm run drill -- status [--pair <name>] [--json]

Every pair of the stack as a table, or one pair in full. Exit 0 when every pair shown is protected.
Example: npm run drill -- status --pair web`,
  drill: `usage: npm run drill -- drill --pair <name> [--to standby|primary]

A dry run of a move: every check, plus EC2's DryRun of the detach and the attach. Nothing changes.
Example: npm run drill -- drill --pair web`,
  move: `usage: npm run drill -- move --pair <name> [--to standby|primary]

A real move (a drill, or a fail-back with --to primary). Never forced: a detach that does not finish in 20 s fails.
Example: npm run drill -- move --pair web --to primary`,
  rehearse: `usage: npm run drill -- rehearse [--pair <name>]

Every call a move could make, in both directions, tried with DryRun by the function's own role; every check.
Example: npm run drill -- rehearse`,
  maintenance: `usage: npm run drill -- maintenance --pair <name> <30m|2h|90|off> [--reason <text>]

Pause (or end the pause of) the pair's automatic moves; a holder that fails meanwhile pages DOWN once.
Example: npm run drill -- maintenance --pair web 30m --reason "kernel patch, by ana"`,
};

const COMMANDS = Object.keys(COMMAND_HELP) as Options['command'][];

interface Options {
  command: 'status' | 'drill' | 'move' | 'maintenance' | 'rehearse';
  /** A note for the operator: an older form of the command, still accepted. */
  hint?: string;
  /** Undefined: status of every pair. */
  pair: string | undefined;
  to: 'standby' | 'primary' | undefined;
  /** maintenance: the window's length (0 ends it) and who/why. */
  minutes: number | undefined;
  reason: string | undefined;
  stackName: string;
  functionName: string | undefined;
  json: boolean;
}

function parseCli(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        pair: { type: 'string' },
        to: { type: 'string' },
        reason: { type: 'string' },
        'stack-name': { type: 'string', default: 'EniFailover' },
        'function-name': { type: 'string' },
        region: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The most a maintenance window may last, as the function accepts it (lambda/events.ts). */
const MAINTENANCE_MAX_MINUTES = 7 * 24 * 60;

/** "30m", "2h", "90" (minutes) or "off" -> whole minutes; 0 ends the window. */
export function parseDuration(text: string): number {
  if (text === 'off') return 0;
  const m = /^(\d+)(m|h)?$/.exec(text);
  if (!m)
    throw new UsageError(`the maintenance duration must be like 30m, 2h, 90 (minutes) or off, got "${text}"`);
  const minutes = Number(m[1]) * (m[2] === 'h' ? 60 : 1);
  if (minutes === 0) throw new UsageError('a maintenance window of 0 minutes: to end one, say off');
  if (minutes > MAINTENANCE_MAX_MINUTES)
    throw new UsageError(
      `a maintenance window lasts at most a week (${MAINTENANCE_MAX_MINUTES} min), got "${text}"`,
    );
  return minutes;
}

/** maintenance --pair <pair> <duration|off>; the older maintenance <pair> <duration|off> still works, with a hint. */
function parseMaintenance(rest: string[], pairOption: string | undefined) {
  const args = pairOption === undefined ? rest : [pairOption, ...rest];
  if (args.length !== 2)
    throw new UsageError(
      'maintenance takes a pair and a duration: maintenance --pair web 30m, or maintenance --pair web off',
    );
  const [pair, duration] = args as [string, string];
  const hint =
    pairOption === undefined
      ? `hint: name the pair as every command does: npm run drill -- maintenance --pair ${pair} ${duration}`
      : undefined;
  return { pair, minutes: parseDuration(duration), ...(hint ? { hint } : {}) };
}

export function parseDrillArgs(argv: string[]): Options | { help: string } {
  const parsed = parseCli(argv);
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help)
    return {
      help: COMMANDS.includes(command as Options['command'])
        ? COMMAND_HELP[command as Options['command']]
        : USAGE,
    };
  if (!command) throw new UsageError('a command is required: status, drill, move, rehearse or maintenance');
  if (command === 'maintenance') {
    if (values.to !== undefined) throw new UsageError('--to goes with move, not maintenance');
    if (values.reason !== undefined && (values.reason.length === 0 || values.reason.length > 150))
      throw new UsageError(`--reason must be 1 to 150 characters, got ${values.reason.length}`);
    return {
      command,
      ...parseMaintenance(rest, values.pair),
      to: undefined,
      reason: values.reason,
      stackName: values['stack-name'],
      functionName: values['function-name'],
      json: values.json,
    };
  }
  if (values.reason !== undefined) throw new UsageError(`--reason goes with maintenance, not ${command}`);
  if (command !== 'status' && command !== 'drill' && command !== 'move' && command !== 'rehearse') {
    throw new UsageError(
      `unknown command "${command}": expected status, drill, move, rehearse or maintenance`,
    );
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument(s): ${rest.join(' ')}`);
  if (!values.pair && command !== 'status' && command !== 'rehearse')
    throw new UsageError(`--pair is required by ${command}`);
  if (values.to !== undefined && values.to !== 'standby' && values.to !== 'primary') {
    throw new UsageError(`--to must be standby or primary, got "${values.to}"`);
  }
  if (values.to !== undefined && command !== 'move')
    throw new UsageError(`--to goes with move, not ${command}`);
  return {
    command,
    pair: values.pair,
    to: values.to,
    minutes: undefined,
    reason: undefined,
    stackName: values['stack-name'],
    functionName: values['function-name'],
    json: values.json,
  };
}

/** The region option, for building the clients before the rest is parsed. */
export function regionOf(argv: string[]): string | undefined {
  const i = argv.indexOf('--region');
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--region='))?.slice('--region='.length);
}

/** The stack's failover functions: its FunctionNames output (one function per group of pairs). */
async function stackFunctions(deps: DrillDeps, stackName: string): Promise<string[]> {
  const stacks = await deps.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = stacks.Stacks?.[0]?.Outputs ?? [];
  const names = outputs.find((o) => o.OutputKey === 'FunctionNames')?.OutputValue;
  if (!names) throw new Error(`stack ${stackName} has no FunctionNames output: is it an eni-failover stack?`);
  return names.split(',');
}

/** The pairs in a function's FAILOVER_PAIRS: functions deployed before the pairs moved to a file in the code. */
async function inlinePairs(lambda: LambdaClient, name: string): Promise<Pair[] | undefined> {
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
  const inline = config.Environment?.Variables?.[ENV.pairs];
  return inline === undefined ? undefined : (JSON.parse(inline) as Pair[]);
}

/** The pairs that status results show: each names its pair, ENI and members. */
const pairsIn = (results: readonly Result[]): Pair[] =>
  results.flatMap((r) =>
    r.state?.members && r.pair !== null && r.networkInterfaceId !== null
      ? [
          {
            name: r.pair,
            networkInterfaceId: r.networkInterfaceId,
            primaryInstanceId: r.state.members.primary,
            standbyInstanceId: r.state.members.standby,
            deviceIndex: r.deviceIndex ?? 1,
          },
        ]
      : [],
  );
const asList = (answer: Result | Result[]): Result[] => (Array.isArray(answer) ? answer : [answer]);

/**
 * The pairs a function manages: its FAILOVER_PAIRS where it has one, else its answer to `{"action":"status"}`
 * (the stack puts the pairs in a file in the function's code, which the Lambda API does not show).
 */
export async function functionPairs(lambda: LambdaClient, name: string): Promise<Pair[]> {
  return (
    (await inlinePairs(lambda, name)) ?? pairsIn(asList(await invoke(lambda, name, { action: 'status' })))
  );
}

/** The function that serves a pair: the stack's functions, asked which pairs each has. */
async function findFunction(
  deps: DrillDeps,
  stackName: string,
  pair: string,
): Promise<{ name: string; pair: Pair }> {
  const known: string[] = [];
  for (const name of await stackFunctions(deps, stackName)) {
    const inline = await inlinePairs(deps.lambda, name);
    // A function answers the status of its own pair only (another's is `ignored`, unknown pair).
    const pairs = inline ?? pairsIn(asList(await invoke(deps.lambda, name, { action: 'status', pair })));
    const found = pairs.find((p) => p.name === pair);
    if (found) return { name, pair: found };
    known.push(...(inline ?? (await functionPairs(deps.lambda, name))).map((p) => p.name));
  }
  throw new Error(`stack ${stackName} has no pair "${pair}"; it has: ${known.join(', ') || 'none'}`);
}

/** Invokes a function with a manual event; a FunctionError (the function threw) is thrown with its message. */
async function invoke(lambda: LambdaClient, name: string, event: unknown): Promise<Result | Result[]> {
  const response = await lambda.send(
    new InvokeCommand({ FunctionName: name, Payload: new TextEncoder().encode(JSON.stringify(event)) }),
  );
  const payload = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  if (response.FunctionError) {
    // The function threw: a failover stopped part-way. Its notification says where the ENI is.
    const error = payload ? (JSON.parse(payload) as { errorType?: string; errorMessage?: string }) : {};
    throw new FunctionFailed(`${error.errorType ?? 'Error'}: ${error.errorMessage ?? payload}`);
  }
  return JSON.parse(payload) as Result | Result[];
}

/** The operator's user name, for the maintenance tag's "by whom". */
function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return 'an unknown user';
  }
}

class FunctionFailed extends Error {
  override readonly name = 'FunctionFailed';
}

function exitCodeOf(r: Result): number {
  if (r.outcome === 'failed') return 2;
  if (r.outcome === 'refused' || r.outcome === 'ignored') return 1;
  return 0;
}

/** status: 1 when a pair is not protected (see USAGE), else as any result. */
function statusExitCode(results: readonly Result[]): number {
  const worst = Math.max(0, ...results.map(exitCodeOf));
  const { down, notRedundant, paused } = unprotected(results);
  return Math.max(worst, down.length + notRedundant.length + paused.length > 0 ? 1 : 0);
}

/** status without --pair: every function of the stack (or the one named) asked at once, one table. */
async function fleetStatus(deps: DrillDeps, options: Options): Promise<number> {
  const names = options.functionName ? [options.functionName] : await stackFunctions(deps, options.stackName);
  const answers = await Promise.all(
    names.map(async (name) => {
      try {
        const [inline, answer] = await Promise.all([
          inlinePairs(deps.lambda, name),
          invoke(deps.lambda, name, { action: 'status' }),
        ]);
        const results = asList(answer);
        return { name, pairs: inline ?? pairsIn(results), results };
      } catch (error) {
        return { name, error: (error as Error).message };
      }
    }),
  );
  const results = answers.flatMap((a) => a.results ?? []);
  if (options.json) deps.out(JSON.stringify(results, null, 2));
  else {
    deps.out(
      formatFleet(
        results,
        answers.flatMap((a) => a.pairs ?? []),
      ),
    );
    // Anything that is not a status (an older function's answer, say) is shown as it came.
    for (const r of results.filter((x) => !x.state)) deps.out(`\n${formatResult(r)}`);
  }
  const failed = answers.filter((a) => a.error !== undefined);
  for (const a of failed) deps.err(`error: function ${a.name}: ${a.error}`);
  return failed.length > 0 ? 2 : statusExitCode(results);
}

/**
 * rehearse: every function of the stack (or the one named) asked at once, `{"action":"rehearse"}` (with the pair
 * when given: a function that does not serve it answers `ignored`, and is left out when another serves it).
 */
async function rehearseAll(deps: DrillDeps, options: Options): Promise<number> {
  const names = options.functionName ? [options.functionName] : await stackFunctions(deps, options.stackName);
  const event = { action: 'rehearse', ...(options.pair ? { pair: options.pair } : {}) };
  const answers = await Promise.all(
    names.map(async (name) => {
      try {
        return { name, results: asList(await invoke(deps.lambda, name, event)) };
      } catch (error) {
        return { name, error: (error as Error).message };
      }
    }),
  );
  let results = answers.flatMap((a) => a.results ?? []);
  if (options.pair && results.some((r) => r.pair === options.pair))
    results = results.filter((r) => r.outcome !== 'ignored');
  if (options.json) deps.out(JSON.stringify(results, null, 2));
  else deps.out(results.map((r) => formatResult(r)).join('\n\n'));
  const failed = answers.filter((a) => a.error !== undefined);
  for (const a of failed) deps.err(`error: function ${a.name}: ${a.error}`);
  if (failed.length > 0) return 2;
  return results.length > 0 && results.every((r) => r.outcome === 'ready') ? 0 : 1;
}

/** Runs one drill command; returns the exit status. */
export async function runDrill(argv: string[], deps: DrillDeps): Promise<number> {
  let options: Options | { help: string };
  try {
    options = parseDrillArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    deps.err(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if ('help' in options) {
    deps.out(options.help);
    return 0;
  }
  if (options.hint) deps.err(options.hint);
  try {
    if (options.command === 'rehearse') return await rehearseAll(deps, options);
    if (options.pair === undefined) return await fleetStatus(deps, options);
    const target = options.functionName
      ? { name: options.functionName, pair: undefined }
      : await findFunction(deps, options.stackName, options.pair);
    const event =
      options.command === 'status'
        ? { action: 'status', pair: options.pair }
        : options.command === 'maintenance'
          ? {
              action: 'maintenance',
              pair: options.pair,
              minutes: options.minutes,
              reason: options.reason ?? `drill CLI, by ${whoAmI()}`,
            }
          : {
              action: 'move',
              pair: options.pair,
              ...(options.to ? { to: options.to } : {}),
              dryRun: options.command === 'drill',
            };
    const answer = await invoke(deps.lambda, target.name, event);
    const result = (Array.isArray(answer) ? answer[0] : answer) as Result;
    const code =
      options.command === 'status'
        ? statusExitCode([result])
        : options.command === 'maintenance' && result.outcome === 'status'
          ? 0
          : exitCodeOf(result);
    if (options.json) {
      deps.out(JSON.stringify(result, null, 2));
      return code;
    }
    const names: Record<string, string> = {};
    if (target.pair) {
      names[target.pair.primaryInstanceId] = 'primary';
      names[target.pair.standbyInstanceId] = 'standby';
    }
    deps.out(formatResult(result, names));
    const holder = result.outcome === 'moved' ? result.to : result.from;
    if (holder !== null && result.outcome !== 'ignored') {
      const role = target.pair ? roleOf(target.pair, holder) : undefined;
      deps.out(`\nENI ${result.networkInterfaceId} is on ${holder}${role ? ` (${role})` : ''}`);
    }
    return code;
  } catch (error) {
    if (error instanceof FunctionFailed) {
      deps.err(`FAILED     ${error.message}`);
      return 2;
    }
    deps.err(`error: ${(error as Error).message}`);
    return 2;
  }
}

/** Real clients, for bin/drill.ts. */
export function drillClients(region: string | undefined): Pick<DrillDeps, 'lambda' | 'cloudformation'> {
  const config = region ? { region } : {};
  return { lambda: new LambdaClient(config), cloudformation: new CloudFormationClient(config) };
}
