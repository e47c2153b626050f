// Issues 17 and 23: detection by the prober, measured with the real parts (test/helpers/probe-world.ts): members as
// real HTTP servers on loopback addresses, the service address following the ENI, the real prober loop with its view
// in dynalite, the real failover function against the in-memory EC2 with its settle times (the real clock). The
// holder's server is killed at a random moment of the interval. Then the cases that must move nothing, the lossy
// paths among them, and how many pairs one run keeps on time (test/bench/probe-scale.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProbeOption } from '../../lambda/config.ts';
import { PROBE_CPU_MS, probeCpuMsPerSecond, proberMemoryFor } from '../../lib/prober.ts';
import { type ProbeWorld, probeWorld, type StateTable, stateTable } from '../helpers/probe-world.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';
import { measureScale } from './probe-scale.ts';

export interface Settle {
  detachMs: number;
  attachMs: number;
}

export interface DetectionRun {
  /** From the kill to the `probe` evidence sent. */
  detectMs: number;
  /** From the kill to the function's answer `moved`, the ENI attached on the standby. */
  endToEndMs: number;
  /** The service address's outage as the prober measured it (first failed probe to first passing). */
  outageMs: number;
}

type Table = StateTable;

/** `runs` kills of the holder's server, `parallel` at a time (each its own addresses, EC2, function and pair). */
export async function benchDetection(
  table: Table,
  runs: number,
  settle: Settle,
  parallel = 4,
): Promise<DetectionRun[]> {
  const out: DetectionRun[] = [];
  for (let done = 0; done < runs; done += parallel) {
    const batch = Array.from({ length: Math.min(parallel, runs - done) }, async (_, i) => {
      const w = await probeWorld(10 + 3 * (done + i), { settle, table });
      try {
        const running = w.run(1_500 + 1_000 + 12_000);
        // Both members pass first; then the kill, at a random moment of the 1 s interval.
        await sleep(1_500 + Math.random() * 1_000);
        const killed = performance.now();
        await w.primary.set({ kind: 'down' });
        await running;
        const sent = w.sent[0];
        const moved = w.sent.find((s) => s.result?.outcome === 'moved');
        const outage = w.outages[0];
        if (!sent || !moved?.answeredAt || w.ec2.holder() !== STANDBY || !outage)
          throw new Error(
            `run ${done + i}: no move or no outage (${JSON.stringify(w.sent.map((s) => s.result?.reasons))})`,
          );
        return { detectMs: sent.at - killed, endToEndMs: moved.answeredAt - killed, outageMs: outage.ms };
      } finally {
        await w.close();
      }
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

export interface FalsePositive {
  name: string;
  moves: number;
  detail: string;
}

/** Runs `f` on a fresh world and closes it. */
async function withWorld<T>(
  table: Table,
  base: number,
  settle: Settle,
  probe: Partial<ProbeOption> | undefined,
  f: (w: ProbeWorld) => Promise<T>,
) {
  const w = await probeWorld(base, { settle, table, probe: probe ?? {} });
  try {
    return await f(w);
  } finally {
    await w.close();
  }
}

/** The cases that must move nothing, each through the same harness. */
export async function benchFalsePositives(
  table: Table,
  settle: Settle,
  jitterSeconds: number,
): Promise<FalsePositive[]> {
  const cases: FalsePositive[] = [];
  // 10 minutes of 1 s probes is 600 per member: the same 600 on a clock scaled by 5 (interval 200 ms,
  // timeout 100 ms, latency jittering up to 80 ms = 80 % of the timeout) take two minutes. The scaled
  // clock is harsher than the real one: the machine's own event-loop lag is a larger share of 100 ms.
  const scaled = { intervalMs: 200, timeoutMs: 100 };
  cases.push(
    await withWorld(table, 100, settle, scaled, async (w) => {
      await w.primary.set({ kind: 'slow', ms: () => Math.random() * 80 });
      await w.standby.set({ kind: 'slow', ms: () => Math.random() * 80 });
      await w.run(jitterSeconds * 1000);
      return {
        name: `healthy holder, latency jittering up to 80 % of the timeout, ${jitterSeconds * 5} probes each (${jitterSeconds / 12} min at 1 s, clock scaled x5)`,
        moves: w.moves(),
        detail: `${w.failedAttempts()} failed probe attempts, ${w.sent.length} evidence sent`,
      };
    }),
  );
  // Issue 23: both members' paths lose a share of connections (a lost SYN, which TCP retries after 1 s, past
  // the probe's timeout). 20 runs of 75 s each at the defaults (1 s, 500 ms), side by side: the real clock, since
  // 20 worlds in one process on a shared machine lag by more than a scaled 100 ms timeout.
  for (const share of [0.1, 0.2]) {
    const worlds = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        probeWorld(110 + 3 * i + (share === 0.2 ? 60 : 0), { settle, table }),
      ),
    );
    try {
      await Promise.all(
        worlds.flatMap((w) => [
          w.primary.set({ kind: 'lossy', share }),
          w.standby.set({ kind: 'lossy', share }),
        ]),
      );
      await Promise.all(worlds.map((w) => w.run(75_000)));
      const lost = worlds.reduce((n, w) => n + w.failedAttempts(), 0);
      const aboutHolder = worlds.reduce(
        (n, w) => n + w.sent.filter((s) => s.evidence.instanceId === PRIMARY).length,
        0,
      );
      cases.push({
        name: `both members' paths lose ${share * 100} % of connections, 20 runs of 75 s`,
        moves: worlds.reduce((n, w) => n + w.moves(), 0),
        detail: `${lost} probe attempts lost, ${aboutHolder} evidence about the holder sent`,
      });
    } finally {
      await Promise.all(worlds.map((w) => w.close()));
    }
  }
  cases.push(
    await withWorld(table, 240, settle, undefined, async (w) => {
      const running = w.run(7_000);
      await sleep(1_500);
      await Promise.all([w.primary.set({ kind: 'down' }), w.standby.set({ kind: 'down' })]);
      await running;
      return {
        name: 'the prober loses both members at once',
        moves: w.moves(),
        detail: `"cannot reach either member" paged ${w.proberPages.filter((p) => p === 'blind').length} time(s), ${w.sent.length} evidence sent`,
      };
    }),
  );
  cases.push(
    await withWorld(table, 243, settle, undefined, async (w) => {
      await Promise.all([w.primary.set({ kind: 'silent' }), w.standby.set({ kind: 'silent' })]);
      await w.run(5_000);
      await w.run(5_000);
      return {
        name: 'both members never reached, every probe timing out, two runs',
        moves: w.moves(),
        detail: `${w.proberPages.length} page(s) (${w.proberPages.join(', ')}), ${w.sent.length} evidence sent`,
      };
    }),
  );
  cases.push(
    await withWorld(table, 246, settle, undefined, async (w) => {
      const running = w.run(7_000);
      await sleep(1_500);
      await w.standby.set({ kind: 'down' });
      await running;
      return {
        name: 'the standby is down, the holder fine',
        moves: w.moves(),
        detail: `${w.sent.length} evidence about the standby sent (once a minute while the address answers), answered ${w.sent.map((s) => s.result?.outcome).join(', ') || 'nothing'}`,
      };
    }),
  );
  cases.push(
    await withWorld(table, 249, settle, undefined, async (w) => {
      const running = w.run(7_000);
      // Down just after a slot's probes, up again before the third failed one: failures - 1 = 2 failed probes.
      while (w.service$.length < 2) await sleep(5);
      await w.primary.set({ kind: 'down' });
      await sleep(2_500);
      await w.primary.set({ kind: 'up' });
      await running;
      return {
        name: 'the holder fails failures - 1 times, then recovers',
        moves: w.moves(),
        detail: `${w.failedAttempts()} failed probe attempts, ${w.sent.length} evidence sent`,
      };
    }),
  );
  return cases;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};

/** A run of 75 s a minute, 43,200 a month, arm64 at $0.0000133334 a GB-second (Lambda pricing). */
const monthlyCost = (memoryMb: number) => 43_200 * 75 * (memoryMb / 1024) * 0.0000133334;

/** How many pairs of one protocol the default memory keeps on time, and what the prober then costs. */
async function reportScale(): Promise<void> {
  console.log(
    '\n== Prober scale (issue 23): CPU per probe with members in another process, 30 pairs at 1 s for 10 s; Lambda gives one vCPU at 1,769 MB, the prober budgets half of its share',
  );
  for (const protocol of ['tcp', 'http', 'https'] as const) {
    const f = await measureScale(protocol, 30, 10);
    const pairs = (n: number) => Array.from({ length: n }, () => ({ ...PAIR, probe: { protocol, port: 1 } }));
    let at128 = 0;
    while (proberMemoryFor(pairs(at128 + 1)) <= 128) at128++;
    let atOneVcpu = 0;
    while (probeCpuMsPerSecond(pairs(atOneVcpu + 1)) <= 500) atOneVcpu++;
    console.log(
      `${protocol}: ${f.cpuMsPerProbe.toFixed(2)} ms of CPU a probe measured (lib/prober.ts uses ${PROBE_CPU_MS[protocol]}), slots late p99 ${f.lateP99Ms} ms, ${f.failed} failed probes; ${at128} pairs at 128 MB ($${monthlyCost(128).toFixed(2)} a month); ${atOneVcpu} at most (1,769 MB, $${monthlyCost(1769).toFixed(2)} a month)`,
    );
  }
}

/** Prints the figures and returns the verdicts. */
export async function reportProbe(
  settle: Settle,
  runs: number,
  jitterSeconds: number,
  verdict: (target: string, ok: boolean) => string,
): Promise<void> {
  const table = await stateTable();
  try {
    console.log(
      `\n== Probe detection (issues 17, 23): ${runs} kills of the holder's HTTP server on a loopback address, defaults (1 s interval, 500 ms timeout, 3 failures, a failed probe tried again at once); EC2 settles a detach in ${settle.detachMs} ms and an attach in ${settle.attachMs} ms`,
    );
    const d = await benchDetection(table, runs, settle);
    const detect = d.map((r) => r.detectMs);
    const e2e = d.map((r) => r.endToEndMs);
    const ec2Ms = settle.detachMs + settle.attachMs;
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(
      `detection: p50 ${s(pct(detect, 50))}, p95 ${s(pct(detect, 95))}, min ${s(Math.min(...detect))}, max ${s(Math.max(...detect))}`,
    );
    console.log(`to the ENI attached on the standby: p50 ${s(pct(e2e, 50))}, p95 ${s(pct(e2e, 95))}`);
    console.log(
      `detection target p50 <= 3.5 s and p95 <= 4.5 s: ${verdict('probe detection', pct(detect, 50) <= 3_500 && pct(detect, 95) <= 4_500)}`,
    );
    // The issue's target: end to end <= (detection + EC2's settle time) + 10 %, run by run.
    const worst = Math.max(...d.map((r) => r.endToEndMs / (r.detectMs + ec2Ms)));
    const after = d.map((r) => r.endToEndMs - r.detectMs);
    console.log(
      `the move after detection: p50 ${pct(after, 50).toFixed(0)} ms, max ${Math.max(...after).toFixed(0)} ms (EC2 settles in ${ec2Ms} ms)`,
    );
    console.log(
      `end to end <= 1.1 x (detection + EC2's ${ec2Ms} ms), worst run ${worst.toFixed(3)} x: ${verdict('probe end to end', worst <= 1.1)}`,
    );
    // Issue 23: the outage users felt, as the prober measured it on the service address, against what it bounds.
    const outage = d.map((r) => r.outageMs);
    const within = d.filter(
      (r) => r.outageMs >= r.detectMs - 1_000 && r.outageMs <= r.endToEndMs + 1_000,
    ).length;
    console.log(
      `the service address's outage as measured: p50 ${s(pct(outage, 50))}, p95 ${s(pct(outage, 95))}; between detection and the move's end (one 1 s interval either side) in ${within} of ${d.length} runs: ${verdict('address outage measured', within === d.length)}`,
    );
    console.log('\n== Probe false positives: zero moves in each');
    for (const c of await benchFalsePositives(table, settle, jitterSeconds))
      console.log(
        `${c.name}: ${c.moves} moves (${c.detail}): ${verdict(`no move: ${c.name}`, c.moves === 0)}`,
      );
  } finally {
    await table.close();
  }
  await reportScale();
}
