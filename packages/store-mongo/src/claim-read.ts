import type { Lease } from '@durable-rx/runtime/store-kit';
import { CLAIM_MESSAGE_BYTES } from './claimed-work.js';
import type { ClaimRead, InstanceDoc } from './documents.js';
import { UNCLAIMED_SCAN_LIMIT, visibleMessagesQuery, type VisibleMessagesQuery } from './queries.js';

/**
 * How a claim of at most `limit` messages at `now` under `lease` reads them ({@link ClaimRead}), which its lease write
 * records ({@link claimLeaseUpdate}) and its read follows ({@link claimedMessagesQuery}).
 *
 * @example
 * ```ts
 * claimReadOf(lease, now, 100); // { token: lease.token, at: now, limit: 100, bytes: CLAIM_MESSAGE_BYTES }
 * ```
 */
export function claimReadOf(lease: Pick<Lease, 'token'>, now: Date, limit: number): ClaimRead {
  return { token: lease.token, at: now, limit, bytes: CLAIM_MESSAGE_BYTES };
}

/**
 * The update of a claim's lease write (a pipeline, in the `findOneAndUpdate` that picks the instance): the lease,
 * `claimAt`, and in that same write `leaseSeq`, the instance's `messageSeq` as the write reads it (no message queued
 * after it is handed out), and `leaseRead`, how the claim reads its messages (`read`). With both, an unclaimed write
 * refused under this lease reads exactly the messages the claim hands out (`claimedMessagesQuery`): a claim of at most
 * so many messages leaves later ones queued, which do not count as taken. Every value is a `$literal`, so that no
 * string is read as a field path and no object as an expression.
 *
 * @example
 * ```ts
 * claimLeaseUpdate(lease, claimAt, claimReadOf(lease, now, 100));
 * // [{ $set: { leaseOwner: { $literal: 'w1' }, ..., leaseSeq: '$messageSeq', leaseRead: { $literal: { token, at: now, limit: 100, bytes } } } }]
 * ```
 */
export function claimLeaseUpdate(lease: Pick<Lease, 'owner' | 'token' | 'expiresAt'>, claimAt: Date, read: ClaimRead): Record<string, unknown>[] {
  return [{
    $set: {
      leaseOwner: { $literal: lease.owner }, leaseToken: { $literal: lease.token }, leaseExpiresAt: { $literal: lease.expiresAt },
      claimAt: { $literal: claimAt }, leaseSeq: '$messageSeq', leaseRead: { $literal: read },
    },
  }];
}

/**
 * The reads of the messages a claim hands out (`read`, {@link ClaimRead}, up to `upToSeq`, its `leaseSeq`): the claim's
 * own read, and an unclaimed write's read of what the claim holding the instance took. The same messages either time
 * while the lease is held: none up to `upToSeq` is added after the lease write, the timers visible at `read.at` stay
 * so, and the claimed ones are deleted only by the step's commit, which releases the lease. The caller keeps the first
 * ones within `read.bytes` (`takeWithinBytes`).
 *
 * @example
 * ```ts
 * claimedMessagesQuery('order-1', { at: now, limit: 2 }, 7).atOnce.filter; // { instanceId: 'order-1', due: EPOCH, seq: { $lte: 7 } }, 2 at most
 * ```
 */
export function claimedMessagesQuery(key: string, read: Pick<ClaimRead, 'at' | 'limit'>, upToSeq: number): VisibleMessagesQuery {
  return visibleMessagesQuery(key, read.at, { upToSeq, limit: read.limit });
}

/**
 * The {@link ClaimRead} the claim holding `doc`'s lease recorded, or `undefined`: a lease written by a claim of an
 * earlier version (no record, or one another claim left, whose token is not the lease's), or a record that is not one
 * this version writes (a limit past `UNCLAIMED_SCAN_LIMIT`, which no claim takes). The check then falls back on every
 * message up to `leaseSeq`.
 *
 * @example
 * ```ts
 * recordedClaimRead({ leaseToken: 't1', leaseRead: { token: 't1', at, limit: 2, bytes } }); // that record
 * recordedClaimRead({ leaseToken: 't2', leaseRead: { token: 't1', at, limit: 2, bytes } }); // undefined
 * ```
 */
export function recordedClaimRead(doc: { readonly leaseToken?: string | null | undefined; readonly leaseRead?: unknown }): ClaimRead | undefined {
  const read = doc.leaseRead as Partial<Record<keyof ClaimRead, unknown>> | null | undefined;
  if (read === null || typeof read !== 'object' || typeof doc.leaseToken !== 'string' || read.token !== doc.leaseToken) return undefined;
  const { at, limit, bytes } = read;
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) return undefined;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > UNCLAIMED_SCAN_LIMIT) return undefined;
  if (typeof bytes !== 'number' || !(bytes > 0)) return undefined;
  return { token: doc.leaseToken, at, limit, bytes };
}

/**
 * How the claim that leased `doc` under `lease` (at `now`, asking for at most `limit` messages) reads the messages it
 * hands out: by the record its lease write left ({@link recordedClaimRead}), up to the `leaseSeq` that write read,
 * which are the bounds an unclaimed write's check reads again (`unclaimedWriteRefusal`); without a record (none is
 * expected of this version's lease write), by `now` and `limit` up to `messageSeq`. A lease this process recovers
 * (`#recoverInstance`, its write's outcome unknown) is read after its write, so its `messageSeq` may be past messages
 * sent since, which that lease did not take: `leaseSeq` bounds them.
 *
 * @example
 * ```ts
 * claimedReadOf({ messageSeq: 9, leaseSeq: 7, leaseRead: record }, lease, now, 100); // { read: record, upToSeq: 7 }
 * ```
 */
export function claimedReadOf(
  doc: Pick<InstanceDoc, 'messageSeq' | 'leaseSeq' | 'leaseRead'>, lease: Pick<Lease, 'token'>, now: Date, limit: number,
): { read: ClaimRead; upToSeq: number } {
  const recorded = recordedClaimRead({ leaseToken: lease.token, leaseRead: doc.leaseRead });
  if (recorded && typeof doc.leaseSeq === 'number') return { read: recorded, upToSeq: doc.leaseSeq };
  return { read: claimReadOf(lease, now, limit), upToSeq: doc.messageSeq };
}

/** The fields of an instance document {@link recordedClaimRead} reads. */
export type RecordedClaimFields = Pick<InstanceDoc, 'leaseToken' | 'leaseRead'>;
