// The checks that must all pass before any call that changes anything (docs/contract.md, "What it decides").
// Each refusal names its check ("target-az: ..."), so that operators and tests can match on it.
import { type Pair, roleOf } from './config.ts';
import type { PairRecord } from './state.ts';
import { type EniView, holderOf, type InstanceView, ownApplication, who } from './view.ts';

/** A check that failed, named so that operators and tests can match on it: "target-az: …". */
export const failed = (check: string, detail: string) => `${check}: ${detail}`;

/** Checks on the ENI itself; empty when it may be moved. */
export function eniProblems(pair: Pair, eni: EniView | undefined): string[] {
  if (!eni) return [failed('eni-exists', `${pair.networkInterfaceId} does not exist`)];
  const problems: string[] = [];
  if (eni.requesterManaged) {
    problems.push(
      failed('eni-requester-managed', `${eni.id} is managed by an AWS service and must not be moved`),
    );
  }
  if (eni.interfaceType !== 'interface') {
    problems.push(
      failed('eni-type', `${eni.id} is of type ${eni.interfaceType}, only a plain interface can move`),
    );
  }
  const holder = holderOf(eni);
  if (holder !== null && eni.attachment?.deviceIndex === 0) {
    problems.push(failed('eni-primary', `${eni.id} is the primary interface (device index 0) of ${holder}`));
  }
  if (holder !== null && !roleOf(pair, holder)) {
    problems.push(
      failed('eni-holder', `${eni.id} is attached to ${holder}, which is not a member of pair ${pair.name}`),
    );
  }
  return problems;
}

/** Checks on the instance that would receive the ENI; empty when the attach is safe. */
export function targetProblems(
  pair: Pair,
  eni: EniView,
  instanceId: string,
  target: InstanceView | undefined,
  /** The pair's record of its last forced detach (lambda/state.ts). */
  forced?: PairRecord['forcedDetach'],
): string[] {
  const name = who(pair, instanceId);
  if (!target) return [failed('target-exists', `${name} does not exist`)];
  const problems: string[] = [];
  if (target.state !== 'running')
    problems.push(failed('target-running', `${name} is ${target.state}, not running`));
  if ([target.instanceStatus, target.systemStatus, target.ebsStatus].includes('impaired')) {
    problems.push(
      failed(
        'target-healthy',
        `${name} status checks are impaired (instance ${target.instanceStatus}, system ${target.systemStatus}, attached EBS ${target.ebsStatus})`,
      ),
    );
  }
  // The pair's own check where it names one (its own result, not other teams' checks); else the aggregate.
  const app = ownApplication(pair, target);
  if (app?.status === 'impaired') {
    problems.push(failed('target-application', `${name} reports its application status check impaired`));
  } else if (app?.status === 'failed') {
    problems.push(failed('target-application', `${name} fails its ${app.detail}`));
  }
  if (target.availabilityZone !== eni.availabilityZone) {
    problems.push(
      failed(
        'target-az',
        `${name} is in ${target.availabilityZone}, but the ENI is in ${eni.availabilityZone}`,
      ),
    );
  }
  if (target.vpcId !== eni.vpcId) {
    problems.push(
      failed('target-vpc', `${name} is in ${target.vpcId ?? 'no VPC'}, but the ENI is in ${eni.vpcId}`),
    );
  }
  // Device indexes count per network card (an EFA layout puts an interface at index 1 on every card):
  // only card 0, where the ENI goes, matters.
  const onCard0 = target.interfaces.filter((i) => i.networkCardIndex === 0 && i.id !== eni.id);
  const occupant = onCard0.find((i) => i.deviceIndex === pair.deviceIndex);
  if (occupant) {
    problems.push(
      failed(
        'target-device-index',
        `${name} already has ${occupant.id} at device index ${pair.deviceIndex} of network card 0`,
      ),
    );
  }
  if (target.maxInterfaces === undefined) {
    problems.push(
      failed(
        'target-interface-limit',
        `EC2 did not say how many interfaces ${target.instanceType} allows on network card 0`,
      ),
    );
  } else if (onCard0.length >= target.maxInterfaces) {
    problems.push(
      failed(
        'target-interface-limit',
        `${name} has ${onCard0.length} of the ${target.maxInterfaces} interfaces ${target.instanceType} allows on network card 0`,
      ),
    );
  }
  problems.push(...addressProblems(name, eni, target));
  const refused = forcedDetachProblem(name, forced, instanceId, target);
  if (refused) problems.push(refused);
  return problems;
}

/** An ENI carrying more addresses than the target's type allows per interface fails the attach, after the detach. */
function addressProblems(name: string, eni: EniView, target: InstanceView): string[] {
  const limit = target.perInterface;
  const { ipv4, ipv6 } = eni.addresses;
  if (!limit) {
    return [
      failed(
        'target-address-limit',
        `EC2 did not say how many addresses ${target.instanceType} allows per interface`,
      ),
    ];
  }
  const problems: string[] = [];
  if (ipv4 > limit.ipv4) {
    problems.push(
      failed(
        'target-address-limit',
        `the ENI carries ${ipv4} IPv4 addresses and prefixes; ${target.instanceType} (${name}) allows ${limit.ipv4} per interface`,
      ),
    );
  }
  if (ipv6 > 0 && !limit.ipv6Supported) {
    problems.push(
      failed(
        'target-address-limit',
        `the ENI carries ${ipv6} IPv6 addresses and prefixes; ${target.instanceType} (${name}) does not support IPv6`,
      ),
    );
  } else if (ipv6 > limit.ipv6) {
    problems.push(
      failed(
        'target-address-limit',
        `the ENI carries ${ipv6} IPv6 addresses and prefixes; ${target.instanceType} (${name}) allows ${limit.ipv6} per interface`,
      ),
    );
  }
  return problems;
}

/**
 * AWS documents that after a forced detach the instance may not accept another interface at the same
 * device index until it is stopped and started: refuse it until its LaunchTime is later than the record.
 */
function forcedDetachProblem(
  name: string,
  forced: PairRecord['forcedDetach'],
  instanceId: string,
  target: InstanceView,
): string | undefined {
  if (forced?.instanceId !== instanceId) return undefined;
  if (target.launchTime !== undefined && target.launchTime > forced.at) return undefined;
  return failed(
    'target-forced-detach',
    `the ENI was force-detached from ${name} at ${new Date(forced.at).toISOString()}, and it has not been stopped and started since; AWS documents that it may refuse an interface at that device index until then`,
  );
}
