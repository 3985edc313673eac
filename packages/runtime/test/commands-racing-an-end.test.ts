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

/**
 * A MemoryStore that holds the commit of a continueAsNew (the state of the next execution, its start queued) until the
 * test lets it go, tells when a command was queued as a message for a worker, and holds the commit that applies it
 * (`applying`) until the test lets that go too: so the call's answer and that commit come in an order the test sees.
 */
class HeldContinue extends MemoryStore {
  #queued!: () => void;
  /** Resolves once a terminate or suspend was committed as a message for a worker. */
  readonly queued = new Promise<void>((resolve) => (this.#queued = resolve));
  #release!: () => void;
  readonly #released = new Promise<void>((resolve) => (this.#release = resolve));
  #held!: () => void;
  /** Resolves once the commit of the continueAsNew waits. */
  readonly held = new Promise<void>((resolve) => (this.#held = resolve));
  #apply!: () => void;
  readonly #applies = new Promise<void>((resolve) => (this.#apply = resolve));
  #applying!: () => void;
  /** Resolves once the commit that terminates or suspends the next execution waits. */
  readonly applying = new Promise<void>((resolve) => (this.#applying = resolve));
  /** Whether that commit landed. */
  applied = false;
  #wasQueued = false;

  release(): void {
    this.#release();
  }

  letApply(): void {
    this.#apply();
  }

  override async commit(writeSet: WriteSet): Promise<CommitResult> {
    const states = writeSet.requests.flatMap((r) => (r.type === 'replaceState' ? [r.state.runtimeStatus] : []));
    if (states.includes('ContinuedAsNew')) {
      this.#held();
      await this.#released;
    }
    // A worker's commit that applies the queued command (not the client's own attempt to apply it, which comes first).
    const applies = this.#wasQueued && (states.includes('Terminated') || states.includes('Suspended'));
    if (applies) {
      this.#applying();
      await this.#applies;
    }
    const result = await super.commit(writeSet);
    if (applies) this.applied = true;
    if (writeSet.requests.some((r) => r.type === 'insertMessage' && (r.message.event.type === 'ExecutionTerminated' || r.message.event.type === 'ExecutionSuspended'))) {
      this.#wasQueued = true;
      this.#queued();
    }
    return result;
  }
}

/** Continues as new once, then waits for an event that never comes. */
const continuing: Orchestrator = function* (ctx) {
  if (ctx.getInput() === undefined) {
    ctx.continueAsNew('again');
    return;
  }
  yield ctx.waitForExternalEvent('never');
};

describe('a terminate or suspend queued while the instance continues as new', () => {
  for (const [command, applied] of [['terminate', 'Terminated'], ['suspend', 'Suspended']] as const) {
    it(`resolves the ${command} once the next execution, which it reaches, is ${applied}: a status read right after shows it`, async () => {
      const store = new HeldContinue();
      const runtime = createRuntime({ store, orchestrators: { Continuing: continuing }, activities: {}, logger: silentLogger });
      await runtime.start();
      const client = runtime.client;
      const id = await client.startNew('Continuing');
      await within(store.held, 'the step that continues the instance as new');
      const call = client[command](id, 'why');
      await within(store.queued, `the ${command} queued`);
      const answeredBeforeApplied = call.then(() => !store.applied);
      store.release();
      await within(store.applying, `the step that applies the ${command} to the next execution`);
      store.letApply();
      expect(await within(answeredBeforeApplied, `the ${command}`)).toBe(false);
      expect((await client.getStatus(id))!.runtimeStatus).toBe(applied);
      await runtime.stop();
    });
  }
});
