import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Result } from '../../lambda/result.ts';
import { sample, snsAlarm } from '../helpers/events.ts';
import { harness } from '../helpers/harness.ts';
import { PRIMARY, STANDBY } from '../helpers/world.ts';

const OUTCOMES = ['moved', 'unchanged', 'refused', 'dry-run', 'ignored', 'status', 'failed'];
const SAMPLES = [
  'sns-alarm',
  'sns-alarm-ok',
  'alarm-lambda-action',
  'eventbridge-state-change',
  'manual-drill',
  'manual-status',
];

type Json = unknown;

/** Every path into a JSON value, the value itself included (the empty path). */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...paths(v, [...prefix, i]));
  } else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

type Mutation =
  | { kind: 'delete' }
  | { kind: 'replace'; with: Json }
  | { kind: 'add'; key: string; value: Json }
  | { kind: 'stringify' }
  | { kind: 'case' };

function mutate(value: Json, path: (string | number)[], m: Mutation): Json {
  if (path.length === 0) {
    switch (m.kind) {
      case 'replace':
        return m.with;
      case 'stringify':
        return JSON.stringify(value);
      case 'case':
        return typeof value === 'string' ? value.toLowerCase() : value;
      case 'add':
        return value && typeof value === 'object' && !Array.isArray(value)
          ? { ...value, [m.key]: m.value }
          : value;
      case 'delete':
        return undefined;
    }
  }
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(value)) {
    const copy = [...value];
    const next = mutate(copy[head as number], rest, m);
    if (next === undefined && rest.length === 0) copy.splice(head as number, 1);
    else copy[head as number] = next;
    return copy;
  }
  const copy = { ...(value as Record<string, Json>) };
  const next = mutate(copy[head as string], rest, m);
  if (next === undefined && rest.length === 0) delete copy[head as string];
  else copy[head as string] = next;
  return copy;
}

/** A real-shaped event (the SNS alarm's Message unpacked, so that its insides get mutated too). */
const baseEvent = fc.constantFrom(...SAMPLES).map((name) => {
  const event = sample(name) as Record<string, unknown>;
  if (!name.startsWith('sns-')) return { event, packed: false };
  const message = JSON.parse(
    (event as { Records: { Sns: { Message: string } }[] }).Records[0]?.Sns.Message ?? '{}',
  );
  return { event: message as Record<string, unknown>, packed: true };
});

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>({ kind: 'delete' }),
  fc.jsonValue().map((v): Mutation => ({ kind: 'replace', with: v })),
  fc
    .record({
      key: fc.constantFrom('dryrun', 'force', 'to', 'Region', 'extra', 'action'),
      value: fc.jsonValue(),
    })
    .map((r): Mutation => ({ kind: 'add', ...r })),
  fc.constant<Mutation>({ kind: 'stringify' }),
  fc.constant<Mutation>({ kind: 'case' }),
);

/** A near-valid event: one of the samples with one to three mutations anywhere inside it. */
const nearValid = fc
  .tuple(baseEvent, fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }))
  .map(([{ event, packed }, changes]) => {
    let e: Json = event;
    for (const [at, m] of changes) {
      const all = paths(e);
      e = mutate(e, all[at % all.length] ?? [], m);
    }
    return packed ? snsAlarm([e as Record<string, unknown>]) : e;
  });

describe('fuzzed events: none changes anything, none answers without a reason', () => {
  // Any move would be refused (the standby is in another AZ) and the primary is healthy: whatever
  // the event, a mutating EC2 call is a bug.
  const h = harness();
  h.ec2.set(STANDBY, { az: 'eu-west-1b' });

  async function check(event: unknown): Promise<void> {
    let answer: unknown;
    try {
      answer = await h.invoke(event);
    } catch (error) {
      throw new Error(`threw on ${JSON.stringify(event)}: ${(error as Error).message}`);
    }
    const results = (Array.isArray(answer) ? answer : [answer]) as Result[];
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) {
      expect(OUTCOMES).toContain(r.outcome);
      if (r.outcome !== 'status' && r.outcome !== 'unchanged')
        expect(r.reasons.length, JSON.stringify(event)).toBeGreaterThan(0);
      for (const reason of r.reasons) expect(reason.trim().length).toBeGreaterThan(0);
    }
    expect(h.ec2.mutations, JSON.stringify(event)).toEqual([]);
    expect(h.ec2.holder()).toBe(PRIMARY);
  }

  it('3,000 near-valid events of all four shapes', async () => {
    await fc.assert(fc.asyncProperty(nearValid, check), { numRuns: 3_000 });
  });

  it('1,000 arbitrary JSON values', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), check), { numRuns: 1_000 });
  });

  it('1,000 arbitrary objects with the keys the parser looks for', async () => {
    const keys = fc.constantFrom(
      'Records',
      'source',
      'alarmData',
      'detail-type',
      'detail',
      'action',
      'pair',
      'to',
      'dryRun',
      'region',
    );
    await fc.assert(fc.asyncProperty(fc.dictionary(keys, fc.jsonValue()), check), { numRuns: 1_000 });
  });
});
