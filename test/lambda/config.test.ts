import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parsePairs, valuePlaceholder } from '../../lambda/config.ts';
import { PAIR } from '../helpers/world.ts';

const TABLE = { FAILOVER_STATE_TABLE: 'eni-failover-state' };
const env = (pairs: unknown, extra: Record<string, string> = {}) => ({
  FAILOVER_PAIRS: typeof pairs === 'string' ? pairs : JSON.stringify(pairs),
  ...TABLE,
  ...extra,
});

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('accepts a valid pair list and an optional topic', () => {
    const topic = 'arn:aws:sns:eu-west-1:123456789012:eni-failover-events';
    expect(loadConfig(env([PAIR], { NOTIFICATION_TOPIC_ARN: topic }))).toEqual({
      pairs: [PAIR],
      topicArn: topic,
      stateTable: 'eni-failover-state',
    });
    expect(loadConfig(env([PAIR])).topicArn).toBeUndefined();
  });

  it('accepts 8-digit legacy IDs', () => {
    const legacy = { ...PAIR, networkInterfaceId: 'eni-12345678', primaryInstanceId: 'i-12345678' };
    expect(parsePairs([legacy])).toEqual([legacy]);
  });

  it('accepts the planned-move options, and names a bad one with the value received', () => {
    const planned = { ...PAIR, moveOnRebalance: true, scheduledEventLeadMinutes: 60 };
    expect(parsePairs([planned])).toEqual([planned]);
    expect(
      problemsOf(() => parsePairs([{ ...PAIR, moveOnRebalance: 'yes', scheduledEventLeadMinutes: 0 }])),
    ).toEqual([
      'FAILOVER_PAIRS[0].moveOnRebalance must be true or false, got "yes"',
      'FAILOVER_PAIRS[0].scheduledEventLeadMinutes must be from 1 to 10080, got 0',
    ]);
  });

  it('reports a missing variable and bad JSON', () => {
    expect(problemsOf(() => loadConfig({}))).toEqual([
      'FAILOVER_PAIRS is not set: it must be a JSON array of pairs (or FAILOVER_PAIRS_FILE a file of them)',
      'FAILOVER_STATE_TABLE is not set: it names the DynamoDB table of pair state (the stack creates it; docs/contract.md, "Pair state")',
    ]);
    expect(problemsOf(() => loadConfig(env([PAIR], { FAILOVER_STATE_TABLE: 'a b' })))).toEqual([
      'FAILOVER_STATE_TABLE must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .), got "a b"',
    ]);
    expect(problemsOf(() => loadConfig(env('[{"name":')))[0]).toMatch(/^FAILOVER_PAIRS is not valid JSON/);
  });

  it("reads the stack's pairs file (in the function's code), FAILOVER_VALUES filling its placeholders", () => {
    const root = mkdtempSync(join(tmpdir(), 'eni-failover-config-'));
    const write = (pairs: unknown) => writeFileSync(join(root, 'pairs.json'), JSON.stringify(pairs));
    const fileEnv = (values?: unknown[]) => ({
      FAILOVER_PAIRS_FILE: 'pairs.json',
      LAMBDA_TASK_ROOT: root,
      ...TABLE,
      ...(values ? { FAILOVER_VALUES: JSON.stringify(values) } : {}),
    });
    write([{ ...PAIR, standbyInstanceId: valuePlaceholder(0) }]);
    expect(loadConfig(fileEnv([PAIR.standbyInstanceId])).pairs).toEqual([PAIR]);
    // A bad configuration fails at start-up, naming the file's field, as FAILOVER_PAIRS does.
    expect(problemsOf(() => loadConfig(fileEnv([])))).toEqual([
      `pairs.json[0].standbyInstanceId is ${valuePlaceholder(0)}, but FAILOVER_VALUES holds 0 value(s)`,
    ]);
    expect(problemsOf(() => loadConfig(fileEnv(['i-nope'])))).toEqual([
      'pairs.json[0].standbyInstanceId must look like i-0123456789abcdef0, got "i-nope"',
    ]);
    write([PAIR, PAIR]);
    expect(problemsOf(() => loadConfig(fileEnv()))[0]).toBe(
      'pair name "web" is used twice: pairs.json[0] and pairs.json[1]',
    );
    expect(problemsOf(() => loadConfig({ ...fileEnv(), LAMBDA_TASK_ROOT: join(root, 'gone') }))[0]).toMatch(
      /^FAILOVER_PAIRS_FILE pairs\.json: ENOENT/,
    );
    expect(problemsOf(() => loadConfig({ ...fileEnv(), FAILOVER_PAIRS: JSON.stringify([PAIR]) }))).toEqual([
      'FAILOVER_PAIRS and FAILOVER_PAIRS_FILE are both set: set one',
    ]);
  });

  it('lists every problem at once, each naming the field and the value received', () => {
    const problems = problemsOf(() =>
      loadConfig(
        env(
          [
            { ...PAIR, networkInterfaceId: 'eni-XYZ', deviceIndex: 0 },
            {
              name: 'db',
              primaryInstanceId: 'i-nope',
              standbyInstanceId: PAIR.standbyInstanceId,
              deviceIndex: 1.5,
              extra: 1,
            },
          ],
          { NOTIFICATION_TOPIC_ARN: 'my-topic' },
        ),
      ),
    );
    expect(problems).toEqual([
      'FAILOVER_PAIRS[0].networkInterfaceId must look like eni-0123456789abcdef0, got "eni-XYZ"',
      "FAILOVER_PAIRS[0].deviceIndex must be 1 or more (0 is the instance's own primary interface), got 0",
      'FAILOVER_PAIRS[1].networkInterfaceId is required',
      'FAILOVER_PAIRS[1].primaryInstanceId must look like i-0123456789abcdef0, got "i-nope"',
      'FAILOVER_PAIRS[1].deviceIndex must be a whole number of 1 or more, got 1.5',
      'FAILOVER_PAIRS[1] has unknown field(s) extra',
      'i-0fedcba9876543210 is used twice: FAILOVER_PAIRS[0].standbyInstanceId and FAILOVER_PAIRS[1].standbyInstanceId',
      'NOTIFICATION_TOPIC_ARN must be an SNS topic ARN, got "my-topic"',
    ]);
  });

  it('rejects a name, ENI or instance used twice, including primary = standby', () => {
    const problems = problemsOf(() =>
      parsePairs([PAIR, { ...PAIR, standbyInstanceId: PAIR.primaryInstanceId }]),
    );
    expect(problems).toEqual([
      'pair name "web" is used twice: FAILOVER_PAIRS[0] and FAILOVER_PAIRS[1]',
      'eni-0aaaaaaaaaaaaaaa1 is used twice: FAILOVER_PAIRS[0].networkInterfaceId and FAILOVER_PAIRS[1].networkInterfaceId',
      'i-0123456789abcdef0 is used twice: FAILOVER_PAIRS[0].primaryInstanceId and FAILOVER_PAIRS[1].primaryInstanceId',
      'i-0123456789abcdef0 is used twice: FAILOVER_PAIRS[0].primaryInstanceId and FAILOVER_PAIRS[1].standbyInstanceId',
    ]);
  });

  it('accepts the flap limit maxMovesPerHour from 1 to 10, and names a bad one with the value received', () => {
    expect(parsePairs([{ ...PAIR, maxMovesPerHour: 5 }])[0]?.maxMovesPerHour).toBe(5);
    expect(problemsOf(() => parsePairs([{ ...PAIR, maxMovesPerHour: 0 }]))).toEqual([
      'FAILOVER_PAIRS[0].maxMovesPerHour must be from 1 to 10, got 0',
    ]);
    expect(problemsOf(() => parsePairs([{ ...PAIR, maxMovesPerHour: 11 }]))).toEqual([
      'FAILOVER_PAIRS[0].maxMovesPerHour must be from 1 to 10, got 11',
    ]);
    expect(problemsOf(() => parsePairs([{ ...PAIR, maxMovesPerHour: 2.5 }]))).toEqual([
      'FAILOVER_PAIRS[0].maxMovesPerHour must be a whole number of moves an hour, got 2.5',
    ]);
  });

  it('a probe window, (failures - 1) x intervalMs, up to 30 s: one that would not fit within one prober run is named', () => {
    const probed = (probe: Record<string, unknown>) => ({
      ...PAIR,
      probe: { protocol: 'tcp', port: 80, ...probe },
    });
    // 30 s exactly, the longest: 4 x 7.5 s, and the defaults' 2 s.
    expect(parsePairs([probed({ failures: 5, intervalMs: 7_500 })])[0]?.probe?.failures).toBe(5);
    expect(parsePairs([probed({})])).toHaveLength(1);
    expect(problemsOf(() => parsePairs([probed({ failures: 20, intervalMs: 10_000 })]))).toEqual([
      'FAILOVER_PAIRS[0].probe: (failures - 1) x intervalMs is 19 x 10000 = 190000 ms, over 30000 ms: the evidence must fit within one prober run (about 75 s), so a longer window never detects; lower failures or intervalMs',
    ]);
    // Each part within its own range, the window over.
    expect(problemsOf(() => parsePairs([probed({ failures: 7, intervalMs: 6_000 })]))[0]).toMatch(
      /probe: \(failures - 1\) x intervalMs is 6 x 6000 = 36000 ms, over 30000 ms/,
    );
  });

  it('rejects an empty list and a non-list', () => {
    expect(problemsOf(() => parsePairs([]))).toEqual(['FAILOVER_PAIRS must list at least one pair']);
    expect(problemsOf(() => parsePairs({ pairs: [] }))[0]).toMatch(/^FAILOVER_PAIRS /);
  });

  it('accepts an application check and names every problem in one, field by field', () => {
    const check = { protocol: 'https', port: 8443, path: '/health', interval: 60, timeout: 5 };
    expect(parsePairs([{ ...PAIR, applicationCheck: check }])[0]?.applicationCheck).toEqual(check);
    const problems = problemsOf(() =>
      parsePairs([
        {
          ...PAIR,
          applicationCheck: {
            protocol: 'tcp',
            port: 70000,
            path: 'health',
            interval: 10,
            timeout: 45,
            retries: 3,
          },
        },
        {
          ...PAIR,
          name: 'db',
          networkInterfaceId: 'eni-0bbbbbbbbbbbbbbb1',
          primaryInstanceId: 'i-0bbbbbbbbbbbbbbb1',
          standbyInstanceId: 'i-0bbbbbbbbbbbbbbb2',
          applicationCheck: { protocol: 'http' },
        },
      ]),
    );
    expect(problems).toEqual([
      'FAILOVER_PAIRS[0].applicationCheck.protocol must be "http" or "https", got "tcp"',
      'FAILOVER_PAIRS[0].applicationCheck.port must be from 1 to 65535, got 70000',
      'FAILOVER_PAIRS[0].applicationCheck.path must start with \'/\' and hold no spaces, got "health"',
      'FAILOVER_PAIRS[0].applicationCheck.interval must be from 60 to 60, got 10',
      'FAILOVER_PAIRS[0].applicationCheck.timeout must be from 1 to 30, got 45',
      'FAILOVER_PAIRS[0].applicationCheck has unknown field(s) retries',
      'FAILOVER_PAIRS[1].applicationCheck.port is required',
    ]);
  });

  it('a pair may name its EC2 application status check by ID (asc- and 8 or 17 hex digits); anything else is named', () => {
    expect(
      parsePairs([{ ...PAIR, applicationCheckId: 'asc-0123456789abcdef0' }])[0]?.applicationCheckId,
    ).toBe('asc-0123456789abcdef0');
    expect(parsePairs([{ ...PAIR, applicationCheckId: 'asc-01234567' }])[0]?.applicationCheckId).toBe(
      'asc-01234567',
    );
    for (const bad of ['asc-XYZ', 'i-0123456789abcdef0', 'asc-0123456789ABCDEF0', 42])
      expect(problemsOf(() => parsePairs([{ ...PAIR, applicationCheckId: bad }]))).toEqual([
        `FAILOVER_PAIRS[0].applicationCheckId must look like asc-0123456789abcdef0, got ${JSON.stringify(bad)}`,
      ]);
  });
});
