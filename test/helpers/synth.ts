import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type AppProps, type Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Pair } from '../../lambda/config.ts';
import type { StackConfig } from '../../lib/config-file.ts';
import { EniFailoverDemoStack } from '../../lib/demo-stack.ts';
import { EniFailoverStack } from '../../lib/stack.ts';

/** n valid, distinct pairs, with no `group`: however many, they share one function. */
export function pairs(n: number): Pair[] {
  const hex = (prefix: string, i: number) => `${prefix}-${i.toString(16).padStart(17, '0')}`;
  return Array.from({ length: n }, (_, i) => ({
    name: `svc${i}`,
    networkInterfaceId: hex('eni', i),
    primaryInstanceId: hex('i', 2 * i),
    standbyInstanceId: hex('i', 2 * i + 1),
    deviceIndex: 1,
  }));
}

const ENV = { account: '123456789012', region: 'eu-west-1' };

/** cdk.json's context (the recommended feature flags): what `npx cdk synth` gives the app, so tests see its templates. */
const CDK_CONTEXT = (
  JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

/** An App as the CDK CLI makes it from cdk.json (with asset metadata, as the CLI asks), plus the given props (their context wins). */
export function newApp(props: AppProps = {}): App {
  return new App({
    ...props,
    context: { 'aws:cdk:enable-asset-metadata': true, ...CDK_CONTEXT, ...props.context },
  });
}

/** Where a synthesized stack's cloud assembly is (its assets, the functions' pairs files among them). */
export const assemblyOf = (stack: Stack): string => (stack.node.root as App).outdir;

/** Synthesizes the configured stack in-process, with cdk-nag as the bin/ app runs it. */
export function synthConfigured(config: StackConfig): { stack: Stack; template: Template } {
  const app = newApp();
  const stack = new EniFailoverStack(app, 'EniFailover', { env: ENV, config });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { stack, template: Template.fromStack(stack) };
}

export function synthDemo(): { stack: Stack; template: Template } {
  const app = newApp();
  const stack = new EniFailoverDemoStack(app, 'EniFailoverDemo');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { stack, template: Template.fromStack(stack) };
}
