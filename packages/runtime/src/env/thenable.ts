/**
 * Whether `value` is a thenable (a promise or anything with a `then` method); when it is, its rejection is handled
 * (dropped), so a promise that a caller cannot wait for never ends a Node process as an unhandled rejection. Throws
 * what reading or calling `then` throws.
 */
export function dropRejection(value: unknown): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const then = (value as { then?: unknown }).then;
  if (typeof then !== 'function') return false;
  then.call(value, undefined, () => {});
  return true;
}
