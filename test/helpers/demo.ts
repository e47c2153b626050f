import { expect } from 'vitest';

/**
 * Each act of `npm run demo` as the audience must see it end, on either emulator: the outcome and the
 * move on the headline, the check that refused it, Force or not, the phone's subject, and the demo's
 * own verdict (it checks where the ENI is with a fresh read of EC2). One row per act, in order.
 */
const ACTS: { title: string; shows: (RegExp | string)[]; hides?: string[] }[] = [
  {
    title: '1. The web primary fails',
    shows: [
      /\[web\] MOVED .*\(web primary\) -> .*\(web standby\)/,
      'phone: "eni-failover web: MOVED (FORCED) to i-',
    ],
  },
  {
    title: '2. The same alarm is delivered again',
    shows: [/\[web\] UNCHANGED .*\(web standby\)/, 'phone: "eni-failover web: unchanged, held by i-'],
  },
  {
    title: '3. A misconfigured pair',
    shows: [
      /\[api\] REFUSED .*\(api primary\); nothing changed/,
      /x target-az: standby i-\w+ is in eu-west-1b, but the ENI is in eu-west-1a/,
      'phone: "eni-failover api: REFUSED: target-az"',
    ],
    hides: ['    detach', '    attach'],
  },
  {
    title: '4. The web primary is repaired',
    shows: [/\[web\] DRY RUN .*\(web standby\) -> .*\(web primary\); nothing changed/, 'EC2 DryRun allows'],
    hides: ['    detach', '    attach'],
  },
  {
    title: '5. ...and the fail-back itself',
    shows: [/\[web\] MOVED .*\(web standby\) -> .*\(web primary\)/, /^ {4}detach /m],
    hides: ['force-detach'],
  },
  {
    title: "6. The web primary's application fails",
    shows: [
      /\[web\] MOVED .*\(web primary\) -> .*\(web standby\)/,
      'has failed: application status check is impaired',
      'triggered by alarm web-primary-application-check',
      /^ {4}detach /m,
    ],
    hides: ['force-detach'],
  },
  {
    title: '7. A fail-back while the primary',
    shows: [
      /\[web\] REFUSED .*\(web standby\); nothing changed/,
      /x target-application: primary i-\w+ reports its application status check impaired/,
      'phone: "eni-failover web: REFUSED: target-application"',
    ],
  },
  {
    title: "8. The primary's application answers again",
    shows: [/\[web\] MOVED .*\(web standby\) -> .*\(web primary\)/],
    hides: ['force-detach'],
  },
  {
    title: "9. The web primary's service dies on a running instance",
    shows: [
      'SIMULATED: each member',
      /the prober saw 3 failed probes of the primary \(ECONNREFUSED\) while the standby passed: evidence sent \d+\.\d s after/,
      /\[web\] MOVED .*\(web primary\) -> .*\(web standby\)/,
      'triggered by probe evidence on',
      /^ {4}detach /m,
      'phone: "eni-failover web: MOVED to i-',
    ],
    hides: ['force-detach'],
  },
  {
    title: "10. The web primary's service answers again",
    shows: [/\[web\] MOVED .*\(web standby\) -> .*\(web primary\)/],
    hides: ['force-detach'],
  },
  {
    title: '11. The web primary is a Spot Instance',
    shows: [
      'REAL SHAPE: the event is EventBridge\'s "EC2 Spot Instance Interruption Warning"',
      /\[web\] MOVED .*\(web primary\) -> .*\(web standby\)/,
      /is going away: Spot interruption warning for i-\w+ \(terminate at \S+Z\)/,
      'a planned move, made while the holder is healthy: no Force',
      /^ {4}detach /m,
      'phone: "eni-failover web: MOVED to i-',
    ],
    hides: ['force-detach', 'x cooldown'],
  },
  {
    title: '12. Two minutes later EC2 interrupts the Spot primary',
    shows: [/\[web\] UNCHANGED .*\(web standby\)/, /is stopped, but the ENI is held by standby/],
    hides: ['    detach', '    attach'],
  },
];

/** The act's part of the screen: from its title to the next act (or the closing table). */
export function actText(text: string, n: number): string {
  const start = text.indexOf(`== ${n}. `);
  const next = text.indexOf('\n== ', start + 1);
  return start < 0 ? '' : text.slice(start, next < 0 ? undefined : next);
}

/** Every act is on screen, in order, ends as it must, and says OK; the show closes with the fleet table. */
export function expectEveryAct(text: string): void {
  const shown = [...text.matchAll(/^== (\d+)\. /gm)].map((m) => Number(m[1]));
  expect(shown, 'the acts on screen: each needs a row in test/helpers/demo.ts').toEqual(
    ACTS.map((_, i) => i + 1),
  );
  for (const [i, act] of ACTS.entries()) {
    const part = actText(text, i + 1);
    expect(part, text).toContain(`== ${act.title}`);
    for (const s of act.shows) {
      if (typeof s === 'string') expect(part).toContain(s);
      else expect(part).toMatch(s);
    }
    for (const s of act.hides ?? []) expect(part).not.toContain(s);
    expect(part).toMatch(/^ {2}OK: /m);
    expect(part).not.toContain('NOT AS EXPECTED');
  }
  // The closing table: web on its standby, the Spot primary stopped (interrupted), api down.
  expect(text).toMatch(/^web\s+standby\s+stopped, .*\s+NO\s+.*\S+Z \(\d+ s ago\) primary -> standby$/m);
  expect(text).toMatch(/^api\s+primary \(FAILED\)\s+stopped, /m);
  expect(text).toContain(`Every act ended as expected (${ACTS.length} of ${ACTS.length}).`);
}
