// Before any test file: the prebuilt functions the construct deploys are rebuilt if lambda/ is newer than them,
// so the templates under test never carry a stale bundle.
import { ensureFunctions } from '../../scripts/build-functions.ts';

export default async function setup(): Promise<void> {
  await ensureFunctions();
}
