import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { Ec2Adapter } from '../lambda/aws/ec2';
import type { Pair } from '../lambda/config';
import { holderOf } from '../lambda/view';

// Any AMI that moto ships; the instances never boot.
const AMI = 'ami-03cf127a';

/** Real SDK clients, pointed at an emulator by AWS_ENDPOINT_URL exactly as the function's are. */
export function useEndpoint(url: string): void {
  process.env.AWS_ENDPOINT_URL = url;
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_REGION = 'eu-west-1';
}

export interface MotoWorld {
  ec2: EC2Client;
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
  /** The instance the ENI is attached to now, and at which index. */
  where(
    eni?: string,
  ): Promise<{ holder: string | null; deviceIndex: number | undefined; tags: Record<string, string> }>;
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
    where: async (id = eni) => {
      const view = await adapter.describeEni(id);
      if (!view) throw new Error(`${id} does not exist`);
      return { holder: holderOf(view), deviceIndex: view.attachment?.deviceIndex, tags: { ...view.tags } };
    },
  };
}
