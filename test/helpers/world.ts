import type { Pair } from '../../lambda/config.ts';
import { EMPTY_RECORD, type PairRecord } from '../../lambda/state.ts';
import type { EniView, InstanceView, Observation } from '../../lambda/view.ts';

/** A pair and a healthy world around it, for the planner and executor tests to vary one fact at a time. */
export const PAIR: Pair = {
  name: 'web',
  networkInterfaceId: 'eni-0aaaaaaaaaaaaaaa1',
  primaryInstanceId: 'i-0123456789abcdef0',
  standbyInstanceId: 'i-0fedcba9876543210',
  deviceIndex: 1,
};
export const PRIMARY = PAIR.primaryInstanceId;
export const STANDBY = PAIR.standbyInstanceId;
export const OUTSIDER = 'i-0bbbbbbbbbbbbbbb2';

export function eni(overrides: Partial<EniView> = {}, holder: string | null = PRIMARY): EniView {
  return {
    id: PAIR.networkInterfaceId,
    status: holder ? 'in-use' : 'available',
    availabilityZone: 'eu-west-1a',
    vpcId: 'vpc-1',
    privateIp: '10.0.1.23',
    interfaceType: 'interface',
    requesterManaged: false,
    addresses: { ipv4: 1, ipv6: 0 },
    attachment: holder
      ? {
          id: 'eni-attach-1',
          instanceId: holder,
          deviceIndex: 1,
          status: 'attached',
          deleteOnTermination: false,
        }
      : undefined,
    tags: {},
    ...overrides,
  };
}

export function instance(id: string, overrides: Partial<InstanceView> = {}): InstanceView {
  return {
    id,
    state: 'running',
    availabilityZone: 'eu-west-1a',
    vpcId: 'vpc-1',
    instanceType: 't3.micro',
    instanceStatus: 'ok',
    systemStatus: 'ok',
    ebsStatus: 'ok',
    applicationStatus: 'not-applicable',
    launchTime: Date.UTC(2026, 10, 1),
    maxInterfaces: 2,
    perInterface: { ipv4: 6, ipv6: 6, ipv6Supported: true },
    interfaces: [{ id: `eni-primary-of-${id}`, deviceIndex: 0, networkCardIndex: 0 }],
    scheduledEvents: [],
    ...overrides,
  };
}

/** The ENI on the primary at device index 1; both instances running and healthy. */
export function world(
  options: {
    eni?: EniView | undefined;
    primary?: Partial<InstanceView> | null;
    standby?: Partial<InstanceView> | null;
    /** The pair's state as read with the observation (lambda/state.ts); the empty record when absent. */
    record?: Partial<PairRecord>;
    /** The state table could not be read: what it answered. */
    stateUnavailable?: string;
  } = {},
): Observation {
  const theEni = 'eni' in options ? options.eni : eni();
  const instances: Record<string, InstanceView> = {};
  const holder = theEni?.attachment?.instanceId;
  for (const [id, o] of [
    [PRIMARY, options.primary],
    [STANDBY, options.standby],
  ] as const) {
    if (o === null) continue;
    const base = instance(id, o);
    const holds = holder === id && theEni !== undefined;
    instances[id] =
      holds && !o?.interfaces
        ? {
            ...base,
            interfaces: [...base.interfaces, { id: theEni.id, deviceIndex: 1, networkCardIndex: 0 }],
          }
        : base;
  }
  return {
    eni: theEni,
    instances,
    ...(options.record ? { record: { ...EMPTY_RECORD, version: 1, ...options.record } } : {}),
    ...(options.stateUnavailable ? { stateUnavailable: options.stateUnavailable } : {}),
  };
}
