import { ALL_RUNTIME_STATUSES } from '@durable-rx/runtime';
import { isNewerVersion, isValidDate, type InstanceState, type StatusChange } from '@durable-rx/runtime/store-kit';

/** A committed change as it travels between store handles: the snapshot plus the version it follows. */
export interface FeedChange extends StatusChange {
  /**
   * The version of the instance this change was committed on top of (0: the instance did not exist, e.g. a new
   * instance or one created again after a purge). Receivers use it to put snapshots from several tabs in order.
   */
  readonly after: number;
  /**
   * The state's input is the one of the instance's input record, which names the state's execution and which the commit
   * did not write (a step of an execution, its end): the receiving handle knows it already (it kept it when the
   * execution's start was posted) or reads it. A change posted on the channel with this mark may leave its state's
   * input out (no `input` member): only to feeds that said they take such changes, which put the input back before
   * any subscriber hears of the change (see `ChangeFeed`). Absent: the state carries its input, or has none.
   */
  readonly inputApart?: true;
}

/**
 * True when `value` is a change a feed can deliver: what every change that arrives from another handle (a commit on the
 * channel, a late answer's kept commits) must be before it reaches the {@link VersionGate} and the readers. Anything a
 * structured clone carries can arrive there (a script of the origin posts on the channel, a tab runs another version
 * of this package), and a reader takes a delivered change for an {@link InstanceState} (`status$`, `instances$`,
 * `history$`): so the instance id is a string, `after` a count, a snapshot (absent: a purge) has the fields readers
 * read with their types (its own id the change's, valid Dates, a version of at least 1), and a purge's `purged` names
 * an execution and a version, and a change marked {@link FeedChange.inputApart} has a snapshot. Payloads (`input`,
 * `output`, `customStatus`) may be anything. Pure.
 *
 * @example
 * ```ts
 * isFeedChange({ instanceId: 'a', after: 0, state: snapshot }); // true
 * isFeedChange({ instanceId: 'a', after: 0, state: null });     // false: neither a snapshot nor a purge
 * ```
 */
export function isFeedChange(value: unknown): value is FeedChange {
  // Members of anything but null and undefined read as undefined when absent: a primitive fails the first check.
  const change = value as Loose | null | undefined;
  const state = change?.state as Loose | null | undefined;
  const purged = change?.purged as Loose | null | undefined;
  const failure = state?.failureDetails as Loose | null | undefined;
  const previous = state?.previousHistory as Loose | null | undefined;
  return typeof change?.instanceId === 'string' && isCount(change.after, 0)
    && (change.inputApart === undefined || (change.inputApart === true && state !== undefined))
    && (purged === undefined || (typeof purged?.executionId === 'string' && isCount(purged.version, 1)))
    && (state === undefined || (state?.instanceId === change.instanceId && typeof state.name === 'string'
      && typeof state.executionId === 'string' && ALL_RUNTIME_STATUSES.includes(state.runtimeStatus as InstanceState['runtimeStatus'])
      && isValidDate(state.createdTime) && isValidDate(state.lastUpdatedTime) && isCount(state.version, 1) && isCount(state.historyLength, 0)
      && (state.historyEpoch === undefined || isCount(state.historyEpoch, 0))
      && (state.parentInstanceId === undefined || typeof state.parentInstanceId === 'string')
      && (failure === undefined || (typeof failure?.errorType === 'string' && typeof failure.errorMessage === 'string'))
      && (previous === undefined || (typeof previous?.execution === 'string' && isCount(previous.events, 0)))));
}

/** An object read member by member, none trusted. */
type Loose = { readonly [member: string]: unknown };

/** A safe integer of at least `min`. */
function isCount(value: unknown, min: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= min;
}

/**
 * A snapshot read from the database, offered to the {@link VersionGate} as the commit that wrote it: each commit raises
 * an instance's version by one (`planWriteSet`), so it followed `version - 1`. A tab that went between committing and
 * posting never posts its last commits; the other tabs read the instances they watch when its feed's lock frees
 * (`IdbStore`), and the gate passes such a read on when it follows the last snapshot passed on, drops it when it is
 * not newer, and otherwise holds it as any change whose predecessor is missing: a commit still on its way from a live
 * tab comes first, and what the dead tab never posted is skipped once the gap's wait is over. What it committed in its
 * last moment before that latest state cannot be read again (a snapshot is not kept once the next one replaces it).
 */
export function readChangeOf(state: InstanceState): FeedChange {
  return { instanceId: state.instanceId, after: state.version - 1, state };
}

/**
 * Orders committed snapshots per instance when they arrive from several tabs, whose messages may overtake each
 * other. A change is passed on when it follows the last one passed on (`after` equals the last version), dropped when
 * it is older than or equal to it, and held while a predecessor is missing. Pure: the caller decides how long to wait
 * and calls {@link VersionGate.release} with the time up to which held changes have waited long enough (each change
 * waits its own full time: see {@link VersionGate.oldestHeldMs}), and passes the time of each call.
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
   * Per instance, the version its last change passed on left it at (0: purged), that change's execution and when
   * (ms). Insertion order doubles as least-recently-updated order.
   */
  readonly #known = new Map<string, Known>();
  /** Per instance, the changes waiting for a predecessor, each with the time it was first held (ms). */
  readonly #held = new Map<string, Held[]>();
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

  /** When the change held longest was first held (ms), or undefined when none is. */
  get oldestHeldMs(): number | undefined {
    let oldest: number | undefined;
    for (const held of this.#held.values()) for (const { atMs } of held) if (oldest === undefined || atMs < oldest) oldest = atMs;
    return oldest;
  }

  /** Offers one change at `nowMs`; returns the changes to pass on now, in order. */
  offer(change: FeedChange, nowMs: number): FeedChange[] {
    const known = this.#known.get(change.instanceId)?.position;
    if (known !== undefined && change.after !== known) {
      if (mayFollow(change, known) || this.#follows(change)) this.#hold(change, nowMs);
      return [];
    }
    const out = [change];
    this.#remember(change, nowMs);
    this.#drain(change.instanceId, out, nowMs);
    return out;
  }

  /**
   * Stops waiting for the missing predecessors of the changes held at or before `heldUntilMs`, at `nowMs`: returns
   * them in order (older ones dropped), with the held changes of their instance that come before them or follow them.
   * A change held later waits on. A held creation from nothing (`after` 0) of another execution than the one passed
   * on is a new run whose purge was lost (its tab went before it told the others): passed on, whatever its version,
   * after the changes of the run passed on held with it (its versions start again at 1: see `passingOrder`) and that
   * purge, which names the snapshot passed on before (`purged`), so that a reader that holds it takes the purge and
   * then the creation by the one rule (`isNewerChange`).
   */
  release(heldUntilMs: number, nowMs: number): FeedChange[] {
    const out: FeedChange[] = [];
    for (const [instanceId, all] of [...this.#held]) {
      // The last of them that waited long enough: it and every one before it come out now (the earlier ones would be
      // stale once it passed).
      const held = passingOrder(all, this.#known.get(instanceId));
      let last = -1;
      // (A NaN time, of a clock that returns an Invalid Date, has waited long enough.)
      for (let i = 0; i < held.length; i++) if (!(held[i]!.atMs > heldUntilMs)) last = i;
      if (last < 0) continue;
      this.#held.set(instanceId, held.slice(last + 1));
      for (const { change } of held.slice(0, last + 1)) {
        const known = this.#known.get(instanceId);
        if (known?.executionId !== undefined && isNewRun(change, known)) {
          const purge = lostPurge(instanceId, known.executionId, known.position);
          out.push(purge);
          this.#remember(purge, nowMs);
        } else if (known !== undefined && isStale(change, known.position)) continue;
        out.push(change);
        this.#remember(change, nowMs);
      }
      this.#drain(instanceId, out, nowMs);
    }
    return out;
  }

  /**
   * The purge of an instance a read found gone (purged by a tab that went before posting it, or lost with the data the
   * browser cleared), at `nowMs`: it follows the last snapshot passed on and names it, so readers that hold it take it
   * (`isNewerChange`); the changes held for the instance go with it. None for an instance not known, or known as purged.
   */
  lost(instanceId: string, nowMs: number): FeedChange[] {
    const known = this.#known.get(instanceId);
    if (known?.executionId === undefined) return [];
    this.#held.delete(instanceId);
    const purge = lostPurge(instanceId, known.executionId, known.position);
    this.#remember(purge, nowMs);
    return [purge];
  }

  /** {@link VersionGate.release} of every held change. */
  releaseAll(nowMs: number): FeedChange[] {
    return this.release(Infinity, nowMs);
  }

  #hold(change: FeedChange, nowMs: number): void {
    const held = this.#held.get(change.instanceId);
    if (held) held.push({ change, atMs: nowMs });
    else this.#held.set(change.instanceId, [{ change, atMs: nowMs }]);
  }

  #drain(instanceId: string, out: FeedChange[], nowMs: number): void {
    const held = this.#held.get(instanceId);
    if (!held) return;
    for (;;) {
      const known = this.#known.get(instanceId)?.position;
      const next = held.findIndex((h) => h.change.after === known);
      if (next < 0) break;
      const [{ change }] = held.splice(next, 1) as [Held];
      out.push(change);
      this.#remember(change, nowMs);
    }
    const known = this.#known.get(instanceId)?.position ?? 0;
    // Those that may follow what passed, and those that follow one of them (the steps of a new run held behind its
    // creation), in as many rounds as it takes.
    const waiting = held.filter((h) => mayFollow(h.change, known));
    for (let more = true; more;) {
      more = false;
      for (const h of held) {
        if (waiting.includes(h) || !waiting.some((w) => followsSnapshot(h.change, w.change))) continue;
        waiting.push(h);
        more = true;
      }
    }
    if (waiting.length > 0) this.#held.set(instanceId, waiting);
    else this.#held.delete(instanceId);
  }

  /** True when `change` follows a held snapshot of its instance (a step of a new run whose creation is held). */
  #follows(change: FeedChange): boolean {
    return this.#held.get(change.instanceId)?.some((h) => followsSnapshot(change, h.change)) ?? false;
  }

  #remember(change: FeedChange, nowMs: number): void {
    this.#known.delete(change.instanceId);
    this.#known.set(change.instanceId, { position: positionOf(change), executionId: change.state?.executionId, atMs: nowMs });
    // Least recently changed first, so the first one still remembered ends the loop. A NaN time (a clock that returns
    // an Invalid Date) forgets nothing.
    for (const [oldest, { atMs }] of this.#known) {
      if (this.#known.size <= this.#maxTracked || !(nowMs - atMs > this.#rememberMs)) break;
      this.#known.delete(oldest);
    }
  }
}

/** What the gate remembers of an instance: see {@link VersionGate}. */
interface Known {
  readonly position: number;
  /** The execution of the last snapshot passed on (undefined: purged). */
  readonly executionId: string | undefined;
  readonly atMs: number;
}

interface Held {
  readonly change: FeedChange;
  readonly atMs: number;
}

/** True when `change` is a step of the execution of `before`, committed on top of it (versions alone repeat across runs). */
function followsSnapshot(change: FeedChange, before: FeedChange): boolean {
  return before.state !== undefined && change.after === before.state.version && change.state?.executionId === before.state.executionId;
}

/**
 * The held changes of an instance in the order {@link VersionGate.release} passes them on: those of the run passed on
 * (`known`) by version (its executions follow one another by version: a continueAsNew, a restart; its purge last), then
 * each new run held ({@link isNewRun}: its versions start again at 1) with the steps held behind it, the runs in the
 * order their creations arrived. Sorted by version alone, a new run came out before the changes of the old one held
 * with it, which then passed as newer than it (and its next steps were dropped as older).
 */
function passingOrder(held: readonly Held[], known: Known | undefined): Held[] {
  const byVersion = (a: Held, b: Held) => a.change.after - b.change.after;
  const creations = known?.executionId === undefined ? [] : held.filter((h) => isNewRun(h.change, known));
  if (creations.length === 0) return [...held].sort(byVersion);
  const runs = creations.map((creation) => {
    // A run's steps follow one another from its creation (`followsSnapshot`: of its execution, on top of the last).
    const run = [creation];
    for (let next = creation; ;) {
      const step = held.find((h) => !run.includes(h) && followsSnapshot(h.change, next.change));
      if (!step) return run;
      run.push((next = step));
    }
  });
  const ordered = held.filter((h) => !runs.some((run) => run.includes(h))).sort(byVersion);
  for (const run of runs) ordered.push(...run);
  return ordered;
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

/**
 * True when `change` creates the instance from nothing in another execution than the one last passed on: a new run,
 * once its purge has been waited for long enough (a late copy of the current run's creation is of its execution).
 */
function isNewRun(change: FeedChange, known: Known): boolean {
  return change.after === 0 && change.state !== undefined && change.state.executionId !== known.executionId;
}

/** The purge of the snapshot `executionId` at `version` that must have come before a new run: see {@link isNewRun}. */
function lostPurge(instanceId: string, executionId: string, version: number): FeedChange {
  return { instanceId, after: version, state: undefined, purged: { executionId, version } };
}
