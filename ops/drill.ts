import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ENV, type Pair, roleOf } from '../lambda/config';
import type { Result } from '../lambda/result';
import { formatResult } from './format';

export const USAGE = `usage: npm run drill -- <command> --pair <name> [options]

Rehearse and perform failovers of a deployed eni-failover stack.

Commands:
  status                 where the pair's ENI is, the health of both members, and whether a move would pass
  drill                  a dry run: every check, plus EC2 DryRun of the detach and the attach; nothing changes
  move --to <member>     a real move, to "standby" (a drill) or "primary" (a fail-back)

Options:
  --pair <name>          the pair, as named in the configuration (required)
  --to standby|primary   with move: where the ENI goes (default: the member that does not hold it)
  --stack-name <name>    the deployed stack whose outputs name the function(s) (default: EniFailover)
  --function-name <name> invoke this function instead of looking it up in the stack
  --region <region>      the AWS region (default: the SDK's, e.g. AWS_REGION)
  --json                 print the function's raw result instead of the timeline
  --help                 print this help

Exit status: 0 when the ENI ends where asked (or nothing needed doing), 1 on a refusal or an
ignored request, 2 on a failure or a usage error.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface DrillDeps {
  lambda: LambdaClient;
  cloudformation: CloudFormationClient;
  out: (line: string) => void;
  err: (line: string) => void;
}

interface Options {
  command: 'status' | 'drill' | 'move';
  pair: string;
  to: 'standby' | 'primary' | undefined;
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

export function parseDrillArgs(argv: string[]): Options | 'help' {
  const parsed = parseCli(argv);
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [command, ...rest] = positionals;
  if (!command) throw new UsageError('a command is required: status, drill or move');
  if (command !== 'status' && command !== 'drill' && command !== 'move') {
    throw new UsageError(`unknown command "${command}": expected status, drill or move`);
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument(s): ${rest.join(' ')}`);
  if (!values.pair) throw new UsageError('--pair is required');
  if (values.to !== undefined && values.to !== 'standby' && values.to !== 'primary') {
    throw new UsageError(`--to must be standby or primary, got "${values.to}"`);
  }
  if (values.to !== undefined && command !== 'move')
    throw new UsageError(`--to goes with move, not ${command}`);
  return {
    command,
    pair: values.pair,
    to: values.to,
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

/** The function that serves a pair: the stack's FunctionNames output, asked which pairs each has. */
async function findFunction(
  deps: DrillDeps,
  stackName: string,
  pair: string,
): Promise<{ name: string; pair: Pair }> {
  const stacks = await deps.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = stacks.Stacks?.[0]?.Outputs ?? [];
  const names = outputs.find((o) => o.OutputKey === 'FunctionNames')?.OutputValue;
  if (!names) throw new Error(`stack ${stackName} has no FunctionNames output: is it an eni-failover stack?`);
  const known: string[] = [];
  for (const name of names.split(',')) {
    const config = await deps.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    const pairs = JSON.parse(config.Environment?.Variables?.[ENV.pairs] ?? '[]') as Pair[];
    const found = pairs.find((p) => p.name === pair);
    if (found) return { name, pair: found };
    known.push(...pairs.map((p) => p.name));
  }
  throw new Error(`stack ${stackName} has no pair "${pair}"; it has: ${known.join(', ') || 'none'}`);
}

function exitCodeOf(r: Result): number {
  if (r.outcome === 'failed') return 2;
  if (r.outcome === 'refused' || r.outcome === 'ignored') return 1;
  return 0;
}

/** Runs one drill command; returns the exit status. */
export async function runDrill(argv: string[], deps: DrillDeps): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseDrillArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    deps.err(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    deps.out(USAGE);
    return 0;
  }
  try {
    const target = options.functionName
      ? { name: options.functionName, pair: undefined }
      : await findFunction(deps, options.stackName, options.pair);
    const event =
      options.command === 'status'
        ? { action: 'status', pair: options.pair }
        : {
            action: 'move',
            pair: options.pair,
            ...(options.to ? { to: options.to } : {}),
            dryRun: options.command === 'drill',
          };
    const response = await deps.lambda.send(
      new InvokeCommand({
        FunctionName: target.name,
        Payload: new TextEncoder().encode(JSON.stringify(event)),
      }),
    );
    const payload = response.Payload ? new TextDecoder().decode(response.Payload) : '';
    if (response.FunctionError) {
      // The function threw: a failover stopped part-way. Its notification says where the ENI is.
      const error = payload ? (JSON.parse(payload) as { errorType?: string; errorMessage?: string }) : {};
      deps.err(`FAILED     ${error.errorType ?? 'Error'}: ${error.errorMessage ?? payload}`);
      return 2;
    }
    const result = JSON.parse(payload) as Result;
    if (options.json) {
      deps.out(JSON.stringify(result, null, 2));
      return exitCodeOf(result);
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
    return exitCodeOf(result);
  } catch (error) {
    deps.err(`error: ${(error as Error).message}`);
    return 2;
  }
}

/** Real clients, for bin/drill.ts. */
export function drillClients(region: string | undefined): Pick<DrillDeps, 'lambda' | 'cloudformation'> {
  const config = region ? { region } : {};
  return { lambda: new LambdaClient(config), cloudformation: new CloudFormationClient(config) };
}
