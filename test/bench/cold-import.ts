import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { esbuildOptions, HANDLER_ENTRY, OS_CHECK_ENTRY } from '../../lib/bundling.ts';
import { PAIR } from '../helpers/world.ts';

export interface Bundle {
  bytes: number;
  /** Median, 25th and 75th percentile of the import times, ms. */
  ms: { p25: number; median: number; p75: number };
}

export interface ImportFigures {
  /** The function as deployed (lambda/handler.ts, bundled as the construct bundles it). */
  handler: Bundle;
  /** The entry for pairs that verify the OS (lambda/handler-os-check.ts): the same plus the SSM client. */
  osCheck: Bundle;
  /** A bundle holding only an EC2Client. */
  bare: Bundle;
}

const quantiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(s.length * f))] as number;
  return { p25: q(0.25), median: q(0.5), p75: q(0.75) };
};

async function bundle(entry: string, outfile: string): Promise<number> {
  await build(esbuildOptions(entry, outfile));
  return statSync(outfile).size;
}

/** ms to import a bundle in a fresh node process: what Lambda's init pays before the handler runs. */
function importMs(file: string): number {
  const script = `const t=process.hrtime.bigint();await import(${JSON.stringify(file)});console.log(Number(process.hrtime.bigint()-t)/1e6)`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'eu-west-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      FAILOVER_PAIRS: JSON.stringify([PAIR]),
      NOTIFICATION_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:eni-failover-events',
      FAILOVER_STATE_TABLE: 'eni-failover-state',
    },
  });
  return Number(out.toString().trim());
}

/** The bundled handler beside a bundle holding only an EC2Client, built the same way, imported in turn. */
export async function benchColdImport(dir: string, samples: number): Promise<ImportFigures> {
  mkdirSync(dir, { recursive: true });
  const bareEntry = join(dir, 'bare.ts');
  writeFileSync(
    bareEntry,
    "import { EC2Client } from '@aws-sdk/client-ec2';\nexport const client = new EC2Client({});\n",
  );
  const files = {
    handler: join(dir, 'handler.mjs'),
    osCheck: join(dir, 'handler-os-check.mjs'),
    bare: join(dir, 'bare.mjs'),
  };
  const bytes = {
    handler: await bundle(HANDLER_ENTRY, files.handler),
    osCheck: await bundle(OS_CHECK_ENTRY, files.osCheck),
    bare: await bundle(bareEntry, files.bare),
  };
  const times: Record<keyof typeof files, number[]> = { handler: [], osCheck: [], bare: [] };
  const names = Object.keys(files) as (keyof typeof files)[];
  for (const name of names) importMs(files[name]); // warm the file cache, so that none pays for the disk
  for (let i = 0; i < samples; i++) for (const name of names) times[name].push(importMs(files[name]));
  const figures = (name: keyof typeof files): Bundle => ({ bytes: bytes[name], ms: quantiles(times[name]) });
  return { handler: figures('handler'), osCheck: figures('osCheck'), bare: figures('bare') };
}
