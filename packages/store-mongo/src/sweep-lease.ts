import { isValidDate } from '@durable-rx/runtime/store-kit';
import type { Filter, UpdateFilter } from 'mongodb';
import type { SweepDoc } from './documents.js';
import { readBound } from './read-bound.js';

/**
 * How long a process holds a history sweep it took (renewed after every chunk it deletes): one process works a sweep
 * at a time, instead of every process working every pending sweep. A holder that stops (a crash, `close`) leaves it
 * to another process after this long.
 */
export const SWEEP_LEASE_MS = 60_000;

/** How long after a sweep held by another process lapses the store looks at it again (see {@link sweepRecheckDelay}). */
export const SWEEP_RECHECK_MARGIN_MS = 1_000;

/**
 * The `findOneAndUpdate` that takes the oldest pending sweep no process holds at `now` (never taken, its lease
 * lapsed, or a lease further off than twice {@link SWEEP_LEASE_MS}, which only a holder whose clock runs ahead by more
 * than a lease writes: not left stuck should that holder stop) and leases it to `token` until `now` + {@link SWEEP_LEASE_MS}: the server picks
 * and leases atomically, so two processes never take the same sweep while its lease is live. The `sweeps` collection holds only pending sweeps
 * and has no index of its own: the read walks `_id` order (ObjectIds: oldest first) and skips those held. Its
 * `options` bound it as the store's other reads outside a transaction are (`readBound`: `maxTimeMS` and a deadline
 * for a server that never answers): it scans the sweeps, and a pass that waited on it without end would keep `close`
 * waiting too.
 *
 * @example
 * ```ts
 * const { filter, update, options } = sweepClaim(now, token);
 * const sweep = await sweeps.findOneAndUpdate(filter, update, options);
 * ```
 */
export function sweepClaim(now: Date, token: string): {
  readonly filter: Filter<SweepDoc>; readonly update: UpdateFilter<SweepDoc>;
  readonly options: { readonly sort: { readonly _id: 1 }; readonly returnDocument: 'after'; readonly maxTimeMS: number; readonly signal: AbortSignal };
} {
  // `$not` also matches a sweep without the field (written by a commit or purge, or by an earlier version).
  return {
    filter: { leaseExpiresAt: { $not: liveLease(now) } },
    update: sweepLeaseUpdate(now, token),
    options: { sort: { _id: 1 }, returnDocument: 'after', ...readBound() },
  };
}

/**
 * The renewal of a sweep's lease after a chunk: matches only while `token` still holds it (`matchedCount` 0: another
 * process took it after it lapsed, or it is done; the holder stops, which is harmless either way). Bounded as
 * {@link sweepClaim} is (`options`).
 */
export function sweepRenewal(sweep: Pick<SweepDoc, '_id'>, now: Date, token: string): {
  readonly filter: Filter<SweepDoc>; readonly update: UpdateFilter<SweepDoc>; readonly options: { readonly maxTimeMS: number; readonly signal: AbortSignal };
} {
  return { filter: { _id: sweep._id, leaseToken: token }, update: sweepLeaseUpdate(now, token), options: readBound() };
}

/**
 * The lease expiries that are live at `now`: after it, and no further off than two leases (a holder whose clock runs
 * ahead of this one's by up to a lease is still respected; one further ahead is not, see {@link sweepClaim}).
 */
function liveLease(now: Date): { readonly $gt: Date; readonly $lte: Date } {
  return { $gt: now, $lte: new Date(now.getTime() + 2 * SWEEP_LEASE_MS) };
}

function sweepLeaseUpdate(now: Date, token: string): UpdateFilter<SweepDoc> {
  return { $set: { leaseExpiresAt: new Date(now.getTime() + SWEEP_LEASE_MS), leaseToken: token } };
}

/** The read of the sweep whose lease lapses first, among those held at `now` (see {@link sweepRecheckDelay}). */
export function heldSweepsQuery(now: Date): {
  readonly filter: Filter<SweepDoc>; readonly sort: { readonly leaseExpiresAt: 1 }; readonly projection: { readonly _id: 0; readonly leaseExpiresAt: 1 };
} {
  return { filter: { leaseExpiresAt: liveLease(now) }, sort: { leaseExpiresAt: 1 }, projection: { _id: 0, leaseExpiresAt: 1 } };
}

/**
 * When a process that found no sweep to take should look again: once the earliest lease another process holds
 * (`heldUntil`) has lapsed, plus {@link SWEEP_RECHECK_MARGIN_MS}; `undefined` when none is held (nothing to wait for:
 * the next commit, purge or connect that schedules a sweep starts one). So the sweep of a process that stopped is
 * finished by another within about a lease, without polling; a holder that keeps renewing is looked at once a lease.
 *
 * @example
 * ```ts
 * sweepRecheckDelay(new Date(61_000), new Date(1_000)); // 61_000
 * sweepRecheckDelay(undefined, new Date(1_000));        // undefined
 * ```
 */
export function sweepRecheckDelay(heldUntil: Date | undefined, now: Date): number | undefined {
  if (!isValidDate(heldUntil)) return undefined;
  return Math.min(SWEEP_LEASE_MS, Math.max(0, heldUntil.getTime() - now.getTime())) + SWEEP_RECHECK_MARGIN_MS;
}

/** The back-off of a history sweep pass that failed (`sweepRetryDelay`): 1 s doubling to 1 min. */
export const SWEEP_RETRY = { firstMs: 1_000, maxMs: 60_000 } as const;

/**
 * When a process looks again after its `failures`-th history sweep pass in a row failed (1 for the first): 1 s,
 * doubling to a minute, for as long as they fail. Before, a failed pass was logged and waited for the next restart,
 * purge or `connect`: on a quiet database the old generations stayed for good. A pass that gets through (or finds
 * nothing to take) starts the count over.
 *
 * @example
 * ```ts
 * sweepRetryDelay(1);  // 1_000
 * sweepRetryDelay(10); // 60_000
 * ```
 */
export function sweepRetryDelay(failures: number): number {
  const n = Number.isFinite(failures) && failures >= 1 ? Math.floor(failures) : 1;
  return Math.min(SWEEP_RETRY.maxMs, SWEEP_RETRY.firstMs * 2 ** Math.min(n - 1, 30));
}

/**
 * Whether a chunk read of `found` events, when at most `chunk` were asked for, was the rest of its generation: fewer
 * than a chunk means the read found every event left. An old generation never gains events (a sweep names one only
 * once a newer execution or a purge replaced it), so once that chunk is deleted the sweep is done and is deleted at
 * once, without a lease renewal and a read that finds nothing. Safe with several sweepers: another process that took
 * the sweep after this one's lease lapsed deletes the same events and the same sweep (a no-op), or stops when its
 * renewal no longer matches.
 *
 * @example
 * ```ts
 * sweepFinishedBy(3, 1000);    // true: delete those three, then the sweep
 * sweepFinishedBy(1000, 1000); // false: renew the lease and read the next chunk
 * ```
 */
export function sweepFinishedBy(found: number, chunk: number): boolean {
  return found < chunk;
}
