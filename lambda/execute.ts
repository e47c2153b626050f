import { setTimeout as sleep } from 'node:timers/promises';
import type { Pair } from './config';
import { type EniView, type MovePlan, TAG } from './plan';
import type { Step } from './result';

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
}

/** Performs a move plan: detach (Force only for a failed holder), wait, attach, wait, keep, tag. */
export async function execute(
  plan: MovePlan,
  pair: Pair,
  ec2: Ec2Port,
  options: ExecuteOptions,
): Promise<{ steps: Step[]; notes: string[] }> {
  const clock = options.clock ?? systemClock;
  const steps: Step[] = options.steps ?? [];
  /** What the result should say besides the plan's reasons (fencing, the OS check). */
  const notes: string[] = [];
  const eniId = pair.networkInterfaceId;

  const step = <T>(name: string, action: () => Promise<T>): Promise<T> => timed(clock, steps, name, action);
  /** A step that never undoes the move: its outcome, good or bad, becomes a note in the result. */
  const reported = async (name: string, action: () => Promise<string>, failure: (error: Error) => string) => {
    const start = clock.now();
    try {
      notes.push(await action());
    } catch (error) {
      notes.push(failure(error as Error));
    } finally {
      steps.push({ name, ms: clock.now() - start });
    }
  };

  const settle = async (
    want: string,
    done: (eni: EniView) => boolean,
    wrong?: (eni: EniView) => string | undefined,
  ) => {
    const start = clock.now();
    for (;;) {
      const delay = Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, (clock.now() - start) * POLL_FRACTION));
      if (clock.now() + delay > options.deadline) {
        throw new SettleTimeoutError(
          `${eniId} was not ${want} after ${((clock.now() - start) / 1000).toFixed(1)} s`,
        );
      }
      await clock.sleep(delay);
      const eni = await ec2.describeEni(eniId);
      if (!eni) throw new Error(`${eniId} no longer exists`);
      if (done(eni)) return;
      const problem = wrong?.(eni);
      if (problem) throw new Error(problem);
    }
  };

  if (plan.detach) {
    const { attachmentId, force } = plan.detach;
    await step(force ? 'force-detach' : 'detach', () => ec2.detach(attachmentId, force));
  }
  const fenced = plan.fence;
  if (fenced) {
    // Fencing is a precaution: if the stop fails, moving the address still matters more. Say so instead.
    await reported(
      'fence',
      async () => {
        await ec2.stop(fenced);
        return `fence: stopped ${fenced}, so that it cannot answer on a stale address`;
      },
      (e) => `fence: could not stop ${fenced} (${e.name}: ${e.message}); it may still be running`,
    );
  }
  if (plan.awaitAvailable)
    await step('wait-detached', () => settle('available', (eni) => eni.status === 'available'));
  const attachmentId = await step('attach', () => ec2.attach(eniId, plan.to, pair.deviceIndex));
  await step('wait-attached', () =>
    settle(
      `attached to ${plan.to}`,
      (eni) => eni.attachment?.id === attachmentId && eni.attachment.status === 'attached',
      (eni) => {
        const holder = eni.attachment?.instanceId;
        if (eni.attachment?.id !== attachmentId && holder !== undefined && holder !== plan.to) {
          return `${eniId} is now attached to ${holder}, not ${plan.to}`;
        }
        return undefined;
      },
    ),
  );
  // A service address must survive its holder's termination: set it explicitly rather than trust the
  // attachment's default (AWS_FACTS.md).
  await step('keep-on-termination', () => ec2.keepOnTermination(eniId, attachmentId));
  await step('tag', () =>
    ec2.tag(eniId, {
      [TAG.movedAt]: new Date(clock.now()).toISOString(),
      [TAG.from]: plan.from ?? 'none',
      [TAG.to]: plan.to,
      [TAG.reason]: options.reason.slice(0, 256),
    }),
  );
  const address = plan.verifyAddress;
  const os = options.os;
  if (address) {
    // Reported, never undone: the ENI is where it must be; an OS that did not configure it needs a person.
    await reported(
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
  return { steps, notes };
}
