// The entry point for functions whose pairs set verifyOs: lambda/handler.ts plus the SSM client.
import { SsmAdapter } from './aws/ssm.ts';
import { makeHandler } from './main.ts';
import { systemClock } from './retry.ts';

export const handler = makeHandler(() => new SsmAdapter(SsmAdapter.client(), systemClock));
