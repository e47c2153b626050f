import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { BUNDLING, HANDLER_ENTRY } from '../../lib/bundling';
import { PAIR } from '../helpers/world';

export interface Bundle {
  bytes: number;
  /** Median, 25th and 75th percentile of the import times, ms. */
  ms: { p25: number; median: number; p75: number };
}

export interface ImportFigures {
  /** The function as deployed: SDK clients traced through Powertools Tracer (the X-Ray SDK). */
  handler: Bundle;
  /** The same function with Tracer replaced by a no-op, to show what SDK tracing costs. */
  untraced: Bundle;
  /** A bundle holding only an EC2Client. */
  bare: Bundle;
}

/** For the measurement only: a Tracer that traces nothing, so the X-Ray SDK stays out of the bundle. */
const noTracer: Plugin = {
  name: 'no-tracer',
  setup(b) {
    b.onResolve({ filter: /^@aws-lambda-powertools\/tracer$/ }, () => ({
      path: 'tracer',
      namespace: 'no-tracer',
    }));
    b.onLoad({ filter: /.*/, namespace: 'no-tracer' }, () => ({
      contents: 'export class Tracer { captureAWSv3Client(c) { return c; } }',
      loader: 'js',
    }));
  },
};

const quantiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(s.length * f))] as number;
  return { p25: q(0.25), median: q(0.5), p75: q(0.75) };
};

async function bundle(entry: string, outfile: string, plugins: Plugin[] = []): Promise<number> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: BUNDLING.format,
    target: BUNDLING.target,
    mainFields: [...BUNDLING.mainFields],
    minify: BUNDLING.minify,
    banner: { js: BUNDLING.banner },
    logLevel: 'error',
    plugins,
  });
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
    untraced: join(dir, 'untraced.mjs'),
    bare: join(dir, 'bare.mjs'),
  };
  const bytes = {
    handler: await bundle(HANDLER_ENTRY, files.handler),
    untraced: await bundle(HANDLER_ENTRY, files.untraced, [noTracer]),
    bare: await bundle(bareEntry, files.bare),
  };
  const times: Record<keyof typeof files, number[]> = { handler: [], untraced: [], bare: [] };
  const names = Object.keys(files) as (keyof typeof files)[];
  for (const name of names) importMs(files[name]); // warm the file cache, so that none pays for the disk
  for (let i = 0; i < samples; i++) for (const name of names) times[name].push(importMs(files[name]));
  const figures = (name: keyof typeof files): Bundle => ({ bytes: bytes[name], ms: quantiles(times[name]) });
  return { handler: figures('handler'), untraced: figures('untraced'), bare: figures('bare') };
}
