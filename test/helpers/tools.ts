import { MOTO_COMMAND, toolAvailable } from '../../ops/moto.ts';

export { type Moto, startMoto } from '../../ops/moto.ts';

/**
 * moto is installed on the project's machines with pip and cannot come from npm. Without it the
 * tests that need it are skipped, loudly; under CI=true they run and fail, so CI never passes blind.
 */
export const motoAvailable = toolAvailable(MOTO_COMMAND);
export const inCI = process.env.CI === 'true';
export const runMotoTests = motoAvailable || inCI;

/** cfn-lint comes from pip too, with the same policy. */
export const CFN_LINT = 'cfn-lint';
export const cfnLintAvailable = toolAvailable(CFN_LINT);
export const runCfnLintTests = cfnLintAvailable || inCI;
if (!runMotoTests) {
  console.warn(
    `\n*** ${MOTO_COMMAND} is not installed: the moto tests are SKIPPED. pip install 'moto[server]' to run them. ***\n`,
  );
}
