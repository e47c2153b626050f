import { StartInstancesCommand } from '@aws-sdk/client-ec2';
import type { Moto } from '../../ops/moto.ts';
import { buildWorld } from '../../ops/world.ts';
import { SAMPLE_INSTANCE, sample } from './events.ts';
import { FAULTS, type FaultProxy } from './fault-proxy.ts';
import { failoverFor, locate } from './reliability.ts';

export interface SoakFigures {
  failovers: number;
  /** ms from the event to the ENI on the new holder, Lambda's retries included. */
  times: number[];
  /** Failovers whose first attempt failed and a retry finished. */
  retried: number;
  attempts: number;
  faultsInjected: number;
  stranded: number;
  doubles: number;
}

/** A small seeded generator, so that a soak can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` failovers back and forth between two instances against moto, with `rate` of the function's EC2
 * calls failing at random (every fault kind). Each round stops the holder, delivers the state change,
 * and retries as Lambda would until the ENI is on the other member; then starts the stopped one again.
 */
export async function soak(
  moto: Moto,
  proxy: FaultProxy,
  n: number,
  rate = 0.05,
  seed = 42,
): Promise<SoakFigures> {
  await moto.reset();
  proxy.clear();
  const w = await buildWorld();
  const pair = { ...w.pair, cooldownSeconds: 0 };
  const run = failoverFor(pair);
  const random = mulberry32(seed);
  const figures: SoakFigures = {
    failovers: 0,
    times: [],
    retried: 0,
    attempts: 0,
    faultsInjected: 0,
    stranded: 0,
    doubles: 0,
  };
  let holder = w.primary;
  for (let i = 0; i < n; i++) {
    const target = holder === w.primary ? w.standby : w.primary;
    await w.stop(holder);
    const event = sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: holder });
    proxy.clear();
    proxy.randomly(rate, FAULTS, random);
    const start = performance.now();
    let attempts = 0;
    let where: string | null = null;
    // Lambda retries a failed asynchronous invocation; the soak gives it up to 5 attempts.
    while (attempts < 5) {
      attempts += 1;
      const r = await run.invoke(event);
      if (r.outcome === 'moved' || r.outcome === 'unchanged') {
        where = target;
        break;
      }
    }
    const elapsed = performance.now() - start;
    figures.faultsInjected += proxy.log.filter((l) => l.fault).length;
    proxy.clear();
    const after = await locate(w);
    figures.failovers += 1;
    figures.attempts += attempts;
    if (attempts > 1) figures.retried += 1;
    if (after.holder === null) figures.stranded += 1;
    if (after.listedBy > 1) figures.doubles += 1;
    if (where === target && after.holder === target) figures.times.push(elapsed);
    await w.ec2.send(new StartInstancesCommand({ InstanceIds: [holder] }));
    holder = after.holder ?? target;
  }
  return figures;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? Number.NaN;
}

export function describeSoak(f: SoakFigures): string {
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  return [
    `${f.failovers} failovers, ${f.faultsInjected} faults injected, ${f.retried} needed a Lambda retry (${f.attempts} invocations in all)`,
    `stranded ENIs: ${f.stranded}; double attachments: ${f.doubles}; converged: ${f.times.length} of ${f.failovers}`,
    `time to converge: p50 ${ms(percentile(f.times, 0.5))}, p90 ${ms(percentile(f.times, 0.9))}, p99 ${ms(percentile(f.times, 0.99))}, max ${ms(Math.max(...f.times))}`,
  ].join('\n');
}
