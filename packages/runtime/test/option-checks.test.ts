import { describe, expect, it } from 'vitest';
import type { DurableClient } from '../src/client/durable-client.js';
import type { Clock } from '../src/env/clock.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { serve } from '../src/node/serve.js';
import { InvalidArgumentError } from '../src/model/errors/invalid-argument-error.js';
import { createRuntimeWithStore } from '../src/runtime/create-runtime-with-store.js';
import { createRuntime, type RuntimeOptions } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { silentLogger } from '../src/env/logger.js';
import { MAX_LEASE_MS } from '../src/model/validation.js';

const invalid = expect.objectContaining({ name: 'InvalidArgumentError', code: 'invalid-argument', status: 400 });

function* Hello() {
  return 'hi';
}

/**
 * A runtime's options with a given store, a newId and a clock that count their calls: a runtime that is refused when
 * it is made creates no worker (no worker id drawn from `newId`) and reads or sets no time.
 */
function watched() {
  const store = new MemoryStore();
  const used: string[] = [];
  const clock: Clock = {
    now: () => (used.push('clock.now'), new Date()),
    setTimeout: () => (used.push('clock.setTimeout'), 0),
    clearTimeout: () => undefined,
  };
  const newId = () => (used.push('newId'), `id-${used.length}`);
  return { store, used, options: { store, clock, newId, orchestrators: { Hello } } satisfies RuntimeOptions };
}

/** Expects `make` to throw InvalidArgumentError naming `member`, having used nothing of `used`. */
function expectRefused(make: () => unknown, member: string, used: readonly string[], label: string): void {
  let error: unknown;
  try {
    make();
  } catch (thrown) {
    error = thrown;
  }
  expect(error, label).toBeInstanceOf(InvalidArgumentError);
  expect(error, label).toEqual(invalid);
  expect((error as Error).message, label).toContain(member);
  expect(used, label).toEqual([]);
}

describe('createRuntime checks every option when it is made, and makes nothing when one is bad', () => {
  it('refuses an orchestrator or activity registered under a name the shared name rule refuses', async () => {
    const fn = () => undefined;
    for (const name of ['', '.', '..', 'a\u0000b', 'x\ud800', 'n'.repeat(257)]) {
      const orchestrators = watched();
      expectRefused(() => createRuntime({ ...orchestrators.options, orchestrators: { [name]: Hello } }), 'orchestrator name', orchestrators.used, JSON.stringify(name));
      const activities = watched();
      expectRefused(() => createRuntime({ ...activities.options, activities: { [name]: fn } }), 'activity name', activities.used, JSON.stringify(name));
      expectRefused(() => createRuntime({ orchestrators: { [name]: Hello } }), 'orchestrator name', [], `${JSON.stringify(name)}, default store`);
    }
    // The names the rule takes, as any client may start or call them.
    const { options, store } = watched();
    const runtime = createRuntime({ ...options, orchestrators: { Hello, 'with space': Hello, 'é': Hello }, activities: { 'a.b': fn } });
    await runtime.stop();
    expect(await store.queryInstances({})).toMatchObject({ instances: [] });
  });

  it('refuses a count that is not a positive integer (1.5, 0, -1, NaN, Infinity, a string)', () => {
    for (const member of ['maxConcurrentActivities', 'maxConcurrentOrchestrations', 'customStatusLimitBytes'] as const) {
      for (const value of [1.5, 0, -1, Number.NaN, Infinity, '4']) {
        const { options, used } = watched();
        expectRefused(() => createRuntime({ ...options, [member]: value as number }), `createRuntime options.${member}`, used, `${member}: ${String(value)}`);
        expectRefused(() => createRuntimeWithStore({ ...options, [member]: value as number }), `createRuntime options.${member}`, used, `core, ${member}: ${String(value)}`);
      }
    }
    // A cache size may be 0 (every step replays), not a fraction or a negative.
    for (const value of [1.5, -1, Number.NaN, Infinity]) {
      const { options, used } = watched();
      expectRefused(() => createRuntime({ ...options, cacheSize: value }), 'createRuntime options.cacheSize', used, `cacheSize: ${value}`);
    }
    expect(() => createRuntime({ ...watched().options, cacheSize: 0, maxConcurrentActivities: 1 })).not.toThrow();
  });

  it('refuses a lease that is not a number of ms > 0 and at most MAX_LEASE_MS', () => {
    for (const member of ['orchestrationLeaseMs', 'activityLeaseMs'] as const) {
      // A lease past MAX_LEASE_MS (8.64e15 ends past the last valid Date from any time after 1970) made every claim a
      // refused 400, logged on each poll: the runtime started and never ran anything.
      for (const value of [0, -1, Number.NaN, Infinity, '30000', MAX_LEASE_MS + 1, 8.64e15]) {
        const { options, used } = watched();
        expectRefused(() => createRuntime({ ...options, [member]: value as number }), `createRuntime options.${member}`, used, `${member}: ${String(value)}`);
      }
    }
  });

  it('runs work under the longest lease it takes (MAX_LEASE_MS)', async () => {
    const runtime = createRuntime({
      logger: silentLogger, orchestrators: { Hello: function* (ctx) { return yield ctx.callActivity('Say', 'hi'); } },
      activities: { Say: (s: string) => s }, orchestrationLeaseMs: MAX_LEASE_MS, activityLeaseMs: MAX_LEASE_MS,
    });
    try {
      await runtime.start();
      await runtime.client.startNew('Hello', { instanceId: 'long' });
      expect(await runtime.client.waitForCompletion('long', { timeoutMs: Infinity })).toMatchObject({ runtimeStatus: 'Completed', output: 'hi' });
    } finally {
      await runtime.stop();
    }
  });

  it('refuses a workerId that is no name, a leaseStorage without getItem and setItem, and a newId that is no function', () => {
    const bad: [string, Partial<Record<keyof RuntimeOptions, unknown>>][] = [
      ['workerId', { workerId: '' }], ['workerId', { workerId: 5 }], ['workerId', { workerId: '..' }],
      ['leaseStorage', { leaseStorage: {} }], ['leaseStorage', { leaseStorage: { getItem: () => null } }], ['leaseStorage', { leaseStorage: 'session' }],
      ['newId', { newId: 'uuid' }],
    ];
    for (const [member, given] of bad) {
      const { options, used } = watched();
      expectRefused(() => createRuntime({ ...options, ...given } as RuntimeOptions), `createRuntime options.${member}`, used, JSON.stringify(given));
    }
  });
});

describe('MemoryStore', () => {
  it('refuses options that are not an object, and takes none or an empty object', () => {
    for (const options of [5, 'memory', null, true]) {
      expect(() => new MemoryStore(options as never), String(options)).toThrow(invalid);
    }
    expect(() => new MemoryStore()).not.toThrow();
    expect(() => new MemoryStore({})).not.toThrow();
  });
});

describe('createHttpHandler checks its booleans and counts when it is made', () => {
  /** A client whose every call is recorded: a handler refused when it is made calls none. */
  function recordingClient(): { client: DurableClient; calls: string[] } {
    const calls: string[] = [];
    const client = new Proxy({}, {
      get: (_target, name) => (typeof name === 'string' ? (...args: unknown[]) => (calls.push(name), args) : undefined),
    }) as DurableClient;
    return { client, calls };
  }

  it('refuses exposeStackTraces or anonymous that is not a boolean (a string "yes" included)', () => {
    for (const [member, options] of [
      ['exposeStackTraces', { key: 'k', exposeStackTraces: 'yes' }],
      ['exposeStackTraces', { anonymous: true, exposeStackTraces: 1 }],
      ['anonymous', { anonymous: 'yes' }],
      ['anonymous', { key: 'k', anonymous: 'false' }],
    ] as const) {
      const { client, calls } = recordingClient();
      expectRefused(() => createHttpHandler(client, options as never), `createHttpHandler options.${member}`, calls, JSON.stringify(options));
    }
  });

  it('refuses a body limit that is not a positive integer, and a key that is neither a string nor an array of strings', () => {
    for (const maxBodyBytes of [1.5, 0, Number.NaN, Infinity]) {
      const { client, calls } = recordingClient();
      expectRefused(() => createHttpHandler(client, { key: 'k', maxBodyBytes }), 'maxBodyBytes', calls, `maxBodyBytes: ${maxBodyBytes}`);
    }
    for (const key of [5, { k: 1 }, [5]]) {
      const { client, calls } = recordingClient();
      expectRefused(() => createHttpHandler(client, { key } as never), 'key', calls, JSON.stringify(key));
    }
  });

  it('refuses a wait in seconds that is not a finite number > 0, and takes a fraction of a second', () => {
    for (const maxWaitSeconds of [0, -1, Number.NaN, Infinity, '5']) {
      const { client, calls } = recordingClient();
      expectRefused(() => createHttpHandler(client, { key: 'k', maxWaitSeconds } as never), 'createHttpHandler options.maxWaitSeconds', calls, `maxWaitSeconds: ${String(maxWaitSeconds)}`);
    }
    const { client } = recordingClient();
    expect(() => createHttpHandler(client, { key: 'k', maxWaitSeconds: 0.5 })).not.toThrow();
  });
});

describe('serve', () => {
  it('refuses a handler that is no function and a port or hostname of the wrong kind, before a server listens', async () => {
    const handler = () => new Response('ok');
    for (const [member, make] of [
      ['serve handler', () => serve(5 as never)],
      ['serve options.port', () => serve(handler, { port: 1.5 })],
      ['serve options.port', () => serve(handler, { port: -1 })],
      ['serve options.port', () => serve(handler, { port: 65_536 })],
      ['serve options.port', () => serve(handler, { port: '7071' as never })],
      ['serve options.hostname', () => serve(handler, { hostname: 127 as never })],
      ['serve options', () => serve(handler, 7071 as never)],
    ] as const) {
      await expect(make(), member).rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument', message: expect.stringContaining(member) });
    }
  });
});
