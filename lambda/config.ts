import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
// zod/mini, not zod: the full build adds ~45 ms to the function's cold start (docs/benchmarks.md).
import * as z from 'zod/mini';

/** Environment variable names: the only place they are spelled. */
export const ENV = {
  pairs: 'FAILOVER_PAIRS',
  /** A file of pairs in the function's code (what the stack deploys: no 4 KB environment limit). */
  pairsFile: 'FAILOVER_PAIRS_FILE',
  /** The values the file names by placeholder: those CloudFormation resolves at deploy (tokens). */
  values: 'FAILOVER_VALUES',
  topicArn: 'NOTIFICATION_TOPIC_ARN',
  /** The DynamoDB table of pair state (docs/contract.md, "Pair state"): required; the function never creates it. */
  stateTable: 'FAILOVER_STATE_TABLE',
} as const;

/** How the pairs file names the i-th value of FAILOVER_VALUES (a whole string value, never part of one). */
export const valuePlaceholder = (i: number): string => `\${${ENV.values}[${i}]}`;
const PLACEHOLDER = new RegExp(`^\\$\\{${ENV.values}\\[(\\d+)\\]\\}$`);

/**
 * One protected address: a secondary ENI and the two instances that may hold it. The schema below (PairSchema) is
 * tied to this type at compile time; docs/configuration.md is generated from these comments.
 */
export interface Pair {
  /** The pair's name, 1-64 letters, digits, `.`, `_` or `-`: in results, pages, metrics and manual events. */
  readonly name: string;
  /** The secondary ENI whose address the pair keeps alive (`eni-…`). */
  readonly networkInterfaceId: string;
  /** The instance that holds the ENI normally (`i-…`). */
  readonly primaryInstanceId: string;
  /** The instance in the same AZ that takes the ENI when the primary fails (`i-…`). */
  readonly standbyInstanceId: string;
  /** The device index the ENI takes on whichever member holds it, on network card 0: 1 or more (0 is the primary interface). */
  readonly deviceIndex: number;
  /**
   * An automatic move away from a holder that still runs, within this many seconds of the pair's last automatic
   * move, is refused (check `cooldown`). A stopped or gone holder is left at once. @default 300
   */
  readonly cooldownSeconds?: number;
  /**
   * At most this many automatic moves of the pair in an hour away from a holder that still runs; then
   * the pair is flapping and such moves are refused (check `flapping`), paged once. 1 to 10. @default 3
   */
  readonly maxMovesPerHour?: number;
  /**
   * After force-detaching from a failed holder that still runs, stop it, so it cannot answer on a stale address.
   * @default false
   */
  readonly fence?: boolean;
  /**
   * After the attach, confirm through SSM Run Command that the new holder's OS brought the ENI's address up.
   * @default false
   */
  readonly verifyOs?: boolean;
  /** Deployment only: pairs of one group share a function (the stack strips it from FAILOVER_PAIRS). @default none */
  readonly group?: string;
  /**
   * An EC2 application status check (HTTP/HTTPS) on both members: the stack creates and associates it,
   * and the function treats a holder whose application status is impaired as failed. @default none
   */
  readonly applicationCheck?: ApplicationCheck;
  /**
   * The EC2 application status check that judges this pair's members (asc-…): each member's application
   * health is that check's own result (DescribeApplicationStatus), never the instance-level aggregate,
   * which any other check on the instance can turn impaired. The stack fills it in for the check it
   * creates from `applicationCheck`; a user may name an existing check. @default none
   */
  readonly applicationCheckId?: string;
  /**
   * The construct's prober checks both members on their own primary addresses every `intervalMs`, and
   * sends the function its evidence when the holder fails while the other member passes (event 8). @default none
   */
  readonly probe?: ProbeOption;
  /**
   * Move the ENI off a holder that gets an EC2 rebalance recommendation (a Spot Instance at elevated risk of
   * interruption), as for a Spot interruption warning. Off, the recommendation (early and often) moves nothing,
   * and the warning two minutes ahead is enough for a graceful move. @default false
   */
  readonly moveOnRebalance?: boolean;
  /**
   * A holder with a scheduled event that stops, retires or reboots it is moved off once the event's
   * NotBefore is this many minutes away or less (1 to 10080). @default 15
   */
  readonly scheduledEventLeadMinutes?: number;
  /**
   * The deploy-time rehearsal (docs/contract.md event 9) fails the deploy when the pair is not ready. With this,
   * a pair whose only problems are its checks (topology: AZ, VPC, device index, limits; or a member stopped or
   * impaired now) may be deployed unready; a call EC2 refuses still fails the deploy. The daily rehearsal reports
   * it not ready all the same. @default false
   */
  readonly deployUnready?: boolean;
}

/** How the prober checks a member (lambda/probe/); lambda/evidence.ts probeSettings fills the defaults. */
export interface ProbeOption {
  /** tcp: a connection accepted is a pass; http/https: an answer with `expectStatus`. */
  readonly protocol: 'tcp' | 'http' | 'https';
  /** The port the service listens on, on each member's own primary address (and on the service address). */
  readonly port: number;
  /** http/https only; starts with '/'. @default '/' */
  readonly path?: string;
  /** http/https only: the status code that passes, 100 to 599. @default 200 */
  readonly expectStatus?: number;
  /** Milliseconds between probes of a member, 500 to 10000. @default 1000 */
  readonly intervalMs?: number;
  /** Milliseconds a probe waits for its answer, 100 or more and less than intervalMs. @default 500 */
  readonly timeoutMs?: number;
  /** Failed probes in a row that make a member failed, 2 to 20. @default 3 */
  readonly failures?: number;
}

/** EC2 application status check settings; EC2's defaults apply to what is left out (CreateApplicationStatusCheck). */
export interface ApplicationCheck {
  /** How EC2 checks the application. */
  readonly protocol: 'http' | 'https';
  /** The port it checks, on each member. */
  readonly port: number;
  /** Starts with '/'. @default '/' */
  readonly path?: string;
  /** Seconds between checks: EC2 accepts only 60. @default 60 */
  readonly interval?: number;
  /** Seconds to wait for an answer, 1 to 30. @default 6 */
  readonly timeout?: number;
  /** Failed checks in a row that make the application impaired. @default 2 */
  readonly failureThreshold?: number;
  /** Passed checks in a row that make it ok again. @default 2 */
  readonly successThreshold?: number;
  /**
   * The HTTP status codes that mean healthy: codes and ranges, comma-separated, e.g. `200-299` or `200,204,301-302`
   * (at most 64 characters). @default '200'
   */
  readonly statusCodeMatcher?: string;
  /** Seconds after an instance's launch before the checks begin, 1 to 600. @default 300 */
  readonly initializationGracePeriodSeconds?: number;
  /** Check the member's IPv4 or IPv6 address. @default 'ipv4' */
  readonly ipVersion?: 'ipv4' | 'ipv6';
}

/**
 * The EventBridge detail-types that announce a planned failure (docs/contract.md event 7), by the warning each
 * becomes: here, because the stack routes them (lib/detection.ts) and the function parses them (events.ts).
 */
export const PLANNED_DETAIL_TYPES = {
  'spot-interruption': 'EC2 Spot Instance Interruption Warning',
  'rebalance-recommendation': 'EC2 Instance Rebalance Recommendation',
} as const;
export type PlannedWarning = keyof typeof PLANNED_DETAIL_TYPES;

export const DEFAULT_COOLDOWN_SECONDS = 300;
export const DEFAULT_SCHEDULED_EVENT_LEAD_MINUTES = 15;
export const DEFAULT_MAX_MOVES_PER_HOUR = 3;
/** The prober's defaults (docs/contract.md event 8). */
/**
 * The longest probe window, (failures - 1) x intervalMs. The prober counts failures within one run
 * (about 75 s, a new one every minute) and the function takes evidence for 30 s: a longer window would
 * never be seen whole by one run, so it would never detect.
 */
export const MAX_PROBE_WINDOW_MS = 30_000;
export const DEFAULT_PROBE = {
  path: '/',
  expectStatus: 200,
  intervalMs: 1000,
  timeoutMs: 500,
  failures: 3,
} as const;

/** A probe option with every default filled in. */
export type ProbeSettings = Required<ProbeOption>;

/** A pair's probe option with its defaults, or undefined for a pair that is not probed. */
export function probeSettings(pair: Pair): ProbeSettings | undefined {
  const p = pair.probe;
  return p && { ...DEFAULT_PROBE, ...p };
}

export interface Config {
  readonly pairs: readonly Pair[];
  readonly topicArn: string | undefined;
  /** The pair state table's name (FAILOVER_STATE_TABLE): loadConfig requires it; tests that build a Config give their own StatePort. */
  readonly stateTable?: string;
}

/** A DynamoDB table name (DynamoDB Developer Guide, "Naming rules"): 3-255 of letters, digits, _ - and . */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid eni-failover configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

// EC2 IDs are 8 hex digits (old) or 17 (since 2016).
const ENI_ID = /^eni-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
// EC2 application status check IDs are EC2 IDs too: asc-0123456789abcdef0 (EC2 API Reference,
// DescribeApplicationStatusChecks, example).
const CHECK_ID = /^asc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const PAIR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// Letters and digits only: a group names CloudFormation logical IDs, which keep only those.
const GROUP_NAME = /^[A-Za-z0-9]{1,32}$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

const id = (re: RegExp, what: string) =>
  z
    .string({ error: (i) => `${what}, got ${show(i.input)}` })
    .check(z.regex(re, { error: (i) => `${what}, got ${show(i.input)}` }));
const wholeIn = (min: number, max: number, what: string) =>
  z
    .int({ error: (i) => `must be a whole number of ${what}, got ${show(i.input)}` })
    .check(
      z.minimum(min, { error: (i) => `must be from ${min} to ${max}, got ${show(i.input)}` }),
      z.maximum(max, { error: (i) => `must be from ${min} to ${max}, got ${show(i.input)}` }),
    );
const wholeNumber = {
  error: (i: { input: unknown }) => `must be a whole number of 1 or more, got ${show(i.input)}`,
};

/** What is wrong with an HTTP status-code matcher (`200`, `200-299`, `200,204,301-302`), or undefined. */
export function statusCodeProblem(matcher: string): string | undefined {
  const got = `got ${show(matcher)}`;
  if (matcher.length === 0 || matcher.length > 64)
    return `must be 1-64 characters of codes and ranges, e.g. "200-299", ${got}`;
  for (const part of matcher.split(',')) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (!m)
      return `must be HTTP status codes or ranges separated by commas, e.g. "200,204" or "200-299", ${got}`;
    const [low, high] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (low < 100 || high > 599) return `must hold HTTP status codes from 100 to 599, ${got}`;
    if (m[2] !== undefined && low >= high)
      return `has the range ${part}, whose first code is not below its second, ${got}`;
  }
  return undefined;
}

const PairSchema = z.strictObject({
  name: z.string().check(
    z.regex(PAIR_NAME, {
      error: (i) => `must be 1-64 letters, digits, '.', '_' or '-', got ${show(i.input)}`,
    }),
  ),
  networkInterfaceId: id(ENI_ID, 'must look like eni-0123456789abcdef0'),
  primaryInstanceId: id(INSTANCE_ID, 'must look like i-0123456789abcdef0'),
  standbyInstanceId: id(INSTANCE_ID, 'must look like i-0123456789abcdef0'),
  deviceIndex: z.int(wholeNumber).check(
    z.minimum(1, {
      error: (i) => `must be 1 or more (0 is the instance's own primary interface), got ${show(i.input)}`,
    }),
  ),
  cooldownSeconds: z.optional(
    z
      .int({ error: (i) => `must be a whole number of seconds, got ${show(i.input)}` })
      .check(z.minimum(0, { error: (i) => `must be 0 or more seconds, got ${show(i.input)}` })),
  ),
  // At most 10: the ENI keeps the last hour's automatic moves in one tag value (lambda/view.ts).
  maxMovesPerHour: z.optional(wholeIn(1, 10, 'moves an hour')),
  fence: z.optional(z.boolean({ error: (i) => `must be true or false, got ${show(i.input)}` })),
  verifyOs: z.optional(z.boolean({ error: (i) => `must be true or false, got ${show(i.input)}` })),
  moveOnRebalance: z.optional(z.boolean({ error: (i) => `must be true or false, got ${show(i.input)}` })),
  deployUnready: z.optional(z.boolean({ error: (i) => `must be true or false, got ${show(i.input)}` })),
  // EC2 schedules events at least days ahead (EC2 User Guide, "Scheduled events for your instances");
  // more than a week's lead would move long before anyone looked.
  scheduledEventLeadMinutes: z.optional(wholeIn(1, 7 * 24 * 60, 'minutes')),
  group: z.optional(
    z
      .string()
      .check(z.regex(GROUP_NAME, { error: (i) => `must be 1-32 letters or digits, got ${show(i.input)}` })),
  ),
  applicationCheck: z.optional(
    z.strictObject({
      protocol: z.enum(['http', 'https'], {
        error: (i) => `must be "http" or "https", got ${show(i.input)}`,
      }),
      port: wholeIn(1, 65535, 'a port'),
      path: z.optional(
        z.string().check(
          z.regex(/^\/[\x21-\x7e]{0,1023}$/, {
            error: (i) => `must start with '/' and hold no spaces, got ${show(i.input)}`,
          }),
        ),
      ),
      // EC2 API Reference, CreateApplicationStatusCheck: Interval's one valid value is 60; Timeout
      // 1 to 30, less than Interval; the thresholds more than 0.
      interval: z.optional(wholeIn(60, 60, 'seconds (EC2 checks every 60 s)')),
      timeout: z.optional(wholeIn(1, 30, 'seconds')),
      failureThreshold: z.optional(wholeIn(1, 100, 'checks')),
      successThreshold: z.optional(wholeIn(1, 100, 'checks')),
      // EC2 API Reference, CreateApplicationStatusCheck: StatusCodeMatcher is codes or ranges, comma-separated,
      // a range's first code below its second, 64 characters at most; InitializationGracePeriodSeconds 1 to 600;
      // IpVersion ipv4 | ipv6.
      statusCodeMatcher: z.optional(
        z.string().check(
          z.refine((v) => statusCodeProblem(v) === undefined, {
            error: (i) => statusCodeProblem(String(i.input)) ?? 'is not a status-code matcher',
          }),
        ),
      ),
      initializationGracePeriodSeconds: z.optional(wholeIn(1, 600, 'seconds')),
      ipVersion: z.optional(
        z.enum(['ipv4', 'ipv6'], { error: (i) => `must be "ipv4" or "ipv6", got ${show(i.input)}` }),
      ),
    }),
  ),
  applicationCheckId: z.optional(id(CHECK_ID, 'must look like asc-0123456789abcdef0')),
  probe: z.optional(
    z.strictObject({
      protocol: z.enum(['tcp', 'http', 'https'], {
        error: (i) => `must be "tcp", "http" or "https", got ${show(i.input)}`,
      }),
      port: wholeIn(1, 65535, 'a port'),
      path: z.optional(
        z.string().check(
          z.regex(/^\/[\x21-\x7e]{0,1023}$/, {
            error: (i) => `must start with '/' and hold no spaces, got ${show(i.input)}`,
          }),
        ),
      ),
      expectStatus: z.optional(wholeIn(100, 599, 'an HTTP status code')),
      // The prober runs about a minute an invocation: an interval beyond 10 s would give few probes.
      intervalMs: z.optional(wholeIn(500, 10_000, 'milliseconds')),
      timeoutMs: z.optional(wholeIn(100, 9_999, 'milliseconds')),
      // One failure is not evidence: the rule needs a window of at least two probes.
      failures: z.optional(wholeIn(2, 20, 'probes')),
    }),
  ),
});

/** True when A and B have the same fields, each of the same type (readonly aside). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/**
 * One source per option: the schema that parses a pair and the Pair type (whose comments are the docs) must agree,
 * field for field, or this line fails the type check.
 */
type Parsed = z.infer<typeof PairSchema>;
const _schemaIsPair: [
  Same<keyof Parsed, keyof Pair>,
  Same<keyof NonNullable<Parsed['probe']>, keyof ProbeOption>,
  Same<keyof NonNullable<Parsed['applicationCheck']>, keyof ApplicationCheck>,
  Same<Parsed, Pair>,
] = [true, true, true, true];

const PairsSchema = z.array(PairSchema).check(z.minLength(1, { error: 'must list at least one pair' }));

function describeIssue(issue: z.core.$ZodIssue, root: string, input: unknown): string {
  const [index, ...fields] = issue.path;
  if (index === undefined) return `${root} ${issue.message}`;
  const at = `${root}[${String(index)}]${fields.map((f) => `.${String(f)}`).join('')}`;
  if (issue.code === 'unrecognized_keys') return `${at} has unknown field(s) ${issue.keys.join(', ')}`;
  if (fields.length === 0) return `${at} ${issue.message}`;
  // Walk the raw input to tell a missing field from a wrong one.
  let parent: unknown = Array.isArray(input) ? input[Number(index)] : undefined;
  for (const f of fields.slice(0, -1)) parent = (parent as Record<string, unknown> | undefined)?.[String(f)];
  const last = String(fields.at(-1));
  const missing = typeof parent === 'object' && parent !== null && !(last in parent);
  return `${at} ${missing ? 'is required' : issue.message}`;
}

/** Names, ENIs and instances used more than once, read from the raw entries so that they are reported
 * together with any other problem. */
function duplicates(input: unknown[], root: string): string[] {
  const problems: string[] = [];
  const firstUse = new Map<string, string>();
  const claim = (key: string, label: string, where: string) => {
    const previous = firstUse.get(key);
    if (previous) problems.push(`${label} is used twice: ${previous} and ${where}`);
    else firstUse.set(key, where);
  };
  input.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null) return;
    const at = `${root}[${i}]`;
    const field = (name: string) => {
      const value = (entry as Record<string, unknown>)[name];
      return typeof value === 'string' ? value : undefined;
    };
    const name = field('name');
    if (name !== undefined) claim(`name ${name}`, `pair name ${show(name)}`, at);
    for (const key of ['networkInterfaceId', 'primaryInstanceId', 'standbyInstanceId']) {
      const id = field(key);
      if (id !== undefined) claim(id, id, `${at}.${key}`);
    }
  });
  return problems;
}

/** What the probe schema cannot say field by field: fields that belong together. */
function probeProblems(pairs: readonly Pair[], root: string): string[] {
  return pairs.flatMap((pair, i) => {
    const probe = pair.probe;
    if (!probe) return [];
    const at = `${root}[${i}].probe`;
    const problems: string[] = [];
    const interval = probe.intervalMs ?? DEFAULT_PROBE.intervalMs;
    const timeout = probe.timeoutMs ?? DEFAULT_PROBE.timeoutMs;
    // A probe ends before the next one starts, so that one member never has two probes in flight.
    if (timeout >= interval)
      problems.push(`${at}.timeoutMs must be less than intervalMs (${interval}), got ${timeout}`);
    const failures = probe.failures ?? DEFAULT_PROBE.failures;
    const window = (failures - 1) * interval;
    if (window > MAX_PROBE_WINDOW_MS)
      problems.push(
        `${at}: (failures - 1) x intervalMs is ${failures - 1} x ${interval} = ${window} ms, over ${MAX_PROBE_WINDOW_MS} ms: the evidence must fit within one prober run (about 75 s), so a longer window never detects; lower failures or intervalMs`,
      );
    if (probe.protocol === 'tcp') {
      for (const field of ['path', 'expectStatus'] as const)
        if (probe[field] !== undefined)
          problems.push(`${at}.${field} applies only to http and https probes, got protocol "tcp"`);
    }
    return problems;
  });
}

/**
 * Validates a list of pairs and returns it typed, or throws one ConfigError naming every problem.
 * Shared by the function (at cold start) and the CDK app (at synth), so both reject the same things.
 */
export function parsePairs(input: unknown, root: string = ENV.pairs): Pair[] {
  const parsed = PairsSchema.safeParse(input);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => describeIssue(i, root, input));
  if (Array.isArray(input)) problems.push(...duplicates(input, root));
  if (parsed.success) problems.push(...probeProblems(parsed.data, root));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

/** Puts FAILOVER_VALUES in the place of each placeholder; a placeholder with no value is a problem. */
function fillValues(input: unknown, values: readonly unknown[], problems: string[], at: string): unknown {
  if (Array.isArray(input)) return input.map((v, i) => fillValues(v, values, problems, `${at}[${i}]`));
  if (typeof input === 'object' && input !== null)
    return Object.fromEntries(
      Object.entries(input).map(([k, v]) => [k, fillValues(v, values, problems, `${at}.${k}`)]),
    );
  const index = typeof input === 'string' ? PLACEHOLDER.exec(input)?.[1] : undefined;
  if (index === undefined) return input;
  if (Number(index) >= values.length)
    problems.push(`${at} is ${input}, but ${ENV.values} holds ${values.length} value(s)`);
  return values[Number(index)];
}

/**
 * The pairs as the environment gives them: FAILOVER_PAIRS (JSON), or FAILOVER_PAIRS_FILE (a JSON file, relative
 * to the function's code) whose placeholders FAILOVER_VALUES fills. Returns the raw input and its name.
 */
function rawPairs(
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): { input: unknown; root: string } | undefined {
  const inline = env[ENV.pairs]?.trim() || undefined;
  const file = env[ENV.pairsFile]?.trim() || undefined;
  if (inline !== undefined && file !== undefined) {
    problems.push(`${ENV.pairs} and ${ENV.pairsFile} are both set: set one`);
    return undefined;
  }
  if (inline === undefined && file === undefined) {
    problems.push(
      `${ENV.pairs} is not set: it must be a JSON array of pairs (or ${ENV.pairsFile} a file of them)`,
    );
    return undefined;
  }
  if (inline !== undefined) {
    try {
      return { input: JSON.parse(inline), root: ENV.pairs };
    } catch (error) {
      problems.push(`${ENV.pairs} is not valid JSON: ${(error as Error).message}`);
      return undefined;
    }
  }
  const input = readCodeFile(env, file as string, ENV.pairsFile, problems);
  return input === undefined ? undefined : { input, root: file as string };
}

/**
 * A JSON file in the function's code (relative to LAMBDA_TASK_ROOT) whose placeholders FAILOVER_VALUES fills: how
 * the construct hands a function what Lambda's 4 KB environment cannot hold (the failover function's pairs, the
 * prober's targets). `variable` names the setting in problems; undefined: a problem was added.
 */
export function readCodeFile(
  env: Readonly<Record<string, string | undefined>>,
  file: string,
  variable: string,
  problems: string[],
): unknown {
  const path = resolve(env.LAMBDA_TASK_ROOT ?? '.', file);
  let values: unknown[] = [];
  try {
    const parsed: unknown = JSON.parse(env[ENV.values] ?? '[]');
    if (!Array.isArray(parsed)) throw new Error('not a JSON array');
    values = parsed;
  } catch (error) {
    problems.push(`${ENV.values} must be a JSON array of values: ${(error as Error).message}`);
  }
  try {
    const before = problems.length;
    const input = fillValues(JSON.parse(readFileSync(path, 'utf8')), values, problems, file);
    return problems.length === before ? input : undefined;
  } catch (error) {
    problems.push(`${variable} ${file}: ${(error as Error).message}`);
    return undefined;
  }
}

/** The pairs alone, as the function reads them from its environment (a deployed template's, in tests). */
export function loadPairs(env: Readonly<Record<string, string | undefined>>): Pair[] {
  const problems: string[] = [];
  const pairs = pairsOf(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return pairs;
}

function pairsOf(env: Readonly<Record<string, string | undefined>>, problems: string[]): Pair[] {
  const raw = rawPairs(env, problems);
  if (raw === undefined) return [];
  try {
    return parsePairs(raw.input, raw.root);
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems);
    else throw error;
    return [];
  }
}

// A plain record, not NodeJS.ProcessEnv: this file's declarations ship with the package (Pair, ConfigError),
// and a consumer's type check must not need @types/node.
/** Reads the function's configuration from its environment; throws ConfigError naming every problem. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const problems: string[] = [];
  const pairs = pairsOf(env, problems);
  const topicArn = env[ENV.topicArn]?.trim() || undefined;
  if (topicArn !== undefined && !TOPIC_ARN.test(topicArn)) {
    problems.push(`${ENV.topicArn} must be an SNS topic ARN, got ${show(topicArn)}`);
  }
  const stateTable = env[ENV.stateTable]?.trim() || undefined;
  if (stateTable === undefined)
    problems.push(
      `${ENV.stateTable} is not set: it names the DynamoDB table of pair state (the stack creates it; docs/contract.md, "Pair state")`,
    );
  else if (!TABLE_NAME.test(stateTable))
    problems.push(
      `${ENV.stateTable} must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .), got ${show(stateTable)}`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
  return { pairs, topicArn, stateTable };
}

export type Role = 'primary' | 'standby';

export function roleOf(pair: Pair, instanceId: string): Role | undefined {
  if (instanceId === pair.primaryInstanceId) return 'primary';
  if (instanceId === pair.standbyInstanceId) return 'standby';
  return undefined;
}

export function instanceOf(pair: Pair, role: Role): string {
  return role === 'primary' ? pair.primaryInstanceId : pair.standbyInstanceId;
}
