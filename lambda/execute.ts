import type { Pair } from './config.ts';
import { lastHour, type MovePlan } from './plan.ts';
import type { Step } from './result.ts';
import {
  attachedTo,
  bounded,
  type Clock,
  describe,
  type EniCalls,
  NotOursError,
  Patience,
  readThrough,
  SettleTimeoutError,
  systemClock,
} from './retry.ts';
import {
  LEASE_TERM_MS,
  type PairRecord,
  type RecordChange,
  STATE_BOUND_MS,
  type StatePort,
} from './state.ts';
import { BREADCRUMB, type EniView, who } from './view.ts';

/** The narrow port the executor acts through; lambda/aws/ec2.ts implements it over the SDK. */
export interface Ec2Port extends EniCalls {
  describeEni(networkInterfaceId: string): Promise<EniView | undefined>;
  detach(attachmentId: string, force: boolean): Promise<void>;
  /** Returns the new attachment's ID. */
  attach(networkInterfaceId: string, instanceId: string, deviceIndex: number): Promise<string>;
  keepOnTermination(networkInterfaceId: string, attachmentId: string): Promise<void>;
  /** A forced stop, to fence a failed instance. */
  stop(instanceId: string): Promise<void>;
  /**
   * EC2's DryRun of the plan's detach and attach: what EC2 would refuse (missing permissions above
   * all), as named problems; empty when it would allow both.
   */
  rehearse(plan: MovePlan, pair: Pair): Promise<string[]>;
  tag(networkInterfaceId: string, tags: Record<string, string>): Promise<void>;
  /** Deletes these tag keys from the ENI (DeleteTags). */
  untag(networkInterfaceId: string, keys: string[]): Promise<void>;
  /** The instance's state (running, stopping, …), or undefined when EC2 does not know it. */
  instanceState(instanceId: string): Promise<string | undefined>;
  /** Throttling, a 5xx, a timeout, a dropped connection: worth asking again until the deadline. */
  isTransient(error: unknown): boolean;
}

/** The new holder's OS, asked whether it brought the service address up (lambda/aws/ssm.ts). */
export interface OsPort {
  addressIsUp(
    instanceId: string,
    address: string,
    deadline: number,
  ): Promise<{ up: boolean; detail: string }>;
}

/**
 * Time a move that may put the ENI back keeps for it: its attach stops retrying this long before the
 * deadline, so that the put-back (an attach and its settling, a few seconds on AWS) still fits.
 */
export const PUT_BACK_RESERVE_MS = 10_000;

export class StepError extends Error {
  override readonly name = 'StepError';
  constructor(
    readonly step: string,
    readonly steps: Step[],
    options: { cause: unknown },
  ) {
    const cause =
      options.cause instanceof Error
        ? `${options.cause.name}: ${options.cause.message}`
        : String(options.cause);
    super(`${step} failed: ${cause}`, options);
  }
}

/** Runs one named step, timing it into `steps`; a failure becomes a StepError that carries the steps so far. */
export async function timed<T>(
  clock: Clock,
  steps: Step[],
  name: string,
  action: () => Promise<T>,
): Promise<T> {
  const start = clock.now();
  try {
    return await action();
  } catch (cause) {
    throw new StepError(name, steps, { cause });
  } finally {
    steps.push({ name, ms: clock.now() - start });
  }
}

export interface ExecuteOptions {
  readonly clock?: Clock;
  /** Epoch ms by which every wait must end: the Lambda's remaining time less a reserve to report. */
  readonly deadline: number;
  /** Why the move happens, written to the ENI's tag. */
  readonly reason: string;
  /** Needed when the plan verifies the address (a pair with verifyOs). */
  readonly os?: OsPort;
  /** Steps already taken (the observation), which this execution's steps follow. */
  readonly steps?: Step[];
  /**
   * The pair's state and this invocation's ID: the move takes the pair's lease before its first mutation,
   * holds it through every mutation, and releases it at the end, recording the move. Without it, EC2 alone
   * is the lock (as for a test that drives execute() directly).
   */
  readonly lease?: {
    readonly state: StatePort;
    readonly owner: string;
    /** The version of the pair's record the decision was made on: a record changed since makes it look again. */
    readonly seen: number;
    /** The observation could not read the table (what it answered): the move goes without the lease at once. */
    readonly unavailable?: string;
  };
}

/** The state table could not be reached for the lease, and the move may not go ahead without it. */
export class StateUnavailableError extends Error {
  override readonly name = 'StateUnavailableError';
}

/** What a move ended in: `made`, or the ENI was (or is being) moved by another invocation. */
export type Executed =
  | { readonly made: true; readonly steps: Step[]; readonly notes: string[] }
  | {
      readonly made: false;
      readonly steps: Step[];
      readonly notes: string[];
      readonly reason: string;
      /** This invocation stood aside before any mutation: worth a new look at this time (epoch ms). */
      readonly lookAgainAt?: number;
    };

/** One move in progress: what every step of execute() uses. */
interface Run {
  readonly plan: MovePlan;
  readonly pair: Pair;
  readonly ec2: Ec2Port;
  readonly options: ExecuteOptions;
  readonly clock: Clock;
  readonly eniId: string;
  readonly steps: Step[];
  /** What the result should say besides the plan's reasons (fencing, the OS check, a replayed call). */
  readonly notes: string[];
  readonly ec2Patience: Patience;
  /** Runs one named, timed step; a failure becomes a StepError. */
  readonly step: <T>(name: string, action: () => Promise<T>) => Promise<T>;
  /** The pair's lease, when this move holds one: checked (and renewed) before each mutation. */
  lease: Lease | undefined;
}

/**
 * Performs a move plan: take the pair's lease, detach (Force by need), wait (forcing a detach that hangs, for an
 * automatic move; failing a manual one that hangs), attach (or put back), wait, keep, leave the breadcrumb, re-read
 * the target, release the lease with the move recorded. EC2 is the lock underneath: the detach names the attachment
 * that was observed, and the attach is made only to an ENI seen `available` (see lambda/retry.ts Patience). Reports come from
 * ownership: `made` only when this invocation's own attach put the ENI on the target.
 */
export async function execute(
  plan: MovePlan,
  pair: Pair,
  ec2: Ec2Port,
  options: ExecuteOptions,
): Promise<Executed> {
  const clock = options.clock ?? systemClock;
  const steps: Step[] = options.steps ?? [];
  const notes: string[] = [];
  const eniId = pair.networkInterfaceId;
  const run: Run = {
    plan,
    pair,
    ec2,
    options,
    clock,
    eniId,
    steps,
    notes,
    ec2Patience: new Patience(ec2, eniId, clock, options.deadline, notes, (name) => hold(run, name)),
    step: (name, action) => timed(clock, steps, name, action),
    lease: undefined,
  };
  const aside = await takeLease(run);
  if (aside) return { made: false, steps, notes, ...aside };
  // Recorded at once, in parallel with the wait, and awaited before the end: AWS documents that the
  // instance may refuse another interface at that device index until it is stopped and started.
  const records: Promise<void>[] = [];
  let made = false;
  try {
    await detachStep(run);
    if (plan.detach?.record) records.push(recordForcedDetach(run, plan.detach.instanceId));
    await fence(run, plan.fence);
    const already = await awaitAvailable(run, records);
    if (already)
      return {
        made: false,
        steps,
        notes,
        reason: `${eniId} was attached to ${who(pair, plan.to)} by another invocation meanwhile; this one made no attach`,
      };
    const attachmentId = await attachOrPutBack(run);
    await awaitAttached(run, attachmentId);
    // Independent calls, made together: the tail of a move costs one call's time, not three. Each is
    // let finish before a failure is thrown.
    const tail = await Promise.allSettled([keep(run, attachmentId), breadcrumb(run), verifyTarget(run)]);
    for (const t of tail) if (t.status === 'rejected') throw t.reason;
    made = true;
  } catch (error) {
    const cause = error instanceof StepError ? error.cause : error;
    if (cause instanceof LeaseLostError || cause instanceof NotOursError)
      return { made: false, steps, notes, reason: (cause as Error).message };
    throw error;
  } finally {
    await Promise.all(records);
    await release(run, made);
  }
  // After the lease: asking the new holder's OS changes nothing, and may take a while.
  await verifyOs(run);
  return { made: true, steps, notes };
}

/** The lease this move holds: whose, and until when (epoch ms). */
interface Lease {
  readonly state: StatePort;
  readonly owner: string;
  readonly takenAt: number;
  until: number;
}

/** Another invocation took the lease over (this one's expired while it hung): this one stops. */
class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** A state call read through transient errors, for at most `ms` (and never past the deadline). */
function stateCall<T>(
  run: Run,
  state: StatePort,
  what: string,
  ms: number,
  call: () => Promise<T>,
): Promise<T> {
  return bounded(run.clock, Math.min(run.options.deadline, run.clock.now() + ms), state, what, call);
}

/**
 * Takes the pair's lease before the first mutation (docs/contract.md, "Pair state"): answers why this
 * invocation stands aside when another holds it. A table that cannot be reached within STATE_BOUND_MS lets only
 * a move off a holder that cannot serve go ahead (plan.withoutLease), with EC2 as the lock; any other stops here.
 */
async function takeLease(run: Run): Promise<{ reason: string; lookAgainAt: number } | undefined> {
  const lease = run.options.lease;
  if (!lease) return undefined;
  const { clock, pair, plan } = run;
  const now = clock.now();
  try {
    if (lease.unavailable !== undefined) throw new Error(lease.unavailable);
    const rival = await run.step('lease', () =>
      stateCall(run, lease.state, `pair ${pair.name}'s lease`, STATE_BOUND_MS, () =>
        lease.state.takeLease(
          pair.name,
          { owner: lease.owner, target: plan.to, takenAt: now, until: now + LEASE_TERM_MS },
          lease.seen,
        ),
      ),
    );
    if (rival === 'stale')
      return {
        reason: `the pair's state changed since this invocation looked (another invocation's move?): it looks again`,
        lookAgainAt: clock.now(),
      };
    if (rival)
      return {
        reason: `a move by another invocation is under way (${rival.owner}: to ${who(pair, rival.target)}, until ${new Date(rival.until).toISOString()}); this one stood aside`,
        lookAgainAt: rival.until,
      };
    run.lease = { state: lease.state, owner: lease.owner, takenAt: now, until: now + LEASE_TERM_MS };
    return undefined;
  } catch (error) {
    const why = describe(error instanceof StepError ? error.cause : error);
    if (!plan.withoutLease) {
      // A take whose answer was lost may have taken it: released by owner, best effort, so that it blocks no one.
      void stateCall(run, lease.state, `pair ${pair.name}'s lease`, STATE_BOUND_MS, () =>
        lease.state.change(pair.name, () => undefined, { releaseLease: lease.owner }),
      ).catch(() => undefined);
      throw new StateUnavailableError(`the pair's lease could not be taken (${why})`, { cause: error });
    }
    run.notes.push(
      `the state table could not be reached for the lease (${why}): moving without it, since the holder is down; EC2's conditional detach and attach are the lock`,
    );
    return undefined;
  }
}

/**
 * Before each mutation: the lease is still this move's. Renewed once half its term has passed; a renewal the
 * table refuses means another invocation took it over, and this one stops.
 */
async function hold(run: Run, before: string): Promise<void> {
  const lease = run.lease;
  if (!lease) return;
  const now = run.clock.now();
  if (lease.until - now > LEASE_TERM_MS / 2) return;
  const until = now + LEASE_TERM_MS;
  const kept = await run.step('renew-lease', () =>
    stateCall(run, lease.state, `pair ${run.pair.name}'s lease`, STATE_BOUND_MS, () =>
      lease.state.renewLease(run.pair.name, {
        owner: lease.owner,
        target: run.plan.to,
        takenAt: lease.takenAt,
        until,
      }),
    ),
  );
  if (!kept)
    throw new LeaseLostError(
      `this invocation's lease on pair ${run.pair.name} expired and another invocation took it over: stopped before the ${before}`,
    );
  lease.until = until;
}

/**
 * Releases the lease, recording the move this invocation made: the last move, an automatic one for damping, and
 * the end of a forced-detach record once the ENI is on that instance again. Read through until the deadline:
 * damping that forgot a move would let the address flap. Without the lease (the table was down), one bounded try.
 */
async function release(run: Run, made: boolean): Promise<void> {
  const { plan, pair, clock, options } = run;
  const lease = options.lease;
  // Nothing to record, and no lease asked for (the observation could not read the table).
  if (!lease || (!made && !run.lease && lease.unavailable !== undefined)) return;
  const state = lease.state;
  const at = clock.now();
  const move = (r: PairRecord): RecordChange | undefined =>
    made
      ? {
          lastMove: {
            at,
            from: plan.from,
            to: plan.to,
            reason: options.reason.slice(0, 512),
            automatic: plan.automatic,
            probe: plan.probe,
          },
          ...(plan.automatic ? { automaticMoves: [...lastHour(r, at), at].slice(-20) } : {}),
          ...(r.forcedDetach?.instanceId === plan.to ? { forcedDetach: null } : {}),
        }
      : undefined;
  const ms = run.lease ? options.deadline - clock.now() : STATE_BOUND_MS;
  try {
    await run.step(made ? 'record-move' : 'release-lease', () =>
      stateCall(run, state, `pair ${pair.name}'s state`, ms, () =>
        // By owner, even without a lease known to be held: a take whose answer was lost may have taken it.
        state.change(pair.name, move, { releaseLease: lease.owner }),
      ),
    );
  } catch (error) {
    run.notes.push(
      made
        ? `could not record the move in the pair's state (${describe(error instanceof StepError ? error.cause : error)}): damping does not count it${run.lease ? '; the lease expires on its own' : ''}`
        : `could not release the pair's lease (${describe(error instanceof StepError ? error.cause : error)}): it expires on its own`,
    );
  }
}

/** Detach the observed attachment (with Force if the plan says so), unless EC2 shows it done. */
async function detachStep(run: Run): Promise<void> {
  const detach = run.plan.detach;
  if (!detach) return;
  await forceOrNot(run, detach.attachmentId, detach.force, false);
}

/**
 * One detach call, judged by EC2: done once the attachment is gone or detaching; when it escalates a
 * detach that was already hanging in `detaching`, only once it is gone.
 */
async function forceOrNot(
  { ec2, step, ec2Patience }: Run,
  attachmentId: string,
  force: boolean,
  escalating: boolean,
) {
  const name = escalating ? 'escalate-force-detach' : force ? 'force-detach' : 'detach';
  await step(name, () =>
    ec2Patience.mutate(
      name,
      () => ec2.detach(attachmentId, force),
      (eni) => {
        const a = eni.attachment;
        if (a?.id !== attachmentId || a.status === 'detached') return { done: undefined };
        // A hanging detach shows `detaching` before the forced one as after it: send it again.
        if (a.status === 'detaching' && !escalating) return { done: undefined };
        return 'again';
      },
    ),
  );
}

/** A step that never undoes the move: its outcome, good or bad, becomes a note in the result. */
async function reported(
  run: Run,
  name: string,
  action: () => Promise<string>,
  failure: (error: Error) => string,
): Promise<void> {
  const start = run.clock.now();
  try {
    run.notes.push(await action());
  } catch (error) {
    run.notes.push(failure(error as Error));
  } finally {
    run.steps.push({ name, ms: run.clock.now() - start });
  }
}

/**
 * Record the forced detach in the pair's state, for a holder that still runs (target-forced-detach), retried
 * until the deadline: it decides later refusals, so a throttled call must not lose it.
 */
function recordForcedDetach(run: Run, forcedFrom: string): Promise<void> {
  const { clock, pair, options } = run;
  const state = options.lease?.state;
  const at = clock.now();
  return reported(
    run,
    'record-forced-detach',
    async () => {
      if (!state) throw new Error('no state table');
      // Retried until the deadline under the lease; without it (the table was unreachable), one bounded try.
      const ms = run.lease ? options.deadline - clock.now() : STATE_BOUND_MS;
      await stateCall(run, state, `pair ${pair.name}'s state`, ms, () =>
        state.change(pair.name, () => ({ forcedDetach: { instanceId: forcedFrom, at } })),
      );
      return `recorded the forced detach from ${forcedFrom}: it is not a target until it is stopped and started`;
    },
    (e) => `could not record the forced detach from ${forcedFrom} (${describe(e)})`,
  );
}

/** Stop the failed holder after a forced detach, when the pair fences. */
async function fence(run: Run, fenced: string | undefined): Promise<void> {
  if (!fenced) return;
  await hold(run, 'fence');
  // Fencing is a precaution: if the stop fails, moving the address still matters more. Say so instead.
  await reported(
    run,
    'fence',
    async () => {
      await run.ec2.stop(fenced);
      return `fence: stopped ${fenced}, so that it cannot answer on a stale address`;
    },
    (e) => `fence: could not stop ${fenced} (${describe(e)}); it may still be running`,
  );
}

/** Someone else has attached the ENI elsewhere: a concurrent move, or a person. */
function elsewhere({ plan, eniId }: Run, eni: EniView, ours?: string): string | undefined {
  const a = eni.attachment;
  if (!a || a.id === ours || a.id === plan.detach?.attachmentId || a.id === plan.escalate?.attachmentId)
    return undefined;
  if (a.instanceId === plan.to) return undefined;
  return a.status === 'attached' || a.status === 'attaching'
    ? `${eniId} is now attached to ${a.instanceId}, not ${plan.to}`
    : undefined;
}

/**
 * Wait for the ENI to be available. Answers the attachment ID if a concurrent move of the same pair
 * has attached it to the target meanwhile. An automatic move whose detach without Force has not
 * finished within the plan's bound forces it (and records it, for a holder that still runs).
 */
async function awaitAvailable(run: Run, records: Promise<void>[]): Promise<string | undefined> {
  const { plan, step, ec2Patience, clock, notes } = run;
  if (!plan.awaitAvailable) return undefined;
  const detachedId = plan.detach?.attachmentId;
  const wait = (until?: number) =>
    step('wait-detached', () =>
      ec2Patience.settle<string | undefined>(
        'available',
        (eni) => {
          const theirs = attachedTo(eni, plan.to);
          if (theirs && theirs !== detachedId) return theirs;
          return eni.status === 'available' ? '' : undefined;
        },
        (eni) => elsewhere(run, eni),
        until,
      ),
    ).then((seen) => seen || undefined);
  const escalate = plan.escalate;
  const bound = escalate?.afterMs ?? plan.detachWithinMs;
  if (bound === undefined) return wait();
  try {
    return await wait(clock.now() + bound);
  } catch (error) {
    const timedOut = error instanceof StepError && error.cause instanceof SettleTimeoutError;
    if (!timedOut || clock.now() >= run.options.deadline) throw error;
    if (!escalate) {
      const from = plan.detach?.instanceId;
      throw new StepError('wait-detached', run.steps, {
        cause: new Error(
          `the detach${from ? ` from ${who(run.pair, from)}` : ''} had not finished after ${bound / 1000} s; a manual move never forces it (the holder's OS is not letting go): the ENI is still detaching, and the next round attaches it to ${who(run.pair, plan.to)} when it is healthy`,
        ),
      });
    }
  }
  notes.push(
    `the detach without Force had not finished after ${escalate.afterMs / 1000} s: forced (the holder's OS is not letting go)`,
  );
  await forceOrNot(run, escalate.attachmentId, true, true);
  if (escalate.record) records.push(recordForcedDetach(run, escalate.instanceId));
  await fence(run, escalate.fence);
  return wait();
}

/**
 * Attach to the target; if that fails and the old holder is healthy, put the ENI back on it. A move
 * that may put back stops retrying its attach PUT_BACK_RESERVE_MS before the deadline, so that the
 * put-back has time of its own.
 */
async function attachOrPutBack(run: Run): Promise<string> {
  const { plan, pair, step, ec2Patience, options } = run;
  const until = plan.putBack ? options.deadline - PUT_BACK_RESERVE_MS : options.deadline;
  try {
    return await step('attach', () => ec2Patience.attach('attach', plan.to, pair.deviceIndex, until));
  } catch (error) {
    if (plan.putBack) await putBack(run, plan.putBack, error);
    throw error;
  }
}

/** Follow the attachment the attach returned: a read just after it may still show the old one. */
async function awaitAttached(run: Run, ours: string): Promise<EniView> {
  const { plan, step, ec2Patience, eniId } = run;
  return step('wait-attached', () =>
    ec2Patience.settle(
      `attached to ${plan.to}`,
      (eni) => (eni.attachment?.id === ours && eni.attachment.status === 'attached' ? eni : undefined),
      (eni) => {
        const a = eni.attachment;
        if (a?.id === ours && (a.status === 'detaching' || a.status === 'detached'))
          return `${eniId} is being detached from ${plan.to} again`;
        return elsewhere(run, eni, ours);
      },
    ),
  );
}

/**
 * The address outlives its new holder: set it explicitly rather than trust the attachment's default
 * (EC2 User Guide, "Network interface attributes": DeleteOnTermination). Idempotent, so a transient error is retried.
 */
async function keep({ ec2, eniId, step, ec2Patience }: Run, ours: string): Promise<void> {
  await step('keep-on-termination', () =>
    ec2Patience.mutate(
      'keep-on-termination',
      () => ec2.keepOnTermination(eniId, ours),
      (eni) =>
        eni.attachment?.id === ours && !eni.attachment.deleteOnTermination ? { done: undefined } : 'again',
    ),
  );
}

/**
 * One breadcrumb on the ENI for a person reading the console: when, from where, to where, why. Best effort: the
 * ENI's tags are the owner's (EC2 allows 50 per resource, User Guide "Tag restrictions"), so a full budget or a
 * refused call only notes it; no decision ever reads it.
 */
async function breadcrumb({ plan, clock, options, ec2, eniId, notes, steps }: Run): Promise<void> {
  const start = clock.now();
  const value = `${new Date(start).toISOString()} ${plan.from ?? 'none'} -> ${plan.to}: ${options.reason}`;
  try {
    // A tag value holds 256 characters (EC2 User Guide, "Tag restrictions").
    await ec2.tag(eniId, { [BREADCRUMB]: value.slice(0, 256) });
  } catch (error) {
    notes.push(`could not leave the breadcrumb tag on ${eniId} (${describe(error)}); the move stands`);
  } finally {
    steps.push({ name: 'breadcrumb', ms: clock.now() - start });
  }
}

/**
 * Re-read the target before reporting: a standby that stopped during the move does not serve, and the
 * move must not be reported `moved`. Failing here reports where the ENI is, and Lambda's retry (or the
 * next round) moves it on.
 */
async function verifyTarget({ plan, ec2, clock, options, step }: Run): Promise<void> {
  await step('verify-target', async () => {
    const state = await readThrough(
      clock,
      options.deadline,
      (e) => ec2.isTransient(e),
      plan.to,
      () => ec2.instanceState(plan.to),
    );
    if (state !== 'running')
      throw new Error(
        `${plan.to} is ${state ?? 'gone'} now, not running: the ENI is on an instance that does not serve`,
      );
  });
}

/** Ask the new holder's OS whether it brought the address up (a pair with verifyOs). */
async function verifyOs(run: Run): Promise<void> {
  const { plan, options } = run;
  const address = plan.verifyAddress;
  const os = options.os;
  if (!address) return;
  // Reported, never undone: the ENI is where it must be; an OS that did not configure it needs a person.
  await reported(
    run,
    'os-check',
    async () => {
      if (!os) throw new Error('no SSM client was configured');
      const { up, detail } = await os.addressIsUp(plan.to, address, options.deadline);
      return up
        ? `os-check: ${plan.to} brought ${address} up ${detail}`
        : `os-check: FAILED: ${plan.to} has not brought ${address} up (${detail}); on Ubuntu, enable cloud-init hotplug`;
    },
    (e) => `os-check: FAILED: could not ask ${plan.to} (${e.name}: ${e.message})`,
  );
}

/**
 * The attach to the target failed and the old holder is healthy (a drill, a fail-back): attach the
 * ENI to it again, so the address serves from where it was. Throws a StepError that says so.
 */
async function putBack(
  { pair, ec2, eniId, steps, step, ec2Patience }: Run,
  to: string,
  cause: unknown,
): Promise<never> {
  const failed = describe(cause instanceof StepError ? cause.cause : cause);
  try {
    const back = await step('put-back', () => ec2Patience.attach('put-back', to, pair.deviceIndex));
    await step('wait-put-back', () =>
      ec2Patience.settle(`attached to ${to} again`, (eni) =>
        eni.attachment?.id === back && eni.attachment.status === 'attached' ? true : undefined,
      ),
    );
    await step('keep-on-termination', () => ec2.keepOnTermination(eniId, back));
  } catch (error) {
    const again = error instanceof StepError ? error.message : describe(error);
    throw new StepError('attach', steps, {
      cause: new PutBackError(`${failed}; putting it back on ${to} failed too: ${again}`),
    });
  }
  throw new StepError('attach', steps, {
    cause: new PutBackError(`${failed}; the ENI was put back on ${to}, which serves the address again`),
  });
}

/** The move could not finish; says whether the ENI went back to its healthy holder. */
export class PutBackError extends Error {
  override readonly name = 'PutBackError';
}
