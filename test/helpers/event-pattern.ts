/**
 * EventBridge's matching of an event against a rule's pattern, for what the stack's patterns use: lists of
 * values (any one matches; an array in the event matches if any element does), `{"exists": true|false}`,
 * nested objects, and `$or` at any level (EventBridge User Guide, "Event patterns", "Content filtering").
 * No other operator is modelled: a pattern that uses one fails here, loudly.
 */
export function matches(pattern: Record<string, unknown>, event: unknown): boolean {
  const fields = event !== null && typeof event === 'object' ? (event as Record<string, unknown>) : {};
  return Object.entries(pattern).every(([key, want]) => {
    if (key === '$or') return (want as Record<string, unknown>[]).some((alt) => matches(alt, event));
    const got = fields[key];
    if (Array.isArray(want)) return want.some((w) => matchesValue(w, got));
    if (want !== null && typeof want === 'object') return matches(want as Record<string, unknown>, got);
    throw new Error(`pattern field ${key} must be a list or an object, got ${JSON.stringify(want)}`);
  });
}

function matchesValue(want: unknown, got: unknown): boolean {
  if (want !== null && typeof want === 'object') {
    const ops = Object.keys(want);
    if (ops.length === 1 && ops[0] === 'exists')
      return (got !== undefined) === (want as { exists: boolean }).exists;
    throw new Error(`operator ${JSON.stringify(want)} is not modelled`);
  }
  if (got === undefined) return false;
  return Array.isArray(got) ? got.includes(want) : got === want;
}
