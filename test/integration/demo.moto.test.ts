import { describe, expect, it } from 'vitest';
import { runDemo } from '../../ops/demo';
import { runMotoTests } from '../helpers/tools';

describe.runIf(runMotoTests)('npm run demo', () => {
  it('tells the whole story, and every act ends as expected', async () => {
    const lines: string[] = [];
    const failures = await runDemo((line) => lines.push(line));
    const text = lines.join('\n');
    expect(failures, text).toBe(0);
    expect(text).toMatch(/\[web\] MOVED .*\(web primary\) -> .*\(web standby\)/);
    expect(text).toMatch(/\[web\] UNCHANGED/);
    expect(text).toMatch(/\[api\] REFUSED[\s\S]*x target-az: /);
    expect(text).toMatch(/phone: "eni-failover web: MOVED to i-/);
    expect(text).toContain('Every act ended as expected (5 of 5).');
  });
});
