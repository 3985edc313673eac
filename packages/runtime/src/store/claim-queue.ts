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
  /**
   * Keys claimable as of their last change or of the last claim that found them due, oldest first from `#head` on:
   * an array with a moving head, not a Set, because a Set iterated from its start steps over every entry deleted since
   * it last rehashed, and a claim deletes the key it takes, so draining n ready keys cost O(n²) (about 5 µs per claim
   * at 50k). Entries are never removed in place: one whose number no longer matches `#readyNo` (its key was claimed,
   * or became ready again later) is skipped.
   */
  #ready: ReadyEntry[] = [];
  #head = 0;
  /** The number of each ready key's live entry in `#ready`; keys not ready are absent. */
  readonly #readyNo = new Map<string, number>();
  #nextNo = 0;
  /** Keys claimable later, earliest first (a binary min-heap by `at`). */
  #later: TimelineEntry[] = [];

  /** Records when `key` becomes claimable, in ms since the epoch: 0 for at once, `Infinity` when it has no work. */
  set(key: string, at: number): void {
    if (at === Infinity) {
      this.#at.delete(key);
      this.#readyNo.delete(key);
      return;
    }
    if (this.#at.get(key) === at) return;
    this.#at.set(key, at);
    if (at <= 0) {
      this.#addReady(key);
      return;
    }
    this.#readyNo.delete(key);
    this.#push({ at, key });
    if (this.#later.length > 2 * this.#at.size + 1024) this.#compact();
  }

  /** The key that has been claimable longest at `nowMs`, or `undefined`. The caller claims it and calls `set`. */
  first(nowMs: number): string | undefined {
    this.#promoteDue(nowMs);
    const ready = this.#ready;
    for (let i = this.#skipStale(); i < ready.length; i++) {
      const entry = ready[i]!;
      if (this.#readyNo.get(entry.key) === entry.no && (this.#at.get(entry.key) ?? Infinity) <= nowMs) return entry.key;
    }
    return undefined;
  }

  /** The earliest time at which some key is claimable (at or before `nowMs` when one is already), or `undefined`. */
  nextAt(nowMs: number): number | undefined {
    this.#promoteDue(nowMs);
    let next = Infinity;
    // Normally the first ready key is due at once; a later one only with clocks that disagree (a claim's `now` that
    // went back), so the scan stops at the first key that is due.
    const ready = this.#ready;
    for (let i = this.#skipStale(); i < ready.length; i++) {
      const entry = ready[i]!;
      if (this.#readyNo.get(entry.key) !== entry.no) continue;
      const at = this.#at.get(entry.key) ?? Infinity;
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
    this.#readyNo.clear();
    this.#ready = [];
    this.#head = 0;
    this.#later = [];
  }

  /** Moves the keys whose time has come from the timeline to the arrival order, dropping stale entries. */
  #promoteDue(nowMs: number): void {
    for (let top = this.#later[0]; top && (top.at <= nowMs || !this.#isLive(top)); top = this.#later[0]) {
      this.#pop();
      if (this.#isLive(top) && !this.#readyNo.has(top.key)) this.#addReady(top.key);
    }
  }

  #addReady(key: string): void {
    const no = this.#nextNo++;
    this.#readyNo.set(key, no);
    this.#ready.push({ key, no });
    // Dead entries are dropped once they outnumber the live ones (normally they sit before the head, already passed).
    if (this.#ready.length > 2 * this.#readyNo.size + 1024) {
      this.#ready = this.#ready.slice(this.#head).filter((e) => this.#readyNo.get(e.key) === e.no);
      this.#head = 0;
    }
  }

  /** Moves the head past dead entries; returns it. */
  #skipStale(): number {
    const ready = this.#ready;
    let head = this.#head;
    while (head < ready.length && this.#readyNo.get(ready[head]!.key) !== ready[head]!.no) head++;
    if (head === ready.length) {
      this.#ready = [];
      head = 0;
    }
    this.#head = head;
    return head;
  }

  #isLive(entry: TimelineEntry): boolean {
    return this.#at.get(entry.key) === entry.at;
  }

  #compact(): void {
    const live = this.#later.filter((e) => this.#isLive(e) && !this.#readyNo.has(e.key));
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

interface ReadyEntry {
  readonly key: string;
  /** Which of its key's arrivals this is (see `#readyNo`). */
  readonly no: number;
}

interface TimelineEntry {
  readonly at: number;
  readonly key: string;
}
