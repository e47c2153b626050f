import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { eniProblems, failed } from './checks.ts';
import { type Config, type Pair, roleOf } from './config.ts';
import { parseEvent, type Trigger } from './events.ts';
import { evidenceProblems, isTargetProbe } from './evidence.ts';
import { type Ec2Port, execute, type OsPort, StateUnavailableError, StepError, timed } from './execute.ts';
import { legacyKeys, legacyRecord } from './legacy.ts';
import { describeChange, maintenanceOf, setWindow } from './maintenance.ts';
import { paged, pagedByDefault, pageOnce as pageOnceAt } from './paging.ts';
import { liveLease, type MovePlan, type Once, plan } from './plan.ts';
import { lastAddressOutage, type ViewStore } from './probe/store.ts';
import { type RehearsalEc2, rehearse as rehearsal } from './rehearse.ts';
import { type AddressOutage, type Result, result, type Step } from './result.ts';
import { bounded, type Clock, readThrough, systemClock } from './retry.ts';
import { type PairRecord, type ProbeObservation, STATE_BOUND_MS, type StatePort } from './state.ts';
import { pairState, statusOf } from './status.ts';
import { telemetry } from './telemetry.ts';
import { holderOf, type Observation, who } from './view.ts';

/** EC2 as the failover uses it (lambda/aws/ec2.ts): observe, act, rehearse, and bound every call by a deadline. */
export interface FailoverEc2 extends Ec2Port, RehearsalEc2 {
  observe(pair: Pair): Promise<Observation>;
  /** Several pairs in one round of calls, by pair name. */
  observeAll(pairs: readonly Pair[]): Promise<Map<string, Observation>>;
  /** The same port, with every call aborted when `at` (epoch ms on `now`'s clock) passes. */
  within(at: number, now: () => number): FailoverEc2;
}

export interface FailoverDeps {
  readonly config: Config;
  readonly ec2: FailoverEc2;
  /** The pair state table (lambda/aws/state.ts): leases, damping, windows, pages made once. */
  readonly state: StatePort;
  /** Publishes one result, giving up when `signal` aborts; a no-op when no topic is configured. */
  readonly notify: (result: Result, signal: AbortSignal) => Promise<void>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The function's own region: events from another region are not ours. */
  readonly region: string | undefined;
  readonly clock?: Clock;
  /** Asks a new holder's OS about the address, for pairs with verifyOs. */
  readonly os?: OsPort;
  /** The prober's items in the state table (lambda/probe/store.ts): a probed pair's status shows its address's last outage. */
  readonly proberView?: Pick<ViewStore, 'load'>;
}

/**
 * Kept back from the Lambda's remaining time so that a timed-out move can still be reported: every
 * EC2 call of the move is aborted at the deadline (not after the SDK's 3 attempts of up to 10 s),
 * then looking where the ENI is gets 2 s and publishing the result what is left but half a second.
 */
export const REPORT_RESERVE_MS = 5_000;
const WHERE_IS_MS = 2_000;
const PUBLISH_MARGIN_MS = 500;
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

/** A trigger about one pair, as the planner takes it (a rehearsal goes its own way: lambda/rehearse.ts). */
type PairTrigger = Exclude<Trigger, { kind: 'ignored' | 'rehearse' }>;
type Resolved = { pair: Pair; trigger: PairTrigger } | { ignored: string };

/** Status and reconcile without a pair mean every pair of the function. */
const fleetWide = (t: Trigger) => (t.kind === 'status' || t.kind === 'reconcile') && t.pair === undefined;

/** The pairs a trigger is about: one, every one (fleet-wide), or none (ignored, with the reason). */
function resolve(trigger: Trigger, config: Config, region: string | undefined): Resolved[] {
  switch (trigger.kind) {
    case 'ignored':
      return [{ ignored: trigger.reason }];
    case 'rehearse':
      // Taken before (createFailover): never a pair's trigger.
      return [{ ignored: 'a rehearsal in a batch of events' }];
    case 'alarm':
    case 'state-change':
    case 'planned': {
      if (region && trigger.region !== region) {
        return [{ ignored: `event is from region ${trigger.region}; this function manages ${region}` }];
      }
      const pair = config.pairs.find((p) => roleOf(p, trigger.instanceId));
      return [
        pair
          ? { pair, trigger }
          : { ignored: `${trigger.instanceId} is not a member of any configured pair` },
      ];
    }
    case 'status':
    case 'reconcile':
    case 'probe':
    case 'move':
    case 'maintenance': {
      if (fleetWide(trigger)) return config.pairs.map((pair) => ({ pair, trigger }));
      const pair = config.pairs.find((p) => p.name === trigger.pair);
      const known = config.pairs.map((p) => p.name).join(', ');
      return [
        pair
          ? { pair, trigger }
          : { ignored: `unknown pair ${JSON.stringify(trigger.pair)}; configured: ${known}` },
      ];
    }
  }
}

/** Alarms, state changes, reconcile rounds and probe evidence: Lambda retries them, and their refusals mean nobody moved the address. */
const isAutomatic = (t: PairTrigger) =>
  t.kind === 'alarm' ||
  t.kind === 'state-change' ||
  t.kind === 'reconcile' ||
  t.kind === 'planned' ||
  t.kind === 'probe';

/**
 * Where the ENI is after a failure, so that nobody has to guess. Only an automatic trigger is
 * retried by Lambda (asynchronous invocation); a manual one is not, and the answer must not say so.
 */
async function whereIs(pair: Pair, ec2: FailoverEc2, retried: boolean): Promise<string> {
  const next = retried
    ? "Lambda's retry of this event"
    : 'nothing retries a manual invocation: move it again';
  try {
    const eni = await ec2.describeEni(pair.networkInterfaceId);
    if (!eni) return `${pair.networkInterfaceId} no longer exists`;
    const a = eni.attachment;
    if (a?.status === 'detaching') {
      return `${pair.networkInterfaceId} is still detaching from ${who(pair, a.instanceId ?? '(unknown)')}; ${retried ? `${next} waits for it (forcing it if that instance has failed) and attaches it` : next}`;
    }
    const holder = holderOf(eni);
    if (holder === null)
      return `${pair.networkInterfaceId} is now attached to no one (status ${eni.status}); ${retried ? `${next} attaches it` : next}`;
    return `${pair.networkInterfaceId} is now attached to ${who(pair, holder)} (${a?.status})`;
  } catch (error) {
    return `could not see where ${pair.networkInterfaceId} is now: ${(error as Error).message}`;
  }
}

/** What every step of an invocation uses: the dependencies, the clock and the metrics. */
interface Engine {
  readonly deps: FailoverDeps;
  readonly clock: Clock;
  readonly telemetry: ReturnType<typeof telemetry>;
  /** One look-and-move per pair at a time within this container (see inTurn). */
  readonly inTurn: <T>(key: string, work: () => Promise<T>) => Promise<T>;
}

/** One invocation's time: EC2 calls end at `deadline`, the report by `end`. */
interface Budget {
  readonly deadline: number;
  readonly end: number;
}

/** Builds the Lambda entry point from its dependencies; lambda/handler.ts supplies the real ones. */
export function createFailover(deps: FailoverDeps) {
  const engine: Engine = {
    deps,
    clock: deps.clock ?? systemClock,
    telemetry: telemetry(deps.metrics),
    inTurn: queue(),
  };
  return async (
    event: unknown,
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<Result | Result[]> => {
    const budget = context ? context.getRemainingTimeInMillis() : DEFAULT_BUDGET_MS;
    const end = engine.clock.now() + budget;
    const time: Budget = { deadline: end - REPORT_RESERVE_MS, end };
    const ec2 = deps.ec2.within(time.deadline, () => engine.clock.now());
    const parsed = parseEvent(event);
    // A rehearsal (docs/contract.md event 9) changes nothing and answers one result per pair, whatever it finds.
    const rehearse = parsed.triggers.find((t) => t.kind === 'rehearse');
    if (rehearse) return rehearsal({ ...deps, ec2, end: time.end - PUBLISH_MARGIN_MS }, rehearse.pair);
    // Pairs in parallel, no pair waiting for another.
    const results = (
      await Promise.all(parsed.triggers.map((trigger) => handleTrigger(engine, trigger, ec2, time)))
    ).flat();
    const failure = results.find((r) => r.outcome === 'failed');
    // Thrown so that Lambda's retries and the on-failure destination see it; the retry converges.
    if (failure) throw new FailoverError(results, { cause: failure.reasons[0] });
    const many = parsed.batch || parsed.triggers.some((t) => t.kind === 'reconcile' || fleetWide(t));
    return many ? results : (results[0] as Result);
  };
}

/**
 * One look-and-move per pair at a time within one process (an SNS batch, events fired at once), so
 * that each look sees the move before it. Across invocations EC2 is the lock (see execute.ts).
 */
function queue() {
  const queues = new Map<string, Promise<unknown>>();
  return <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const turn = (queues.get(key) ?? Promise.resolve()).then(work, work);
    queues.set(
      key,
      turn.catch(() => undefined),
    );
    return turn;
  };
}

/**
 * Every pair one trigger is about, each handled and then published. A fleet-wide trigger observes
 * all its pairs in one round of calls, so that 20 pairs cost what one does.
 */
async function handleTrigger(
  engine: Engine,
  trigger: Trigger,
  ec2: FailoverEc2,
  time: Budget,
): Promise<Result[]> {
  const work = resolve(trigger, engine.deps.config, engine.deps.region);
  const pairs = work.flatMap((w) => ('pair' in w ? [w.pair] : []));
  const batch = fleetWide(trigger) && pairs.length > 1 ? ec2.observeAll(pairs) : undefined;
  // Read by every pair's own step; a failure is reported there, not here.
  batch?.catch(() => undefined);
  return Promise.all(
    work.map(async (w) => {
      const observed =
        batch && 'pair' in w ? batch.then((all) => all.get(w.pair.name) as Observation) : undefined;
      const { result: r, page } = await handlePair(engine, w, ec2, time, observed);
      if (paged(page, pagedByDefault(trigger, fleetWide(trigger), r.outcome)))
        await publish(engine, r, time.end);
      return r;
    }),
  );
}

/** One pair's result: records of one pair take turns (inTurn), each looking at EC2 afresh. */
async function handlePair(
  engine: Engine,
  resolved: Resolved,
  ec2: FailoverEc2,
  time: Budget,
  observed?: Promise<Observation>,
): Promise<Answer> {
  const { logger } = engine.deps;
  if ('ignored' in resolved) {
    logger.warn('ignored', { reason: resolved.ignored });
    return { result: result('ignored', undefined, { reasons: [resolved.ignored] }) };
  }
  const { pair, trigger } = resolved;
  logger.appendKeys({ pair: pair.name, networkInterfaceId: pair.networkInterfaceId });
  try {
    const answer = await engine.inTurn(pair.name, () =>
      lookAndAct(engine, pair, trigger, ec2, time, observed),
    );
    countOutcome(engine, pair, trigger, answer.result);
    logger.info(answer.result.outcome, { result: answer.result });
    return answer;
  } catch (error) {
    return { result: await reportFailure(engine, pair, trigger, ec2, time, error) };
  } finally {
    logger.removeKeys(['pair', 'networkInterfaceId']);
  }
}

/** One pair's result, and whether to page it when the default (by trigger and outcome) is wrong. */
interface Answer {
  readonly result: Result;
  /** true: page it; false: page nobody; undefined: the default. */
  readonly page?: boolean;
  /** Another invocation's lease stood in the way (or the state changed under this look) until then (epoch ms). */
  readonly lookAgainAt?: number;
}

/** Time a look after waiting for another's lease still needs for a move of its own (EC2 settles in seconds). */
const MOVE_RESERVE_MS = 60_000;
const LEASE_POLL_MS = 1_000;

/**
 * The first look, read through: throttling, a 5xx or a timeout is asked again until the deadline. A
 * fleet round's batched read that failed falls back to this pair's own read. The pair's state is read beside
 * it; a table that has not answered within STATE_BOUND_MS leaves the observation without it (stateUnavailable),
 * which the planner reads (withoutState).
 */
async function observe(
  engine: Engine,
  pair: Pair,
  ec2: FailoverEc2,
  time: Budget,
  observed: Promise<Observation> | undefined,
): Promise<Observation> {
  const own = () =>
    readThrough(
      engine.clock,
      time.deadline,
      (e) => ec2.isTransient(e),
      `pair ${pair.name}`,
      () => ec2.observe(pair),
    );
  const [seen, record] = await Promise.all([
    observed ? observed.catch(own) : own(),
    readState(engine, pair, time).then(
      (r) => ({ record: r }),
      (error: Error) => ({ error: `${error.name}: ${error.message}` }),
    ),
  ]);
  if ('error' in record) return { ...seen, stateUnavailable: record.error };
  return { ...seen, record: await carryLegacy(engine, pair, seen, record.record, ec2, time) };
}

/** The pair's record, read through transient errors for at most STATE_BOUND_MS. */
async function readState(engine: Engine, pair: Pair, time: Budget): Promise<PairRecord> {
  const { clock, deps } = engine;
  return bounded(clock, stateUntil(engine, time), deps.state, `pair ${pair.name}'s state`, () =>
    deps.state.read(pair.name),
  );
}

/** Until when a state call may take, from now: STATE_BOUND_MS, never past the deadline. */
const stateUntil = (engine: Engine, time: Budget) =>
  Math.min(time.deadline, engine.clock.now() + STATE_BOUND_MS);

/**
 * Upgrade in place (docs/contract.md, "Pair state"): a pair whose ENI carries an earlier version's records keeps
 * them: they are merged into its item (by compare-and-swap), then those tags are deleted (best effort; a later look
 * deletes what is left). Merged whenever such tags are there, so that a mixed fleet mid-deploy loses nothing.
 */
async function carryLegacy(
  engine: Engine,
  pair: Pair,
  obs: Observation,
  record: PairRecord,
  ec2: FailoverEc2,
  time: Budget,
): Promise<PairRecord> {
  const tags = obs.eni?.tags ?? {};
  const now = engine.clock.now();
  const keys = legacyKeys(tags, now);
  if (keys.length === 0) return record;
  const { state, logger } = engine.deps;
  let carried = record;
  try {
    carried =
      (await bounded(engine.clock, stateUntil(engine, time), state, `pair ${pair.name}'s state`, () =>
        state.change(pair.name, (r) => legacyRecord(r, tags, now)),
      )) ?? record;
  } catch (error) {
    logger.warn(
      "could not carry an earlier version's tags into the pair's state; the next look tries again",
      {
        error,
      },
    );
    return record;
  }
  try {
    await ec2.untag(pair.networkInterfaceId, keys);
    logger.info("carried an earlier version's ENI tags into the pair's state", { keys });
  } catch (error) {
    logger.warn("carried an earlier version's tags, but could not delete them; the next look tries again", {
      error,
    });
  }
  return carried;
}

/** Look, decide, act, for one pair; `observed` is the batched observation of a fleet-wide trigger. */
async function lookAndAct(
  engine: Engine,
  pair: Pair,
  trigger: PairTrigger,
  ec2: FailoverEc2,
  time: Budget,
  observed: Promise<Observation> | undefined,
): Promise<Answer> {
  const first = await lookOnce(engine, pair, trigger, ec2, time, observed);
  if (first.lookAgainAt === undefined || !isAutomatic(trigger)) return first;
  // An automatic trigger that another invocation's lease held back would be lost (Lambda retries no success):
  // it waits for that lease to end (released, or expired: its mover died) and looks once more. What the second
  // look finds already done pages nobody; a mover that died is taken over.
  if (!(await leaseEnded(engine, pair, first.lookAgainAt, time))) return first;
  const again = await lookOnce(engine, pair, trigger, ec2, time, undefined);
  return again.result.outcome === 'unchanged' ? { ...again, page: false } : again;
}

/**
 * Waits until the pair's lease is released or expired, or `until`, polling the table; false when this invocation
 * would have too little time left for a move of its own by then.
 */
async function leaseEnded(engine: Engine, pair: Pair, until: number, time: Budget): Promise<boolean> {
  const { clock, deps } = engine;
  if (until + MOVE_RESERVE_MS > time.deadline) return false;
  while (clock.now() < until) {
    await clock.sleep(Math.min(LEASE_POLL_MS, Math.max(0, until - clock.now())));
    try {
      const record = await bounded(
        clock,
        clock.now() + STATE_BOUND_MS,
        deps.state,
        `pair ${pair.name}'s lease`,
        () => deps.state.read(pair.name),
      );
      if (!liveLease(record, clock.now())) return true;
    } catch {
      // The table went away: the lease's term is the answer.
    }
  }
  return true;
}

/** Look, decide, act, once. */
async function lookOnce(
  engine: Engine,
  pair: Pair,
  trigger: PairTrigger,
  ec2: FailoverEc2,
  time: Budget,
  observed: Promise<Observation> | undefined,
): Promise<Answer> {
  const { clock } = engine;
  const steps: Step[] = [];
  const noted = trigger.kind === 'probe' ? noteProbe(engine, pair, trigger) : undefined;
  const observation = await timed(clock, steps, 'observe', () => observe(engine, pair, ec2, time, observed));
  await noted;
  if (trigger.kind === 'maintenance')
    return { result: await maintain(engine, pair, trigger, observation, time, steps) };
  const holder = observation.eni ? holderOf(observation.eni) : null;
  if (trigger.kind === 'status') {
    engine.telemetry.gauge(pair, observation, holder);
    const view = statusOf(pair, observation, clock.now());
    return {
      result: result('status', pair, {
        from: view.holder,
        reasons: view.reasons,
        steps,
        state: { ...pairState(pair, observation, clock.now()), ...(await addressOutageOf(engine, pair)) },
      }),
    };
  }
  const decision = plan(pair, trigger, observation, clock.now());
  engine.deps.logger.info('decided', { decision });
  if (decision.kind !== 'move' || decision.dryRun) engine.telemetry.gauge(pair, observation, holder);
  switch (decision.kind) {
    case 'unchanged': {
      if (decision.keep) {
        const keep = decision.keep;
        await timed(clock, steps, 'keep-on-termination', () =>
          ec2.keepOnTermination(pair.networkInterfaceId, keep),
        );
      }
      const r = result('unchanged', pair, {
        from: decision.holder,
        to: decision.holder,
        reasons: decision.reasons,
        steps,
      });
      return { ...(await paging(engine, pair, decision, r, steps)), lookAgainAt: decision.leasedUntil };
    }
    case 'refused': {
      const fields = { from: decision.from, to: decision.to, reasons: decision.reasons, steps };
      return paging(engine, pair, decision, result('refused', pair, fields), steps);
    }
    case 'move':
      if (decision.dryRun) return { result: await rehearse(pair, decision, ec2, engine.clock, steps) };
      return move(engine, pair, decision, observation, ec2, time, steps);
  }
}

/**
 * What the prober said, kept in the pair's state (docs/contract.md, "Pair state"), so that rounds see it: the
 * member it saw fail (when the evidence holds its rule but for the target part), and the other one it saw pass.
 * Best effort: the evidence itself still decides this invocation.
 */
async function noteProbe(
  engine: Engine,
  pair: Pair,
  trigger: Extract<Trigger, { kind: 'probe' }>,
): Promise<void> {
  const { state, logger } = engine.deps;
  const sound = evidenceProblems(pair, trigger, engine.clock.now()).every(isTargetProbe);
  const other = trigger.other;
  const write = (instanceId: string, seen: ProbeObservation) =>
    bounded(engine.clock, engine.clock.now() + STATE_BOUND_MS, state, `pair ${pair.name}'s probe view`, () =>
      state.observe(pair.name, instanceId, seen),
    );
  const writes = [
    ...(sound
      ? [write(trigger.instanceId, { failedAt: trigger.lastFailureAt, failures: trigger.failures })]
      : []),
    // The other member as the prober saw it: passing lifts an earlier condemnation; failing is a failure seen too.
    ...(roleOf(pair, other.instanceId)
      ? [write(other.instanceId, other.passing ? { passedAt: other.at } : { failedAt: other.at })]
      : []),
  ];
  try {
    await Promise.all(writes);
  } catch (error) {
    logger.warn("could not keep the prober's observation in the pair's state", { error });
  }
}

/**
 * The service address's last outage as the prober measured it (issue 23), for a probed pair's status: best effort,
 * bounded like the pair's own state (a status must answer when the table does not).
 */
async function addressOutageOf(
  engine: Engine,
  pair: Pair,
): Promise<{ addressOutage?: AddressOutage | null }> {
  const view = engine.deps.proberView;
  if (!view || !pair.probe) return {};
  const bound = new Promise<undefined>((resolve) =>
    setTimeout(() => resolve(undefined), STATE_BOUND_MS).unref(),
  );
  try {
    const outage = await Promise.race([lastAddressOutage(view, pair.name), bound]);
    return outage === undefined ? {} : { addressOutage: outage };
  } catch (error) {
    engine.deps.logger.warn("could not read the prober's view of the pair", { pair: pair.name, error });
    return {};
  }
}

/**
 * A maintenance request: the window written in the pair's state (or ended), then the pair's status as it is now,
 * the change first in its reasons. Published like every manual request, so that the change pages. A table that
 * cannot be written fails the request (nothing else is changed), saying so.
 */
async function maintain(
  engine: Engine,
  pair: Pair,
  trigger: Extract<Trigger, { kind: 'maintenance' }>,
  observation: Observation,
  time: Budget,
  steps: Step[],
): Promise<Result> {
  const { clock, deps } = engine;
  const eni = observation.eni;
  if (!eni) return result('refused', pair, { reasons: eniProblems(pair, eni), steps });
  const now = clock.now();
  const written = await timed(
    clock,
    steps,
    trigger.minutes > 0 ? 'maintenance-start' : 'maintenance-end',
    () => setWindow({ state: deps.state, clock }, pair.name, trigger, stateUntil(engine, time)),
  );
  const after: Observation = { ...observation, record: written, stateUnavailable: undefined };
  const status = statusOf(pair, after, now);
  const change = describeChange(pair, written, maintenanceOf(pair, after, now), now);
  return result('status', pair, {
    from: holderOf(eni),
    reasons: [change, ...status.reasons],
    steps,
    state: pairState(pair, after, now),
  });
}

/**
 * A decision's own word on paging (lambda/paging.ts): once (timed as a step, decided by the record's compare-and-swap),
 * nobody (quiet), or the default.
 */
async function paging(
  engine: Engine,
  pair: Pair,
  decision: { readonly once?: Once; readonly quiet?: boolean },
  r: Result,
  steps: Step[],
): Promise<Answer> {
  const once = decision.once;
  if (!once) return { result: r, page: decision.quiet ? false : undefined };
  const deps = { state: engine.deps.state, clock: engine.clock, logger: engine.deps.logger };
  const page = await timed(engine.clock, steps, `record-page-${once.key}`, () =>
    pageOnceAt(deps, pair.name, once),
  );
  return { result: r, page };
}

/** A dry run: every check passed; EC2's DryRun says whether the calls themselves would be allowed. */
async function rehearse(
  pair: Pair,
  decision: MovePlan,
  ec2: FailoverEc2,
  clock: Clock,
  steps: Step[],
): Promise<Result> {
  const fields = { from: decision.from, to: decision.to, reasons: decision.reasons };
  const refusals = await timed(clock, steps, 'ec2-dry-run', () => ec2.rehearse(decision, pair));
  if (refusals.length > 0) return result('refused', pair, { ...fields, reasons: refusals, steps });
  return result('dry-run', pair, {
    ...fields,
    reasons: [...fields.reasons, 'EC2 DryRun allows the detach and the attach'],
    steps,
  });
}

/**
 * The move itself (execute.ts), under this invocation's intent. Reports come from ownership: a move
 * that another invocation made (or is making) is `unchanged` here and pages nobody.
 */
async function move(
  engine: Engine,
  pair: Pair,
  decision: MovePlan,
  observation: Observation,
  ec2: FailoverEc2,
  time: Budget,
  steps: Step[],
): Promise<Answer> {
  const { clock, deps } = engine;
  let done: Awaited<ReturnType<typeof execute>>;
  try {
    done = await execute(decision, pair, ec2, {
      clock,
      deadline: time.deadline,
      reason: decision.reasons.join('; '),
      os: deps.os,
      steps,
      lease: {
        state: deps.state,
        owner: randomUUID().slice(0, 8),
        seen: observation.record?.version ?? 0,
        unavailable: observation.stateUnavailable,
      },
    });
  } catch (error) {
    if (!(error instanceof StateUnavailableError)) throw error;
    const reasons = [
      failed(
        'state-unavailable',
        `${error.message}: only a move off a holder that is not running or fails its instance or system check goes ahead without it`,
      ),
    ];
    return { result: result('refused', pair, { from: decision.from, to: decision.to, reasons, steps }) };
  }
  if (!done.made) {
    engine.telemetry.gauge(pair, observation, observation.eni ? holderOf(observation.eni) : null);
    const fields = { from: decision.from, to: decision.to, steps: done.steps };
    return {
      result: result('unchanged', pair, { ...fields, reasons: [done.reason, ...done.notes] }),
      page: false,
      lookAgainAt: done.lookAgainAt,
    };
  }
  engine.telemetry.gauge(pair, observation, decision.to);
  return {
    result: result('moved', pair, {
      from: decision.from,
      to: decision.to,
      reasons: [...decision.reasons, ...done.notes],
      steps: done.steps,
    }),
  };
}

/** Metrics for one result. */
function countOutcome(engine: Engine, pair: Pair, trigger: PairTrigger, r: Result): void {
  const { count, total } = engine.telemetry;
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
    if (isAutomatic(trigger)) total('AutomaticRefusals');
  }
}

/** A failure part-way: the result says what failed and where the ENI is now. */
async function reportFailure(
  engine: Engine,
  pair: Pair,
  trigger: PairTrigger,
  ec2: FailoverEc2,
  time: Budget,
  error: unknown,
): Promise<Result> {
  const { clock } = engine;
  const step = error instanceof StepError ? error : new StepError('unknown', [], { cause: error });
  const looking = ec2.within(Math.min(clock.now() + WHERE_IS_MS, time.end - PUBLISH_MARGIN_MS), () =>
    clock.now(),
  );
  const where = await whereIs(pair, looking, isAutomatic(trigger));
  const r = result('failed', pair, { reasons: [step.message, where], steps: step.steps });
  engine.telemetry.count(pair.name, 'Failed', 1);
  engine.deps.logger.error('failed', { result: r, error });
  return r;
}

async function publish(engine: Engine, r: Result, end: number): Promise<void> {
  const { clock, deps } = engine;
  try {
    await deps.notify(r, AbortSignal.timeout(Math.max(1, Math.ceil(end - PUBLISH_MARGIN_MS - clock.now()))));
  } catch (error) {
    // The move is what matters; a lost notification is logged and counted, not retried into a second move.
    deps.logger.error('notification failed', { error, outcome: r.outcome, pair: r.pair });
    if (r.pair) engine.telemetry.count(r.pair, 'NotifyFailed', 1);
    engine.telemetry.total('NotifyFailed');
  }
}
