import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseEmulator, headline } from '../../ops/emulator.ts';
import { MOTO_COMMAND } from '../../ops/moto.ts';
import { actText, expectEveryAct } from '../helpers/demo.ts';

// `npm run demo` as a newcomer without moto runs it: its own process, the PATH without moto_server.
const PATH = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir && !existsSync(join(dir, MOTO_COMMAND)))
  .join(delimiter);
const TSX = createRequire(import.meta.url).resolve('tsx/cli');

async function demo(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  // Node by its own path, so that the PATH need hold nothing at all.
  const child = spawn(process.execPath, [TSX, 'bin/demo.ts', ...args], { env: { ...process.env, PATH } });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, out, err };
}

describe('npm run demo, with moto hidden from the PATH', () => {
  let run: Awaited<ReturnType<typeof demo>>;
  beforeAll(async () => {
    // The PATH really lacks moto, whether or not this machine has it.
    expect(spawnSync(MOTO_COMMAND, ['--help'], { env: { PATH }, stdio: 'ignore' }).error).toBeDefined();
    run = await demo();
    // About 13 s alone (8 s of it the moves' settle times); more on a crowded machine.
  }, 150_000);

  it('says first that the embedded EC2 plays, and why, then every act ends as on moto; exit 0', () => {
    expect(run.out.split('\n')[0]).toBe(
      "EC2 here is the embedded in-memory EC2 (ops/fake-ec2.ts, in this process), because moto_server is not on the PATH (pip install 'moto[server]' to play the demo on moto).",
    );
    expect(run.code, `${run.out}\n${run.err}`).toBe(0);
    expectEveryAct(run.out);
  });

  it("the application act says its signal comes from the embedded EC2's own model, not a proxy", () => {
    const act = actText(run.out, 6);
    expect(act).toContain('MODELLED: the embedded EC2 has EC2 application status checks in its model');
    // (Act 9's loopback members are simulated on either emulator, and say so.)
    expect(act).not.toContain('SIMULATED');
  });

  it('the moves take the time the embedded EC2 gives detaching and attaching, and the phone shows it', () => {
    // 1 s to detach and 1.5 s to attach: the function polls until each has settled.
    for (const n of [1, 5, 6]) {
      const act = actText(run.out, n);
      const waited = (step: string) => Number(act.match(new RegExp(`^ {4}${step} +(\\d+) ms`, 'm'))?.[1]);
      expect(waited('wait-detached'), act).toBeGreaterThanOrEqual(1_000);
      expect(waited('wait-attached'), act).toBeGreaterThanOrEqual(1_500);
      expect(act).toMatch(/phone: "eni-failover web: MOVED (\(FORCED\) )?to i-\w+ in \d+\.\d s"/);
    }
  });
});

describe('npm run demo --emulator', () => {
  it('a bad value is a usage error naming the choices: exit 2, nothing played', async () => {
    const { code, out, err } = await demo('--emulator', 'localstack');
    expect(code).toBe(2);
    expect(err).toContain("demo: --emulator must be one of moto, embedded, not 'localstack'");
    expect(out).toBe('');
  });

  it('moto, when moto_server is not on the PATH, is refused with how to install it: exit 2', async () => {
    const { code, err } = await demo('--emulator', 'moto');
    expect(code).toBe(2);
    expect(err).toContain(`--emulator moto: ${MOTO_COMMAND} is not on the PATH; install it with pip install`);
  });

  it('an unknown option is a usage error too: exit 2, with the usage', async () => {
    const { code, out, err } = await demo('--emulatr', 'moto');
    expect(code).toBe(2);
    expect(err).toContain("Unknown option '--emulatr'");
    expect(err).toContain('usage: npm run demo -- [--emulator moto|embedded] [--verbose]');
    expect(out).toBe('');
  });

  it('embedded is played when asked for, moto or not, and the first line says it was asked for', () => {
    const choice = chooseEmulator('embedded');
    expect(choice).toEqual({ name: 'embedded', why: '--emulator embedded asked for it' });
    expect(headline(choice)).toBe(
      'EC2 here is the embedded in-memory EC2 (ops/fake-ec2.ts, in this process), because --emulator embedded asked for it.',
    );
  });
});
