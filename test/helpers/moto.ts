import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * moto's EC2 server, started per test file on a free loopback port. moto is installed on the
 * project's machines with Python's pip and cannot be installed from npm: when it is missing, the
 * tests that need it skip loudly, except under CI=true, where they fail.
 */
export const MOTO_COMMAND = 'moto_server';

export function toolAvailable(command: string): boolean {
  return spawnSync(command, ['--help'], { stdio: 'ignore' }).status === 0;
}

export const motoAvailable = toolAvailable(MOTO_COMMAND);
export const inCI = process.env.CI === 'true';

/** True when the moto tests should run: moto is here, or CI must see them fail without it. */
export const runMotoTests = motoAvailable || inCI;
if (!runMotoTests) {
  console.warn(
    `\n*** ${MOTO_COMMAND} is not installed: the EC2 integration tests are SKIPPED. Install moto[server] (pip) to run them. ***\n`,
  );
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
  if (!motoAvailable) {
    throw new Error(`${MOTO_COMMAND} is not installed (CI=true requires it): install moto[server] with pip`);
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
