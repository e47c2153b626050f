// The entry point for functions whose pairs set verifyOs: lambda/handler.ts plus the SSM client.
import { SsmAdapter } from './aws/ssm';
import { systemClock } from './execute';
import { makeHandler } from './main';

export const handler = makeHandler(() => new SsmAdapter(SsmAdapter.client(), systemClock));
