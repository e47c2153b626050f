import { ACTIONS, faultMatrix } from '../helpers/reliability.ts';

// Each Describe* call the failover makes x each fault x once/always, against moto behind a fault proxy.
faultMatrix('the observation (Describe*)', ACTIONS.slice(0, 4));
