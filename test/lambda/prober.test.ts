// Issue 17, step 2: the prober's loop against real HTTP and TCP servers on loopback addresses, on the
// real clock. Short intervals (200 ms, timeout 100 ms) keep the file quick; the rule scales with them.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, type ProbeOption, valuePlaceholder } from '../../lambda/config.ts';
import { parseEvent } from '../../lambda/events.ts';
import type { Evidence } from '../../lambda/evidence.ts';
import { probe } from '../../lambda/probe/check.ts';
import { loadProbeConfig } from '../../lambda/probe/config.ts';
import { type ProbedPair, type ProberPorts, runProber } from '../../lambda/probe/loop.ts';
import { createProber, membersOf } from '../../lambda/probe/prober.ts';
import { lastAddressOutage } from '../../lambda/probe/store.ts';
import { type MemberServer, memberPair } from '../../ops/members.ts';
import { stateTable } from '../helpers/probe-world.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const open: MemberServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

async function setup(
  base: number,
  option: Partial<ProbeOption> = {},
  protocol: 'http' | 'tcp' = 'http',
  /** The service address and the holder at the run's status, when the test probes the address too. */
  serving: (members: { primary: string; standby: string }) => Partial<ProbedPair> = () => ({}),
) {
  const { primary, standby, port } = await memberPair(base, protocol);
  open.push(primary, standby);
  const pair: Pair = {
    ...PAIR,
    probe: { protocol, port, intervalMs: 200, timeoutMs: 100, failures: 3, ...option },
  };
  const probed: ProbedPair = {
    pair,
    members: [
      { role: 'primary', instanceId: PRIMARY, address: primary.address },
      { role: 'standby', instanceId: STANDBY, address: standby.address },
    ],
    ...serving({ primary: primary.address, standby: standby.address }),
  };
  const sent: Evidence[] = [];
  const vetoed: string[] = [];
  const blind: string[] = [];
  const unreached: string[] = [];
  const records: { role: string; ok: boolean; ms: number }[] = [];
  const ports: ProberPorts = {
    probe,
    send: async (_, e) => {
      sent.push(e);
    },
    blind: (p) => blind.push(p.name),
    unreached: (_, m) => unreached.push(m.instanceId),
    record: (_, m, r) => records.push({ role: m.role, ok: r.ok, ms: r.ms }),
    service: () => {},
    outage: () => {},
    vetoed: (_, __, by) => vetoed.push(by),
    error: (_, e) => {
      throw e;
    },
    runId: 'run-1',
    now: () => Date.now(),
    sleep: (ms) => sleep(Math.max(0, ms)),
  };
  const run = (ms: number) => runProber([probed], ports, Date.now() + ms);
  return { primary, standby, port, pair, sent, vetoed, blind, unreached, records, run };
}

describe('one probe', () => {
  it('names what failed: refused, a status, silence past the timeout; a slow answer within it passes', async () => {
    const { primary, port } = await setup(10);
    const s = { protocol: 'http' as const, port, path: '/', expectStatus: 200, timeoutMs: 400 };
    // A first probe loads Node's HTTP client paths: not what is measured here.
    await probe(primary.address, s);
    // Slow, at half the timeout: a margin that a loaded machine's event loop does not eat.
    await primary.set({ kind: 'slow', ms: 200 });
    const slow = await probe(primary.address, s);
    expect(slow, JSON.stringify(slow)).toMatchObject({ ok: true });
    await primary.set({ kind: 'status', code: 503 });
    expect(await probe(primary.address, s)).toMatchObject({ ok: false, error: 'status 503' });
    await primary.set({ kind: 'silent' });
    expect(await probe(primary.address, s)).toMatchObject({ ok: false, error: 'timeout after 400 ms' });
    await primary.set({ kind: 'down' });
    expect(await probe(primary.address, s)).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
  });
});

describe('the prober loop against loopback members', () => {
  it("the holder's server dies: evidence of 3 failures over >= 2 intervals, the standby passing each; sent again 5 intervals later while it fails", async () => {
    const m = await setup(12);
    const running = m.run(2_400);
    await sleep(300);
    await m.primary.set({ kind: 'down' });
    await running;

    expect(m.sent.length).toBeGreaterThanOrEqual(2);
    const e = m.sent[0] as Evidence;
    expect(e).toMatchObject({
      instanceId: PRIMARY,
      failures: 3,
      other: { instanceId: STANDBY, passing: true, passes: 3, failures: 0 },
    });
    // The repeat: the same failures and the ones since, 5 intervals (1 s) on.
    const again = m.sent[1] as Evidence;
    expect(again.firstFailureAt).toBe(e.firstFailureAt);
    expect(again.failures).toBeGreaterThanOrEqual(7);
    expect(again.lastFailureAt - e.lastFailureAt).toBeGreaterThanOrEqual(1_000);
    expect(e.lastFailureAt - e.firstFailureAt).toBeGreaterThanOrEqual(400);
    expect(e.other.at).toBeGreaterThanOrEqual(e.firstFailureAt);
    expect(e.errors).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    expect(m.blind).toEqual([]);
  });

  it("the holder's own address fails (a lossy path, a conntrack limit) while the service address answers: no evidence", async () => {
    // The service address is served by the standby's server here: it answers, so whoever holds the ENI serves.
    const m = await setup(14, {}, 'http', (a) => ({ service: a.standby, holder: 'primary' }));
    const running = m.run(2_000);
    await sleep(300);
    await m.primary.set({ kind: 'down' });
    await running;

    expect(m.sent).toEqual([]);
    expect(m.vetoed).toContain('the service address answered');
  });

  it('TCP: a listener that closes is seen the same way', async () => {
    const m = await setup(14, {}, 'tcp');
    const running = m.run(1_300);
    await sleep(250);
    await m.primary.set({ kind: 'down' });
    await running;

    expect(m.sent.map((e) => [e.instanceId, e.failures])).toEqual([[PRIMARY, 3]]);
  });

  it('one slow answer within the timeout is a pass: latency jitter up to 80 % of it sends nothing', async () => {
    // A 400 ms timeout at a 500 ms interval: answers take up to 320 ms, so that the machine's own
    // event-loop lag (the suite shares two cores) is not what is measured.
    const m = await setup(16, { intervalMs: 500, timeoutMs: 400 });
    await m.primary.set({ kind: 'slow', ms: () => Math.random() * 320 });
    await m.run(3_000);

    expect(m.sent).toEqual([]);
    const primary = m.records.filter((r) => r.role === 'primary');
    expect(primary.length).toBeGreaterThanOrEqual(5);
    expect(primary.filter((r) => r.ok).length).toBeGreaterThanOrEqual(primary.length - 1);
    expect(Math.max(...primary.map((r) => r.ms))).toBeGreaterThan(50);
  });

  it('both members fail: nothing sent, "cannot reach either" paged once', async () => {
    const m = await setup(18);
    const running = m.run(2_000);
    await sleep(200);
    await Promise.all([m.primary.set({ kind: 'down' }), m.standby.set({ kind: 'down' })]);
    await running;

    expect(m.sent).toEqual([]);
    expect(m.blind).toEqual(['web']);
  });

  it('the holder fails failures - 1 times, then recovers: nothing sent', async () => {
    const m = await setup(20);
    const running = m.run(1_600);
    await sleep(150);
    await m.primary.set({ kind: 'down' });
    await sleep(350); // two probes at 200 ms
    await m.primary.set({ kind: 'up' });
    await running;

    const failures = m.records.filter((r) => r.role === 'primary' && !r.ok).length;
    expect(failures).toBeGreaterThanOrEqual(1);
    expect(failures).toBeLessThan(3);
    expect(m.sent).toEqual([]);
  });

  it('the standby dies, the holder fine: evidence about the standby only (the function moves nothing for it)', async () => {
    const m = await setup(22);
    const running = m.run(1_500);
    await sleep(250);
    await m.standby.set({ kind: 'down' });
    await running;

    expect(m.sent.map((e) => e.instanceId)).toEqual([STANDBY]);
    expect(m.unreached).toEqual([]);
  });

  it('a service that starts answering 503: failed by status', async () => {
    const m = await setup(24);
    const running = m.run(2_000);
    await sleep(250);
    await m.primary.set({ kind: 'status', code: 503 });
    await running;

    expect(m.sent[0]?.errors).toEqual(['status 503', 'status 503', 'status 503']);
  });

  it('a holder the prober never reaches (its security group drops: every probe times out): no evidence, "never reached" paged once', async () => {
    const m = await setup(30);
    await m.primary.set({ kind: 'silent' });
    await m.run(2_400);

    // More failures than the pair's 3, and still one page.
    const failures = m.records.filter((r) => r.role === 'primary' && !r.ok).length;
    expect(failures).toBeGreaterThanOrEqual(4);
    expect(m.sent).toEqual([]);
    expect(m.unreached).toEqual([PRIMARY]);
    expect(m.blind).toEqual([]);
  });

  it('a holder down before the run starts but refusing: reached (a security group never refuses), so evidence within 3 intervals', async () => {
    const m = await setup(34);
    await m.primary.set({ kind: 'down' });
    await m.run(1_000);

    expect(m.sent[0]).toMatchObject({
      instanceId: PRIMARY,
      failures: 3,
      errors: Array(3).fill('ECONNREFUSED'),
    });
    expect(m.unreached).toEqual([]);
  });

  it('a holder that answered, then died: evidence sent, nothing paged as never reached', async () => {
    const m = await setup(32);
    const running = m.run(1_600);
    await sleep(250);
    expect(m.records.some((r) => r.role === 'primary' && r.ok)).toBe(true);
    await m.primary.set({ kind: 'silent' });
    await running;

    expect(m.sent.map((e) => [e.instanceId, e.failures])).toEqual([[PRIMARY, 3]]);
    expect(m.sent[0]?.errors).toEqual(Array(3).fill('timeout after 100 ms'));
    expect(m.unreached).toEqual([]);
  });
});

describe('issue 23: scale', () => {
  it("pairs' first probes are spread across the interval, not sent in the same millisecond", async () => {
    const starts = new Map<string, number>();
    const t0 = Date.now();
    const pairs: ProbedPair[] = Array.from({ length: 4 }, (_, i) => ({
      pair: { ...PAIR, name: `p${i}`, probe: { protocol: 'tcp', port: 1, intervalMs: 400, timeoutMs: 100 } },
      members: [
        { role: 'primary', instanceId: PRIMARY, address: `10.0.0.${i}` },
        { role: 'standby', instanceId: STANDBY, address: `10.0.1.${i}` },
      ],
    }));
    const ports: ProberPorts = {
      // No network here: each probe passes at once, and its start is what is measured.
      probe: async (address) => {
        if (!starts.has(address)) starts.set(address, Date.now() - t0);
        return { ok: true, ms: 0 };
      },
      send: async () => {},
      blind: () => {},
      unreached: () => {},
      record: () => {},
      service: () => {},
      outage: () => {},
      vetoed: () => {},
      error: () => {},
      runId: 'spread',
      now: () => Date.now(),
      sleep: (ms) => sleep(Math.max(0, ms)),
    };

    await runProber(pairs, ports, t0 + 420);

    const firsts = [0, 1, 2, 3].map((i) => starts.get(`10.0.0.${i}`) as number);
    // 0, 100, 200, 300 ms into the 400 ms interval at the earliest (a loaded machine only delays them): each pair
    // a quarter of it after the one before, where without the spread all four would start at once.
    for (const [i, at] of firsts.entries()) expect(at).toBeGreaterThanOrEqual(i * 100 - 5);
  });

  it('HTTPS probes resume the TLS session: a fresh connection each time, the full handshake only the first', async () => {
    // A throwaway certificate from a dev dependency's test fixtures (dynalite's): nothing is verified anyway.
    const fixture = (name: string) =>
      readFileSync(createRequire(import.meta.url).resolve(`dynalite/ssl/${name}`));
    const server = https.createServer(
      { key: fixture('server-key.pem'), cert: fixture('server-crt.pem') },
      (_q, r) => r.end('ok'),
    );
    const resumed: boolean[] = [];
    server.on('secureConnection', (socket) => resumed.push(socket.isSessionReused()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.40', resolve));
    const { port } = server.address() as { port: number };
    try {
      const s = { protocol: 'https' as const, port, path: '/', expectStatus: 200, timeoutMs: 2_000 };
      for (let i = 0; i < 3; i++) expect(await probe('127.0.0.40', s)).toMatchObject({ ok: true });
      expect(resumed).toEqual([false, true, true]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("the prober entry: addresses from the function's status, evidence by asynchronous Invoke", () => {
  it("probes the addresses the status gives, and invokes the pair's function with InvocationType Event", async () => {
    const m = await setup(26);
    const lambda = new LambdaClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const mock = mockClient(lambda);
    const status = [
      {
        outcome: 'status',
        pair: 'web',
        state: { addresses: { primary: m.primary.address, standby: m.standby.address } },
      },
    ];
    mock
      .on(InvokeCommand, { InvocationType: undefined })
      .resolves({ Payload: new TextEncoder().encode(JSON.stringify(status)) as never });
    mock.on(InvokeCommand, { InvocationType: 'Event' }).resolves({ StatusCode: 202 });
    const run = createProber({
      config: { targets: [{ functionName: 'failover-web', pairs: [m.pair] }], runMs: 1_500 },
      lambda,
      logger: new Logger({ logLevel: 'SILENT' }),
      serviceName: 'test',
      namespace: 'EniFailoverTest',
    });
    // It dies after the first probes have reached it: a member never reached sends no evidence.
    setTimeout(() => void m.primary.set({ kind: 'down' }), 300);

    const answer = await run({}, { getRemainingTimeInMillis: () => 60_000 });

    expect(answer).toEqual([
      { pair: 'web', probes: expect.any(Number), sent: 1, blind: 0, unreached: 0, vetoed: 0, outages: 0 },
    ]);
    const calls = mock.commandCalls(InvokeCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({ FunctionName: 'failover-web', Payload: '{"action":"status"}' });
    const sent = calls.filter((c) => c.InvocationType === 'Event');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.FunctionName).toBe('failover-web');
    const [trigger] = parseEvent(JSON.parse(String(sent[0]?.Payload))).triggers;
    expect(trigger).toMatchObject({ kind: 'probe', pair: 'web', instanceId: PRIMARY, failures: 3 });
  });

  it('a status without addresses: the pair is not probed, the error counted', async () => {
    const m = await setup(28);
    const lambda = new LambdaClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    mockClient(lambda)
      .on(InvokeCommand)
      .resolves({ Payload: new TextEncoder().encode(JSON.stringify([{ pair: 'web', state: {} }])) as never });
    const errors: unknown[] = [];
    const probed = await membersOf({ functionName: 'f', pairs: [m.pair] }, lambda, (_, e) => errors.push(e));
    expect(probed).toEqual([]);
    expect(String(errors[0])).toMatch(/gives no address for the primary/);
  });
});

describe("issue 23: the prober's view in the state table (dynalite)", () => {
  it('pages are claimed once across runs, run views kept and dropped, the last outage read for the status', async () => {
    const table = await stateTable();
    try {
      const { store } = table;
      expect(await store.load('web')).toEqual({ reachedAt: {}, paged: {}, runs: {} });
      // Two runs claim the same episode's page at once: one wins.
      const claims = await Promise.all([
        store.claimPage('web', 'blind', 1),
        store.claimPage('web', 'blind', 2),
      ]);
      expect(claims.sort()).toEqual([false, true]);
      const run = { until: 10, members: { [PRIMARY]: { passing: true, since: 1, passedAt: 9 } } };
      await store.write('web', { run: { id: 'r1', view: run }, reached: { [PRIMARY]: 9 } });
      await store.write('web', {
        run: { id: 'r2', view: { ...run, until: 20 } },
        dropRuns: ['r1'],
        clearPages: ['blind'],
        outage: { from: 1_000, to: 4_000, ms: 3_000 },
      });
      expect(await store.load('web')).toEqual({
        reachedAt: { [PRIMARY]: 9 },
        paged: {},
        runs: { r2: { ...run, until: 20 } },
        outage: { from: 1_000, to: 4_000, ms: 3_000 },
      });
      expect(await lastAddressOutage(store, 'web')).toEqual({
        from: new Date(1_000).toISOString(),
        to: new Date(4_000).toISOString(),
        ms: 3_000,
      });
      // The function's own item is another key: the prober's never touches it.
      expect(await lastAddressOutage(store, 'db')).toBeNull();
      expect(await table.state.read('web')).toMatchObject({ version: 0 });
    } finally {
      await table.close();
    }
  });
});

describe("the prober's configuration", () => {
  const probedPair = { ...PAIR, probe: { protocol: 'http', port: 80 } };
  it('reads PROBE_TARGETS', () => {
    const config = loadProbeConfig({
      PROBE_TARGETS: JSON.stringify([{ functionName: 'f', pairs: [probedPair] }]),
    });
    expect(config).toEqual({ targets: [{ functionName: 'f', pairs: [probedPair] }], runMs: 75_000 });
  });
  it('reads PROBE_TARGETS_FILE in its code, FAILOVER_VALUES filling the deploy-time names', () => {
    const root = mkdtempSync(join(tmpdir(), 'prober-code-'));
    writeFileSync(
      join(root, 'targets.json'),
      JSON.stringify([{ functionName: valuePlaceholder(0), pairs: [probedPair] }]),
    );
    const env = { PROBE_TARGETS_FILE: 'targets.json', LAMBDA_TASK_ROOT: root };
    expect(loadProbeConfig({ ...env, FAILOVER_VALUES: '["Shop-Failover-1A2B"]' }).targets).toEqual([
      { functionName: 'Shop-Failover-1A2B', pairs: [probedPair] },
    ]);
    expect(() => loadProbeConfig(env)).toThrow(
      /targets\.json\[0\]\.functionName is \$\{FAILOVER_VALUES\[0\]\}, but FAILOVER_VALUES holds 0 value/,
    );
    expect(() => loadProbeConfig({ ...env, PROBE_TARGETS: '[]' })).toThrow(/both set: set one/);
    expect(() => loadProbeConfig({ ...env, PROBE_TARGETS_FILE: 'gone.json' })).toThrow(
      /PROBE_TARGETS_FILE gone\.json: ENOENT/,
    );
  });
  it('names every problem', () => {
    expect(() =>
      loadProbeConfig({
        PROBE_TARGETS: JSON.stringify([
          { pairs: [PAIR] },
          { functionName: 'g', pairs: [{ ...probedPair, probe: { protocol: 'udp', port: 1 } }] },
        ]),
        PROBE_RUN_MS: '10',
      }),
    ).toThrow(
      /PROBE_TARGETS\[0\]\.functionName must name[\s\S]*pair web has no probe option[\s\S]*PROBE_TARGETS\[1\]\.pairs\[0\]\.probe\.protocol must be[\s\S]*PROBE_RUN_MS must be/,
    );
    expect(() => loadProbeConfig({})).toThrow(/PROBE_TARGETS must be a JSON array/);
  });
});
