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
  /** Each key with work: when it becomes claimable, and its place in the arrival order. Keys without work are absent. */
  readonly #slots = new Map<string, Slot>();
  /**
   * Keys claimable as of their last change or of the last claim that found them due, oldest first from `#head` on,
   * in two parallel arrays (no object per arrival). Arrays with a moving head, not a Set: a claim removes the key it
   * takes, and a Set iterated from its start steps over every entry deleted since it last rehashed, so draining n
   * ready keys cost O(n²) (about 5 µs per claim at 50k). Entries are never removed in place: one whose number is no
   * longer its key's `Slot.no` (the key was claimed, or became ready again later) is skipped.
   */
  #readyKeys: string[] = [];
  #readyNos: number[] = [];
  #head = 0;
  #nextNo = 0;
  /** Keys claimable later, earliest first (a binary min-heap by `at`). */
  #later: TimelineEntry[] = [];

  /** Records when `key` becomes claimable, in ms since the epoch: 0 for at once, `Infinity` when it has no work. */
  set(key: string, at: number): void {
    if (at === Infinity) {
      // With no key left, every entry of the arrival order and the timeline is dead: they go at once (the arrays of
      // the last burst of claims stayed, 16 B per key claimed, until the next claim passed them).
      if (this.#slots.delete(key) && !this.#slots.size) this.clear();
      return;
    }
    let slot = this.#slots.get(key);
    if (slot?.at === at) return;
    if (slot) slot.at = at;
    else this.#slots.set(key, (slot = { at, no: -1 }));
    if (at <= 0) {
      this.#addReady(key, slot);
      return;
    }
    slot.no = -1;
    this.#push({ at, key });
    if (this.#later.length > 2 * this.#slots.size + 1024) this.#compact();
  }

  /** The key that has been claimable longest at `nowMs`, or `undefined`. The caller claims it and calls `set`. */
  first(nowMs: number): string | undefined {
    this.#promoteDue(nowMs);
    const keys = this.#readyKeys;
    for (let i = this.#skipStale(); i < keys.length; i++) {
      const slot = this.#slots.get(keys[i]!);
      if (slot !== undefined && slot.no === this.#readyNos[i] && slot.at <= nowMs) return keys[i];
    }
    return undefined;
  }

  /** The earliest time at which some key is claimable (at or before `nowMs` when one is already), or `undefined`. */
  nextAt(nowMs: number): number | undefined {
    this.#promoteDue(nowMs);
    let next = Infinity;
    // Normally the first ready key is due at once; a later one only with clocks that disagree (a claim's `now` that
    // went back), so the scan stops at the first key that is due.
    const keys = this.#readyKeys;
    for (let i = this.#skipStale(); i < keys.length; i++) {
      const slot = this.#slots.get(keys[i]!);
      if (slot === undefined || slot.no !== this.#readyNos[i]) continue;
      next = Math.min(next, slot.at);
      if (slot.at <= nowMs) break;
    }
    const top = this.#later[0];
    if (top) next = Math.min(next, top.at);
    return next === Infinity ? undefined : next;
  }

  /** Forgets everything. */
  clear(): void {
    this.#slots.clear();
    this.#readyKeys = [];
    this.#readyNos = [];
    this.#head = 0;
    this.#later = [];
  }

  /** Moves the keys whose time has come from the timeline to the arrival order, dropping stale entries. */
  #promoteDue(nowMs: number): void {
    for (let top = this.#later[0]; top && (top.at <= nowMs || !this.#isLive(top)); top = this.#later[0]) {
      this.#pop();
      const slot = this.#slots.get(top.key);
      if (slot !== undefined && slot.at === top.at && slot.no < 0) this.#addReady(top.key, slot);
    }
  }

  #addReady(key: string, slot: Slot): void {
    slot.no = this.#nextNo++;
    this.#readyKeys.push(key);
    this.#readyNos.push(slot.no);
    // Dead entries are dropped once they outnumber the live ones (normally they sit before the head, already passed).
    if (this.#readyKeys.length > 2 * this.#slots.size + 1024) {
      const keys: string[] = [];
      const nos: number[] = [];
      for (let i = this.#head; i < this.#readyKeys.length; i++) {
        if (this.#slots.get(this.#readyKeys[i]!)?.no !== this.#readyNos[i]) continue;
        keys.push(this.#readyKeys[i]!);
        nos.push(this.#readyNos[i]!);
      }
      this.#readyKeys = keys;
      this.#readyNos = nos;
      this.#head = 0;
    }
  }

  /** Moves the head past dead entries; returns it. */
  #skipStale(): number {
    const keys = this.#readyKeys;
    let head = this.#head;
    while (head < keys.length && this.#slots.get(keys[head]!)?.no !== this.#readyNos[head]) head++;
    if (head === keys.length && head > 0) {
      this.#readyKeys = [];
      this.#readyNos = [];
      head = 0;
    }
    this.#head = head;
    return head;
  }

  #isLive(entry: TimelineEntry): boolean {
    return this.#slots.get(entry.key)?.at === entry.at;
  }

  #compact(): void {
    const live = this.#later.filter((e) => this.#isLive(e) && this.#slots.get(e.key)!.no < 0);
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

/** What the queue knows of a key with work (changed in place: one object per key while it has work). */
interface Slot {
  /** When the key becomes claimable, in ms since the epoch (0: at once). */
  at: number;
  /** The number of its live entry in the arrival order, or -1 when it waits on the timeline. */
  no: number;
}

interface TimelineEntry {
  readonly at: number;
  readonly key: string;
}
