import { mayHaveApplied } from '../model/errors/may-have-applied.js';
import type { Lease } from '../model/message.js';

/**
 * The leases of claims that failed after their lease write was sent and whose outcome the store could not learn
 * (`mayHaveApplied`: a MongoDB write concern error, a connection lost after the retry too), so that such a lease is
 * not left idle until it lapses (an orchestration lease 30 s, an activity lease 5 min): the store looks each one up by
 * its token, at once and at the next claims of the same owner, and hands out the work it took. The one rule of which
 * leases to look up, for every store whose claims can end without an answer.
 *
 * - {@link UnconfirmedClaims.failed} keeps the lease of a claim that failed with `error` when it may have been
 *   written, nothing otherwise (a claim refused, or a read that failed before the write, wrote no lease).
 * - {@link UnconfirmedClaims.pending} names the leases a claim by `owner` at `now` looks up: those of that owner (a
 *   claim never hands out another worker's lease) that are still live, oldest first. Expired ones are forgotten: their
 *   work is claimable by anyone again, and a claim takes it the usual way.
 * - {@link UnconfirmedClaims.settle} forgets a lease once a lookup answered: found (handed out) or not (never written,
 *   or rolled back). A lookup that failed settles nothing: the next claim looks again.
 *
 * Bounded (`capacity`, the oldest go first): claims fail one at a time per worker, and the worker backs off between
 * them.
 *
 * @example
 * ```ts
 * const unconfirmed = new UnconfirmedClaims();
 * try { await leaseNext(lease); } catch (error) { unconfirmed.failed(lease, mapped(error)); throw error; }
 * // the next claim by the same owner:
 * for (const lease of unconfirmed.pending(owner, now)) {
 *   const doc = await findByToken(lease);
 *   unconfirmed.settle(lease.token);
 *   if (doc) return { doc, lease };
 * }
 * ```
 */
export class UnconfirmedClaims {
  readonly #leases = new Map<string, Lease>();

  constructor(readonly capacity = 100) {}

  /** Keeps `lease` when its claim failed with an error after which the lease may have been written; true if kept. */
  failed(lease: Lease, error: unknown): boolean {
    if (!mayHaveApplied(error)) return false;
    this.#leases.set(lease.token, lease);
    if (this.#leases.size > this.capacity) this.#leases.delete(this.#leases.keys().next().value as string);
    return true;
  }

  /** The kept leases of `owner` still live at `now`, oldest first; every lease expired at `now` is forgotten. */
  pending(owner: string, now: Date): Lease[] {
    const live: Lease[] = [];
    for (const [token, lease] of this.#leases) {
      if (lease.expiresAt.getTime() <= now.getTime()) this.#leases.delete(token);
      else if (lease.owner === owner) live.push(lease);
    }
    return live;
  }

  /** Forgets the lease of `token`: a lookup found it (and the claim hands it out) or found nothing. */
  settle(token: string): void {
    this.#leases.delete(token);
  }

  /** How many leases are kept. */
  get size(): number {
    return this.#leases.size;
  }
}
