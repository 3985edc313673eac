import type { Observable } from 'rxjs';
import { useMemo, useSyncExternalStore } from 'react';

/** What a hook renders: the latest value, whether the first one is still awaited, and the error that ended it. */
export interface ObservableState<T> {
  /** The latest value; `undefined` while loading (and for values that are `undefined`). */
  readonly value: T | undefined;
  /**
   * True until the first value arrives, or the stream ends without one: with an error, or complete (`undefined` as the
   * id watches nothing; a closed client's watches complete).
   */
  readonly loading: boolean;
  /** The error the stream ended with (e.g. a `RemoteError` `unauthorized` for a wrong key); `undefined` otherwise. */
  readonly error: Error | undefined;
}

const LOADING: ObservableState<never> = Object.freeze({ value: undefined, loading: true, error: undefined });

/**
 * Renders the latest value of an observable with `useSyncExternalStore`: subscribes while the component is mounted
 * (once, however many times it renders meanwhile), re-renders on each value, unsubscribes on unmount. When one of
 * `deps` changes, `source` is called again: the state starts loading again.
 *
 * `reduce` folds each value into the rendered one (default: keep the latest), e.g. to collect history events.
 *
 * @example
 * ```ts
 * const { value, loading, error } = useObservableState(() => client.status$(id), [client, id]);
 * ```
 */
export function useObservableState<T, R = T>(
  source: () => Observable<T>, deps: readonly unknown[], reduce?: (accumulated: R | undefined, value: T) => R,
): ObservableState<R> {
  // `source` and `reduce` are read when deps change only: callers pass inline arrows.
  const store = useMemo(() => new ObservableStore<T, R>(source, reduce), deps);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

/** One source as an external store for `useSyncExternalStore`; snapshots keep their identity until a change. */
class ObservableStore<T, R> {
  #state: ObservableState<R> = LOADING;
  readonly #source: () => Observable<T>;
  readonly #reduce: ((accumulated: R | undefined, value: T) => R) | undefined;

  constructor(source: () => Observable<T>, reduce: ((accumulated: R | undefined, value: T) => R) | undefined) {
    this.#source = source;
    this.#reduce = reduce;
  }

  readonly getSnapshot = (): ObservableState<R> => this.#state;

  readonly subscribe = (onChange: () => void): (() => void) => {
    let subscription: { unsubscribe(): void } | undefined;
    // Each subscription folds from scratch (a re-subscription replays, e.g. a history); until its first value the
    // previous state stays on screen.
    let accumulated: R | undefined;
    try {
      subscription = this.#source().subscribe({
        next: (value) => {
          accumulated = this.#reduce ? this.#reduce(accumulated, value) : (value as unknown as R);
          this.#state = { value: accumulated, loading: false, error: undefined };
          onChange();
        },
        error: (error: unknown) => {
          this.#state = { value: this.#state.value, loading: false, error: error instanceof Error ? error : new Error(String(error)) };
          onChange();
        },
        // Ended without a value (`EMPTY` for no id): nothing is awaited any more, so nothing is loading.
        complete: () => {
          if (!this.#state.loading) return;
          this.#state = { value: undefined, loading: false, error: undefined };
          onChange();
        },
      });
    } catch (error) {
      // Bad arguments (an invalid instance id) throw when the observable is created: render them as the error.
      this.#state = { value: undefined, loading: false, error: error instanceof Error ? error : new Error(String(error)) };
      onChange();
    }
    return () => subscription?.unsubscribe();
  };
}
