import { StoreClosedError, type Clock, type ClockTimer } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient, type ConnectionState } from '../src/index.js';
import { KEY, openHarness, outcome, within, type Harness } from './harness.js';

/** close(): a remote client lets go of everything it holds, ends what it watches, and refuses what comes after. */

let harness: Harness;

beforeEach(async () => {
  harness = await openHarness();
});

afterEach(async () => {
  await harness.close();
});

/**
 * Subscribes to `source`: `first` resolves with its first value, `done` with every value until it ends and how it
 * ended ('complete', or the error).
 */
function watch<T>(source: Observable<T>): { first: Promise<unknown>; done: Promise<{ values: T[]; end: unknown }> } {
  const values: T[] = [];
  let seen!: () => void;
  const first = new Promise<void>((resolve) => (seen = resolve));
  const done = new Promise<{ values: T[]; end: unknown }>((resolve) => {
    source.subscribe({
      next: (value) => {
        values.push(value);
        seen();
      },
      complete: () => resolve({ values, end: 'complete' }),
      error: (error: unknown) => resolve({ values, end: error }),
    });
  });
  return { first: within(first, 'a first value'), done };
}

const closedError = { code: 'store-closed', status: 503 };

describe('RemoteClient.close', () => {
  it('completes every live observable, rejects a pending wait with StoreClosedError, aborts a request on its way and deletes the session', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    await harness.runtime.client.startNew('ShowInput', { instanceId: 'open', input: 'shown' });
    const watched = [client.status$('open'), client.customStatus$('open'), client.instances$(), client.history$('open')].map(
      (source: Observable<unknown>) => watch(source),
    );
    const states = watch(client.connection$);
    for (const { first } of watched) await first;
    const waiting = outcome(client.waitForCompletion('open', { timeoutMs: Infinity }));
    await within(firstValueFrom(client.status$('open').pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'Running');
    harness.holdRequests('/instances/held');
    const onItsWay = outcome(client.getStatus('held'));
    await vi.waitFor(() => expect(harness.requests.some((r) => r.path.endsWith('/instances/held'))).toBe(true), { timeout: 30_000, interval: 10 });
    const session = harness.requests.find((r) => r.path.endsWith('/subscriptions'))!.path.split('/').at(-2)!;

    client.close();

    for (const { done } of watched) expect(await within(done, 'the observable ending')).toMatchObject({ end: 'complete' });
    const { values: connection, end } = await within(states.done, 'connection$ ending');
    expect(end).toBe('complete');
    expect(connection).toContainEqual({ state: 'live' });
    expect(connection.at(-1)).toEqual({ state: 'idle' });
    // Not the Running status it last received: that would read as a timeout.
    const ended = await within(waiting, 'the wait ending');
    expect(ended).toBeInstanceOf(StoreClosedError);
    expect(ended).toMatchObject(closedError);
    const aborted = await within(onItsWay, 'the request on its way ending');
    expect(aborted).toBeInstanceOf(StoreClosedError);
    expect(aborted).toMatchObject(closedError);
    const held = harness.requests.find((r) => r.path.endsWith('/instances/held'))!;
    await vi.waitFor(() => expect(held.signal.aborted).toBe(true), { timeout: 30_000, interval: 10 });
    await vi.waitFor(() => expect(harness.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(`/streams/${session}`))).toBe(true), {
      timeout: 30_000, interval: 10,
    });
    expect(await harness.runtime.client.getStatus('open')).toMatchObject({ runtimeStatus: 'Running' }); // nothing else changed
  });

  it('cancels the event stream answer that arrives after the close, when its fetch ignores the abort signal', async () => {
    let answered!: () => void;
    const arrived = new Promise<void>((resolve) => (answered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    /** Kept, so that nothing but the client's cancel lets the answer go (not a garbage collection). */
    const answers: Response[] = [];
    const client = createRemoteClient({
      baseUrl: harness.server.url,
      key: KEY,
      // A fetch that drops `init.signal` (as some wrappers do), whose stream answer reaches the client only later.
      fetch: async (input, init) => {
        const { signal: _dropped, ...rest } = init ?? {};
        const response = await fetch(input, rest);
        if (String(input).endsWith('/streams')) {
          answers.push(response);
          answered();
          await gate;
        }
        return response;
      },
    });
    const ended = new Promise<void>((resolve) => client.status$('late').subscribe({ complete: resolve }));
    await within(arrived, 'the stream answered');
    client.close(); // the answer is still on its way to the client: no abort reaches it
    release();
    await ended;
    const stream = harness.requests.find((r) => r.path.endsWith('/streams'))!;
    // The server sees the connection go: the client cancelled the body it will never read.
    await vi.waitFor(() => expect(stream.signal.aborted).toBe(true), { timeout: 30_000, interval: 10 });
    expect(answers).toHaveLength(1);
  });

  it('refuses every later call with StoreClosedError, sending nothing, and is idempotent', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    await within(firstValueFrom(client.status$('later')), 'the first snapshot');
    client.close();
    client.close();
    const sent = harness.requests.length;
    for (const call of [
      () => client.startNew('Echo', { instanceId: 'later' }),
      () => client.getStatus('later'),
      () => client.getStatusAll(),
      () => client.raiseEvent('later', 'Done'),
      () => client.terminate('later'),
      () => client.waitForCompletion('later'),
      () => firstValueFrom(client.status$('later')),
      () => firstValueFrom(client.customStatus$('later')),
      () => firstValueFrom(client.instances$()),
      () => firstValueFrom(client.history$('later')),
    ]) {
      const error = await within(outcome(call()), 'the call ending');
      expect(error).toBeInstanceOf(StoreClosedError);
      expect(error).toMatchObject(closedError);
    }
    expect(await within(firstValueFrom(client.connection$), 'the connection state')).toEqual({ state: 'idle' } satisfies ConnectionState);
    // Only the release of the session, sent by the first close(), may arrive after it.
    expect(harness.requests.slice(sent).every((r) => r.method === 'DELETE')).toBe(true);
    expect(await harness.runtime.client.getStatus('later')).toBeUndefined();
  });

  it('ends every observable subscribed after close at once: connection$ with idle then complete, the others with StoreClosedError', () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const made = [client.status$('x'), client.customStatus$('x'), client.instances$(), client.history$('x')]; // before close ...
    client.close();
    const states: ConnectionState[] = [];
    let completed = false;
    client.connection$.subscribe({ next: (state) => states.push(state), complete: () => (completed = true) });
    expect(states).toEqual([{ state: 'idle' }]);
    expect(completed).toBe(true);
    for (const source of [...made, client.status$('x')]) { // ... and after
      let end: unknown;
      source.subscribe({ complete: () => (end = 'complete'), error: (error: unknown) => (end = error) });
      expect(end).toBeInstanceOf(StoreClosedError);
    }
  });

  it.each([
    ['2 s, with the default timeout of 20 s', undefined, 2_000],
    ['the client\'s timeout, when shorter', 1_000, 1_000],
  ])('gives up the session\'s DELETE it sends on closing after %s, when the server never answers it', async (_, timeoutMs, givenUpAfter) => {
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    const watched = watch(client.status$('silent'));
    await watched.first;
    const session = harness.requests.find((r) => r.path.endsWith('/subscriptions'))!.path.split('/').at(-2)!;
    // A connection gone silent without closing (a laptop's sleep, a NAT that forgot the flow): nothing answers the DELETE.
    harness.holdRequests(`/streams/${session}`);
    client.close();
    await vi.waitFor(() => expect(harness.requests.some((r) => r.method === 'DELETE')).toBe(true), { timeout: 30_000, interval: 10 });
    const deleted = harness.requests.find((r) => r.method === 'DELETE')!;
    await clock.advance(givenUpAfter - 1);
    expect(deleted.signal.aborted).toBe(false);
    await clock.advance(1);
    // Without a deadline of its own it waited for ever, holding a connection (and, in Node, the process); with the
    // client's timeout (20 s by default), for that long after the close.
    if (!deleted.signal.aborted) {
      await within(new Promise((resolve) => deleted.signal.addEventListener('abort', resolve, { once: true })), 'the DELETE given up');
    }
    expect(clock.pendingTimers).toBe(0);
  });

  it('sends the session\'s DELETE after a close whose loop then stalled past its deadline, and still gives it up in time', async () => {
    const clock = stallingClock();
    let sendNow!: () => void;
    const loopRuns = new Promise<void>((resolve) => (sendNow = resolve));
    const client = createRemoteClient({
      baseUrl: harness.server.url, key: KEY, clock,
      // The DELETE leaves only once the loop runs again: what the stall holds back.
      fetch: async (input, init) => (init?.method === 'DELETE' && await loopRuns, fetch(input, init)),
    });
    await watch(client.status$('stalled')).first;
    client.close();
    // Seconds of work right after close(), or a loaded machine: the clock moves 3 s before the request could go out,
    // and the timers that came due meanwhile fire late, at the end of the stall.
    await clock.stall(3_000);
    sendNow();
    // Before, its one 2 s timer had given it up unsent: the server kept the session until its resume window passed.
    await vi.waitFor(() => expect(harness.requests.some((r) => r.method === 'DELETE')).toBe(true), { timeout: 30_000, interval: 10 });
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(0), { timeout: 30_000, interval: 10 }); // answered: its timer cleared
    // Bounded still: a stall costs it one of its four timers; the other three count as usual (1.5 s after the stall).
    const held = stallingClock();
    const other = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock: held });
    await watch(other.status$('stalled')).first;
    const session = harness.requests.filter((r) => r.path.endsWith('/subscriptions')).at(-1)!.path.split('/').at(-2)!;
    harness.holdRequests(`/streams/${session}`); // the server never answers its DELETE
    other.close();
    await vi.waitFor(() => expect(harness.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(session))).toBe(true), { timeout: 30_000, interval: 10 });
    const deleted = harness.requests.find((r) => r.method === 'DELETE' && r.path.endsWith(session))!;
    await held.stall(3_000);
    await held.advance(1_499);
    expect(deleted.signal.aborted).toBe(false);
    await held.advance(1);
    if (!deleted.signal.aborted) {
      await within(new Promise((resolve) => deleted.signal.addEventListener('abort', resolve, { once: true })), 'the DELETE given up');
    }
    expect(held.pendingTimers).toBe(0);
  });

  it('clears the reconnect timer and the wait timers, rejecting a wait that has no status yet with StoreClosedError', async () => {
    harness.refuseStreams(Number.MAX_SAFE_INTEGER, 503);
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock });
    const waiting = outcome(client.waitForCompletion('never', { timeoutMs: 60_000 }));
    await within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'reconnecting'))), 'the stream refused');
    expect(clock.pendingTimers).toBe(2); // the wait's timeout and the reconnect delay
    client.close();
    const error = await within(waiting, 'the wait ending');
    expect(error).toBeInstanceOf(StoreClosedError);
    expect(clock.pendingTimers).toBe(0);
    const streams = harness.requests.filter((r) => r.path.endsWith('/streams')).length;
    await clock.advance(10 * 60_000);
    expect(harness.requests.filter((r) => r.path.endsWith('/streams')).length).toBe(streams); // no reconnect
  });
});

/**
 * A VirtualClock whose loop can stall: `stall(ms)` moves its time on by `ms` without running a timer meanwhile, then
 * runs those that came due, late, at the end, as a loop blocked that long does (a timer one of them sets counts from
 * there). A timer cleared before it ran does not run.
 */
function stallingClock(): Clock & { stall(ms: number): Promise<void>; advance(ms: number): Promise<void>; readonly pendingTimers: number } {
  const virtual = new VirtualClock();
  /** The callbacks of the timers that came due during a stall, in order; `undefined` while the loop runs. */
  let late: { run: () => void }[] | undefined;
  const handles = new Map<ClockTimer, { run: () => void }>();
  return {
    now: () => virtual.now(),
    setTimeout: (callback, ms) => {
      const timer = { run: callback };
      const handle = virtual.setTimeout(() => (handles.delete(handle), late ? late.push(timer) : timer.run()), ms);
      handles.set(handle, timer);
      return handle;
    },
    clearTimeout: (handle) => {
      const timer = handles.get(handle);
      if (timer) timer.run = () => {};
      handles.delete(handle);
      virtual.clearTimeout(handle);
    },
    async stall(ms) {
      late = [];
      await virtual.advance(ms);
      const due = late;
      late = undefined;
      for (const timer of due) timer.run();
    },
    advance: (ms) => virtual.advance(ms),
    get pendingTimers() {
      return virtual.pendingTimers;
    },
  };
}
