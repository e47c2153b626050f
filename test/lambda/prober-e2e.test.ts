// Issue 23: the real prober loop and the real failover function, end to end, with members as real servers
// on loopback addresses, the service address following the ENI, the in-memory EC2 on the real clock and the
// prober's view in a real DynamoDB API (dynalite). Short intervals (200 ms, timeout 100 ms) keep it quick.
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STATE_HTTP } from '../../lambda/aws/clients.ts';
import { DynamoViewStore, lastAddressOutage } from '../../lambda/probe/store.ts';
import { memberServer } from '../../ops/members.ts';
import { type ProbeWorld, probeWorld, stateTable } from '../helpers/probe-world.ts';
import { PRIMARY, STANDBY } from '../helpers/world.ts';

const FAST = { intervalMs: 200, timeoutMs: 100, failures: 3 };
let table: Awaited<ReturnType<typeof stateTable>>;
beforeAll(async () => {
  table = await stateTable();
});
afterAll(() => table.close());
const open: ProbeWorld[] = [];
afterEach(async () => {
  const worlds = open.splice(0);
  await Promise.all(worlds.map((w) => w.close()));
  // The prober met no error of its own (a send failed, the function threw) unless a test made one. A view call
  // given up after its 1 s bound is not one: a loaded machine's dynalite can take that long, and the run goes on.
  for (const w of worlds)
    if (!faulty.has(w)) expect(w.errors.filter((e) => !/no answer within/.test(String(e)))).toEqual([]);
  faulty.clear();
});
const faulty = new Set<ProbeWorld>();
async function world(base: number, options: Parameters<typeof probeWorld>[1] = {}) {
  const w = await probeWorld(base, { probe: FAST, table, ...options });
  open.push(w);
  return w;
}

describe('keep trying: a member that keeps failing is acted on', () => {
  it("a holder dead before the run starts (refusing) is moved by that run's own probes", async () => {
    const w = await world(40);
    await w.primary.set({ kind: 'down' });
    const started = Date.now();

    // failures x interval = 0.6 s, the move's EC2 settle 0.7 s, and margin for a loaded machine.
    await w.run(3_600);

    expect(w.ec2.holder()).toBe(STANDBY);
    const moved = w.sent.find((s) => s.result?.outcome === 'moved');
    expect(moved?.evidence).toMatchObject({
      instanceId: PRIMARY,
      errors: ['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED'],
    });
    expect(moved?.evidence.firstFailureAt).toBeGreaterThanOrEqual(started);
    // Which kind of failure moved the address, in the result.
    expect(moved?.result?.reasons.join(' ')).toMatch(/failed by refused x3/);
    expect(w.proberPages).toEqual([]);
  });

  it('evidence refused for the cool-down is sent again and moves the ENI once the cool-down has passed', async () => {
    const w = await world(43, { pair: { cooldownSeconds: 4 } });
    // A first automatic move (the primary dies), then the primary is back and the new holder dies within 4 s.
    const first = w.run(1_500);
    await sleep(200);
    await w.primary.set({ kind: 'down' });
    await first;
    expect(w.ec2.holder()).toBe(STANDBY);
    await w.primary.set({ kind: 'up' });
    await w.standby.set({ kind: 'down' });

    await w.run(7_500);

    const answers = w.sent.filter((s) => s.evidence.instanceId === STANDBY).map((s) => s.result?.outcome);
    expect(answers[0]).toBe('refused');
    // Repeats are quiet: the cool-down's refusal pages once, however often the evidence came.
    expect(answers.filter((a) => a === 'refused').length).toBeGreaterThanOrEqual(2);
    expect(w.pages.filter((p) => /^refused cooldown/.test(p))).toHaveLength(1);
    expect(answers).toContain('moved');
    expect(w.ec2.holder()).toBe(PRIMARY);
  });

  it('the view out of reach (a table that never answers): the run is not held up, a refusing holder is still moved, the errors counted', async () => {
    // "DynamoDB" on a loopback address that accepts connections and never answers.
    const silent = await memberServer('127.0.2.52', 20_000 + Math.floor(Math.random() * 30_000));
    await silent.set({ kind: 'silent' });
    const client = new DynamoDBClient({
      endpoint: `http://${silent.address}:${silent.port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      requestHandler: STATE_HTTP,
      maxAttempts: 2,
    });
    try {
      const w = await world(52, {
        view: new DynamoViewStore('eni-failover-state', DynamoDBDocumentClient.from(client)),
      });
      faulty.add(w);
      await w.primary.set({ kind: 'down' });

      await w.run(4_500);

      expect(w.ec2.holder()).toBe(STANDBY);
      expect(w.errors.length).toBeGreaterThan(0);
      expect(String(w.errors[0])).toMatch(/no answer within 1000 ms|timed? ?out/i);
    } finally {
      client.destroy();
      await silent.close();
    }
  });

  it('a holder that only times out, with the other member passing, is moved (an earlier run reached it)', async () => {
    const w = await world(46);
    await w.run(600);
    await w.primary.set({ kind: 'silent' });

    await w.run(3_000);

    expect(w.ec2.holder()).toBe(STANDBY);
    const moved = w.sent.find((s) => s.result?.outcome === 'moved');
    expect(moved?.evidence.errors).toEqual(Array(3).fill('timeout after 100 ms'));
    expect(moved?.result?.reasons.join(' ')).toMatch(/failed by timeout x3/);
  });

  it('both members never reached by any probe (every probe timed out): nothing moves, one page over two runs', async () => {
    const w = await world(49);
    await Promise.all([w.primary.set({ kind: 'silent' }), w.standby.set({ kind: 'silent' })]);

    await w.run(2_000);
    await w.run(2_000);

    expect(w.sent).toEqual([]);
    expect(w.moves()).toBe(0);
    expect(w.proberPages).toEqual(['blind']);
  });
});

describe('no move on a flaky path', () => {
  for (const share of [0.1, 0.2])
    it(`both members' paths lose ${share * 100} % of connections, 20 runs: no move, no evidence about the holder`, async () => {
      // 20 runs side by side, each a world of its own (its own addresses, EC2, function and view).
      // A 200 ms timeout: 20 worlds in one process lag, and the members' failures must be the paths' losses.
      const worlds = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          world(60 + 3 * i + (share === 0.2 ? 100 : 0), {
            probe: { intervalMs: 400, timeoutMs: 200, failures: 3 },
          }),
        ),
      );
      await Promise.all(
        worlds.flatMap((w) => [
          w.primary.set({ kind: 'lossy', share }),
          w.standby.set({ kind: 'lossy', share }),
        ]),
      );

      await Promise.all(worlds.map((w) => w.run(2_400)));

      // The paths did lose connections: 20 runs x 6 slots x 2 members, each probe lost by chance `share`.
      expect(worlds.reduce((n, w) => n + w.failedAttempts(), 0)).toBeGreaterThan(240 * share * 0.3);
      expect(worlds.map((w) => w.moves())).toEqual(Array(20).fill(0));
      expect(worlds.flatMap((w) => w.sent.filter((s) => s.evidence.instanceId === PRIMARY))).toEqual([]);
    });

  it('two overlapping runs, one seeing the holder pass while the other cannot reach it: no move', async () => {
    const w = await world(180);
    // The second run's path to the primary drops everything (another subnet): a server that never answers.
    const elsewhere = await memberServer('127.0.2.180', w.primary.port);
    await elsewhere.set({ kind: 'silent' });
    try {
      const a = w.run(3_500, { runId: 'a' });
      await sleep(500);
      const b = w.run(2_500, { runId: 'b', primaryAt: elsewhere.address });
      const [, [summary]] = await Promise.all([a, b]);

      expect(w.ec2.holder()).toBe(PRIMARY);
      expect(w.moves()).toBe(0);
      expect(w.sent).toEqual([]);
      expect(summary?.vetoed).toBeGreaterThanOrEqual(1);
      expect(w.vetoed.every((e) => e.instanceId === PRIMARY)).toBe(true);
    } finally {
      await elsewhere.close();
    }
  });
});

describe('the view across runs', () => {
  it('a run that saw the holder pass and ended vetoes only the failures before its last pass: the holder dead since is moved', async () => {
    const w = await world(192);
    const elsewhere = await memberServer('127.0.2.192', w.primary.port);
    await elsewhere.set({ kind: 'silent' });
    try {
      const a = w.run(1_500, { runId: 'a' });
      await sleep(300);
      // The second run cannot reach the primary from the start; the primary dies when the first run ends.
      const b = w.run(5_000, { runId: 'b', primaryAt: elsewhere.address });
      await a;
      await w.primary.set({ kind: 'down' });
      const [summary] = await b;
      const aLastProbe = (await table.store.load(w.pair.name)).runs.a?.until ?? Number.POSITIVE_INFINITY;

      expect(summary?.vetoed).toBeGreaterThanOrEqual(1);
      expect(w.ec2.holder()).toBe(STANDBY);
      // The evidence that moved it counts only failures after the first run's last pass.
      const moved = w.sent.find((x) => x.result?.outcome === 'moved');
      expect(moved?.evidence.firstFailureAt).toBeGreaterThan(aLastProbe);
    } finally {
      await elsewhere.close();
    }
  });
});

describe('the service address', () => {
  it('after a move, the time it did not answer is measured, reported, and lies between detection and detection + move', async () => {
    const w = await world(183, { settle: { detachMs: 500, attachMs: 700 } });
    const running = w.run(4_000);
    await sleep(500);
    const killed = performance.now();
    const killedAt = Date.now();
    await w.primary.set({ kind: 'down' });
    await running;

    expect(w.ec2.holder()).toBe(STANDBY);
    const moved = w.sent.find((s) => s.result?.outcome === 'moved');
    const detectMs = (w.sent[0]?.at ?? 0) - killed;
    const [outage] = w.outages;
    expect(outage).toBeDefined();
    // Probes are an interval apart: the outage's ends are seen within one interval of when they happen.
    expect(outage?.from).toBeGreaterThanOrEqual(killedAt - 50);
    expect(outage?.ms).toBeGreaterThanOrEqual(detectMs - FAST.intervalMs);
    // Detection and the move (the function's answer `moved`), then at most the next slot's probe and its retry.
    const movedMs = (moved?.answeredAt ?? 0) - killed;
    expect(outage?.ms).toBeLessThanOrEqual(movedMs + 2 * FAST.intervalMs + 100);
    // And in the pair's status, from the prober's item in the state table: the last outage it measured (on a loaded
    // machine a probe after the move may fail too, and that one is the last).
    const last = w.outages.at(-1);
    const expected = {
      from: new Date(last?.from ?? 0).toISOString(),
      to: new Date(last?.to ?? 0).toISOString(),
      ms: last?.ms,
    };
    // Polled: the run's last writes may land just after it returns.
    await expect
      .poll(() => lastAddressOutage(table.store, w.pair.name), { timeout: 3_000 })
      .toEqual(expected);
    await expect
      .poll(async () => (await w.status()).state?.addressOutage, { timeout: 3_000 })
      .toEqual(expected);
  });

  it("an attached holder that passes while its address does not answer (the guest did not bring it up) raises the alarm's metric", async () => {
    const w = await world(186);
    await w.service.set({ kind: 'silent' });

    await w.run(1_600);

    expect(w.service$.length).toBeGreaterThanOrEqual(4);
    expect(w.service$.every((s) => !s.ok && s.holderUp)).toBe(true);
    expect(w.moves()).toBe(0);
  });

  it('the address down because its holder is down is not the alarm: its metric stays 0', async () => {
    const w = await world(189);
    await Promise.all([w.primary.set({ kind: 'silent' }), w.standby.set({ kind: 'silent' })]);

    await w.run(1_000);

    expect(w.service$.some((s) => !s.ok)).toBe(true);
    expect(w.service$.some((s) => s.holderUp)).toBe(false);
  });
});
