// The state table's adapter (lambda/aws/state.ts) over dynalite: DynamoDB's API, its condition expressions
// evaluated by an implementation that validates like the service. What a decision relies on: one lease holder,
// a stale look refused, every write a compare-and-swap, the prober's word never moving backwards.
import { describe, expect, it } from 'vitest';
import type { Lease } from '../../lambda/state.ts';
import { localState } from '../helpers/state.ts';

const T = Date.UTC(2026, 10, 22, 10, 15);
const lease = (owner: string, takenAt = T, term = 60_000): Lease => ({
  owner,
  target: 'i-0fedcba9876543210',
  takenAt,
  until: takenAt + term,
});

describe('the lease on DynamoDB', () => {
  it('one holder: a second owner is refused with the live lease; an expired one is taken over', async () => {
    const state = localState();
    expect(await state.takeLease('web', lease('a'), 0)).toBeUndefined();
    const seen = (await state.read('web')).version;
    expect(await state.takeLease('web', lease('b', T + 1_000), seen)).toMatchObject({ owner: 'a' });
    expect(await state.takeLease('web', lease('b', T + 61_000), seen)).toBeUndefined();
    expect((await state.read('web')).lease?.owner).toBe('b');
  });

  it('a take on a stale look (the record changed since) is refused as stale, not granted', async () => {
    const state = localState();
    await state.change('web', () => ({ automaticMoves: [T] }));
    expect(await state.takeLease('web', lease('a'), 0)).toBe('stale');
    expect((await state.read('web')).lease).toBeUndefined();
  });

  it("the SDK's replay of a take whose answer was lost finds the lease its own", async () => {
    const state = localState();
    expect(await state.takeLease('web', lease('a'), 0)).toBeUndefined();
    expect(await state.takeLease('web', lease('a'), 0)).toBeUndefined();
  });

  it('renewal: only by its owner, and never of a released lease', async () => {
    const state = localState();
    await state.takeLease('web', lease('a'), 0);
    expect(await state.renewLease('web', lease('a', T, 90_000))).toBe(true);
    expect((await state.read('web')).lease?.until).toBe(T + 90_000);
    expect(await state.renewLease('web', lease('b'))).toBe(false);
    await state.change('web', () => undefined, { releaseLease: 'a' });
    expect(await state.renewLease('web', lease('a'))).toBe(false);
    expect((await state.read('web')).lease).toBeUndefined();
  });

  it("a release by another owner leaves the holder's lease; a change records beside it", async () => {
    const state = localState();
    await state.takeLease('web', lease('a'), 0);
    const written = await state.change('web', () => ({ flappingPaged: 'x' }), { releaseLease: 'b' });
    expect(written?.flappingPaged).toBe('x');
    expect((await state.read('web')).lease?.owner).toBe('a');
  });
});

describe('every write a compare-and-swap', () => {
  it('concurrent changes are each applied once, none lost', async () => {
    const state = localState();
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        state.change('web', (r) => ({ automaticMoves: [...r.automaticMoves, T + i] })),
      ),
    );
    expect([...(await state.read('web')).automaticMoves].sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => T + i),
    );
  });

  it('a change that finds what it wants writes nothing (a page made once)', async () => {
    const state = localState();
    const once = (mark: string) =>
      state.change('web', (r) => (r.downPaged === mark ? undefined : { downPaged: mark }));
    const pages = await Promise.all([once('m'), once('m'), once('m')]);
    expect(pages.filter((p) => p !== undefined)).toHaveLength(1);
  });

  it("the prober's word never moves backwards: a late observation does not hide a newer one", async () => {
    const state = localState();
    await state.observe('web', 'i-1', { failedAt: T + 2_000, failures: 3 });
    await state.observe('web', 'i-1', { failedAt: T + 1_000, failures: 2, passedAt: T + 500 });
    expect((await state.read('web')).probes['i-1']).toEqual({
      failedAt: T + 2_000,
      failures: 3,
      passedAt: T + 500,
    });
  });
});

describe("the rehearsal's write", () => {
  it('changes nothing and answers allowed', async () => {
    const state = localState();
    await state.takeLease('web', lease('a'), 0);
    const before = await state.read('web');
    expect(await state.rehearse('web')).toBeUndefined();
    expect(await state.rehearse('never-seen')).toBeUndefined();
    expect(await state.read('web')).toEqual(before);
    expect((await state.read('never-seen')).version).toBe(0);
  });
});
