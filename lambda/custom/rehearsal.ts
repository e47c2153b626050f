/**
 * CloudFormation custom resource (Custom::Rehearsal): at every create and update, it invokes each failover function
 * with `{"action":"rehearse"}` (docs/contract.md event 9), so that the function's own role is what is proven, and
 * fails the deploy, naming the pair, the call and EC2's answer, when a pair is not ready: CloudFormation then rolls
 * back to the policies that worked. It depends on every policy of the functions' roles (lib/rehearsal.ts), so it
 * runs once they are all in place. Delete always succeeds: there is nothing to undo, and a rollback or a stack
 * deletion must never be held by what EC2 says (CloudFormation User Guide, "Custom resources": a FAILED answer to
 * Delete leaves the stack DELETE_FAILED). Bundled on its own; the failover function never imports it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Result } from '../result.ts';
import { type CustomResourceRequest, respond } from './respond.ts';

export interface RehearsalProperties {
  /** The failover functions to rehearse. */
  readonly FunctionNames?: readonly string[];
  /** Changes with every policy, pair and bundle of the functions, so that each such change is an update. */
  readonly Fingerprint?: string;
}

export interface RehearsalEvent extends CustomResourceRequest {
  readonly ResourceProperties: RehearsalProperties;
}

/** One function's rehearsal: its results, or why it could not be asked. */
async function ask(
  lambda: LambdaClient,
  name: string,
  signal: AbortSignal,
): Promise<{ results: Result[] } | { error: string }> {
  try {
    const response = await lambda.send(
      new InvokeCommand({
        FunctionName: name,
        Payload: new TextEncoder().encode(JSON.stringify({ action: 'rehearse' })),
      }),
      { abortSignal: signal },
    );
    const payload = response.Payload ? new TextDecoder().decode(response.Payload) : '';
    if (response.FunctionError) {
      const e = payload ? (JSON.parse(payload) as { errorType?: string; errorMessage?: string }) : {};
      return { error: `${e.errorType ?? 'Error'}: ${e.errorMessage ?? payload}` };
    }
    const answer = JSON.parse(payload) as Result | Result[];
    return { results: Array.isArray(answer) ? answer : [answer] };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/**
 * What keeps the deploy from going on, one line per function that could not be asked and per pair that is not
 * deployable (a refused call; a failed check unless the pair sets deployUnready); empty when none.
 */
export async function problems(
  lambda: LambdaClient,
  names: readonly string[],
  signal: AbortSignal,
): Promise<string[]> {
  const answers = await Promise.all(
    names.map(async (name) => ({ name, answer: await ask(lambda, name, signal) })),
  );
  return answers.flatMap(({ name, answer }) => {
    if ('error' in answer) return [`function ${name} could not rehearse: ${answer.error}`];
    return answer.results
      .filter((r) => r.outcome !== 'ready' && !r.rehearsal?.deployable)
      .map((r) => `pair ${r.pair ?? '?'} (function ${name}) is ${r.outcome}: ${r.reasons.join('; ')}`);
  });
}

export interface RehearsalPorts {
  readonly lambda: LambdaClient;
  /** The stack's status (DescribeStacks), or undefined when it cannot be read. */
  readonly stackStatus: (stackId: string) => Promise<string | undefined>;
  /**
   * How long a refused call is asked again before the deploy fails, and how often: IAM is eventually consistent, and
   * a policy CloudFormation has just attached may not be in effect yet (IAM User Guide, "Troubleshoot IAM": changes
   * "are not always immediately visible"). Undefined: asked once.
   */
  readonly settle?: { readonly forMs: number; readonly everyMs: number };
}

/**
 * A refusal that asking again may cure: a permission IAM has not propagated yet, or an EC2 answer about a state that
 * moved since the look (`dry-run:`); not a check of the pair's topology.
 */
const refusedPermission = (problem: string) =>
  /permission:|UnauthorizedOperation|AccessDenied|dry-run:/.test(problem);

/**
 * Create and Update rehearse and throw what stands in the way; Delete does nothing. Returns the physical ID.
 * An Update while the stack rolls back (UPDATE_ROLLBACK_IN_PROGRESS: CloudFormation puts the old properties back
 * after a failed update, this resource's own failure included) succeeds whatever it finds: failing it would leave
 * the stack UPDATE_ROLLBACK_FAILED, and the rollback restores what was deployed before, which the daily
 * rehearsal keeps judging (CloudFormation User Guide, "Update request for custom resources"; API Reference,
 * StackStatus).
 */
export async function apply(
  ports: RehearsalPorts,
  event: RehearsalEvent,
  signal: AbortSignal,
): Promise<string> {
  const physicalId = event.PhysicalResourceId ?? `${event.LogicalResourceId}-rehearsal`;
  if (event.RequestType === 'Delete') return physicalId;
  const names = event.ResourceProperties.FunctionNames;
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string' && n !== ''))
    throw new Error(`FunctionNames must list the failover functions, got ${JSON.stringify(names)}`);
  let found = await problems(ports.lambda, names, signal);
  const start = Date.now();
  while (ports.settle && found.some(refusedPermission) && Date.now() - start < ports.settle.forMs) {
    console.error(
      `refused, asking again in ${ports.settle.everyMs} ms (IAM may not have settled): ${found.join(' | ')}`,
    );
    await sleep(ports.settle.everyMs, undefined, { signal });
    found = await problems(ports.lambda, names, signal);
  }
  if (found.length > 0 && event.RequestType === 'Update') {
    const status = await ports.stackStatus(event.StackId).catch(() => undefined);
    if (status?.endsWith('ROLLBACK_IN_PROGRESS')) {
      console.error(`rolling back (${status}): not ready, but the rollback goes on: ${found.join(' | ')}`);
      return physicalId;
    }
  }
  if (found.length > 0)
    throw new Error(
      `the failover is not ready (npm run drill -- rehearse shows it; docs/deploying.md, "A failed rehearsal"): ${found.join(' | ')}`,
    );
  return physicalId;
}

// No request timeout: a rehearsal of many pairs takes tens of seconds; the abort signal bounds it instead.
const lambdaClient = new LambdaClient({ requestHandler: { connectionTimeout: 3_000 } });
const cloudformation = new CloudFormationClient({
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
});
const ports: RehearsalPorts = {
  lambda: lambdaClient,
  stackStatus: async (stackId) =>
    (await cloudformation.send(new DescribeStacksCommand({ StackName: stackId }))).Stacks?.[0]?.StackStatus,
};

/** Time kept back from the Lambda's own timeout to answer CloudFormation. */
const ANSWER_RESERVE_MS = 10_000;

export async function handler(
  event: RehearsalEvent,
  context?: { getRemainingTimeInMillis(): number },
): Promise<void> {
  let physicalId = event.PhysicalResourceId ?? `${event.LogicalResourceId}-rehearsal`;
  let failure: string | undefined;
  const left = (context?.getRemainingTimeInMillis() ?? 300_000) - ANSWER_RESERVE_MS;
  try {
    // Up to 90 s for IAM to settle, and never more than a third of this invocation's time.
    const forMs = Math.min(90_000, Math.max(0, left / 3));
    const settle = { forMs, everyMs: Math.min(15_000, forMs) };
    physicalId = await apply({ ...ports, settle }, event, AbortSignal.timeout(Math.max(1_000, left)));
  } catch (error) {
    failure = (error as Error).message;
  }
  if (failure) console.error(failure);
  await respond(event, physicalId, failure, 'every pair is ready');
}
