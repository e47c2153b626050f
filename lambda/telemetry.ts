import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Pair } from './config.ts';
import { redundancy } from './status.ts';
import type { Observation } from './view.ts';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/**
 * The function's EMF metrics. Per pair (dimension Pair, beside Powertools' service): Moved, Refused,
 * Failed, NotifyFailed, FailoverDuration, Attached, Redundant, OnStandby. Per function (service only,
 * for alarms): AutomaticRefusals, NotifyFailed, NotRedundant, Unattached.
 */
export function telemetry(metrics: Metrics) {
  // One metric set per pair, so that every figure carries its Pair dimension.
  const count = (pair: string, name: string, value: number, unit: Unit = MetricUnit.Count) => {
    const single = metrics.singleMetric();
    single.addDimension('Pair', pair);
    single.addMetric(name, unit, value);
  };

  /** Is the address protected? As numbers per pair for the dashboard, and per function for alarms. */
  const gauge = (pair: Pair, obs: Observation, holder: string | null) => {
    const { attached, redundant } = redundancy(pair, obs, holder);
    count(pair.name, 'Attached', attached ? 1 : 0);
    count(pair.name, 'Redundant', redundant ? 1 : 0);
    if (attached) count(pair.name, 'OnStandby', holder === pair.standbyInstanceId ? 1 : 0);
    const all = metrics.singleMetric();
    all.addMetric('Unattached', MetricUnit.Count, attached ? 0 : 1);
    all.addMetric('NotRedundant', MetricUnit.Count, redundant ? 0 : 1);
  };

  /** A figure for the whole function (no Pair dimension): what one alarm watches. */
  const total = (name: string, value = 1) => metrics.singleMetric().addMetric(name, MetricUnit.Count, value);

  return { count, gauge, total };
}
