import { randomBytes } from 'node:crypto';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { Ec2Adapter } from '../lambda/aws/ec2.ts';
import type { Pair } from '../lambda/config.ts';
import { systemClock } from '../lambda/retry.ts';
import { holderOf } from '../lambda/view.ts';
import { FakeEc2 } from './fake-ec2.ts';

// Any AMI that moto ships; the instances never boot.
const AMI = 'ami-03cf127a';

/** Real SDK clients, pointed at an emulator by AWS_ENDPOINT_URL exactly as the function's are. */
export function useEndpoint(url: string): void {
  process.env.AWS_ENDPOINT_URL = url;
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_REGION = 'eu-west-1';
}

/** The environment the demo and the moto tests play in, on either emulator. */
export interface World {
  vpcId: string;
  subnetA: string;
  subnetB: string;
  primary: string;
  standby: string;
  /** A running instance in the other AZ (eu-west-1b). */
  decoy: string;
  eni: string;
  pair: Pair;
  /** Launch one more t3.micro. */
  launch(subnet: string, type?: string): Promise<string>;
  /** Create an ENI in a subnet and optionally attach it. */
  createEni(subnet: string, attachTo?: { instanceId: string; deviceIndex: number }): Promise<string>;
  stop(instanceId: string): Promise<void>;
  start(instanceId: string): Promise<void>;
  /** The instance the ENI is attached to now, and at which index. */
  where(
    eni?: string,
  ): Promise<{ holder: string | null; deviceIndex: number | undefined; tags: Record<string, string> }>;
}

/** The world in moto, with the SDK client that built it. */
export interface MotoWorld extends World {
  ec2: EC2Client;
}

/**
 * A realistic environment in moto: a VPC over two AZs, primary and standby in eu-west-1a, a decoy in
 * eu-west-1b, and the service ENI attached to the primary at device index 1.
 */
export async function buildWorld(): Promise<MotoWorld> {
  const ec2 = new EC2Client({});
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc?.VpcId as string;
  const subnet = async (cidr: string, az: string) =>
    (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az }))).Subnet
      ?.SubnetId as string;
  const subnetA = await subnet('10.0.1.0/24', 'eu-west-1a');
  const subnetB = await subnet('10.0.2.0/24', 'eu-west-1b');
  const launch = async (subnetId: string, type = 't3.micro') =>
    (
      await ec2.send(
        new RunInstancesCommand({
          ImageId: AMI,
          MinCount: 1,
          MaxCount: 1,
          InstanceType: type as 't3.micro',
          SubnetId: subnetId,
        }),
      )
    ).Instances?.[0]?.InstanceId as string;
  const createEni = async (subnetId: string, attachTo?: { instanceId: string; deviceIndex: number }) => {
    const id = (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId }))).NetworkInterface
      ?.NetworkInterfaceId as string;
    if (attachTo) {
      await ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: id,
          InstanceId: attachTo.instanceId,
          DeviceIndex: attachTo.deviceIndex,
        }),
      );
    }
    return id;
  };
  const primary = await launch(subnetA);
  const standby = await launch(subnetA);
  const decoy = await launch(subnetB);
  const eni = await createEni(subnetA, { instanceId: primary, deviceIndex: 1 });
  const adapter = new Ec2Adapter(ec2);
  return {
    ec2,
    vpcId,
    subnetA,
    subnetB,
    primary,
    standby,
    decoy,
    eni,
    pair: {
      name: 'web',
      networkInterfaceId: eni,
      primaryInstanceId: primary,
      standbyInstanceId: standby,
      deviceIndex: 1,
    },
    launch,
    createEni,
    stop: async (instanceId) => {
      await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    },
    start: async (instanceId) => {
      await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    },
    where: (id = eni) => where(adapter, id),
  };
}

async function where(adapter: Ec2Adapter, id: string) {
  const view = await adapter.describeEni(id);
  if (!view) throw new Error(`${id} does not exist`);
  return { holder: holderOf(view), deviceIndex: view.attachment?.deviceIndex, tags: { ...view.tags } };
}

/** An ID shaped as EC2's: a prefix and 17 hex digits. */
const newId = (prefix: string) => `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;

/**
 * The same world in the project's own in-memory EC2 (ops/fake-ec2.ts), built straight into its model:
 * the fake answers the calls the function makes, not the Create* and Run* calls that furnish an
 * account, and the world's shape (two AZs, three instances, one ENI at device index 1) is all the
 * demo needs of it. Attach and detach pass through attaching/detaching and settle after `settle`.
 */
export function buildEmbeddedWorld(settle: { detachMs: number; attachMs: number }): {
  world: World;
  fake: FakeEc2;
} {
  const vpcId = newId('vpc');
  const subnets = new Map([
    [newId('subnet'), 'eu-west-1a'],
    [newId('subnet'), 'eu-west-1b'],
  ]);
  const [subnetA, subnetB] = [...subnets.keys()] as [string, string];
  const eni = newId('eni');
  const fake = new FakeEc2(eni, 'eu-west-1a', vpcId, systemClock, settle);
  const azOf = (subnet: string) => {
    const az = subnets.get(subnet);
    if (!az) throw new Error(`no subnet ${subnet} in the embedded world`);
    return az;
  };
  const launch = async (subnet: string, type = 't3.micro') => {
    const id = newId('i');
    fake.addInstance({ id, az: azOf(subnet), vpcId, type, launchTime: new Date() });
    return id;
  };
  const createEni = async (subnet: string, attachTo?: { instanceId: string; deviceIndex: number }) => {
    const id = newId('eni');
    fake.addEni(id, { az: azOf(subnet), vpcId });
    if (attachTo) fake.place(attachTo.instanceId, attachTo.deviceIndex, id);
    return id;
  };
  const ids = { primary: newId('i'), standby: newId('i'), decoy: newId('i') };
  fake.addInstance({ id: ids.primary, launchTime: new Date() });
  fake.addInstance({ id: ids.standby, launchTime: new Date() });
  fake.addInstance({ id: ids.decoy, az: 'eu-west-1b', launchTime: new Date() });
  fake.place(ids.primary, 1, eni);
  const adapter = new Ec2Adapter(fake.client);
  // A stop or a start lands at once, as on moto: the acts watch the function, not the instance's shutdown.
  const state = (id: string, to: string) => fake.set(id, { state: to });
  return {
    fake,
    world: {
      vpcId,
      subnetA,
      subnetB,
      ...ids,
      eni,
      pair: {
        name: 'web',
        networkInterfaceId: eni,
        primaryInstanceId: ids.primary,
        standbyInstanceId: ids.standby,
        deviceIndex: 1,
      },
      launch,
      createEni,
      stop: async (id) => state(id, 'stopped'),
      start: async (id) => state(id, 'running'),
      where: (id = eni) => where(adapter, id),
    },
  };
}
