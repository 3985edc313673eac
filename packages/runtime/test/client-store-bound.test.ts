import { filter, firstValueFrom, type Observable } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import {
  createClient, createRuntime, InvalidArgumentError, isDurableError, MemoryStore, silentLogger, UnavailableError,
  type DurableClient, type Store,
} from '../src/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { createHttpHandler } from '../src/http/index.js';
import type { InstanceState } from '../src/model/instance-status.js';
import { HandClock, T0 } from './hand-clock.js';
import { within } from './within.js';

/** The store methods a client calls (`getInstanceHistory` where the store has it, as the MemoryStore does). */
type Method = 'commit' | 'getInstance' | 'getHistory' | 'getInstanceHistory' | 'queryInstances' | 'purgeInstance' | 'purgeInstances';

/**
 * A MemoryStore whose calls of the methods in `hanging` do not settle (a wedged IndexedDB transaction, a network
 * partition without a socket timeout) until `answerHeld()` passes them on to the MemoryStore; everything else goes to
 * the MemoryStore at once.
 */
/**
 * `read` as a state stored before a step said what a Suspended execution kept (`InstanceState.suspension`), which a
 * resume then reads from the history: the path these cases bound.
 */
async function unflagged(read: Promise<InstanceState | undefined>): Promise<InstanceState | undefined> {
  const state = await read;
  if (state?.suspension === undefined) return state;
  const { suspension: _, ...rest } = state;
  return rest;
}

/** A MemoryStore whose methods named in `hanging` never answer until `answerHeld()`; with `flagless`, see {@link unflagged}. */
function hangingStore({ flagless = false } = {}) {
  const inner = new MemoryStore();
  const hanging = new Set<Method>();
  /** How many hanging calls were made, and who waits for that count to reach a number. */
  let hung = 0;
  const waiting: { readonly count: number; readonly reached: () => void }[] = [];
  /** The hanging calls, each as the function that answers it. */
  const held: (() => void)[] = [];
  const store = new Proxy(inner, {
    get: (target, key) => {
      if (hanging.has(key as Method)) {
        return (...args: unknown[]) => {
          hung++;
          for (const waiter of waiting.filter((w) => w.count <= hung)) waiter.reached();
          return new Promise<unknown>((resolve, reject) => {
            held.push(() => (Reflect.get(target, key, target) as (...a: unknown[]) => Promise<unknown>).apply(target, args).then(resolve, reject));
          });
        };
      }
      if (flagless && key === 'getInstance') return (id: string) => unflagged(target.getInstance(id));
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Store;
  /** Resolves once `count` hanging calls have been made in all. */
  const hungCalls = (count: number): Promise<void> =>
    new Promise((resolve) => (hung >= count ? resolve() : waiting.push({ count, reached: resolve })));
  /** Passes every call held so far on to the MemoryStore: each settles as it answers. */
  const answerHeld = (): void => {
    for (const answer of held.splice(0)) answer();
  };
  return { inner, store, hanging, hungCalls, answerHeld };
}

/** What `promise` settled with: its value, or the error it rejected with. */
function outcome<T>(promise: Promise<T>): Promise<T | unknown> {
  return promise.then((value) => value, (error: unknown) => error);
}

/** The first value of `source`, or the error it ended with. */
function firstOutcome<T>(source: Observable<T>): Promise<T | unknown> {
  return outcome(firstValueFrom(source));
}

/** Moves `clock` to `ms` and fires the timers due by then (the client's one deadline timer). */
async function passTo(clock: HandClock, ms: number): Promise<void> {
  await within(clock.timerDueBy(ms), `a timer due by T0 + ${ms - T0} ms`);
  clock.ms = ms;
  for (const [id, timer] of clock.timers) if (timer.at <= ms) clock.fire(id);
}

const unavailable = { code: 'unavailable', status: 503, name: 'UnavailableError' };

/**
 * A client on a hanging store (nothing hangs yet) with a 5 s bound, on a hand-moved clock, with a Completed instance
 * 'done' (run by a runtime that has stopped since) and a Pending instance 'run' (no worker runs it).
 */
async function clientOnHangingStore() {
  const clock = new HandClock();
  const { inner, store, hanging, hungCalls, answerHeld } = hangingStore();
  const client = createClient({ store, clock, storeCallTimeoutMs: 5000 });
  await client.startNew('Any', { instanceId: 'done' });
  const runtime = createRuntime({ store: inner, clock, logger: silentLogger, orchestrators: { Any: function* () { return 'ok'; } } });
  await runtime.start();
  await within(runtime.client.waitForCompletion('done'), 'the instance completing');
  await runtime.stop({ graceMs: 0 });
  await client.startNew('Any', { instanceId: 'run' });
  expect(clock.timers.size).toBe(0);
  return { clock, client, hanging, hungCalls, answerHeld };
}

describe('a client whose store never answers', () => {
  it('rejects every read and command with UnavailableError once storeCallTimeoutMs passes, leaving no timer', async () => {
    const { clock, client, hanging, hungCalls } = await clientOnHangingStore();
    for (const method of ['commit', 'getInstance', 'getHistory', 'getInstanceHistory', 'queryInstances', 'purgeInstance', 'purgeInstances'] as const) hanging.add(method);
    const calls: Record<string, Promise<unknown>> = {
      startNew: outcome(client.startNew('Any')),
      getStatus: outcome(client.getStatus('run')),
      getStatusWithHistory: outcome(client.getStatus('run', { showHistory: true })),
      listInstances: outcome(client.listInstances()),
      getStatusAll: outcome(client.getStatusAll()),
      getStatusBy: outcome(client.getStatusBy({ runtimeStatus: ['Running'] })),
      raiseEvent: outcome(client.raiseEvent('run', 'Go')),
      terminate: outcome(client.terminate('run')),
      suspend: outcome(client.suspend('run')),
      resume: outcome(client.resume('run')),
      rewind: outcome(client.rewind('run')),
      restart: outcome(client.restart('done')),
      purgeInstanceHistory: outcome(client.purgeInstanceHistory('done')),
      purgeInstanceHistoryBy: outcome(client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), runtimeStatus: ['Completed'] })),
    };
    // One deadline for all of them, on the client's clock: storeCallTimeoutMs after the calls.
    await within(hungCalls(Object.keys(calls).length), 'every call reaching the store');
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 5000]);
    await passTo(clock, T0 + 5000);
    const errors = await within(Promise.all(Object.values(calls)), 'every call ending');
    for (const [name, error] of Object.entries(calls).map(([name], i) => [name, errors[i]] as const)) {
      expect(error, name).toBeInstanceOf(UnavailableError);
      expect(error, name).toMatchObject(unavailable);
      expect(isDurableError(error), name).toBe(true);
    }
    expect(clock.timers.size).toBe(0);
  });

  it('has a watch read again after its first read outlasted storeCallTimeoutMs, backing off, and go on once the store answers', async () => {
    const { clock, client, hanging, hungCalls, answerHeld } = await clientOnHangingStore();
    for (const method of ['getInstance', 'getInstanceHistory', 'queryInstances'] as const) hanging.add(method);
    const watches: Record<string, Observable<unknown>> = {
      status$: client.status$('run'), customStatus$: client.customStatus$('run'), history$: client.history$('run'), instances$: client.instances$(),
    };
    const seen: Record<string, unknown[]> = {};
    const failures: Record<string, unknown> = {};
    const subscriptions = Object.entries(watches).map(([name, source]) => {
      const values: unknown[] = (seen[name] = []);
      return source.subscribe({ next: (value) => values.push(value), error: (error: unknown) => (failures[name] = error) });
    });
    await within(hungCalls(4), 'every first read reaching the store');
    await passTo(clock, T0 + 5000);
    // None ended: each reads again 100 ms later, on the client's clock (one deadline timer for all).
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 5100]);
    await passTo(clock, T0 + 5100);
    await within(hungCalls(8), 'every read again reaching the store');
    expect(failures).toEqual({});
    // The store answers: each watch goes on from what it reads.
    hanging.clear();
    answerHeld();
    await vi.waitFor(() => {
      expect(seen['status$']).toEqual([expect.objectContaining({ runtimeStatus: 'Pending' })]);
      expect(seen['customStatus$']).toEqual([undefined]);
      expect(seen['instances$']).toEqual([[expect.objectContaining({ instanceId: 'done' }), expect.objectContaining({ instanceId: 'run' })]]);
    }, { timeout: SETTLED.timeoutMs });
    expect(failures).toEqual({});
    for (const subscription of subscriptions) subscription.unsubscribe();
    expect(clock.timers.size).toBe(0);
  });

  it('ends a wait for completion with UnavailableError, the bound error as its cause, when no read answered by its timeout and the grace after', async () => {
    const { clock, client, hanging } = await clientOnHangingStore();
    hanging.add('getInstance');
    const wait = outcome(client.waitForCompletion('run', { timeoutMs: 10_000 }));
    await clock.fireUntil(wait, 'the wait ending', 1000);
    expect(await wait).toMatchObject({ ...unavailable, cause: unavailable });
  });

  it('rejects a command whose commit the store never answers, after reading the instance', async () => {
    const { clock, client, hanging, hungCalls } = await clientOnHangingStore();
    hanging.add('commit');
    const calls = [
      outcome(client.startNew('Any')), outcome(client.raiseEvent('run', 'Go')), outcome(client.terminate('run')),
      outcome(client.restart('done')),
    ];
    await within(hungCalls(4), 'the four commits being made');
    await passTo(clock, T0 + 5000);
    expect(await within(Promise.all(calls), 'every command ending')).toMatchObject([unavailable, unavailable, unavailable, unavailable]);
  });

  it('leaves a resume to a worker as a message when its read of the history outlasts the bound, instead of rejecting', async () => {
    const clock = new HandClock();
    const { inner, store, hanging, hungCalls, answerHeld } = hangingStore({ flagless: true });
    const client = createClient({ store, clock, storeCallTimeoutMs: 5000 });
    // A Running instance that no worker holds: the runtime that ran its first step has stopped.
    const runtime = createRuntime({
      store: inner, clock, logger: silentLogger, orchestrators: { Wait: function* (ctx) { return yield ctx.waitForExternalEvent('go'); } },
    });
    await runtime.start();
    await runtime.client.startNew('Wait', { instanceId: 'w' });
    await within(firstValueFrom(runtime.client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the instance running');
    await runtime.stop({ graceMs: 0 });
    await client.suspend('w');
    expect(await client.getStatus('w')).toMatchObject({ runtimeStatus: 'Suspended' });
    hanging.add('getHistory');
    const resuming = outcome(client.resume('w', 'later'));
    await within(hungCalls(1), 'the history read');
    await passTo(clock, T0 + 5000);
    // The read gave up: the resume is queued for a worker, and the call waits for one as any queued command does.
    await passTo(clock, T0 + 15_000);
    expect(await within(resuming, 'the resume ending')).toBeUndefined();
    const queued = await inner.claimOrchestration({ owner: 'check', leaseMs: 1000, now: new Date(clock.ms) });
    expect(queued?.messages.map((m) => m.event)).toMatchObject([{ type: 'ExecutionResumed', reason: 'later' }]);
    answerHeld();
    expect(clock.timers.size).toBe(0);
  });

  it('rejects a resume whose read of the history fails for another reason than unavailability, queuing nothing', async () => {
    const inner = new MemoryStore();
    const broken = new Error('history unreadable');
    const store = new Proxy(inner, {
      get: (target, key) => {
        if (key === 'getHistory') return () => Promise.reject(broken);
        if (key === 'getInstance') return (id: string) => unflagged(target.getInstance(id));
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Store;
    const runtime = createRuntime({
      store: inner, logger: silentLogger, orchestrators: { Wait: function* (ctx) { return yield ctx.waitForExternalEvent('go'); } },
    });
    await runtime.start();
    await runtime.client.startNew('Wait', { instanceId: 'w' });
    await within(firstValueFrom(runtime.client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the instance running');
    await runtime.stop({ graceMs: 0 });
    const client = createClient({ store });
    await client.suspend('w');
    // A store's error that is no timeout nor unavailability is the command's: it is not hidden behind a message.
    expect(await within(outcome(client.resume('w')), 'the resume ending')).toBe(broken);
    expect(await inner.claimOrchestration({ owner: 'check', leaseMs: 1000, now: new Date() })).toBeUndefined();
    expect(await client.getStatus('w')).toMatchObject({ runtimeStatus: 'Suspended' });
  });

  it('answers as before from a store that answers, and holds no timer between calls', async () => {
    const { clock, client } = await clientOnHangingStore();
    expect(await client.getStatus('done')).toMatchObject({ runtimeStatus: 'Completed', output: 'ok' });
    await client.raiseEvent('run', 'Go');
    expect(clock.timers.size).toBe(0);
  });

  it('bounds its calls by the runtime\'s storeCallTimeoutMs when it is a runtime\'s client', async () => {
    const clock = new HandClock();
    const { store, hanging } = hangingStore();
    const runtime = createRuntime({ store, clock, logger: silentLogger, storeCallTimeoutMs: 2000, orchestrators: { Any: function* () {} } });
    hanging.add('getInstance');
    const read = outcome(runtime.client.getStatus('any'));
    await passTo(clock, T0 + 2000);
    expect(await within(read, 'the read ending')).toMatchObject(unavailable);
    await runtime.stop({ graceMs: 0 });
  });

  it('waits for ever with storeCallTimeoutMs: Infinity, arming no timer, and settles when the store answers', async () => {
    const clock = new HandClock();
    const { store, hanging, hungCalls, answerHeld } = hangingStore();
    const client: DurableClient = createClient({ store, clock, storeCallTimeoutMs: Infinity });
    await client.startNew('Any', { instanceId: 'run' });
    hanging.add('getInstance');
    hanging.add('commit');
    let settled = false;
    const read = client.getStatus('run').finally(() => (settled = true));
    const raise = outcome(client.raiseEvent('run', 'Go'));
    await within(hungCalls(2), 'both calls reaching the store');
    expect(clock.timers.size).toBe(0);
    // Far past the default bound (30 s) and any other: nothing ends the calls.
    clock.ms = T0 + 24 * 3_600_000;
    clock.fireDue();
    await within(new Promise((resolve) => setTimeout(resolve, 0)), 'a turn of the event loop');
    expect(settled).toBe(false);
    answerHeld();
    expect(await within(read, 'the read settling')).toMatchObject({ instanceId: 'run', runtimeStatus: 'Pending' });
    expect(await within(raise, 'the raise settling')).toBeUndefined();
  });

  it('takes a store whose calls return thenables that are not promises', async () => {
    const clock = new HandClock();
    const inner = new MemoryStore();
    // Each call's promise handed out as a bare thenable (no finally, no catch), as a hand-written adapter might.
    const store = new Proxy(inner, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (!(result instanceof Promise)) return result;
          return { then: (onValue?: (v: unknown) => unknown, onError?: (e: unknown) => unknown) => result.then(onValue, onError) };
        };
      },
    }) as Store;
    const client = createClient({ store, clock, storeCallTimeoutMs: 5000 });
    const id = await within(client.startNew('Any'), 'the start');
    expect(await within(client.getStatus(id), 'the read')).toMatchObject({ instanceId: id, runtimeStatus: 'Pending' });
    await within(client.raiseEvent(id, 'Go'), 'the raise');
    expect(clock.timers.size).toBe(0);
  });

  it('keeps the bound after its runtime stops: a call stuck then, and a later one, end at their bound and leave no timer', async () => {
    const clock = new HandClock();
    const { inner, store, hanging, hungCalls } = hangingStore();
    await createClient({ store: inner, clock }).startNew('Any', { instanceId: 'done' });
    const runtime = createRuntime({ store, clock, logger: silentLogger, storeCallTimeoutMs: 5000, orchestrators: { Any: function* () { return 'ok'; } } });
    await runtime.start();
    await within(runtime.client.waitForCompletion('done'), 'the instance completing');
    hanging.add('getInstance');
    const read = outcome(runtime.client.getStatus('done'));
    await within(hungCalls(1), 'the read reaching the store');
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    // A store that never answers does not leave the stopped runtime's callers waiting for ever.
    const later = outcome(runtime.client.getStatus('done'));
    await within(hungCalls(2), 'the later read reaching the store');
    clock.ms = T0 + 1000;
    const last = outcome(runtime.client.getStatus('done'));
    await within(hungCalls(3), 'the last read reaching the store');
    await passTo(clock, T0 + 5000);
    expect(await within(read, 'the read ending')).toMatchObject(unavailable);
    expect(await within(later, 'the later read ending')).toMatchObject(unavailable);
    // The last read's own deadline is still armed until it passes.
    expect(clock.timers.size).toBe(1);
    await passTo(clock, T0 + 6000);
    expect(await within(last, 'the last read ending')).toMatchObject(unavailable);
    // With nothing pending, nothing of the stopped runtime's client holds a timer.
    expect(clock.timers.size).toBe(0);
  });

  it('refuses a storeCallTimeoutMs that is not a number > 0', () => {
    const { store } = hangingStore();
    for (const storeCallTimeoutMs of [0, -1, Number.NaN, '10', -Infinity, null]) {
      expect(() => createClient({ store, storeCallTimeoutMs } as never)).toThrow(InvalidArgumentError);
    }
  });

  it('answers 503 unavailable over the HTTP API when the store does not answer', async () => {
    const { clock, client, hanging } = await clientOnHangingStore();
    const handler = createHttpHandler(client, { anonymous: true, logger: silentLogger });
    hanging.add('getInstance');
    const response = handler(new Request('http://localhost/runtime/webhooks/durabletask/instances/run'));
    await passTo(clock, T0 + 5000);
    const answer = await within(response, 'the answer');
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ code: 'unavailable' });
  });
});
