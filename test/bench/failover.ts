import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import { createFailover } from '../../lambda/failover.ts';
import type { Result } from '../../lambda/result.ts';
import { systemClock } from '../../lambda/retry.ts';
import { FakeEc2 } from '../../ops/fake-ec2.ts';
import { localState } from '../helpers/state.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

export interface FailoverFigures {
  detachMs: number;
  attachMs: number;
  runs: { wallMs: number; steps: Result['steps'] }[];
  calls: Record<string, number>;
}

/**
 * Failovers against the in-memory EC2 with the real clock: EC2 takes `detachMs` to let go of the
 * ENI and `attachMs` to attach it, and the function's own wall time is measured around that. The pair's
 * state is a table on dynalite (in process, on loopback): its round trips are a lower bound of DynamoDB's.
 */
export async function benchFailover(
  detachMs: number,
  attachMs: number,
  runs: number,
  /** Tags written show in reads this much later (EC2's eventual consistency); 0: at once. */
  tagLagMs = 0,
): Promise<FailoverFigures> {
  const figures: FailoverFigures = { detachMs, attachMs, runs: [], calls: {} };
  for (let i = 0; i < runs; i++) {
    const ec2 = new FakeEc2(PAIR.networkInterfaceId, 'eu-west-1a', 'vpc-1', systemClock, {
      detachMs,
      attachMs,
    });
    ec2.addInstance({ id: PRIMARY, state: 'stopped' });
    ec2.addInstance({ id: STANDBY });
    ec2.place(PRIMARY);
    ec2.lagTags(tagLagMs);
    const failover = createFailover({
      config: { pairs: [PAIR], topicArn: undefined },
      ec2: new Ec2Adapter(ec2.client),
      state: localState(),
      notify: async () => {},
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Bench' }),
      region: 'eu-west-1',
    });
    const event = { action: 'move', pair: PAIR.name, to: 'standby' };
    const start = performance.now();
    const r = (await failover(event, { getRemainingTimeInMillis: () => 900_000 })) as Result;
    const wallMs = performance.now() - start;
    if (r.outcome !== 'moved' || ec2.holder() !== STANDBY)
      throw new Error(`bench failover did not move: ${JSON.stringify(r)}`);
    figures.runs.push({ wallMs, steps: r.steps });
    if (i === 0) for (const c of ec2.calls) figures.calls[c] = (figures.calls[c] ?? 0) + 1;
  }
  return figures;
}
