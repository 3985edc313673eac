import { systemClock, type Clock, type ClockTimer } from '@durable-rx/runtime';
import { guardClock, type GuardedClock } from '@durable-rx/runtime/client-kit';
import type { Observable } from 'rxjs';
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import { isRetryableForHooks, MAX_RETRY_MS, retryDelayMs, startsOver } from '../remote-error.js';

/** What a hook renders: the latest value, whether the first one is still awaited, and the error that ended it. */
export interface ObservableState<T> {
  /** The latest value; `undefined` while loading (and for values that are `undefined`). */
  readonly value: T | undefined;
  /**
   * True until the first value arrives, or the stream ends without one: with an error, or complete (a closed client's
   * watches complete). False from the first render on when there is nothing to watch (no source: `undefined` as the id).
   */
  readonly loading: boolean;
  /**
   * The error the stream ended with (e.g. a `RemoteError` `unauthorized` for a wrong key); `undefined` otherwise. After
   * an error worth retrying (`isRetryableForHooks`: `unavailable`, `unreachable`, 5xx, a proxy's page, a remote server's
   * store that is closed or lost, which says `storeClosed: true`) the hook subscribes
   * again by itself, and `value` keeps the last one meanwhile; the next value clears `error`. `error.storeClosed === true`
   * tells a store closed or lost for good (a remote server's, or a local client's own store), whatever the code.
   */
  readonly error: (Error & { readonly storeClosed?: boolean }) | undefined;
}

/**
 * How long a subscription must stay up after its first value to prove healthy, so that its failure starts the back-off
 * over from its first delay (`retryDelayMs`: 1 s, doubling on each failure). A value alone proves nothing: a server
 * that sends the snapshot and then drops the stream, or a store read that fails right after its replay, delivers one
 * on every attempt, and resetting on it subscribed such a source again every second for as long as that went on. The
 * longest delay, not the current one: then a source that keeps failing is subscribed again at most about once per
 * MAX_RETRY_MS once backed off, however soon after its value it fails (with the current delay, one that stays up 1.5 s
 * would be subscribed every 2.5 s for ever), while one that worked for that long and fails once (a deploy) is back
 * after 1 s.
 */
const HEALTHY_MS = MAX_RETRY_MS;

const LOADING: ObservableState<never> = Object.freeze({ value: undefined, loading: true, error: undefined });
/** The state of no source: nothing is awaited, from the first render on (a server render too). */
const IDLE: ObservableState<never> = Object.freeze({ value: undefined, loading: false, error: undefined });

/**
 * Renders the latest value of an observable with `useSyncExternalStore`: subscribes while the component is mounted
 * (once, however many times it renders meanwhile), re-renders when a value arrives, unsubscribes on unmount. Values
 * that arrive together (in one task) may be rendered once, as the last of them: React merges the updates. `reduce`
 * folds each one into what is rendered, so none is lost from it (`useStatus` and `useCustomStatus` render each value
 * in turn). When one of `deps` changes, `source` is called again: the state starts loading again.
 *
 * `source` `undefined` watches nothing: the state is `{ value: undefined, loading: false, error: undefined }` from the
 * first render on, a server render (`getServerSnapshot`) included, with no subscription; the hooks pass it for
 * `undefined` as the instance id. A source that completes without a value (`EMPTY`) is not loading either, but only
 * once it is subscribed, after the first render.
 *
 * `reduce` folds each value into the rendered one (default: keep the latest), e.g. to collect history events.
 *
 * When the source fails with an error worth retrying (`isRetryableForHooks`: a watch the server ended, a connection
 * refused by a proxy during a deploy, a 5xx), the error is rendered with the last value kept, and `source` is
 * subscribed again after 1 s, doubling on each failure up to 10 s; the first value of the new subscription clears the
 * error. The delay starts over at 1 s only after a subscription stayed up for 10 s after its first value: one that
 * fails sooner, even after a value (a snapshot, then the stream dropped), has not proved healthy. A remote server's
 * store that is closed or lost (`storeClosed: true` on the error) is retried so too: a restarted server serves again.
 * A watch's value longer than the client's `maxResponseBytes` is not: it would come again, whole (the other watches
 * of a stream such an event failed, once longer than twice that, are).
 * Any other error (`invalid-argument`, `unauthorized`, a closed client, a store lost in the page) stays until `deps` change or the component mounts again. The
 * pending attempt is cancelled on unmount and when `deps` change. `clock` times the delays (read when `deps` change;
 * default: the system clock; tests pass a `VirtualClock` from `@durable-rx/runtime/testing`).
 *
 * @example
 * ```ts
 * const { value, loading, error } = useObservableState(() => client.status$(id), [client, id]);
 * const none = useObservableState(id === undefined ? undefined : () => client.status$(id), [client, id]);
 * ```
 */
export function useObservableState<T, R = T>(
  source: (() => Observable<T>) | undefined, deps: readonly unknown[], reduce?: (accumulated: R | undefined, value: T) => R,
  clock: Clock = systemClock,
): ObservableState<R> {
  return useSourceState(source, deps, reduce, clock, false);
}

/**
 * `useObservableState`, or with `each` every state in turn: each value (and each error) is rendered in a commit of its
 * own, in order, however fast they arrive; the hooks of one instance's status and custom status use it. Internal: not
 * exported from the entry.
 */
export function useSourceState<T, R = T>(
  source: (() => Observable<T>) | undefined, deps: readonly unknown[], reduce: ((accumulated: R | undefined, value: T) => R) | undefined,
  clock: Clock, each: boolean,
): ObservableState<R> {
  // `source`, `reduce` and `clock` are read when deps change only: callers pass inline arrows.
  const store = useMemo(() => new ObservableStore<T, R>(source, reduce, clock, each), deps);
  const state = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  // After each commit (never on a server render): the next waiting state, if any, is shown (from a task of its own).
  useEffect(() => store.rendered(state), [store, state]);
  return state;
}

/**
 * One source as an external store for `useSyncExternalStore`; snapshots keep their identity until a change. No source:
 * idle for good (never loading, nothing subscribed).
 *
 * With `each`, a new state waits until the one rendered now (the snapshot) has been committed, which the hook reports
 * (`rendered`, from an effect), and is shown from a task of its own: states that arrive together are rendered one per
 * commit, in order, instead of React merging them into the last, and a burst of any length neither nests updates past
 * React's limit nor holds the page while it drains. The waiting states belong to the subscription: dropped with it
 * (unmount, new deps), so none is rendered after unmount or under other deps.
 */
class ObservableStore<T, R> {
  /** The snapshot: what is rendered now. */
  #state: ObservableState<R>;
  /** The newest state, which the next one is made from: the snapshot, or the last waiting one. */
  #latest: ObservableState<R>;
  /** With `each`: the states after the snapshot, oldest first, not rendered yet. */
  #waiting: ObservableState<R>[] = [];
  /** With `each`: whether the snapshot has been committed, so the next state may replace it. */
  #committed = false;
  /** With `each`: cancels the task that will show the next waiting state, while one is pending. */
  #hop: (() => void) | undefined;
  /** The subscriber's `onChange` while subscribed. */
  #onChange: (() => void) | undefined;
  readonly #source: (() => Observable<T>) | undefined;
  readonly #reduce: ((accumulated: R | undefined, value: T) => R) | undefined;
  /** Where the retries are timed: what its `clearTimeout` throws is reported, never thrown into an unmount. */
  readonly #clock: GuardedClock;
  readonly #each: boolean;

  constructor(
    source: (() => Observable<T>) | undefined, reduce: ((accumulated: R | undefined, value: T) => R) | undefined, clock: Clock, each: boolean,
  ) {
    this.#state = this.#latest = source ? LOADING : IDLE;
    this.#source = source;
    this.#reduce = reduce;
    this.#clock = guardClock(clock, undefined, "the hook's clock");
    this.#each = each;
  }

  readonly getSnapshot = (): ObservableState<R> => this.#state;

  /** The hook committed `state`: with `each`, the next waiting state becomes the snapshot, in a task of its own. */
  readonly rendered = (state: ObservableState<R>): void => {
    if (!this.#each || state !== this.#state || this.#committed) return;
    this.#committed = true;
    if (this.#waiting.length > 0) this.#hop ??= nextTask(this.#next);
  };

  /** The next waiting state becomes the snapshot (from the task `rendered` asked for). */
  readonly #next = (): void => {
    this.#hop = undefined;
    const next = this.#waiting.shift();
    if (next) this.#show(next);
  };

  /** A new state: rendered now, or with `each` after the states before it (once the snapshot is committed). */
  #set(state: ObservableState<R>): void {
    this.#latest = state;
    if (this.#each && (!this.#committed || this.#waiting.length > 0)) this.#waiting.push(state);
    else this.#show(state);
  }

  #show(state: ObservableState<R>): void {
    this.#state = state;
    this.#committed = false;
    this.#onChange?.();
  }

  readonly subscribe = (onChange: () => void): (() => void) => {
    const source = this.#source;
    if (!source) return () => {};
    this.#onChange = onChange;
    const clock = this.#clock;
    let subscription: { unsubscribe(): void } | undefined;
    // Not rxjs's `retry`: its `resetOnSuccess` starts the back-off over at the first value (what HEALTHY_MS is
    // against), and the error is rendered between attempts; one timer on the injected clock does both, without the
    // operator machinery (`retry` brings `innerFrom` and the operator subscribers: about 2.4 KB gzip with `repeat`).
    /**
     * This subscriber's one timer, released with it: after a failure, the next attempt; while an attempt that follows
     * failures is up and has delivered a value, the end of its trial (HEALTHY_MS), when the back-off starts over.
     */
    let timer: ClockTimer | undefined;
    /**
     * Arms `timer`: its callback runs only while it is still the armed one, so a timer the clock failed to clear (let
     * go of on a failure or the unmount) does nothing when it fires, and never subscribes with nothing owning it.
     */
    const arm = (callback: () => void, delayMs: number): void => {
      try {
        const armed: ClockTimer = (timer = clock.setTimeout(() => {
          if (timer === armed) callback();
        }, delayMs));
      } catch (error) {
        // Reported, never thrown out of the subscription (a value's or an error's callback, or React's subscribe, which
        // then failed the render): a retry none could arm leaves the error shown, and a trial the back-off starting
        // over at once, so each failure is told once.
        clock.logger.error(`${clock.whose} failed to arm a timer; ${callback === start ? 'the error stays, not retried' : 'the back-off starts over'}`, error);
        if (callback === healthy) healthy();
      }
    };
    /** Failures since a subscription last proved healthy: the retry delay doubles with each. */
    let failures = 0;
    const healthy = (): void => {
      timer = undefined;
      failures = 0;
    };
    const fail = (error: unknown): void => {
      // An attempt that fails during its trial has proved nothing: the back-off goes on from where it was.
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      // A watch that missed values while the connection was down (a remote status$ or customStatus$): what the hook
      // shows is the current value, which a new subscription starts from: subscribed again at once, nothing rendered.
      if (startsOver(error)) return start();
      const failure = error instanceof Error ? error : new Error(String(error));
      // The last value stays on screen (an attempt that fails as it is made, too).
      this.#set({ value: this.#latest.value, loading: false, error: failure });
      // Worth retrying (a watch the server ended, a proxy's refusal): subscribe again, after a delay that is released
      // with the subscription. Any other error would fail again: it stays.
      if (isRetryableForHooks(failure)) arm(start, retryDelayMs(failures++));
    };
    const start = (): void => {
      // Each subscription folds from scratch (a re-subscription replays, e.g. a history); until its first value the
      // previous state stays on screen.
      let accumulated: R | undefined;
      timer = undefined;
      try {
        subscription = source().subscribe({
          next: (value) => {
            // The first value of an attempt after failures starts its trial (none is needed before any failure).
            if (failures && timer === undefined) arm(healthy, HEALTHY_MS);
            accumulated = this.#reduce ? this.#reduce(accumulated, value) : (value as unknown as R);
            this.#set({ value: accumulated, loading: false, error: undefined });
          },
          error: fail,
          // Ended without a value (e.g. a closed client's watch): nothing is awaited any more, so nothing is loading.
          complete: () => {
            if (this.#latest.loading) this.#set({ value: undefined, loading: false, error: undefined });
          },
        });
      } catch (error) {
        // Bad arguments (an invalid instance id) throw when the observable is created: render them as the error.
        fail(error);
      }
    };
    start();
    return () => {
      // Let go of first, then cleared (a clock that fails to clear it is reported): the subscription is released all
      // the same.
      const armed = timer;
      timer = undefined;
      if (armed !== undefined) clock.clearTimeout(armed);
      subscription?.unsubscribe();
      // Nothing more is rendered for this subscription: its waiting states go with it.
      this.#onChange = undefined;
      this.#hop?.();
      this.#hop = undefined;
      this.#waiting = [];
      this.#latest = this.#state;
    };
  };
}

/**
 * Calls `run` from a task of its own, soon; returns what cancels it. A task, not a microtask nor a call from the
 * effect: each update `run` makes is then a new update, not one nested in the previous value's commit (React throws
 * "Maximum update depth exceeded" after 50 nested ones), and the page takes input and paints between two values of a
 * long burst. A `MessageChannel` message: not clamped to 4 ms when nested, as timers are, nor throttled in a hidden tab.
 */
function nextTask(run: () => void): () => void {
  if (typeof MessageChannel !== 'function') {
    const timer = setTimeout(run, 0);
    return () => clearTimeout(timer);
  }
  const channel = new MessageChannel();
  channel.port1.onmessage = () => {
    channel.port1.close();
    run();
  };
  channel.port2.postMessage(undefined);
  return () => channel.port1.close();
}
