// The pair-state table, and the order CloudFormation creates and updates the function's permissions in (issue 22):
// read from the synthesized templates, the example configuration's and the previous release's (0.1.0, synthesized
// from the same configuration at that release and kept in test/fixtures/templates).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambda/config.ts';
import { loadStackConfig } from '../../lib/config-file.ts';
import { EniFailover } from '../../lib/eni-failover.ts';
import type { CfnTemplate } from '../helpers/policy-engine.ts';
import { newApp, pairs, synthConfigured, synthDemo } from '../helpers/synth.ts';

type Resources = CfnTemplate['Resources'];
type Json = unknown;

/** Every logical ID a value names by Ref or Fn::GetAtt (Fn::Sub's ${Id} and ${Id.Attr} too). */
function referenced(value: Json, ids: ReadonlySet<string>, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) referenced(v, ids, out);
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'Ref' && typeof v === 'string' && ids.has(v)) out.add(v);
      else if (key === 'Fn::GetAtt' && Array.isArray(v) && typeof v[0] === 'string') out.add(v[0]);
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(v) ? v[0] : v;
        for (const m of String(text).matchAll(/\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}/g))
          if (m[1] && ids.has(m[1])) out.add(m[1]);
        if (Array.isArray(v)) referenced(v[1], ids, out);
      } else referenced(v, ids, out);
    }
  }
  return out;
}

/**
 * What CloudFormation finishes before it creates or updates `id`: its DependsOn and every resource its properties
 * reference, transitively (CloudFormation User Guide, "DependsOn attribute": a Ref or GetAtt is an implicit
 * dependency; resources with none between them are created and updated in parallel).
 */
function before(resources: Resources, id: string): Set<string> {
  const ids = new Set(Object.keys(resources));
  const seen = new Set<string>();
  const walk = (at: string) => {
    const r = resources[at] as { DependsOn?: string | string[]; Properties?: Json } | undefined;
    if (!r) return;
    const direct = [
      ...(typeof r.DependsOn === 'string' ? [r.DependsOn] : (r.DependsOn ?? [])),
      ...referenced(r.Properties, ids),
    ];
    for (const d of direct) {
      if (seen.has(d)) continue;
      seen.add(d);
      walk(d);
    }
  };
  walk(id);
  return seen;
}

const ofType = (resources: Resources, type: string) =>
  Object.entries(resources).filter(([, r]) => r.Type === type);

/** The logical ID of the role a function runs as. */
function roleOf(resources: Resources, functionId: string): string {
  const fn = resources[functionId] as unknown as { Properties: { Role: { 'Fn::GetAtt': [string] } } };
  return fn.Properties.Role['Fn::GetAtt'][0];
}

/** Every policy attached to the role: inline (AWS::IAM::Policy) and customer managed, by Roles: [{Ref: role}]. */
function policiesOf(resources: Resources, roleId: string): string[] {
  return [...ofType(resources, 'AWS::IAM::Policy'), ...ofType(resources, 'AWS::IAM::ManagedPolicy')]
    .filter(([, p]) =>
      ((p as { Properties: { Roles?: Json[] } }).Properties.Roles ?? []).some(
        (r) => (r as { Ref?: string }).Ref === roleId,
      ),
    )
    .map(([id]) => id);
}

/** The failover functions: those told their state table. */
const failoverFunctions = (resources: Resources) =>
  ofType(resources, 'AWS::Lambda::Function')
    .filter(([, f]) =>
      Object.hasOwn(
        (f as { Properties: { Environment?: { Variables?: object } } }).Properties.Environment?.Variables ??
          {},
        ENV.stateTable,
      ),
    )
    .map(([id]) => id);

/**
 * Each policy of each failover function's role that the function, or the deploy-time rehearsal (which proves
 * them), does not wait for, named; and each function the rehearsal does not wait for.
 */
function unordered(resources: Resources, functions: readonly string[]): string[] {
  const rehearsals = ofType(resources, 'Custom::Rehearsal').map(([id]) => id);
  return functions.flatMap((fn) => {
    const policies = policiesOf(resources, roleOf(resources, fn));
    return [fn, ...rehearsals].flatMap((waiter) => {
      const waits = before(resources, waiter);
      return [...policies, ...(waiter === fn ? [] : [fn])]
        .filter((p) => !waits.has(p))
        .map((p) => `${waiter} does not wait for ${p}`);
    });
  });
}

const example = loadStackConfig(join(import.meta.dirname, '..', '..', 'failover.example.json'));
const previous = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '..', 'fixtures', 'templates', 'release-0.1.0-example.template.json'),
    'utf8',
  ),
) as CfnTemplate;

describe('the pair-state table', () => {
  let resources: Resources;
  beforeAll(() => {
    resources = synthConfigured({ pairs: pairs(3) }).template.toJSON().Resources;
  });

  it('one table per construct: pk a string, no sort key, on demand, point-in-time recovery, retained', () => {
    const tables = ofType(resources, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(1);
    const [, table] = tables[0] as [string, { Properties: Record<string, Json>; DeletionPolicy?: string }];
    expect(table.Properties.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(table.Properties.AttributeDefinitions).toEqual([{ AttributeName: 'pk', AttributeType: 'S' }]);
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.DeletionPolicy).toBe('Retain');
  });

  it('every failover function is told its table, by FAILOVER_STATE_TABLE', () => {
    const [tableId] = ofType(resources, 'AWS::DynamoDB::Table')[0] as unknown as [string];
    const functions = failoverFunctions(resources);
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions)
      expect(
        (resources[fn] as unknown as { Properties: { Environment: { Variables: Record<string, Json> } } })
          .Properties.Environment.Variables[ENV.stateTable],
      ).toEqual({ Ref: tableId });
  });

  it('the removalPolicy prop decides the table too (DESTROY for test stacks), one table for every group', () => {
    const app = newApp();
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
    const [a, b] = pairs(2) as [ReturnType<typeof pairs>[0], ReturnType<typeof pairs>[0]];
    const failover = new EniFailover(stack, 'F', {
      pairs: [a, { ...b, group: 'g2' }],
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const template = Template.fromStack(stack).toJSON() as CfnTemplate;
    const tables = ofType(template.Resources, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(1);
    const [tableId, table] = tables[0] as [string, { DeletionPolicy?: string }];
    expect(table.DeletionPolicy).toBe('Delete');
    expect(failoverFunctions(template.Resources)).toHaveLength(2);
    expect(stack.resolve(failover.stateTable.tableName)).toEqual({ Ref: tableId });
  });
});

describe('order: the function waits for every policy of its role', () => {
  it('on a first create: the example configuration, 60 pairs over every slot, groups, and the demo', () => {
    const templates = [
      synthConfigured(example).template,
      synthConfigured({
        pairs: [...pairs(60), { ...(pairs(61)[60] as ReturnType<typeof pairs>[0]), group: 'g' }],
      }).template,
      synthDemo().template,
    ];
    for (const template of templates) {
      const resources = template.toJSON().Resources as Resources;
      const functions = failoverFunctions(resources);
      expect(functions.length).toBeGreaterThan(0);
      expect(ofType(resources, 'Custom::Rehearsal')).toHaveLength(1);
      // The slot policies, the default policy (with the table's grant) and any inline one: all of them.
      for (const fn of functions)
        expect(policiesOf(resources, roleOf(resources, fn)).length).toBeGreaterThanOrEqual(2);
      expect(unordered(resources, functions)).toEqual([]);
    }
  });

  it('the check can fail: the previous release (0.1.0) did not wait for its slot policies', () => {
    expect(unordered(previous.Resources, ['EniFailoverFunctionB8A052FD'])).toEqual([
      'EniFailoverFunctionB8A052FD does not wait for EniFailoverPairPermissions6A30607B6',
    ]);
  });

  it('on an update from 0.1.0: the same function, role and policies (nothing replaced, no policy deleted), and the new template orders them', () => {
    const next = synthConfigured(example).template.toJSON().Resources as Resources;
    const [fn] = failoverFunctions(next);
    expect(fn).toBe('EniFailoverFunctionB8A052FD');
    const role = roleOf(next, fn as string);
    expect(role).toBe(roleOf(previous.Resources, 'EniFailoverFunctionB8A052FD'));
    // A policy gone from the template is deleted only in the clean-up, after the update (CloudFormation User
    // Guide, "Update behaviors of stack resources"); none is, so no permission of the running function lapses.
    const old = policiesOf(previous.Resources, role);
    const now = policiesOf(next, role);
    for (const p of old) expect(now).toContain(p);
    // Every policy the update creates or changes (the table's grant goes into the default policy) is in place
    // before the function is updated, as on a first create.
    expect(unordered(next, [fn as string])).toEqual([]);
    const changed = now.filter(
      (p) => JSON.stringify(previous.Resources[p]?.Properties) !== JSON.stringify(next[p]?.Properties),
    );
    expect(changed.length).toBeGreaterThan(0);
  });
});
