import {
  AssociateApplicationStatusCheckCommand,
  AttachNetworkInterfaceCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeApplicationStatusCheckAssociationsCommand,
  DescribeApplicationStatusCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  DisableApplicationStatusCheckSuppressionCommand,
  DisassociateApplicationStatusCheckCommand,
  EC2Client,
  EC2ServiceException,
  EnableApplicationStatusCheckSuppressionCommand,
  type InstanceTypeInfo,
  ModifyNetworkInterfaceAttributeCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import type { Clock } from '../lambda/retry.ts';

export interface FakeInstance {
  id: string;
  state: string;
  az: string;
  vpcId: string;
  type: string;
  instanceStatus: string;
  systemStatus: string;
  /** DescribeInstanceStatus AttachedEbsStatus. */
  ebsStatus: string;
  /** DescribeInstanceStatus ApplicationStatus: EC2 application status checks (not-applicable without one). */
  appStatus: string;
  launchTime: Date;
  /** Its primary private IPv4 address (device index 0), which the prober probes; none unless set. */
  privateIp?: string;
  /**
   * Its application status checks, each with its own result, by check ID (DescribeApplicationStatus
   * Details): passed | failed | initializing | insufficient-data | not-applicable.
   */
  appChecks: Record<string, { status: string; reason?: string }>;
  /** Its application status reporting is suppressed, until `resumeAt` (undefined: until resumed). */
  suppressed: { resumeAt: Date | undefined } | undefined;
  /**
   * Scheduled events, as DescribeInstanceStatus lists them (InstanceStatuses[].Events: Code, NotBefore,
   * NotAfter, Description; a done or called-off one keeps its place, its Description prefixed "[Completed]"
   * or "[Canceled]"): EC2 User Guide, "Scheduled events for your instances". moto returns none.
   */
  events?: { code: string; notBefore: Date; notAfter?: Date; description: string }[];
}

interface FakeAttachment {
  id: string;
  instanceId: string;
  deviceIndex: number;
  networkCardIndex: number;
  status: 'attaching' | 'attached' | 'detaching';
  /** When an attaching/detaching attachment settles. */
  settlesAt: number;
  deleteOnTermination: boolean;
}

interface FakeEni {
  id: string;
  az: string;
  vpcId: string;
  /** Private IPv4 addresses (the primary included), IPv4 prefixes, IPv6 addresses, IPv6 prefixes. */
  ipv4: number;
  ipv4Prefixes: number;
  ipv6: number;
  ipv6Prefixes: number;
  attachment: FakeAttachment | undefined;
  tags: Record<string, string>;
}

/**
 * Instance types as DescribeInstanceTypes reports them (NetworkInfo): interfaces per network card,
 * addresses per interface, IPv6 support. p4d.24xlarge has 4 network cards of 15 interfaces each
 * (EC2 User Guide, "Network cards"; "Maximum IP addresses per network interface").
 */
const TYPES: Record<string, { cards: number[]; ipv4: number; ipv6: number; ipv6Supported: boolean }> = {
  't3.micro': { cards: [2], ipv4: 2, ipv6: 2, ipv6Supported: true },
  't4g.nano': { cards: [2], ipv4: 2, ipv6: 2, ipv6Supported: true },
  'm5.large': { cards: [3], ipv4: 10, ipv6: 10, ipv6Supported: true },
  'p4d.24xlarge': { cards: [15, 15, 15, 15], ipv4: 50, ipv6: 50, ipv6Supported: true },
  't2.micro': { cards: [2], ipv4: 2, ipv6: 2, ipv6Supported: false },
};

/** User tags per resource (EC2 User Guide, "Tag restrictions"). */
const TAGS_PER_RESOURCE = 50;

/** An error as EC2 returns it (after the SDK's retries, if it is retryable). */
export function ec2Error(
  name: string,
  message = name,
  fault: 'client' | 'server' = 'client',
): EC2ServiceException {
  return new EC2ServiceException({
    name,
    message,
    $fault: fault,
    $metadata: { httpStatusCode: fault === 'client' ? 400 : 503 },
  });
}

/** EC2's throttling answer; the SDK's standard retry retries it (AWS SDK, "Retry behavior"). */
export const throttled = () =>
  new EC2ServiceException({
    name: 'RequestLimitExceeded',
    message: 'Request limit exceeded.',
    $fault: 'client',
    $metadata: { httpStatusCode: 503 },
  });

/**
 * An in-memory EC2 behind a mocked EC2Client: ENIs, instances, and detach/attach that take a
 * configurable time to settle, as on AWS. It refuses what EC2 refuses and can be made to behave as
 * real EC2 does on a bad day: throttling, answers lost after the call was carried out (and replayed
 * by the SDK), stale reads, an account too large for unpaginated filtered calls. With a fake clock it
 * runs in no time; with the system clock it is the benchmark's EC2.
 */
export class FakeEc2 {
  readonly client = new EC2Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  readonly mock: AwsClientStub<EC2Client> = mockClient(this.client);
  readonly calls: string[] = [];
  readonly instances = new Map<string, FakeInstance>();
  readonly enis = new Map<string, FakeEni>();
  /** Attaches EC2 carried out, as (ENI, instance): a replayed or concurrent attach that EC2 refused is not one. */
  readonly attaches: { eni: string; instance: string }[] = [];
  /**
   * An account with many ENIs: DescribeNetworkInterfaces with a filter other than group-id,
   * mac-address, private-dns-name, private-ip-address, subnet-id or vpc-id and no MaxResults fails
   * (EC2 API Reference, DescribeNetworkInterfaces). AWS documents the failure, not its error code:
   * it is modelled as a permanent error.
   */
  largeAccount = false;
  /** At most this many instances per DescribeInstances page: EC2 may return fewer than MaxResults. */
  pageSize = 1000;
  /** The holder's OS does not answer: a detach without Force stays `detaching` until a forced one. */
  hungDetach = false;
  /** At most this many instances per DescribeApplicationStatus page (EC2 paginates it by NextToken). */
  appStatusPageSize = 1000;
  /**
   * Per-call latency, in real milliseconds (each call waits a random time in the range before EC2 acts
   * on it), so that concurrent invocations interleave as they do against EC2, whose calls take tens to
   * hundreds of milliseconds (EC2 API Reference, "Eventual consistency": requests are served by many
   * hosts). Undefined: no wait, as the tests that do not race expect.
   */
  latency: { minMs: number; maxMs: number } | undefined;
  /** The seed of the latency's random draws, so that a failing interleaving can be replayed. */
  private seed = 1;
  /**
   * Instance IDs EC2 refuses in DescribeInstanceStatus: a list call that names one fails whole with
   * InvalidInstanceID.NotFound (EC2 API Reference, "Error codes": the specified instance does not
   * exist), as a terminated instance's ID may be. A terminated instance is always refused.
   */
  readonly refusedInStatus = new Set<string>();
  /** Test hooks around a call: `before` runs before EC2 acts on it, `after` once it has; both awaited. */
  private readonly hooks = new Map<string, { before?: () => Promise<void>; after?: () => Promise<void> }>();
  private readonly failures = new Map<string, { error: Error; times: number; after: number }>();
  private readonly lost = new Map<string, number>();
  private stale_: { after: string; shows: string; reads: number; armed: boolean } | undefined;
  /** What each ENI was just before the last call of each mutating action. */
  private readonly before = new Map<
    string,
    Map<string, { attachment: FakeAttachment | undefined; tags: Record<string, string> }>
  >();
  private readonly dryRuns = new Set<number>();
  private nextAttachment = 1;
  /** EC2 application status checks (made by CloudFormation in the stack), each with its associated instances. */
  readonly applicationChecks = new Map<string, Set<string>>();
  /** Tags on instances (CreateTags and DeleteTags take any resource ID). */
  readonly instanceTags = new Map<string, Record<string, string>>();

  constructor(
    readonly eniId: string,
    readonly eniAz: string,
    readonly eniVpc: string,
    private readonly clock: Pick<Clock, 'now'>,
    readonly settle: { detachMs: number; attachMs: number } = { detachMs: 2_000, attachMs: 3_000 },
  ) {
    this.addEni(eniId);
    this.wire();
  }

  addEni(id: string, patch: Partial<Omit<FakeEni, 'id' | 'attachment' | 'tags'>> = {}): void {
    this.enis.set(id, {
      id,
      az: this.eniAz,
      vpcId: this.eniVpc,
      ipv4: 1,
      ipv4Prefixes: 0,
      ipv6: 0,
      ipv6Prefixes: 0,
      attachment: undefined,
      tags: {},
      ...patch,
    });
  }

  addInstance(instance: Partial<FakeInstance> & { id: string }): void {
    this.instances.set(instance.id, {
      state: 'running',
      az: this.eniAz,
      vpcId: this.eniVpc,
      type: 't3.micro',
      instanceStatus: 'ok',
      systemStatus: 'ok',
      ebsStatus: 'ok',
      appStatus: 'not-applicable',
      launchTime: new Date(Date.UTC(2026, 10, 1)),
      appChecks: {},
      suppressed: undefined,
      ...instance,
    });
  }

  /** Change an instance: stop it, impair it, move it to another AZ. */
  set(id: string, patch: Partial<FakeInstance>): void {
    const instance = this.instances.get(id);
    if (!instance) throw new Error(`no fake instance ${id}`);
    Object.assign(instance, patch);
  }

  /** Change an ENI: its addresses. */
  setEni(id: string, patch: Partial<Pick<FakeEni, 'ipv4' | 'ipv4Prefixes' | 'ipv6' | 'ipv6Prefixes'>>): void {
    Object.assign(this.eni(id), patch);
  }

  /** Attach an ENI directly, already settled. */
  place(instanceId: string, deviceIndex = 1, eniId = this.eniId, networkCardIndex = 0): void {
    this.eni(eniId).attachment = {
      id: `eni-attach-${this.nextAttachment++}`,
      instanceId,
      deviceIndex,
      networkCardIndex,
      status: 'attached',
      settlesAt: 0,
      deleteOnTermination: false,
    };
  }

  /** Leave an ENI attached to no one (a detach whose attach failed). */
  unplace(eniId = this.eniId): void {
    this.eni(eniId).attachment = undefined;
  }

  /** The service ENI's attachment and tags (the first ENI). */
  get attachment(): FakeAttachment | undefined {
    return this.eni(this.eniId).attachment;
  }
  get tags(): Record<string, string> {
    return this.eni(this.eniId).tags;
  }

  /** Make `times` calls of `action` fail with `error` (Infinity: every call), after letting `after` through. */
  fail(action: string, error: Error, times = 1, after = 0): void {
    this.failures.set(action, { error, times, after });
  }

  /**
   * The next `times` calls of `action` are carried out, but their answer is lost (a timeout or a 5xx
   * after EC2 acted), so the SDK's standard retry sends the same request again and the caller gets
   * the answer to the replay. Attach and detach take no client token, so EC2 answers the replay as a
   * new request (EC2 API Reference, "Ensuring idempotency in Amazon EC2 API requests").
   */
  loseAnswer(action: string, times = 1): void {
    this.lost.set(action, times);
  }

  /**
   * Once `after` is carried out, the next `reads` DescribeNetworkInterfaces answer what the ENIs were
   * just before the last `shows` (say: after the attach, the attachment from before the detach): EC2's
   * API is eventually consistent (EC2 API Reference, "Eventual consistency in the Amazon EC2 API").
   */
  stale(reads: number, after = 'AttachNetworkInterface', shows = 'DetachNetworkInterface'): void {
    this.stale_ = { after, shows, reads, armed: false };
  }

  /**
   * Tags written on an ENI show in reads only `ms` later: EC2's API is eventually consistent, and a tag written
   * may read stale for a while (EC2 API Reference, "Eventual consistency in the Amazon EC2 API").
   */
  lagTags(ms: number): void {
    this.tagLagMs = ms;
  }
  private tagLagMs = 0;
  private readonly tagVisibleAt = new Map<string, number>();

  /** Make each call take a random time in [minMs, maxMs] (real time), drawn from `seed`. */
  withLatency(minMs: number, maxMs: number, seed = 1): void {
    this.latency = { minMs, maxMs };
    this.seed = seed;
  }

  /** Run `hook` (once) before or after EC2 acts on the next call of `action`: to act in a given phase of a move. */
  when(action: string, phase: 'before' | 'after', hook: () => Promise<void>): void {
    this.hooks.set(action, { ...this.hooks.get(action), [phase]: hook });
  }

  private async lag(): Promise<void> {
    const l = this.latency;
    if (!l) return;
    // A small linear congruential generator: reproducible interleavings.
    this.seed = (this.seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const ms = l.minMs + (this.seed / 2 ** 31) * (l.maxMs - l.minMs);
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  private async hook(action: string, phase: 'before' | 'after'): Promise<void> {
    const hooks = this.hooks.get(action);
    const hook = hooks?.[phase];
    if (!hooks || !hook) return;
    delete hooks[phase];
    await hook();
  }

  /** Mutating calls received, in order (a DryRun changes nothing and is not one). */
  get mutations(): string[] {
    return this.calls.filter((c, i) => !c.startsWith('Describe') && !this.dryRuns.has(i));
  }

  /** Where an ENI is now, after any settling. */
  holder(eniId = this.eniId): string | undefined {
    this.advance();
    const a = this.eni(eniId).attachment;
    return a?.status === 'attached' ? a.instanceId : undefined;
  }

  /** An application status check exists, associated with no instance (CreateApplicationStatusCheck). */
  addApplicationCheck(id: string): void {
    this.applicationChecks.set(id, new Set());
  }

  /**
   * The check is deleted, and its associations with it: they belong to the check (EC2 User Guide,
   * "Application status checks": associations link a check to instances or tags).
   */
  deleteApplicationCheck(id: string): void {
    this.applicationChecks.delete(id);
  }

  /** The check's associations, or the error EC2 gives for an unknown check. */
  private applicationCheck(id: string | undefined): Set<string> {
    const check = id === undefined ? undefined : this.applicationChecks.get(id);
    // EC2's code for an ID it does not know: Invalid<Resource>Id.NotFound (EC2 API Reference, "Error codes").
    if (!check)
      throw ec2Error(
        'InvalidApplicationStatusCheckId.NotFound',
        `The application status check ID '${id}' does not exist`,
      );
    return check;
  }

  private eni(id: string): FakeEni {
    const eni = this.enis.get(id);
    if (!eni) throw new Error(`no fake ENI ${id}`);
    return eni;
  }

  private advance(): void {
    for (const eni of this.enis.values()) {
      const a = eni.attachment;
      if (!a || this.clock.now() < a.settlesAt) continue;
      if (a.status === 'detaching') eni.attachment = undefined;
      else if (a.status === 'attaching') a.status = 'attached';
    }
  }

  private enter(action: string, dryRun = false): void {
    this.calls.push(action);
    if (dryRun) this.dryRuns.add(this.calls.length - 1);
    this.advance();
    const failure = this.failures.get(action);
    if (failure && failure.after > 0) failure.after -= 1;
    else if (failure && failure.times > 0) {
      failure.times -= 1;
      throw failure.error;
    }
  }

  /** A mutation: remember what reads may still show, then carry it out (twice, if its answer is lost). */
  private async mutate<T>(action: string, dryRun: boolean | undefined, act: () => T): Promise<T> {
    await this.lag();
    if (!dryRun) await this.hook(action, 'before');
    this.enter(action, dryRun);
    if (dryRun) {
      throw ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    }
    this.before.set(
      action,
      new Map(
        [...this.enis.values()].map((e) => [
          e.id,
          { attachment: e.attachment && { ...e.attachment }, tags: { ...e.tags } },
        ]),
      ),
    );
    const lost = this.lost.get(action) ?? 0;
    try {
      if (lost > 0) {
        this.lost.set(action, lost - 1);
        act();
        this.calls.push(`${action} (replayed by the SDK)`);
        this.advance();
        try {
          return act();
        } catch (error) {
          // The answer to the SDK's second attempt: its $metadata counts the attempts (AWS SDK for JavaScript v3,
          // ResponseMetadata.attempts), which is how a caller tells a replay of its own call from another's.
          const metadata = (error as { $metadata?: Record<string, unknown> }).$metadata;
          if (metadata) metadata.attempts = 2;
          throw error;
        }
      }
      return act();
    } finally {
      // Reads go stale after the call was carried out, whatever its answer.
      if (this.stale_?.after === action) this.stale_.armed = true;
      await this.hook(action, 'after');
    }
  }

  /** Interfaces on an instance, as DescribeInstances lists them. */
  private interfacesOf(instanceId: string) {
    const list = [
      { NetworkInterfaceId: `eni-root-${instanceId}`, Attachment: { DeviceIndex: 0, NetworkCardIndex: 0 } },
    ];
    for (const eni of this.enis.values()) {
      const a = eni.attachment;
      if (a?.instanceId === instanceId)
        list.push({
          NetworkInterfaceId: eni.id,
          Attachment: { DeviceIndex: a.deviceIndex, NetworkCardIndex: a.networkCardIndex },
        });
    }
    return list;
  }

  private typeInfo(type: string): InstanceTypeInfo {
    const t = TYPES[type] ?? (TYPES['t3.micro'] as (typeof TYPES)[string]);
    return {
      InstanceType: type as InstanceTypeInfo['InstanceType'],
      NetworkInfo: {
        MaximumNetworkInterfaces: t.cards.reduce((a, b) => a + b, 0),
        MaximumNetworkCards: t.cards.length,
        NetworkCards: t.cards.map((max, i) => ({ NetworkCardIndex: i, MaximumNetworkInterfaces: max })),
        Ipv4AddressesPerInterface: t.ipv4,
        Ipv6AddressesPerInterface: t.ipv6,
        Ipv6Supported: t.ipv6Supported,
      },
    };
  }

  private render(eni: FakeEni) {
    const st = this.stale_;
    const stale = st?.armed && st.reads > 0 ? this.before.get(st.shows)?.get(eni.id) : undefined;
    const a = stale ? stale.attachment : eni.attachment;
    const tags = stale ? stale.tags : eni.tags;
    return {
      NetworkInterfaceId: eni.id,
      Status: a ? (a.status === 'attached' ? 'in-use' : a.status) : 'available',
      AvailabilityZone: eni.az,
      VpcId: eni.vpcId,
      PrivateIpAddress: '10.0.1.23',
      PrivateIpAddresses: Array.from({ length: eni.ipv4 }, (_, i) => ({
        PrivateIpAddress: `10.0.1.${23 + i}`,
        Primary: i === 0,
      })),
      Ipv4Prefixes: Array.from({ length: eni.ipv4Prefixes }, (_, i) => ({
        Ipv4Prefix: `10.0.2.${16 * i}/28`,
      })),
      Ipv6Addresses: Array.from({ length: eni.ipv6 }, (_, i) => ({ Ipv6Address: `2001:db8::${i + 1}` })),
      Ipv6Prefixes: Array.from({ length: eni.ipv6Prefixes }, (_, i) => ({
        Ipv6Prefix: `2001:db8:${i + 1}::/80`,
      })),
      InterfaceType: 'interface' as const,
      RequesterManaged: false,
      Attachment: a && {
        AttachmentId: a.id,
        InstanceId: a.instanceId,
        DeviceIndex: a.deviceIndex,
        NetworkCardIndex: a.networkCardIndex,
        Status: a.status,
        DeleteOnTermination: a.deleteOnTermination,
      },
      TagSet: Object.entries(tags)
        .filter(([Key]) => (this.tagVisibleAt.get(`${eni.id} ${Key}`) ?? 0) <= this.clock.now())
        .map(([Key, Value]) => ({ Key, Value })),
    };
  }

  /**
   * Why EC2 would refuse to attach `eni` to `instanceId` at card 0 / `deviceIndex`, or undefined. The codes are
   * EC2's (EC2 API Reference, "Error codes for the Amazon EC2 API"): an ENI in use, another AZ or VPC
   * (AttachNetworkInterface: "must be in the same Availability Zone"), an occupied device index and a full card
   * (EC2 User Guide, "Network cards": indexes and limits count per card), and more addresses than the type allows
   * per interface (EC2 User Guide, "Maximum IP addresses per network interface"; each prefix counts as one).
   */
  private attachRefusal(eni: FakeEni, instanceId: string, deviceIndex: number): Error | undefined {
    const instance = this.instances.get(instanceId);
    if (!instance || instance.state === 'terminated')
      return ec2Error('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
    if (eni.attachment) return ec2Error('InvalidNetworkInterface.InUse', `Interface: [${eni.id}] in use.`);
    if (instance.az !== eni.az || instance.vpcId !== eni.vpcId)
      return ec2Error(
        'InvalidParameterValue',
        `Instance ${instanceId} and network interface ${eni.id} must be in the same availability zone and VPC`,
      );
    const card0 = this.interfacesOf(instanceId).filter((i) => i.Attachment.NetworkCardIndex === 0);
    if (card0.some((i) => i.Attachment.DeviceIndex === deviceIndex))
      return ec2Error(
        'InvalidParameterValue',
        `Instance '${instanceId}' already has an interface attached at device index '${deviceIndex}'.`,
      );
    const info = this.typeInfo(instance.type).NetworkInfo;
    const limit = info?.NetworkCards?.[0]?.MaximumNetworkInterfaces ?? 0;
    if (card0.length >= limit)
      return ec2Error(
        'AttachmentLimitExceeded',
        `Interface count ${card0.length + 1} exceeds the limit for ${instance.type}`,
      );
    const ipv4 = eni.ipv4 + eni.ipv4Prefixes;
    const ipv6 = eni.ipv6 + eni.ipv6Prefixes;
    const ipv6Allowed = info?.Ipv6Supported ? (info.Ipv6AddressesPerInterface ?? 0) : 0;
    if (ipv4 > (info?.Ipv4AddressesPerInterface ?? 0) || ipv6 > ipv6Allowed)
      return ec2Error(
        'InvalidInterface.IpAddressLimitExceeded',
        `Number of IP addresses on the interface exceeds the limit for ${instance.type}`,
      );
    return undefined;
  }

  /** Every command the fake answers, by group. */
  private wire(): void {
    this.wireDescribes();
    this.wireInstanceReads();
    this.wireMoves();
    this.wireAssociations();
    this.wireTags();
    this.wireApplicationStatus();
  }

  /** The ENIs' reads. */
  private wireDescribes(): void {
    const m = this.mock;
    m.on(DescribeNetworkInterfacesCommand).callsFake(async (input) => {
      await this.lag();
      this.enter('DescribeNetworkInterfaces');
      const filter = input.Filters?.[0];
      const cheap = [
        'group-id',
        'mac-address',
        'private-dns-name',
        'private-ip-address',
        'subnet-id',
        'vpc-id',
      ];
      if (this.largeAccount && filter && input.MaxResults === undefined && !cheap.includes(filter.Name ?? ''))
        throw ec2Error(
          'UnsupportedOperation',
          'This account has too many network interfaces for an unpaginated filtered request',
        );
      if (input.NetworkInterfaceIds && input.MaxResults !== undefined)
        throw ec2Error(
          'InvalidParameterCombination',
          'NetworkInterfaceIds cannot be combined with MaxResults',
        );
      const ids: string[] = input.NetworkInterfaceIds ?? filter?.Values ?? [];
      if (input.NetworkInterfaceIds) {
        const missing = ids.filter((id) => !this.enis.has(id));
        if (missing.length > 0)
          throw ec2Error(
            'InvalidNetworkInterfaceID.NotFound',
            `The networkInterface ID '${missing.join(', ')}' does not exist`,
          );
      }
      const answer = ids.flatMap((id) => {
        const eni = this.enis.get(id);
        return eni ? [this.render(eni)] : [];
      });
      if (this.stale_?.armed && this.stale_.reads > 0) this.stale_.reads -= 1;
      return { NetworkInterfaces: answer };
    });
  }

  /** The instances' reads: the instances, their statuses, their types' limits. */
  private wireInstanceReads(): void {
    const m = this.mock;
    m.on(DescribeInstancesCommand).callsFake(async (input) => {
      await this.lag();
      this.enter('DescribeInstances');
      const ids: string[] = input.InstanceIds ?? input.Filters?.[0]?.Values ?? [];
      const found = ids.flatMap((id) => {
        const i = this.instances.get(id);
        return i ? [i] : [];
      });
      const from = Number(input.NextToken ?? 0);
      const size = Math.min(this.pageSize, input.MaxResults ?? 1000);
      const page = found.slice(from, from + size);
      return {
        Reservations: [
          {
            Instances: page.map((i) => ({
              InstanceId: i.id,
              State: { Name: i.state as 'running' },
              Placement: { AvailabilityZone: i.az },
              VpcId: i.vpcId,
              InstanceType: i.type as 't3.micro',
              LaunchTime: i.launchTime,
              // EC2 API Reference, Instance: PrivateIpAddress, the primary private IPv4 address.
              PrivateIpAddress: i.privateIp,
              NetworkInterfaces: this.interfacesOf(i.id),
            })),
          },
        ],
        NextToken: from + size < found.length ? String(from + size) : undefined,
      };
    });
    m.on(DescribeInstanceStatusCommand).callsFake(async (input) => {
      await this.lag();
      this.enter('DescribeInstanceStatus');
      // EC2 API Reference, DescribeInstanceStatus: at most 100 IDs, and not together with MaxResults.
      if (input.InstanceIds && (input.MaxResults !== undefined || input.InstanceIds.length > 100))
        throw ec2Error('InvalidParameterCombination', 'InstanceIds: at most 100, and not with MaxResults');
      // EC2 API Reference, "Error codes", InvalidInstanceID.NotFound: one unknown ID fails the whole call.
      const refused = (input.InstanceIds ?? []).filter(
        (id: string) => this.refusedInStatus.has(id) || this.instances.get(id)?.state === 'terminated',
      );
      if (refused.length > 0)
        throw ec2Error('InvalidInstanceID.NotFound', `The instance IDs '${refused.join(', ')}' do not exist`);
      return {
        InstanceStatuses: (input.InstanceIds ?? []).flatMap((id: string) => {
          const i = this.instances.get(id);
          if (!i) return [];
          const running = i.state === 'running';
          const status = (s: string) => ({ Status: (running ? s : 'not-applicable') as 'ok' });
          return [
            {
              InstanceId: id,
              InstanceState: { Name: i.state as 'running' },
              InstanceStatus: status(i.instanceStatus),
              SystemStatus: status(i.systemStatus),
              AttachedEbsStatus: status(i.ebsStatus),
              ApplicationStatus: status(i.appStatus),
              Events: (i.events ?? []).map((e) => ({
                Code: e.code as 'instance-stop',
                NotBefore: e.notBefore,
                NotAfter: e.notAfter,
                Description: e.description,
              })),
            },
          ];
        }),
      };
    });
    m.on(DescribeInstanceTypesCommand).callsFake(async (input) => {
      await this.lag();
      this.enter('DescribeInstanceTypes');
      return { InstanceTypes: (input.InstanceTypes ?? []).map((t: string) => this.typeInfo(t)) };
    });
  }

  /** What a move changes: detach, attach, the attachment's DeleteOnTermination, and a fence's stop. */
  private wireMoves(): void {
    const m = this.mock;
    m.on(DetachNetworkInterfaceCommand).callsFake((input) =>
      this.mutate('DetachNetworkInterface', input.DryRun, () => {
        const eni = [...this.enis.values()].find((e) => e.attachment?.id === input.AttachmentId);
        const a = eni?.attachment;
        // A detach of an attachment that is gone, or already detaching (as a replayed detach finds it).
        if (!a)
          throw ec2Error('InvalidAttachmentID.NotFound', `Attachment '${input.AttachmentId}' not found`);
        // A detach hung on an unresponsive instance is what Force is for (DetachNetworkInterface, Force).
        if (a.status === 'detaching' && input.Force && a.settlesAt === Number.POSITIVE_INFINITY) {
          a.settlesAt = this.clock.now() + this.settle.detachMs;
          return {};
        }
        if (a.status === 'detaching')
          throw ec2Error('IncorrectState', `Attachment '${a.id}' is in the 'detaching' state`);
        if (a.deviceIndex === 0)
          throw ec2Error(
            'OperationNotPermitted',
            'The network interface at device index 0 cannot be detached.',
          );
        a.status = 'detaching';
        // An unresponsive instance never lets go of an interface detached without Force.
        a.settlesAt =
          this.hungDetach && !input.Force
            ? Number.POSITIVE_INFINITY
            : this.clock.now() + this.settle.detachMs;
        return {};
      }),
    );
    m.on(AttachNetworkInterfaceCommand).callsFake((input) =>
      this.mutate('AttachNetworkInterface', input.DryRun, () => {
        const eni = this.enis.get(input.NetworkInterfaceId as string);
        if (!eni)
          throw ec2Error(
            'InvalidNetworkInterfaceID.NotFound',
            `The networkInterface ID '${input.NetworkInterfaceId}' does not exist`,
          );
        const refusal = this.attachRefusal(eni, input.InstanceId as string, input.DeviceIndex as number);
        if (refusal) throw refusal;
        eni.attachment = {
          id: `eni-attach-${this.nextAttachment++}`,
          instanceId: input.InstanceId as string,
          deviceIndex: input.DeviceIndex as number,
          networkCardIndex: input.NetworkCardIndex ?? 0,
          status: 'attaching',
          settlesAt: this.clock.now() + this.settle.attachMs,
          deleteOnTermination: true,
        };
        this.attaches.push({ eni: eni.id, instance: eni.attachment.instanceId });
        return { AttachmentId: eni.attachment.id, NetworkCardIndex: 0 };
      }),
    );
    m.on(ModifyNetworkInterfaceAttributeCommand).callsFake((input) =>
      this.mutate('ModifyNetworkInterfaceAttribute', input.DryRun, () => {
        const a = this.enis.get(input.NetworkInterfaceId as string)?.attachment;
        if (a && input.Attachment?.AttachmentId === a.id)
          a.deleteOnTermination = input.Attachment.DeleteOnTermination ?? true;
        return {};
      }),
    );
    m.on(StopInstancesCommand).callsFake((input) =>
      this.mutate('StopInstances', input.DryRun, () => {
        for (const id of input.InstanceIds ?? []) this.set(id, { state: 'stopping' });
        return {};
      }),
    );
  }

  /** Application status check associations (the construct's custom resource makes them). */
  private wireAssociations(): void {
    const m = this.mock;
    // Application status check associations. Associate and disassociate answer per instance: an instance already
    // associated, or not associated, is an unsuccessful result, not an error (EC2 API Reference,
    // AssociateApplicationStatusCheck and DisassociateApplicationStatusCheck: SuccessfulResults,
    // UnsuccessfulResults); the check must exist ("The check must already exist in your account").
    const associations = (
      action: string,
      input: { ApplicationStatusCheckId?: string; InstanceIds?: string[]; DryRun?: boolean },
      associate: boolean,
    ) =>
      this.mutate(action, input.DryRun, () => {
        const check = this.applicationCheck(input.ApplicationStatusCheckId);
        const ok: { ApplicationStatusCheckId?: string; AssociationType: string; AssociationValue: string }[] =
          [];
        const refused: ((typeof ok)[number] & { Reason: string })[] = [];
        for (const id of input.InstanceIds ?? []) {
          const result = {
            ApplicationStatusCheckId: input.ApplicationStatusCheckId,
            AssociationType: 'INSTANCE_ID',
            AssociationValue: id,
          };
          if (associate && !this.instances.has(id))
            refused.push({ ...result, Reason: `The instance ID '${id}' does not exist` });
          else if (associate === check.has(id))
            refused.push({ ...result, Reason: associate ? 'already associated' : 'not associated' });
          else {
            if (associate) check.add(id);
            else check.delete(id);
            ok.push(result);
          }
        }
        return { SuccessfulResults: ok, UnsuccessfulResults: refused };
      });
    m.on(AssociateApplicationStatusCheckCommand).callsFake((input) =>
      associations('AssociateApplicationStatusCheck', input, true),
    );
    m.on(DisassociateApplicationStatusCheckCommand).callsFake((input) =>
      associations('DisassociateApplicationStatusCheck', input, false),
    );
    // Paginated with MaxResults (5 to 1000) and NextToken (EC2 API Reference,
    // DescribeApplicationStatusCheckAssociations); an unknown check ID is an error, as for every Describe by ID.
    m.on(DescribeApplicationStatusCheckAssociationsCommand).callsFake(async (input) => {
      this.enter('DescribeApplicationStatusCheckAssociations');
      const ids = input.ApplicationStatusCheckIds ?? [...this.applicationChecks.keys()];
      const all = ids.flatMap((checkId: string) =>
        [...this.applicationCheck(checkId)].map((Value) => ({
          ApplicationStatusCheckId: checkId,
          AssociationType: 'instance-id' as const,
          Value,
        })),
      );
      const from = Number(input.NextToken ?? 0);
      const size = Math.min(this.pageSize, input.MaxResults ?? 1000);
      return {
        Associations: all.slice(from, from + size),
        NextToken: from + size < all.length ? String(from + size) : undefined,
      };
    });
  }

  /** Tags on ENIs and instances. */
  private wireTags(): void {
    const m = this.mock;
    // CreateTags: at most 50 user tags a resource, keys starting `aws:` not counted; a call that would exceed it is
    // refused whole with TagLimitExceeded (EC2 User Guide, "Tag restrictions"; EC2 API Reference, error codes).
    m.on(CreateTagsCommand).callsFake((input) =>
      this.mutate('CreateTags', input.DryRun, () => {
        for (const id of input.Resources ?? []) {
          const tags = this.enis.get(id)?.tags ?? this.instanceTags.get(id) ?? {};
          const keys = new Set(Object.keys(tags).filter((k) => !k.startsWith('aws:')));
          for (const t of input.Tags ?? []) keys.add(t.Key as string);
          if (keys.size > TAGS_PER_RESOURCE)
            throw ec2Error(
              'TagLimitExceeded',
              `The maximum number of tags for resource '${id}' has been reached.`,
            );
        }
        for (const id of input.Resources ?? []) {
          const eni = this.enis.get(id);
          if (eni)
            for (const t of input.Tags ?? []) {
              eni.tags[t.Key as string] = t.Value as string;
              this.tagVisibleAt.set(`${id} ${t.Key}`, this.clock.now() + this.tagLagMs);
            }
          else if (this.instances.has(id)) {
            const tags = this.instanceTags.get(id) ?? {};
            for (const t of input.Tags ?? []) tags[t.Key as string] = t.Value ?? '';
            this.instanceTags.set(id, tags);
          }
        }
        return {};
      }),
    );
    // DeleteTags: a tag given with a value is deleted only if its value matches; without one, whatever its value;
    // deleting a key that is not there is not an error (EC2 API Reference, DeleteTags, Tag.N). ENIs (the function
    // deletes an earlier version's records once carried into the pair's state) and instances.
    m.on(DeleteTagsCommand).callsFake((input) =>
      this.mutate('DeleteTags', input.DryRun, () => {
        for (const id of input.Resources ?? []) {
          const eni = this.enis.get(id);
          if (!eni && !id.startsWith('i-')) continue;
          if (!eni && !this.instances.has(id))
            throw ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
          const tags = eni ? eni.tags : (this.instanceTags.get(id) ?? {});
          for (const t of input.Tags ?? [])
            if (t.Key !== undefined && (t.Value === undefined || tags[t.Key] === t.Value)) delete tags[t.Key];
          if (!eni) this.instanceTags.set(id, tags);
        }
        return {};
      }),
    );
  }

  /**
   * EC2 application status checks, per instance (issue 14). DescribeApplicationStatus answers each check's own
   * result in Details, unaffected by suppression, and an instance-level status that reads `suppressed` (with
   * ResumeAt) while reporting is suppressed (EC2 API Reference, DescribeApplicationStatus, ApplicationStatus,
   * ApplicationStatusDetail); Enable/DisableApplicationStatusCheckSuppression start and end suppression, with
   * an optional DurationSeconds (EC2 API Reference, EnableApplicationStatusCheckSuppression).
   */
  private wireApplicationStatus(): void {
    const suppression = (i: FakeInstance) => {
      const s = i.suppressed;
      if (s?.resumeAt && s.resumeAt.getTime() <= this.clock.now()) i.suppressed = undefined;
      return i.suppressed;
    };
    /** The instance-level status: impaired if any check failed, ok if all passed, else what the rest say. */
    const aggregate = (i: FakeInstance) => {
      const statuses = Object.values(i.appChecks).map((c) => c.status);
      if (statuses.length === 0) return i.appStatus;
      if (statuses.includes('failed')) return 'impaired';
      return statuses.find((x) => x !== 'passed') ?? 'ok';
    };
    this.mock.on(DescribeApplicationStatusCommand).callsFake(async (input) => {
      this.enter('DescribeApplicationStatus');
      const found: FakeInstance[] = (input.InstanceIds ?? []).flatMap((id: string) => {
        const i = this.instances.get(id);
        return i ? [i] : [];
      });
      const from = Number(input.NextToken ?? 0);
      const size = Math.min(this.appStatusPageSize, input.MaxResults ?? 1000);
      return {
        ApplicationStatuses: {
          Instances: found.slice(from, from + size).map((i) => {
            const suppressed = suppression(i);
            return {
              InstanceId: i.id,
              AvailabilityZone: i.az,
              ApplicationStatus: {
                Status: (suppressed ? 'suppressed' : aggregate(i)) as 'ok',
                ResumeAt: suppressed?.resumeAt,
                Details: Object.entries(i.appChecks).map(([id, c]) => ({
                  ApplicationStatusCheckId: id,
                  Aggregation: 'included' as const,
                  Status: c.status as 'passed',
                  Reason: c.reason ? { Code: c.reason } : undefined,
                })),
              },
            };
          }),
        },
        NextToken: from + size < found.length ? String(from + size) : undefined,
      };
    });
    this.mock.on(EnableApplicationStatusCheckSuppressionCommand).callsFake((input) =>
      this.mutate('EnableApplicationStatusCheckSuppression', input.DryRun, () => {
        const resumeAt =
          input.DurationSeconds === undefined
            ? undefined
            : new Date(this.clock.now() + input.DurationSeconds * 1000);
        for (const id of input.InstanceIds ?? []) this.set(id, { suppressed: { resumeAt } });
        return {
          SuccessfulResults: (input.InstanceIds ?? []).map((id: string) => ({
            InstanceId: id,
            ResumeAt: resumeAt,
          })),
        };
      }),
    );
    this.mock.on(DisableApplicationStatusCheckSuppressionCommand).callsFake((input) =>
      this.mutate('DisableApplicationStatusCheckSuppression', input.DryRun, () => {
        for (const id of input.InstanceIds ?? []) this.set(id, { suppressed: undefined });
        return {};
      }),
    );
  }
}

/** A clock whose sleep advances time at once: hours of polling run in milliseconds. */
export class FakeClock implements Clock {
  constructor(public t = Date.UTC(2026, 10, 22, 10, 15)) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
  tick(ms: number): void {
    this.t += ms;
  }
}
