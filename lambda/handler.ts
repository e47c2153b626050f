// The function's entry point. Pairs with verifyOs use lambda/handler-os-check.ts instead, so that
// the SSM client (some 90 KiB, and cold-start time with it) is bundled only where it is used.
import { makeHandler } from './main.ts';

export const handler = makeHandler();
