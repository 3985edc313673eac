import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { COMMAND_APPLIED_TIMEOUT_MS } from '../src/client/local-client.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { silentLogger } from '../src/env/logger.js';
import { PayloadTooLargeError } from '../src/model/errors/payload-too-large-error.js';
import { UnavailableError } from '../src/model/errors/unavailable-error.js';
import type { WriteSet } from '../src/model/write-set.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';
import { SETTLED } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';

/**
 * A rewind sent to a worker that records it as refused (the store refuses its rewritten history for good) rejects with
 * PayloadTooLargeError. When the client's read of that record fails, or comes back behind the state, nothing else
 * arrives to check again: the wait's timeout checks once more on a fresh read, so the refusal is never reported as a
 * rewind made.
 */

/** More characters of history than one commit may write; the eight `Chunk` results together are more. */
const LIMIT = 20_000;

const orchestrators: Record<string, Orchestrator> = {
  Chunks: function* (ctx) {
    for (let i = 0; i < 8; i++) yield ctx.callActivity('Chunk');
    return yield ctx.callActivity('Fail');
  },
};
const activities = {
  Chunk: () => 'c'.repeat(LIMIT / 5),
  Fail: () => {
    throw new Error('broken');
  },
};

/** `inner`, with the calls of `overrides` in place of its own; every other member is `inner`'s. */
function over(inner: Store, overrides: (key: string | symbol) => unknown): Store {
  return new Proxy(inner, {
    get: (target, key) => {
      const own = overrides(key);
      if (own !== undefined) return own;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

let runtime: Runtime | undefined;
let inner: MemoryStore | undefined;
afterEach(async () => {
  await runtime?.stop();
  await inner?.close();
  runtime = inner = undefined;
});

describe('a rewind whose refusal the client could not read when the worker recorded it', () => {
  it('rejects with PayloadTooLargeError when its wait times out, on a fresh read, instead of resolving as if made', async () => {
    inner = new MemoryStore();
    const memory = inner;
    // A store whose history is bounded: the rewind's rewritten history is refused for good.
    const commit = (writeSet: WriteSet) => {
      const history = writeSet.requests.filter((r) => r.type === 'appendHistory' || r.type === 'replaceHistory');
      if (JSON.stringify(history).length <= LIMIT) return memory.commit(writeSet);
      return Promise.reject(new PayloadTooLargeError('the history exceeds what this store stores'));
    };
    const bounded = over(memory, (key) => (key === 'commit' ? commit : undefined));
    runtime = createRuntime({ store: bounded, orchestrators, activities, logger: silentLogger });
    await runtime.start();
    await runtime.client.startNew('Chunks', { instanceId: 'too-long' });
    expect((await runtime.client.waitForCompletion('too-long', SETTLED)).runtimeStatus).toBe('Failed');

    // Another client, on a clock of its own, whose history reads fail while `unreachable`, and which sends its rewind
    // to the worker (it commits none itself).
    let unreachable = true;
    let failedRead!: () => void;
    const readFailed = new Promise<void>((resolve) => (failedRead = resolve));
    const failing = () => {
      failedRead();
      return Promise.reject(new UnavailableError('the store did not answer'));
    };
    const capabilities = { ...memory.capabilities, unclaimedWrites: false };
    const store = over(bounded, (key) => {
      if (key === 'capabilities') return capabilities;
      if (unreachable && (key === 'getHistory' || key === 'getInstanceHistory')) return failing;
      return undefined;
    });
    const clock = new VirtualClock();
    const client = createClient({ store, clock });
    const rewinding = client.rewind('too-long', 'again');
    rewinding.catch(() => undefined); // awaited below
    // The worker recorded the rewind as refused; the client saw that state, and its read of the record failed.
    await readFailed;
    unreachable = false;
    await clock.waitForTimer();
    await clock.advance(COMMAND_APPLIED_TIMEOUT_MS);
    await expect(rewinding).rejects.toMatchObject({
      code: 'payload-too-large', status: 413, message: expect.stringMatching(/was not made, the instance stays Failed: the rewind was refused/),
    });
    expect((await runtime.client.getStatus('too-long'))?.runtimeStatus).toBe('Failed');
  });
});
