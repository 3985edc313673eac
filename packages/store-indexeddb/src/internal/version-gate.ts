import { isNewerVersion, type StatusChange } from '@durable-rx/runtime/store-kit';

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
 * and then calls {@link VersionGate.releaseAll}, and passes the time of each call.
 *
 * An instance it has forgotten is first seen again, so its next change is accepted whatever its version: a late copy
 * of an older one too. So it forgets an instance only when it tracks more than `maxTracked` and the instance's last
 * change passed on is older than `rememberMs`: the age by which no older copy can still be on its way.
 *
 * @example
 * ```ts
 * const gate = new VersionGate();
 * gate.offer({ instanceId: 'a', after: 1, state: v2 }, now);  // [v2] (first seen: accepted)
 * gate.offer({ instanceId: 'a', after: 3, state: v4 }, now);  // [] (v3 missing: held)
 * gate.offer({ instanceId: 'a', after: 2, state: v3 }, now);  // [v3, v4]
 * gate.offer({ instanceId: 'a', after: 1, state: v2 }, now);  // [] (already passed on)
 * ```
 */
export class VersionGate {
  /**
   * Per instance, the version its last change passed on left it at (0: purged) and when (ms). Insertion order doubles
   * as least-recently-updated order.
   */
  readonly #known = new Map<string, { readonly position: number; readonly atMs: number }>();
  readonly #held = new Map<string, FeedChange[]>();
  readonly #maxTracked: number;
  readonly #rememberMs: number;

  /**
   * @param maxTracked how many instances to remember at least; beyond it the least recently changed are forgotten ...
   * @param rememberMs ... once their last change passed on is older than this (ms)
   */
  constructor(maxTracked = 10_000, rememberMs = 0) {
    this.#maxTracked = maxTracked;
    this.#rememberMs = rememberMs;
  }

  /** True while some change waits for a predecessor. */
  get holding(): boolean {
    return this.#held.size > 0;
  }

  /** Offers one change at `nowMs`; returns the changes to pass on now, in order. */
  offer(change: FeedChange, nowMs: number): FeedChange[] {
    const known = this.#known.get(change.instanceId)?.position;
    if (known !== undefined && change.after !== known) {
      if (mayFollow(change, known)) this.#hold(change);
      return [];
    }
    const out = [change];
    this.#remember(change, nowMs);
    this.#drain(change.instanceId, out, nowMs);
    return out;
  }

  /** Stops waiting for missing predecessors at `nowMs`: returns every held change in order (older ones dropped). */
  releaseAll(nowMs: number): FeedChange[] {
    const out: FeedChange[] = [];
    for (const [instanceId, held] of [...this.#held]) {
      this.#held.delete(instanceId);
      held.sort((a, b) => a.after - b.after);
      for (const change of held) {
        const known = this.#known.get(instanceId)?.position;
        if (known !== undefined && isStale(change, known)) continue;
        out.push(change);
        this.#remember(change, nowMs);
      }
    }
    return out;
  }

  #hold(change: FeedChange): void {
    const held = this.#held.get(change.instanceId);
    if (held) held.push(change);
    else this.#held.set(change.instanceId, [change]);
  }

  #drain(instanceId: string, out: FeedChange[], nowMs: number): void {
    const held = this.#held.get(instanceId);
    if (!held) return;
    for (;;) {
      const known = this.#known.get(instanceId)?.position;
      const next = held.findIndex((c) => c.after === known);
      if (next < 0) break;
      const [change] = held.splice(next, 1) as [FeedChange];
      out.push(change);
      this.#remember(change, nowMs);
    }
    const known = this.#known.get(instanceId)?.position ?? 0;
    const waiting = held.filter((c) => mayFollow(c, known));
    if (waiting.length > 0) this.#held.set(instanceId, waiting);
    else this.#held.delete(instanceId);
  }

  #remember(change: FeedChange, nowMs: number): void {
    this.#known.delete(change.instanceId);
    this.#known.set(change.instanceId, { position: positionOf(change), atMs: nowMs });
    // Least recently changed first, so the first one still remembered ends the loop. A NaN time (a clock that returns
    // an Invalid Date) forgets nothing.
    for (const [oldest, { atMs }] of this.#known) {
      if (this.#known.size <= this.#maxTracked || !(nowMs - atMs > this.#rememberMs)) break;
      this.#known.delete(oldest);
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

/** True when `change` is not newer than the last version passed on (the client's rule: `isNewerVersion`). */
function isStale(change: FeedChange, known: number): boolean {
  return !isNewerVersion(positionOf(change), known);
}
