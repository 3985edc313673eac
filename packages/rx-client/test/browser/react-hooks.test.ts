import { createClient, createRuntime, MemoryStore, type Activity, type DurableClient } from '@durable-rx/runtime';
import { sampleOrchestrators } from '@durable-rx/runtime/testing';
import { DexieStore } from '@durable-rx/store-indexeddb';
import { createElement, StrictMode, useEffect } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { filter, firstValueFrom } from 'rxjs';
import { commands } from 'vitest/browser';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../../src/index.js';
import { useCustomStatus, useHistory, useInstances, useStatus } from '../../src/react/index.js';
import { Gates } from './gates.js';
import type {} from './server-commands.js'; // the commands' types

/**
 * The React hooks in real Chromium, rendered by react-dom, over a local runtime on IndexedDB (DexieStore) and over a
 * remote server: the hello sequence's Tokyo, Seattle, London render in order.
 *
 * A hook renders the latest value, and React may merge updates that arrive before it renders, as on a busy machine.
 * So each greeting waits for a gate the test opens only once the previous city has rendered.
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

function mount(client: DurableClient, id: string): { rendered: Rendered; element: HTMLElement } {
  const element = document.createElement('div');
  document.body.append(element);
  const root: Root = createRoot(element);
  const rendered: Rendered = { texts: [] };
  root.render(createElement(StrictMode, null, createElement(Progress, { client, id, rendered })));
  cleanups.push(() => {
    root.unmount();
    element.remove();
  });
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
      // An unknown instance's first snapshot comes from the store, after the watches of no id have ended.
      const unknown = useStatus(client, 'hooks-unknown');
      const text = unknown.loading ? 'waiting' : [noStatus, noCity, noHistory].map((s) => `${s.loading}/${s.value}/${s.error}`).join('|');
      return createElement('p', { 'data-testid': 'progress' }, text);
    }
    const p = await renderUntil(View, (e) => e.textContent !== 'waiting');
    expect(p.textContent).toBe('false/undefined/undefined|false/undefined/undefined|false/undefined/undefined');
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
