import { buildPairs, failAtOnce, peakOverlap } from '../helpers/pairs.ts';
import { faultyEc2 } from '../helpers/reliability.ts';
import { startMoto } from '../helpers/tools.ts';

export interface ParallelRun {
  pairs: number;
  wallMs: number;
  /** The most moves in flight at one moment. */
  peak: number;
  moved: number;
  /** The lease's write (step `lease`, the one call it adds before the detach) in each moved result, in ms. */
  leaseMs: number[];
}

/**
 * Correlated failures against moto: for each count in `counts`, that many pairs' primaries stop at
 * once and each pair's state change runs in its own function instance (a Lambda container), all
 * concurrently. moto carries a detach or an attach out at once; EC2 takes seconds, so the proxy in
 * front of moto holds those answers for `settle` ms (0: moto's own speed).
 */
export async function benchParallel(
  counts: number[],
  settle: { detachMs: number; attachMs: number },
): Promise<ParallelRun[]> {
  const moto = await startMoto();
  const proxy = await faultyEc2(moto);
  try {
    const runs: ParallelRun[] = [];
    for (const n of counts) {
      await moto.reset();
      proxy.clear();
      const m = await buildPairs(n);
      proxy.delay('DetachNetworkInterface', settle.detachMs);
      proxy.delay('AttachNetworkInterface', settle.attachMs);
      const o = await failAtOnce(m, proxy, n);
      runs.push({
        pairs: n,
        wallMs: o.wallMs,
        peak: peakOverlap(o.moves.values()),
        moved: o.results.flat().filter((r) => r.outcome === 'moved').length,
        leaseMs: o.results
          .flat()
          .filter((r) => r.outcome === 'moved')
          .flatMap((r) => r.steps.filter((st) => st.name === 'lease').map((st) => st.ms)),
      });
    }
    return runs;
  } finally {
    delete process.env.AWS_ENDPOINT_URL_EC2;
    await proxy.stop();
    await moto.stop();
  }
}
