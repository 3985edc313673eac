import { filter, firstValueFrom, type Observable } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { FIRST_READ_RETRY_MS, firstReadRetryDelay, MAX_FIRST_READ_RETRY_MS } from '../src/client/first-read-retry.js';
import {
  createClient, createRuntime, InvalidArgumentError, silentLogger, StoreClosedError, UnavailableError, type DurableClient, type HistoryEvent, type Orchestrator,
} from '../src/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { FailingStore } from './failing-store.js';
import { HandClock, runtimesStoppedAfterEach } from './hand-clock.js';
import { within } from './within.js';

/** The next timer the client sets for a read again (a delay of the back-off, not a store call's bound). */
function nextRead(clock: HandClock): Promise<{ readonly id: number; readonly at: number }> {
  return clock.nextTimer((delayMs) => delayMs <= MAX_FIRST_READ_RETRY_MS);
}

/** Moves `clock` to `timer` and fires it. */
function fire(clock: HandClock, timer: { readonly id: number; readonly at: number }): void {
  clock.ms = timer.at;
  clock.fire(timer.id);
}

const unavailable = () => new UnavailableError('the store cannot be read now');

/** A client on a FailingStore and a HandClock, with one instance started. */
async function started() {
  const store = new FailingStore();
  const clock = new HandClock();
  const client = createClient({ store, clock });
  const id = await client.startNew('Echo');
  return { store, clock, client, id };
}

/** Every value of `source` and how it ended, as they come. */
function record<T>(source: Observable<T>) {
  const seen = { values: [] as T[], error: undefined as unknown, completed: false };
  const subscription = source.subscribe({
    next: (value) => seen.values.push(value),
    error: (error: unknown) => (seen.error = error),
    complete: () => (seen.completed = true),
  });
  return { seen, subscription };
}

describe('firstReadRetryDelay', () => {
  it('backs off from 100 ms, doubling up to 5 s, while the error is worth another read', () => {
    expect([1, 2, 3, 6, 7, 50, 5000].map((n) => firstReadRetryDelay(unavailable(), n))).toEqual([100, 200, 400, 3200, 5000, 5000, 5000]);
    expect(firstReadRetryDelay(new InvalidArgumentError('bad id'), 1)).toBeUndefined();
    expect(firstReadRetryDelay(new StoreClosedError('closed'), 1)).toBeUndefined();
    expect(firstReadRetryDelay(new Error('a bug'), 1)).toBeUndefined();
  });
});

describe.each([
  [
    'status$', (client: DurableClient, id: string) => client.status$(id),
    expect.objectContaining({ runtimeStatus: 'Pending' }), expect.objectContaining({ runtimeStatus: 'Terminated' }),
  ],
  ['customStatus$', (client: DurableClient, id: string) => client.customStatus$(id), undefined, undefined],
  [
    'instances$', (client: DurableClient) => client.instances$(),
    [expect.objectContaining({ runtimeStatus: 'Pending' })], [expect.objectContaining({ runtimeStatus: 'Terminated' })],
  ],
] as const)('%s after its first read failed', (_name, watch, first, terminated) => {
  const method = _name === 'instances$' ? 'queryInstances' : 'getInstance';

  it('reads again after a failure worth another read, backing off on the client\'s clock, and goes on as if nothing failed', async () => {
    const { store, clock, client, id } = await started();
    store.failNext(method, 2, 'reject', unavailable);
    let timer = nextRead(clock);
    const { seen, subscription } = record<unknown>(watch(client, id));
    // Each failure is read again after the next delay of the back-off: 100 ms, then 200 ms.
    for (const delay of [FIRST_READ_RETRY_MS, 2 * FIRST_READ_RETRY_MS]) {
      const next = await within(timer, 'the read again being timed');
      expect(next.at - clock.ms).toBe(delay);
      expect(seen).toEqual({ values: [], error: undefined, completed: false });
      timer = nextRead(clock);
      fire(clock, next);
    }
    await vi.waitFor(() => expect(seen.values).toEqual([first]), { timeout: SETTLED.timeoutMs });
    expect(seen.error).toBeUndefined();
    // It follows the instance: what the next command commits (a custom status stays as it was).
    await client.terminate(id, 'done');
    if (terminated) await vi.waitFor(() => expect(seen.values).toEqual([first, terminated]), { timeout: SETTLED.timeoutMs });
    subscription.unsubscribe();
    expect(store.changeSubscribers).toBe(0);
    await store.close();
  });

  it('lets its timer go when unsubscribed while it waits to read again, and reads no more', async () => {
    const { store, clock, client, id } = await started();
    store.failNext(method, 1, 'reject', unavailable);
    const timer = nextRead(clock);
    const { seen, subscription } = record<unknown>(watch(client, id));
    const pending = await within(timer, 'the read again being timed');
    subscription.unsubscribe();
    expect(clock.timers.has(pending.id)).toBe(false);
    expect(clock.timers.size).toBe(0);
    expect(store.changeSubscribers).toBe(0);
    expect(seen).toEqual({ values: [], error: undefined, completed: false });
    await store.close();
  });

  it('ends with the error of a failure no read can change, holding nothing', async () => {
    const { store, clock, client, id } = await started();
    store.failNext(method, 1, 'reject', () => new InvalidArgumentError('refused'));
    const failed = await within(firstValueFrom(watch(client, id)).then(() => 'a value', (error: unknown) => error), 'the watch failing');
    expect(failed).toMatchObject({ code: 'invalid-argument' });
    expect(store.changeSubscribers).toBe(0);
    expect(clock.timers.size).toBe(0);
    await store.close();
  });

  it('completes at once when the client closes while it waits to read again', async () => {
    const { store, clock, client, id } = await started();
    store.failNext(method, 1, 'reject', unavailable);
    const timer = nextRead(clock);
    const { seen } = record<unknown>(watch(client, id));
    await within(timer, 'the read again being timed');
    client.close();
    expect(seen).toEqual({ values: [], error: undefined, completed: true });
    expect(clock.timers.size).toBe(0);
    expect(store.changeSubscribers).toBe(0);
    await store.close();
  });

  it('completes, and sets no timer to read again, when its read in flight as the client closed fails', async () => {
    const { store, clock, client, id } = await started();
    store.failNext(method, Infinity, 'reject', unavailable);
    const { seen } = record<unknown>(watch(client, id));
    client.close();
    await vi.waitFor(() => expect(seen).toEqual({ values: [], error: undefined, completed: true }), { timeout: SETTLED.timeoutMs });
    expect(clock.timers.size).toBe(0);
    expect(store.changeSubscribers).toBe(0);
    await store.close();
  });
});

describe('waitForCompletion after its first read failed', () => {
  it('reads again after a failure worth another read and resolves as the instance ends', async () => {
    const { store, clock, client, id } = await started();
    store.failNext('getInstance', 1, 'reject', unavailable);
    const timer = nextRead(clock);
    const done = client.waitForCompletion(id, { timeoutMs: 60_000 });
    fire(clock, await within(timer, 'the read again being timed'));
    await client.terminate(id, 'done');
    expect(await within(done, 'the wait')).toMatchObject({ runtimeStatus: 'Terminated', output: 'done' });
    expect(store.changeSubscribers).toBe(0);
    await store.close();
  });

  it('rejects with the shared UnavailableError, the last failure as its cause, when no read succeeded by its timeout and the grace after', async () => {
    const { store, clock, client, id } = await started();
    store.failNext('getInstance', Infinity, 'reject', unavailable);
    const done = client.waitForCompletion(id, { timeoutMs: 1000 }).then(() => 'resolved', (error: unknown) => error);
    await clock.fireUntil(done, 'the wait timing out', 100);
    const failed = await done;
    expect(failed).toMatchObject({ code: 'unavailable', cause: { message: 'the store cannot be read now' } });
    expect(clock.timers.size).toBe(0);
    expect(store.changeSubscribers).toBe(0);
    await store.close();
  });

  it('rejects with StoreClosedError, the read\'s failure as its cause, not as an unknown instance, when the client closes while it waits to read again', async () => {
    const { store, clock, client, id } = await started();
    store.failNext('getInstance', 1, 'reject', unavailable);
    const timer = nextRead(clock);
    const done = client.waitForCompletion(id, { timeoutMs: 60_000 }).then(() => 'resolved', (error: unknown) => error);
    await within(timer, 'the read again being timed');
    client.close();
    expect(await within(done, 'the wait')).toMatchObject({ code: 'store-closed', cause: { message: 'the store cannot be read now' } });
    expect(clock.timers.size).toBe(0);
    expect(store.changeSubscribers).toBe(0);
    await store.close();
  });

  it('rejects at once with a failure no read can change', async () => {
    const store = new FailingStore();
    const client = createClient({ store, clock: new HandClock() });
    const id = await client.startNew('Echo');
    store.failNext('getInstance', 1, 'reject', () => new InvalidArgumentError('refused'));
    await expect(within(client.waitForCompletion(id, { timeoutMs: 60_000 }), 'the wait')).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(store.changeSubscribers).toBe(0);
    await store.close();
  });
});

it('history$ reads the instance again after a failure worth another read, then its history', async () => {
  const { store, clock, client, id } = await started();
  store.failNext('getInstance', 1, 'reject', unavailable);
  const timer = nextRead(clock);
  const terminated = firstValueFrom(client.history$(id).pipe(filter((event) => event.type === 'ExecutionTerminated')));
  fire(clock, await within(timer, 'the read again being timed'));
  await client.terminate(id, 'done');
  expect(await within(terminated, 'the terminate in the history')).toMatchObject({ type: 'ExecutionTerminated' });
  await store.close();
});

describe('history$ after a read of its events failed', () => {
  const runtimes = runtimesStoppedAfterEach();
  /** Sets its custom status to each `go` event's data, for ever: each raise appends to the history. */
  const waits: Orchestrator = function* (ctx) {
    for (;;) ctx.setCustomStatus(yield ctx.waitForExternalEvent('go'));
  };

  /**
   * A runtime on a FailingStore and a HandClock running one Waits instance, and a client of its own on them whose
   * `history$` of it is recorded, once it has delivered the instance's first step.
   */
  async function watched() {
    const store = new FailingStore();
    const clock = new HandClock();
    const runtime = createRuntime({ store, clock, logger: silentLogger, orchestrators: { Waits: waits } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('Waits');
    await runtime.client.raiseEvent(id, 'go', 0);
    await statusIs(0);
    const client = createClient({ store, clock });
    const { seen, subscription } = record<HistoryEvent>(client.history$(id));
    await vi.waitFor(() => expect(seen.values.some((event) => event.type === 'EventRaised')).toBe(true), { timeout: SETTLED.timeoutMs });
    async function statusIs(value: number): Promise<void> {
      await vi.waitFor(async () => expect((await runtime.client.getStatus(id))?.customStatus).toBe(value), { timeout: SETTLED.timeoutMs });
    }
    /** Raises `go` with `value` and waits for its step to commit. */
    async function go(value: number): Promise<void> {
      await runtime.client.raiseEvent(id, 'go', value);
      await statusIs(value);
    }
    const history = async () => (await store.inner.getHistory(id)) as HistoryEvent[];
    return { store, clock, runtime, client, id, seen, subscription, go, history };
  }

  it('reads again after a failure worth another read, backing off on the client\'s clock, and delivers every event once', async () => {
    const { store, clock, seen, subscription, go, history } = await watched();
    store.failNext('getInstanceHistory', 2, 'reject', unavailable);
    let timer = nextRead(clock);
    await go(1);
    const first = await within(timer, 'the read again being timed');
    expect(first.at - clock.ms).toBe(FIRST_READ_RETRY_MS);
    // A step committed while the read waits to be made again: the next read takes it too.
    await go(2);
    timer = nextRead(clock);
    fire(clock, first);
    const second = await within(timer, 'the read again being timed');
    expect(second.at - clock.ms).toBe(2 * FIRST_READ_RETRY_MS);
    fire(clock, second);
    await vi.waitFor(async () => expect(seen.values).toEqual(await history()), { timeout: SETTLED.timeoutMs });
    expect(seen.values.filter((event) => event.type === 'EventRaised').map((event) => (event as { input?: unknown }).input)).toEqual([0, 1, 2]);
    // It goes on as if nothing failed.
    await go(3);
    await vi.waitFor(async () => expect(seen.values).toEqual(await history()), { timeout: SETTLED.timeoutMs });
    expect(seen.error).toBeUndefined();
    subscription.unsubscribe();
  });

  it('lets its timer go when unsubscribed while it waits to read again', async () => {
    const { store, clock, seen, subscription, go } = await watched();
    store.failNext('getInstanceHistory', 1, 'reject', unavailable);
    const timer = nextRead(clock);
    await go(1);
    const pending = await within(timer, 'the read again being timed');
    const delivered = seen.values.length;
    subscription.unsubscribe();
    expect(clock.timers.has(pending.id)).toBe(false);
    expect(seen.values).toHaveLength(delivered);
    expect(seen.error).toBeUndefined();
  });

  it('completes at once when its client closes while it waits to read again', async () => {
    const { store, clock, client, seen, go } = await watched();
    store.failNext('getInstanceHistory', 1, 'reject', unavailable);
    const timer = nextRead(clock);
    await go(1);
    const pending = await within(timer, 'the read again being timed');
    client.close();
    expect(seen.completed).toBe(true);
    expect(seen.error).toBeUndefined();
    expect(clock.timers.has(pending.id)).toBe(false);
  });

  it('ends at once with the error of a failure no read can change', async () => {
    const { store, clock, seen, go } = await watched();
    store.failNext('getInstanceHistory', 1, 'reject', () => new InvalidArgumentError('refused'));
    await go(1);
    await vi.waitFor(() => expect(seen.error).toMatchObject({ code: 'invalid-argument' }), { timeout: SETTLED.timeoutMs });
    expect([...clock.timers.values()].some((timer) => timer.at - clock.ms <= MAX_FIRST_READ_RETRY_MS)).toBe(false);
  });
});
