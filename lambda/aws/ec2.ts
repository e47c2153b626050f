import {
  type _InstanceType,
  AttachNetworkInterfaceCommand,
  CreateTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  type EC2Client,
  type Instance,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { Pair } from '../config';
import type { Ec2Port } from '../execute';
import type { EniView, InstanceView, MovePlan, Observation } from '../plan';

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

/** EC2 through SDK v3: the only place that knows EC2's request and response shapes. */
export class Ec2Adapter implements Ec2Port {
  // An instance type's interface limit never changes: ask once per warm container.
  private readonly interfaceLimits = new Map<string, number>();

  constructor(private readonly client: EC2Client) {}

  /** Everything the planner needs about one pair, in two rounds of parallel calls. */
  async observe(pair: Pair): Promise<Observation> {
    const ids = [pair.primaryInstanceId, pair.standbyInstanceId];
    // Filters rather than IDs, so that a missing ENI or instance is an empty answer and not an error.
    const [eni, instances] = await Promise.all([
      this.describeEni(pair.networkInterfaceId),
      this.client
        .send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }] }))
        .then((r) => (r.Reservations ?? []).flatMap((res) => res.Instances ?? [])),
    ]);
    const found = instances.filter((i): i is Instance & { InstanceId: string } => i.InstanceId !== undefined);
    const [statuses] = await Promise.all([
      found.length === 0
        ? []
        : this.client
            .send(
              new DescribeInstanceStatusCommand({
                InstanceIds: found.map((i) => i.InstanceId),
                IncludeAllInstances: true,
              }),
            )
            .then((r) => r.InstanceStatuses ?? []),
      this.learnInterfaceLimits(found.map((i) => i.InstanceType).filter((t) => t !== undefined)),
    ]);
    const views: Record<string, InstanceView> = {};
    for (const i of found) {
      const status = statuses.find((s) => s.InstanceId === i.InstanceId);
      views[i.InstanceId] = {
        id: i.InstanceId,
        state: i.State?.Name ?? 'unknown',
        availabilityZone: i.Placement?.AvailabilityZone ?? '',
        vpcId: i.VpcId,
        instanceType: i.InstanceType ?? 'unknown',
        instanceStatus: status?.InstanceStatus?.Status ?? 'unknown',
        systemStatus: status?.SystemStatus?.Status ?? 'unknown',
        maxInterfaces: i.InstanceType ? this.interfaceLimits.get(i.InstanceType) : undefined,
        interfaces: (i.NetworkInterfaces ?? []).map((ni) => ({
          id: ni.NetworkInterfaceId ?? '',
          deviceIndex: ni.Attachment?.DeviceIndex ?? -1,
        })),
      };
    }
    return { eni, instances: views };
  }

  private async learnInterfaceLimits(types: _InstanceType[]): Promise<void> {
    const unknown = [...new Set(types)].filter((t) => !this.interfaceLimits.has(t));
    if (unknown.length === 0) return;
    const r = await this.client.send(new DescribeInstanceTypesCommand({ InstanceTypes: unknown }));
    for (const t of r.InstanceTypes ?? []) {
      const max = t.NetworkInfo?.MaximumNetworkInterfaces;
      if (t.InstanceType && max !== undefined) this.interfaceLimits.set(t.InstanceType, max);
    }
  }

  async describeEni(networkInterfaceId: string): Promise<EniView | undefined> {
    const r = await this.client.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'network-interface-id', Values: [networkInterfaceId] }],
      }),
    );
    const ni = r.NetworkInterfaces?.[0];
    return ni ? toEniView(ni) : undefined;
  }

  async detach(attachmentId: string, force: boolean): Promise<void> {
    await this.client.send(new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId, Force: force }));
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
          ),
      ]);
    }
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

  async stop(instanceId: string): Promise<void> {
    // Forced: a failed instance may never finish a clean shutdown.
    await this.client.send(new StopInstancesCommand({ InstanceIds: [instanceId], Force: true }));
  }

  async tag(networkInterfaceId: string, tags: Record<string, string>): Promise<void> {
    await this.client.send(
      new CreateTagsCommand({
        Resources: [networkInterfaceId],
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }
}
