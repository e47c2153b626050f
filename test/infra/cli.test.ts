import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairs } from '../helpers/synth.ts';

const CDK = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'cdk');

/** A proxy that answers nothing and counts who tried: every HTTP(S) call the CLI makes lands here. */
let trap: Server;
let attempts: string[] = [];
let proxy = '';

beforeAll(async () => {
  trap = createServer((socket) => {
    socket.once('data', (data) => attempts.push(data.toString().split('\r\n')[0] ?? '?'));
    socket.setTimeout(200, () => socket.destroy());
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  const address = trap.address();
  proxy = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((resolve) => trap.close(() => resolve())));

/**
 * The CLI tried the network: it connected to the trap, or it says it could not connect (it tests
 * connectivity itself, and without DNS it may give up before it reaches any proxy).
 */
const reachedOut = (stderr: string) =>
  attempts.length > 0 ||
  /NoConnectivity|Could not refresh notices|Failed to load CDK notices|Telemetry/.test(stderr);

function cdk(args: string[]): Promise<{ code: number | null; out: string; err: string; outdir: string }> {
  const outdir = mkdtempSync(join(tmpdir(), 'eni-failover-cli-'));
  return new Promise((resolve) => {
    const child = spawn(CDK, [...args, '--output', outdir], {
      env: {
        ...process.env,
        HTTP_PROXY: proxy,
        HTTPS_PROXY: proxy,
        http_proxy: proxy,
        https_proxy: proxy,
        NO_PROXY: '',
        // No credentials and no instance metadata here: the CLI must not need either to synthesize.
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
        AWS_ENDPOINT_URL: '',
        // A fresh CLI home: no cached notices or version check to hide (or skip) a network call.
        CDK_HOME: mkdtempSync(join(tmpdir(), 'eni-failover-cdk-home-')),
      },
      cwd: join(import.meta.dirname, '..', '..'),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => resolve({ code, out, err, outdir }));
  });
}

// A fresh CLI process: seconds on an idle machine, longer on a busy one.
describe('the CDK app through the real CLI (npx cdk synth)', { timeout: 120_000 }, () => {
  it.each([
    ['-c demo=true', ['-c', 'demo=true'], 'EniFailoverDemo'],
    ['-c config=failover.example.json', ['-c', 'config=failover.example.json'], 'EniFailover'],
  ])('synth %s works offline: no network call at all', async (_name, context, stackName) => {
    attempts = [];
    const r = await cdk(['synth', ...context, '--quiet', '--verbose']);
    expect(r.code, r.err).toBe(0);
    expect(reachedOut(r.err), `the CLI tried the network: ${attempts.join(', ')}\n${r.err}`).toBe(false);
    // The functions are prebuilt (npm run build): the synth bundles nothing, so needs no esbuild.
    expect(r.err).not.toContain('Bundling asset');
    // Its functions are the prebuilt bundles, staged as they are.
    const template = JSON.parse(readFileSync(join(r.outdir, `${stackName}.template.json`), 'utf8')) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties?: unknown }>;
    };
    const failover = Object.values(template.Resources).filter(
      (res) =>
        res.Type === 'AWS::Lambda::Function' && JSON.stringify(res.Properties).includes('FAILOVER_PAIRS'),
    );
    expect(failover.length).toBeGreaterThan(0);
    for (const fn of failover) {
      // The prebuilt bundle, and the function's pairs beside it.
      const staged = join(r.outdir, String(fn.Metadata?.['aws:asset:path']));
      expect(readdirSync(staged).sort()).toEqual(['index.mjs', 'pairs.json']);
    }
  });

  it('control: with notices forced on, the same synth is seen reaching out', async () => {
    attempts = [];
    const r = await cdk(['synth', '-c', 'demo=true', '--quiet', '--notices', '--verbose']);
    expect(reachedOut(r.err)).toBe(true);
  });

  it('with neither config nor demo, it explains both', async () => {
    const r = await cdk(['synth', '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('Nothing to deploy');
    expect(r.err).toContain('-c config=FILE');
    expect(r.err).toContain('-c demo=true');
  });

  it('a bad configuration file fails the synth with one error listing every problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eni-failover-config-'));
    const file = join(dir, 'bad.json');
    const [good] = pairs(1);
    writeFileSync(
      file,
      JSON.stringify({
        pairs: [
          { ...good, deviceIndex: 0 },
          { ...good, primaryInstanceId: 'i-XYZ' },
        ],
        alarmDatapoint: 2,
      }),
    );
    const r = await cdk(['synth', '-c', `config=${file}`, '--quiet']);
    expect(r.code).not.toBe(0);
    const lines = [
      'unknown field(s) alarmDatapoint',
      'pairs[0].deviceIndex must be 1 or more',
      'pairs[1].primaryInstanceId must look like i-0123456789abcdef0, got "i-XYZ"',
      'pair name "svc0" is used twice',
      'eni-00000000000000000 is used twice',
    ];
    for (const line of lines) expect(r.err).toContain(line);
    expect(readFileSync(file, 'utf8')).toContain('alarmDatapoint'); // the file is left as it was
  });

  it('bad top-level options answer like pair errors: every problem named, no stack trace', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'eni-failover-config-')), 'options.json');
    writeFileSync(
      file,
      JSON.stringify({
        pairs: pairs(1),
        alarmDatapoints: 0,
        notificationEmails: ['oncall@example.com', 'not-an-email'],
        experiments: ['nope'],
      }),
    );
    const r = await cdk(['synth', '-c', `config=${file}`, '--quiet']);
    expect(r.code).not.toBe(0);
    for (const line of [
      'alarmDatapoints must be a whole number from 1 to 60, got 0',
      'notificationEmails has "not-an-email", not an email address',
      'experiments names "nope", which is not a configured pair',
    ])
      expect(r.err).toContain(line);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
