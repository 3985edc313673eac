import {
  createClient, createRuntime, InvalidArgumentError, MemoryStore, UnavailableError, type Activity, type DurableClient, type HistoryEvent,
  type InstanceStatus,
} from '@durable-rx/runtime';
import type { HistoryPosition } from '@durable-rx/runtime/http';
import { sampleOrchestrators } from '@durable-rx/runtime/samples';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { DexieStore } from '@durable-rx/store-indexeddb';
import { Component, createElement, StrictMode, useEffect, useSyncExternalStore, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { filter, firstValueFrom, Observable, Subject } from 'rxjs';
import { commands } from 'vitest/browser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient } from '../../src/index.js';
import { valuesMissed } from '../../src/remote-error.js';
import { useCustomStatus, useHistory, useInstances, useObservableState, useStatus } from '../../src/react/index.js';
import { Gates } from './gates.js';
import type {} from './server-commands.js'; // the commands' types
import { SETTLED } from '../../../../test-support/settled.js';

/**
 * The React hooks in real Chromium, rendered by react-dom, over a local runtime on IndexedDB (DexieStore) and over a
 * remote server: the hello sequence's Tokyo, Seattle, London render in order.
 *
 * The first tests step through a live run: each greeting waits for a gate the test opens only once the previous city
 * has rendered. Values that arrive together (in one task) are the subject of "React hooks render every value".
 */

const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  gates.release();
  gates = new Gates();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let gates = new Gates();
const sayHello: Record<string, Activity> = {
  E1_SayHello: async (name: unknown) => {
    await gates.passed(String(name));
    return `Hello ${String(name)}!`;
  },
};

/**
 * Opens each city's greeting in turn, waiting until the view has rendered the city before opening the next one,
 * then until the instance rendered as completed with its three greetings in the history.
 */
async function stepThroughCities(element: HTMLElement, open: (city: string) => Promise<void> | void): Promise<HTMLElement> {
  for (const city of ['Tokyo', 'Seattle', 'London']) {
    await open(city);
    await renderedUntil(element, (p) => p.textContent!.startsWith(`${city}|`));
  }
  return renderedUntil(element, (e) => e.textContent === 'London|Completed' && e.dataset['greetings'] === '3');
}

/** What the component rendered, one entry per committed render whose text changed. */
interface Rendered {
  readonly texts: string[];
}

/** A progress view of one instance using every hook; each committed text is recorded. */
function Progress({ client, id, rendered }: { client: DurableClient; id: string; rendered: Rendered }) {
  const status = useStatus(client, id);
  const city = useCustomStatus<string>(client, id);
  const list = useInstances(client, { instanceIdPrefix: 'hooks-' });
  const history = useHistory(client, id);
  const text = city.error
    ? `error: ${city.error.message}`
    : city.loading ? 'loading' : `${city.value ?? '-'}|${status.value?.runtimeStatus ?? 'none'}`;
  const greetings = (history.value ?? []).filter((e) => e.type === 'TaskCompleted').length;
  useEffect(() => {
    if (rendered.texts.at(-1) !== text) rendered.texts.push(text);
  }, [text, rendered]);
  return createElement('p', { 'data-testid': 'progress', 'data-list': list.value?.length ?? -1, 'data-greetings': greetings }, text);
}

/** A React root on a fresh element of the page, both removed after the test. */
function rootInPage(): { element: HTMLElement; root: Root } {
  const element = document.createElement('div');
  document.body.append(element);
  const root = createRoot(element);
  cleanups.push(() => {
    root.unmount();
    element.remove();
  });
  return { element, root };
}

function mount(client: DurableClient, id: string): { rendered: Rendered; element: HTMLElement } {
  const { element, root } = rootInPage();
  const rendered: Rendered = { texts: [] };
  root.render(createElement(StrictMode, null, createElement(Progress, { client, id, rendered })));
  return { rendered, element };
}

/** Resolves once the rendered paragraph satisfies `done` (watched with a MutationObserver, no polling). */
function renderedUntil(element: HTMLElement, done: (p: HTMLElement) => boolean): Promise<HTMLElement> {
  return new Promise((resolve) => {
    const check = () => {
      const p = element.querySelector<HTMLElement>('[data-testid="progress"]');
      if (p && done(p)) {
        observer.disconnect();
        resolve(p);
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(element, { subtree: true, childList: true, characterData: true, attributes: true });
    check();
  });
}

/** The cities in the order they were rendered, each once. */
function cities(rendered: Rendered): string[] {
  return rendered.texts.map((t) => t.split('|')[0]!).filter((c, i, all) => c !== '-' && c !== 'loading' && c !== all[i - 1]);
}

describe('React hooks', () => {
  it('render Tokyo, Seattle, London in order over a local runtime on IndexedDB', async () => {
    const store = new DexieStore({ name: `hooks-${crypto.randomUUID()}` });
    const runtime = createRuntime({ store, orchestrators: sampleOrchestrators, activities: sayHello });
    await runtime.start();
    cleanups.push(() => runtime.stop());
    const id = 'hooks-local';
    const { rendered, element } = mount(runtime.client, id);
    await renderedUntil(element, (p) => p.textContent === '-|none');
    await runtime.client.startNew('E1_HelloSequence', { instanceId: id });
    const p = await stepThroughCities(element, (city) => gates.open(city));
    expect(p.dataset['list']).toBe('1');
    expect(rendered.texts[0]).toBe('loading');
    expect(cities(rendered)).toEqual(['Tokyo', 'Seattle', 'London']);
  });

  it('render Tokyo, Seattle, London in order over a remote server, on one connection', async () => {
    const { url, key } = await commands.startServer();
    cleanups.push(() => commands.stopServer());
    await commands.holdGreetings();
    const client = createRemoteClient({ baseUrl: url, key });
    const id = 'hooks-remote';
    const { rendered, element } = mount(client, id);
    await renderedUntil(element, (p) => p.textContent === '-|none');
    await client.startNew('E1_HelloSequence', { instanceId: id });
    const p = await stepThroughCities(element, (city) => commands.releaseGreeting(city));
    expect(p.dataset['list']).toBe('1');
    expect(cities(rendered)).toEqual(['Tokyo', 'Seattle', 'London']);
    expect((await commands.streamConnections()).open).toBe(1);
    // useStatus, useCustomStatus and useHistory's purge watch share the instance's status subscription; useHistory's
    // events and useInstances' list have one each.
    expect(await commands.sessionSubscriptions()).toBe(3);
  });

  it('recover from a refused connection by themselves, keeping the last value meanwhile, and never retry a wrong key', async () => {
    const { url, key } = await commands.startServer();
    cleanups.push(() => commands.stopServer());
    await commands.holdGreetings();
    const client = createRemoteClient({ baseUrl: url, key });
    const denied = createRemoteClient({ baseUrl: url, key: 'wrong' });
    const id = 'hooks-retry';
    const code = (state: { error: Error | undefined }) => (state.error as { code?: string } | undefined)?.code ?? 'ok';
    function View() {
      const status = useStatus(client, id);
      const city = useCustomStatus<string>(client, id);
      const refused = useStatus(denied, id);
      const text = `${city.value ?? '-'}|${status.value?.runtimeStatus ?? '-'}|${code(city)}|${code(status)}|${code(refused)}`;
      return createElement('p', { 'data-testid': 'progress' }, text);
    }
    await client.startNew('E1_HelloSequence', { instanceId: id });
    await commands.releaseGreeting('Tokyo');
    const element = (await renderUntil(View, (p) => p.textContent === 'Tokyo|Running|ok|ok|unauthorized')).parentElement!;
    // A deploy: a proxy answers its own 404 page where the stream was, and the connection is lost.
    await commands.refuseStreams(true);
    await commands.dropConnections();
    await renderedUntil(element, (p) => p.textContent === 'Tokyo|Running|bad-response|bad-response|unauthorized');
    // The hooks keep trying (each attempt a new connection, refused again) …
    await commands.refusedAtLeast(3);
    await commands.refuseStreams(false);
    // … and recover once the server is back: the error clears and the next value renders.
    await commands.releaseGreeting('Seattle');
    await renderedUntil(element, (p) => p.textContent === 'Seattle|Running|ok|ok|unauthorized');
    // A wrong key is refused for good: its hook asked once, not on every retry of the others (which waited 1 s, 2 s …).
    expect(await commands.deniedConnections()).toBe(1);
    denied.close();
    client.close();
  });

  it('expose the error when the key is wrong', async () => {
    const { url } = await commands.startServer();
    cleanups.push(() => commands.stopServer());
    const client = createRemoteClient({ baseUrl: url, key: 'wrong' });
    const { element } = mount(client, 'hooks-denied');
    await renderedUntil(element, (p) => p.textContent!.startsWith('error: '));
    expect(await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'failed')))).toMatchObject({ error: { code: 'unauthorized' } });
  });
});

/** Mounts `view` (in StrictMode); resolves once it rendered a paragraph satisfying `done`, rejects when rendering threw. */
function renderUntil(view: () => ReturnType<typeof createElement>, done: (p: HTMLElement) => boolean): Promise<HTMLElement> {
  const element = document.createElement('div');
  document.body.append(element);
  return new Promise<HTMLElement>((resolve, reject) => {
    // A render that throws unmounts the tree (no paragraph ever comes): that is the outcome, not a wait without end.
    const root = createRoot(element, { onUncaughtError: (error) => reject(error) });
    cleanups.push(() => {
      root.unmount();
      element.remove();
    });
    root.render(createElement(StrictMode, null, createElement(view)));
    renderedUntil(element, done).then(resolve, reject);
  });
}

describe('React hooks at the edges', () => {
  it('render a hook given no id as not loading, with no value and no error', async () => {
    const store = new MemoryStore();
    const client = createClient({ store });
    cleanups.push(() => store.close());
    function View() {
      const noStatus = useStatus(client, undefined);
      const noCity = useCustomStatus(client, undefined);
      const noHistory = useHistory(client, undefined);
      // An unknown instance's first snapshot comes from the store; the hooks of no id watch nothing all along.
      const unknown = useStatus(client, 'hooks-unknown');
      const text = unknown.loading ? 'waiting' : [noStatus, noCity, noHistory].map((s) => `${s.loading}/${s.value}/${s.error}`).join('|');
      return createElement('p', { 'data-testid': 'progress' }, text);
    }
    const p = await renderUntil(View, (e) => e.textContent !== 'waiting');
    expect(p.textContent).toBe('false/undefined/undefined|false/undefined/undefined|false/undefined/undefined');
  });

  it('render a hook given no id as not loading from its first render on, and again each time the id goes away', async () => {
    const store = new MemoryStore();
    const client = createClient({ store });
    cleanups.push(() => store.close());
    // Every render, committed or not: a "Loading…" that flashes for one render is a render that said loading.
    const renders: string[] = [];
    const idle = 'false/-/-';
    function View({ id }: { id: string | undefined }) {
      const states = [useStatus(client, id), useCustomStatus(client, id), useHistory(client, id)];
      const text = `${id ?? 'none'}=${states.map((s) => `${s.loading}/${s.value === undefined ? '-' : 'value'}/${s.error?.message ?? '-'}`).join('|')}`;
      renders.push(text);
      return createElement('p', { 'data-testid': 'progress' }, text);
    }
    const { element, root } = rootInPage();
    const show = (id: string | undefined) => root.render(createElement(StrictMode, null, createElement(View, { id })));
    show(undefined);
    await renderedUntil(element, (p) => p.textContent!.startsWith('none='));
    expect(renders).toEqual(renders.map(() => `none=${idle}|${idle}|${idle}`));
    // An id: loading again until its status (no such instance) is known …
    show('hooks-unknown');
    await renderedUntil(element, (p) => p.textContent!.startsWith('hooks-unknown=false/'));
    const withId = renders.splice(0).filter((text) => text.startsWith('hooks-unknown='));
    expect(withId[0]).toMatch(/^hooks-unknown=true\//);
    // … and no id again: not loading from the first render without it.
    show(undefined);
    await renderedUntil(element, (p) => p.textContent!.startsWith('none='));
    const withoutId = renders.filter((text) => text.startsWith('none='));
    expect(withoutId.length).toBeGreaterThan(0);
    expect(withoutId).toEqual(withoutId.map(() => `none=${idle}|${idle}|${idle}`));
  });

  it('list again when the tag filter changes (the tags compared by value)', async () => {
    const store = new MemoryStore();
    const client = createClient({ store });
    cleanups.push(() => store.close());
    await client.startNew('Echo', { instanceId: 'tag-a', input: 1, tags: { tenant: 'acme' } });
    await client.startNew('Echo', { instanceId: 'tag-g', input: 1, tags: { tenant: 'globex' } });
    function View({ tenant }: { tenant: string }) {
      const list = useInstances(client, { tags: { tenant }, showInput: false });
      return createElement('p', { 'data-testid': 'progress' }, `${tenant}:${list.value?.map((s) => s.instanceId).join(',') ?? 'waiting'}`);
    }
    const { element, root } = rootInPage();
    const show = (tenant: string) => root.render(createElement(StrictMode, null, createElement(View, { tenant })));
    show('acme');
    expect((await renderedUntil(element, (p) => p.textContent === 'acme:tag-a')).textContent).toBe('acme:tag-a');
    show('globex');
    expect((await renderedUntil(element, (p) => p.textContent === 'globex:tag-g')).textContent).toBe('globex:tag-g');
  });

  it('render an invalid list filter (a date input left empty) as the hook\'s error, not a throw while rendering', async () => {
    const store = new MemoryStore();
    const client = createClient({ store });
    cleanups.push(() => store.close());
    function View() {
      const list = useInstances(client, { createdTimeFrom: new Date(''), showInput: false });
      return createElement('p', { 'data-testid': 'progress' }, list.error ? `${list.error.name}: ${(list.error as { code?: string }).code}` : 'waiting');
    }
    const p = await renderUntil(View, (e) => e.textContent !== 'waiting');
    expect(p.textContent).toBe('InvalidArgumentError: invalid-argument');
  });
});

/**
 * A source whose attempts (subscriptions) the test drives: each one is a Subject, in `attempts`. StrictMode subscribes,
 * unsubscribes and subscribes again on mount: the live attempt is the last one.
 */
function drivenSource<T>() {
  const attempts: Subject<T>[] = [];
  let told: (() => void) | undefined;
  const source = new Observable<T>((subscriber) => {
    const attempt = new Subject<T>();
    attempts.push(attempt);
    const subscription = attempt.subscribe(subscriber);
    told?.();
    return subscription;
  });
  return {
    source,
    attempts,
    live: (): Subject<T> => attempts.at(-1)!,
    /** Resolves once `n` attempts were made in all (in a microtask: after StrictMode's second subscription). */
    attempted: (n: number): Promise<void> => new Promise((resolve) => {
      told = () => {
        if (attempts.length < n) return;
        told = undefined;
        resolve();
      };
      told();
    }),
  };
}

/** The delay of the one timer pending on `clock` (a hook's next attempt), checking that it is the only one. */
function armedDelay(clock: VirtualClock): number {
  expect(clock.pendingTimers).toBe(1);
  return clock.nextTimerAt!.getTime() - clock.now().getTime();
}

/** `value|error message` of a hook's state, `-` for neither. */
function stateText(state: { value: unknown; error: Error | undefined }): string {
  return `${String(state.value ?? '-')}|${state.error?.message ?? '-'}`;
}

/**
 * A {@link drivenSource} of strings shown through `useObservableState` on a virtual clock, rendered (`-|-`) with its
 * first attempt made: the test drives each attempt and the clock of the hook's retries.
 */
async function mountedDriven() {
  const clock = new VirtualClock();
  const driven = drivenSource<string>();
  function View() {
    return createElement('p', { 'data-testid': 'progress' }, stateText(useObservableState(() => driven.source, [], undefined, clock)));
  }
  const element = (await renderUntil(View, (e) => e.textContent === '-|-')).parentElement!;
  await driven.attempted(1);
  return { clock, element, ...driven };
}

/**
 * A view of `useObservableState` on `clock` over a source whose first attempt gives `kept` and then fails, and whose
 * every later attempt fails as it is made (`refused at once`), rendered with that error: StrictMode's second
 * subscription on mount is such an attempt already; so is each retry. `attempts()` counts them.
 */
async function shownRefusedAtOnce(clock: VirtualClock): Promise<{ p: HTMLElement; attempts: () => number }> {
  let calls = 0;
  const source = (): Observable<string> => {
    if (calls++ > 0) throw new UnavailableError('refused at once');
    return new Observable<string>((subscriber) => {
      subscriber.next('kept');
      subscriber.error(new UnavailableError('dropped'));
    });
  };
  function View() {
    return createElement('p', { 'data-testid': 'progress' }, stateText(useObservableState(source, [], undefined, clock)));
  }
  const p = await renderUntil(View, (e) => e.textContent!.endsWith('|refused at once'));
  expect(p.textContent).toBe('kept|refused at once');
  return { p, attempts: () => calls };
}

describe('React hooks retrying', () => {
  it('back off 1, 2, 4, 8, 10 s from a source that fails right after each value (a snapshot, then the stream dropped)', async () => {
    const clock = new VirtualClock();
    let attempts = 0;
    const source = new Observable<number>((subscriber) => {
      attempts++;
      subscriber.next(attempts);
      subscriber.error(new UnavailableError('dropped'));
    });
    function View() {
      return createElement('p', { 'data-testid': 'progress' }, stateText(useObservableState(() => source, [], undefined, clock)));
    }
    const p = await renderUntil(View, (e) => e.textContent!.endsWith('|dropped'));
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const before = attempts;
      const delay = armedDelay(clock);
      delays.push(delay);
      await clock.advance(delay - 1);
      expect(attempts).toBe(before);
      await clock.advance(1);
      expect(attempts).toBe(before + 1);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    // Meanwhile each attempt's value was rendered, with the error it ended with.
    await renderedUntil(p.parentElement!, (e) => e.textContent === `${attempts}|dropped`);
  });

  it('start the back-off over once a subscription stayed up for 10 s after its value, not before', async () => {
    const { clock, element, attempts, live } = await mountedDriven();
    const delays: number[] = [];
    const failLive = async (): Promise<void> => {
      const count = attempts.length;
      live().error(new UnavailableError('dropped'));
      const delay = armedDelay(clock);
      delays.push(delay);
      await clock.advance(delay);
      expect(attempts.length).toBe(count + 1);
    };
    live().next('first');
    await failLive(); // 1 s
    await failLive(); // no value: 2 s
    live().next('up for 9.999 s');
    await renderedUntil(element, (e) => e.textContent === 'up for 9.999 s|-');
    await clock.advance(9_999);
    await failLive(); // not proved healthy: 4 s
    live().next('up for 10 s');
    await clock.advance(10_000);
    expect(clock.pendingTimers).toBe(0);
    await failLive(); // healthy: 1 s again
    await failLive(); // and doubling from there: 2 s
    expect(delays).toEqual([1000, 2000, 4000, 1000, 2000]);
  });

  it('start over at once on the current value after a remote watch missed values while disconnected, rendering no error', async () => {
    const { clock, element, attempts, live } = await mountedDriven();
    live().next('Tokyo');
    await renderedUntil(element, (e) => e.textContent === 'Tokyo|-');
    const texts: string[] = [];
    const observer = new MutationObserver(() => texts.push(element.textContent!));
    observer.observe(element, { subtree: true, childList: true, characterData: true });
    cleanups.push(() => observer.disconnect());
    const before = attempts.length;
    // What a remote status$ or customStatus$ fails with when commits came between its last value and a new session's.
    live().error(valuesMissed('values committed while disconnected could not be recovered'));
    expect(attempts.length).toBe(before + 1); // subscribed again at once: no delay, no timer
    expect(clock.pendingTimers).toBe(0);
    live().next('London'); // the current value, which the new subscription starts from
    await renderedUntil(element, (e) => e.textContent === 'London|-');
    expect(texts.filter((t) => t.endsWith('|-') === false)).toEqual([]); // no error was rendered meanwhile
  });

  it('keep the last value when an attempt fails as it is made', async () => {
    const clock = new VirtualClock();
    const { p, attempts } = await shownRefusedAtOnce(clock);
    await clock.advance(armedDelay(clock));
    expect(attempts()).toBe(3);
    expect(p.textContent).toBe('kept|refused at once');
  });

  it('show the error, reported, when the clock cannot arm the retry, and throw nothing out of the subscription', async () => {
    /** A virtual clock whose `setTimeout` throws (a custom clock gone wrong). */
    class ClockThatCannotArm extends VirtualClock {
      override setTimeout(): never {
        throw new Error('injected: this clock cannot arm a timer');
      }
    }
    const reports = vi.spyOn(console, 'error').mockImplementation(() => {});
    // Before, the clock's error was thrown out of the hook's subscribe (StrictMode's second subscription fails as it is
    // made, and its retry is armed there): the view failed to render.
    await shownRefusedAtOnce(new ClockThatCannotArm());
    expect(reports.mock.calls.some(([message]) => String(message).includes("the hook's clock failed to arm a timer; the error stays"))).toBe(true);
    reports.mockRestore();
  });

  it('leave no attempt or timer behind when the id changes or the view unmounts, during a retry or a trial', async () => {
    const clock = new VirtualClock();
    const sources = new Map<string, ReturnType<typeof drivenSource<string>>>();
    const sourceOf = (id: string) => {
      if (!sources.has(id)) sources.set(id, drivenSource<string>());
      return sources.get(id)!;
    };
    function View({ id }: { id: string }) {
      const state = useObservableState(() => sourceOf(id).source, [id], undefined, clock);
      return createElement('p', { 'data-testid': 'progress' }, `${id}:${stateText(state)}`);
    }
    const { element, root } = rootInPage();
    const show = (id: string) => root.render(createElement(StrictMode, null, createElement(View, { id })));
    show('a');
    await sourceOf('a').attempted(1);
    sourceOf('a').live().next('A');
    sourceOf('a').live().error(new UnavailableError('dropped'));
    expect(clock.pendingTimers).toBe(1);
    // A new id during the retry's delay: the retry is cancelled, the new id's source subscribed at once.
    show('b');
    await sourceOf('b').attempted(1);
    await renderedUntil(element, (e) => e.textContent === 'b:-|-');
    expect(clock.pendingTimers).toBe(0);
    const triedA = sourceOf('a').attempts.length;
    await clock.advance(60_000);
    expect(sourceOf('a').attempts.length).toBe(triedA);
    // The new id's attempt fails, then a retry delivers a value: its trial timer is pending.
    sourceOf('b').live().error(new UnavailableError('dropped'));
    await clock.advance(armedDelay(clock));
    sourceOf('b').live().next('B');
    await renderedUntil(element, (e) => e.textContent === 'b:B|-');
    expect(clock.pendingTimers).toBe(1);
    // Unmount during the trial: the timer and the subscription are released.
    root.unmount();
    expect(clock.pendingTimers).toBe(0);
    expect(sourceOf('b').attempts.every((attempt) => !attempt.observed)).toBe(true);
    expect(sourceOf('a').attempts.every((attempt) => !attempt.observed)).toBe(true);
  });

  it('release the subscription on unmount, and never subscribe again, when the clock fails to clear the timer', async () => {
    /** A clock whose `clearTimeout` throws once `refuses` is set (a custom clock gone wrong): the timer stays pending. */
    class RefusingClock extends VirtualClock {
      refuses = false;
      override clearTimeout(timer: unknown): void {
        if (this.refuses) throw new Error('this clock cannot clear timers');
        super.clearTimeout(timer as never);
      }
    }
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {});
    for (const during of ['retry', 'trial'] as const) {
      const clock = new RefusingClock();
      const driven = drivenSource<string>();
      function View() {
        return createElement('p', { 'data-testid': 'progress' }, stateText(useObservableState(() => driven.source, [], undefined, clock)));
      }
      const { element, root } = rootInPage();
      root.render(createElement(View));
      await driven.attempted(1);
      driven.live().next('A');
      driven.live().error(new UnavailableError('dropped'));
      if (during === 'trial') {
        await clock.advance(armedDelay(clock));
        await driven.attempted(2);
        driven.live().next('B');
        await renderedUntil(element, (e) => e.textContent === 'B|dropped' || e.textContent === 'B|-');
      }
      expect(clock.pendingTimers).toBe(1);
      const tried = driven.attempts.length;
      clock.refuses = true;
      root.unmount();
      // The timer it could not clear fires, and does nothing: no attempt is made with no view to own it.
      await clock.advance(60_000);
      expect(driven.attempts.length, during).toBe(tried);
      expect(driven.attempts.every((attempt) => !attempt.observed), during).toBe(true);
    }
    expect(reported).toHaveBeenCalledWith(expect.stringContaining("the hook's clock failed to clear a timer"), expect.any(Error));
    reported.mockRestore();
  });

  it('subscribe afresh when the id changes after an error that is not retried', async () => {
    const clock = new VirtualClock();
    const { source, attempts, live, attempted } = drivenSource<string>();
    function View({ id }: { id: string }) {
      const state = useObservableState(() => (id === 'bad' ? source : new Observable<string>((s) => s.next(`ok ${id}`))), [id], undefined, clock);
      return createElement('p', { 'data-testid': 'progress' }, stateText(state));
    }
    const { element, root } = rootInPage();
    root.render(createElement(StrictMode, null, createElement(View, { id: 'bad' })));
    await attempted(1);
    live().error(new InvalidArgumentError('bad id'));
    await renderedUntil(element, (e) => e.textContent === '-|bad id');
    // Never retried, whatever the time …
    expect(clock.pendingTimers).toBe(0);
    const tried = attempts.length;
    await clock.advance(60_000);
    expect(attempts.length).toBe(tried);
    // … until the id changes: the error goes with the id.
    root.render(createElement(StrictMode, null, createElement(View, { id: 'good' })));
    await renderedUntil(element, (e) => e.textContent === 'ok good|-');
  });
});

/** The statuses and custom statuses a watch was given, in order, and how many of its subscriptions are live. */
interface Delivered {
  readonly status: unknown[];
  readonly customStatus: unknown[];
  live: number;
}

/**
 * `client` with its `status$` and `customStatus$` values held until `release()`, then given to their subscribers all
 * at once, synchronously: in one task, as a burst of commits arrives on a busy page. Values after the release pass at
 * once. `delivered` records what the subscribers were given; `held` what waits, per watch.
 */
function heldTogether(client: DurableClient) {
  const delivered: Delivered = { status: [], customStatus: [], live: 0 };
  const held = { status: [] as unknown[], customStatus: [] as unknown[] };
  const releases = new Set<() => void>();
  let released = false;
  const hold = (kind: 'status' | 'customStatus', watch: Observable<unknown>) => new Observable<unknown>((subscriber) => {
    const waiting: unknown[] = [];
    const give = (value: unknown) => {
      delivered[kind].push(value);
      subscriber.next(value);
    };
    const release = () => {
      for (const value of waiting.splice(0)) give(value);
      held[kind] = [];
    };
    releases.add(release);
    delivered.live++;
    const subscription = watch.subscribe({
      next: (value) => {
        if (released) return give(value);
        waiting.push(value);
        held[kind] = [...waiting];
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    return () => {
      releases.delete(release);
      delivered.live--;
      subscription.unsubscribe();
    };
  });
  const wrapped = new Proxy(client, {
    get(target, key) {
      if (key === 'status$') return (id: string) => hold('status', target.status$(id));
      if (key === 'customStatus$') return (id: string) => hold('customStatus', target.customStatus$(id));
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    client: wrapped,
    delivered,
    held,
    release: () => {
      released = true;
      for (const release of [...releases]) release();
    },
  };
}

/**
 * Resolves once `done` holds, checked every 10 ms; rejects naming `what` after `within` ms (a bound, not an expected
 * time).
 */
async function until(done: () => boolean, what: string, within = 60_000): Promise<void> {
  await vi.waitFor(() => {
    if (!done()) throw new Error(`${what} within ${within / 1000} s`);
  }, { timeout: within, interval: 10 });
}

/** What the hooks of one view committed, each state once (an effect per state, the loading ones left out). */
interface Commits {
  readonly status: unknown[];
  readonly customStatus: unknown[];
}

function Burst({ client, id, commits }: { client: DurableClient; id: string; commits: Commits }) {
  const status = useStatus(client, id);
  const city = useCustomStatus<string>(client, id);
  useEffect(() => {
    if (!status.loading) commits.status.push(status.value);
  }, [status, commits]);
  useEffect(() => {
    if (!city.loading) commits.customStatus.push(city.value);
  }, [city, commits]);
  const text = status.loading || city.loading ? 'loading' : `${city.value ?? '-'}|${status.value?.runtimeStatus ?? 'none'}`;
  return createElement('p', { 'data-testid': 'progress' }, text);
}

/**
 * Mounts a view of instance `id` over `client` with its values held, runs the hello sequence to completion with all of
 * them held (the watches' first values, then Tokyo, Seattle, London and each status), and releases them in one task.
 */
async function burstOfOneRun(client: DurableClient, id: string) {
  const held = heldTogether(client);
  const commits: Commits = { status: [], customStatus: [] };
  const { element, root } = rootInPage();
  root.render(createElement(StrictMode, null, createElement(Burst, { client: held.client, id, commits })));
  // Subscribed, each watch with its first value (no such instance yet) held: the run is watched from its start.
  await until(() => held.held.status.length > 0 && held.held.customStatus.length > 0, 'the first values');
  await client.startNew('E1_HelloSequence', { instanceId: id });
  await until(
    () => held.held.customStatus.includes('London') && held.held.status.some((s) => (s as { runtimeStatus?: string } | undefined)?.runtimeStatus === 'Completed'),
    'the whole run held',
  );
  held.release();
  await renderedUntil(element, (p) => p.textContent === 'London|Completed');
  await until(() => commits.customStatus.at(-1) === 'London' && commits.status.at(-1) === held.delivered.status.at(-1), 'the last commits');
  return { ...held, commits, root };
}

/** Activities that answer at once: the run is a quick sequence of commits. */
const quickHello: Record<string, Activity> = { E1_SayHello: async (name: unknown) => `Hello ${String(name)}!` };

describe('React hooks render every value', () => {
  for (const where of ['an in-page client', 'a remote client'] as const) {
    it(`render each of Tokyo, Seattle, London, and each status, arriving in one task, in order, over ${where}`, async () => {
      let client: DurableClient;
      if (where === 'an in-page client') {
        const runtime = createRuntime({ store: new MemoryStore(), orchestrators: sampleOrchestrators, activities: quickHello });
        await runtime.start();
        cleanups.push(() => runtime.stop());
        client = runtime.client;
      } else {
        const { url, key } = await commands.startServer();
        cleanups.push(() => commands.stopServer());
        const remote = createRemoteClient({ baseUrl: url, key });
        cleanups.push(() => remote.close());
        client = remote;
      }
      const { delivered, commits } = await burstOfOneRun(client, 'hooks-burst');
      // The burst: no instance yet, then the three cities (and several statuses), all in one task.
      expect(delivered.customStatus).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
      expect(delivered.status.length).toBeGreaterThan(3);
      // Each one committed, in order, none merged away.
      expect(commits.customStatus).toEqual(delivered.customStatus);
      expect(commits.status).toEqual(delivered.status);
    });
  }

  it('render Tokyo, Seattle, London over a remote server whose greetings run at once', async () => {
    const { url, key } = await commands.startServer();
    cleanups.push(() => commands.stopServer());
    await commands.holdGreetings();
    for (const city of ['Tokyo', 'Seattle', 'London']) await commands.releaseGreeting(city);
    const client = createRemoteClient({ baseUrl: url, key });
    cleanups.push(() => client.close());
    const commits: Commits = { status: [], customStatus: [] };
    const { element, root } = rootInPage();
    root.render(createElement(StrictMode, null, createElement(Burst, { client, id: 'hooks-quick', commits })));
    await renderedUntil(element, (p) => p.textContent === '-|none');
    await client.startNew('E1_HelloSequence', { instanceId: 'hooks-quick' });
    await renderedUntil(element, (p) => p.textContent === 'London|Completed');
    expect(commits.customStatus).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    expect(commits.status.map((s) => (s as { runtimeStatus?: string } | undefined)?.runtimeStatus ?? 'none').filter((r, i, all) => r !== all[i - 1]))
      .toEqual(['none', 'Pending', 'Running', 'Completed']);
  });

  it('render none of the old id\'s waiting values under a new id, and release them on unmount', async () => {
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators: sampleOrchestrators, activities: quickHello });
    await runtime.start();
    cleanups.push(() => runtime.stop());
    const held = heldTogether(runtime.client);
    // The id comes from an external store too, so that changing it is an update as urgent as a value's.
    let id = 'hooks-old';
    const listeners = new Set<() => void>();
    const subscribeId = (listener: () => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };
    const commits: string[] = [];
    function View() {
      const current = useSyncExternalStore(subscribeId, () => id);
      const city = useCustomStatus<string>(held.client, current);
      const text = `${current}:${city.loading ? 'loading' : String(city.value)}`;
      useEffect(() => {
        commits.push(text);
      }, [text, city]);
      return createElement('p', { 'data-testid': 'progress' }, text);
    }
    const { element, root } = rootInPage();
    root.render(createElement(StrictMode, null, createElement(View)));
    await until(() => held.held.customStatus.length > 0, 'the first value');
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'hooks-old' });
    await until(() => held.held.customStatus.includes('London'), 'the whole run held');
    // In one task: the old id's values arrive, and the id changes.
    held.release();
    id = 'hooks-new';
    for (const listener of listeners) listener();
    await renderedUntil(element, (p) => p.textContent === 'hooks-new:undefined');
    const switched = commits.findIndex((c) => c.startsWith('hooks-new:'));
    expect(commits.slice(switched)).toEqual(['hooks-new:loading', 'hooks-new:undefined']);
    expect(commits.slice(0, switched).every((c) => c.startsWith('hooks-old:'))).toBe(true);
    root.unmount();
    expect(held.delivered.live).toBe(0);
  });
});

/** Renders its children, or, once one threw while rendering or in an effect, what it threw (recorded in `errors`). */
class Boundary extends Component<{ children?: ReactNode; errors: unknown[] }, { failed: boolean }> {
  override state = { failed: false };
  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }
  override componentDidCatch(error: unknown): void {
    this.props.errors.push(error);
  }
  override render(): ReactNode {
    return this.state.failed ? createElement('p', { 'data-testid': 'progress' }, 'crashed') : this.props.children;
  }
}

type Hook = (client: DurableClient, id: string | undefined) => { readonly value: unknown; readonly loading: boolean };

/**
 * A client whose `status$` and `customStatus$` of any id start with `undefined` (no such instance) and then pass on
 * what `push` gives them, synchronously: a burst is pushed in one task, as a remote client resuming its session
 * replays the events it missed in one chunk. `live` counts the subscriptions.
 */
function pushedClient() {
  const values = new Subject<unknown>();
  let live = 0;
  const watch = () => new Observable<unknown>((subscriber) => {
    live++;
    subscriber.next(undefined);
    const subscription = values.subscribe(subscriber);
    return () => {
      live--;
      subscription.unsubscribe();
    };
  });
  const client = { status$: watch, customStatus$: watch } as unknown as DurableClient;
  return { client, push: (value: unknown) => values.next(value), live: () => live };
}

/** Mounts, in StrictMode inside a `Boundary`, a view of `hook` over `client` whose every committed value is recorded. */
function mountBurstView(hook: Hook, client: DurableClient, id: () => string) {
  const commits: unknown[] = [];
  const errors: unknown[] = [];
  const listeners = new Set<() => void>();
  const subscribeId = (listener: () => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  function View() {
    const current = useSyncExternalStore(subscribeId, id);
    const state = hook(client, current);
    useEffect(() => {
      if (!state.loading) commits.push(state.value);
    }, [state]);
    return createElement('p', { 'data-testid': 'progress' }, state.loading ? 'loading' : `${current}:${String(state.value)}`);
  }
  const { element, root } = rootInPage();
  root.render(createElement(StrictMode, null, createElement(Boundary, { errors }, createElement(View))));
  return { commits, errors, element, root, idChanged: () => listeners.forEach((listener) => listener()) };
}

describe('useHistory', () => {
  it('renders once per batch of events that arrive together, and not at all for a batch that changes nothing', async () => {
    // A client whose marked history is what the test sends, as the local and remote clients give it.
    const values = new Subject<HistoryEvent | HistoryPosition>();
    const statuses = new Subject<InstanceStatus | undefined>();
    const client = { history$: () => values, historyPositions$: () => values, status$: () => statuses } as unknown as DurableClient;
    const event = (n: number): HistoryEvent => ({ type: 'EventRaised', eventId: -1, timestamp: new Date(0).toISOString(), name: `e${n}`, input: n });
    const at = (execution: string): HistoryPosition => ({ execution, events: 0 });
    /** Sends `batch` in one task, as one store read or one chunk of the event stream delivers it. */
    const send = (...batch: (HistoryEvent | HistoryPosition)[]) => batch.forEach((value) => values.next(value));
    // Every render, committed or not (no StrictMode, which renders twice on purpose): the history's length.
    const renders: string[] = [];
    function View() {
      const { value, loading } = useHistory(client, 'batched');
      const text = loading ? 'loading' : String(value?.length);
      renders.push(text);
      return createElement('p', { 'data-testid': 'progress' }, text);
    }
    const { element, root } = rootInPage();
    root.render(createElement(View));
    await vi.waitFor(() => expect(values.observed).toBe(true), { timeout: SETTLED.timeoutMs }); // subscribed once mounted, from an effect
    send(at('x/0'), ...Array.from({ length: 50 }, (_, n) => event(n)));
    await renderedUntil(element, (p) => p.textContent === '50');
    send(...Array.from({ length: 30 }, (_, n) => event(50 + n)));
    await renderedUntil(element, (p) => p.textContent === '80');
    send(at('y/0')); // a new history, with no events yet
    await renderedUntil(element, (p) => p.textContent === '0');
    send(at('y/1')); // another, while the history is empty: nothing to render
    await new Promise((resolve) => setTimeout(resolve, 0));
    send(event(0));
    await renderedUntil(element, (p) => p.textContent === '1');
    expect(renders).toEqual(['loading', '50', '80', '0', '1']);
  });
});

describe('React hooks render every value of a long burst', () => {
  const hooks: [string, Hook][] = [['useStatus', useStatus], ['useCustomStatus', useCustomStatus]];
  for (const [name, hook] of hooks) {
    for (const n of [200, 2000]) {
      it(`${name} renders each of ${n} values arriving in one task, in order, without exceeding React's update depth`, async () => {
        const { client, push } = pushedClient();
        const view = mountBurstView(hook, client, () => 'burst');
        await renderedUntil(view.element, (p) => p.textContent === 'burst:undefined');
        for (let i = 1; i <= n; i++) push(i);
        await renderedUntil(view.element, (p) => p.textContent === `burst:${n}` || p.textContent === 'crashed');
        expect(view.errors.map(String)).toEqual([]);
        expect(view.commits).toEqual([undefined, ...Array.from({ length: n }, (_, i) => i + 1)]);
      });
    }

    it(`${name} renders none of a long burst's waiting values once the id changed, nor any after unmount`, async () => {
      const { client, push, live } = pushedClient();
      let id = 'old';
      const view = mountBurstView(hook, client, () => id);
      await renderedUntil(view.element, (p) => p.textContent === 'old:undefined' || p.textContent === 'crashed');
      for (let i = 1; i <= 2000; i++) push(i);
      await renderedUntil(view.element, (p) => p.textContent === 'old:3' || p.textContent === 'crashed');
      // Mid-drain: the id changes; the new id's watch starts with its own first value.
      id = 'new';
      view.idChanged();
      await renderedUntil(view.element, (p) => p.textContent === 'new:undefined' || p.textContent === 'crashed');
      const switched = view.commits.length;
      for (let i = 1; i <= 2000; i++) push(-i);
      await renderedUntil(view.element, (p) => p.textContent === 'new:-3' || p.textContent === 'crashed');
      expect(view.errors.map(String)).toEqual([]);
      view.root.unmount();
      expect(live()).toBe(0);
      const unmounted = view.commits.length;
      // Long enough for many more of the burst's values to have been shown, had they not been dropped.
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The old id's values stopped when the id changed: the new id's commits are its own values only, in order.
      const upTo = (count: number, sign: number) => [undefined, ...Array.from({ length: count }, (_, i) => sign * (i + 1))];
      expect(view.commits.slice(0, switched - 1)).toEqual(upTo(switched - 2, 1));
      expect(view.commits.slice(switched - 1)).toEqual(upTo(unmounted - switched, -1));
      expect(view.commits.length).toBe(unmounted);
    });
  }
});
