import { beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../ops/demo';
import { runMotoTests } from '../helpers/tools';

describe.runIf(runMotoTests)('npm run demo', () => {
  // One run for the whole file: the function (lambda/handler.ts) is a module, loaded once per process
  // with its clients bound to that run's moto.
  let failures: number;
  let text: string;
  beforeAll(async () => {
    const lines: string[] = [];
    failures = await runDemo((line) => lines.push(line));
    text = lines.join('\n');
  });

  it('tells the whole story, and every act ends as expected', () => {
    expect(failures, text).toBe(0);
    expect(text).toMatch(/\[web\] MOVED .*\(web primary\) -> .*\(web standby\)/);
    expect(text).toMatch(/\[web\] UNCHANGED/);
    expect(text).toMatch(/\[api\] REFUSED[\s\S]*x target-az: /);
    expect(text).toMatch(/phone: "eni-failover web: MOVED to i-/);
    expect(text).toContain('Every act ended as expected (7 of 7).');
  });

  it('the application act says on screen that its one signal is simulated, and moves without Force off a running primary', () => {
    const act = text.slice(text.indexOf("== 6. The web primary's application fails"), text.indexOf('== 7.'));
    expect(act).toContain('SIMULATED: moto has no EC2 application status checks');
    expect(act).toMatch(/\[web\] MOVED .*\(web primary\) -> .*\(web standby\)/);
    expect(act).toContain('has failed: application status check is impaired');
    expect(act).toContain('triggered by alarm web-primary-application-check');
    expect(act).toMatch(/^ {4}detach /m);
    expect(act).not.toContain('force-detach');
    expect(text).toMatch(/\[web\] REFUSED[\s\S]*x target-application: primary /);
    // The closing table: web on its standby with the primary's application impaired, api down.
    expect(text).toMatch(
      /^web\s+standby\s+running, .*application impaired.*\s+NO\s+\d+\/3\s+(-|cooldown until \S+)\s+\S+Z \(\d+ s ago\) primary -> standby$/m,
    );
    expect(text).toMatch(/^api\s+primary \(FAILED\)\s+stopped, /m);
  });
});
