import type { KeptParent } from '../store/plan-retention.js';

/**
 * A retention sweeper's memory of the ended parents found keeping their sub-orchestrations (`planRetention`'s
 * `keeps`, given back to it as `keeping` through {@link KeptParents.map}), so that a sweep reads no parent known here.
 * Each entry lasts until the earlier of: its time (`until`, no later than the trust bound it was noted with), which
 * {@link KeptParents.expire} ends; and a change of its instance, heard through `watch` (started again, rewound, purged,
 * anything committed: the next sweep reads it again). Entries stand alone: a due parent noted as kept for as long as
 * the ended ancestor above it keeps its own entry when that ancestor changes. That only keeps more, and not for long:
 * the due parent is listed by the sweeps itself, and once it goes (its ancestor no longer keeps it) its own watch ends
 * its entry, or its time does. At most `max` entries, the earliest noted going first. The first `maxWatched` entries hold one watch each, released with it; the others are remembered without one
 * (trusted until their time, the safety net for a change no watch told), and one noted again while a watch is free
 * takes it. So the watches are bounded whatever `max` is: each costs the store something (one more instance named in
 * MongoStore's per-instance stream, one more read by the IndexedDB stores when another tab goes without its goodbye).
 * {@link KeptParents.clear} releases them all.
 *
 * @example
 * ```ts
 * const kept = new KeptParents((id, changed) => router.watch(id, { next: changed, error: changed, complete: changed }), 10_000, 64);
 * kept.note(decision.keeps, now + 300_000);
 * planRetention(candidates, parents, now, periods, kept.map);
 * ```
 */
export class KeptParents {
  readonly #kept = new Map<string, KeptParent>();
  /** The release of each entry's watch. */
  readonly #unwatch = new Map<string, () => void>();
  readonly #watch: (instanceId: string, changed: () => void) => () => void;
  readonly #max: number;
  readonly #maxWatched: number;

  /**
   * @param watch - starts hearing of the committed changes of one instance, calling `changed` on each (and when the
   *   feed ends); returns its release.
   * @param max - most entries kept.
   * @param maxWatched - most entries watched at once (the rest are kept until their time without a watch).
   */
  constructor(watch: (instanceId: string, changed: () => void) => () => void, max: number, maxWatched: number) {
    this.#watch = watch;
    this.#max = max;
    this.#maxWatched = maxWatched;
  }

  /** The entries, by instance id: what `planRetention` takes as `keeping`. */
  get map(): ReadonlyMap<string, KeptParent> {
    return this.#kept;
  }

  /**
   * Notes what a decision found keeping (`keeps`), each trusted until `trustedUntil` at most; an entry noted again is
   * noted last.
   */
  note(keeps: ReadonlyMap<string, KeptParent>, trustedUntil: number): void {
    for (const [id, found] of keeps) {
      // Deleted first, so that an entry noted again is noted last (the earliest noted go first past `max`).
      this.#kept.delete(id);
      this.#kept.set(id, { executionId: found.executionId, until: Math.min(found.until, trustedUntil) });
      if (this.#unwatch.has(id) || this.#unwatch.size >= this.#maxWatched) continue;
      const unwatch = this.#watch(id, () => this.forget(id));
      if (this.#kept.has(id)) this.#unwatch.set(id, unwatch);
      else unwatch(); // the feed had ended: forgotten at once
    }
    for (const id of this.#kept.keys()) {
      if (this.#kept.size <= this.#max) break;
      this.forget(id);
    }
  }

  /** Forgets the entries whose time has come at `nowMs`. */
  expire(nowMs: number): void {
    for (const [id, kept] of this.#kept) if (kept.until <= nowMs) this.forget(id);
  }

  /** Forgets the entry of `instanceId`, if any, and releases its watch. */
  forget(instanceId: string): void {
    if (!this.#kept.delete(instanceId)) return;
    const unwatch = this.#unwatch.get(instanceId);
    this.#unwatch.delete(instanceId);
    unwatch?.();
  }

  /** Forgets every entry and releases every watch. */
  clear(): void {
    for (const id of [...this.#kept.keys()]) this.forget(id);
  }
}
