/** The lease renewal of one running activity (`Worker.#heartbeat`). */
export interface Heartbeat {
  stop(): void;
  /** The expiry its last renewal gave the lease (ms on the clock), when it renewed it. */
  readonly until?: number;
  /**
   * The latest expiry a renewal it sent may give the lease (ms on the clock), answered or not: one abandoned unanswered
   * may still apply.
   */
  readonly latest?: number;
}

/** A heartbeat that has begun, with the expiry its last renewal gave the lease and the latest one sent (0 before its first). */
export type RunningHeartbeat = Heartbeat & { readonly until: number; readonly latest: number };

/**
 * An activity task's lease renewals, and the one rule for a renewal that finds the lease gone: while the activity runs
 * the loss is reported as it is found (`reportLost`); once its result is being committed (`committing`), the commit's
 * attempts report it, asking `lostOrWait` before they wait to try again, which wakes them when a renewal finds it.
 *
 * @example
 * ```ts
 * const renewal = new ActivityLeaseRenewal(item.lease.expiresAt.getTime(), (lost) => heartbeat(lost), () => log('lost'));
 * renewal.keep();                                   // renewing from now on
 * renewal.committing();
 * if (renewal.lostOrWait(() => retryNow())) giveUp(); // or woken once a renewal finds the lease gone
 * ```
 */
export class ActivityLeaseRenewal {
  readonly #claimedUntilMs: number;
  readonly #begin: (lost: () => void) => RunningHeartbeat;
  readonly #reportLost: () => void;
  #heartbeat: RunningHeartbeat | undefined;
  #ended = false;
  #lost = false;
  #committing = false;
  #onLost: (() => void) | undefined;

  /**
   * @param claimedUntilMs the expiry of the task's lease as claimed (ms on the clock).
   * @param begin starts the heartbeat, which calls `lost` when a renewal finds the lease gone.
   * @param reportLost reports a lease found gone while the activity runs.
   */
  constructor(claimedUntilMs: number, begin: (lost: () => void) => RunningHeartbeat, reportLost: () => void) {
    this.#claimedUntilMs = claimedUntilMs;
    this.#begin = begin;
    this.#reportLost = reportLost;
  }

  /** Starts renewing (once; later calls return the same heartbeat). */
  keep(): RunningHeartbeat {
    return (this.#heartbeat ??= this.#begin(() => this.#found()));
  }

  /** Ends the renewals; true when they were going on until now. */
  stop(): boolean {
    const renewing = this.#heartbeat !== undefined && !this.#ended;
    this.#ended = true;
    this.#heartbeat?.stop();
    return renewing;
  }

  /** When the task's lease expires (ms on the clock): its claim's expiry, or its last renewal's end if later. */
  until(): number {
    return Math.max(this.#claimedUntilMs, this.#heartbeat?.until ?? 0);
  }

  /** The latest the task's lease may be held until (ms on the clock): {@link until}, or a renewal sent since, if later. */
  latest(): number {
    return Math.max(this.#claimedUntilMs, this.#heartbeat?.latest ?? 0);
  }

  /** The result is being committed from now on: a lease found gone is the commit's attempts' to report. */
  committing(): void {
    this.#committing = true;
  }

  /**
   * True when a renewal found the lease gone (the renewals ended). Otherwise `onLost` is called once one does, until
   * another call replaces it (`undefined`: nothing is called).
   */
  lostOrWait(onLost: (() => void) | undefined): boolean {
    if (this.#lost) return true;
    this.#onLost = onLost;
    return false;
  }

  #found(): void {
    this.#lost = true;
    if (!this.#committing) this.#reportLost();
    const onLost = this.#onLost;
    this.#onLost = undefined;
    onLost?.();
  }
}
