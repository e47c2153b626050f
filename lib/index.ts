// The package's entry point: `import { EniFailover } from 'eni-failover'`.
export type { Pair } from '../lambda/config.ts';
export { ConfigError } from '../lambda/config.ts';
export { EniFailover, type EniFailoverMetricOptions, TAG } from './eni-failover.ts';
export { FailoverFunction } from './failover-function.ts';
export type { EniFailoverProps } from './props.ts';
export { METRICS_NAMESPACE, type ServiceAlarms } from './self-monitoring.ts';
