import { lastValueFrom, takeWhile, tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRuntime, MemoryStore, silentLogger, type Orchestrator } from '../src/index.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import type { CommitResult } from '../src/store/store.js';
import type { WriteSet } from '../src/model/write-set.js';
import { within } from './within.js';

/**
 * A MemoryStore that holds a worker's commit ending the instance (`ends`) until the test lets it go, and tells when a
 * command was queued as a message for a worker: so the instance ends while a terminate or suspend is queued, in that
 * order, whatever the machine's load.
 */
class HeldEnd extends MemoryStore {
  readonly #queued: { type: string; seen: () => void }[] = [];
  #release!: () => void;
  readonly #released = new Promise<void>((resolve) => (this.#release = resolve));
  #held!: () => void;
  /** Resolves once the commit ending the instance waits. */
  readonly held = new Promise<void>((resolve) => (this.#held = resolve));

  /** Resolves once a message with an event of `type` was committed (a command sent to a worker). */
  queued(type: string): Promise<void> {
    return new Promise((seen) => this.#queued.push({ type, seen }));
  }

  release(): void {
    this.#release();
  }

  override async commit(writeSet: WriteSet): Promise<CommitResult> {
    if (writeSet.requests.some((r) => r.type === 'replaceState' && r.state.runtimeStatus === 'Completed')) {
      this.#held();
      await this.#released;
    }
    const result = await super.commit(writeSet);
    for (const request of writeSet.requests) {
      if (request.type !== 'insertMessage') continue;
      for (const waiter of this.#queued) if (waiter.type === request.message.event.type) waiter.seen();
    }
    return result;
  }
}

const quick: Orchestrator = function* () {
  return 'done';
};

async function heldRuntime() {
  const store = new HeldEnd();
  const runtime = createRuntime({ store, orchestrators: { Quick: quick }, activities: {}, logger: silentLogger });
  await runtime.start();
  const id = await runtime.client.startNew('Quick');
  await within(store.held, 'the step that completes the instance');
  return { store, runtime, id };
}

describe('a terminate or suspend that the instance\'s own end overtakes', () => {
  for (const [command, type] of [['terminate', 'ExecutionTerminated'], ['suspend', 'ExecutionSuspended']] as const) {
    it(`rejects a ${command} queued before the instance completed with InstanceNotRunningError, the ${command} visible in history`, async () => {
      const { store, runtime, id } = await heldRuntime();
      const client = runtime.client;
      const call = client[command](id, 'why');
      const outcome = call.then(() => 'resolved', (error: { code?: string; status?: number }) => `${error.code} ${error.status}`);
      await within(store.queued(type), `the ${command} queued`);
      store.release();
      expect(await within(outcome, `the ${command}`)).toBe('instance-not-running 410');
      expect((await client.getStatus(id))!.runtimeStatus).toBe('Completed');
      // Recorded after the end, and ignored: the output is the orchestrator's.
      const types: string[] = [];
      await within(lastValueFrom(client.history$(id).pipe(tap((e) => types.push(e.type)), takeWhile((e) => e.type !== type))), 'the ignored command recorded');
      expect(types.indexOf(type)).toBeGreaterThan(types.indexOf('ExecutionCompleted'));
      const status = (await client.getStatus(id))!;
      expect([status.runtimeStatus, status.output]).toEqual(['Completed', 'done']);
      await runtime.stop();
    });
  }

  it('answers the HTTP terminate 410 when the instance completed before the terminate was applied', async () => {
    const { store, runtime, id } = await heldRuntime();
    const handler = createHttpHandler(runtime.client, { anonymous: true, logger: silentLogger });
    const response = handler(new Request(`http://localhost/runtime/webhooks/durabletask/instances/${id}/terminate?reason=why`, { method: 'POST' }));
    await within(store.queued('ExecutionTerminated'), 'the terminate queued');
    store.release();
    expect((await within(response, 'the answer')).status).toBe(410);
    await runtime.stop();
  });
});
