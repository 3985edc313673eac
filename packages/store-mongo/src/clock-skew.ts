/**
 * The clock check MongoStore runs when it connects. Leases are judged by each worker's clock (`ClaimOptions.now`),
 * so workers whose clocks disagree by more than a lease margin can take over each other's live leases. The server's
 * clock (`localTime` of the `hello` reply) is the shared reference.
 */

/** Default largest tolerated difference between this process's clock and the server's. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 2_000;

/** What the clock check measured. */
export interface ClockSkew {
  /** This process's clock minus the server's, corrected by half the round trip (positive: this clock is ahead). */
  readonly skewMs: number;
  /** The measurement's uncertainty: half the round trip. */
  readonly uncertaintyMs: number;
}

/**
 * Measures the skew from the server's `localTime` and the local times just before the request and just after the
 * reply (NTP-style: the server read its clock about half-way through the round trip).
 *
 * @example
 * ```ts
 * measureClockSkew(new Date(1_000), 990, 1_030); // { skewMs: 10, uncertaintyMs: 20 }
 * ```
 */
export function measureClockSkew(serverTime: Date, sentAtMs: number, receivedAtMs: number): ClockSkew {
  const roundTrip = Math.max(0, receivedAtMs - sentAtMs);
  return { skewMs: sentAtMs + roundTrip / 2 - serverTime.getTime(), uncertaintyMs: roundTrip / 2 };
}

/**
 * The warning to log for a measured skew, or `undefined` when the clocks agree within `maxSkewMs` (allowing for the
 * measurement's uncertainty).
 *
 * @example
 * ```ts
 * clockSkewWarning({ skewMs: 5_000, uncertaintyMs: 1 }, 2_000); // 'This process\u2019s clock is 5000 ms ahead of ...'
 * ```
 */
export function clockSkewWarning(skew: ClockSkew, maxSkewMs: number): string | undefined {
  if (Math.abs(skew.skewMs) - skew.uncertaintyMs <= maxSkewMs) return undefined;
  const amount = Math.round(Math.abs(skew.skewMs));
  const direction = skew.skewMs > 0 ? 'ahead of' : 'behind';
  return (
    `This process\u2019s clock is ${amount} ms ${direction} the MongoDB server\u2019s (tolerated: ${maxSkewMs} ms). ` +
    'Leases and timers are judged by each worker\u2019s clock: a worker whose clock runs ahead can take over live ' +
    'leases of others (work runs twice), one that runs behind delays timers. Synchronise the clocks (NTP).'
  );
}
