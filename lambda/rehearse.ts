// The rehearsal (docs/contract.md event 9): every call a move of a pair could make, in both directions, tried with
// EC2's DryRun, the pair-state table's write by a conditional write that changes nothing, and the move's checks
// run without acting. It proves, with the function's own role, what a policy read cannot: that EC2 sets the
// condition keys the policy relies on, that no permission is missing. The stack runs it at every deploy (a custom
// resource, lambda/custom/rehearsal.ts) and every day (a schedule); `npm run drill -- rehearse` by hand.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { eniProblems, targetProblems } from './checks.ts';
import type { Config, Pair } from './config.ts';
import { type Rehearsal, type Result, result } from './result.ts';
import type { StatePort } from './state.ts';
import { telemetry } from './telemetry.ts';
import { BREADCRUMB, holderOf, type Observation, who } from './view.ts';

/** One call a move could make, as the rehearsal asks EC2 to try it with DryRun. */
export type DryRunCall =
  | { readonly action: 'DetachNetworkInterface'; readonly attachmentId: string }
  | {
      readonly action: 'AttachNetworkInterface';
      readonly networkInterfaceId: string;
      readonly instanceId: string;
      readonly deviceIndex: number;
    }
  | {
      readonly action: 'ModifyNetworkInterfaceAttribute';
      readonly networkInterfaceId: string;
      readonly attachmentId: string;
    }
  | { readonly action: 'CreateTags'; readonly networkInterfaceId: string; readonly key: string }
  | { readonly action: 'DeleteTags'; readonly networkInterfaceId: string; readonly key: string }
  | { readonly action: 'StopInstances'; readonly instanceId: string };

/**
 * EC2's answer to a DryRun: undefined when it would allow the call (DryRunOperation), else the error's name and
 * message (UnauthorizedOperation when the caller may not make it: EC2 API Reference, the DryRun parameter of
 * each action). A call carried out instead (an endpoint that ignores DryRun) is an answer too.
 */
export type DryRunAnswer = { readonly name: string; readonly message: string } | undefined;

/** EC2 as the rehearsal uses it (lambda/aws/ec2.ts): look, and try calls with DryRun. */
export interface RehearsalEc2 {
  observeAll(pairs: readonly Pair[]): Promise<Map<string, Observation>>;
  dryRun(call: DryRunCall): Promise<DryRunAnswer>;
}

export interface RehearsalDeps {
  readonly config: Config;
  readonly ec2: RehearsalEc2;
  /** The pair-state table: the rehearsal proves the function may write the pair's item. */
  readonly state: StatePort;
  readonly notify: (result: Result, signal: AbortSignal) => Promise<void>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Publishing gives up at this time (epoch ms). */
  readonly end: number;
}

/**
 * Pairs rehearsed at once: each makes about ten calls one after another, so some 50 calls a second at most, well
 * under EC2's request rate limits for the account (EC2 API Reference, "Request throttling"); 217 pairs in about 45 s.
 */
const AT_ONCE = 5;

/** A call's resource as an operator reads it. */
function describeCall(pair: Pair, call: DryRunCall, holder: string | null): string {
  const eni = pair.networkInterfaceId;
  switch (call.action) {
    case 'DetachNetworkInterface':
      return `${eni} (from ${holder ? who(pair, holder) : 'its holder'})`;
    case 'AttachNetworkInterface':
      return `${eni} to ${who(pair, call.instanceId)}`;
    case 'StopInstances':
      return who(pair, call.instanceId);
    default:
      return eni;
  }
}

/**
 * Every call a move of the pair could make, in either direction. A detach and the attachment's
 * DeleteOnTermination can be tried only on the attachment there is: EC2 authorizes them against the ENI and the
 * instance that holds it (EC2 User Guide, "Grant required permissions for Amazon EC2 resources"), so the other
 * direction's detach is proven when the ENI is there (the daily rehearsal after a failover). The breadcrumb tag
 * and the removal of an earlier version's tags (docs/contract.md, "Pair state") name one eni-failover: key.
 */
export function callsOf(pair: Pair, eni: Observation['eni']): DryRunCall[] {
  const id = pair.networkInterfaceId;
  const members = [pair.primaryInstanceId, pair.standbyInstanceId];
  const attachment = eni?.attachment;
  return [
    ...(attachment
      ? [
          { action: 'DetachNetworkInterface', attachmentId: attachment.id } as const,
          {
            action: 'ModifyNetworkInterfaceAttribute',
            networkInterfaceId: id,
            attachmentId: attachment.id,
          } as const,
        ]
      : []),
    ...members.map(
      (instanceId) =>
        ({
          action: 'AttachNetworkInterface',
          networkInterfaceId: id,
          instanceId,
          deviceIndex: pair.deviceIndex,
        }) as const,
    ),
    { action: 'CreateTags', networkInterfaceId: id, key: BREADCRUMB },
    { action: 'DeleteTags', networkInterfaceId: id, key: BREADCRUMB },
    ...(pair.fence ? members.map((instanceId) => ({ action: 'StopInstances', instanceId }) as const) : []),
  ];
}

/** The move's checks in both directions (each member as the target), without acting: named, once each. */
export function checksOf(pair: Pair, obs: Observation): string[] {
  const eni = obs.eni;
  const problems = eniProblems(pair, eni);
  if (!eni) return problems;
  for (const member of [pair.primaryInstanceId, pair.standbyInstanceId])
    problems.push(...targetProblems(pair, eni, member, obs.instances[member]));
  return [...new Set(problems)];
}

/** One pair's rehearsal; `observed` is its observation, or the error that kept EC2 from answering. */
async function rehearsePair(
  pair: Pair,
  observed: Observation | Error,
  deps: Pick<RehearsalDeps, 'ec2' | 'state' | 'logger'>,
): Promise<Result> {
  const refused: string[] = [];
  let checks: string[] = [];
  let holder: string | null = null;
  if (observed instanceof Error) {
    const reason = observed.name === 'UnauthorizedOperation' ? 'permission' : 'dry-run';
    refused.push(`${reason}: ec2:Describe* (the observation): ${observed.name}: ${observed.message}`);
  } else {
    holder = observed.eni ? holderOf(observed.eni) : null;
    checks = checksOf(pair, observed);
    // One call after another: a pair's calls never crowd EC2's rate limits.
    for (const call of callsOf(pair, observed.eni)) {
      const answer = await deps.ec2.dryRun(call);
      if (!answer) continue;
      const what = `ec2:${call.action} on ${describeCall(pair, call, holder)}`;
      // EC2's whole answer (an UnauthorizedOperation carries an encoded authorization message, for
      // `aws sts decode-authorization-message`) goes to the log; the result names the call and the code.
      deps.logger.warn('rehearsal: EC2 refused a call', { pair: pair.name, call, error: answer });
      // Only a permission is a refusal; any other answer (an ID gone since the look, a state EC2 checks first) is
      // about the pair as it is now, a failed check that deployUnready may waive (EC2 API Reference, DryRun:
      // DryRunOperation when allowed, UnauthorizedOperation when not; other answers are not about permission).
      if (answer.name === 'UnauthorizedOperation') refused.push(`permission: ${what}: ${answer.name}`);
      else checks.push(`dry-run: ${what}: ${answer.name}: ${answer.message}`);
    }
  }
  // A throttled or unreachable table is an answer too: the pair could not be proven ready.
  const state = await deps.state
    .rehearse(pair.name)
    .catch((e: unknown) => `${(e as Error).name}: ${(e as Error).message}`);
  if (state !== undefined)
    refused.push(
      /AccessDenied/.test(state)
        ? // DynamoDB's message names the action refused ("not authorized to perform: dynamodb:UpdateItem on ...").
          `permission: dynamodb on the pair's state item: ${state}`
        : `state: the pair's state item could not be written: ${state}`,
    );
  const rehearsal: Rehearsal = {
    refusedCalls: refused,
    failedChecks: checks,
    deployable: refused.length === 0 && (checks.length === 0 || pair.deployUnready === true),
  };
  const ready = refused.length === 0 && checks.length === 0;
  return result(ready ? 'ready' : 'not-ready', pair, {
    from: holder,
    reasons: ready
      ? [
          `EC2 DryRun allows every call of a move in both directions${pair.fence ? ' (StopInstances too: fence)' : ''}, the state table takes the pair's write, and every check passes`,
        ]
      : [
          ...refused,
          ...checks,
          ...(checks.length > 0 && pair.deployUnready && refused.length === 0
            ? ['deployUnready: the pair may be deployed unready; its checks do not fail a deploy']
            : []),
        ],
    rehearsal,
  });
}

/** Runs `work` over `items`, at most `limit` at a time, answers in order. */
async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/**
 * Rehearses every pair (or one): one result per pair, in the configuration's order. Publishes `Ready` (1 or 0) per
 * pair and `NotReady` (the number of pairs not ready) for the function, and pages only pairs that are not ready.
 */
export async function rehearse(deps: RehearsalDeps, pairName: string | undefined): Promise<Result[]> {
  const { config, logger } = deps;
  const pairs = pairName === undefined ? config.pairs : config.pairs.filter((p) => p.name === pairName);
  if (pairs.length === 0) {
    const known = config.pairs.map((p) => p.name).join(', ');
    return [
      result('ignored', undefined, {
        reasons: [`unknown pair ${JSON.stringify(pairName)}; configured: ${known}`],
      }),
    ];
  }
  const observations = await deps.ec2.observeAll(pairs).catch((e: unknown) => e as Error);
  const results = await pool(pairs, AT_ONCE, (pair) =>
    rehearsePair(
      pair,
      observations instanceof Map
        ? (observations.get(pair.name) ?? new Error(`EC2 gave no observation of pair ${pair.name}`))
        : observations,
      deps,
    ),
  );
  const { count, total } = telemetry(deps.metrics);
  for (const r of results) if (r.pair) count(r.pair, 'Ready', r.outcome === 'ready' ? 1 : 0);
  total('NotReady', results.filter((r) => r.outcome === 'not-ready').length);
  for (const r of results) {
    logger.info(r.outcome, { result: r });
    if (r.outcome !== 'not-ready') continue;
    try {
      await deps.notify(r, AbortSignal.timeout(Math.max(1, deps.end - Date.now())));
    } catch (error) {
      logger.error('notification failed', { error, outcome: r.outcome, pair: r.pair });
    }
  }
  return results;
}
