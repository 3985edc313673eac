import { InvalidArgumentError, type Clock, type ClockTimer } from '@durable-rx/runtime';
import { DEFAULT_STORE_CALL_TIMEOUT_MS, type MemberCheck } from '@durable-rx/runtime/store-kit';
import { READ_DEADLINE_MARGIN_MS } from './read-bound.js';
import { MAJORITY_WAIT_MS, SINGLE_WRITE_CONCERN } from './write-concern.js';

/**
 * The whole of one `listEnded` call, its reads and the repair writes it does on the way: 25 s from the call's start.
 * Within the runtime's `storeCallTimeoutMs` (30 s by default), which gives up on a call still running and starts
 * another: the store answers first, and nothing of the call goes on after it answered. Before, a page's reads shared
 * one bound (35 s) and each repair write waited up to 30 s for a majority on top of it: about 95 s under a majority
 * that cannot acknowledge.
 */
export const LISTING_DEADLINE_MS = 25_000;

/**
 * The deadline of a `listEnded` call whose caller gives up after `storeCallTimeoutMs` (the store's option of that name,
 * the runtime's value; unset, the runtime's default, store-kit's `DEFAULT_STORE_CALL_TIMEOUT_MS`): five sixths of it,
 * and {@link LISTING_DEADLINE_MS} at most. So the store answers before its caller gives up at any bound, 5 s before the default 30 s, and the server's share of it ({@link serverTimeLeft})
 * ends a fifth earlier still. Before, a caller's bound under 25 s gave up first, and started another listing while the
 * abandoned one went on reading and writing.
 *
 * @example
 * ```ts
 * listingDeadlineMs(30_000);   // 25000
 * listingDeadlineMs(12_000);   // 10000: the server's share 8000
 * listingDeadlineMs(Infinity); // 25000
 * ```
 */
export function listingDeadlineMs(storeCallTimeoutMs: number = DEFAULT_STORE_CALL_TIMEOUT_MS): number {
  return Math.min(LISTING_DEADLINE_MS, Math.floor((storeCallTimeoutMs * 5) / 6));
}

/**
 * The shortest `storeCallTimeoutMs` option a store takes: 1 s, a `listEnded` deadline of 833 ms ({@link listingDeadlineMs}),
 * 666 ms of it for the server and 166 ms for the reply to come back ({@link serverTimeLeft}), as long as a round trip
 * between continents. Shorter, every listing fails with a 503 (under 2.4 ms at once, the shares rounding to nothing;
 * above, on the first reply later than a fifth of the deadline), so the retention sweep never purges and says so only
 * by failing.
 */
export const MIN_STORE_CALL_TIMEOUT_MS = 1_000;

/**
 * The check of the store's `storeCallTimeoutMs` option: a number of ms of at least {@link MIN_STORE_CALL_TIMEOUT_MS},
 * `Infinity` included, else one `InvalidArgumentError` naming that floor, whatever the value (0, -1, NaN and a string
 * too: a message saying "> 0" there sent a user on to 1 ms, refused in turn). A runtime whose own `storeCallTimeoutMs`
 * is shorter gives up on every MongoDB call before its server could answer (reads take up to 30 s); its store is given
 * the floor.
 *
 * @example
 * ```ts
 * isStoreCallTimeoutMs(5_000, 'MongoStore options.storeCallTimeoutMs'); // 5000
 * isStoreCallTimeoutMs(1, 'MongoStore options.storeCallTimeoutMs');     // throws: must be a number of at least 1000 (ms)
 * ```
 */
export const isStoreCallTimeoutMs: MemberCheck<number> = (value, what) => {
  if (typeof value === 'number' && value >= MIN_STORE_CALL_TIMEOUT_MS) return value;
  throw new InvalidArgumentError(
    `${what} must be a number of at least ${String(MIN_STORE_CALL_TIMEOUT_MS)} (ms), Infinity included: a listEnded call ends by five sixths of it, and a shorter one leaves its reads too little time to reach the server and back, so every listing would fail with a 503 (under a runtime whose storeCallTimeoutMs is shorter, give the store ${String(MIN_STORE_CALL_TIMEOUT_MS)})`,
  );
};

/**
 * The server time an operation of a call under one deadline of `totalMs` may take when it starts `elapsedMs` after the
 * call began: what is left until a margin before the deadline ({@link READ_DEADLINE_MARGIN_MS}, or a fifth of a
 * deadline shorter than 25 s: {@link listingDeadlineMs}), so the server ends it itself
 * (`MaxTimeMSExpired`, a write concern timeout) and answers before the call's signal gives up on an answer (the
 * signal is for a server that does not answer at all). `undefined` when no whole millisecond is left: the operation is
 * not started. Never more than the call's share (`totalMs` less the margin): a hand clock set back during the call
 * gives a negative `elapsedMs`, while the call's signal still aborts at its own timer.
 *
 * @example
 * ```ts
 * serverTimeLeft(0);      // 20000
 * serverTimeLeft(19_500); // 500
 * serverTimeLeft(20_000); // undefined
 * serverTimeLeft(1_000, 10_000); // 7000: a margin of 2000
 * ```
 */
export function serverTimeLeft(elapsedMs: number, totalMs: number = LISTING_DEADLINE_MS): number | undefined {
  const left = Math.floor(totalMs - Math.min(READ_DEADLINE_MARGIN_MS, totalMs / 5) - Math.max(elapsedMs, 0));
  return left >= 1 ? left : undefined;
}

/** The bound of one read of a call under a {@link CallDeadline}. */
export interface DeadlineReadBound {
  readonly maxTimeMS: number;
  readonly signal: AbortSignal;
}

/**
 * The bound of one write of a call under a {@link CallDeadline}: the store's write concern ({@link SINGLE_WRITE_CONCERN}),
 * its server time and its wait for a majority both ending with what is left of the call ({@link MAJORITY_WAIT_MS} at
 * most). Driver 7.8 sends `maxTimeMS` with a bulk write's
 * `update` commands and reads `signal` from every operation's options (server selection, connection check-out and the
 * command itself: `executeOperationWithRetries`), though `BulkWriteOptions` does not list it; its `timeoutMS` has no
 * effect.
 */
export interface DeadlineWriteBound extends DeadlineReadBound {
  readonly writeConcern: { readonly w: 'majority'; readonly wtimeoutMS: number };
}

/**
 * Where a call under a {@link CallDeadline} reads the time it has taken, in ms, for the store's `clock`: the clock's
 * own time when its timers run on it (`timersFireOnTime`: a `VirtualClock`, a hand clock in tests, drives the deadline),
 * else `performance.now()`, monotonic as the timers that end the call. The system clock's `now()` is wall time: set
 * forward during a call (an NTP step, a machine waking from sleep) it made the call's time look spent, and the call
 * ended at once with a 503; set back, it made it look unspent. Timestamps stay on the clock; only the elapsed time
 * is read here.
 *
 * @example
 * ```ts
 * elapsedSourceOf(systemClock)();       // performance.now()
 * elapsedSourceOf(new VirtualClock())(); // its now(), in ms
 * ```
 */
export function elapsedSourceOf(clock: Clock): () => number {
  return clock.timersFireOnTime === true ? () => clock.now().getTime() : () => performance.now();
}

/**
 * One deadline for every operation of a store call ({@link LISTING_DEADLINE_MS} for `listEnded`), on the store's
 * clock's timers, its elapsed time read as those timers count it ({@link elapsedSourceOf}): each read or write started
 * under it takes the server time left ({@link serverTimeLeft}) and the call's
 * signal, which aborts at the deadline with a `TimeoutError` (the store maps it to `StoreUnreachableError`, 503);
 * one started when nothing is left is not started and throws that error instead. {@link CallDeadline.release} clears
 * the timer once the call has settled: the call owns it.
 *
 * @example
 * ```ts
 * const deadline = new CallDeadline(clock);
 * try {
 *   const cursor = instances.find(filter, { session, ...deadline.read() });
 *   await instances.bulkWrite(updates, { session: writes, ordered: false, ...deadline.write() });
 * } finally {
 *   deadline.release();
 * }
 * ```
 */
export class CallDeadline {
  readonly #clock: Clock;
  readonly #totalMs: number;
  readonly #elapsed: () => number;
  readonly #startMs: number;
  readonly #controller = new AbortController();
  #timer: ClockTimer | undefined;

  constructor(clock: Clock, totalMs: number = LISTING_DEADLINE_MS) {
    this.#clock = clock;
    this.#totalMs = totalMs;
    this.#elapsed = elapsedSourceOf(clock);
    this.#startMs = this.#elapsed();
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#controller.abort(this.#expired());
    }, totalMs);
  }

  /** Aborted at the deadline, with a `TimeoutError`. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The bound of a read started now; throws the deadline's `TimeoutError` when no time is left for it. */
  read(): DeadlineReadBound {
    return { maxTimeMS: this.#left(), signal: this.signal };
  }

  /** The bound of a write started now, its majority wait included; throws as {@link CallDeadline.read} does. */
  write(): DeadlineWriteBound {
    const maxTimeMS = this.#left();
    return { maxTimeMS, writeConcern: { ...SINGLE_WRITE_CONCERN, wtimeoutMS: Math.min(maxTimeMS, SINGLE_WRITE_CONCERN.wtimeoutMS) }, signal: this.signal };
  }

  /** Clears the deadline's timer; the signal is left as it is. Called once the call has settled. */
  release(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #left(): number {
    if (this.signal.aborted) throw this.signal.reason;
    const left = serverTimeLeft(this.#elapsed() - this.#startMs, this.#totalMs);
    if (left === undefined) throw this.#expired();
    return left;
  }

  #expired(): Error {
    const error = new Error(`the call's deadline of ${String(this.#totalMs)} ms (its reads and writes in all) has passed`);
    error.name = 'TimeoutError';
    return error;
  }
}
