import {
  AttachNetworkInterfaceCommand,
  CreateTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
  EC2ServiceException,
  ModifyNetworkInterfaceAttributeCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import type { Clock } from '../../lambda/execute';

export interface FakeInstance {
  id: string;
  state: string;
  az: string;
  vpcId: string;
  type: string;
  instanceStatus: string;
  systemStatus: string;
}

interface FakeAttachment {
  id: string;
  instanceId: string;
  deviceIndex: number;
  status: 'attaching' | 'attached' | 'detaching';
  /** When an attaching/detaching attachment settles. */
  settlesAt: number;
  deleteOnTermination: boolean;
}

const LIMITS: Record<string, number> = { 't3.micro': 2, 'm5.large': 3 };

/** A client-side error as EC2 would return it (after the SDK's retries, if it is retryable). */
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

/**
 * An in-memory EC2 behind a mocked EC2Client: one ENI, a few instances, and detach/attach that take
 * a configurable time to settle, as on AWS. With a fake clock it runs in no time; with the system
 * clock it is the benchmark's EC2.
 */
export class FakeEc2 {
  readonly client = new EC2Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  readonly mock: AwsClientStub<EC2Client> = mockClient(this.client);
  readonly calls: string[] = [];
  readonly instances = new Map<string, FakeInstance>();
  readonly otherEnis = new Map<string, { id: string; instanceId: string; deviceIndex: number }>();
  readonly tags: Record<string, string> = {};
  attachment: FakeAttachment | undefined;
  private readonly failures = new Map<string, { error: Error; times: number }>();
  private nextAttachment = 1;

  constructor(
    readonly eniId: string,
    readonly eniAz: string,
    readonly eniVpc: string,
    private readonly clock: Pick<Clock, 'now'>,
    readonly settle: { detachMs: number; attachMs: number } = { detachMs: 2_000, attachMs: 3_000 },
  ) {
    this.wire();
  }

  addInstance(instance: Partial<FakeInstance> & { id: string }): void {
    this.instances.set(instance.id, {
      state: 'running',
      az: this.eniAz,
      vpcId: this.eniVpc,
      type: 't3.micro',
      instanceStatus: 'ok',
      systemStatus: 'ok',
      ...instance,
    });
  }

  /** Change an instance: stop it, impair it, move it to another AZ. */
  set(id: string, patch: Partial<FakeInstance>): void {
    const instance = this.instances.get(id);
    if (!instance) throw new Error(`no fake instance ${id}`);
    Object.assign(instance, patch);
  }

  /** Attach the service ENI directly, already settled. */
  place(instanceId: string, deviceIndex = 1): void {
    this.attachment = {
      id: `eni-attach-${this.nextAttachment++}`,
      instanceId,
      deviceIndex,
      status: 'attached',
      settlesAt: 0,
      deleteOnTermination: false,
    };
  }

  /** Make the next `times` calls of `action` fail with `error` (Infinity: every call). */
  fail(action: string, error: Error, times = 1): void {
    this.failures.set(action, { error, times });
  }

  /** Mutating calls received, in order (a DryRun changes nothing and is not one). */
  get mutations(): string[] {
    return this.calls.filter((c, i) => !c.startsWith('Describe') && !this.dryRuns.has(i));
  }
  private readonly dryRuns = new Set<number>();

  /** Where the ENI is now, after any settling. */
  holder(): string | undefined {
    this.advance();
    return this.attachment?.status === 'attached' ? this.attachment.instanceId : undefined;
  }

  private advance(): void {
    const a = this.attachment;
    if (!a || this.clock.now() < a.settlesAt) return;
    if (a.status === 'detaching') this.attachment = undefined;
    else if (a.status === 'attaching') a.status = 'attached';
  }

  private enter(action: string): void {
    this.calls.push(action);
    this.advance();
    const failure = this.failures.get(action);
    if (failure && failure.times > 0) {
      failure.times -= 1;
      throw failure.error;
    }
  }

  private interfacesOf(instanceId: string) {
    const list = [{ NetworkInterfaceId: `eni-root-${instanceId}`, Attachment: { DeviceIndex: 0 } }];
    for (const other of this.otherEnis.values()) {
      if (other.instanceId === instanceId)
        list.push({ NetworkInterfaceId: other.id, Attachment: { DeviceIndex: other.deviceIndex } });
    }
    if (this.attachment?.instanceId === instanceId) {
      list.push({ NetworkInterfaceId: this.eniId, Attachment: { DeviceIndex: this.attachment.deviceIndex } });
    }
    return list;
  }

  private wire(): void {
    const m = this.mock;
    m.on(DescribeNetworkInterfacesCommand).callsFake(async (input) => {
      this.enter('DescribeNetworkInterfaces');
      const wanted = input.Filters?.[0]?.Values ?? input.NetworkInterfaceIds ?? [];
      if (!wanted.includes(this.eniId)) return { NetworkInterfaces: [] };
      const a = this.attachment;
      return {
        NetworkInterfaces: [
          {
            NetworkInterfaceId: this.eniId,
            Status: a ? (a.status === 'attached' ? 'in-use' : a.status) : 'available',
            AvailabilityZone: this.eniAz,
            VpcId: this.eniVpc,
            PrivateIpAddress: '10.0.1.23',
            InterfaceType: 'interface',
            RequesterManaged: false,
            Attachment: a && {
              AttachmentId: a.id,
              InstanceId: a.instanceId,
              DeviceIndex: a.deviceIndex,
              Status: a.status,
              DeleteOnTermination: a.deleteOnTermination,
            },
            TagSet: Object.entries(this.tags).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      };
    });
    m.on(DescribeInstancesCommand).callsFake(async (input) => {
      this.enter('DescribeInstances');
      const ids = input.Filters?.[0]?.Values ?? [];
      const found: FakeInstance[] = ids.flatMap((id: string) => {
        const i = this.instances.get(id);
        return i ? [i] : [];
      });
      return {
        Reservations: [
          {
            Instances: found.map((i) => ({
              InstanceId: i.id,
              State: { Name: i.state },
              Placement: { AvailabilityZone: i.az },
              VpcId: i.vpcId,
              InstanceType: i.type,
              NetworkInterfaces: this.interfacesOf(i.id),
            })),
          },
        ],
      };
    });
    m.on(DescribeInstanceStatusCommand).callsFake(async (input) => {
      this.enter('DescribeInstanceStatus');
      return {
        InstanceStatuses: (input.InstanceIds ?? []).flatMap((id: string) => {
          const i = this.instances.get(id);
          if (!i) return [];
          const running = i.state === 'running';
          return [
            {
              InstanceId: id,
              InstanceState: { Name: i.state },
              InstanceStatus: { Status: running ? i.instanceStatus : 'not-applicable' },
              SystemStatus: { Status: running ? i.systemStatus : 'not-applicable' },
            },
          ];
        }),
      };
    });
    m.on(DescribeInstanceTypesCommand).callsFake(async (input) => {
      this.enter('DescribeInstanceTypes');
      return {
        InstanceTypes: (input.InstanceTypes ?? []).map((t: string) => ({
          InstanceType: t,
          NetworkInfo: { MaximumNetworkInterfaces: LIMITS[t] ?? 2 },
        })),
      };
    });
    m.on(DetachNetworkInterfaceCommand).callsFake(async (input) => {
      this.enter('DetachNetworkInterface');
      if (input.DryRun) this.dryRuns.add(this.calls.length - 1);
      if (input.DryRun)
        throw ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
      const a = this.attachment;
      if (!a || a.id !== input.AttachmentId) throw ec2Error('InvalidAttachmentID.NotFound');
      a.status = 'detaching';
      a.settlesAt = this.clock.now() + this.settle.detachMs;
      return {};
    });
    m.on(AttachNetworkInterfaceCommand).callsFake(async (input) => {
      this.enter('AttachNetworkInterface');
      if (input.DryRun) this.dryRuns.add(this.calls.length - 1);
      if (input.DryRun)
        throw ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
      if (this.attachment)
        throw ec2Error('InvalidParameterValue', `Interface ${this.eniId} is currently in use`);
      this.attachment = {
        id: `eni-attach-${this.nextAttachment++}`,
        instanceId: input.InstanceId as string,
        deviceIndex: input.DeviceIndex as number,
        status: 'attaching',
        settlesAt: this.clock.now() + this.settle.attachMs,
        deleteOnTermination: true,
      };
      return { AttachmentId: this.attachment.id, NetworkCardIndex: 0 };
    });
    m.on(ModifyNetworkInterfaceAttributeCommand).callsFake(async (input) => {
      this.enter('ModifyNetworkInterfaceAttribute');
      if (this.attachment && input.Attachment?.AttachmentId === this.attachment.id) {
        this.attachment.deleteOnTermination = input.Attachment.DeleteOnTermination ?? true;
      }
      return {};
    });
    m.on(StopInstancesCommand).callsFake(async (input) => {
      this.enter('StopInstances');
      for (const id of input.InstanceIds ?? []) this.set(id, { state: 'stopping' });
      return {};
    });
    m.on(CreateTagsCommand).callsFake(async (input) => {
      this.enter('CreateTags');
      for (const t of input.Tags ?? []) this.tags[t.Key as string] = t.Value as string;
      return {};
    });
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
