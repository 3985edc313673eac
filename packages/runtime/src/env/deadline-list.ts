import { UnavailableError } from '../model/errors/unavailable-error.js';
import { isValidDate, readClock } from '../model/validation.js';
import { MAX_TIMER_DELAY_MS, type Clock } from './clock.js';
import { FallbackTimer, type Fallback } from './fallback-timer.js';
import { consoleLogger, guardedLogger, type Logger } from './logger.js';

/** A {@link Deadline.index} of one no longer pending: settled, passed, ended or cancelled. */
const OFF = -1;
/** A {@link Deadline.index} of one a firing took off the heap as due, pending until the firing ends it (`#end`). */
const DUE = -2;

/**
 * One pending deadline of a {@link DeadlineList}, and an entry of its heap: a bounded store call's
 * ({@link DeadlineList.bound}) or a wait's ({@link DeadlineList.add}).
 */
class Deadline {
  /** Its place in the list's heap, or {@link OFF} or {@link DUE}. */
  index = OFF;
  /** The order it was made in: of two due at the same time, the first made ends first. */
  seq = 0;
  /** A call's: how its result promise resolves (set as it is made). */
  resolve: (value: unknown) => void = ignore;
  constructor(
    /** When it passes, in ms on the list's clock (`Infinity`: never). */
    readonly atMs: number,
    /** A call's: how its result promise rejects; a wait's: what to do when it passes (its argument is not for it). */
    public end: (error: unknown) => void,
    /** A call's: what the call is, and its bound, for the error it ends with. */
    readonly what?: string,
    readonly ms?: number,
    /** A call's: what to do with a value that arrives after the call was abandoned. */
    readonly late?: (value: unknown) => void,
  ) {}
}

/**
 * Deadlines on one clock timer: the store calls a worker or client has in flight ({@link DeadlineList.bound}) and its
 * waits ({@link DeadlineList.add}). A call costs one {@link Deadline}, its result promise with its executor, and the
 * two handlers it hangs on the store's promise (no Map entry, no timer, no finally chain); a wait, its Deadline and the
 * function that cancels it. Deadlines are kept in a binary min-heap by time: one is added or taken off in O(log n), and
 * a firing looks only at the deadlines due and the next one, however many are pending (a worker's thousands of long
 * activities, each with its renewal's deadline, cost a firing nothing each; walked whole, they cost O(n) per firing and
 * O(n²) per renewal period). The timer is armed for the
 * earliest deadline when one earlier than the armed one comes; a deadline that ends first leaves it armed, and when it
 * fires it ends what has passed and arms for the earliest left (so it is moved once per firing, not once per call).
 * Without `lingers`, the timer is cleared as soon as no deadline is pending, so an idle owner holds none (a client
 * between calls); with it, the timer is left to fire (a running worker, whose calls follow each other: clearing and
 * arming per call cost about 1 µs, against 0.06 µs for the await). A delay beyond one timer's reach
 * ({@link MAX_TIMER_DELAY_MS}) is waited out in steps, so no deadline ends early; when the timer fires, the time it was
 * armed for has passed even if the clock was set back meanwhile.
 *
 * @example
 * ```ts
 * const calls = new DeadlineList(systemClock, false);
 * const state = await calls.bound(() => store.getInstance(id), 30_000, 'getInstance'); // or an UnavailableError after 30 s
 * ```
 */
export class DeadlineList {
  readonly #clock: Clock;
  /** Whose clock it is, for the error of a reading that is no valid Date. */
  readonly #whose: string;
  /** Where a failure of the timer's firing goes (see {@link DeadlineList.constructor}): reports that never throw. */
  readonly #logger: Logger;
  /** The pending deadlines, earliest first (then in the order they were made): a binary min-heap. */
  readonly #heap: Deadline[] = [];
  /** Deadlines made so far (each one's {@link Deadline.seq}). */
  #made = 0;
  /** The one timer, for the earliest deadline: on the clock, or on the platform's when the clock failed to arm it. */
  readonly #timer: FallbackTimer;
  /** When the armed timer fires, in ms on the clock (`Infinity` when none is armed). */
  #firesAtMs = Infinity;

  /**
   * @param whose names the clock in the `RangeError` (see `readClock`) that {@link bound} and {@link add} throw when it
   * returns no valid Date (a custom `Clock` gone wrong): a deadline on such a reading would never pass, nor end.
   * @param logger is told, as an error with {@link DEADLINE_FAILED}, of what fails as deadlines end (a wait's callback
   * that throws, a clock that fails to arm the timer for the next deadline, or to clear it as no deadline is left):
   * the list never throws it into the clock's timer callback (an uncaught exception on Node), into {@link endAll}'s
   * caller (a worker's stop), nor into the settling of a call (which then never settled: an unhandled rejection
   * instead). Its owner's: the
   * runtime's, the console for a bare client (the default). Called through `guardedLogger`, so a report never throws.
   */
  constructor(clock: Clock, lingers: boolean, whose = 'the clock', logger: Logger = consoleLogger) {
    this.#clock = clock;
    this.lingers = lingers;
    this.#whose = whose;
    this.#logger = guardedLogger(logger);
    this.#timer = new FallbackTimer(clock, this.#fire, { clearFailed: this.#failed, inPlace: true, retries: true });
  }

  /** Leave the timer armed when no deadline is pending (see the class). May be changed at any time. */
  lingers: boolean;

  /**
   * @internal Entries of the heap compared as one is moved down it so far (as a firing or a removal fills a place):
   * what a firing costs, counted for tests (O(log n) for each due deadline, nothing for the others).
   */
  inspected = 0;

  /**
   * The outcome of `call()`, made once the clock is read, or, when it has not settled `ms` after `nowMs` (the clock's
   * time, when the caller has just read it, before the call; `Infinity`: never, but {@link endAll} still ends it), an
   * {@link UnavailableError}
   * `${what} did not settle within ${ms} ms`. An abandoned call is not undone: a value it settles with later goes to
   * `late`, a rejection is handled. `call` may return any thenable (it is made a promise once). `drop`: resolve with
   * `undefined` instead of the call's value, and pass `late` `undefined` too (a caller that wants only the outcome then
   * needs no `.then()`, whose promise and reaction each pending call held as well).
   */
  bound<T>(call: () => PromiseLike<T>, ms: number, what: string, late?: (value: T) => void, nowMs?: number, drop?: boolean): Promise<T> {
    // `nowMs` is read here, not as a default parameter: a parameter list with a default has a scope of its own, which
    // put `this` and `deadline` in two contexts, and every pending call held both (40 bytes more; a raise to each of
    // 50k instances at once holds its call through the collections that the raises themselves trigger). Read before
    // the call is made: a reading that is no valid Date throws with nothing sent (read after, a write went out while
    // the caller heard it failed); and a call that throws links no deadline.
    // Linked before the call: a clock whose setTimeout throws then throws here with nothing sent and nothing linked
    // (linked after, its deadline stayed in the list and its promise, which no caller held, rejected at endAll).
    nowMs ??= readClock(this.#clock, this.#whose).getTime();
    const deadline = new Deadline(nowMs + ms, ignore, what, ms, late as ((value: unknown) => void) | undefined);
    const result = new Promise<T>((resolve, reject) => {
      deadline.resolve = resolve as (value: unknown) => void;
      deadline.end = reject;
    });
    this.#link(deadline, nowMs);
    let pending: PromiseLike<T>;
    try {
      pending = call();
    } catch (error) {
      this.#unlink(deadline);
      throw error;
    }
    Promise.resolve(pending).then((value) => this.#settled(deadline, drop ? undefined : value), (error: unknown) => this.#fail(deadline, error));
    return result;
  }

  /**
   * Calls `onTimeout` once `ms` (>= 0) have passed on the clock; returns the function that cancels that (nothing once
   * it has passed). `Infinity` is a deadline that never comes: it is not pending, so it keeps no timer armed for the
   * others. For waits, which are few: a store call costs no closure of the list's own ({@link bound}).
   */
  add(ms: number, onTimeout: () => void): () => void {
    if (ms === Infinity) return ignore;
    const nowMs = readClock(this.#clock, this.#whose).getTime();
    const deadline = new Deadline(nowMs + ms, onTimeout);
    this.#link(deadline, nowMs);
    return () => {
      if (deadline.index !== OFF) this.#unlink(deadline);
    };
  }

  /**
   * Ends every pending deadline now: a call rejects with `error()` (one error each), a wait is called (one that throws
   * is reported, see the constructor).
   */
  endAll(error: () => unknown): void {
    this.#end(Infinity, error);
  }


  #settled(deadline: Deadline, value: unknown): void {
    if (deadline.index === OFF) {
      deadline.late?.(value);
    } else {
      this.#unlink(deadline);
      deadline.resolve(value);
    }
  }

  /** Ends `deadline` with `error`, unless it has ended. */
  #fail(deadline: Deadline, error: unknown): void {
    if (deadline.index === OFF) return;
    this.#unlink(deadline);
    deadline.end(error);
  }

  /** Links `deadline`, made at `nowMs`; a clock that fails to arm the timer throws with nothing linked or changed. */
  #link(deadline: Deadline, nowMs: number): void {
    // For the earliest pending one, not only this one: with none armed (neither the clock nor the platform could), the
    // others would wait for this one's time.
    if (deadline.atMs < this.#firesAtMs) this.#arm(Math.min(deadline.atMs, this.#heap[0]?.atMs ?? Infinity), nowMs);
    deadline.seq = this.#made++;
    this.#place(deadline, this.#heap.length);
  }

  /** Takes `deadline`, pending (on the heap, or due), off the list. */
  #unlink(deadline: Deadline): void {
    const index = deadline.index;
    deadline.index = OFF;
    if (index >= 0) this.#take(index);
    if (!this.lingers && this.#heap.length === 0) this.#disarm();
  }

  /** Takes the entry at `index` off the heap: the last one fills its place. */
  #take(index: number): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (index < heap.length) this.#place(last, index);
  }

  /** Puts `deadline` at `index` of the heap (its end, or a place emptied), moved up or down to where it belongs. */
  #place(deadline: Deadline, index: number): void {
    const heap = this.#heap;
    for (let parent; index > 0 && earlier(deadline, (parent = heap[(index - 1) >> 1]!)); index = (index - 1) >> 1) {
      heap[(parent.index = index)] = parent;
    }
    for (let child; (child = 2 * index + 1) < heap.length; index = child) {
      if (child + 1 < heap.length && earlier(heap[child + 1]!, heap[child]!)) child++;
      const next = heap[child]!;
      this.inspected++;
      if (!earlier(next, deadline)) break;
      heap[(next.index = index)] = next;
    }
    heap[(deadline.index = index)] = deadline;
  }

  /**
   * Arms the timer for `atMs`, the clock reading `nowMs` (the caller's: the list reads the clock once per change).
   * Without `failed`, a clock that fails to arm it throws, the timer left as it was; with it, see {@link FallbackTimer}
   * (a timer none could arm is tried again at the next turn: it fires for this time all the same, a turn late).
   */
  #arm(atMs: number, nowMs: number, failed?: (error: unknown, fallback: Fallback, first: boolean) => void): void {
    const delay = this.#timer.arm(Math.min(Math.max(0, atMs - nowMs), MAX_TIMER_DELAY_MS), failed);
    if (delay !== undefined) this.#firesAtMs = nowMs + delay;
  }

  #disarm(): void {
    this.#timer.clear();
    this.#firesAtMs = Infinity;
  }

  /**
   * The timer fired. The clock's: what was due by the time it was armed for has passed, even if the clock was set back
   * since (or returns no valid Date now, or throws: the time it was armed for is all that is known then). The platform's, set in
   * the clock's place ({@link #end}): it does not run on the clock's time, so only what is due by the clock's reading
   * ends (by the time it was armed for when the reading is no valid Date); the rest waits for the timer armed next,
   * asked of the clock again.
   */
  readonly #fire = (onPlatform: boolean): void => {
    let now: Date | undefined;
    try {
      now = this.#clock.now();
    } catch (error) {
      // Reported, not thrown into the timer's callback: what was due by the armed time ends all the same.
      this.#failed(error);
    }
    const firesAtMs = this.#firesAtMs;
    this.#end(!isValidDate(now) ? firesAtMs : onPlatform ? now.getTime() : Math.max(now.getTime(), firesAtMs));
  };

  readonly #failed = (error: unknown): void => this.#logger.error(DEADLINE_FAILED, error);

  /**
   * The clock failed to arm the timer as deadlines ended (`fallback`: see {@link FallbackTimer}), reported once until it
   * arms one again. With none armed (the platform's timer failed too), the calls left pending would wait for the next
   * one to arm it, or for {@link endAll}: so it is tried again at the next turn, a few times in a row at most
   * (`FallbackTimer`'s `retries`); once those are over, that is reported too, and the next call or wait arms it for
   * the earliest deadline pending.
   */
  readonly #unarmed = (error: unknown, fallback: Fallback, first: boolean): void => {
    if (fallback === 'none') this.#firesAtMs = Infinity;
    else if (!first) return;
    this.#logger.error(fallback === 'retry' ? `${DEADLINE_FAILED}: none is armed; it is tried again at the next turn`
      : fallback === 'none' ? `${DEADLINE_FAILED}: none is armed; the next call or wait arms it` : DEADLINE_FAILED, error);
  };

  /**
   * Ends the deadlines due by `nowMs`, earliest first (of those due at the same time, the first made first), then
   * arms the timer for the earliest left: a
   * call with `error()`, or without `error` with an {@link UnavailableError} naming it; a wait is called (the error is
   * not for it). One a callback cancels meanwhile is skipped; one a callback adds arms the timer as any other. Total: a
   * wait whose callback throws keeps neither the others from ending nor the timer from being armed, and a clock that
   * fails to arm it keeps none of the due ones waiting. Each such error is reported, never thrown. The timer the clock
   * failed to arm is set on the platform's timer instead, as a worker's wake timer is ({@link FallbackTimer}): with
   * none armed, a store call left pending would never end (a worker's step held for good), unless another deadline
   * came. One a callback armed for a later deadline is replaced so too (it stays only should the platform's fail as
   * well): kept, it would end the earlier deadlines only at its own time.
   */
  #end(nowMs: number, error?: () => unknown): void {
    this.#disarm();
    const heap = this.#heap;
    // Taken off the heap first, each kept pending as DUE: a deadline a callback adds is not ended by this firing (one
    // due at once would otherwise be, and a callback that adds one each time would never let it end), and one a
    // callback cancels or settles meanwhile is skipped.
    const due: Deadline[] = [];
    for (let top = heap[0]; top !== undefined && top.atMs <= nowMs; top = heap[0]) {
      this.#take(0);
      top.index = DUE;
      due.push(top);
    }
    for (const deadline of due) {
      if (deadline.index !== DUE) continue;
      try {
        this.#fail(deadline, error ? error() : new UnavailableError(`${deadline.what} did not settle within ${deadline.ms} ms`));
      } catch (caught) {
        this.#failed(caught);
      }
    }
    // After the due ones: a deadline a callback added has armed the timer itself when earlier, and none is armed for a
    // list the callbacks emptied.
    const earliest = heap[0];
    if (earliest !== undefined && earliest.atMs < this.#firesAtMs) this.#arm(earliest.atMs, nowMs, this.#unarmed);
  }
}

function ignore(): void {}

/** Whether `a` ends before `b`: it is due earlier, or at the same time and was made first. */
function earlier(a: Deadline, b: Deadline): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** What a {@link DeadlineList} logs with an error of its deadlines' ending (see its constructor). */
export const DEADLINE_FAILED = 'a deadline failed to end, or the clock to arm or clear its timer';
