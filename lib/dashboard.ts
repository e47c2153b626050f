import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { Pair } from '../lambda/config.ts';
import { METRICS_NAMESPACE } from './self-monitoring.ts';

/**
 * One dashboard per construct: the service's own figures, then a row per pair (who holds the ENI, whether it is
 * attached and redundant; moves, refusals, failures and how long a move took). The function publishes them
 * with the dimensions service (the construct's service name) and Pair; each reconcile round refreshes the state.
 */
export function failoverDashboard(
  scope: Construct,
  serviceName: string,
  pairs: readonly Pair[],
): cloudwatch.Dashboard {
  const metric = (metricName: string, statistic: string, label: string, pair?: string) =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: pair === undefined ? { service: serviceName } : { service: serviceName, Pair: pair },
      statistic,
      period: Duration.minutes(1),
      label,
    });
  const max = cloudwatch.Stats.MAXIMUM;
  const sum = cloudwatch.Stats.SUM;
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    defaultInterval: Duration.hours(3),
  });
  dashboard.addWidgets(
    new cloudwatch.TextWidget({
      markdown: `# eni-failover ${serviceName}\nPer pair: OnStandby 1 = the standby holds the ENI; Attached and Redundant 1 = the address is up and the other member could take it now.`,
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Every pair: address down, redundancy lost',
      left: [metric('Unattached', max, 'Unattached'), metric('NotRedundant', max, 'NotRedundant')],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Every pair: automatic moves refused, notifications lost',
      left: [
        metric('AutomaticRefusals', sum, 'AutomaticRefusals'),
        metric('NotifyFailed', sum, 'NotifyFailed'),
      ],
      width: 12,
    }),
  );
  for (const pair of pairs) {
    if (pair.probe) dashboard.addWidgets(...probeWidgets(serviceName, pair.name));
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${pair.name}: who holds the ENI`,
        left: [
          metric('OnStandby', max, 'OnStandby', pair.name),
          metric('Attached', max, 'Attached', pair.name),
          metric('Redundant', max, 'Redundant', pair.name),
        ],
        leftYAxis: { min: 0, max: 1 },
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: `${pair.name}: moves, refusals, failures`,
        left: [
          metric('Moved', sum, 'Moved', pair.name),
          metric('Refused', sum, 'Refused', pair.name),
          metric('Failed', sum, 'Failed', pair.name),
        ],
        right: [metric('FailoverDuration', max, 'FailoverDuration (ms)', pair.name)],
        width: 12,
      }),
    );
  }
  return dashboard;
}

/** The prober's view of a pair (issues 17, 23): each member's probe latency and failed probes, and its service address. */
function probeWidgets(serviceName: string, pair: string): cloudwatch.IWidget[] {
  const member = (metricName: string, statistic: string, role: 'primary' | 'standby') =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: serviceName, Pair: pair, Member: role },
      statistic,
      period: Duration.minutes(1),
      label: `${role} ${metricName}${statistic === cloudwatch.Stats.SUM ? '' : ` (${statistic})`}`,
    });
  const address = (metricName: string, statistic: string, label: string) =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: serviceName, Pair: pair },
      statistic,
      period: Duration.minutes(1),
      label,
    });
  return [
    new cloudwatch.GraphWidget({
      title: `${pair}: probe latency per member (ms)`,
      left: (['primary', 'standby'] as const).flatMap((r) => [
        member('ProbeLatency', cloudwatch.Stats.p(99), r),
        member('ProbeLatency', cloudwatch.Stats.MAXIMUM, r),
      ]),
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: `${pair}: failed probes per member`,
      left: (['primary', 'standby'] as const).map((r) => member('ProbeFailed', cloudwatch.Stats.SUM, r)),
      width: 8,
    }),
    // The service address (issue 23): what users reach, beside the members it moves between.
    new cloudwatch.GraphWidget({
      title: `${pair}: service address`,
      left: [
        address('AddressFailed', cloudwatch.Stats.SUM, 'failed probes'),
        address('AddressDownHolderUp', cloudwatch.Stats.SUM, 'failed while its holder passed (alarm)'),
      ],
      right: [
        address('AddressDowntime', cloudwatch.Stats.MAXIMUM, 'outage, first failed to first passing (ms)'),
      ],
      width: 8,
    }),
  ];
}
