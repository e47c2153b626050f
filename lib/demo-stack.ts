import { CfnOutput, CfnResource, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { EniFailover } from './eni-failover.ts';
import { acknowledge } from './nag.ts';
import { addOutputs } from './stack.ts';

/**
 * `cdk deploy -c demo=true`: a self-contained demo in your own account. A VPC, two t4g.nano Amazon Linux
 * 2023 instances in one AZ, and a service ENI on the first at device index 1, protected by EniFailover.
 * Stop the primary (the StopPrimaryCommand output) and watch the ENI move.
 */
export class EniFailoverDemoStack extends Stack {
  readonly failover: EniFailover;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    // Public subnets and no NAT gateway: nothing here costs by the hour but the two instances.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
    });
    const subnet = vpc.publicSubnets[0] as ec2.ISubnet;
    // No inbound rules: reach the instances with Session Manager.
    const securityGroup = new ec2.SecurityGroup(this, 'ServiceSecurityGroup', {
      vpc,
      description: 'eni-failover demo: the service ENI and its instances',
      allowAllOutbound: true,
    });
    const instance = (name: string) =>
      new ec2.Instance(this, name, {
        vpc,
        vpcSubnets: { subnets: [subnet] },
        instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
        machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
        securityGroup,
        requireImdsv2: true,
        ssmSessionPermissions: true,
        blockDevices: [
          { deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(8, { encrypted: true }) },
        ],
      });
    const primary = instance('Primary');
    const standby = instance('Standby');

    const eni = new ec2.CfnNetworkInterface(this, 'ServiceEni', {
      subnetId: subnet.subnetId,
      groupSet: [securityGroup.securityGroupId],
      description: 'eni-failover demo: the service address',
    });
    new ec2.CfnNetworkInterfaceAttachment(this, 'ServiceEniAttachment', {
      instanceId: primary.instanceId,
      networkInterfaceId: eni.ref,
      deviceIndex: '1',
      deleteOnTermination: false,
    });

    this.failover = new EniFailover(this, 'EniFailover', {
      pairs: [
        {
          name: 'demo',
          networkInterfaceId: eni.ref,
          primaryInstanceId: primary.instanceId,
          standbyInstanceId: standby.instanceId,
          deviceIndex: 1,
        },
      ],
      experiments: ['demo'],
    });
    addOutputs(this, this.failover);
    new CfnOutput(this, 'ServiceAddress', { value: eni.attrPrimaryPrivateIpAddress });
    new CfnOutput(this, 'StopPrimaryCommand', {
      description: 'Fail the primary and watch the ENI move to the standby',
      value: `aws ec2 stop-instances --instance-ids ${primary.instanceId}`,
    });

    for (const [id, reason] of [
      [
        'AwsSolutions-VPC7',
        'A demo VPC with no traffic worth logging; flow logs would outlive the demo in CloudWatch Logs',
      ],
      [
        'AwsSolutions-EC28',
        'StatusCheckFailed is a 1-minute metric without detailed monitoring; the demo adds no other need',
      ],
      ['AwsSolutions-EC29', 'The demo instances exist to be stopped in drills and destroyed with the stack'],
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
        'Session Manager access to the demo instances, instead of SSH',
      ],
    ] as const) {
      acknowledge(this, id, reason);
    }
    // The recommended flag @aws-cdk/aws-ec2:restrictDefaultSecurityGroup adds a custom resource whose handler
    // CDK makes depend on its role explicitly, though the role's GetAtt already orders them.
    const provider = this.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler');
    if (handler instanceof CfnResource)
      handler.addMetadata('cfn-lint', { config: { ignore_checks: ['W3005'] } });
  }
}
