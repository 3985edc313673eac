import type { StatusChange } from '@durable-rx/runtime/store-kit';

/** A committed change as it travels between store handles: the snapshot plus the version it follows. */
export interface FeedChange extends StatusChange {
  /**
   * The version of the instance this change was committed on top of (0: the instance did not exist, e.g. a new
   * instance or one created again after a purge). Receivers use it to put snapshots from several tabs in order.
   */
  readonly after: number;
}

/**
 * Orders committed snapshots per instance when they arrive from several tabs, whose messages may overtake each
 * other. A change is passed on when it follows the last one passed on (`after` equals the last version), dropped when
 * it is older than or equal to it, and held while a predecessor is missing. Pure: the caller decides how long to wait
 * and then calls {@link VersionGate.releaseAll}.
 *
 * @example
 * ```ts
 * const gate = new VersionGate();
 * gate.offer({ instanceId: 'a', after: 1, state: v2 });  // [v2] (first seen: accepted)
 * gate.offer({ instanceId: 'a', after: 3, state: v4 });  // [] (v3 missing: held)
 * gate.offer({ instanceId: 'a', after: 2, state: v3 });  // [v3, v4]
 * gate.offer({ instanceId: 'a', after: 1, state: v2 });  // [] (already passed on)
 * ```
 */
export class VersionGate {
  /** Last version passed on per instance (0: purged). Insertion order doubles as least-recently-updated order. */
  readonly #known = new Map<string, number>();
  readonly #held = new Map<string, FeedChange[]>();
  readonly #maxTracked: number;

  /** @param maxTracked how many instances to remember; the least recently changed are forgotten beyond it. */
  constructor(maxTracked = 10_000) {
    this.#maxTracked = maxTracked;
  }

  /** True while some change waits for a predecessor. */
  get holding(): boolean {
    return this.#held.size > 0;
  }

  /** Offers one change; returns the changes to pass on now, in order. */
  offer(change: FeedChange): FeedChange[] {
    const known = this.#known.get(change.instanceId);
    if (known !== undefined && change.after !== known) {
      if (mayFollow(change, known)) this.#hold(change);
      return [];
    }
    const out = [change];
    this.#remember(change);
    this.#drain(change.instanceId, out);
    return out;
  }

  /** Stops waiting for missing predecessors: returns every held change in order (older ones dropped). */
  releaseAll(): FeedChange[] {
    const out: FeedChange[] = [];
    for (const [instanceId, held] of [...this.#held]) {
      this.#held.delete(instanceId);
      held.sort((a, b) => a.after - b.after);
      for (const change of held) {
        const known = this.#known.get(instanceId);
        if (known !== undefined && isStale(change, known)) continue;
        out.push(change);
        this.#remember(change);
      }
    }
    return out;
  }

  #hold(change: FeedChange): void {
    const held = this.#held.get(change.instanceId);
    if (held) held.push(change);
    else this.#held.set(change.instanceId, [change]);
  }

  #drain(instanceId: string, out: FeedChange[]): void {
    const held = this.#held.get(instanceId);
    if (!held) return;
    for (;;) {
      const known = this.#known.get(instanceId);
      const next = held.findIndex((c) => c.after === known);
      if (next < 0) break;
      const [change] = held.splice(next, 1) as [FeedChange];
      out.push(change);
      this.#remember(change);
    }
    const known = this.#known.get(instanceId) ?? 0;
    const waiting = held.filter((c) => mayFollow(c, known));
    if (waiting.length > 0) this.#held.set(instanceId, waiting);
    else this.#held.delete(instanceId);
  }

  #remember(change: FeedChange): void {
    this.#known.delete(change.instanceId);
    this.#known.set(change.instanceId, positionOf(change));
    if (this.#known.size > this.#maxTracked) {
      const oldest = this.#known.keys().next();
      if (!oldest.done) this.#known.delete(oldest.value);
    }
  }
}

/** The version a change leaves the instance at (0: purged). */
function positionOf(change: StatusChange): number {
  return change.state?.version ?? 0;
}

/**
 * True when `change` may still come after the last version passed on, so it is worth holding. A creation from nothing
 * (`after` 0) while the instance is still known waits for the purge that must precede it.
 */
function mayFollow(change: FeedChange, known: number): boolean {
  return (change.after === 0 && known !== 0) || !isStale(change, known);
}

/** True when `change` is not newer than the last version passed on. */
function isStale(change: FeedChange, known: number): boolean {
  const position = positionOf(change);
  if (position === 0) return known === 0;
  return known !== 0 && position <= known;
}
