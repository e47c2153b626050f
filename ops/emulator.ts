// Which emulator plays EC2 for the demo, kept apart from the demo itself so that a bad command line is
// answered before the function and the SDK are loaded.
import { MOTO_COMMAND, toolAvailable } from './moto.ts';

/** The emulators that can play EC2 (and SNS) for the demo. */
export const EMULATORS = ['moto', 'embedded'] as const;
export type EmulatorName = (typeof EMULATORS)[number];

/** A command line the demo cannot run: the CLI prints it and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Which emulator plays EC2, and why: the first line on screen says both. */
export interface EmulatorChoice {
  name: EmulatorName;
  why: string;
}

/**
 * moto when it is on the PATH (an emulator nobody here wrote is the stronger proof), else the embedded
 * one, which needs nothing but Node.js; `forced` (from --emulator) decides instead.
 */
export function chooseEmulator(forced?: string): EmulatorChoice {
  if (forced === 'embedded') return { name: 'embedded', why: '--emulator embedded asked for it' };
  if (forced !== undefined && forced !== 'moto')
    throw new UsageError(`--emulator must be one of ${EMULATORS.join(', ')}, not '${forced}'`);
  const moto = toolAvailable(MOTO_COMMAND);
  if (forced === 'moto') {
    if (!moto)
      throw new UsageError(
        `--emulator moto: ${MOTO_COMMAND} is not on the PATH; install it with pip install 'moto[server]', or leave out --emulator to play the demo on the embedded EC2`,
      );
    return { name: 'moto', why: '--emulator moto asked for it' };
  }
  return moto
    ? { name: 'moto', why: `${MOTO_COMMAND} is on the PATH` }
    : {
        name: 'embedded',
        why: `${MOTO_COMMAND} is not on the PATH (pip install 'moto[server]' to play the demo on moto)`,
      };
}

/** The first line on screen: which emulator plays EC2, and why. */
export function headline(choice: EmulatorChoice): string {
  const who =
    choice.name === 'moto' ? 'moto' : 'the embedded in-memory EC2 (ops/fake-ec2.ts, in this process)';
  return `EC2 here is ${who}, because ${choice.why}.`;
}
