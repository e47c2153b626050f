import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sample } from '../helpers/events.ts';
import { harness } from '../helpers/harness.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

describe('observability', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('every log line about a pair carries it and its ENI; EMF counts the move and its duration per pair', async () => {
    // Prepare: Powertools writes through the global console in dev mode, so it can be read here.
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const lines: Record<string, unknown>[] = [];
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((text: unknown) => {
        lines.push(JSON.parse(String(text)));
      });
    }
    const h = harness({
      logger: new Logger({ serviceName: 'eni-failover', logLevel: 'INFO' }),
      metrics: new Metrics({ namespace: 'EniFailover', serviceName: 'eni-failover' }),
    });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.ec2.set(STANDBY, { az: 'eu-west-1b' });

    // Act: one refusal, then (the AZ fixed) one move
    await h.invoke(sample('eventbridge-state-change'));
    h.ec2.set(STANDBY, { az: 'eu-west-1a' });
    await h.invoke(sample('eventbridge-state-change'));

    // Assess
    const logs = lines.filter((l) => !('_aws' in l));
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs)
      expect(l).toMatchObject({ pair: 'web', networkInterfaceId: PAIR.networkInterfaceId });
    const emf = lines.filter((l) => '_aws' in l);
    const metric = (name: string) => emf.find((l) => name in l);
    expect(metric('Refused')).toMatchObject({ Pair: 'web', Refused: 1 });
    // The stack's one refusal alarm watches this, with the service dimension only.
    expect(metric('AutomaticRefusals')).toMatchObject({ service: 'eni-failover', AutomaticRefusals: 1 });
    expect(metric('AutomaticRefusals')).not.toHaveProperty('Pair');
    expect(metric('Moved')).toMatchObject({ Pair: 'web', Moved: 1 });
    expect(metric('FailoverDuration')).toMatchObject({ Pair: 'web', FailoverDuration: expect.any(Number) });
    expect(JSON.stringify(metric('Moved')?._aws)).toContain('"Namespace":"EniFailover"');
  });
});
