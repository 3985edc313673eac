import { runInNewContext } from 'node:vm';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createClient, type CreateClientOptions } from '../src/client/create-client.js';
import { CLIENT_STORE_MEMBERS } from '../src/model/validation.js';
import { createHttpManagementPayload } from '../src/client/http-management-payload.js';
import { ALL_RUNTIME_STATUSES, OrchestrationRuntimeStatus } from '../src/model/instance-status.js';
import { MAX_JSON_DEPTH, MAX_JSON_ELEMENTS, toPlainJson } from '../src/model/json.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { createRuntimeWithStore } from '../src/runtime/create-runtime-with-store.js';
import { SETTLED } from '../src/testing/settled.js';
import { startedRuntimes } from './started-runtimes.js';

const { start: startRuntime } = startedRuntimes();

function start(store = new MemoryStore()): Promise<Runtime> {
  return startRuntime({ store, orchestrators: sampleOrchestrators, activities: sampleActivities });
}

const invalid = { code: 'invalid-argument', status: 400 };

/** `[[[ ... ]]]` nested `depth` levels deep, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/**
 * An array of `length` holes that holds no element: shortened from one too long for V8 to give a backing store, so
 * making it costs nothing, whatever its length (a copy of it would hold every element).
 */
function holes(length: number): unknown[] {
  const array = new Array(2 ** 26);
  array.length = length;
  return array;
}

function withThrowingGetter(key = 'bad'): object {
  return Object.defineProperty({ ok: 1 }, key, {
    enumerable: true,
    get() {
      throw new Error('getter exploded');
    },
  });
}

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({ a: 1 }, {});
  revoke();
  return proxy;
}

describe('bad input is refused with a typed error and changes nothing', () => {
  it('refuses JSON nested 100,000 levels deep in startNew and raiseEvent (never a RangeError)', async () => {
    const runtime = await start();
    const client = runtime.client;
    await expect(client.startNew('E1_HelloSequence', { input: nested(100_000) })).rejects.toMatchObject(invalid);
    await expect(client.startNew('E1_HelloSequence', { input: { a: nested(100_000) } })).rejects.toMatchObject(invalid);
    expect(await client.getStatusAll()).toEqual([]);
    const id = await client.startNew('SetStatusTest', { instanceId: 'deep-event' });
    await expect(client.raiseEvent(id, 'Proceed', nested(100_000))).rejects.toMatchObject(invalid);
    await expect(client.terminate(id, nested(100_000))).rejects.toMatchObject(invalid);
  });

  it(`accepts exactly ${MAX_JSON_DEPTH} levels of nesting and refuses one more`, () => {
    expect(toPlainJson(nested(MAX_JSON_DEPTH), 'input')).toEqual(nested(MAX_JSON_DEPTH));
    expect(() => toPlainJson(nested(MAX_JSON_DEPTH + 1), 'input')).toThrow(expect.objectContaining(invalid));
  });

  it('says what is wrong in one pattern, "<path> is <what>, not JSON", whatever the problem', () => {
    const refused: [unknown, string][] = [
      [{ f() {} }, 'input.f is a function, not JSON'],
      [[1, Number.NaN], 'input[1] is NaN, not JSON'],
      [{ at: new Date(Number.NaN) }, 'input.at is an invalid Date, not JSON'],
      [{ a: new Map() }, 'input.a is an instance of Map, not JSON'],
      [{ deep: nested(MAX_JSON_DEPTH) }, `input is more than ${MAX_JSON_DEPTH} levels deep, not JSON`],
    ];
    for (const [value, message] of refused) {
      expect(() => toPlainJson(value, 'input')).toThrow(expect.objectContaining({ ...invalid, message }));
    }
  });

  it('refuses inputs with throwing getters and revoked proxies, naming where', async () => {
    const runtime = await start();
    const client = runtime.client;
    await expect(client.startNew('E1_HelloSequence', { input: { nested: withThrowingGetter() } })).rejects.toMatchObject({
      ...invalid, message: expect.stringContaining('input.nested.bad'),
    });
    await expect(client.startNew('E1_HelloSequence', { input: revokedProxy() })).rejects.toMatchObject(invalid);
    await expect(client.startNew('E1_HelloSequence', { input: [1, revokedProxy()] })).rejects.toMatchObject({
      ...invalid, message: expect.stringContaining('input[1]'),
    });
    const dateProxy = new Proxy(new Date(0), {});
    await expect(client.startNew('E1_HelloSequence', { input: { at: dateProxy } })).rejects.toMatchObject(invalid);
    expect(await client.getStatusAll()).toEqual([]);
  });

  it('refuses null, non-object and throwing options objects', async () => {
    const runtime = await start();
    const client = runtime.client;
    const id = await client.startNew('SetStatusTest', { instanceId: 'opts' });
    const calls: (() => Promise<unknown>)[] = [
      () => client.startNew('E1_HelloSequence', null as never),
      () => client.startNew('E1_HelloSequence', 'x' as never),
      () => client.startNew('E1_HelloSequence', withThrowingGetter('input') as never),
      () => client.startNew('E1_HelloSequence', withThrowingGetter('instanceId') as never),
      () => client.startNew('E1_HelloSequence', revokedProxy() as never),
      () => client.getStatus(id, null as never),
      () => client.getStatus(id, { showHistory: 'yes' } as never),
      () => client.listInstances(null as never),
      () => client.listInstances(revokedProxy() as never),
      () => client.getStatusBy(null as never),
      () => client.purgeInstanceHistoryBy(null as never),
      () => client.waitForCompletion(id, null as never),
      () => client.waitForCompletion(id, withThrowingGetter('timeoutMs') as never),
    ];
    for (const call of calls) await expect(call()).rejects.toMatchObject(invalid);
    expect(() => client.instances$(null as never)).toThrow(expect.objectContaining(invalid));
    expect(() => client.createHttpManagementPayload(id, 'http://h', null as never)).toThrow(expect.objectContaining(invalid));
    expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['opts']);
  });

  it('round-trips hostile keys (__proto__, constructor, $-keys, dotted keys) as plain data', async () => {
    const runtime = await start();
    const input = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":1},"$where":"1","a.b":{"$gt":""}}') as unknown;
    const id = await runtime.client.startNew('E1_HelloSequence', { input });
    const status = await runtime.client.getStatus(id);
    expect(JSON.stringify(status?.input)).toBe(JSON.stringify(input));
    expect(Object.getPrototypeOf(status?.input)).toBe(Object.prototype);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('reads an input or event data as JSON.stringify does (so does Durable Functions): undefined and holes in arrays become null, undefined and symbol-keyed members are dropped', async () => {
    const runtime = await startRuntime({
      orchestrators: {
        Echoes: function* (ctx) {
          const data: unknown = yield ctx.waitForExternalEvent('data');
          return { input: ctx.getInput(), data };
        },
      },
    });
    const value = () => ({ list: [1, undefined, , 4], kept: 'k', gone: undefined, [Symbol('key')]: 'symbol-keyed', nested: [{ u: undefined }] });
    const stored = { list: [1, null, null, 4], kept: 'k', nested: [{}] };
    expect(JSON.parse(JSON.stringify(value()))).toStrictEqual(stored); // JSON.stringify's reading, the rule followed
    const id = await runtime.client.startNew('Echoes', { input: value() });
    // Strict: no member left holding undefined, no hole left in an array.
    expect((await runtime.client.getStatus(id))?.input).toStrictEqual(stored);
    await runtime.client.raiseEvent(id, 'data', value());
    expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toStrictEqual({ input: stored, data: stored });
    const top = await runtime.client.startNew('Echoes', { input: [1, undefined] });
    expect((await runtime.client.getStatus(top))?.input).toStrictEqual([1, null]);
  });
});

describe('arrays longer than a JSON value may hold', () => {
  const tooLarge = { code: 'payload-too-large', status: 413 };

  it(`are refused before a single element is copied (${MAX_JSON_ELEMENTS} elements in all), never ending the process`, () => {
    expect(() => toPlainJson(new Array(2 ** 32 - 1), 'input')).toThrow(expect.objectContaining({
      ...tooLarge, message: `input has more than ${MAX_JSON_ELEMENTS} array elements`,
    }));
    // All arrays count together: 2 + 0 + (2^24 - 1).
    expect(() => toPlainJson({ a: [[], holes(MAX_JSON_ELEMENTS - 1)] }, 'input')).toThrow(expect.objectContaining({
      ...tooLarge, message: `input has more than ${MAX_JSON_ELEMENTS} array elements`,
    }));
  });

  it('fail the activity that returns one (a typed failure the orchestrator catches), not the worker', async () => {
    const runtime = await startRuntime({
      orchestrators: {
        Caller: function* (ctx) {
          try {
            return yield ctx.callActivity('Sparse');
          } catch (error) {
            return { caught: (error as Error).name, cause: ((error as { failureDetails?: { errorType?: string } }).failureDetails)?.errorType };
          }
        },
      },
      activities: { Sparse: () => new Array(2 ** 32 - 1) },
    });
    await runtime.client.startNew('Caller', { instanceId: 'sparse-activity' });
    const done = await runtime.client.waitForCompletion('sparse-activity', SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { caught: 'TaskFailedError', cause: 'PayloadTooLargeError' } });
  });

  it('throw in the orchestrator that sets one as its custom status', async () => {
    const runtime = await startRuntime({
      orchestrators: {
        Status: function* (ctx) {
          try {
            ctx.setCustomStatus({ list: new Array(2 ** 32 - 1) });
          } catch (error) {
            return (error as { code?: string }).code;
          }
          return 'set';
        },
      },
    });
    await runtime.client.startNew('Status', { instanceId: 'sparse-status' });
    expect(await runtime.client.waitForCompletion('sparse-status', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'payload-too-large' });
  });
});

describe('values of another realm (a vm context, an iframe)', () => {
  it('take its plain objects and Dates as this realm\'s, in inputs and as filter bounds', async () => {
    const runtime = await start();
    const input = runInNewContext('({ a: [1, { b: 2 }], at: new Date(0) })') as unknown;
    expect(toPlainJson(input, 'input')).toEqual({ a: [1, { b: 2 }], at: '1970-01-01T00:00:00.000Z' });
    const id = await runtime.client.startNew('SetStatusTest', { instanceId: 'realm', input });
    expect((await runtime.client.getStatus(id))?.input).toEqual({ a: [1, { b: 2 }], at: '1970-01-01T00:00:00.000Z' });
    const from = runInNewContext('new Date(0)') as Date;
    expect((await runtime.client.listInstances({ createdTimeFrom: from })).instances.map((s) => s.instanceId)).toEqual(['realm']);
    expect(() => toPlainJson(runInNewContext('new Date(NaN)'), 'at')).toThrow(expect.objectContaining({ ...invalid, message: 'at is an invalid Date, not JSON' }));
    expect(() => toPlainJson(runInNewContext('new Map()'), 'm')).toThrow(expect.objectContaining({ ...invalid, message: 'm is an instance of Map, not JSON' }));
  });

  it('say what an object with another prototype is: no "instance of Object" for Object.create({})', () => {
    expect(() => toPlainJson({ a: Object.create({}) }, 'input')).toThrow(expect.objectContaining({
      ...invalid, message: 'input.a is not a plain object, not JSON',
    }));
    expect(() => toPlainJson(Object.create(Object.create(null)), 'input')).toThrow(expect.objectContaining(invalid));
    // Inheriting from Date.prototype makes no Date.
    expect(() => toPlainJson(Object.create(Date.prototype), 'input')).toThrow(expect.objectContaining({
      ...invalid, message: 'input is an instance of Date, not JSON',
    }));
  });
});

describe('filters: one rule for listing and purging', () => {
  async function terminalInstances(runtime: Runtime): Promise<string[]> {
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const id = await runtime.client.startNew('E1_HelloSequence', { instanceId: `done-${i}` });
      await runtime.client.waitForCompletion(id, SETTLED);
      ids.push(id);
    }
    return ids;
  }

  it('knows every runtime status, in declaration order (ALL_RUNTIME_STATUSES is written out, not derived)', () => {
    expect(ALL_RUNTIME_STATUSES).toEqual(Object.values(OrchestrationRuntimeStatus));
  });

  it('purgeInstanceHistoryBy refuses a string runtimeStatus or an unknown status and deletes nothing', async () => {
    const runtime = await start();
    const ids = await terminalInstances(runtime);
    const from = new Date(0);
    const hostile = [
      { createdTimeFrom: from, runtimeStatus: 'Completed' },
      { createdTimeFrom: from, runtimeStatus: ['Completed', 'Finished'] },
      { createdTimeFrom: from, runtimeStatus: [42] },
      { createdTimeFrom: from, createdTimeTo: new Date(Number.NaN) },
      { createdTimeFrom: 'yesterday' },
    ];
    for (const filter of hostile) {
      await expect(runtime.client.purgeInstanceHistoryBy(filter as never)).rejects.toMatchObject(invalid);
    }
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).toEqual(ids);
    expect(await runtime.client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: ['Completed'] })).toEqual({ instancesDeleted: 3 });
  });

  it('listInstances, getStatusBy and instances$ refuse unknown status names and non-array runtimeStatus', async () => {
    const runtime = await start();
    await terminalInstances(runtime);
    for (const filter of [{ runtimeStatus: 'Completed' }, { runtimeStatus: ['Completed', 'Bogus'] }, { runtimeStatus: ['completed'] }]) {
      await expect(runtime.client.listInstances(filter as never)).rejects.toMatchObject(invalid);
      await expect(runtime.client.getStatusBy(filter as never)).rejects.toMatchObject(invalid);
      expect(() => runtime.client.instances$(filter as never)).toThrow(expect.objectContaining(invalid));
    }
    expect(await runtime.client.getStatusBy({ runtimeStatus: ['Completed'] })).toHaveLength(3);
  });

  it('refuses a sparse runtimeStatus list at its first hole, without reading the rest', async () => {
    const client = createClient({ store: new MemoryStore() });
    // 2^32 - 1 holes: a copy of the list first took most of a minute, then failed as "threw when read".
    await expect(client.listInstances({ runtimeStatus: new Array(2 ** 32 - 1) })).rejects.toMatchObject({
      ...invalid, message: `query.runtimeStatus must be an array of ${ALL_RUNTIME_STATUSES.join(', ')}`,
    });
  });

  it('a store used directly refuses the same filters (it validates, it does not trust its caller)', async () => {
    const store = new MemoryStore();
    const runtime = await start(store);
    await terminalInstances(runtime);
    await expect(store.purgeInstances({ createdTimeFrom: new Date(0), runtimeStatus: 'Completed' } as never)).rejects.toMatchObject(invalid);
    await expect(store.queryInstances({ runtimeStatus: ['Nope'] } as never)).rejects.toMatchObject(invalid);
    expect((await store.queryInstances({})).instances).toHaveLength(3);
  });
});

describe('instance ids and names are well-formed Unicode', () => {
  it('refuses lone surrogates in ids, names and prefixes; accepts paired ones', async () => {
    const runtime = await start();
    const client = runtime.client;
    for (const id of ['a\uD800', '\uDC00b', 'x\uDBFFy']) {
      await expect(client.startNew('E1_HelloSequence', { instanceId: id })).rejects.toMatchObject(invalid);
      await expect(client.getStatus(id)).rejects.toMatchObject(invalid);
      expect(() => client.createHttpManagementPayload(id, 'http://127.0.0.1:7071')).toThrow(expect.objectContaining(invalid));
      // the standalone helper (used by other clients and the HTTP API) applies the same rule: never a URIError
      expect(() => createHttpManagementPayload(id, 'http://127.0.0.1:7071')).toThrow(expect.objectContaining(invalid));
    }
    await expect(client.listInstances({ instanceIdPrefix: 'a\uD800' })).rejects.toMatchObject(invalid);
    const emoji = await client.startNew('E1_HelloSequence', { instanceId: 'smile-\uD83D\uDE00' });
    expect(client.createHttpManagementPayload(emoji, 'http://127.0.0.1:7071').statusQueryGetUri).toContain('smile-%F0%9F%98%80');
    const id = await client.startNew('SetStatusTest', { instanceId: 'named' });
    await expect(client.raiseEvent(id, 'op\uD800', 1)).rejects.toMatchObject(invalid);
    await expect(createClient({ store: runtime.store }).startNew('Orch\uDFFF')).rejects.toMatchObject(invalid);
  });
});

describe('timeouts', () => {
  it('waitForCompletion with timeoutMs: Infinity waits for completion, however long', async () => {
    const runtime = await start();
    const id = await runtime.client.startNew('SetStatusTest', { instanceId: 'forever' });
    const waiting = runtime.client.waitForCompletion(id, { timeoutMs: Infinity });
    const early = runtime.client.waitForCompletion(id, { timeoutMs: 2 ** 31 + 5 });
    // Longer than an overflowing timer (which fires after ~1 ms) takes; the waits must still be pending after it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await runtime.client.raiseEvent(id, 'Proceed');
    expect((await waiting).runtimeStatus).toBe('Completed');
    expect((await early).runtimeStatus).toBe('Completed');
  });

  it('refuses NaN, negative and non-number timeouts', async () => {
    const runtime = await start();
    const id = await runtime.client.startNew('SetStatusTest', { instanceId: 't' });
    for (const timeoutMs of [Number.NaN, -1, '10', -Infinity]) {
      await expect(runtime.client.waitForCompletion(id, { timeoutMs } as never)).rejects.toMatchObject(invalid);
    }
  });
  it('refuses a storeCallTimeoutMs that is not a number > 0, and takes Infinity (only leases bound store calls)', () => {
    for (const storeCallTimeoutMs of [0, -1, Number.NaN, '10', -Infinity]) {
      expect(() => createRuntime({ orchestrators: {}, storeCallTimeoutMs } as never)).toThrow(expect.objectContaining(invalid));
    }
    expect(() => createRuntime({ orchestrators: {}, storeCallTimeoutMs: Infinity })).not.toThrow();
  });

  it('refuses a clock, newId or logger that is not one when the runtime or client is made (400), not at first use with a TypeError', () => {
    const store = new MemoryStore();
    for (const bad of [{ clock: 5 }, { clock: {} }, { clock: { now: () => new Date() } }, { newId: 5 }, { logger: 5 }, { logger: { warn() {} } }]) {
      expect(() => createRuntime({ store, orchestrators: {}, ...(bad as object) }), JSON.stringify(bad)).toThrow(expect.objectContaining(invalid));
      if (!('logger' in bad)) expect(() => createClient({ store, ...(bad as object) }), JSON.stringify(bad)).toThrow(expect.objectContaining(invalid));
    }
    // A class's methods (a VirtualClock's) are its prototype's; null is no logger given.
    expect(() => createRuntime({ store, orchestrators: {}, clock: new (class {
      now() { return new Date(); }
      setTimeout() { return 0; }
      clearTimeout() {}
    })() as never, logger: null as never })).not.toThrow();
  });

  it('refuses a missing or non-object store (createClient) and a non-object store (createRuntime) with a typed 400, never a TypeError', () => {
    for (const options of [undefined, null, 'store', {}, { store: null }, { store: 5 }, { store: 'memory' }]) {
      expect(() => createClient(options as never)).toThrow(expect.objectContaining(invalid));
    }
    // Left out (or undefined), createRuntime's store is a new MemoryStore; anything else must be a store.
    for (const store of [null, 5, 'memory', false]) {
      expect(() => createRuntime({ orchestrators: {}, store } as never)).toThrow(expect.objectContaining(invalid));
    }
    expect(() => createRuntime({ orchestrators: {}, store: undefined })).not.toThrow();
  });

  it('refuses an object that lacks a required member of the Store port (400 naming each), before start() could meet it as a TypeError', () => {
    const memory = new MemoryStore();
    const { commit: _c, ...copied } = Object.fromEntries(
      ['capabilities', 'changes$', 'workAvailable$', 'commit', 'getInstance', 'close'].map((k) => [k, (memory as unknown as Record<string, unknown>)[k]]),
    );
    // What a runtime misses, and what a client alone misses (it needs no claims, leases, wake times, close).
    const cases: [label: string, store: object, runtime: readonly string[], client: readonly string[]][] = [
      ['{}', {}, ['capabilities', 'changes$', 'workAvailable$', 'commit', 'claimOrchestration', 'nextWakeTime', 'close'], ['capabilities', 'changes$', 'commit', 'getHistory', 'purgeInstances']],
      ['no commit, no claims', copied, ['commit', 'claimOrchestration', 'claimActivity', 'queryInstances'], ['commit', 'queryInstances']],
      ['feeds that are no observables', Object.assign(Object.create(memory) as object, { changes$: {}, workAvailable$: 5 }), ['changes$', 'workAvailable$'], ['changes$']],
      ['capabilities not an object', Object.assign(Object.create(memory) as object, { capabilities: 'memory' }), ['capabilities'], ['capabilities']],
    ];
    const make: [string, (store: object) => unknown][] = [
      ['createRuntime', (store) => createRuntime({ orchestrators: {}, store } as never)],
      ['core createRuntime', (store) => createRuntimeWithStore({ orchestrators: {}, store } as never)],
      ['createClient', (store) => createClient({ store } as never)],
    ];
    for (const [label, store, runtimeMissing, clientMissing] of cases) {
      for (const [factory, create] of make) {
        const missing = factory === 'createClient' ? clientMissing : runtimeMissing;
        let error: unknown;
        try {
          create(store);
        } catch (thrown) {
          error = thrown;
        }
        expect(error, `${factory}, ${label}`).toMatchObject(invalid);
        const message = (error as Error).message;
        expect(message, `${factory}, ${label}`).toContain('options.store must be a Store: missing ');
        const named = message.split('missing ')[1]!.split(', ');
        for (const name of missing) expect(named, `${factory}, ${label}`).toContain(name);
        if (factory === 'createClient') for (const name of ['workAvailable$', 'claimOrchestration', 'releaseOwner', 'nextWakeTime', 'close']) expect(named, label).not.toContain(name);
      }
    }
    // What is there is not named: only the members missing.
    expect(() => createClient({ store: copied } as never)).toThrow(/missing (?!.*\bgetInstance\b)(?!.*\bchanges\$)/);
    // A member whose read throws (a getter, a revoked proxy): 400 with that error as its cause.
    const { proxy, revoke } = Proxy.revocable(memory, {});
    revoke();
    expect(() => createClient({ store: proxy })).toThrow(expect.objectContaining({ ...invalid, message: expect.stringContaining('threw when read') }));
  });

  it('createClient takes a store with only what a client uses (no claims, leases, wake times, close); createRuntime refuses it', async () => {
    const memory = new MemoryStore();
    // A read/command-only adapter: the members a client uses, each MemoryStore's own, and nothing else.
    const used = ['capabilities', 'changes$', 'commit', 'getInstance', 'getHistory', 'queryInstances', 'purgeInstance', 'purgeInstances', 'purgeInstanceSet'];
    const adapter = Object.fromEntries(used.map((key) => {
      const value: unknown = Reflect.get(memory, key, memory);
      return [key, typeof value === 'function' ? value.bind(memory) : value];
    })) as Parameters<typeof createClient>[0]['store'];
    expect(() => createRuntime({ orchestrators: {}, store: adapter } as never)).toThrow(expect.objectContaining({
      ...invalid, message: expect.stringMatching(/must be a Store: missing workAvailable\$, claimOrchestration, .*close$/),
    }));
    const client = createClient({ store: adapter });
    const runtime = createRuntime({ store: memory, orchestrators: sampleOrchestrators, activities: sampleActivities });
    await runtime.start();
    try {
      // Started, watched, waited for, listed, queried with history and purged through the adapter; run by a worker.
      const id = await client.startNew('E1_HelloSequence');
      expect((await client.waitForCompletion(id, SETTLED)).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
      expect((await client.getStatus(id, { showHistory: true }))?.history?.length).toBeGreaterThan(0);
      expect((await client.listInstances()).instances.map((s) => s.instanceId)).toContain(id);
      expect(await client.purgeInstanceHistory(id)).toEqual({ instancesDeleted: 1 });
      expect(await client.getStatus(id)).toBeUndefined();
    } finally {
      client.close();
      await runtime.stop();
    }
  });

  it('takes a store without the optional members of the port (instanceChanges$, resync$, getInstanceHistory)', async () => {
    const memory = new MemoryStore();
    // The required members only, each MemoryStore's own.
    const optional = new Set<PropertyKey>(['instanceChanges$', 'resync$', 'getInstanceHistory']);
    const store = new Proxy(memory, {
      get: (target, key) => {
        if (optional.has(key)) return undefined;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const runtime = createRuntime({ store, orchestrators: sampleOrchestrators, activities: sampleActivities });
    await runtime.start();
    try {
      const id = await runtime.client.startNew('E1_HelloSequence');
      expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
      expect((await createClient({ store }).getStatus(id, { showHistory: true }))?.history?.length).toBeGreaterThan(0);
    } finally {
      await runtime.stop();
    }
  });
});

describe('the store members createClient checks', () => {
  it('are the required members its options type names (typechecked: the list and the type cannot drift apart)', () => {
    type Checked = 'capabilities' | (typeof CLIENT_STORE_MEMBERS)['feeds' | 'methods'][number];
    type Typed = Exclude<keyof CreateClientOptions['store'], 'instanceChanges$' | 'resync$' | 'getInstanceHistory'>;
    expectTypeOf<Checked>().toEqualTypeOf<Typed>();
    expect([...CLIENT_STORE_MEMBERS.feeds, ...CLIENT_STORE_MEMBERS.methods]).not.toContain('claimOrchestration');
  });
});
