import { createClient, createRuntime, silentLogger, type Runtime } from '@durable-rx/runtime';
import { helloSequence, sayHello } from '@durable-rx/runtime/samples';
import type { InstanceState, Store } from '@durable-rx/runtime/store-kit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { changeChannelName } from '../../src/idb-store.js';
import { ExecutionInputs } from '../../src/internal/execution-inputs.js';
import { ChangeFeed } from '../../src/internal/change-feed.js';
import { readChangeOf } from '../../src/internal/version-gate.js';
import { FakeLocks } from '../fake-locks.js';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { SETTLED } from '../../../../test-support/settled.js';
import { adapters, create, newInstance, T0, uniqueName, within, type AdapterName } from './fixtures.js';

// While another store on the database listens, each commit is posted on the channel. A step of an execution does not
// change its input, so its post leaves the input out, and the listening store puts it back (the one it kept when the
// start was posted, else the input record it reads) before its subscribers hear of the change: a 1 MB input is cloned
// into the start's post and the end's only, not into every step's.

const COMMIT = 'durable-rx/commit@1';
const PRESENCE = 'durable-rx/presence@1';

interface Posted {
  readonly type?: string;
  readonly changes?: readonly { readonly instanceId: string; readonly state?: InstanceState }[];
}

/** The commits posted on any channel, as sent: each change's instance and whether its state carried an input. */
let posted: { readonly instanceId: string; readonly withInput: boolean }[] = [];
/** While set, the commits posted wait here, in order, instead of going out (a test sends them on). */
let held: (() => void)[] | undefined;

beforeEach(() => {
  // Presence runs on Web Locks: Node 20 has none, so the stores of this process share one lock manager of the test's.
  if (!(globalThis.navigator as Navigator | undefined)?.locks) vi.stubGlobal('navigator', { locks: new FakeLocks(), userAgent: '' });
  posted = [];
  held = undefined;
  const post = BroadcastChannel.prototype.postMessage;
  vi.spyOn(BroadcastChannel.prototype, 'postMessage').mockImplementation(function (this: BroadcastChannel, message: unknown) {
    const { type, changes } = message as Posted;
    if (type === COMMIT) {
      for (const { instanceId, state } of changes ?? []) if (state) posted.push({ instanceId, withInput: Object.hasOwn(state, 'input') });
    }
    if (type === COMMIT && held) held.push(() => post.call(this, message));
    else post.call(this, message);
  });
});

const opened: Store[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
  await Promise.all(opened.splice(0).map((s) => s.close()));
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

/** A store on `name`, opened and joined to the stores present. */
async function open(adapter: AdapterName, name: string): Promise<Store> {
  const store = adapters[adapter](name);
  opened.push(store);
  await store.getInstance('none');
  return store;
}

/** A runtime on `store` that runs the hello sequence (4 steps, 3 activities). */
function runtimeOn(store: Store): Runtime {
  const runtime = createRuntime({ store, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger });
  runtimes.push(runtime);
  return runtime;
}

/** The states of `instanceId` that `store`'s changes$ delivers, and a promise of its end. */
function listen(store: Store, instanceId: string): { readonly states: InstanceState[]; readonly ended: Promise<void> } {
  const states: InstanceState[] = [];
  const ended = new Promise<void>((resolve) => {
    store.changes$.subscribe(({ instanceId: id, state }) => {
      if (id !== instanceId || !state) return;
      states.push(state);
      if (state.runtimeStatus === 'Completed') resolve();
    });
  });
  return { states, ended };
}

const INPUT = { cities: Array.from({ length: 200 }, (_, i) => ({ name: `city-${i}`, population: i * 1000 })) };

describe.each(Object.keys(adapters) as AdapterName[])('%s: a post leaves out the input its commit did not write', (adapter) => {
  it('a store listening from the start hears every state of the execution with its input, and only the start\'s and the end\'s posts carry it', async () => {
    const name = uniqueName('posted-inputs');
    const worker = await open(adapter, name);
    const listener = await open(adapter, name);
    const heard = listen(listener, 'x');
    const keep = vi.spyOn(ExecutionInputs.prototype, 'keep');
    const runtime = runtimeOn(worker);
    await runtime.start();
    await runtime.client.startNew('HelloSequence', { instanceId: 'x', input: INPUT });
    await within(heard.ended, 'the listener hears the completion');
    expect(heard.states.map((s) => s.runtimeStatus)).toContain('Running');
    // Both stores kept the execution's input (the worker's, and the listener's from the start's post), and forgot it
    // when the instance ended.
    const keepers = new Set(keep.mock.contexts.filter((c, i) => c instanceof ExecutionInputs && keep.mock.calls[i]![0] === 'x'));
    expect(keepers.size).toBe(2);
    for (const inputs of keepers) expect((inputs as ExecutionInputs).get('x', heard.states[0]!)).toBeUndefined();
    for (const state of heard.states) expect(state.input).toEqual(INPUT);
    // The start's post carried the input, which the listener kept (frozen) for every later change of the execution.
    expect(new Set(heard.states.map((s) => s.input)).size).toBe(1);
    expect(Object.isFrozen(heard.states[0]!.input)).toBe(true);
    const ofX = posted.filter((p) => p.instanceId === 'x');
    expect(ofX.length).toBeGreaterThanOrEqual(5); // its start and four steps
    expect(ofX.filter((p) => p.withInput)).toHaveLength(2);
    expect(ofX[0]!.withInput).toBe(true);
    expect(ofX.at(-1)!.withInput).toBe(true); // its end: see the next describe
    // A client of the listening store shows the input too.
    expect((await createClient({ store: listener }).getStatus('x'))?.input).toEqual(INPUT);
  });

  it('a store that joined after the start reads the input record once and hears every later state with its input', async () => {
    const name = uniqueName('posted-inputs-late');
    const worker = await open(adapter, name);
    await createClient({ store: worker }).startNew('HelloSequence', { instanceId: 'x', input: INPUT });
    const listener = await open(adapter, name);
    const heard = listen(listener, 'x');
    const runtime = runtimeOn(worker);
    await runtime.start();
    await within(heard.ended, 'the listener hears the completion');
    expect(heard.states.length).toBeGreaterThanOrEqual(4);
    for (const state of heard.states) expect(state.input).toEqual(INPUT);
    expect(new Set(heard.states.map((s) => s.input)).size).toBe(1);
    expect(posted.filter((p) => p.instanceId === 'x' && p.withInput)).toHaveLength(1); // its end's
  });

  it('a store whose kept inputs let the execution\'s go reads its record and hears every later state with its input', async () => {
    const name = uniqueName('posted-inputs-evicted');
    const worker = await open(adapter, name);
    const listener = await open(adapter, name);
    const heard = listen(listener, 'x');
    const client = createClient({ store: worker });
    await client.startNew('HelloSequence', { instanceId: 'x', input: INPUT });
    // A hundred later starts (delayed: no worker takes them), each posted with its input, which the listener keeps in
    // place of the oldest: x's goes.
    const later = new Date(Date.now() + 3_600_000);
    for (let i = 0; i < 100; i++) await client.startNew('HelloSequence', { instanceId: `y${i}`, input: { i }, startAt: later });
    const runtime = runtimeOn(worker);
    await runtime.start();
    await within(heard.ended, 'the listener hears the completion');
    expect(heard.states.length).toBeGreaterThanOrEqual(5);
    for (const state of heard.states) expect(state.input).toEqual(INPUT);
    // The start's, kept, then the record's, read once and kept for the rest of the execution.
    expect(new Set(heard.states.map((s) => s.input)).size).toBe(2);
    expect(posted.filter((p) => p.instanceId === 'x' && p.withInput)).toHaveLength(2); // its start's and its end's
  });

  it('posts every input while a store that does not say it takes them without listens (an older version\'s tab)', async () => {
    const name = uniqueName('posted-inputs-older');
    const worker = await open(adapter, name);
    // An older version's feed: it holds its lock and says hello, without saying it takes posts without inputs.
    const channel = new BroadcastChannel(changeChannelName(name));
    const older = new AbortController();
    const lockName = `${changeChannelName(name)}/feed/older`;
    void navigator.locks.request(lockName, { signal: older.signal }, () => new Promise<void>((resolve) => older.signal.addEventListener('abort', () => resolve())))
      .catch(() => undefined);
    const answered = new Promise<void>((resolve) => {
      channel.addEventListener('message', ({ data }: MessageEvent<{ type?: string; kind?: string; to?: string }>) => {
        if (data.type === PRESENCE && data.kind === 'here' && data.to === 'older') resolve();
      });
    });
    channel.postMessage({ type: PRESENCE, kind: 'hello', from: 'older' });
    await within(answered, 'the store answers the older feed');
    try {
      const heard = listen(worker, 'x');
      const runtime = runtimeOn(worker);
      await runtime.start();
      await runtime.client.startNew('HelloSequence', { instanceId: 'x', input: INPUT });
      await within(heard.ended, 'the instance completes');
      const ofX = posted.filter((p) => p.instanceId === 'x');
      expect(ofX.length).toBeGreaterThanOrEqual(5);
      expect(ofX.every((p) => p.withInput)).toBe(true);
    } finally {
      older.abort();
      channel.close();
    }
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: a run\'s end posted to a store that does not keep its input', (adapter) => {
  it('is heard with its output and input though the instance was purged before the store could read its record', async () => {
    const name = uniqueName('posted-inputs-end');
    const worker = await open(adapter, name);
    const client = createClient({ store: worker });
    await client.startNew('HelloSequence', { instanceId: 'x', input: INPUT });
    // Opened after the start's post: it keeps no input of the execution.
    const listener = await open(adapter, name);
    const states: InstanceState[] = [];
    const purged = new Promise<void>((resolve) => {
      listener.changes$.subscribe(({ instanceId, state }) => {
        if (instanceId !== 'x') return;
        if (state) states.push(state);
        else resolve();
      });
    });
    const completed = new Promise<unknown>((resolve) => {
      worker.changes$.subscribe(({ instanceId, state }) => instanceId === 'x' && state?.runtimeStatus === 'Completed' && resolve(state.output));
    });
    // The worker's tab runs the instance to its end and purges it before the listener hears a thing.
    held = [];
    const runtime = runtimeOn(worker);
    await runtime.start();
    const output = await within(completed, 'the instance completes');
    expect(output).toBeDefined();
    await client.purgeInstanceHistory('x');
    for (const send of held.splice(0)) send();
    held = undefined;
    await within(purged, 'the listener hears the purge');
    const end = states.find((s) => s.runtimeStatus === 'Completed');
    expect(end?.output).toEqual(output);
    expect(end?.input).toEqual(INPUT);
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: a posted change without its input', (adapter) => {
  it('is put back with the record\'s input; one whose record names another execution by then is passed over unheard, and the next follows at once', async () => {
    const name = uniqueName('posted-inputs-unheard');
    // A clock nobody advances: a change held for a missing predecessor would never come out.
    const store = adapters[adapter](name, { clock: new VirtualClock(), gapTimeoutMs: 1000 });
    opened.push(store);
    const { state } = newInstance('x', { n: 1 });
    await create(store, newInstance('x', { n: 1 })); // version 1 of exec-1, its input in the record
    const heard: InstanceState[] = [];
    store.changes$.subscribe((c) => c.state && heard.push(c.state));
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      const { input: _input, ...withoutInput } = state;
      const step = (version: number, executionId: string) => ({
        instanceId: 'x', after: version - 1, inputApart: true,
        state: { ...withoutInput, runtimeStatus: 'Running', version, executionId },
      });
      // Version 2 of an execution whose input the record no longer holds (a later commit replaced it), then version 3.
      channel.postMessage({ type: COMMIT, changes: [step(2, 'exec-0')], work: false, from: 'peer' });
      channel.postMessage({ type: COMMIT, changes: [step(3, 'exec-1')], work: false, from: 'peer' });
      await vi.waitFor(() => expect(heard.map((s) => s.version)).toEqual([3]), { timeout: SETTLED.timeoutMs });
      expect(heard[0]!.input).toEqual({ n: 1 });
      expect(heard[0]!.executionId).toBe('exec-1');
    } finally {
      channel.close();
    }
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: a posted change of a run an older tab started over a row whose input was apart', (adapter) => {
  it('is heard without an input when the record is of an earlier run, whatever its execution id', async () => {
    const name = uniqueName('posted-inputs-earlier-record');
    const store = adapters[adapter](name, { clock: new VirtualClock(), gapTimeoutMs: 1000 });
    opened.push(store);
    const { state } = newInstance('x', { n: 1 });
    await create(store, newInstance('x', { n: 1 })); // exec-1 created at T0, its input in the record
    const heard: InstanceState[] = [];
    store.changes$.subscribe((c) => c.state && heard.push(c.state));
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      // Code of an earlier layout in another tab started 'x' over again without an input (keeping the row's mark, and
      // the record, of exec-1); a tab of this layout then posts the new run's steps without their input, as the row says.
      const { input: _input, ...withoutInput } = state;
      const step = (version: number, executionId: string, createdMs: number) => ({
        instanceId: 'x', after: version - 1, inputApart: true,
        state: { ...withoutInput, runtimeStatus: 'Running', version, executionId, createdTime: new Date(createdMs), lastUpdatedTime: new Date(createdMs) },
      });
      channel.postMessage({ type: COMMIT, changes: [step(2, 'exec-2', T0.getTime() + 5000)], work: false, from: 'peer' });
      // Again, with an execution id a caller's own newId repeated.
      channel.postMessage({ type: COMMIT, changes: [step(3, 'exec-1', T0.getTime() + 9000)], work: false, from: 'peer' });
      await vi.waitFor(() => expect(heard.map((s) => [s.version, s.executionId])).toEqual([[2, 'exec-2'], [3, 'exec-1']]), { timeout: SETTLED.timeoutMs });
      for (const s of heard) expect(s).not.toHaveProperty('input');
    } finally {
      channel.close();
    }
  });
});

describe('a posted change without its input, when the record cannot be read', () => {
  it('is not passed over: the state the store reads again is delivered with its input', async () => {
    const name = uniqueName('posted-inputs-read-fails');
    const { state: created } = newInstance('x', { n: 1 });
    const { input: _input, ...withoutInput } = created;
    const running = { ...withoutInput, runtimeStatus: 'Running' as const, version: 2 };
    const heard: InstanceState[] = [];
    // The store reads again what its subscribers watch, as it does for changes it cannot read (a transaction later):
    // here, version 2.
    let feed: ChangeFeed | undefined;
    const reread = vi.fn(() => queueMicrotask(() => feed!.deliverRead([readChangeOf({ ...running, input: { n: 1 } })])));
    feed = new ChangeFeed({
      channelName: changeChannelName(name), gapTimeoutMs: 1000, joinTimeoutMs: 1000, clock: new VirtualClock(),
      unreadable: reread,
      inputs: {
        isKept: () => false, get: () => undefined, keep: (_id, _execution, input) => input, forget: () => undefined,
        read: () => Promise.reject(new Error('the transaction was aborted')),
      },
    });
    feed.changes$.subscribe((c) => c.state && heard.push(c.state));
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      channel.postMessage({ type: COMMIT, changes: [{ instanceId: 'x', after: 1, inputApart: true, state: running }], work: false, from: 'peer' });
      await vi.waitFor(() => expect(heard.map((s) => [s.version, s.input])).toEqual([[2, { n: 1 }]]), { timeout: SETTLED.timeoutMs });
      expect(reread).toHaveBeenCalledOnce();
    } finally {
      channel.close();
      feed.close();
    }
  });
});
