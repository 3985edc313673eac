/**
 * MemoryStore's claim index: which keys (instance ids, task ids) have claimable work, and from when. A claim takes
 * the oldest key that is claimable at its `now` in O(log n), instead of scanning every pending message or task.
 *
 * The store tells the queue, after every change to a key's work, when that key becomes claimable
 * ({@link ClaimQueue.set}); the queue never looks at the work itself. Keys claimable at once wait in arrival order;
 * keys claimable later (a timer's `visibleAt`, a lease's expiry) wait on a timeline, and join the arrival order when
 * a claim finds them due. Timeline entries are never removed in place: an entry whose time no longer matches the
 * key's is skipped, and the timeline is rebuilt when skipped entries outnumber the live ones.
 */
export class ClaimQueue {
  /** When each key with work becomes claimable, in ms since the epoch (0: at once). Keys without work are absent. */
  readonly #at = new Map<string, number>();
  /** Keys claimable as of their last change or of the last claim that found them due, oldest first. */
  readonly #ready = new Set<string>();
  /** Keys claimable later, earliest first (a binary min-heap by `at`). */
  #later: TimelineEntry[] = [];

  /** Records when `key` becomes claimable, in ms since the epoch: 0 for at once, `Infinity` when it has no work. */
  set(key: string, at: number): void {
    if (at === Infinity) {
      this.#at.delete(key);
      this.#ready.delete(key);
      return;
    }
    if (this.#at.get(key) === at) return;
    this.#at.set(key, at);
    if (at <= 0) {
      this.#ready.add(key);
      return;
    }
    this.#ready.delete(key);
    this.#push({ at, key });
    if (this.#later.length > 2 * this.#at.size + 1024) this.#compact();
  }

  /** The key that has been claimable longest at `nowMs`, or `undefined`. The caller claims it and calls `set`. */
  first(nowMs: number): string | undefined {
    this.#promoteDue(nowMs);
    for (const key of this.#ready) {
      if ((this.#at.get(key) ?? Infinity) <= nowMs) return key;
    }
    return undefined;
  }

  /** The earliest time at which some key is claimable (at or before `nowMs` when one is already), or `undefined`. */
  nextAt(nowMs: number): number | undefined {
    this.#promoteDue(nowMs);
    let next = Infinity;
    // Normally the first ready key is due at once; a later one only with clocks that disagree (a claim's `now` that
    // went back), so the scan stops at the first key that is due.
    for (const key of this.#ready) {
      const at = this.#at.get(key) ?? Infinity;
      next = Math.min(next, at);
      if (at <= nowMs) break;
    }
    const top = this.#later[0];
    if (top) next = Math.min(next, top.at);
    return next === Infinity ? undefined : next;
  }

  /** Forgets everything. */
  clear(): void {
    this.#at.clear();
    this.#ready.clear();
    this.#later = [];
  }

  /** Moves the keys whose time has come from the timeline to the arrival order, dropping stale entries. */
  #promoteDue(nowMs: number): void {
    for (let top = this.#later[0]; top && (top.at <= nowMs || !this.#isLive(top)); top = this.#later[0]) {
      this.#pop();
      if (this.#isLive(top)) this.#ready.add(top.key);
    }
  }

  #isLive(entry: TimelineEntry): boolean {
    return this.#at.get(entry.key) === entry.at;
  }

  #compact(): void {
    const live = this.#later.filter((e) => this.#isLive(e) && !this.#ready.has(e.key));
    this.#later = [];
    for (const entry of live) this.#push(entry);
  }

  #push(entry: TimelineEntry): void {
    const heap = this.#later;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#later;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}

interface TimelineEntry {
  readonly at: number;
  readonly key: string;
}
