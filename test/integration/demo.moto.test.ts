import { beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../ops/demo.ts';
import { chooseEmulator } from '../../ops/emulator.ts';
import { actText, expectEveryAct } from '../helpers/demo.ts';
import { runMotoTests } from '../helpers/tools.ts';

describe.runIf(runMotoTests)('npm run demo, on moto', () => {
  // One run for the whole file: the function (lambda/handler.ts) is a module, loaded once per process
  // with its clients bound to that run's moto.
  let failures: number;
  let text: string;
  beforeAll(async () => {
    const lines: string[] = [];
    // What `npm run demo` chooses by itself: moto, when it is on the PATH (under CI=true it must be).
    failures = await runDemo(chooseEmulator(), (line) => lines.push(line));
    text = lines.join('\n');
    // Finding moto, starting it and playing every act: 15 s alone, over a minute on a crowded machine.
  }, 150_000);

  it('says first that moto plays EC2, and why, then tells the whole story: every act ends as expected', () => {
    expect(text.split('\n')[0]).toBe('EC2 here is moto, because moto_server is on the PATH.');
    expect(failures, text).toBe(0);
    expectEveryAct(text);
  });

  it('the application act says on screen that its one signal is simulated by a proxy in front of moto', () => {
    expect(actText(text, 6)).toContain('SIMULATED: moto has no EC2 application status checks');
    expect(text).not.toContain('MODELLED');
  });
});
