import { AspectPriority, Aspects, CfnResource, type IAspect, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** One cdk-nag 2.x suppression, as it reads them from a resource's `cdk_nag` metadata. */
interface Suppression {
  readonly id: string;
  readonly reason: string;
  readonly applies_to?: string[];
}

/** Adds a suppression to a resource's `cdk_nag` metadata, once. */
function suppress(resource: CfnResource, suppression: Suppression): void {
  const current = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: Suppression[] } | undefined)
    ?.rules_to_suppress;
  const rules = Array.isArray(current) ? current : [];
  if (rules.some((r) => JSON.stringify(r) === JSON.stringify(suppression))) return;
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...rules, suppression] });
}

/** Writes the suppression on every resource of its scope, those made after the acknowledgment included. */
class Suppress implements IAspect {
  constructor(private readonly suppression: Suppression) {}
  visit(node: IConstruct): void {
    if (CfnResource.isCfnResource(node)) suppress(node, this.suppression);
  }
}

/**
 * A cdk-nag finding acknowledged on `scope` and everything under it, in the form each major version reads:
 * cdk-nag 3 reads `Validations.of(scope).acknowledge` (a finding ID such as `AwsSolutions-IAM5[Resource::*]`);
 * cdk-nag 2 reads each resource's `cdk_nag.rules_to_suppress` metadata, the granular part in `applies_to`
 * (cdk-nag README, "Suppressing a rule"). cdk-nag 2 runs as an aspect: ours runs first (a mutating
 * priority), so that resources CDK adds late (IAM policies split for size) carry it too.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
  const granular = /^([^[]+)\[(.+)\]$/.exec(id);
  const suppression: Suppression = granular
    ? { id: granular[1] as string, reason, applies_to: [granular[2] as string] }
    : { id, reason };
  for (const node of scope.node.findAll()) if (CfnResource.isCfnResource(node)) suppress(node, suppression);
  Aspects.of(scope).add(new Suppress(suppression), { priority: AspectPriority.MUTATING });
}
