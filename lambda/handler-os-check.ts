// The entry point for functions whose pairs set verifyOs: lambda/handler.ts plus the SSM client.
import { SsmAdapter } from './aws/ssm';
import { makeHandler } from './main';
import { systemClock } from './retry';

export const handler = makeHandler(() => new SsmAdapter(SsmAdapter.client(), systemClock));
