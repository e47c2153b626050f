import {
  type _InstanceType,
  AttachNetworkInterfaceCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeApplicationStatusCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  type EC2Client,
  type Instance,
  type InstanceApplicationStatus,
  type InstanceStatusEvent,
  type InstanceTypeInfo,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
  paginateDescribeInstanceStatus,
  paginateDescribeInstances,
  paginateDescribeInstanceTypes,
  paginateDescribeNetworkInterfaces,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { Pair } from '../config.ts';
import type { Ec2Port } from '../execute.ts';
import type { MovePlan } from '../plan.ts';
import type { DryRunAnswer, DryRunCall } from '../rehearse.ts';
import {
  BREADCRUMB,
  type EniView,
  type InstanceView,
  type Observation,
  type ScheduledEvent,
} from '../view.ts';
import { isTransient } from './clients.ts';

function toEniView(ni: NetworkInterface): EniView {
  const a = ni.Attachment;
  return {
    id: ni.NetworkInterfaceId ?? '',
    status: ni.Status ?? 'unknown',
    availabilityZone: ni.AvailabilityZone ?? '',
    vpcId: ni.VpcId ?? '',
    privateIp: ni.PrivateIpAddress,
    // EC2 always sends InterfaceType; moto leaves it out for plain interfaces.
    interfaceType: ni.InterfaceType ?? 'interface',
    requesterManaged: ni.RequesterManaged ?? false,
    addresses: {
      // The primary private address is one of PrivateIpAddresses; each prefix counts as one address.
      ipv4: Math.max(1, ni.PrivateIpAddresses?.length ?? 0) + (ni.Ipv4Prefixes?.length ?? 0),
      ipv6: (ni.Ipv6Addresses?.length ?? 0) + (ni.Ipv6Prefixes?.length ?? 0),
    },
    attachment: a?.AttachmentId
      ? {
          id: a.AttachmentId,
          instanceId: a.InstanceId,
          deviceIndex: a.DeviceIndex ?? -1,
          status: a.Status ?? 'unknown',
          deleteOnTermination: a.DeleteOnTermination ?? false,
        }
      : undefined,
    tags: Object.fromEntries((ni.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
  };
}

/**
 * An instance's application status as the planner reads it: each check's own result by its ID, and whether
 * its reporting is suppressed. An instance EC2 did not answer for has no checks (no check is associated).
 */
function toApplicationView(
  s: InstanceApplicationStatus | undefined,
  unreadable: string | undefined,
): InstanceView['application'] {
  if (unreadable !== undefined) return { checks: {}, suppressed: undefined, unreadable };
  const status = s?.ApplicationStatus;
  return {
    checks: Object.fromEntries(
      (status?.Details ?? []).flatMap((d) =>
        d.ApplicationStatusCheckId
          ? [
              [
                d.ApplicationStatusCheckId,
                {
                  status: d.Status ?? 'unknown',
                  reason:
                    [d.Reason?.Code, d.Reason?.StatusCode].filter((x) => x !== undefined).join(' ') ||
                    undefined,
                },
              ],
            ]
          : [],
      ),
    ),
    suppressed: status?.Status === 'suppressed' ? { resumeAt: status.ResumeAt?.toISOString() } : undefined,
  };
}

/**
 * An instance's scheduled events, without those EC2 marks done or called off: "[Completed]" or
 * "[Canceled]" at the start of the description (EC2 User Guide, "Scheduled events for your instances";
 * EC2 keeps them listed for a while after).
 */
export function toScheduledEvents(events: readonly InstanceStatusEvent[] | undefined): ScheduledEvent[] {
  return (events ?? [])
    .filter((e) => !/^\[(Completed|Canceled|Cancelled)\]/i.test(e.Description ?? ''))
    .map((e) => ({
      code: e.Code ?? 'unknown',
      notBefore: e.NotBefore?.getTime(),
      notAfter: e.NotAfter?.getTime(),
      description: e.Description ?? '',
    }));
}

/** What an instance type allows, from DescribeInstanceTypes: it never changes, so it is asked once per container. */
interface TypeLimits {
  readonly card0Interfaces: number | undefined;
  readonly perInterface: InstanceView['perInterface'];
}

function toTypeLimits(t: InstanceTypeInfo): TypeLimits {
  const n = t.NetworkInfo;
  // Interfaces count per network card; an instance type with one card may list none.
  const card0 = n?.NetworkCards?.find((c) => (c.NetworkCardIndex ?? 0) === 0);
  const ipv4 = n?.Ipv4AddressesPerInterface;
  return {
    card0Interfaces: card0?.MaximumNetworkInterfaces ?? n?.MaximumNetworkInterfaces,
    perInterface:
      ipv4 === undefined
        ? undefined
        : {
            ipv4,
            ipv6: n?.Ipv6AddressesPerInterface ?? 0,
            ipv6Supported: n?.Ipv6Supported ?? false,
          },
  };
}

/** How EC2 refuses an instance ID it does not know in a status call. */
const REFUSED_IDS = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

// EC2 answers a list call in pages of at most this many; every list call follows NextToken.
const PAGE = 100;

const chunks = <T>(xs: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

/**
 * EC2 through SDK v3: the only place that knows EC2's request and response shapes. Every call is
 * bounded by `deadline` (an abort signal), so that a hung call cannot outlive the time kept to report.
 */
export class Ec2Adapter implements Ec2Port {
  constructor(
    private readonly client: EC2Client,
    // Shared by every adapter made by within(): an instance type's limits never change.
    private readonly typeLimits = new Map<string, TypeLimits>(),
    private readonly deadline?: { at: number; now: () => number },
  ) {}

  /** The same adapter, with every call aborted when `at` (epoch ms on `now`'s clock) passes. */
  within(at: number, now: () => number = Date.now): Ec2Adapter {
    return new Ec2Adapter(this.client, this.typeLimits, { at, now });
  }

  private get options(): { abortSignal?: AbortSignal } {
    const d = this.deadline;
    return d ? { abortSignal: AbortSignal.timeout(Math.max(1, Math.ceil(d.at - d.now()))) } : {};
  }

  /** Throttling, a 5xx, a timeout or a dropped connection: worth asking again. An abort is not. */
  isTransient(error: unknown): boolean {
    return isTransient(error);
  }

  /** Everything the planner needs about one pair. */
  async observe(pair: Pair): Promise<Observation> {
    return (await this.observeAll([pair])).get(pair.name) as Observation;
  }

  /**
   * Everything the planner needs about several pairs, in two rounds of parallel calls whatever their
   * number: the ENIs and the instances each in one paginated request, then their statuses.
   */
  async observeAll(pairs: readonly Pair[]): Promise<Map<string, Observation>> {
    const ids = [...new Set(pairs.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]))];
    const [enis, instances] = await Promise.all([
      // Paginated, so that any filter works in an account with many ENIs (EC2 API Reference,
      // DescribeNetworkInterfaces), and a missing ENI is an empty answer, not an error.
      this.all(
        paginateDescribeNetworkInterfaces(
          { client: this.client, pageSize: PAGE },
          { Filters: [{ Name: 'network-interface-id', Values: pairs.map((p) => p.networkInterfaceId) }] },
          this.options,
        ),
        (page) => page.NetworkInterfaces ?? [],
      ),
      // A filter rather than InstanceIds, so that a missing instance is an empty answer, not an error.
      this.all(
        paginateDescribeInstances(
          { client: this.client, pageSize: PAGE },
          { Filters: [{ Name: 'instance-id', Values: ids }] },
          this.options,
        ),
        (page) => (page.Reservations ?? []).flatMap((r) => r.Instances ?? []),
      ),
    ]);
    const found = instances.filter((i): i is Instance & { InstanceId: string } => i.InstanceId !== undefined);
    // A terminated instance has no status to read, and EC2 may refuse its ID in a status call.
    const live = found.filter((i) => i.State?.Name !== 'terminated').map((i) => i.InstanceId);
    // Members of pairs that name their application check; a terminated one has no application to judge.
    const checkedIds = new Set(
      pairs
        .filter((p) => p.applicationCheckId !== undefined)
        .flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]),
    );
    const [statuses, applications] = await Promise.all([
      Promise.all(chunks(live, 100).map((chunk) => this.statuses(chunk))).then((lists) => lists.flat()),
      this.describeApplicationStatus(live.filter((id) => checkedIds.has(id))),
      this.learnTypeLimits(found.map((i) => i.InstanceType).filter((t) => t !== undefined)),
    ]);
    const views = new Map<string, InstanceView>();
    for (const i of found) {
      const status = statuses.find((s) => s.InstanceId === i.InstanceId);
      const limits = i.InstanceType ? this.typeLimits.get(i.InstanceType) : undefined;
      views.set(i.InstanceId, {
        id: i.InstanceId,
        state: i.State?.Name ?? 'unknown',
        availabilityZone: i.Placement?.AvailabilityZone ?? '',
        vpcId: i.VpcId,
        instanceType: i.InstanceType ?? 'unknown',
        instanceStatus: status?.InstanceStatus?.Status ?? 'unknown',
        systemStatus: status?.SystemStatus?.Status ?? 'unknown',
        ebsStatus: status?.AttachedEbsStatus?.Status ?? 'unknown',
        applicationStatus: status?.ApplicationStatus?.Status ?? 'unknown',
        application: checkedIds.has(i.InstanceId)
          ? toApplicationView(applications.statuses.get(i.InstanceId), applications.unreadable)
          : undefined,
        launchTime: i.LaunchTime?.getTime(),
        privateIp: i.PrivateIpAddress,
        maxInterfaces: limits?.card0Interfaces,
        perInterface: limits?.perInterface,
        interfaces: (i.NetworkInterfaces ?? []).map((ni) => ({
          id: ni.NetworkInterfaceId ?? '',
          deviceIndex: ni.Attachment?.DeviceIndex ?? -1,
          networkCardIndex: ni.Attachment?.NetworkCardIndex ?? 0,
        })),
        scheduledEvents: toScheduledEvents(status?.Events),
      });
    }
    const observations = new Map<string, Observation>();
    for (const pair of pairs) {
      const ni = enis.find((e) => e.NetworkInterfaceId === pair.networkInterfaceId);
      const members: Record<string, InstanceView> = {};
      for (const id of [pair.primaryInstanceId, pair.standbyInstanceId]) {
        const view = views.get(id);
        if (view) members[id] = view;
      }
      observations.set(pair.name, { eni: ni ? toEniView(ni) : undefined, instances: members });
    }
    return observations;
  }

  /**
   * Each instance's application status in one request for the whole round (paginated by NextToken): the
   * instance-level status, with `suppressed` and its ResumeAt, and each check's own detail (EC2 API Reference,
   * DescribeApplicationStatus). DescribeInstanceStatus has only the aggregate, without suppression.
   */
  private async describeApplicationStatus(
    ids: string[],
  ): Promise<{ statuses: Map<string, InstanceApplicationStatus>; unreadable?: string }> {
    try {
      return { statuses: await this.applicationStatuses(ids) };
    } catch (error) {
      // Transient errors are read through (the whole observation is asked again until the deadline), and
      // the deadline's abort ends it. Any other answer from EC2 (UnauthorizedOperation, an API the region
      // lacks) leaves the application checks unknown rather than failing the observation: a stopped
      // holder is still moved off on its state and status checks.
      const e = error as { name?: string; $fault?: string; message?: string };
      if (this.isTransient(error) || e?.name === 'AbortError' || e?.$fault === undefined) throw error;
      return { statuses: new Map(), unreadable: `${e.name}: ${e.message}` };
    }
  }

  private async applicationStatuses(ids: string[]): Promise<Map<string, InstanceApplicationStatus>> {
    const out = new Map<string, InstanceApplicationStatus>();
    const ask = async (chunk: string[]) => {
      let token: string | undefined;
      do {
        const page = await this.client.send(
          new DescribeApplicationStatusCommand({ InstanceIds: chunk, NextToken: token }),
          this.options,
        );
        for (const i of page.ApplicationStatuses?.Instances ?? []) if (i.InstanceId) out.set(i.InstanceId, i);
        token = page.NextToken;
      } while (token);
    };
    if (ids.length === 0) return out;
    try {
      await ask(ids);
    } catch (error) {
      // As for DescribeInstanceStatus (statuses): a member EC2 no longer knows is asked alone, and has none.
      if (!REFUSED_IDS.has((error as Error).name)) throw error;
      await Promise.all(
        ids.map((id) =>
          ask([id]).catch((e: unknown) => {
            if (!REFUSED_IDS.has((e as Error).name)) throw e;
          }),
        ),
      );
    }
    return out;
  }

  /**
   * DescribeInstanceStatus for at most 100 IDs (its limit). EC2 refuses the whole call when one ID is
   * unknown to it (InvalidInstanceID.NotFound, or .Malformed; EC2 API Reference, "Error codes"), as a
   * member that terminated meanwhile may be: then each ID is asked alone and a refused one has no status.
   */
  private async statuses(ids: string[]) {
    const ask = (chunk: string[]) =>
      this.all(
        paginateDescribeInstanceStatus(
          { client: this.client },
          { InstanceIds: chunk, IncludeAllInstances: true },
          this.options,
        ),
        (page) => page.InstanceStatuses ?? [],
      );
    try {
      return await ask(ids);
    } catch (error) {
      if (!REFUSED_IDS.has((error as Error).name)) throw error;
      const one = await Promise.all(
        ids.map((id) =>
          ask([id]).catch((e: unknown) => {
            if (REFUSED_IDS.has((e as Error).name)) return [];
            throw e;
          }),
        ),
      );
      return one.flat();
    }
  }

  /** The instance's state, or undefined when EC2 does not know it. */
  async instanceState(instanceId: string): Promise<string | undefined> {
    // A filter rather than InstanceIds, so that a missing instance is an empty answer, not an error.
    const instances = await this.all(
      paginateDescribeInstances(
        { client: this.client, pageSize: PAGE },
        { Filters: [{ Name: 'instance-id', Values: [instanceId] }] },
        this.options,
      ),
      (page) => (page.Reservations ?? []).flatMap((r) => r.Instances ?? []),
    );
    return instances[0]?.State?.Name;
  }

  private async all<P, T>(pages: AsyncIterable<P>, items: (page: P) => T[]): Promise<T[]> {
    const out: T[] = [];
    for await (const page of pages) out.push(...items(page));
    return out;
  }

  private async learnTypeLimits(types: _InstanceType[]): Promise<void> {
    const unknown = [...new Set(types)].filter((t) => !this.typeLimits.has(t));
    if (unknown.length === 0) return;
    const infos = await this.all(
      paginateDescribeInstanceTypes({ client: this.client }, { InstanceTypes: unknown }, this.options),
      (page) => page.InstanceTypes ?? [],
    );
    for (const t of infos) if (t.InstanceType) this.typeLimits.set(t.InstanceType, toTypeLimits(t));
  }

  async describeEni(networkInterfaceId: string): Promise<EniView | undefined> {
    try {
      // By ID, not by a network-interface-id filter: in an account with many ENIs an unpaginated
      // filtered call fails (EC2 API Reference, DescribeNetworkInterfaces); IDs take no MaxResults.
      const r = await this.client.send(
        new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [networkInterfaceId] }),
        this.options,
      );
      const ni = r.NetworkInterfaces?.[0];
      return ni ? toEniView(ni) : undefined;
    } catch (error) {
      if ((error as Error).name === 'InvalidNetworkInterfaceID.NotFound') return undefined;
      throw error;
    }
  }

  async detach(attachmentId: string, force: boolean): Promise<void> {
    await this.client.send(
      new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId, Force: force }),
      this.options,
    );
  }

  async attach(networkInterfaceId: string, instanceId: string, deviceIndex: number): Promise<string> {
    const r = await this.client.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: networkInterfaceId,
        InstanceId: instanceId,
        DeviceIndex: deviceIndex,
        // Explicit, so that instances with several network cards get the ENI on the first one.
        NetworkCardIndex: 0,
      }),
      this.options,
    );
    if (!r.AttachmentId)
      throw new Error(`AttachNetworkInterface returned no AttachmentId for ${networkInterfaceId}`);
    return r.AttachmentId;
  }

  async keepOnTermination(networkInterfaceId: string, attachmentId: string): Promise<void> {
    await this.client.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: networkInterfaceId,
        Attachment: { AttachmentId: attachmentId, DeleteOnTermination: false },
      }),
      this.options,
    );
  }

  async rehearse(plan: MovePlan, pair: Pair): Promise<string[]> {
    const calls: [string, () => Promise<unknown>][] = [
      [
        'AttachNetworkInterface',
        () =>
          this.client.send(
            new AttachNetworkInterfaceCommand({
              NetworkInterfaceId: pair.networkInterfaceId,
              InstanceId: plan.to,
              DeviceIndex: pair.deviceIndex,
              NetworkCardIndex: 0,
              DryRun: true,
            }),
            this.options,
          ),
      ],
    ];
    const detach = plan.detach;
    if (detach) {
      calls.unshift([
        'DetachNetworkInterface',
        () =>
          this.client.send(
            new DetachNetworkInterfaceCommand({
              AttachmentId: detach.attachmentId,
              Force: detach.force,
              DryRun: true,
            }),
            this.options,
          ),
      ]);
      // The last steps of a move, so that a missing permission is found by the drill, not after the
      // ENI has moved. The observed attachment stands in for the new one: DryRun checks the
      // permission on the ENI, and changes nothing.
      calls.push([
        'ModifyNetworkInterfaceAttribute',
        () =>
          this.client.send(
            new ModifyNetworkInterfaceAttributeCommand({
              NetworkInterfaceId: pair.networkInterfaceId,
              Attachment: { AttachmentId: detach.attachmentId, DeleteOnTermination: false },
              DryRun: true,
            }),
            this.options,
          ),
      ]);
    }
    calls.push([
      'CreateTags',
      () =>
        this.client.send(
          new CreateTagsCommand({
            Resources: [pair.networkInterfaceId],
            Tags: [{ Key: BREADCRUMB, Value: 'dry-run' }],
            DryRun: true,
          }),
          this.options,
        ),
    ]);
    // The first look at a pair an earlier version tagged deletes those tags once carried into the state.
    calls.push([
      'DeleteTags',
      () =>
        this.client.send(
          new DeleteTagsCommand({
            Resources: [pair.networkInterfaceId],
            Tags: [{ Key: 'eni-failover:moved-at' }],
            DryRun: true,
          }),
          this.options,
        ),
    ]);
    const problems: string[] = [];
    for (const [action, call] of calls) {
      try {
        await call();
        problems.push(
          `dry-run: ${action} with DryRun was carried out instead of rehearsed; check the EC2 endpoint`,
        );
      } catch (error) {
        const name = (error as Error).name;
        // EC2 answers DryRunOperation when the caller may make the call, UnauthorizedOperation when not.
        if (name === 'DryRunOperation') continue;
        problems.push(
          name === 'UnauthorizedOperation'
            ? `permission: the function may not call ${action} here (${(error as Error).message})`
            : `dry-run: EC2 would refuse ${action}: ${name}: ${(error as Error).message}`,
        );
      }
    }
    return problems;
  }

  /**
   * One call of a move, tried with DryRun (the rehearsal, lambda/rehearse.ts): undefined when EC2 answers
   * DryRunOperation (it would allow it), else its error's name and message: UnauthorizedOperation when the role
   * may not (EC2 API Reference, the DryRun parameter). Throttling is retried by the SDK's standard mode.
   */
  async dryRun(call: DryRunCall): Promise<DryRunAnswer> {
    const command = (() => {
      switch (call.action) {
        case 'DetachNetworkInterface':
          return new DetachNetworkInterfaceCommand({ AttachmentId: call.attachmentId, DryRun: true });
        case 'AttachNetworkInterface':
          return new AttachNetworkInterfaceCommand({
            NetworkInterfaceId: call.networkInterfaceId,
            InstanceId: call.instanceId,
            DeviceIndex: call.deviceIndex,
            NetworkCardIndex: 0,
            DryRun: true,
          });
        case 'ModifyNetworkInterfaceAttribute':
          return new ModifyNetworkInterfaceAttributeCommand({
            NetworkInterfaceId: call.networkInterfaceId,
            Attachment: { AttachmentId: call.attachmentId, DeleteOnTermination: false },
            DryRun: true,
          });
        case 'CreateTags':
          return new CreateTagsCommand({
            Resources: [call.networkInterfaceId],
            Tags: [{ Key: call.key, Value: 'rehearsal' }],
            DryRun: true,
          });
        case 'DeleteTags':
          return new DeleteTagsCommand({
            Resources: [call.networkInterfaceId],
            Tags: [{ Key: call.key }],
            DryRun: true,
          });
        case 'StopInstances':
          // As the fence makes it (stop): forced.
          return new StopInstancesCommand({ InstanceIds: [call.instanceId], Force: true, DryRun: true });
      }
    })();
    try {
      // Each command's own type: send() is overloaded per command, so the union goes through one cast.
      await this.client.send(command as DetachNetworkInterfaceCommand, this.options);
    } catch (error) {
      const e = error as Error;
      if (e.name === 'DryRunOperation') return undefined;
      return { name: e.name, message: e.message };
    }
    return {
      name: 'NotRehearsed',
      message: `${call.action} with DryRun was carried out instead of rehearsed; check the EC2 endpoint`,
    };
  }

  async stop(instanceId: string): Promise<void> {
    // Forced: a failed instance may never finish a clean shutdown.
    await this.client.send(
      new StopInstancesCommand({ InstanceIds: [instanceId], Force: true }),
      this.options,
    );
  }

  async tag(networkInterfaceId: string, tags: Record<string, string>): Promise<void> {
    await this.client.send(
      new CreateTagsCommand({
        Resources: [networkInterfaceId],
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
      this.options,
    );
  }

  async untag(networkInterfaceId: string, keys: string[]): Promise<void> {
    await this.client.send(
      new DeleteTagsCommand({ Resources: [networkInterfaceId], Tags: keys.map((Key) => ({ Key })) }),
      this.options,
    );
  }
}
