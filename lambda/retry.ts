// The retry engine: reads read through until a deadline, waits that poll with a short backoff, and mutations judged
// by reading EC2 again, since the SDK may replay a call EC2 had carried out (EC2 API Reference, "Ensuring
// idempotency"). No decisions: lambda/execute.ts performs a move through it, and the state calls use bounded().
import { setTimeout as sleep } from 'node:timers/promises';
import type { StatePort } from './state.ts';
import type { EniView } from './view.ts';

/** What the engine reads and attaches through: the part of lambda/execute.ts's Ec2Port it needs. */
export interface EniCalls {
  describeEni(networkInterfaceId: string): Promise<EniView | undefined>;
  attach(networkInterfaceId: string, instanceId: string, deviceIndex: number): Promise<string>;
  isTransient(error: unknown): boolean;
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

export class SettleTimeoutError extends Error {
  override readonly name = 'SettleTimeoutError';
}

export const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Attached (or attaching) to `instanceId`: its attachment ID. */
export function attachedTo(eni: EniView, instanceId: string): string | undefined {
  const a = eni.attachment;
  return a && a.instanceId === instanceId && (a.status === 'attached' || a.status === 'attaching')
    ? a.id
    : undefined;
}

/** The delays between looks: 200 ms, then a tenth of the time waited so far, at most 1 s, until `until`. */
export async function pause(clock: Clock, start: number, until: number, what: () => string): Promise<void> {
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
 * Reading and changing one ENI during a move as real EC2 must be treated: transient errors (throttling, 5xx,
 * timeouts) are read through until the deadline, and a mutation is judged by EC2 rather than by its answer. Detach
 * and attach take no client token, and the SDK replays a call whose answer was lost (EC2 API Reference, "Ensuring
 * idempotency": only calls with a ClientToken are idempotent).
 */
export class Patience {
  constructor(
    private readonly ec2: EniCalls,
    private readonly eniId: string,
    private readonly clock: Clock,
    private readonly deadline: number,
    private readonly notes: string[],
    /** Before every send of a mutation, retries included (execute.ts: the lease is still this move's). */
    private readonly beforeSend: (name: string) => Promise<void> = async () => {},
  ) {}

  /** One read of the ENI. */
  async read(): Promise<EniView> {
    const { ec2, eniId } = this;
    const eni = await readThrough(
      this.clock,
      this.deadline,
      (e) => ec2.isTransient(e),
      eniId,
      () => ec2.describeEni(eniId),
    );
    if (!eni) throw new Error(`${eniId} no longer exists`);
    return eni;
  }

  /** Polls until `done` answers a value; `wrong` ends the wait early with a reason; gives up at `until`. */
  async settle<T>(
    want: string,
    done: (eni: EniView) => T | undefined,
    wrong?: (eni: EniView) => string | undefined,
    until = this.deadline,
  ): Promise<T> {
    const { clock, eniId } = this;
    const start = clock.now();
    for (;;) {
      await pause(
        clock,
        start,
        Math.min(until, this.deadline),
        () => `${eniId} was not ${want} after ${((clock.now() - start) / 1000).toFixed(1)} s`,
      );
      const eni = await this.read();
      const value = done(eni);
      if (value !== undefined) return value;
      const problem = wrong?.(eni);
      if (problem) throw new Error(problem);
    }
  }

  /**
   * A mutation: after an error, read the ENI; if it shows the step done (a replay of a call EC2 had
   * carried out), go on; if the error was transient and the ENI still allows the call ('again'), make
   * it again; otherwise ('no') the error stands. The answer a replay gets (the attachment gone or
   * detaching, the ENI in use) may meet a read that still shows the old state, so after such an
   * answer EC2 is read again for a while before the error is believed.
   */
  async mutate<T>(
    name: string,
    call: () => Promise<T>,
    /** `ours`: this invocation may have carried the call out (a send of ours reached EC2 before this answer). */
    judge: (eni: EniView, ours: boolean) => { done: T } | 'again' | 'no' | 'theirs',
    until = this.deadline,
  ): Promise<T> {
    const start = this.clock.now();
    let sends = 0;
    for (;;) {
      // Outside the try: a lease lost is no answer of EC2's to judge.
      await this.beforeSend(name);
      try {
        sends++;
        return await call();
      } catch (error) {
        // A replay answer to this invocation's first send, on the SDK's first attempt, answers someone else's call.
        const replayed = REPLAY_ANSWERS.has((error as Error).name);
        const ours = sends > 1 || attemptsOf(error) > 1 || !replayed;
        const verdict = await this.judged(name, error, replayed, ours, judge);
        if (verdict !== undefined) return verdict.done;
        await pause(
          this.clock,
          start,
          Math.min(until, this.deadline),
          () => `${name} kept failing until the deadline: ${describe(error)}`,
        );
      }
    }
  }

  /**
   * EC2's word on a mutation that answered `error`: the step done (going on), or undefined to send it again; throws
   * when the error stands. A replay's answer is believed only once reads have had STALE_READ_MS to catch up.
   */
  private async judged<T>(
    name: string,
    error: unknown,
    replayed: boolean,
    ours: boolean,
    judge: (eni: EniView, ours: boolean) => { done: T } | 'again' | 'no' | 'theirs',
  ): Promise<{ done: T } | undefined> {
    const since = this.clock.now();
    for (;;) {
      const verdict = judge(await this.read(), ours);
      if (verdict === 'theirs')
        throw new NotOursError(
          `${this.eniId} was changed by another invocation (${name}: ${describe(error)})`,
        );
      if (verdict !== 'again' && verdict !== 'no') {
        this.notes.push(
          `${name}: EC2 answered ${describe(error)}, but shows the step done (a replayed call whose first answer was lost); going on`,
        );
        return verdict;
      }
      if (!replayed || this.clock.now() - since >= STALE_READ_MS) {
        if (verdict === 'no' || !this.ec2.isTransient(error)) throw error;
        return undefined;
      }
      await pause(
        this.clock,
        since,
        this.deadline,
        () => `${name}: EC2 answered ${describe(error)} until the deadline`,
      );
    }
  }

  /** Attach to `to`, unless EC2 shows it done; again while the ENI is available and the error transient. */
  attach(name: string, to: string, deviceIndex: number, until = this.deadline): Promise<string> {
    return this.mutate(
      name,
      () => this.ec2.attach(this.eniId, to, deviceIndex),
      (eni, mine) => {
        const attached = attachedTo(eni, to);
        if (attached) return mine ? { done: attached } : 'theirs';
        return eni.status === 'available' ? 'again' : 'no';
      },
      until,
    );
  }
}

/** The SDK's attempts behind an error (AWS SDK for JavaScript v3, ResponseMetadata.attempts); 1 when it does not say. */
const attemptsOf = (error: unknown) =>
  (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;

/** Another invocation's call made the change this one was about to make: the move is not this invocation's. */
export class NotOursError extends Error {
  override readonly name = 'NotOursError';
}

/**
 * A call to the state table, read through transient errors until `until` and given up on then, even mid-call:
 * the SDK's own timeouts (a few seconds a try, several tries) must not hold a move off a dead holder longer.
 */
export async function bounded<T>(
  clock: Clock,
  until: number,
  state: Pick<StatePort, 'isTransient'>,
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  const ms = Math.max(0, until - clock.now());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  const work = readThrough(clock, until, (e) => state.isTransient(e), what, call);
  work.catch(() => undefined);
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
