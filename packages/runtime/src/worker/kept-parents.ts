import type { KeptParent, NotedKeptParent } from '../store/plan-retention.js';

/**
 * A retention sweeper's memory of the ended parents found keeping their sub-orchestrations (`planRetention`'s
 * `keeps`, given back to it as `keeping` through {@link KeptParents.map}), so that a sweep reads no parent known here.
 * Each entry lasts until the earlier of: its time (`until`, when the ended ancestor that keeps the children becomes
 * due), which {@link KeptParents.expire} ends; and a change of its instance, heard through `watch` (started again,
 * rewound, purged, anything committed), which ends it and tells `changed`. Its trust lasts `trustMs` from when it was
 * noted: past that, {@link KeptParents.expire} takes it out of {@link KeptParents.map} and hands it back as lapsed
 * ({@link KeptParents.lapsed}), for the sweeper to read again: {@link KeptParents.renew} trusts it again when it is
 * still the snapshot noted (same execution and version), else {@link KeptParents.forget} ends it. That is the safety
 * net for a change no watch told (one committed between the sweeper's read of the parent and its noting it, missed
 * by a store whose feed can miss commits, or of a parent remembered without a watch). A due parent noted as kept
 * for as long as the ended ancestor above it (its `keptBy`) is an entry of its own, forgotten with that ancestor's:
 * the ancestor started again or purged by hand frees at once what it kept below too, not once each entry's trust
 * lapses (a tree four deep under a root started again: 5 minutes a level, 15 in all). An entry noted again as another
 * snapshot (its instance read anew, started again unseen) is such a change too: what it kept below goes with the old,
 * rather than stay trusted under the new one. At most `max` entries, the earliest noted going first. At most
 * `maxWatched` entries hold one watch each, released with it, given by {@link keptParentWatches} as entries are noted
 * and as they go (each {@link KeptParents.note} and {@link KeptParents.expire}): the entries that free the most when
 * they change first, the ended ancestors kept by none before what they keep; the others are remembered without one.
 * So the watches are bounded whatever `max` is: each costs the store something (one more instance named in
 * MongoStore's per-instance stream, one more read by the IndexedDB stores when a tab goes without its goodbye).
 * {@link KeptParents.clear} releases them all.
 *
 * @example
 * ```ts
 * const kept = new KeptParents((id, changed) => router.watch(id, { next: changed, error: changed, complete: changed }), 10_000, 64, 300_000, relist);
 * kept.note(decision.keeps, now);
 * planRetention(candidates, parents, now, periods, kept.map);
 * ```
 */
export class KeptParents<Place = never> {
  /** The trusted entries: what `planRetention` takes as `keeping`. */
  readonly #kept = new Map<string, NotedKeptParent>();
  /** The entries whose trust lapsed, waiting to be read again. */
  readonly #lapsed = new Map<string, NotedKeptParent>();
  /** When each entry's trust lapses (ms), trusted or lapsed. */
  readonly #trustedUntil = new Map<string, number>();
  /** The entries noted as kept by each entry (their `keptBy`): forgotten with it. */
  readonly #keptBy = new Map<string, Set<string>>();
  /** The release of each entry's watch. */
  readonly #unwatch = new Map<string, () => void>();
  /**
   * The entries by level (how many `keptBy` links are above each: 0, kept by none), each level's ids to the number
   * they were noted with, in that order: what {@link keptParentWatches} ranks, kept up to date as entries are noted
   * and forgotten, so that noting costs what it changes, not a pass over every entry.
   */
  readonly #levels: Map<string, number>[] = [];
  /** The level of each entry (its index in {@link KeptParents.#levels}). */
  readonly #levelOf = new Map<string, number>();
  /** How many entries were noted: the number the next is noted with. */
  #noted = 0;
  /** Where what each entry keeps was last found ({@link KeptParents.place}), at most {@link MAX_PLACES} each. */
  readonly #places = new Map<string, Place[]>();
  /** An entry was noted or forgotten since the watches were last given: {@link keptParentWatches} may give them anew. */
  #rewatchDue = false;
  readonly #watch: (instanceId: string, changed: () => void) => () => void;
  readonly #max: number;
  readonly #maxWatched: number;
  readonly #trustMs: number;
  readonly #changed: (instanceId: string, places: readonly Place[]) => void;

  /**
   * @param watch - starts hearing of the committed changes of one instance, calling `changed` on each (and when the
   *   feed ends); returns its release.
   * @param max - most entries kept.
   * @param maxWatched - most entries watched at once (the rest are kept without a watch, read again as their trust lapses).
   * @param trustMs - how long an entry is trusted without being read again.
   * @param changed - told of an entry ended by a change of its instance (heard by its watch, or noted again as another
   *   snapshot than the one it holds), with the places of what it and the entries below it kept ({@link KeptParents.place}).
   */
  constructor(
    watch: (instanceId: string, changed: () => void) => () => void, max: number, maxWatched: number, trustMs: number,
    changed: (instanceId: string, places: readonly Place[]) => void,
  ) {
    this.#watch = watch;
    this.#max = max;
    this.#maxWatched = maxWatched;
    this.#trustMs = trustMs;
    this.#changed = changed;
  }

  /** The trusted entries, by instance id: what `planRetention` takes as `keeping`. */
  get map(): ReadonlyMap<string, KeptParent> {
    return this.#kept;
  }

  /** The number of entries, trusted or lapsed. */
  get size(): number {
    return this.#trustedUntil.size;
  }

  /**
   * Notes what a decision found keeping (`keeps`) at `nowMs`, each trusted for `trustMs`; an entry noted again is noted
   * last. The watches then go as {@link keptParentWatches} has them.
   */
  note(keeps: ReadonlyMap<string, NotedKeptParent>, nowMs: number): void {
    // Ended ancestors first, then what they keep below them (an entry whose keeper is not remembered is not kept).
    for (const [id, found] of keeps) if (found.keptBy === undefined) this.#set(id, found, nowMs);
    for (const [id, found] of keeps) if (found.keptBy !== undefined) this.#set(id, found, nowMs);
    for (const id of this.#trustedUntil.keys()) {
      if (this.#trustedUntil.size <= this.#max) break;
      this.forget(id);
    }
    this.#rewatch();
  }

  /** Trusts again, from `nowMs`, a lapsed entry read again and found still the snapshot noted. */
  renew(instanceId: string, nowMs: number): void {
    const entry = this.#lapsed.get(instanceId);
    if (entry !== undefined) this.#set(instanceId, entry, nowMs);
  }

  /**
   * Ends the entries whose time has come at `nowMs` and takes those whose trust lapsed out of {@link KeptParents.map};
   * returns every lapsed entry, earliest noted first, to read again. The watches the ended entries held go as
   * {@link keptParentWatches} has them.
   */
  expire(nowMs: number): [string, NotedKeptParent][] {
    for (const [id, trustedUntil] of this.#trustedUntil) {
      const entry = this.#kept.get(id) ?? this.#lapsed.get(id)!;
      if (entry.until <= nowMs) this.forget(id);
      else if (trustedUntil <= nowMs && this.#kept.delete(id)) this.#lapsed.set(id, entry);
    }
    this.#rewatch();
    return [...this.#lapsed];
  }

  /**
   * Forgets the entry of `instanceId`, if any, and those it keeps (their `keptBy`), theirs in turn, and releases their
   * watches; returns the places of what they kept ({@link KeptParents.place}). A loop, not a recursion: a tree's links
   * of `keptBy` are as deep as the tree.
   */
  forget(instanceId: string): Place[] {
    const places = new Set<Place>();
    const pending = [instanceId];
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      if (!this.#trustedUntil.delete(id)) continue;
      for (const place of this.#places.get(id) ?? []) places.add(place);
      this.#places.delete(id);
      this.#rewatchDue = true;
      const entry = this.#kept.get(id) ?? this.#lapsed.get(id)!;
      this.#kept.delete(id);
      this.#lapsed.delete(id);
      if (entry.keptBy !== undefined) this.#keptBy.get(entry.keptBy)?.delete(id);
      this.#unlevel(id);
      const unwatch = this.#unwatch.get(id);
      this.#unwatch.delete(id);
      unwatch?.();
      const kept = this.#keptBy.get(id);
      this.#keptBy.delete(id);
      for (const below of kept ?? []) pending.push(below);
    }
    return [...places];
  }

  /**
   * Notes that something `instanceId` keeps (a sub-orchestration whose parent it is) was found at `place` (where a
   * listing read it), for it and each entry above it (its `keptBy`, theirs in turn): handed to `changed` when one of
   * them changes, so that the caller reads those places again at once. The last {@link MAX_PLACES} places of each.
   */
  place(instanceId: string, place: Place): void {
    for (let id: string | undefined = instanceId, left = this.#trustedUntil.size; id !== undefined && left > 0; left--) {
      const entry: NotedKeptParent | undefined = this.#kept.get(id) ?? this.#lapsed.get(id);
      if (entry === undefined) return;
      const places = this.#places.get(id) ?? [];
      if (!places.includes(place)) places.push(place);
      if (places.length > MAX_PLACES) places.shift();
      this.#places.set(id, places);
      id = entry.keptBy;
    }
  }

  /** Forgets every entry and releases every watch. */
  clear(): void {
    for (const id of [...this.#trustedUntil.keys()]) this.forget(id);
  }

  #set(id: string, entry: NotedKeptParent, nowMs: number): void {
    // Kept by an ancestor no longer remembered (forgotten as it was noted, its feed ended), or by itself: kept no
    // longer either.
    if (entry.keptBy !== undefined && (entry.keptBy === id || !this.#trustedUntil.has(entry.keptBy))) {
      this.forget(id);
      return;
    }
    // Noted again as another snapshot (read anew: started again, rewound, a change no watch told): what its first
    // snapshot kept below it goes, as a watch would have had it go.
    let was = this.#kept.get(id) ?? this.#lapsed.get(id);
    if (was !== undefined && (was.executionId !== entry.executionId || was.version !== entry.version)) {
      this.#changed(id, this.forget(id));
      was = undefined;
    }
    // Noted under another keeper (its own time passed, now kept by an ancestor of its own): what it kept below was
    // kept until its time, which has passed, and goes; so an entry's level never changes while it is remembered.
    if (was !== undefined && was.keptBy !== entry.keptBy) {
      for (const below of [...this.#keptBy.get(id) ?? []]) this.forget(below);
      if (entry.keptBy !== undefined && !this.#trustedUntil.has(entry.keptBy)) {
        this.forget(id); // its new keeper was below it: a loop of links keeps nothing
        return;
      }
      if (was.keptBy !== undefined) this.#keptBy.get(was.keptBy)?.delete(id);
    }
    // Deleted first, so that an entry noted again is noted last (the earliest noted go first past `max`).
    this.#trustedUntil.delete(id);
    this.#lapsed.delete(id);
    this.#kept.delete(id);
    this.#unlevel(id);
    this.#trustedUntil.set(id, nowMs + this.#trustMs);
    this.#rewatchDue = true;
    const { executionId, version, until, keptBy } = entry;
    this.#kept.set(id, { executionId, version, until, ...(keptBy === undefined ? {} : { keptBy }) });
    if (keptBy !== undefined) this.#keptBy.set(keptBy, (this.#keptBy.get(keptBy) ?? new Set()).add(id));
    const level = keptBy === undefined ? 0 : this.#levelOf.get(keptBy)! + 1;
    this.#levelOf.set(id, level);
    (this.#levels[level] ??= new Map()).set(id, this.#noted++);
  }

  /** Takes `id` out of its level, and the empty levels off the end. */
  #unlevel(id: string): void {
    const level = this.#levelOf.get(id);
    if (level === undefined) return;
    this.#levelOf.delete(id);
    this.#levels[level]!.delete(id);
    while (this.#levels.length > 0 && this.#levels.at(-1)!.size === 0) this.#levels.pop();
  }

  /**
   * Moves the watches to the entries {@link keptParentWatches} gives them: released from the others, started on these.
   * Only once an entry was noted or forgotten since it last did (nothing else changes what it gives).
   */
  #rewatch(): void {
    if (!this.#rewatchDue) return;
    this.#rewatchDue = false;
    const watched = new Map<string, number>();
    for (const id of this.#unwatch.keys()) watched.set(id, this.#levelOf.get(id)!);
    const chosen = keptParentWatches(this.#levels, watched, this.#maxWatched);
    for (const [id, unwatch] of [...this.#unwatch]) {
      if (chosen.has(id)) continue;
      this.#unwatch.delete(id);
      unwatch();
    }
    for (const id of chosen) {
      // Forgotten meanwhile: a watch started before it here told its feed had ended, and it kept this one.
      if (this.#unwatch.has(id) || !this.#trustedUntil.has(id)) continue;
      const unwatch = this.#watch(id, () => {
        if (!this.#trustedUntil.has(id)) return;
        this.#changed(id, this.forget(id));
      });
      if (this.#trustedUntil.has(id)) this.#unwatch.set(id, unwatch);
      else unwatch(); // the feed had ended: forgotten at once
    }
  }
}

/**
 * Most places one entry of {@link KeptParents} holds ({@link KeptParents.place}): 5 pages, 500 instances, the half of a
 * sweep's 1,000 reads that the pages read again take. A change of it hands over these and those of the entries below
 * it, which the sweeper reads again over as many sweeps as they need.
 */
const MAX_PLACES = 5;

/**
 * Which remembered entries of {@link KeptParents} hold its `max` watches: those that free the most when they change
 * first. An entry kept by none (an ended ancestor whose own period keeps what is below it) frees, started again or
 * purged by hand, every entry noted as kept below it, however deep, and what they keep; one kept by another frees
 * only what is below it, and goes with its keeper anyway. So the lower an entry's level (how many `keptBy` links are
 * above it), the sooner it is watched: a chain 25 deep kept by its root takes a watch for the root before any of its
 * 24 entries, and a root noted after 64 entries kept by others takes a watch from the lowest of them. Among entries
 * of one level, one watched keeps its watch (a watch moves only to an entry higher up, so the watched set changes only
 * as entries are noted or go), the earliest noted first, then the others, the earliest noted first. Pure; it reads
 * the watched entries and, level by level, no more entries than it chooses and skips as watched: its cost is bounded
 * by `max` and the levels it reaches, not by how many entries there are (it runs as each page's decision is noted,
 * with up to 10,000 entries).
 *
 * @param levels - the entries by level (index 0: kept by none; an entry's level is its keeper's plus one), each a map
 *   of their ids to the number they were noted with, in the order noted.
 * @param watched - the entries watched now, each with its level.
 * @param max - most entries watched.
 * @returns the entries to watch, at most `max`.
 *
 * @example
 * ```ts
 * keptParentWatches([new Map([['a', 1]]), new Map([['b', 0]])], new Map([['b', 1]]), 1); // Set { 'a' }: the root first
 * ```
 */
export function keptParentWatches(
  levels: readonly ReadonlyMap<string, number>[], watched: ReadonlyMap<string, number>, max: number,
): Set<string> {
  // The watched entries of each level, earliest noted first (at most as many as the watches).
  const watchedAt: [string, number][][] = [];
  for (const [id, level] of watched) {
    const noted = levels[level]?.get(id);
    if (noted !== undefined) (watchedAt[level] ??= []).push([id, noted]);
  }
  const chosen = new Set<string>();
  if (max <= 0) return chosen;
  for (let level = 0; level < levels.length; level++) {
    for (const [id] of watchedAt[level]?.sort((a, b) => a[1] - b[1]) ?? []) {
      chosen.add(id);
      if (chosen.size === max) return chosen;
    }
    for (const id of levels[level]!.keys()) {
      chosen.add(id); // a watched one is in already
      if (chosen.size === max) return chosen;
    }
  }
  return chosen;
}
