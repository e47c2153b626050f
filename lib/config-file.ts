import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { ConfigError, type Pair, parsePairs } from '../lambda/config.ts';

/** What `-c config=FILE` holds. */
export interface StackConfig {
  readonly pairs: Pair[];
  readonly notificationEmails?: string[];
  readonly alarmDatapoints?: number;
  readonly experiments?: string[];
  /** Minutes between reconcile rounds, or false for none (the construct's reconcileSchedule). */
  readonly reconcileScheduleMinutes?: number | false;
}

const minutesOrFalse = (i: { input: unknown }) =>
  `must be a whole number of minutes (1 or more) or false, got ${JSON.stringify(i.input) ?? String(i.input)}`;

const Shape = z.strictObject({
  pairs: z.unknown(),
  notificationEmails: z.optional(z.array(z.string())),
  alarmDatapoints: z.optional(z.number()),
  experiments: z.optional(z.array(z.string())),
  reconcileScheduleMinutes: z.optional(
    z.union([z.int().check(z.minimum(1, { error: minutesOrFalse })), z.literal(false)], {
      error: minutesOrFalse,
    }),
  ),
});

/** Reads and validates a stack configuration file; throws one ConfigError naming every problem. */
export function loadStackConfig(path: string): StackConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${path}: ${(error as Error).message}`]);
  }
  const problems: string[] = [];
  const shape = Shape.safeParse(raw);
  if (!shape.success) {
    for (const issue of shape.error.issues) {
      problems.push(
        issue.code === 'unrecognized_keys'
          ? `${path}: unknown field(s) ${issue.keys.join(', ')} (expected pairs, notificationEmails, alarmDatapoints, experiments, reconcileScheduleMinutes)`
          : `${path}: ${issue.path.join('.') || 'the file'} ${issue.message}`,
      );
    }
  }
  let pairs: Pair[] = [];
  const given = typeof raw === 'object' && raw !== null ? (raw as { pairs?: unknown }).pairs : undefined;
  if (given === undefined) problems.push(`${path}: pairs is required`);
  else {
    try {
      pairs = parsePairs(given, 'pairs');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems.map((p) => `${path}: ${p}`));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const data = shape.success ? shape.data : undefined;
  return {
    pairs,
    notificationEmails: data?.notificationEmails,
    alarmDatapoints: data?.alarmDatapoints,
    experiments: data?.experiments,
    reconcileScheduleMinutes: data?.reconcileScheduleMinutes,
  };
}
