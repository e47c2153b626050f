import { ACTIONS, faultMatrix } from '../helpers/reliability.ts';

// Each mutating call the failover makes x each fault x once/always, against moto behind a fault proxy.
faultMatrix('the moves (detach, attach, modify, tag)', ACTIONS.slice(4));
