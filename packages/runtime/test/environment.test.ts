import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import type { DurableClient } from '../src/client/durable-client.js';
import { COMMAND_APPLIED_TIMEOUT_MS } from '../src/client/local-client.js';
import { silentLogger } from '../src/env/logger.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import type { WriteSet } from '../src/model/write-set.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { helloSequence, sayHello } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';

/** The write set that queues a resume for `id`, as a client sends one to a worker. */
function queuedResume(id: string): WriteSet {
  const event = { type: 'ExecutionResumed', eventId: -1, timestamp: new Date(0).toISOString(), reason: 'queued' } as const;
  return { requests: [{ type: 'insertMessage', message: { id: `resume-${id}`, instanceId: id, event }, ifMissing: 'fail' }] };
}

/** A predictable id source: id-1, id-2, ... */
function counter(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}

describe('an injected id source', () => {
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('gives the runtime its instance, execution and worker ids', async () => {
    runtime = createRuntime({
      logger: silentLogger, newId: counter('id'),
      orchestrators: { E1_HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello },
    });
    await runtime.start();
    const id = await runtime.client.startNew('E1_HelloSequence');
    expect(id).toMatch(/^id-\d+$/);
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed' });
    const state = await runtime.store.getInstance(id);
    expect(state?.executionId).toMatch(/^id-\d+$/);
  });

  it('gives a client without a worker its ids', async () => {
    const store = new MemoryStore();
    const client = createClient({ store, newId: counter('c') });
    try {
      expect(await client.startNew('Anything')).toBe('c-1');
      expect((await store.getInstance('c-1'))?.executionId).toBe('c-2');
    } finally {
      await store.close();
    }
  });
});

describe('an injected clock', () => {
  /** A client on a virtual clock with no worker (so instances stay Pending) and one instance started; closes the store. */
  async function withPendingInstance(test: (client: DurableClient, clock: VirtualClock, id: string, store: MemoryStore) => Promise<void>): Promise<void> {
    const store = new MemoryStore();
    const clock = new VirtualClock();
    const client = createClient({ store, clock });
    try {
      await test(client, clock, await client.startNew('Anything'), store);
    } finally {
      await store.close();
    }
  }

  it('times waitForCompletion: it resolves with the latest status once the timeout passes on that clock', () =>
    withPendingInstance(async (client, clock, id) => {
      let settled = false;
      const waiting = client.waitForCompletion(id, { timeoutMs: 60_000 }).finally(() => {
        settled = true;
      });
      await clock.waitForTimer();
      await clock.advance(59_999);
      expect(settled).toBe(false);
      await clock.advance(1);
      expect(await waiting).toMatchObject({ instanceId: id, runtimeStatus: 'Pending' });
    }));

  it('waits 10 s by default: waitForCompletion and waitForCompletionOrCreateCheckStatusResponse', () =>
    withPendingInstance(async (client, clock, id) => {
      let settled = 0;
      const waiting = client.waitForCompletion(id).finally(() => settled++);
      const responding = client.waitForCompletionOrCreateCheckStatusResponse(new Request('http://h.example/start'), id).finally(() => settled++);
      await clock.waitForTimer();
      await clock.advance(9_999);
      expect(settled).toBe(0);
      await clock.advance(1);
      expect(await waiting).toMatchObject({ instanceId: id, runtimeStatus: 'Pending' });
      const response = await responding;
      expect(response.status).toBe(202);
      expect(response.headers.get('Location')).toBe(`http://h.example/runtime/webhooks/durabletask/instances/${id}`);
    }));

  it('times the read-your-writes wait of a command that no worker applies', () =>
    withPendingInstance(async (client, clock, id, store) => {
      let settled = false;
      // A suspend behind a resume queued before it (one whose call gave up waiting): a worker applies both, in order.
      // (A terminate, or a suspend behind nothing but events, of an instance no worker holds is committed by the
      // client itself, without a wait.)
      await store.commit(queuedResume(id));
      const suspending = client.suspend(id, 'pause').finally(() => {
        settled = true;
      });
      await clock.waitForTimer();
      await clock.advance(COMMAND_APPLIED_TIMEOUT_MS - 1);
      expect(settled).toBe(false);
      await clock.advance(1);
      await suspending; // resolved: the command is stored and takes effect when a worker runs
      expect((await client.getStatus(id))?.runtimeStatus).toBe('Pending');
    }));
});
