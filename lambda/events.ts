// zod/mini rather than Powertools' parser schemas, which pull in all of zod: ~45 ms of cold start.
import * as z from 'zod/mini';
import { PLANNED_DETAIL_TYPES, type PlannedWarning, type Role } from './config.ts';
import type { Evidence } from './evidence.ts';

/** Why the function was called, in one normalized shape. */
export type Trigger =
  | { kind: 'alarm'; instanceId: string; alarmName: string; region: string }
  | { kind: 'state-change'; instanceId: string; state: FailedState; region: string }
  /**
   * EC2 announces that an instance is going away (docs/contract.md event 7): a Spot interruption warning, or a
   * rebalance recommendation. `sentAt` (ISO): the event's time; `endsAt` (ISO): when the instance goes, where
   * EC2 says (two minutes after a Spot warning).
   */
  | {
      kind: 'planned';
      warning: PlannedWarning;
      instanceId: string;
      sentAt: string;
      /** terminate | stop | hibernate for a Spot warning; undefined for a rebalance recommendation. */
      action: string | undefined;
      endsAt: string | undefined;
      region: string;
    }
  /** `pair` undefined: every pair the function manages. */
  | { kind: 'status'; pair: string | undefined }
  | { kind: 'move'; pair: string; to: Role | undefined; dryRun: boolean }
  /** The automatic rules applied to what EC2 shows now (a schedule, or by hand); `pair` undefined: every pair. */
  | { kind: 'reconcile'; pair: string | undefined }
  /** The construct's prober saw `instanceId` fail (docs/contract.md event 8); the rule is lambda/evidence.ts. */
  | ({ kind: 'probe'; pair: string } & Evidence)
  /**
   * Every call a move of the pair could make, in both directions, tried with EC2's DryRun, and the move's checks
   * run without acting (docs/contract.md event 9; lambda/rehearse.ts); `pair` undefined: every pair.
   */
  | { kind: 'rehearse'; pair: string | undefined }
  /** Pause the pair's automatic moves for `minutes` (0 ends the pause); `reason` says who and why. */
  | { kind: 'maintenance'; pair: string; minutes: number; reason: string | undefined }
  | { kind: 'ignored'; reason: string };

export type AutomaticTrigger = Extract<
  Trigger,
  { kind: 'alarm' | 'state-change' | 'reconcile' | 'planned' | 'probe' }
>;

/** The `source` of the prober's evidence (event 8). */
export const PROBE_SOURCE = 'eni-failover.probe';

/**
 * A Spot Instance is interrupted two minutes after its warning (EC2 User Guide, "Spot Instance
 * interruption notices"); the warning is best effort and may come later or not at all.
 */
export const SPOT_NOTICE_MS = 2 * 60_000;

export interface ParsedEvent {
  readonly triggers: Trigger[];
  /** An SNS event answers with one result per record, as an array. */
  readonly batch: boolean;
}

/** EC2 states that mean the instance has failed (docs/contract.md); other states are ignored. */
const FAILED_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'] as const;
export type FailedState = (typeof FAILED_STATES)[number];

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** The longest maintenance window one request sets: a week. A longer pause is a configuration change. */
export const MAINTENANCE_MAX_MINUTES = 7 * 24 * 60;
const ALARM_ARN = /^arn:aws[a-z-]*:cloudwatch:([a-z0-9-]+):\d{12}:alarm:.+$/;

// Only the fields the function reads are checked; the rest of each envelope passes untouched.
const SnsRecord = z.object({
  EventSource: z.literal('aws:sns'),
  Sns: z.object({ Message: z.string() }),
});

const EventBridgeEvent = z.object({
  source: z.string(),
  'detail-type': z.string(),
  region: z.string(),
  // Read only by the planned-failure warnings: when the warning was sent.
  time: z.optional(z.unknown()),
  detail: z.unknown(),
});

// Real AWS writes alarm dimensions as {"name","value"}; older samples and tools use {"Name","Value"}.
const Dimension = z.union([
  z.pipe(
    z.object({ name: z.string(), value: z.string() }),
    z.transform((d) => ({ name: d.name, value: d.value })),
  ),
  z.pipe(
    z.object({ Name: z.string(), Value: z.string() }),
    z.transform((d) => ({ name: d.Name, value: d.Value })),
  ),
]);

const alarmArn = z.string().check(z.regex(ALARM_ARN, 'must be a CloudWatch alarm ARN'));

const SnsAlarmMessage = z.object({
  AlarmName: z.string().check(z.minLength(1)),
  AlarmArn: alarmArn,
  NewStateValue: z.string(),
  Trigger: z.object({
    Dimensions: z.optional(z.array(Dimension)),
    Metrics: z.optional(
      z.array(
        z.object({
          MetricStat: z.optional(
            z.object({ Metric: z.object({ Dimensions: z.optional(z.array(Dimension)) }) }),
          ),
        }),
      ),
    ),
  }),
});

const AlarmAction = z.object({
  source: z.literal('aws.cloudwatch'),
  alarmArn,
  alarmData: z.object({
    alarmName: z.string().check(z.minLength(1)),
    state: z.object({ value: z.string() }),
    configuration: z.object({
      metrics: z.array(
        z.object({
          metricStat: z.optional(
            z.object({ metric: z.object({ dimensions: z.optional(z.record(z.string(), z.string())) }) }),
          ),
        }),
      ),
    }),
  }),
});

// The documented shapes (EC2 User Guide, "Spot Instance interruption notices" and "EC2 instance
// rebalance recommendations"): detail {"instance-id", "instance-action"} and {"instance-id"}.
const PlannedDetail = z.object({
  'instance-id': z.string().check(z.regex(INSTANCE_ID, 'must be an instance ID')),
  'instance-action': z.optional(z.string().check(z.minLength(1))),
});

const StateChangeDetail = z.object({
  'instance-id': z.string().check(z.regex(INSTANCE_ID, 'must be an instance ID')),
  state: z.string(),
});

// Strict, so that a typo such as "dryrun" is refused rather than read as a real move.
const Manual = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('status'), pair: z.optional(z.string().check(z.minLength(1))) }),
  z.strictObject({ action: z.literal('reconcile'), pair: z.optional(z.string().check(z.minLength(1))) }),
  z.strictObject({ action: z.literal('rehearse'), pair: z.optional(z.string().check(z.minLength(1))) }),
  z.strictObject({
    action: z.literal('move'),
    pair: z.string().check(z.minLength(1)),
    to: z.optional(z.enum(['standby', 'primary'])),
    dryRun: z.optional(z.boolean()),
  }),
  z.strictObject({
    action: z.literal('maintenance'),
    pair: z.string().check(z.minLength(1)),
    minutes: z.int({ error: 'must be a whole number of minutes (0 ends maintenance)' }).check(
      z.minimum(0, { error: 'must be 0 (ends maintenance) or more' }),
      z.maximum(MAINTENANCE_MAX_MINUTES, {
        error: `must be at most ${MAINTENANCE_MAX_MINUTES} (a week)`,
      }),
    ),
    // Written to the ENI's tag: EC2 allows 256 characters in a tag value.
    reason: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  }),
]);

const instanceId = z.string().check(z.regex(INSTANCE_ID, 'must be an instance ID'));
const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date and time' });

// Strict: the evidence decides a move, so a field that is misspelt or missing is refused, not guessed.
const ProbeEvidence = z.strictObject({
  source: z.literal(PROBE_SOURCE),
  pair: z.string().check(z.minLength(1)),
  instanceId,
  failures: z.int({ error: 'must be a whole number of failed probes' }).check(z.minimum(1), z.maximum(1000)),
  firstFailureAt: isoTime,
  lastFailureAt: isoTime,
  errors: z.array(z.string().check(z.maxLength(200))).check(z.maxLength(50)),
  // passes and failures: the other member's probes across the window (issue 23); optional, so that an
  // earlier prober's evidence still parses.
  other: z.strictObject({
    instanceId,
    passing: z.boolean(),
    at: isoTime,
    passes: z.optional(z.int().check(z.minimum(0), z.maximum(100_000))),
    failures: z.optional(z.int().check(z.minimum(0), z.maximum(100_000))),
  }),
});

const ignored = (reason: string): Trigger => ({ kind: 'ignored', reason });

function explain(error: z.core.$ZodError, what: string): string {
  const details = error.issues.map((issue) => {
    const path = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.join(', ')}`;
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  return `${what}: ${details.join('; ')}`;
}

/** One trigger from the InstanceId dimensions an alarm names; anything but one instance is ignored. */
function alarmTrigger(alarmName: string, arn: string, state: string, instanceIds: string[]): Trigger {
  if (state !== 'ALARM') return ignored(`alarm ${alarmName} is ${state}: only ALARM can move anything`);
  const unique = [...new Set(instanceIds)];
  if (unique.length !== 1) {
    return ignored(
      `alarm ${alarmName} names ${unique.length} InstanceId dimensions (${unique.join(', ') || 'none'}); expected one`,
    );
  }
  const instanceId = unique[0] as string;
  if (!INSTANCE_ID.test(instanceId))
    return ignored(`alarm ${alarmName} has InstanceId ${JSON.stringify(instanceId)}, not an instance ID`);
  // The region comes from the ARN: the message's "Region" is a display name such as "EU (Ireland)".
  const region = ALARM_ARN.exec(arn)?.[1] as string;
  return { kind: 'alarm', instanceId, alarmName, region };
}

function parseSnsRecord(record: unknown): Trigger {
  const parsed = SnsRecord.safeParse(record);
  if (!parsed.success) return ignored(explain(parsed.error, 'not an SNS record'));
  let message: unknown;
  try {
    message = JSON.parse(parsed.data.Sns.Message);
  } catch {
    return ignored('SNS message is not JSON, so not a CloudWatch alarm');
  }
  const alarm = SnsAlarmMessage.safeParse(message);
  if (!alarm.success) return ignored(explain(alarm.error, 'SNS message is not a CloudWatch alarm'));
  const { AlarmName, AlarmArn, NewStateValue, Trigger } = alarm.data;
  const dimensions = [
    ...(Trigger.Dimensions ?? []),
    ...(Trigger.Metrics ?? []).flatMap((m) => m.MetricStat?.Metric.Dimensions ?? []),
  ];
  const ids = dimensions.filter((d) => d.name === 'InstanceId').map((d) => d.value);
  return alarmTrigger(AlarmName, AlarmArn, NewStateValue, ids);
}

function parseAlarmAction(event: unknown): Trigger {
  const parsed = AlarmAction.safeParse(event);
  if (!parsed.success) return ignored(explain(parsed.error, 'not a CloudWatch alarm action'));
  const { alarmArn, alarmData } = parsed.data;
  const ids = alarmData.configuration.metrics.flatMap((m) => {
    const id = m.metricStat?.metric.dimensions?.InstanceId;
    return id === undefined ? [] : [id];
  });
  return alarmTrigger(alarmData.alarmName, alarmArn, alarmData.state.value, ids);
}

function parseEventBridge(event: unknown): Trigger {
  const parsed = EventBridgeEvent.safeParse(event);
  if (!parsed.success) return ignored(explain(parsed.error, 'not an EventBridge event'));
  const { source, region } = parsed.data;
  const detailType = parsed.data['detail-type'];
  const planned = Object.entries(PLANNED_DETAIL_TYPES).find(([, type]) => type === detailType)?.[0];
  if (source === 'aws.ec2' && planned !== undefined)
    return parsePlanned(planned as PlannedWarning, parsed.data.detail, parsed.data.time, region);
  if (source !== 'aws.ec2' || detailType !== 'EC2 Instance State-change Notification') {
    return ignored(
      `EventBridge event ${JSON.stringify(detailType)} from ${source} is not an EC2 state change, Spot interruption warning or rebalance recommendation`,
    );
  }
  const detail = StateChangeDetail.safeParse(parsed.data.detail);
  if (!detail.success) return ignored(explain(detail.error, 'EC2 state change has a bad detail'));
  const instanceId = detail.data['instance-id'];
  const state = detail.data.state;
  if (!(FAILED_STATES as readonly string[]).includes(state)) {
    return ignored(`EC2 state change: ${instanceId} is ${state}, which is not a failure`);
  }
  return { kind: 'state-change', instanceId, state: state as FailedState, region };
}

function parsePlanned(warning: PlannedWarning, rawDetail: unknown, time: unknown, region: string): Trigger {
  const what = PLANNED_DETAIL_TYPES[warning];
  const detail = PlannedDetail.safeParse(rawDetail);
  if (!detail.success) return ignored(explain(detail.error, `${what} has a bad detail`));
  const at = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  if (Number.isNaN(at))
    return ignored(`${what} has no valid "time" (got ${JSON.stringify(time)}), so no one knows when it ends`);
  const action = detail.data['instance-action'];
  if (warning === 'spot-interruption' && action === undefined)
    return ignored(`${what}: detail.instance-action is required (terminate, stop or hibernate)`);
  return {
    kind: 'planned',
    warning,
    instanceId: detail.data['instance-id'],
    sentAt: new Date(at).toISOString(),
    action: warning === 'spot-interruption' ? action : undefined,
    // A rebalance recommendation says only that the risk is higher, not when.
    endsAt: warning === 'spot-interruption' ? new Date(at + SPOT_NOTICE_MS).toISOString() : undefined,
    region,
  };
}

function parseManual(event: unknown): Trigger {
  const parsed = Manual.safeParse(event);
  if (!parsed.success) return ignored(explain(parsed.error, 'not a valid manual invocation'));
  const m = parsed.data;
  if (m.action === 'status') return { kind: 'status', pair: m.pair };
  if (m.action === 'reconcile') return { kind: 'reconcile', pair: m.pair };
  if (m.action === 'rehearse') return { kind: 'rehearse', pair: m.pair };
  if (m.action === 'maintenance')
    return { kind: 'maintenance', pair: m.pair, minutes: m.minutes, reason: m.reason };
  return { kind: 'move', pair: m.pair, to: m.to, dryRun: m.dryRun ?? false };
}

function parseProbe(event: unknown): Trigger {
  const parsed = ProbeEvidence.safeParse(event);
  if (!parsed.success) return ignored(explain(parsed.error, 'not valid probe evidence'));
  const e = parsed.data;
  const [first, last, at] = [e.firstFailureAt, e.lastFailureAt, e.other.at].map(Date.parse) as [
    number,
    number,
    number,
  ];
  if (last < first)
    return ignored(`not valid probe evidence: lastFailureAt ${e.lastFailureAt} is before firstFailureAt`);
  return {
    kind: 'probe',
    pair: e.pair,
    instanceId: e.instanceId,
    failures: e.failures,
    firstFailureAt: first,
    lastFailureAt: last,
    errors: e.errors,
    other: {
      instanceId: e.other.instanceId,
      passing: e.other.passing,
      at,
      ...(e.other.passes === undefined ? {} : { passes: e.other.passes }),
      ...(e.other.failures === undefined ? {} : { failures: e.other.failures }),
    },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every accepted event shape -> triggers. Never throws: what cannot be understood is an `ignored` trigger. */
export function parseEvent(event: unknown): ParsedEvent {
  if (!isObject(event)) {
    return {
      triggers: [
        ignored(`event must be a JSON object, got ${Array.isArray(event) ? 'an array' : typeof event}`),
      ],
      batch: false,
    };
  }
  if ('Records' in event) {
    const records = event.Records;
    if (!Array.isArray(records) || records.length === 0) {
      return {
        triggers: [ignored('event has Records, but not a non-empty array of SNS records')],
        batch: false,
      };
    }
    return { triggers: records.map(parseSnsRecord), batch: true };
  }
  if (event.source === PROBE_SOURCE) return { triggers: [parseProbe(event)], batch: false };
  if (event.source === 'aws.cloudwatch' && 'alarmData' in event)
    return { triggers: [parseAlarmAction(event)], batch: false };
  if ('detail-type' in event) return { triggers: [parseEventBridge(event)], batch: false };
  if ('action' in event) return { triggers: [parseManual(event)], batch: false };
  return {
    triggers: [
      ignored(
        'unrecognised event: expected an SNS alarm, a CloudWatch alarm action, an EC2 state-change event, a Spot interruption warning or rebalance recommendation, probe evidence, or {"action": "status"|"move"|"reconcile"|"rehearse"|"maintenance", "pair": …}',
      ),
    ],
    batch: false,
  };
}

/** A short human description of an automatic trigger, for reasons and the ENI's move tag. */
export function describeTrigger(trigger: Trigger): string {
  switch (trigger.kind) {
    case 'alarm':
      return `alarm ${trigger.alarmName} on ${trigger.instanceId}`;
    case 'state-change':
      return `${trigger.instanceId} is ${trigger.state}`;
    case 'planned':
      return trigger.warning === 'spot-interruption'
        ? `Spot interruption warning for ${trigger.instanceId} (${trigger.action} at ${trigger.endsAt})`
        : `rebalance recommendation for ${trigger.instanceId} (elevated risk of Spot interruption)`;
    case 'move':
      return `manual move${trigger.to ? ` to ${trigger.to}` : ''}${trigger.dryRun ? ' (dry run)' : ''}`;
    case 'status':
      return 'status request';
    case 'reconcile':
      return 'reconcile round';
    case 'rehearse':
      return 'rehearsal';
    case 'probe':
      return `probe evidence on ${trigger.instanceId} (${trigger.failures} failed probes: ${[...new Set(trigger.errors)].join(', ') || 'no errors given'})`;
    case 'maintenance':
      return trigger.minutes === 0 ? 'end of maintenance' : `maintenance for ${trigger.minutes} min`;
    case 'ignored':
      return trigger.reason;
  }
}
