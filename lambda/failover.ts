import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Ec2Adapter } from './aws/ec2';
import { type Config, type Pair, roleOf } from './config';
import { parseEvent, type Trigger } from './events';
import { type Clock, execute, type OsPort, StepError, systemClock, timed } from './execute';
import { holderOf, plan, who } from './plan';
import { type Result, result, type Step } from './result';

export interface FailoverDeps {
  readonly config: Config;
  readonly ec2: Pick<Ec2Adapter, 'observe'> & Parameters<typeof execute>[2];
  /** Publishes one result; a no-op when no topic is configured. */
  readonly notify: (result: Result) => Promise<void>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The function's own region: events from another region are not ours. */
  readonly region: string | undefined;
  readonly clock?: Clock;
  /** Asks a new holder's OS about the address, for pairs with verifyOs. */
  readonly os?: OsPort;
}

/** Kept back from the Lambda's remaining time so that a timed-out wait can still be reported. */
export const REPORT_RESERVE_MS = 5_000;
const DEFAULT_BUDGET_MS = 5 * 60_000;

export class FailoverError extends Error {
  override readonly name = 'FailoverError';
  constructor(
    readonly results: Result[],
    options: { cause: unknown },
  ) {
    const failed = results.filter((r) => r.outcome === 'failed');
    super(failed.map((r) => `${r.pair}: ${r.reasons.join('; ')}`).join(' | '), options);
  }
}

type Resolved = { pair: Pair; trigger: Exclude<Trigger, { kind: 'ignored' }> } | { ignored: string };

function resolve(trigger: Trigger, config: Config, region: string | undefined): Resolved {
  switch (trigger.kind) {
    case 'ignored':
      return { ignored: trigger.reason };
    case 'alarm':
    case 'state-change': {
      if (region && trigger.region !== region) {
        return { ignored: `event is from region ${trigger.region}; this function manages ${region}` };
      }
      const pair = config.pairs.find((p) => roleOf(p, trigger.instanceId));
      return pair
        ? { pair, trigger }
        : { ignored: `${trigger.instanceId} is not a member of any configured pair` };
    }
    case 'status':
    case 'move': {
      const pair = config.pairs.find((p) => p.name === trigger.pair);
      const known = config.pairs.map((p) => p.name).join(', ');
      return pair
        ? { pair, trigger }
        : { ignored: `unknown pair ${JSON.stringify(trigger.pair)}; configured: ${known}` };
    }
  }
}

/** Builds the Lambda entry point from its dependencies; lambda/handler.ts supplies the real ones. */
export function createFailover(deps: FailoverDeps) {
  const { config, ec2, logger, metrics } = deps;
  const clock = deps.clock ?? systemClock;

  // One metric set per pair, so that every figure carries its Pair dimension.
  const count = (
    pair: string,
    name: string,
    value: number,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count,
  ) => {
    const single = metrics.singleMetric();
    single.addDimension('Pair', pair);
    single.addMetric(name, unit, value);
  };

  /** Where the ENI is after a failure, so that nobody has to guess. */
  const whereIs = async (pair: Pair): Promise<string> => {
    try {
      const eni = await ec2.describeEni(pair.networkInterfaceId);
      if (!eni) return `${pair.networkInterfaceId} no longer exists`;
      const a = eni.attachment;
      if (a?.status === 'detaching') {
        return `${pair.networkInterfaceId} is still detaching from ${who(pair, a.instanceId ?? '(unknown)')}; a retry waits for it and attaches it`;
      }
      const holder = holderOf(eni);
      if (holder === null)
        return `${pair.networkInterfaceId} is now attached to no one (status ${eni.status}); a retry attaches it`;
      return `${pair.networkInterfaceId} is now attached to ${who(pair, holder)} (${a?.status})`;
    } catch (error) {
      return `could not see where ${pair.networkInterfaceId} is now: ${(error as Error).message}`;
    }
  };

  const reconcile = async (
    pair: Pair,
    trigger: Exclude<Trigger, { kind: 'ignored' }>,
    deadline: number,
  ): Promise<Result> => {
    const steps: Step[] = [];
    const observation = await timed(clock, steps, 'observe', () => ec2.observe(pair));
    const decision = plan(pair, trigger, observation, clock.now());
    logger.info('decided', { decision });
    switch (decision.kind) {
      case 'status':
        return result('status', pair, { from: decision.holder, reasons: decision.reasons, steps });
      case 'unchanged':
        if (decision.keep) {
          const keep = decision.keep;
          await timed(clock, steps, 'keep-on-termination', () =>
            ec2.keepOnTermination(pair.networkInterfaceId, keep),
          );
        }
        return result('unchanged', pair, {
          from: decision.holder,
          to: decision.holder,
          reasons: decision.reasons,
          steps,
        });
      case 'refused':
        return result('refused', pair, {
          from: decision.from,
          to: decision.to,
          reasons: decision.reasons,
          steps,
        });
      case 'move': {
        const fields = { from: decision.from, to: decision.to, reasons: decision.reasons };
        if (decision.dryRun) {
          const refusals = await timed(clock, steps, 'ec2-dry-run', () => ec2.rehearse(decision, pair));
          if (refusals.length > 0) return result('refused', pair, { ...fields, reasons: refusals, steps });
          return result('dry-run', pair, {
            ...fields,
            reasons: [...fields.reasons, 'EC2 DryRun allows the detach and the attach'],
            steps,
          });
        }
        const reason = decision.reasons.join('; ');
        const done = await execute(decision, pair, ec2, { clock, deadline, reason, os: deps.os, steps });
        return result('moved', pair, {
          ...fields,
          reasons: [...fields.reasons, ...done.notes],
          steps: done.steps,
        });
      }
    }
  };

  // One look-and-move per pair at a time. Across invocations the stack's reserved concurrency of 1 per
  // function does this; within one process (an SNS batch, events fired at once) this queue does, so
  // that each look sees the move before it.
  const queues = new Map<string, Promise<unknown>>();
  const inTurn = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const turn = (queues.get(key) ?? Promise.resolve()).then(work, work);
    queues.set(
      key,
      turn.catch(() => undefined),
    );
    return turn;
  };

  const handleOne = async (trigger: Trigger, deadline: number): Promise<Result> => {
    const resolved = resolve(trigger, config, deps.region);
    if ('ignored' in resolved) {
      logger.warn('ignored', { reason: resolved.ignored });
      return result('ignored', undefined, { reasons: [resolved.ignored] });
    }
    const { pair } = resolved;
    logger.appendKeys({ pair: pair.name, networkInterfaceId: pair.networkInterfaceId });
    try {
      const r = await inTurn(pair.name, () => reconcile(pair, resolved.trigger, deadline));
      if (r.outcome === 'moved') {
        count(pair.name, 'Moved', 1);
        count(
          pair.name,
          'FailoverDuration',
          r.steps.reduce((sum, s) => sum + s.ms, 0),
          MetricUnit.Milliseconds,
        );
      }
      if (r.outcome === 'refused') {
        count(pair.name, 'Refused', 1);
        // Without the Pair dimension, so that one alarm covers every pair: a refused automatic failover
        // means a service is down and nobody moved its address.
        if (resolved.trigger.kind === 'alarm' || resolved.trigger.kind === 'state-change') {
          metrics.singleMetric().addMetric('AutomaticRefusals', MetricUnit.Count, 1);
        }
      }
      logger.info(r.outcome, { result: r });
      return r;
    } catch (error) {
      const step = error instanceof StepError ? error : new StepError('unknown', [], { cause: error });
      const where = await whereIs(pair);
      const r = result('failed', pair, { reasons: [step.message, where], steps: step.steps });
      count(pair.name, 'Failed', 1);
      logger.error('failed', { result: r, error });
      return r;
    } finally {
      logger.removeKeys(['pair', 'networkInterfaceId']);
    }
  };

  return async (
    event: unknown,
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<Result | Result[]> => {
    const budget = context ? context.getRemainingTimeInMillis() : DEFAULT_BUDGET_MS;
    const deadline = clock.now() + budget - REPORT_RESERVE_MS;
    const parsed = parseEvent(event);
    const results: Result[] = [];
    // One record at a time: each looks at EC2 afresh, so a duplicate sees the move already made.
    for (const trigger of parsed.triggers) {
      const r = await handleOne(trigger, deadline);
      results.push(r);
      try {
        await deps.notify(r);
      } catch (error) {
        // The move is what matters; a lost notification is logged and counted, not retried into a second move.
        logger.error('notification failed', { error, outcome: r.outcome, pair: r.pair });
        if (r.pair) count(r.pair, 'NotifyFailed', 1);
      }
    }
    const failure = results.find((r) => r.outcome === 'failed');
    // Thrown so that Lambda's retries and the on-failure destination see it; the retry converges.
    if (failure) throw new FailoverError(results, { cause: failure.reasons[0] });
    return parsed.batch ? results : (results[0] as Result);
  };
}
