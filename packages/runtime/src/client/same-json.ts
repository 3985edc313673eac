/**
 * True when two values have the same JSON text (Dates compare by instant). Used to drop repeated snapshots. Two
 * different strings, booleans, finite numbers or `null` differ without serialising anything: custom statuses are
 * mostly such values, and this runs on every committed snapshot a `customStatus$` watcher receives.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (isScalar(a) && isScalar(b)) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A value whose JSON text differs from that of every other scalar that is not `===` to it. */
function isScalar(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}
