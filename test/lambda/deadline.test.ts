// Issue 8, item 9: the result and its notification go out before Lambda's timeout, whatever EC2 does.
// A real EC2Client over HTTP to a local server that accepts every request and never answers: only
// the abort signals that bound each call by the invocation's remaining time can end the wait. (The
// SDK's own limits would not: 3 attempts of up to 10 s each.)
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP } from '../../lambda/aws/clients.ts';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import { createFailover, FailoverError, REPORT_RESERVE_MS } from '../../lambda/failover.ts';
import type { Result } from '../../lambda/result.ts';
import { sample } from '../helpers/events.ts';
import { localState } from '../helpers/state.ts';
import { PAIR } from '../helpers/world.ts';

let server: Server;
let url: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer(() => {
    // Never answer.
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('9. report before the deadline', () => {
  it('EC2 never answers: the failure is published and thrown before the Lambda times out', async () => {
    // Prepare: the production clients' timeouts (10 s a request), an EC2 that hangs, 8 s left.
    const ec2 = new EC2Client({
      region: 'eu-west-1',
      endpoint: url,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      requestHandler: HTTP,
    });
    const published: { result: Result; aborted: boolean }[] = [];
    const failover = createFailover({
      config: { pairs: [PAIR], topicArn: undefined },
      ec2: new Ec2Adapter(ec2),
      state: localState(),
      notify: async (result, signal) => {
        published.push({ result, aborted: signal.aborted });
      },
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'EniFailoverTest' }),
      region: 'eu-west-1',
    });
    const remainingMs = REPORT_RESERVE_MS + 3_000;

    // Act
    const started = Date.now();
    const error = await failover(sample('eventbridge-state-change'), {
      getRemainingTimeInMillis: () => remainingMs,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - started;

    // Assess
    expect(error).toBeInstanceOf(FailoverError);
    expect(took).toBeLessThan(remainingMs);
    expect(published).toHaveLength(1);
    expect(published[0]?.aborted).toBe(false);
    expect(published[0]?.result).toMatchObject({ outcome: 'failed', pair: 'web' });
    expect(published[0]?.result.reasons[0]).toMatch(/^observe failed: AbortError/);
    expect(published[0]?.result.reasons[1]).toMatch(/^could not see where eni-\w+ is now/);
  });
});
