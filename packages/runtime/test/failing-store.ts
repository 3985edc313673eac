import { Observable } from 'rxjs';
import { MemoryStore, type Logger, type Store } from '../src/index.js';
import type { StatusChange } from '../src/store/store.js';

/** The methods of the Store port a {@link FailingStore} can make fail. */
export type Method =
  | 'commit' | 'claimOrchestration' | 'abandonOrchestration' | 'claimActivity' | 'abandonActivity' | 'releaseOwner'
  | 'renewActivityLease' | 'getInstance' | 'getHistory' | 'getInstanceHistory' | 'queryInstances' | 'listEnded' | 'purgeInstance'
  | 'purgeInstances' | 'purgeInstanceSet' | 'nextWakeTime';

/** How a failing call fails: a rejected promise, or an exception thrown before any promise is returned. */
type How = 'reject' | 'throw';

/**
 * A fault injection on the Store port: a MemoryStore whose methods can be told to fail their next calls, by rejecting
 * or by throwing synchronously (a store that breaks its own contract). What does not fail goes to the MemoryStore. It
 * has every method the MemoryStore has, the optional ones too, so a client takes the path it takes on a MemoryStore.
 */
export class FailingStore implements Store {
  readonly inner = new MemoryStore();
  readonly capabilities = this.inner.capabilities;
  readonly workAvailable$ = new Observable<void>((subscriber) => {
    this.#workSubscribers++;
    const subscription = this.inner.workAvailable$.subscribe(subscriber);
    return () => {
      this.#workSubscribers--;
      subscription.unsubscribe();
      if (this.workTeardownThrows) throw new Error('injected: workAvailable$ teardown failed');
    };
  });
  /** Subscriptions to `changes$` still open. */
  changeSubscribers = 0;
  readonly changes$ = new Observable<StatusChange>((subscriber) => {
    this.changeSubscribers++;
    const subscription = this.inner.changes$.subscribe(subscriber);
    return () => {
      this.changeSubscribers--;
      subscription.unsubscribe();
      if (this.teardownThrows) throw new Error('injected: changes$ teardown failed');
    };
  });
  /** Unsubscribing from `changes$` throws (after letting go of the MemoryStore's feed). */
  teardownThrows = false;
  /** Unsubscribing from `workAvailable$` throws (after letting go of the MemoryStore's feed). */
  workTeardownThrows = false;
  /** Subscriptions to `workAvailable$` still open. */
  get workSubscribers(): number {
    return this.#workSubscribers;
  }
  #workSubscribers = 0;
  readonly #faults = new Map<Method, { count: number; how: How; error: (() => Error) | undefined }>();

  /** The next `count` calls of `method` fail, as `how` says, with `error()` (or an injected Error) as the reason. */
  failNext(method: Method, count: number, how: How = 'reject', error?: () => Error): void {
    this.#faults.set(method, { count, how, error });
  }

  readonly #calls = new Map<Method, { readonly accepts: ((...args: readonly unknown[]) => boolean) | undefined; readonly resolve: () => void }[]>();

  readonly #hangs = new Map<Method, Hang>();

  /**
   * The next call of `method` after `skip` others hangs, as one on a wedged IndexedDB transaction or across a network
   * partition would; with `where`, only calls whose arguments it accepts count. By default (`applied: 'on release'`)
   * the call reaches the MemoryStore only on `release()`, as a queued transaction does once the wedge clears; with
   * `applied: 'when called'` it takes effect at once and only its answer waits for `release()`, as when the store did
   * the work and the caller's clock moved on before the answer came. Either way the result or error then goes to a
   * caller that may have given up on it. `called` resolves when the call is made; `release()` resolves with the late
   * call's outcome once it has settled. `fail(error)` ends it with `error` instead, the MemoryStore never reached (by
   * default), as a call the store failed after holding it does.
   */
  hangNext<M extends Method>(method: M, skip = 0, options: HangOptions<M> = {}): {
    readonly called: Promise<void>; release(): Promise<PromiseSettledResult<unknown>>; fail(error: Error): Promise<PromiseSettledResult<unknown>>;
  } {
    let open!: () => void;
    let refuse!: (error: Error) => void;
    const gate = new Promise<void>((resolve, reject) => {
      open = resolve;
      refuse = reject;
    });
    gate.catch(() => undefined); // its failure is the hung call's, whose caller is told
    let made!: (late: Promise<unknown>) => void;
    const called = new Promise<{ readonly late: Promise<unknown> }>((resolve) => (made = (late) => resolve({ late })));
    const where = options.where as ((...args: readonly unknown[]) => boolean) | undefined;
    this.#hangs.set(method, { skip, gate, made, where, appliedWhenCalled: options.applied === 'when called' });
    const settled = async (): Promise<PromiseSettledResult<unknown>> => {
      const late = (await called).late;
      return late.then((value) => ({ status: 'fulfilled', value }), (reason: unknown) => ({ status: 'rejected', reason }));
    };
    return {
      called: called.then(() => undefined),
      release: () => {
        open();
        return settled();
      },
      fail: (error) => {
        refuse(error);
        return settled();
      },
    };
  }

  /**
   * Resolves once `method` was next called (with arguments `where` accepts, if given) and went to the MemoryStore
   * (whose operations run when called).
   */
  calledNext<M extends Method>(method: M, where?: (...args: Parameters<Required<Store>[M]>) => boolean): Promise<void> {
    const accepts = where as ((...args: readonly unknown[]) => boolean) | undefined;
    return new Promise((resolve) => this.#calls.set(method, [...(this.#calls.get(method) ?? []), { accepts, resolve }]));
  }

  #call<T>(method: Method, args: readonly unknown[], call: () => Promise<T>): Promise<T> {
    const hang = this.#hangs.get(method);
    if (hang && (!hang.where || hang.where(...args)) && hang.skip-- === 0) {
      this.#hangs.delete(method);
      if (!hang.appliedWhenCalled) {
        const late = hang.gate.then(call);
        hang.made(late);
        return late;
      }
      const applied = call();
      applied.catch(() => undefined); // its answer is given on release
      const answered = hang.gate.then(() => applied);
      hang.made(answered);
      return answered;
    }
    const fault = this.#faults.get(method);
    if (fault && fault.count > 0) {
      fault.count--;
      const error = fault.error?.() ?? new Error(`injected: ${method} failed`);
      if (fault.how === 'throw') throw error;
      return Promise.reject(error);
    }
    const result = call();
    const waiting = this.#calls.get(method);
    if (waiting) {
      const told = waiting.filter((w) => !w.accepts || w.accepts(...args));
      if (told.length > 0) this.#calls.set(method, waiting.filter((w) => !told.includes(w)));
      for (const w of told) w.resolve();
    }
    return result;
  }

  commit(...args: Parameters<Store['commit']>) { return this.#call('commit', args, () => this.inner.commit(...args)); }
  claimOrchestration(...args: Parameters<Store['claimOrchestration']>) { return this.#call('claimOrchestration', args, () => this.inner.claimOrchestration(...args)); }
  abandonOrchestration(...args: Parameters<Store['abandonOrchestration']>) { return this.#call('abandonOrchestration', args, () => this.inner.abandonOrchestration(...args)); }
  claimActivity(...args: Parameters<Store['claimActivity']>) { return this.#call('claimActivity', args, () => this.inner.claimActivity(...args)); }
  abandonActivity(...args: Parameters<Store['abandonActivity']>) { return this.#call('abandonActivity', args, () => this.inner.abandonActivity(...args)); }
  releaseOwner(...args: Parameters<Store['releaseOwner']>) { return this.#call('releaseOwner', args, () => this.inner.releaseOwner(...args)); }
  renewActivityLease(...args: Parameters<Store['renewActivityLease']>) { return this.#call('renewActivityLease', args, () => this.inner.renewActivityLease(...args)); }
  getInstance(...args: Parameters<Store['getInstance']>) { return this.#call('getInstance', args, () => this.inner.getInstance(...args)); }
  /** How many of the next `getHistory` answers leave out their last event (a read that lagged the state before it). */
  shortHistories = 0;
  getHistory(...args: Parameters<Store['getHistory']>) {
    return this.#call('getHistory', args, async () => {
      const history = await this.inner.getHistory(...args);
      if (this.shortHistories === 0 || history.length === 0) return history;
      this.shortHistories--;
      return history.slice(0, -1);
    });
  }
  getInstanceHistory(...args: Parameters<MemoryStore['getInstanceHistory']>) { return this.#call('getInstanceHistory', args, () => this.inner.getInstanceHistory(...args)); }
  queryInstances(...args: Parameters<Store['queryInstances']>) { return this.#call('queryInstances', args, () => this.inner.queryInstances(...args)); }
  listEnded(...args: Parameters<MemoryStore['listEnded']>) { return this.#call('listEnded', args, () => this.inner.listEnded(...args)); }
  purgeInstance(...args: Parameters<Store['purgeInstance']>) { return this.#call('purgeInstance', args, () => this.inner.purgeInstance(...args)); }
  purgeInstances(...args: Parameters<Store['purgeInstances']>) { return this.#call('purgeInstances', args, () => this.inner.purgeInstances(...args)); }
  purgeInstanceSet(...args: Parameters<Store['purgeInstanceSet']>) { return this.#call('purgeInstanceSet', args, () => this.inner.purgeInstanceSet(...args)); }
  nextWakeTime(...args: Parameters<Store['nextWakeTime']>) { return this.#call('nextWakeTime', args, () => this.inner.nextWakeTime(...args)); }
  close() { return this.inner.close(); }
}

/** A logger that keeps every report and lets a test wait for the next error. */
export class RecordingLogger implements Logger {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  #onError: ((message: string) => void)[] = [];
  #onWarning: ((message: string) => void)[] = [];

  warn(message: string): void {
    this.warnings.push(message);
    for (const notify of this.#onWarning.splice(0)) notify(message);
  }

  error(message: string): void {
    this.errors.push(message);
    for (const notify of this.#onError.splice(0)) notify(message);
  }

  /** Resolves with the next error whose message contains `part`. */
  nextError(part: string): Promise<string> {
    return nextReport(this.#onError, part);
  }

  /** Resolves with the next warning whose message contains `part`. */
  nextWarning(part: string): Promise<string> {
    return nextReport(this.#onWarning, part);
  }
}

/** Resolves with the next report pushed to `listeners` whose message contains `part`. */
function nextReport(listeners: ((message: string) => void)[], part: string): Promise<string> {
  return new Promise((resolve) => {
    const listen = (message: string): void => {
      if (message.includes(part)) resolve(message);
      else listeners.push(listen);
    };
    listeners.push(listen);
  });
}

/** Options of {@link FailingStore.hangNext}. */
export interface HangOptions<M extends Method> {
  /** Only calls whose arguments this accepts hang (and count for `skip`). */
  readonly where?: (...args: Parameters<Required<Store>[M]>) => boolean;
  /** When the hung call takes effect: on `release()` (default), or when it is made, its answer held until `release()`. */
  readonly applied?: 'on release' | 'when called';
}

interface Hang {
  skip: number;
  readonly gate: Promise<void>;
  readonly made: (late: Promise<unknown>) => void;
  readonly where: ((...args: readonly unknown[]) => boolean) | undefined;
  readonly appliedWhenCalled: boolean;
}
