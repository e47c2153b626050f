import { GetCommandInvocationCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { OsPort } from '../execute.ts';
import type { Clock } from '../retry.ts';
import { HTTP } from './clients.ts';

// How long the instance is given to bring the address up, polled every 2 s on the instance itself.
const WAIT_ON_INSTANCE_S = 60;
const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled', 'Cancelling']);

/** The shell run on the new holder: prints the interface that holds the address, or fails after the wait. */
export function checkScript(address: string): string {
  const match = `" ${address}/"`;
  return [
    `for i in $(seq 1 ${WAIT_ON_INSTANCE_S / 2}); do`,
    `  if ip -o -4 addr show | grep -qF ${match}; then ip -o -4 addr show | grep -F ${match} | awk '{print $2}'; exit 0; fi`,
    '  sleep 2',
    'done',
    `echo "no interface has ${address}"; ip -o -4 addr show`,
    'exit 1',
  ].join('\n');
}

/** Asks the new holder's OS, through SSM Run Command, whether it brought the service address up. */
export class SsmAdapter implements OsPort {
  /** An SSM client as lambda/aws/clients.ts builds the others: default endpoint resolution and retries. */
  static client(): SSMClient {
    return new SSMClient({ requestHandler: HTTP });
  }

  constructor(
    private readonly client: SSMClient,
    private readonly clock: Clock,
  ) {}

  async addressIsUp(
    instanceId: string,
    address: string,
    deadline: number,
  ): Promise<{ up: boolean; detail: string }> {
    const sent = await this.client.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instanceId],
        Parameters: { commands: [checkScript(address)] },
        TimeoutSeconds: WAIT_ON_INSTANCE_S + 30,
        Comment: `eni-failover: is ${address} up?`,
      }),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new Error('SendCommand returned no CommandId');
    for (;;) {
      if (this.clock.now() + 2_000 > deadline)
        return { up: false, detail: 'no answer from the instance before the function had to report' };
      await this.clock.sleep(2_000);
      try {
        const r = await this.client.send(
          new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
        );
        if (!r.Status || !TERMINAL.has(r.Status)) continue;
        const output = (r.StandardOutputContent ?? '').trim();
        return r.Status === 'Success'
          ? { up: true, detail: `on ${output || 'an interface'}` }
          : { up: false, detail: `${r.Status}: ${output || r.StatusDetails || 'no output'}` };
      } catch (error) {
        // The invocation is not visible for a moment after SendCommand.
        if ((error as Error).name !== 'InvocationDoesNotExist') throw error;
      }
    }
  }
}
