// The package's public API, and all of it: `import { EniFailover } from 'eni-failover'` (ESM) or
// `require('eni-failover')` (CommonJS). The construct, its props and the types they name; the rest of lib/ is
// internal (the exports map offers no deep imports).
export type { ApplicationCheck, Pair, ProbeOption } from '../lambda/config.ts';
export { ConfigError } from '../lambda/config.ts';
export { EniFailover, type EniFailoverMetricOptions, TAG } from './eni-failover.ts';
// A type only: `shards` hands them out; they are made by EniFailover, never by users.
export type { FailoverFunction } from './failover-function.ts';
// A type only: `prober` hands it out when the `probe` prop is given.
export type { ProbeProps, Prober } from './prober.ts';
export type { EniFailoverProps } from './props.ts';
export { METRICS_NAMESPACE, type ProberAlarms, type ServiceAlarms } from './self-monitoring.ts';
