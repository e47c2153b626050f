// Issue 16: planned failures (Spot interruption warnings, rebalance recommendations, scheduled events),
// through the real adapter, planner and executor over the in-memory EC2.
import { describe, expect, it } from 'vitest';
import { Ec2Adapter } from '../../lambda/aws/ec2';
import { harness } from '../helpers/harness';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world';

const at = (iso: string) => new Date(iso);

describe('the adapter reads scheduled events from DescribeInstanceStatus', () => {
  it('Code, NotBefore, NotAfter and Description into the instance view; completed and canceled ones left out', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, {
      events: [
        {
          code: 'instance-retirement',
          notBefore: at('2026-11-25T03:00:00Z'),
          notAfter: at('2026-11-25T05:00:00Z'),
          description: 'The instance is running on degraded hardware',
        },
        {
          code: 'system-reboot',
          notBefore: at('2026-11-23T03:00:00Z'),
          description: '[Completed] scheduled reboot',
        },
        {
          code: 'instance-stop',
          notBefore: at('2026-11-24T03:00:00Z'),
          description: '[Canceled] The instance is running on degraded hardware',
        },
      ],
    });
    const obs = await new Ec2Adapter(h.ec2.client).observe(PAIR);
    expect(obs.instances[PRIMARY]?.scheduledEvents).toEqual([
      {
        code: 'instance-retirement',
        notBefore: Date.parse('2026-11-25T03:00:00Z'),
        notAfter: Date.parse('2026-11-25T05:00:00Z'),
        description: 'The instance is running on degraded hardware',
      },
    ]);
    expect(obs.instances[STANDBY]?.scheduledEvents).toEqual([]);
  });
});
