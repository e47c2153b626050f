import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'events');

/** A real-shaped sample event (copied from shared/events), optionally with its instance IDs replaced. */
export function sample(name: string, replace: Record<string, string> = {}): Record<string, unknown> {
  let text = readFileSync(join(DIR, `${name}.json`), 'utf8');
  for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
  return JSON.parse(text);
}

/** The instance every sample names. */
export const SAMPLE_INSTANCE = 'i-0123456789abcdef0';

/** An SNS event carrying one or more CloudWatch alarm messages, built on the real sample. */
export function snsAlarm(messages: Record<string, unknown>[]): Record<string, unknown> {
  const base = sample('sns-alarm') as { Records: { Sns: Record<string, unknown> }[] };
  const record = base.Records[0] as { Sns: Record<string, unknown> };
  return {
    Records: messages.map((m, i) => ({
      ...record,
      Sns: { ...record.Sns, MessageId: `m-${i}`, Message: JSON.stringify(m) },
    })),
  };
}

export function alarmMessage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base = sample('sns-alarm') as { Records: { Sns: { Message: string } }[] };
  return { ...JSON.parse(base.Records[0]?.Sns.Message ?? '{}'), ...overrides };
}
