import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * moto's server (an emulated AWS, EC2 and SNS among it) on a free loopback port, for the demo and
 * the tests. moto is a Python package (pip install 'moto[server]'); npm cannot install it.
 */
export const MOTO_COMMAND = 'moto_server';

export function toolAvailable(command: string): boolean {
  return spawnSync(command, ['--help'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface Moto {
  /** http://localhost:PORT — `localhost`, because CloudFormation template uploads only resolve that name. */
  readonly url: string;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  if (!toolAvailable(MOTO_COMMAND)) {
    throw new Error(`${MOTO_COMMAND} is not installed: install it with pip install 'moto[server]'`);
  }
  const port = await freePort();
  const child: ChildProcess = spawn(MOTO_COMMAND, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
  });
  const url = `http://localhost:${port}`;
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${MOTO_COMMAND} exited with ${child.exitCode} before it was ready`);
    try {
      if ((await fetch(`${base}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`${MOTO_COMMAND} did not answer on port ${port} within 20 s`);
    }
    await sleep(100);
  }
  return {
    url,
    reset: async () => {
      const r = await fetch(`${base}/moto-api/reset`, { method: 'POST' });
      if (!r.ok) throw new Error(`moto reset failed: HTTP ${r.status}`);
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
