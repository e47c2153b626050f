import { spawnSync } from 'node:child_process';
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { checkScript, SsmAdapter } from '../../lambda/aws/ssm.ts';
import { FakeClock } from '../../ops/fake-ec2.ts';
import { sample } from '../helpers/events.ts';
import { harness } from '../helpers/harness.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const notFound = () =>
  new SSMServiceException({
    name: 'InvocationDoesNotExist',
    message: 'not yet',
    $fault: 'client',
    $metadata: {},
  });

function ssmWith(...answers: (Record<string, unknown> | Error)[]) {
  const client = new SSMClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const mock = mockClient(client);
  mock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
  let chain = mock.on(GetCommandInvocationCommand);
  for (const a of answers) chain = a instanceof Error ? chain.rejectsOnce(a) : chain.resolvesOnce(a);
  chain.resolves({ Status: 'InProgress' });
  return { client, mock };
}

describe('the OS check (verifyOs), through SSM Run Command', () => {
  const verifying = [{ ...PAIR, verifyOs: true }];

  it('after the attach, asks the new holder whether the address is up, and reports the interface', async () => {
    const clock = new FakeClock();
    const { client, mock } = ssmWith(
      notFound(),
      { Status: 'InProgress' },
      { Status: 'Success', StandardOutputContent: 'ens6\n' },
    );
    const h = harness({ pairs: verifying, clock, os: new SsmAdapter(client, clock) });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = (await h.invoke(sample('eventbridge-state-change'))) as {
      outcome: string;
      reasons: string[];
      steps: { name: string }[];
    };
    expect(r.outcome).toBe('moved');
    expect(mock).toHaveReceivedCommandWith(SendCommandCommand, {
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [STANDBY],
    });
    expect(r.reasons).toContain(`os-check: ${STANDBY} brought 10.0.1.23 up on ens6`);
    expect(r.steps.at(-1)?.name).toBe('os-check');
    expect(h.published()[0]?.subject).toMatch(
      /^eni-failover web: MOVED \(FORCED\) to i-0fedcba9876543210 in \d+\.\d s$/,
    );
  });

  it('an OS that did not configure the address: the move stands, and the result and the phone say so', async () => {
    const clock = new FakeClock();
    const { client } = ssmWith({ Status: 'Failed', StandardOutputContent: 'no interface has 10.0.1.23' });
    const h = harness({ pairs: verifying, clock, os: new SsmAdapter(client, clock) });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = (await h.invoke(sample('eventbridge-state-change'))) as { outcome: string; reasons: string[] };
    expect(r.outcome).toBe('moved');
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(r.reasons).toContainEqual(
      expect.stringMatching(
        /^os-check: FAILED: i-0fedcba9876543210 has not brought 10\.0\.1\.23 up \(Failed: no interface has 10\.0\.1\.23\)/,
      ),
    );
    expect(h.published()[0]?.subject).toContain('; the address is NOT up in its OS');
  });

  it('an instance that never answers is reported before the function runs out of time', async () => {
    const clock = new FakeClock();
    const { client } = ssmWith();
    const adapter = new SsmAdapter(client, clock);
    const started = clock.now();
    const r = await adapter.addressIsUp(STANDBY, '10.0.1.23', started + 30_000);
    expect(r).toEqual({ up: false, detail: 'no answer from the instance before the function had to report' });
    expect(clock.now() - started).toBeLessThanOrEqual(30_000);
  });

  it('pairs without verifyOs never call SSM', async () => {
    const clock = new FakeClock();
    const { client, mock } = ssmWith();
    const h = harness({ clock, os: new SsmAdapter(client, clock) });
    h.ec2.set(PRIMARY, { state: 'stopped' });
    await h.invoke(sample('eventbridge-state-change'));
    expect(mock).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('the script run on the instance finds an address that is up, and fails on one that is not', () => {
    const up = spawnSync('bash', ['-c', checkScript('127.0.0.1')], { encoding: 'utf8' });
    expect(up.status).toBe(0);
    expect(up.stdout.trim()).toBe('lo');
    const down = spawnSync(
      'bash',
      ['-c', checkScript('10.255.255.254').replace('seq 1 30', 'seq 1 1').replace('sleep 2', 'sleep 0')],
      {
        encoding: 'utf8',
      },
    );
    expect(down.status).toBe(1);
    expect(down.stdout).toContain('no interface has 10.255.255.254');
  });
});
