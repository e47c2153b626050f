// The package's entry point: `import { EniFailover } from 'eni-failover'`.
export type { Pair, ProbeOption } from '../lambda/config.ts';
export { ConfigError } from '../lambda/config.ts';
export { EniFailover, type EniFailoverMetricOptions, TAG } from './eni-failover.ts';
export { FailoverFunction } from './failover-function.ts';
export { type ProbeProps, Prober } from './prober.ts';
export type { EniFailoverProps } from './props.ts';
export { METRICS_NAMESPACE, type ProberAlarms, type ServiceAlarms } from './self-monitoring.ts';
