import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createClients, HTTP } from '../../lambda/aws/clients.ts';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import { SsmAdapter } from '../../lambda/aws/ssm.ts';
import type { Pair } from '../../lambda/config.ts';
import { createFailover, FailoverError } from '../../lambda/failover.ts';
import type { Result } from '../../lambda/result.ts';
import { systemClock } from '../../lambda/retry.ts';
import { motoState } from './state.ts';

/**
 * The real function over real SDK clients with default endpoint resolution (so moto, or the fault
 * proxy in front of it; the pair state on moto's DynamoDB), its notifications collected instead of published. Each invocation has
 * `remainingMs` of Lambda time left when it starts.
 */
export function localFailover(pairs: Pair[], http: typeof HTTP = HTTP, remainingMs = 60_000) {
  const published: Result[] = [];
  const state = motoState();
  const failover = createFailover({
    config: { pairs, topicArn: undefined },
    ec2: new Ec2Adapter(createClients(http).ec2),
    state,
    notify: async (r) => {
      published.push(r);
    },
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'EniFailoverTest' }),
    region: 'eu-west-1',
    os: pairs.some((p) => p.verifyOs) ? new SsmAdapter(SsmAdapter.client(), systemClock) : undefined,
  });
  /** What Lambda returns for an event (it throws on a failure part-way). */
  const answer = (event: unknown) => failover(event, { getRemainingTimeInMillis: () => remainingMs });
  return {
    answer,
    published,
    /** The pair state on moto's DynamoDB, shared by every container of the test. */
    state,
    /** The one result for an event; a failure's result is returned rather than thrown. */
    invoke: async (event: unknown): Promise<Result> => {
      try {
        const r = await answer(event);
        return (Array.isArray(r) ? r[0] : r) as Result;
      } catch (error) {
        if (error instanceof FailoverError) return error.results[0] as Result;
        throw error;
      }
    },
  };
}
