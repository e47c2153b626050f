// The application status check associations over a stack's life: the real handler against the in-memory EC2
// (moto knows no application status checks), driven by CloudFormation's own update sequence replayed over the
// real synthesized templates. CloudFormation User Guide, "Update behaviors of stack resources" and "Custom
// resources": in an update, new resources are created and changed ones updated; a changed resource that answers
// with a new physical ID is replaced, and the old physical resource, like every resource gone from the
// template, is deleted in the clean-up after the whole update succeeded. A failed update rolls back: each updated
// resource gets an Update back to its old properties and each created one a Delete.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AssociateApplicationStatusCheckCommand,
  DescribeApplicationStatusCheckAssociationsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import {
  type AssociationEvent,
  type AssociationProperties,
  apply,
  handler,
} from '../../lambda/custom/app-check-association.ts';
import { applyTags } from '../../lambda/custom/experiment-targets.ts';
import { EniFailoverStack } from '../../lib/stack.ts';
import { ec2Error, FakeClock, FakeEc2 } from '../../ops/fake-ec2.ts';
import { newApp, pairs } from '../helpers/synth.ts';

const CHECK_TYPE = 'AWS::EC2::ApplicationStatusCheck';
const ASSOCIATIONS_TYPE = 'Custom::ApplicationStatusCheckAssociations';
const TAGS_TYPE = 'Custom::ExperimentTargetTags';
/** The custom resources the function serves: the associations, and the experiments' target tags. */
const isCustom = (type: string) => type === ASSOCIATIONS_TYPE || type === TAGS_TYPE;

const newEc2 = (instances: readonly string[]) => {
  const fake = new FakeEc2('eni-0aaaaaaaaaaaaaaa0', 'eu-west-1a', 'vpc-1', new FakeClock());
  for (const id of instances) fake.addInstance({ id });
  return fake;
};
const associations = (fake: FakeEc2) =>
  Object.fromEntries([...fake.applicationChecks].map(([id, members]) => [id, [...members].sort()] as const));

const event = (
  RequestType: AssociationEvent['RequestType'],
  ResourceProperties: AssociationProperties,
  extra: Partial<AssociationEvent> = {},
): AssociationEvent => ({
  RequestType,
  ResponseURL: 'http://unused',
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1',
  RequestId: 'r-1',
  LogicalResourceId: 'webApplicationCheckAssociations',
  ResourceProperties,
  ...extra,
});

describe('the association resource, one per check (handler against the in-memory EC2)', () => {
  const [a, b, c] = ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2', 'i-0aaaaaaaaaaaaaaa3'];
  let fake: FakeEc2;
  beforeEach(() => {
    fake = newEc2([a, b, c]);
    fake.addApplicationCheck('asc-1');
  });

  it("create associates every instance; the physical ID is the check's ID", async () => {
    expect(
      await apply(fake.client, event('Create', { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] })),
    ).toBe('asc-1');
    expect(associations(fake)).toEqual({ 'asc-1': [a, b] });
    expect(fake.mutations).toEqual(['AssociateApplicationStatusCheck']);
  });

  it('update makes the set exact: the new member associated, the old one disassociated, the same physical ID', async () => {
    await apply(fake.client, event('Create', { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] }));
    const physicalId = await apply(
      fake.client,
      event(
        'Update',
        { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, c] },
        {
          PhysicalResourceId: 'asc-1',
          OldResourceProperties: { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] },
        },
      ),
    );
    expect(physicalId).toBe('asc-1');
    expect(associations(fake)).toEqual({ 'asc-1': [a, c] });
  });

  it('create fails naming the instance EC2 refused, after reading back', async () => {
    await expect(
      apply(
        fake.client,
        event('Create', { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, 'i-0ffffffffffffffff'] }),
      ),
    ).rejects.toThrow(
      /asc-1 is associated with i-0aaaaaaaaaaaaaaa1, not .* \(missing i-0ffffffffffffffff\); EC2 said associate: i-0ffffffffffffffff: The instance ID/,
    );
  });

  it('delete disassociates; a check already gone took its associations with it', async () => {
    await apply(fake.client, event('Create', { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] }));
    await apply(
      fake.client,
      event(
        'Delete',
        { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] },
        { PhysicalResourceId: 'asc-1' },
      ),
    );
    expect(associations(fake)).toEqual({ 'asc-1': [] });
    fake.deleteApplicationCheck('asc-1');
    expect(
      await apply(
        fake.client,
        event(
          'Delete',
          { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] },
          { PhysicalResourceId: 'asc-1' },
        ),
      ),
    ).toBe('asc-1');
  });

  it('a delete that cannot read back fails loudly, and one that EC2 refused names what is still associated', async () => {
    await apply(fake.client, event('Create', { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] }));
    const del = event(
      'Delete',
      { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] },
      { PhysicalResourceId: 'asc-1' },
    );
    fake.fail(
      'DescribeApplicationStatusCheckAssociations',
      ec2Error('InternalError', 'We encountered an internal error', 'server'),
    );
    await expect(apply(fake.client, del)).rejects.toThrow(
      'could not confirm that asc-1 is no longer associated with i-0aaaaaaaaaaaaaaa1, i-0aaaaaaaaaaaaaaa2: reading the associations back failed (We encountered an internal error)',
    );
    await apply(fake.client, event('Create', { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a, b] }));
    fake.fail('DisassociateApplicationStatusCheck', ec2Error('UnauthorizedOperation', 'not authorized'));
    await expect(apply(fake.client, del)).rejects.toThrow(
      'could not disassociate asc-1 from i-0aaaaaaaaaaaaaaa1, i-0aaaaaaaaaaaaaaa2: not authorized',
    );
    expect(associations(fake)).toEqual({ 'asc-1': [a, b] });
  });

  it('a delete of a resource whose create was refused for its properties succeeds and touches nothing', async () => {
    await apply(fake.client, event('Create', { ApplicationStatusCheckId: 'asc-1', InstanceIds: [a] }));
    // An association of the old design (one instance, InstanceId) deleted by the upgrade's clean-up: the check's
    // resource holds that association now.
    const legacy = { ApplicationStatusCheckId: 'asc-1', InstanceId: a } as AssociationProperties;
    expect(await apply(fake.client, event('Delete', legacy, { PhysicalResourceId: `asc-1/${a}` }))).toBe(
      `asc-1/${a}`,
    );
    expect(associations(fake)).toEqual({ 'asc-1': [a] });
    await expect(apply(fake.client, event('Create', legacy))).rejects.toThrow(
      'InstanceIds must list one or more instance IDs, got undefined',
    );
  });
});

/** A resource of the replayed stack, as CloudFormation tracks it. */
interface Deployed {
  readonly type: string;
  readonly props: Record<string, unknown>;
  readonly physicalId: string;
}

/**
 * CloudFormation's sequence for the two resource types that matter here, over real templates: the checks
 * (CloudFormation creates them; the fake EC2 holds them) and the association resources (the real handler).
 */
class Replay {
  deployed = new Map<string, Deployed>();
  /** Handler calls, in order: `Create web...`, `Update ...`, `Delete ...`. */
  readonly calls: string[] = [];
  private nextCheck = 1;
  /** The handler under test. */
  apply = apply;

  constructor(readonly fake: FakeEc2) {}

  /** Deploys the template: create, update, then clean up; or, if `fail`, roll back after the creates and updates. */
  async deploy(
    template: Record<string, { Type: string; Properties?: Record<string, unknown> }>,
    fail = false,
  ) {
    const wanted = Object.entries(template).filter(([, r]) => r.Type === CHECK_TYPE || isCustom(r.Type));
    const before = new Map(this.deployed);
    const cleanup: [string, Deployed][] = [];
    const created: string[] = [];
    const updated: [string, Deployed][] = [];
    // Checks first: the associations depend on them (GetAtt).
    const ordered = [...wanted].sort(([, x], [, y]) => Number(isCustom(x.Type)) - Number(isCustom(y.Type)));
    for (const [logicalId, resource] of ordered) {
      const props = this.resolve(resource.Properties ?? {});
      const old = this.deployed.get(logicalId);
      if (old && JSON.stringify(old.props) === JSON.stringify(props)) continue;
      if (resource.Type === CHECK_TYPE) {
        // Every setting the construct sets updates a check in place, except Interval and IpScope (replacement;
        // CloudFormation Template Reference, AWS::EC2::ApplicationStatusCheck).
        const replace =
          old &&
          ['Interval', 'IpScope'].some((k) => JSON.stringify(old.props[k]) !== JSON.stringify(props[k]));
        const physicalId =
          old && !replace ? old.physicalId : `asc-${String(this.nextCheck++).padStart(17, '0')}`;
        if (!old || replace) this.fake.addApplicationCheck(physicalId);
        if (old && replace) cleanup.push([logicalId, old]);
        if (old) updated.push([logicalId, old]);
        else created.push(logicalId);
        this.deployed.set(logicalId, { type: CHECK_TYPE, props, physicalId });
        continue;
      }
      const physicalId = await this.call(resource.Type, old ? 'Update' : 'Create', logicalId, props, old);
      if (old && physicalId !== old.physicalId) cleanup.push([logicalId, old]);
      if (old) updated.push([logicalId, old]);
      else created.push(logicalId);
      this.deployed.set(logicalId, { type: resource.Type, props, physicalId });
    }
    if (fail) return this.rollback(before, created, updated);
    for (const [logicalId, r] of before)
      if (!wanted.some(([id]) => id === logicalId)) {
        cleanup.push([logicalId, r]);
        this.deployed.delete(logicalId);
      }
    // Associations before checks: they depend on them.
    cleanup.sort(([, x], [, y]) => Number(x.type === CHECK_TYPE) - Number(y.type === CHECK_TYPE));
    for (const [logicalId, r] of cleanup) await this.remove(logicalId, r);
  }

  private async rollback(before: Map<string, Deployed>, created: string[], updated: [string, Deployed][]) {
    for (const [logicalId, old] of updated.filter(([, r]) => isCustom(r.type))) {
      const now = this.deployed.get(logicalId) as Deployed;
      const physicalId = await this.call(old.type, 'Update', logicalId, old.props, now);
      if (physicalId !== now.physicalId) await this.remove(logicalId, now);
    }
    for (const logicalId of created.filter((id) => isCustom(this.deployed.get(id)?.type ?? '')))
      await this.remove(logicalId, this.deployed.get(logicalId) as Deployed);
    for (const [logicalId, old] of updated.filter(([, r]) => r.type === CHECK_TYPE)) {
      const now = this.deployed.get(logicalId) as Deployed;
      if (now.physicalId !== old.physicalId) this.fake.deleteApplicationCheck(now.physicalId);
    }
    for (const logicalId of created.filter((id) => this.deployed.get(id)?.type === CHECK_TYPE))
      this.fake.deleteApplicationCheck((this.deployed.get(logicalId) as Deployed).physicalId);
    this.deployed = before;
  }

  /** The function's answer, as its entry point dispatches by resource type. */
  private handle(resourceType: string, e: AssociationEvent): Promise<string> {
    return resourceType === TAGS_TYPE ? applyTags(this.fake.client, e) : this.apply(this.fake.client, e);
  }

  private async call(
    resourceType: string,
    type: 'Create' | 'Update',
    logicalId: string,
    props: Record<string, unknown>,
    old?: Deployed,
  ) {
    this.calls.push(`${type} ${logicalId}`);
    return this.handle(
      resourceType,
      event(type, props, {
        LogicalResourceId: logicalId,
        PhysicalResourceId: old?.physicalId,
        OldResourceProperties: old?.props,
      }),
    );
  }

  private async remove(logicalId: string, r: Deployed) {
    if (r.type === CHECK_TYPE) {
      this.fake.deleteApplicationCheck(r.physicalId);
      return;
    }
    this.calls.push(`Delete ${logicalId}`);
    await this.handle(
      r.type,
      event('Delete', r.props, { LogicalResourceId: logicalId, PhysicalResourceId: r.physicalId }),
    );
  }

  /** Properties as the handler gets them: GetAtt of a check resolved to its ID, the service token left out. */
  private resolve(props: Record<string, unknown>): Record<string, unknown> {
    const { ServiceToken: _token, ...rest } = props;
    return JSON.parse(
      JSON.stringify(rest, (_k, v) => {
        const att = (v as { 'Fn::GetAtt'?: [string, string] } | null)?.['Fn::GetAtt'];
        return att ? this.deployed.get(att[0])?.physicalId : v;
      }),
    ) as Record<string, unknown>;
  }

  /** What the stack says: each check's ID and the instances its association resource lists. */
  expected(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const r of this.deployed.values())
      if (r.type === ASSOCIATIONS_TYPE)
        out[r.props.ApplicationStatusCheckId as string] = [...(r.props.InstanceIds as string[])].sort();
    return out;
  }

  /** What the stack says of the experiments' tags: each member tagged `key=value`, as its tag resource lists them. */
  expectedTags(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const r of this.deployed.values())
      if (r.type === TAGS_TYPE)
        for (const i of r.props.InstanceIds as string[])
          out[i] = [...(out[i] ?? []), `${r.props.TagKey}=${r.props.TagValue}`].sort();
    return out;
  }
}

/** The eni-failover: tags on the fake's instances, by instance. */
const experimentTags = (fake: FakeEc2) =>
  Object.fromEntries(
    [...fake.instanceTags]
      .map(
        ([id, tags]) =>
          [
            id,
            Object.entries(tags)
              .filter(([k]) => k.startsWith('eni-failover:'))
              .map(([k, v]) => `${k}=${v}`)
              .sort(),
          ] as const,
      )
      .filter(([, t]) => t.length > 0),
  );

const checked = (p: Pair): Pair => ({
  ...p,
  applicationCheck: { protocol: 'http', port: 8080, path: '/health' },
});
const synth = (config: readonly Pair[]) =>
  (
    Template.fromStack(
      new EniFailoverStack(newApp({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Replay', {
        env: { account: '123456789012', region: 'eu-west-1' },
        // Every pair with an experiment too: its target tag lives the same life.
        config: { pairs: [...config], experiments: config.map((p) => p.name) },
      }),
    ).toJSON() as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> }
  ).Resources;

// Each test synthesizes real templates: minutes on a loaded machine.
describe("the stack's life, replayed through CloudFormation's update sequence: EC2 ends as the stack says", {
  timeout: 180_000,
}, () => {
  const [web, api, spare] = pairs(3).map(checked) as [Pair, Pair, Pair];
  const spareInstance = spare.primaryInstanceId;
  const START = [web, api];
  const CHANGES: [string, Pair[]][] = [
    [
      'swap primary and standby',
      [{ ...web, primaryInstanceId: web.standbyInstanceId, standbyInstanceId: web.primaryInstanceId }, api],
    ],
    ['rename a pair', [{ ...web, name: 'www' }, api]],
    ['change a member', [{ ...web, standbyInstanceId: spareInstance }, api]],
    ['remove a pair', [web]],
    ['add a pair', [web, api, spare]],
    [
      'rename, swap and remove at once',
      [
        {
          ...api,
          name: 'api2',
          primaryInstanceId: api.standbyInstanceId,
          standbyInstanceId: api.primaryInstanceId,
        },
      ],
    ],
  ];
  const instances = [web, api, spare].flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]);
  let replay: Replay;
  beforeEach(async () => {
    replay = new Replay(newEc2(instances));
    await replay.deploy(synth(START));
    expect(associations(replay.fake)).toEqual(replay.expected());
    expect(Object.keys(replay.expected())).toHaveLength(2);
    expect(experimentTags(replay.fake)).toEqual(replay.expectedTags());
    expect(Object.keys(replay.expectedTags())).toHaveLength(4);
  });

  it.each(CHANGES)('%s', async (_name, next) => {
    replay.calls.length = 0;
    await replay.deploy(synth(next));
    expect(associations(replay.fake)).toEqual(replay.expected());
    expect(experimentTags(replay.fake)).toEqual(replay.expectedTags());
    expect(Object.keys(replay.expectedTags()).sort()).toEqual(
      next.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]).sort(),
    );
    // Every pair's check holds its two members, and no other check is left.
    expect(Object.values(replay.expected()).sort()).toEqual(
      next.map((p) => [p.primaryInstanceId, p.standbyInstanceId].sort()).sort(),
    );
  });

  it('a swap changes no property: CloudFormation does not even call the handler', async () => {
    replay.calls.length = 0;
    await replay.deploy(synth(CHANGES[0]?.[1] as Pair[]));
    expect(replay.calls).toEqual([]);
  });

  it("a rename creates the new check's resource, then deletes the old one in the clean-up", async () => {
    replay.calls.length = 0;
    await replay.deploy(synth(CHANGES[1]?.[1] as Pair[]));
    expect(replay.calls.filter((c) => c.includes('ApplicationCheckAssociations'))).toEqual([
      expect.stringMatching(/^Create \S*wwwApplicationCheckAssociations/),
      expect.stringMatching(/^Delete \S*svc0ApplicationCheckAssociations/),
    ]);
  });

  it.each(CHANGES)('%s, rolled back: EC2 ends as it was', async (_name, next) => {
    const was = associations(replay.fake);
    const wasTagged = experimentTags(replay.fake);
    await replay.deploy(synth(next), true);
    expect(associations(replay.fake)).toEqual(was);
    expect(associations(replay.fake)).toEqual(replay.expected());
    expect(experimentTags(replay.fake)).toEqual(wasTagged);
  });

  it('the replay catches a handler whose physical ID changes with its instances: the clean-up delete loses the member both sets share', async () => {
    // As the old design did (`check/instance`): a new physical ID on update makes CloudFormation delete the old
    // one, with the old properties, after the update.
    replay.apply = async (client, e) =>
      `${await apply(client, e)}/${[...(e.ResourceProperties.InstanceIds ?? [])].sort().join('+')}`;
    await replay.deploy(synth(START));
    await replay.deploy(synth(CHANGES[2]?.[1] as Pair[]));
    expect(associations(replay.fake)).not.toEqual(replay.expected());
    const check = Object.entries(replay.expected()).find(([, m]) => m.includes(spareInstance))?.[0] as string;
    expect(associations(replay.fake)[check]).toEqual([spareInstance]);
  });
});

describe('the handler answers CloudFormation', () => {
  it('at its URL, with FAILED and the reason when EC2 refused', async () => {
    const ec2 = mockClient(EC2Client);
    const bodies: unknown[] = [];
    const server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        bodies.push({ method: req.method, body: JSON.parse(data) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
    try {
      ec2.on(DescribeApplicationStatusCheckAssociationsCommand).resolves({ Associations: [] });
      ec2.on(AssociateApplicationStatusCheckCommand).rejects(new Error('UnauthorizedOperation'));
      await handler(
        event(
          'Create',
          { ApplicationStatusCheckId: 'asc-1', InstanceIds: ['i-0aaaaaaaaaaaaaaa1'] },
          { ResponseURL: url },
        ),
      );
      expect(bodies).toEqual([
        {
          method: 'PUT',
          body: {
            Status: 'FAILED',
            Reason: 'UnauthorizedOperation',
            PhysicalResourceId: 'webApplicationCheckAssociations',
            StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1',
            RequestId: 'r-1',
            LogicalResourceId: 'webApplicationCheckAssociations',
          },
        },
      ]);
    } finally {
      server.close();
      ec2.restore();
    }
  });
});
