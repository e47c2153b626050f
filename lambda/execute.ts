import { setTimeout as sleep } from 'node:timers/promises';
import type { Pair } from './config';
import { type MovePlan, rivalIntent } from './plan';
import type { Step } from './result';
import { type EniView, intentsOf, intentTag, TAG, withAutomaticMove } from './view';

/** The narrow port the executor acts through; lambda/aws/ec2.ts implements it over the SDK. */
export interface Ec2Port {
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

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

// Polling: the first look after 200 ms, then every tenth of the time waited so far, at most 1 s apart.
// A settle of T seconds is then seen within ~T/10 of happening (the SDK's waiter waits 20 s at least).
const POLL_MIN_MS = 200;
const POLL_MAX_MS = 1000;
const POLL_FRACTION = 0.1;
/**
 * What EC2 answers a replayed detach or attach (EC2 API Reference, "Ensuring idempotency": DetachNetworkInterface and AttachNetworkInterface take no ClientToken), and how long a
 * read may still show the state from before the call (EC2 API Reference, "Eventual consistency").
 */
const REPLAY_ANSWERS = new Set([
  'IncorrectState',
  'InvalidAttachmentID.NotFound',
  'InvalidNetworkInterface.InUse',
]);
const STALE_READ_MS = 10_000;
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

export class SettleTimeoutError extends Error {
  override readonly name = 'SettleTimeoutError';
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
   * This invocation's ID: the move records its intent on the ENI before its first mutation, stands
   * aside for a rival that goes first, and deletes its intent when it ends. Without it, EC2 alone is
   * the lock (as for a test that drives execute() directly).
   */
  readonly invocation?: string;
}

/** What a move ended in: `made`, or the ENI was (or is being) moved by another invocation. */
export type Executed =
  | { readonly made: true; readonly steps: Step[]; readonly notes: string[] }
  | { readonly made: false; readonly steps: Step[]; readonly notes: string[]; readonly reason: string };

const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Attached (or attaching) to `instanceId`: its attachment ID. */
function attachedTo(eni: EniView, instanceId: string): string | undefined {
  const a = eni.attachment;
  return a && a.instanceId === instanceId && (a.status === 'attached' || a.status === 'attaching')
    ? a.id
    : undefined;
}

/** The delays between looks: 200 ms, then a tenth of the time waited so far, at most 1 s, until `until`. */
async function pause(clock: Clock, start: number, until: number, what: () => string): Promise<void> {
  const delay = Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, (clock.now() - start) * POLL_FRACTION));
  if (clock.now() + delay > until) throw new SettleTimeoutError(what());
  await clock.sleep(delay);
}

/**
 * A read, read through: throttling, a 5xx, a timeout (`isTransient`) is asked again until `until`;
 * any other error stands. Every read of the function goes through it, the first observation included.
 */
export async function readThrough<T>(
  clock: Clock,
  until: number,
  isTransient: (error: unknown) => boolean,
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  const start = clock.now();
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) throw error;
      await pause(
        clock,
        start,
        until,
        () => `could not read ${what} before the deadline: ${describe(error)}`,
      );
    }
  }
}

/**
 * Reading and changing one ENI during a move as real EC2 must be treated: transient errors (throttling,
 * 5xx, timeouts) are read through until the deadline, and a mutation is judged by EC2 rather than by
 * its answer. Detach and attach take no client token, and the SDK replays a call whose answer was
 * lost (EC2 API Reference, "Ensuring idempotency": only calls with a ClientToken are idempotent).
 */
function patience(ec2: Ec2Port, eniId: string, clock: Clock, deadline: number, notes: string[]) {
  /** The ENI as last read: its tags name the expired intents to clear. */
  let last: EniView | undefined;

  /** One read of the ENI. */
  const read = async (): Promise<EniView> => {
    const eni = await readThrough(
      clock,
      deadline,
      (e) => ec2.isTransient(e),
      eniId,
      () => ec2.describeEni(eniId),
    );
    if (!eni) throw new Error(`${eniId} no longer exists`);
    last = eni;
    return eni;
  };

  /** Polls until `done` answers a value; `wrong` ends the wait early with a reason; gives up at `until`. */
  const settle = async <T>(
    want: string,
    done: (eni: EniView) => T | undefined,
    wrong?: (eni: EniView) => string | undefined,
    until = deadline,
  ): Promise<T> => {
    const start = clock.now();
    for (;;) {
      await pause(
        clock,
        start,
        Math.min(until, deadline),
        () => `${eniId} was not ${want} after ${((clock.now() - start) / 1000).toFixed(1)} s`,
      );
      const eni = await read();
      const value = done(eni);
      if (value !== undefined) return value;
      const problem = wrong?.(eni);
      if (problem) throw new Error(problem);
    }
  };

  /**
   * A mutation: after an error, read the ENI; if it shows the step done (a replay of a call EC2 had
   * carried out), go on; if the error was transient and the ENI still allows the call ('again'), make
   * it again; otherwise ('no') the error stands. The answer a replay gets (the attachment gone or
   * detaching, the ENI in use) may meet a read that still shows the old state, so after such an
   * answer EC2 is read again for a while before the error is believed.
   */
  const mutate = async <T>(
    name: string,
    call: () => Promise<T>,
    judge: (eni: EniView) => { done: T } | 'again' | 'no',
    until = deadline,
  ): Promise<T> => {
    const start = clock.now();
    for (;;) {
      try {
        return await call();
      } catch (error) {
        const judged = clock.now();
        const replayed = REPLAY_ANSWERS.has((error as Error).name);
        for (;;) {
          const verdict = judge(await read());
          if (verdict !== 'again' && verdict !== 'no') {
            notes.push(
              `${name}: EC2 answered ${describe(error)}, but shows the step done (a replayed call whose first answer was lost); going on`,
            );
            return verdict.done;
          }
          if (!replayed || clock.now() - judged >= STALE_READ_MS) {
            if (verdict === 'no' || !ec2.isTransient(error)) throw error;
            break;
          }
          await pause(
            clock,
            judged,
            deadline,
            () => `${name}: EC2 answered ${describe(error)} until the deadline`,
          );
        }
        await pause(
          clock,
          start,
          Math.min(until, deadline),
          () => `${name} kept failing until the deadline: ${describe(error)}`,
        );
      }
    }
  };

  /** Attach to `to`, unless EC2 shows it done; again while the ENI is available and the error transient. */
  const attach = (name: string, to: string, deviceIndex: number, until = deadline) =>
    mutate(
      name,
      () => ec2.attach(eniId, to, deviceIndex),
      (eni) => {
        const ours = attachedTo(eni, to);
        if (ours) return { done: ours };
        return eni.status === 'available' ? 'again' : 'no';
      },
      until,
    );

  /** Write tags, unless EC2 shows them written; again on a transient error, until the deadline. */
  const tag = (name: string, tags: Record<string, string>) =>
    mutate(
      name,
      () => ec2.tag(eniId, tags),
      (eni) => (Object.entries(tags).every(([k, v]) => eni.tags[k] === v) ? { done: undefined } : 'again'),
    );

  return { read, settle, mutate, attach, tag, last: () => last };
}

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
  readonly ec2Patience: ReturnType<typeof patience>;
  /** Runs one named, timed step; a failure becomes a StepError. */
  readonly step: <T>(name: string, action: () => Promise<T>) => Promise<T>;
}

/**
 * Performs a move plan: record the intent, detach (Force by need) while confirming the intent, wait
 * (forcing a detach that hangs, for an automatic move), attach (or put back), wait, keep, tag, re-read
 * the target, delete the intent. EC2 is the lock underneath: the detach names the attachment that was
 * observed, and the attach is made only to an ENI seen `available` (see patience()).
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
    ec2Patience: patience(ec2, eniId, clock, options.deadline, notes),
    step: (name, action) => timed(clock, steps, name, action),
  };
  const self = options.invocation;
  // Recorded at once, in parallel with the wait, and awaited before the end: AWS documents that the
  // instance may refuse another interface at that device index until it is stopped and started.
  const records: Promise<void>[] = [];
  try {
    // Inside the try: a CreateTags that EC2 carried out but whose answer was an error (or lost) leaves
    // an intent on the ENI, which the finally deletes.
    if (self) await recordIntent(run, self);
    const rival = await detachAndConfirm(run, self);
    if (rival) return { made: false, steps, notes, reason: rival };
    if (plan.detach?.record) records.push(recordForcedDetach(run, plan.detach.instanceId));
    await fence(run);
    const already = await awaitAvailable(run, records);
    const attachmentId = already ?? (await attachOrPutBack(run));
    const settled = await awaitAttached(run, attachmentId);
    const owner = self ? ownerOf(settled, self, plan.to, clock.now()) : undefined;
    if (owner) return { made: false, steps, notes, reason: owner };
    if (already)
      notes.push(`${eniId} was attached to ${plan.to} by another invocation while this one waited`);
    // Independent calls, made together: the tail of a move costs one call's time, not three. Each is
    // let finish before a failure is thrown, so that the intent is deleted after them.
    const tail = await Promise.allSettled([keep(run, attachmentId), tagMove(run), verifyTarget(run)]);
    for (const t of tail) if (t.status === 'rejected') throw t.reason;
    await verifyOs(run);
    return { made: true, steps, notes };
  } finally {
    await Promise.all(records);
    if (self) await releaseIntent(run, self);
  }
}

/**
 * Before the first mutation, the move writes on the ENI which invocation moves it where, until when
 * (its deadline, after which it calls EC2 no more). One key per invocation, so that no write hides
 * another's: tags are last-writer-wins per key.
 */
async function recordIntent({ plan, clock, options, step, ec2Patience }: Run, self: string): Promise<void> {
  const now = clock.now();
  const tags = intentTag({ id: self, target: plan.to, until: options.deadline, writtenAt: now });
  await step('intent', () => ec2Patience.tag('intent', tags));
}

/**
 * The detach, and beside it the re-read that confirms the intent: a rival that goes first (earliest
 * written, then smallest ID) makes this invocation stand aside. Doing both at once keeps the intent to
 * one call on the critical path; the detach is safe to make before the answer, since every move from
 * the observed holder detaches that same attachment, and EC2 refuses it twice. Answers the rival's
 * move when this invocation stands aside.
 */
async function detachAndConfirm(run: Run, self: string | undefined): Promise<string | undefined> {
  const confirming = self ? run.step('confirm-intent', () => confirmIntent(run, self)) : undefined;
  const [detached, confirmed] = await Promise.allSettled([detachStep(run), confirming]);
  if (confirmed.status === 'fulfilled' && confirmed.value) return confirmed.value;
  if (detached.status === 'rejected') throw detached.reason;
  if (confirmed.status === 'rejected') throw confirmed.reason;
  return undefined;
}

/** Re-reads the ENI until it shows this invocation's intent (reads may lag), then looks for a rival. */
async function confirmIntent({ clock, eniId, ec2Patience, notes }: Run, self: string) {
  const start = clock.now();
  for (;;) {
    const eni = await ec2Patience.read();
    const now = clock.now();
    if (intentsOf(eni.tags).some((i) => i.id === self)) {
      const rival = rivalIntent(eni.tags, self, now);
      return rival
        ? `a move by another invocation is under way (${rival.id}: to ${rival.target}); this one stood aside`
        : undefined;
    }
    if (now - start >= STALE_READ_MS) {
      notes.push(
        `${eniId}: its intent did not show in a read within ${STALE_READ_MS / 1000} s; EC2 is the lock`,
      );
      return undefined;
    }
    // Bounded by STALE_READ_MS above (and each read by the deadline), not by the pause.
    await pause(clock, start, Number.POSITIVE_INFINITY, () => `${eniId}: its intent did not show`);
  }
}

/**
 * Reports come from ownership: of the live intents to move the ENI to `to`, the first owns the move.
 * Two invocations that both went on (a rival's intent landed after this one's re-read) both find the
 * ENI on the target; one reports `moved`, the other `unchanged`.
 */
function ownerOf(eni: EniView, self: string, to: string, now: number): string | undefined {
  const first = rivalIntent(eni.tags, self, now, to);
  return first ? `${eni.id} was moved to ${to} by another invocation (${first.id})` : undefined;
}

/** Deletes this invocation's intent, and any expired one a crashed invocation left; a failure only notes it. */
async function releaseIntent({ ec2, eniId, clock, options, notes, ec2Patience }: Run, self: string) {
  const now = clock.now();
  const expired = intentsOf(ec2Patience.last()?.tags ?? {})
    .filter((i) => i.until <= now && i.id !== self)
    .map((i) => i.key);
  const keys = [`${TAG.intent}${self}`, ...expired];
  try {
    await readThrough(
      clock,
      options.deadline,
      (e) => ec2.isTransient(e),
      `${eniId} (delete intent)`,
      () => ec2.untag(eniId, keys),
    );
  } catch (error) {
    notes.push(`could not delete its intent from ${eniId} (${describe(error)}); it expires at the deadline`);
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
 * Write the forced detach on the ENI, for a holder that still runs (target-forced-detach), retried
 * until the deadline: it decides later refusals, so a throttled call must not lose it.
 */
function recordForcedDetach(run: Run, forcedFrom: string): Promise<void> {
  const { clock, ec2Patience } = run;
  return reported(
    run,
    'record-forced-detach',
    async () => {
      await ec2Patience.tag('record-forced-detach', {
        [TAG.forcedFrom]: forcedFrom,
        [TAG.forcedAt]: new Date(clock.now()).toISOString(),
      });
      return `recorded the forced detach from ${forcedFrom}: it is not a target until it is stopped and started`;
    },
    (e) => `could not record the forced detach from ${forcedFrom} (${describe(e)})`,
  );
}

/** Stop the failed holder, when the pair fences. */
async function fence(run: Run): Promise<void> {
  const fenced = run.plan.fence;
  if (!fenced) return;
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
  if (!escalate) return wait();
  try {
    return await wait(clock.now() + escalate.afterMs);
  } catch (error) {
    const timedOut = error instanceof StepError && error.cause instanceof SettleTimeoutError;
    if (!timedOut || clock.now() >= run.options.deadline) throw error;
  }
  notes.push(
    `the detach without Force had not finished after ${escalate.afterMs / 1000} s: forced (the holder's OS is not letting go)`,
  );
  await forceOrNot(run, escalate.attachmentId, true, true);
  if (escalate.record) records.push(recordForcedDetach(run, escalate.instanceId));
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

/** The ENI says where it moved, when and why (idempotent, retried on a transient error). */
async function tagMove({ plan, clock, options, step, ec2Patience }: Run): Promise<void> {
  const now = clock.now();
  const tags: Record<string, string> = {
    [TAG.movedAt]: new Date(now).toISOString(),
    [TAG.from]: plan.from ?? 'none',
    [TAG.to]: plan.to,
    [TAG.reason]: options.reason.slice(0, 256),
  };
  // Only automatic moves away from a failed holder count towards the cool-down and the flap limit.
  if (plan.automatic) tags[TAG.automaticMoves] = withAutomaticMove(ec2Patience.last()?.tags ?? {}, now);
  await step('tag', () => ec2Patience.tag('tag', tags));
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
