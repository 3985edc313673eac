import { filter, firstValueFrom, Observable, throwError, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, MemoryStore, type Logger, type Runtime, type Store } from '../src/index.js';
import type { StatusChange } from '../src/store/store.js';
import { isTerminalStatus, type InstanceStatus } from '../src/model/instance-status.js';
import type { DurableClient } from '../src/client/durable-client.js';
import { SETTLED } from '../src/testing/settled.js';
import { HandClock, T0 } from './hand-clock.js';

/** The methods of the Store port a {@link FailingStore} can make fail. */
type Method =
  | 'commit' | 'claimOrchestration' | 'abandonOrchestration' | 'claimActivity' | 'abandonActivity' | 'releaseOwner'
  | 'renewActivityLease' | 'getInstance' | 'getHistory' | 'queryInstances' | 'purgeInstance' | 'purgeInstances' | 'nextWakeTime';

/** How a failing call fails: a rejected promise, or an exception thrown before any promise is returned. */
type How = 'reject' | 'throw';

/**
 * A fault injection on the Store port: a MemoryStore whose methods can be told to fail their next calls, by rejecting
 * or by throwing synchronously (a store that breaks its own contract). What does not fail goes to the MemoryStore.
 */
class FailingStore implements Store {
  readonly inner = new MemoryStore();
  readonly capabilities = this.inner.capabilities;
  readonly workAvailable$ = this.inner.workAvailable$;
  /** Subscriptions to `changes$` still open. */
  changeSubscribers = 0;
  readonly changes$ = new Observable<StatusChange>((subscriber) => {
    this.changeSubscribers++;
    const subscription = this.inner.changes$.subscribe(subscriber);
    return () => {
      this.changeSubscribers--;
      subscription.unsubscribe();
    };
  });
  readonly #faults = new Map<Method, { count: number; how: How }>();

  /** The next `count` calls of `method` fail, as `how` says. */
  failNext(method: Method, count: number, how: How = 'reject'): void {
    this.#faults.set(method, { count, how });
  }

  #call<T>(method: Method, call: () => Promise<T>): Promise<T> {
    const fault = this.#faults.get(method);
    if (fault && fault.count > 0) {
      fault.count--;
      const error = new Error(`injected: ${method} failed`);
      if (fault.how === 'throw') throw error;
      return Promise.reject(error);
    }
    return call();
  }

  commit(...args: Parameters<Store['commit']>) { return this.#call('commit', () => this.inner.commit(...args)); }
  claimOrchestration(...args: Parameters<Store['claimOrchestration']>) { return this.#call('claimOrchestration', () => this.inner.claimOrchestration(...args)); }
  abandonOrchestration(...args: Parameters<Store['abandonOrchestration']>) { return this.#call('abandonOrchestration', () => this.inner.abandonOrchestration(...args)); }
  claimActivity(...args: Parameters<Store['claimActivity']>) { return this.#call('claimActivity', () => this.inner.claimActivity(...args)); }
  abandonActivity(...args: Parameters<Store['abandonActivity']>) { return this.#call('abandonActivity', () => this.inner.abandonActivity(...args)); }
  releaseOwner(...args: Parameters<Store['releaseOwner']>) { return this.#call('releaseOwner', () => this.inner.releaseOwner(...args)); }
  renewActivityLease(...args: Parameters<Store['renewActivityLease']>) { return this.#call('renewActivityLease', () => this.inner.renewActivityLease(...args)); }
  getInstance(...args: Parameters<Store['getInstance']>) { return this.#call('getInstance', () => this.inner.getInstance(...args)); }
  getHistory(...args: Parameters<Store['getHistory']>) { return this.#call('getHistory', () => this.inner.getHistory(...args)); }
  queryInstances(...args: Parameters<Store['queryInstances']>) { return this.#call('queryInstances', () => this.inner.queryInstances(...args)); }
  purgeInstance(...args: Parameters<Store['purgeInstance']>) { return this.#call('purgeInstance', () => this.inner.purgeInstance(...args)); }
  purgeInstances(...args: Parameters<Store['purgeInstances']>) { return this.#call('purgeInstances', () => this.inner.purgeInstances(...args)); }
  nextWakeTime(...args: Parameters<Store['nextWakeTime']>) { return this.#call('nextWakeTime', () => this.inner.nextWakeTime(...args)); }
  close() { return this.inner.close(); }
}

/** A logger that keeps every report and lets a test wait for the next error. */
class RecordingLogger implements Logger {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  #onError: ((message: string) => void)[] = [];

  warn(message: string): void {
    this.warnings.push(message);
  }

  error(message: string): void {
    this.errors.push(message);
    for (const notify of this.#onError.splice(0)) notify(message);
  }

  /** Resolves with the next error whose message contains `part`. */
  nextError(part: string): Promise<string> {
    return new Promise((resolve) => {
      const listen = (message: string): void => {
        if (message.includes(part)) resolve(message);
        else this.#onError.push(listen);
      };
      this.#onError.push(listen);
    });
  }
}

const runtimes: { runtime: Runtime; clock: HandClock }[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map(({ runtime, clock }) => {
    const stopping = runtime.stop({ graceMs: 0 });
    // The grace period's timer, armed at once when work still runs, fires by hand.
    for (const [id, timer] of clock.timers) if (timer.at <= clock.ms) clock.fire(id);
    return stopping;
  }));
});

/** The first terminal status of `id`, by notification, within SETTLED of real time (the runtime's clock is moved by hand). */
function ending(client: DurableClient, id: string): Promise<InstanceStatus | undefined> {
  return firstValueFrom(client.status$(id).pipe(
    filter((s) => s !== undefined && isTerminalStatus(s.runtimeStatus)),
    timeout({ first: SETTLED.timeoutMs, with: () => throwError(() => new Error(`instance ${id} did not end within ${SETTLED.timeoutMs} ms`)) }),
  ));
}

/** A promise that settles within SETTLED of real time, or rejects saying what did not happen. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${SETTLED.timeoutMs} ms`)), SETTLED.timeoutMs))),
  ]).finally(() => clearTimeout(timer));
}

describe('a store whose methods fail', () => {
  for (const how of ['reject', 'throw'] as const) {
    it(`commits a finished activity's result once the store recovers, without running it again (commit ${how}s)`, async () => {
      const clock = new HandClock();
      const store = new FailingStore();
      const logger = new RecordingLogger();
      let runs = 0;
      const runtime = createRuntime({
        store, clock, logger,
        orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work', 2); } },
        activities: {
          Work: (n: number) => {
            runs++;
            // Both ways of committing the result fail: with the step it wakes, then alone.
            store.failNext('commit', 2, how);
            return n * 21;
          },
        },
      });
      runtimes.push({ runtime, clock });
      const failed = logger.nextError('');
      await runtime.start();
      const id = await runtime.client.startNew('Calls');
      const ended = ending(runtime.client, id);
      ended.catch(() => undefined); // awaited at the end; a rejection after a failed expectation is no unhandled error
      await within(failed, 'the failed result commit being reported');
      expect(store.inner.capabilities.fusedSteps).toBe(true);
      // The result is committed again soon (backing off as claims do), not dropped until the task's 5-minute lease
      // expires and the activity runs a second time.
      expect(clock.earliestDelay()).toBeLessThanOrEqual(1000);
      const retry = [...clock.timers].find(([, t]) => t.at <= clock.ms + 1000)![0];
      clock.ms = clock.timers.get(retry)!.at;
      clock.fire(retry);
      expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 42 });
      expect(runs).toBe(1);
    });

    it(`keeps renewing a running activity's lease after one renewal failed (renewal ${how}s)`, async () => {
      const clock = new HandClock();
      const store = new FailingStore();
      const logger = new RecordingLogger();
      let finish!: (value: string) => void;
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const runtime = createRuntime({
        store, clock, logger, activityLeaseMs: 3000,
        orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Long'); } },
        activities: { Long: () => new Promise<string>((resolve) => { finish = resolve; started(); }) },
      });
      runtimes.push({ runtime, clock });
      await runtime.start();
      const id = await runtime.client.startNew('Calls');
      const ended = ending(runtime.client, id);
      ended.catch(() => undefined); // awaited at the end; a rejection after a failed expectation is no unhandled error
      await within(running, 'the activity starting');
      // The heartbeat renews every third of the lease: its first renewal fails.
      const firstBeat = [...clock.timers].find(([, t]) => t.at === T0 + 1000)![0];
      store.failNext('renewActivityLease', 1, how);
      const failed = logger.nextError('renewing the lease');
      clock.ms = T0 + 1000;
      clock.fire(firstBeat);
      await within(failed, 'the failed renewal being reported');
      // The next renewal is armed all the same, and it succeeds.
      const secondBeat = [...clock.timers].find(([, t]) => t.at === T0 + 2000)?.[0];
      expect(secondBeat, 'a renewal armed after the failed one').toBeDefined();
      clock.ms = T0 + 2000;
      clock.fire(secondBeat!);
      // Past the lease's first expiry (T0 + 3 s) the task is still held: no other worker can take it and run it again.
      clock.ms = T0 + 3500;
      expect(await store.inner.claimActivity({ owner: 'other', leaseMs: 3000, now: clock.now() })).toBeUndefined();
      finish('done');
      expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    });
  }
});
