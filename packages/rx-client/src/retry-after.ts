/**
 * How long an answer's `Retry-After` header asks a client to wait before it tries again (RFC 9110 §10.2.3), in ms: its
 * delay in seconds, or the time from `now` (ms since the epoch) until its HTTP-date; 0 without one, for one that is
 * neither, and for a date already past.
 *
 * @example
 * ```ts
 * retryAfterMs('10', Date.now()); // 10000
 * retryAfterMs(null, Date.now()); // 0
 * ```
 */
export function retryAfterMs(value: string | null, now: number): number {
  const ms = value ? (/^\s*\d+\s*$/.test(value) ? +value * 1000 : Date.parse(value) - now) : 0;
  return ms > 0 ? ms : 0;
}
