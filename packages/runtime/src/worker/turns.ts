import { onNextMacrotask } from '../env/next-macrotask.js';

/**
 * The longest the worker runs on promise jobs alone (ms) before it lets the event loop take a turn (timers, I/O,
 * rendering). A step, a claim and a commit on an in-memory store all settle as promise jobs, so a chain of them (an
 * eternal `continueAsNew` loop, a long run of quick activities) never gives the event loop a turn by itself: no timer
 * fires meanwhile, `waitForCompletion`'s timeout included. A few ms: a timer or an I/O callback waits no longer than
 * that, and the turns cost a long burst of work well under 1 % (a timer armed halfway through the burst is due when the
 * burst waits for it).
 */
export const BURST_MS = 4;

/**
 * The fewest claim rounds and steps (`Turns.pace` calls) a burst runs before it waits after {@link BURST_MS}: a short
 * burst of quick steps does not wait for a timer turn when a loaded machine runs it slowly (a test that drives a
 * hand-made clock expects a few steps to run on promise jobs alone). A burst of fewer calls waits only after
 * {@link SLOW_BURST_MS}.
 */
export const BURST_CALLS = 32;

/**
 * The longest a burst of fewer than {@link BURST_CALLS} calls runs before it waits for a timer turn (ms): slow
 * synchronous steps (an orchestrator or an activity that computes for 10 ms) would otherwise hold every timer for 32 of
 * them (`waitForCompletion`'s timeout, a page's `setInterval`). A frame at 60 Hz: a timer then waits about that long
 * plus one step, and a few quick steps on a loaded machine seldom take as long.
 */
export const SLOW_BURST_MS = 16;

/**
 * For how long after the event loop was last seen taking a turn (a marker delivered, the timer fired) {@link Turns.pace}
 * posts no marker (ms): whatever burst runs then began after that turn, so less than this long ago. A worker whose steps
 * each wait for a store that answers in a later macrotask (IndexedDB) so posts a marker every few steps, not one per
 * step (a message and a macrotask of its own, on the path of every step at 1 concurrent instance). The cost: a burst
 * is counted from its marker, so it runs up to this much longer than {@link BURST_MS} or {@link SLOW_BURST_MS} before
 * it waits for a timer turn.
 */
export const QUIET_MS = BURST_MS;

/**
 * How many workers now wait for a timer turn ({@link Turns.pace}): work that goes on after a `setTimeout(0)` and no
 * clock tick. A virtual clock's settling waits for these (see `VirtualClock.advance`), so that what a tick started has
 * run before the next tick.
 */
let waitingForTimer = 0;

/** Whether a worker waits for a timer turn, to go on with work that needs no clock tick. */
export function workersWaitingForTimer(): boolean {
  return waitingForTimer > 0;
}

/**
 * Event-loop turns for one worker, owned by it (`close` on `stop`), on web-standard APIs only. {@link pace} is called
 * before each claim round and step. Within {@link QUIET_MS} of the last turn it saw, it does nothing: a burst of work
 * running now began after that turn. Past that, with no marker pending, it posts a marker message (about 1 µs), which
 * begins a burst: the marker's delivery shows the event loop had a turn (a timer, an I/O callback, an IndexedDB event),
 * and ends the burst. A burst of at least {@link BURST_CALLS} calls that runs for half of {@link BURST_MS} with the
 * marker undelivered arms a `setTimeout(0)`, and once it has run for {@link BURST_MS}, `pace` hands back the promise
 * of that timer, which only fires once the event loop's timers had their turn; a burst of fewer calls (slow steps)
 * does the same after half of {@link SLOW_BURST_MS} and {@link SLOW_BURST_MS}. Work that pauses within a burst never
 * waits nor arms a timer; the first step after idle begins a burst.
 *
 * Why both: a timer alone cannot tell a burst's end, as a browser throttles the timers of a background tab (to one a
 * second), where an IndexedDB-backed worker takes turns on its own; a message alone cannot make room for timers, as
 * Node delivers up to 1000 messages of a port in one go, with their promise jobs in between (a chain of them held back
 * every timer for seconds).
 */
export class Turns {
  /** A marker is posted and not yet delivered. */
  #pending = false;
  /** When the current burst began (`performance.now()`), and the `pace` calls in it since. */
  #burstStart = 0;
  /** When the event loop was last seen taking a turn (`performance.now()`): a marker delivered, the timer fired. */
  #turnAt = -Infinity;
  #calls = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerTurn: Promise<void> | undefined;
  #resolveTimer: (() => void) | undefined;
  #closed = false;
  /** The callbacks {@link defer} queued and not yet run: `close` runs them at once. */
  readonly #deferred = new Set<() => void>();

  /**
   * Runs `callback` in the next macrotask (on the shared channel of the burst markers), or at once when this worker's
   * turns are closed; `close` runs every one still waiting, so nothing deferred outlives the worker's stop. What the
   * caller reads in the promise jobs after its call goes ahead of it: a start the worker takes up so shows Pending to
   * the reads its caller issues right after (see the worker's `StartHandOff`).
   */
  defer(callback: () => void): void {
    if (this.#closed) {
      callback();
      return;
    }
    const once = (): void => {
      if (this.#deferred.delete(once)) callback();
    };
    this.#deferred.add(once);
    onNextMacrotask(once);
  }

  /**
   * `undefined` to go on at once, or, when the worker has run without the event loop taking a turn for
   * {@link SLOW_BURST_MS} (a burst of fewer than {@link BURST_CALLS} calls) or {@link BURST_MS} (a longer one), the
   * promise of the next timer turn.
   */
  pace(): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (!this.#pending) {
      const now = performance.now();
      if (now - this.#turnAt >= QUIET_MS) this.#post(now);
      return undefined;
    }
    if (this.#timerTurn) return this.#timerTurn;
    const ran = performance.now() - this.#burstStart;
    const limit = ++this.#calls < BURST_CALLS ? SLOW_BURST_MS : BURST_MS;
    if (ran < limit / 2) return undefined;
    this.#timer ??= setTimeout(this.#timerFired, 0);
    if (ran < limit) return undefined;
    waitingForTimer++;
    return (this.#timerTurn = new Promise<void>((resolve) => {
      this.#resolveTimer = resolve;
    }));
  }

  /**
   * Resolves what waits, runs what {@link defer} queued and clears the timer: nothing waits after, and no marker or
   * timer is set.
   */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerFired();
    for (const callback of [...this.#deferred]) callback();
  }

  #post(now: number): void {
    this.#pending = true;
    this.#burstStart = now;
    this.#calls = 0;
    onNextMacrotask(this.#delivered);
  }

  readonly #delivered = (): void => {
    this.#pending = false;
    this.#turnAt = performance.now();
  };

  readonly #timerFired = (): void => {
    // The event loop had a turn: a new burst begins (the marker, if still pending, ends it when delivered).
    this.#burstStart = this.#turnAt = performance.now();
    this.#calls = 0;
    this.#timer = undefined;
    const resolve = this.#resolveTimer;
    if (this.#timerTurn) waitingForTimer--;
    this.#timerTurn = this.#resolveTimer = undefined;
    resolve?.();
  };
}
