import { firstValueFrom, filter, take, takeWhile, tap, toArray } from 'rxjs';
import type { HistoryEvent } from '../model/history-event.js';
import { isNewerChange, isTerminalStatus, MAX_REMEMBERED_EVENT_KEYS, type InstanceState, type InstanceStatus } from '../model/instance-status.js';
import type { Lease, OrchestrationMessage } from '../model/message.js';
import type { Activity, Orchestrator } from '../engine/orchestration-context.js';
import type { ActivityTask } from '../model/message.js';
import type { StartIfExists, UnclaimedLease, WriteLease, WriteRequest, WriteSet } from '../model/write-set.js';
import type { ClaimOptions, EndedQuery, InstanceQuery, OrchestrationWorkItem, PurgeMember, StatusChange, Store } from '../store/store.js';
import { MAX_PURGE_SET } from '../store/plan-tree-purge.js';
import { compareEndedKeys, endedKeyOf, matchesEndedQuery } from '../store/ended-listing.js';
import { createRuntime, type Runtime } from '../runtime/create-runtime.js';
import { createClient } from '../client/create-client.js';
import type { DurableClient } from '../client/durable-client.js';
import { decideStep, decideSuspend, decideTerminate, type StepInput } from '../engine/decide-step.js';
import { OrchestrationExecution } from '../engine/orchestration-execution.js';
import { silentLogger } from '../env/logger.js';
import { randomId } from '../env/new-id.js';
import { encodeContinuationToken, lifeLeaseOwner, matchesQuery } from '../store/store-helpers.js';
import { PayloadTooLargeError } from '../model/errors/payload-too-large-error.js';
import { helloSequence, sayHello } from './samples.js';
import { SETTLED, within } from './settled.js';
import { VirtualClock } from './virtual-clock.js';
import { vitest } from './vitest-api.js';

const { afterEach, describe, expect, it, vi } = vitest;

/** Opens a store on the database `name`. With `shared`, two calls with one name give two handles on one database. */
export type StoreFactory = (name: string) => Store | Promise<Store>;

/** What the suite may assume about the store. */
export interface ConformanceOptions {
  /** Several handles may open one database (tabs, processes): turns on the multi-worker tests. */
  readonly shared?: boolean;
  /** Number of instances in the shared multi-worker test (default 100). */
  readonly sharedInstances?: number;
  /**
   * `changes$` publishes an execution's input as one object, frozen all the way down, in every change of that execution
   * (MemoryStore, DexieStore and KeyvalStore do; the port allows a copy per change): turns on the assertions that count
   * those objects.
   *
   * @example
   * ```ts
   * describeStoreConformance('MemoryStore', () => new MemoryStore(), { frozenInput: true });
   * ```
   */
  readonly frozenInput?: boolean;
}

const T0 = new Date('2026-01-01T00:00:00.000Z');
/** Most characters of history JSON one commit may append on the store of the refused-records test. */
const HISTORY_LIMIT = 20_000;
const at = (ms: number) => new Date(T0.getTime() + ms);

/**
 * The Store conformance suite. Every adapter runs it; passing it is what "implements the Store port" means.
 *
 * @example
 * ```ts
 * import { MemoryStore } from '@durable-rx/runtime';
 * import { describeStoreConformance } from '@durable-rx/runtime/testing';
 * describeStoreConformance('MemoryStore', () => new MemoryStore());
 * ```
 */
export function describeStoreConformance(name: string, factory: StoreFactory, options: ConformanceOptions = {}): void {
  describe(`Store conformance: ${name}`, () => {
    const opened: Store[] = [];
    const runtimes: Runtime[] = [];
    const open = async (db = `conformance-${randomId()}`): Promise<Store> => {
      const store = await factory(db);
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(runtimes.splice(0).map((r) => r.stop()));
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    const runtimeOn = async (
      store: Store, workerId: string,
      more: { orchestrators?: Record<string, Orchestrator>; activities?: Record<string, Activity>; maxConcurrentOrchestrations?: number } = {},
    ) => {
      const runtime = createRuntime({
        store, orchestrators: { HelloSequence: helloSequence, ...more.orchestrators },
        activities: { E1_SayHello: sayHello, ...more.activities },
        logger: silentLogger, workerId, orchestrationLeaseMs: 60_000,
        ...(more.maxConcurrentOrchestrations === undefined ? {} : { maxConcurrentOrchestrations: more.maxConcurrentOrchestrations }),
      });
      runtimes.push(runtime);
      await runtime.start();
      return runtime;
    };

    describe('instances', () => {
      it('creates an instance and returns copies of its state', async () => {
        const store = await open();
        await create(store, newInstance('a', { input: { city: 'Tokyo' } }));
        const state = await store.getInstance('a');
        expect(state).toMatchObject({ instanceId: 'a', name: 'Orch', runtimeStatus: 'Pending', input: { city: 'Tokyo' }, version: 1 });
        expect(state?.createdTime).toBeInstanceOf(Date);
        expect(state?.createdTime.getTime()).toBe(T0.getTime());
        (state as { input: { city: string } }).input.city = 'mutated';
        expect((await store.getInstance('a'))?.input).toEqual({ city: 'Tokyo' });
        expect(await store.getInstance('missing')).toBeUndefined();
      });

      it('refuses to create over a non-terminal instance and writes nothing', async () => {
        const store = await open();
        await create(store, newInstance('a', { input: 1 }));
        await expect(create(store, newInstance('a', { input: 2 }))).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect((await store.getInstance('a'))?.input).toBe(1);
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: T0 });
        expect(item?.messages).toHaveLength(1);
      });

      it('lets exactly one of two concurrent creates of one id win', async () => {
        const store = await open();
        const results = await Promise.allSettled([create(store, newInstance('race', { input: 1 })), create(store, newInstance('race', { input: 2 }))]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toMatchObject({ code: 'instance-already-exists' });
      });

      it('replaces a terminal instance, dropping its history and messages, with a higher version', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, [started('a'), completedEvent()]);
        await create(store, newInstance('a', { input: 'second', executionId: 'exec-2' }));
        const state = await store.getInstance('a');
        expect(state).toMatchObject({ runtimeStatus: 'Pending', input: 'second', executionId: 'exec-2' });
        expect(state!.version).toBeGreaterThan(2);
        expect(await store.getHistory('a')).toEqual([]);
      });

      it('keeps an execution\'s input through its steps and raises, takes a continueAsNew\'s or a new start\'s in its place (none when it has none), and drops it with a purge', async () => {
        const store = await open();
        const input = { rows: Array.from({ length: 50 }, (_, i) => ({ i })) };
        const inputOf = async () => [(await store.getInstance('a'))?.input, (await store.queryInstances({})).instances[0]?.input];
        await create(store, newInstance('a', { input }));
        await commitStep(store, await claim(store), { runtimeStatus: 'Running' }, [started('a')]);
        for (const name of ['one', 'two']) {
          await send(store, message('a', eventRaised(name)));
          const item = await claim(store);
          expect(item.state.input).toEqual(input);
          await commitStep(store, item, { customStatus: name }, [eventRaised(name)]);
        }
        expect(await inputOf()).toEqual([input, input]);
        await send(store, message('a', eventRaised('again')));
        await commitStep(store, await claim(store), { executionId: 'exec-2', input: 'next' }, [started('a')], { replaceHistory: true });
        expect(await inputOf()).toEqual(['next', 'next']);
        await send(store, message('a', eventRaised('end')));
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, [completedEvent()]);
        await create(store, newInstance('a', { executionId: 'exec-3' }));
        expect(await inputOf()).toEqual([undefined, undefined]);
        const third = await claim(store);
        expect(third.state.input).toBeUndefined();
        await commitStep(store, third, { runtimeStatus: 'Completed' }, [completedEvent()]);
        expect(await store.purgeInstance('a')).toBe(1);
        await create(store, newInstance('a', { executionId: 'exec-4' }));
        expect(await inputOf()).toEqual([undefined, undefined]);
      });

      it('creates over a terminal instance that still has pending messages: only the new start message is left', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, [started('a')]);
        await send(store, message('a', eventRaised('late-1')));
        await send(store, message('a', eventRaised('late-2')));
        await create(store, newInstance('a', { input: 'again', executionId: 'exec-2' }));
        const next = await claim(store);
        expect(next.messages.map((m) => m.event)).toMatchObject([{ type: 'ExecutionStarted', input: 'again' }]);
        expect(await store.getHistory('a')).toEqual([]);
      });

      it('replaces the history (continue-as-new, rewind) with exactly the new events', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        await commitStep(store, await claim(store), { runtimeStatus: 'Running' }, [started('a'), eventRaised('one'), eventRaised('two')]);
        await send(store, message('a', eventRaised('go')));
        const replacement: HistoryEvent[] = [started('a'), eventRaised('new')];
        await commitStep(store, await claim(store), { executionId: 'exec-2' }, replacement, { replaceHistory: true });
        expect(await store.getHistory('a')).toEqual(replacement);
        expect(await store.getHistory('a', { fromIndex: 1 })).toEqual(replacement.slice(1));
      });

      it('reads an instance with the history its state shows, at one moment (getInstanceHistory, where the store has it)', async () => {
        const store = await open();
        if (!store.getInstanceHistory) return; // optional: a client then reads the state again once the history has answered
        expect(await store.getInstanceHistory('unknown')).toEqual({ state: undefined, history: [] });
        await create(store, newInstance('a'));
        const first: HistoryEvent[] = [started('a'), eventRaised('one'), eventRaised('two')];
        await commitStep(store, await claim(store), { runtimeStatus: 'Running' }, first);
        const state = await store.getInstance('a');
        expect(await store.getInstanceHistory('a')).toEqual({ state, history: first });
        expect(await store.getInstanceHistory('a', { fromIndex: 1 })).toEqual({ state, history: first.slice(1) });
        await send(store, message('a', eventRaised('go')));
        const replacement: HistoryEvent[] = [started('a'), eventRaised('new')];
        await commitStep(store, await claim(store), { executionId: 'exec-2' }, replacement, { replaceHistory: true });
        const next = await store.getInstanceHistory('a');
        expect(next.state).toMatchObject({ executionId: 'exec-2', historyLength: 2 });
        expect(next.history).toEqual(replacement);
      });

      it('reads an instance with showInput: false as without it, the input left out or not, also beside reads of it that want the input', async () => {
        const store = await open();
        const input = { order: 'x'.repeat(2048) };
        await create(store, newInstance('a', { input }));
        const full = await store.getInstance('a');
        expect(full?.input).toEqual(input);
        const { input: _input, ...withoutInput } = full!;
        const shown = (state: InstanceState | undefined) => {
          expect(state).toMatchObject(withoutInput);
          if (state?.input !== undefined) expect(state.input).toEqual(input);
        };
        shown(await store.getInstance('a', { showInput: false }));
        expect(await store.getInstance('unknown', { showInput: false })).toBeUndefined();
        // Asked for at once (a store may read them together): each read that wants the input has it, in either order.
        const [hiddenFirst, wanted, hiddenLast] = await Promise.all([
          store.getInstance('a', { showInput: false }), store.getInstance('a'), store.getInstance('a', { showInput: false }),
        ]);
        expect(wanted).toEqual(full);
        shown(hiddenFirst);
        shown(hiddenLast);
        const [wantedFirst, hidden] = await Promise.all([store.getInstance('a', { showInput: true }), store.getInstance('a', { showInput: false })]);
        expect(wantedFirst).toEqual(full);
        shown(hidden);
        if (!store.getInstanceHistory) return;
        const read = await store.getInstanceHistory('a', { showInput: false });
        shown(read.state);
        expect(read.history).toEqual(await store.getHistory('a'));
        expect((await store.getInstanceHistory('a', { showInput: true })).state).toEqual(full);
      });

      it('hands back the fields of a state it never reads as they were written (a step\'s suspension, its parent call)', async () => {
        // The worker and the clients decide from them (a resume from `suspension`, a child's report from `parentCall`):
        // a store saves the whole state, and one that dropped a field it has no use for would change those decisions.
        const store = await open();
        await create(store, newInstance('w'));
        await commitStep(store, await claim(store), { runtimeStatus: 'Running' });
        const before = (await store.getInstance('w'))!;
        const fields = {
          runtimeStatus: 'Suspended' as const,
          suspension: { version: before.version + 1, kept: true },
          parentCall: { executionId: 'p-e1', taskScheduledId: 4, forkRoot: 'p-root' },
        };
        await forceState(store, before, fields);
        expect(await store.getInstance('w')).toMatchObject(fields);
        expect((await store.getInstance('w'))?.suspension).toEqual(fields.suspension);
      });

      it('hands back the held commands and a pending rerun of a state as they were written (heldSuspend, held, rerun)', async () => {
        // The worker decides from them: the held suspends and resumes it records ahead of a start (`heldSuspend`,
        // `held`), the failed calls a client's rewind left it to rerun (`rerun`). A store that dropped or reshaped one
        // would lose a suspend, or a rewind's rerun. Every optional member is set, so none may go missing.
        const store = await open();
        await create(store, newInstance('w'));
        await commitStep(store, await claim(store), { runtimeStatus: 'Running' });
        const before = (await store.getInstance('w'))!;
        const at = (ms: number): string => new Date(T0.getTime() + ms).toISOString();
        const suspended = { type: 'ExecutionSuspended', eventId: -1, timestamp: at(1), reason: 'hold' } as const;
        const resumed = { type: 'ExecutionResumed', eventId: -1, timestamp: at(2), reason: 'go' } as const;
        const fields = {
          heldSuspend: { resumeTo: 'ContinuedAsNew', commands: [suspended, resumed], timestamp: at(1), reason: 'hold', resumed },
          held: { executionId: 'e-next', commands: [suspended, resumed, { ...suspended, timestamp: at(3) }], applied: [suspended, resumed] },
          rerun: {
            type: 'ExecutionRewound', eventId: -1, timestamp: at(4), reason: 'retry',
            parentInstance: { instanceId: 'p', name: 'Parent', taskScheduledId: 7, executionId: 'p-e1', forkRoot: 'p-root' },
          },
        } satisfies Pick<InstanceState, 'heldSuspend' | 'held' | 'rerun'>;
        await forceState(store, before, fields);
        const read = (await store.getInstance('w'))!;
        expect(read.heldSuspend).toStrictEqual(fields.heldSuspend);
        expect(read.held).toStrictEqual(fields.held);
        expect(read.rerun).toStrictEqual(fields.rerun);
        const { state } = await store.getInstanceHistory?.('w') ?? { state: read };
        expect({ heldSuspend: state?.heldSuspend, held: state?.held, rerun: state?.rerun }).toStrictEqual(fields);
      });

      it('round-trips hostile JSON keys and values exactly', async () => {
        const store = await open();
        const hostile = JSON.parse('{"__proto__":{"polluted":true},"$where":"1","a.b":{"$gt":1},"constructor":{"prototype":{"x":1}},"nested":[{"$set":null}],"unicode":"東京 🚀","big":1e300}') as unknown;
        await create(store, newInstance('h', { input: hostile }));
        await commitStep(store, await claim(store), { runtimeStatus: 'Running', customStatus: hostile }, [
          { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: '$evt.name', input: hostile },
        ]);
        const state = await store.getInstance('h');
        expect(state?.input).toEqual(hostile);
        expect(state?.customStatus).toEqual(hostile);
        expect(Object.keys(state?.input as object)).toContain('__proto__');
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
        expect((await store.getHistory('h'))[0]).toMatchObject({ name: '$evt.name', input: hostile });
      });

      it('answers copies of the output, custom status and failure details too: changing what a read or a claim returned changes nothing stored', async () => {
        const store = await open();
        await create(store, newInstance('a', { input: { n: 1 } }));
        const failure = { errorType: 'Error', errorMessage: 'boom', stackTrace: 'at step' };
        await commitStep(store, await claim(store), { runtimeStatus: 'Failed', output: { n: 2 }, customStatus: { n: 3 }, failureDetails: failure });
        const payloads = { input: { n: 1 }, output: { n: 2 }, customStatus: { n: 3 }, failureDetails: failure };
        expect(await store.getInstance('a')).toMatchObject(payloads);
        const scribble = (state: InstanceState | undefined) => {
          const read = state as { input?: { n: number }; output?: { n: number }; customStatus?: { n: number }; failureDetails?: { errorMessage: string } };
          // One try per field: a store that freezes one field and shares another is caught on the one it shares.
          const attempt = (write: () => void) => {
            try {
              write();
            } catch {
              // frozen: that keeps the store intact too
            }
          };
          attempt(() => (read.input!.n = -1));
          attempt(() => (read.output!.n = -1));
          attempt(() => (read.customStatus!.n = -1));
          attempt(() => (read.failureDetails!.errorMessage = 'mutated'));
        };
        scribble(await store.getInstance('a'));
        scribble((await store.queryInstances({})).instances[0]);
        if (store.getInstanceHistory) scribble((await store.getInstanceHistory('a')).state);
        await send(store, message('a', eventRaised('nudge')));
        const item = await claim(store);
        scribble(item.state);
        await store.abandonOrchestration('a', item.lease.token);
        // Compared with literals: a state read before would share the objects a store wrongly handed out.
        expect(await store.getInstance('a')).toMatchObject(payloads);
        expect((await store.queryInstances({})).instances).toMatchObject([payloads]);
      });
    });

    describe('a start whose id is taken (ifExists)', () => {
      /** A client start of `request` with `ifExists` (as decideStart writes it). */
      const start = (store: Store, request: CreateInstanceRequest, ifExists: StartIfExists | undefined) =>
        store.commit({ requests: [{ type: 'createInstance', ...request, ifRunning: { kind: 'fail' }, ...(ifExists ? { ifExists } : {}) }] });
      /** Completes the instance `id` (created by the suite's `newInstance`). */
      const completed = async (store: Store, id: string) => {
        await create(store, newInstance(id, { input: 'first' }));
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed', output: 'done' }, [started(id), completedEvent()]);
        return (await store.getInstance(id))!;
      };
      /** The changes of `id` the store publishes until a commit made afterwards (on another id) is seen: commit order. */
      const changesOf = async (store: Store, id: string, act: () => Promise<unknown>) => {
        const seen: StatusChange[] = [];
        const marker = `marker-${randomId()}`;
        const until = firstValueFrom(store.changes$.pipe(
          tap((c) => { if (c.instanceId === id) seen.push(c); }), filter((c) => c.instanceId === marker), take(1),
        ));
        await store.getInstance(id); // a store may open its feed asynchronously; one round trip settles it
        await act().catch(() => undefined);
        await create(store, newInstance(marker));
        await until;
        return seen;
      };

      it("refuses a start with 'fail' over a terminal instance and writes nothing: its result stays", async () => {
        const store = await open();
        const before = await completed(store, 'a');
        const history = await store.getHistory('a');
        const seen = await changesOf(store, 'a', async () => {
          await expect(start(store, newInstance('a', { input: 'second', executionId: 'exec-2' }), 'fail'))
            .rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        });
        expect(seen).toEqual([]);
        expect(await store.getInstance('a')).toEqual(before);
        expect(await store.getHistory('a')).toEqual(history);
        expect(await claimNothingOr(store)).toMatchObject({ state: { instanceId: expect.stringMatching(/^marker-/) } });
      });

      it("refuses a start with 'fail' over an active instance too", async () => {
        const store = await open();
        await create(store, newInstance('a', { input: 1 }));
        await expect(start(store, newInstance('a', { input: 2 }), 'fail')).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect((await store.getInstance('a'))?.input).toBe(1);
        expect((await claim(store)).messages).toHaveLength(1);
      });

      it("keeps a terminal instance with 'useExisting': no new execution, no message, no change", async () => {
        const store = await open();
        const before = await completed(store, 'a');
        const history = await store.getHistory('a');
        const seen = await changesOf(store, 'a', () => start(store, newInstance('a', { input: 'second', executionId: 'exec-2' }), 'useExisting'));
        expect(seen).toEqual([]);
        expect(await store.getInstance('a')).toEqual(before);
        expect(await store.getHistory('a')).toEqual(history);
        expect(await claimNothingOr(store)).toMatchObject({ state: { instanceId: expect.stringMatching(/^marker-/) } });
      });

      it("keeps an active instance with 'useExisting': its one start message stays the only one", async () => {
        const store = await open();
        await create(store, newInstance('a', { input: 1 }));
        await start(store, newInstance('a', { input: 2, executionId: 'exec-2' }), 'useExisting');
        expect(await store.getInstance('a')).toMatchObject({ input: 1, executionId: 'exec-1', version: 1 });
        expect((await claim(store)).messages.map((m) => m.event)).toMatchObject([{ type: 'ExecutionStarted', input: 1, executionId: 'exec-1' }]);
      });

      it("creates a new id with 'fail' or 'useExisting', and replaces a terminal instance with 'overwrite'", async () => {
        const store = await open();
        await start(store, newInstance('f', { input: 'f' }), 'fail');
        await start(store, newInstance('u', { input: 'u' }), 'useExisting');
        expect(await store.getInstance('f')).toMatchObject({ runtimeStatus: 'Pending', input: 'f', version: 1 });
        expect(await store.getInstance('u')).toMatchObject({ runtimeStatus: 'Pending', input: 'u', version: 1 });
        const other = await open();
        await completed(other, 'o');
        await start(other, newInstance('o', { input: 'second', executionId: 'exec-2' }), 'overwrite');
        expect(await other.getInstance('o')).toMatchObject({ runtimeStatus: 'Pending', input: 'second', executionId: 'exec-2' });
      });

      it("refuses a write set whose ifExists is unknown and writes nothing", async () => {
        const store = await open();
        await expect(start(store, newInstance('a'), 'skip' as StartIfExists)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        expect(await store.getInstance('a')).toBeUndefined();
      });

      it("lets exactly one of two concurrent 'useExisting' starts of one id create it; both succeed", async () => {
        const store = await open();
        await Promise.all([
          start(store, newInstance('race', { input: 1, executionId: 'exec-1' }), 'useExisting'),
          start(store, newInstance('race', { input: 2, executionId: 'exec-2' }), 'useExisting'),
        ]);
        const state = await store.getInstance('race');
        expect(state).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
        const item = await claim(store);
        expect(item.messages).toHaveLength(1);
        expect(item.messages[0]!.event).toMatchObject({ type: 'ExecutionStarted', executionId: state!.executionId, input: state!.input });
      });

      it("lets exactly one of two concurrent 'fail' starts of one id succeed; the other is refused (409)", async () => {
        const store = await open();
        const results = await Promise.allSettled([
          start(store, newInstance('race', { input: 1 }), 'fail'), start(store, newInstance('race', { input: 2 }), 'fail'),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect((await claim(store)).messages).toHaveLength(1);
      });

      it("runs an orchestration once for starts with 'useExisting' that race and that come after it finished", async () => {
        const store = await open();
        let calls = 0;
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: { Once: function* (ctx) { return yield ctx.callActivity('Count', ctx.getInput()); } },
          activities: { Count: (input: unknown) => ({ calls: ++calls, input }) },
        });
        const { client } = runtime;
        const ids = await Promise.all([1, 2, 3].map((n) => client.startNew('Once', { instanceId: 'once', input: n, ifExists: 'useExisting' })));
        expect(ids).toEqual(['once', 'once', 'once']);
        const done = await client.waitForCompletion('once', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { calls: 1 } });
        // A start retried after the run finished finds its result and changes nothing.
        expect(await client.startNew('Once', { instanceId: 'once', input: 4, ifExists: 'useExisting' })).toBe('once');
        await expect(client.startNew('Once', { instanceId: 'once', input: 5, ifExists: 'fail' })).rejects.toMatchObject({ code: 'instance-already-exists' });
        expect(await client.getStatus('once')).toEqual(done);
        const history = await store.getHistory('once');
        expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
        expect(calls).toBe(1);
      }, 60_000);

      if (options.shared) {
        it("lets one of two handles create an id when both start it with 'useExisting' or 'fail' at once", async () => {
          const db = `shared-${randomId()}`;
          const a = await open(db);
          const b = await open(db);
          await Promise.all([
            start(a, newInstance('u', { input: 1, executionId: 'exec-1' }), 'useExisting'),
            start(b, newInstance('u', { input: 2, executionId: 'exec-2' }), 'useExisting'),
          ]);
          expect((await claim(a)).messages).toHaveLength(1);
          const results = await Promise.allSettled([start(a, newInstance('f', { input: 1 }), 'fail'), start(b, newInstance('f', { input: 2 }), 'fail')]);
          expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
          expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'instance-already-exists' });
          expect((await claim(b)).messages).toHaveLength(1);
        });
      }
    });

    describe('a delayed start (startNew startAt)', () => {
      /** A client on a clock at T0 (decideStart writes what the store is given). */
      const clientOn = (store: Store) => createClient({ store, clock: new VirtualClock(T0) });

      it('stores a delayed start at once, Pending with its scheduledStartTime, and hands out its start only from that time', async () => {
        const store = await open();
        await clientOn(store).startNew('Orch', { instanceId: 'd', input: 1, startAt: at(60_000) });
        const state = await store.getInstance('d');
        expect(state).toMatchObject({ runtimeStatus: 'Pending', input: 1, version: 1 });
        expect(state?.scheduledStartTime).toBeInstanceOf(Date);
        expect(state?.scheduledStartTime?.getTime()).toBe(at(60_000).getTime());
        expect((await store.queryInstances({})).instances[0]?.scheduledStartTime?.getTime()).toBe(at(60_000).getTime());
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(59_999) })).toBeUndefined();
        expect((await store.nextWakeTime(T0))?.getTime()).toBe(at(60_000).getTime());
        const item = await claim(store, 'w', at(60_000));
        expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
        expect(item.state.scheduledStartTime?.getTime()).toBe(at(60_000).getTime());
      });

      it('holds a message that reaches a delayed start back until its time, then hands it out behind the start', async () => {
        const store = await open();
        const client = clientOn(store);
        await client.startNew('Orch', { instanceId: 'd', startAt: at(60_000) });
        await client.raiseEvent('d', 'early', { n: 1 });
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(59_999) })).toBeUndefined();
        expect((await store.nextWakeTime(T0))?.getTime()).toBe(at(60_000).getTime());
        const item = await claim(store, 'w', at(60_000));
        expect(item.messages.map((m) => m.event)).toMatchObject([{ type: 'ExecutionStarted' }, { type: 'EventRaised', name: 'early', input: { n: 1 } }]);
      });

      it('starts at once when startAt is now or earlier, with no scheduledStartTime', async () => {
        const store = await open();
        const client = clientOn(store);
        await client.startNew('Orch', { instanceId: 'now', startAt: T0 });
        await client.startNew('Orch', { instanceId: 'past', startAt: at(-60_000) });
        for (const id of ['now', 'past']) expect((await store.getInstance(id))?.scheduledStartTime).toBeUndefined();
        const claimed = [await claim(store, 'w', T0), await claim(store, 'w', T0)];
        expect(claimed.map((c) => c.state.instanceId).sort()).toEqual(['now', 'past']);
      });

      it('forks a delayed start not yet run into one delayed as long, and into a start at once when its time has passed', async () => {
        const store = await open();
        await clientOn(store).startNew('Orch', { instanceId: 'd', input: 1, startAt: at(60_000) });
        await clientOn(store).fork('d', { newInstanceId: 'f' });
        const forked = await store.getInstance('f');
        expect(forked).toMatchObject({ runtimeStatus: 'Pending', input: 1 });
        expect(forked?.scheduledStartTime?.getTime()).toBe(at(60_000).getTime());
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(59_999) })).toBeUndefined();
        // Forked once its time has passed (no worker started it): at once.
        await createClient({ store, clock: new VirtualClock(at(60_001)) }).fork('d', { newInstanceId: 'g' });
        expect((await store.getInstance('g'))?.scheduledStartTime).toBeUndefined();
        expect((await store.claimOrchestration({ owner: 'w', leaseMs: 600_000, now: T0 }))?.state.instanceId).toBe('g');
        const due = [await claim(store, 'w', at(60_000)), await claim(store, 'w', at(60_000))];
        expect(due.map((c) => c.state.instanceId).sort()).toEqual(['d', 'f']);
        expect(due.map((c) => c.messages.map((m) => m.event.type))).toEqual([['ExecutionStarted'], ['ExecutionStarted']]);
      });

      it('refuses a startAt that is no valid Date (400) and writes nothing', async () => {
        const store = await open();
        const client = clientOn(store);
        for (const startAt of [new Date(Number.NaN), at(60_000).getTime(), at(60_000).toISOString(), null, {}]) {
          await expect(client.startNew('Orch', { instanceId: 'bad', startAt: startAt as never })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(await store.getInstance('bad')).toBeUndefined();
        expect(await store.nextWakeTime(T0)).toBeUndefined();
      });

      it('keeps a delayed start active for ifExists: a second start of its id is refused (409) and writes nothing', async () => {
        const store = await open();
        const client = clientOn(store);
        await client.startNew('Orch', { instanceId: 'd', input: 1, startAt: at(60_000) });
        await expect(client.startNew('Orch', { instanceId: 'd', input: 2 })).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect(await client.startNew('Orch', { instanceId: 'd', input: 3, ifExists: 'useExisting' })).toBe('d');
        expect(await store.getInstance('d')).toMatchObject({ input: 1, version: 1 });
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: T0 })).toBeUndefined();
      });

      it('runs a delayed start at its time, woken by the store (no polling); terminated before, it never runs; restarted, it runs at once', async () => {
        const store = await open();
        const ran: string[] = [];
        const runtime = await runtimeOn(store, 'delayed', {
          orchestrators: {
            At: function* (ctx) {
              if (!ctx.isReplaying) ran.push(ctx.instanceId);
              const got: unknown = yield ctx.waitForExternalEvent('go');
              return { at: ctx.currentUtcDateTime.toISOString(), got };
            },
          },
        });
        const { client } = runtime;
        // The real clock: a worker's timer for the store's next due time is what wakes it.
        const startAt = new Date(Date.now() + 300);
        await client.startNew('At', { instanceId: 'runs', startAt });
        // Issued before its time (a loaded machine may take longer), the start is held and its status says until when.
        const issuedInTime = Date.now() < startAt.getTime();
        await client.startNew('At', { instanceId: 'ended', startAt: new Date(Date.now() + 3_600_000) });
        await client.raiseEvent('runs', 'go', 'early');
        await client.terminate('ended', 'not needed');
        expect(await client.getStatus('ended')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
        const status = await client.waitForCompletion('runs', SETTLED);
        expect(status).toMatchObject({ runtimeStatus: 'Completed', output: { got: 'early' } });
        if (issuedInTime) expect(status.scheduledStartTime).toEqual(startAt);
        expect(new Date((status.output as { at: string }).at).getTime()).toBeGreaterThanOrEqual(startAt.getTime());
        // A restart of the terminated one runs at once, with no scheduled time; it never ran before.
        expect(ran).toEqual(['runs']);
        await client.restart('ended');
        expect((await client.getStatus('ended'))?.scheduledStartTime).toBeUndefined();
        await client.raiseEvent('ended', 'go', 'now');
        expect(await client.waitForCompletion('ended', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: { got: 'now' } });
        expect(ran).toEqual(['runs', 'ended']);
      });

      it('suspends and resumes a delayed start as any Pending instance: suspended at its time, it starts suspended', async () => {
        const store = await open();
        const client = clientOn(store);
        await client.startNew('Orch', { instanceId: 'd', startAt: at(60_000) });
        await client.suspend('d', 'hold');
        expect(await store.getInstance('d')).toMatchObject({ runtimeStatus: 'Suspended' });
        await client.resume('d', 'go');
        expect(await store.getInstance('d')).toMatchObject({ runtimeStatus: 'Pending' });
        expect((await store.getInstance('d'))?.scheduledStartTime?.getTime()).toBe(at(60_000).getTime());
        await client.suspend('d', 'hold again');
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(59_999) })).toBeUndefined();
        const item = await claim(store, 'w', at(60_000));
        expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
        expect(item.state).toMatchObject({ runtimeStatus: 'Suspended' });
      });

      /** Steps the work item claimed at `now` as a worker does, with an orchestrator that must not run. */
      const stepAt = async (store: Store, now: Date) => {
        const item = await claim(store, 'w', now);
        const input: StepInput = {
          state: item.state, messages: item.messages, leaseToken: item.lease.token, now, newId: () => randomId(),
          newExecution: () => new OrchestrationExecution(function* () { throw new Error('ran'); }, { customStatusLimitBytes: 16_384 }),
        };
        let decision = decideStep(input);
        if (decision.kind === 'needHistory') decision = decideStep({ ...input, history: await store.getHistory(item.state.instanceId) });
        if (decision.kind !== 'commit') throw new Error('decideStep asked for the history twice');
        await store.commit(decision.writeSet);
        return item;
      };

      it('records and ignores the start of a delayed start terminated before its time when it falls due: it stays Terminated, with nothing left to wake for', async () => {
        const store = await open();
        const client = clientOn(store);
        await client.startNew('Orch', { instanceId: 'd', startAt: at(60_000) });
        await client.raiseEvent('d', 'early');
        await client.terminate('d', 'not needed');
        expect(await store.getInstance('d')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
        expect((await store.nextWakeTime(T0))?.getTime()).toBe(at(60_000).getTime());
        const item = await stepAt(store, at(60_000));
        expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
        expect(await store.getInstance('d')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(120_000) })).toBeUndefined();
        expect(await store.nextWakeTime(at(60_000))).toBeUndefined();
      });

      it('purges a delayed start terminated before its time with the start and events still queued for it: a new start of its id takes none of them', async () => {
        const store = await open();
        const client = clientOn(store);
        await client.startNew('Orch', { instanceId: 'd', input: 1, startAt: at(60_000) });
        await client.raiseEvent('d', 'early');
        await client.terminate('d', 'not needed');
        expect(await client.purgeInstanceHistory('d')).toEqual({ instancesDeleted: 1 });
        expect(await store.nextWakeTime(T0)).toBeUndefined();
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(60_000) })).toBeUndefined();
        await client.startNew('Orch', { instanceId: 'd', input: 2 });
        const item = await claim(store, 'w', at(60_000));
        expect(item.messages.map((m) => m.event)).toMatchObject([{ type: 'ExecutionStarted', input: 2 }]);
        expect(item.state.scheduledStartTime).toBeUndefined();
      });

      it('starts a new execution over a delayed start terminated before its time without the queued start or events of the one it replaces', async () => {
        const store = await open();
        const client = clientOn(store);
        await client.startNew('Orch', { instanceId: 'd', input: 1, startAt: at(60_000) });
        await client.raiseEvent('d', 'early');
        await client.terminate('d', 'not needed');
        await client.startNew('Orch', { instanceId: 'd', input: 2, startAt: at(120_000) });
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(60_000) })).toBeUndefined();
        expect((await store.nextWakeTime(T0))?.getTime()).toBe(at(120_000).getTime());
        const item = await claim(store, 'w', at(120_000));
        expect(item.messages.map((m) => m.event)).toMatchObject([{ type: 'ExecutionStarted', input: 2 }]);
      });

      it('keeps an event raised to a delayed start back until its time across a suspend and resume before it: no claim hands it out without the start', async () => {
        const store = await open();
        const client = clientOn(store);
        await client.startNew('Orch', { instanceId: 'd', startAt: at(60_000) });
        await client.raiseEvent('d', 'early', 1);
        await client.suspend('d', 'hold');
        await client.resume('d', 'go');
        expect(await store.getInstance('d')).toMatchObject({ runtimeStatus: 'Pending' });
        expect((await store.nextWakeTime(T0))?.getTime()).toBe(at(60_000).getTime());
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(59_999) })).toBeUndefined();
        const item = await claim(store, 'w', at(60_000));
        expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
      });

      it('applies a terminate, suspend or resume of a delayed start at once from a runtime whose worker runs, an event raised before it kept', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'delayed-commands');
        const { client } = runtime;
        await client.startNew('HelloSequence', { instanceId: 'held', startAt: new Date(Date.now() + 3_600_000) });
        await client.startNew('HelloSequence', { instanceId: 'ended', startAt: new Date(Date.now() + 3_600_000) });
        for (const id of ['held', 'ended']) await client.raiseEvent(id, 'early', 1);
        await client.suspend('held', 'hold');
        expect(await client.getStatus('held')).toMatchObject({ runtimeStatus: 'Suspended' });
        await client.resume('held', 'go');
        expect(await client.getStatus('held')).toMatchObject({ runtimeStatus: 'Pending' });
        await client.terminate('ended', 'not needed');
        expect(await client.getStatus('ended')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
      });
    });

    describe('instance tags (startNew tags)', () => {
      /** Keys a store must keep as they are: an own `__proto__`, `$` and dotted keys, `constructor`. */
      const tags = JSON.parse('{"tenant":"acme","__proto__":"p","$set":"1","a.b":"c","constructor":"k","empty":""}') as Record<string, string>;
      const clientOn = (store: Store) => createClient({ store, clock: new VirtualClock(T0) });
      const sameTags = (got: Readonly<Record<string, string>> | undefined) => {
        expect(got).toEqual(tags);
        expect(Object.keys(got!)).toEqual(Object.keys(tags));
        expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toBe('p');
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      };

      it('stores the tags of a start and hands them out as they were given, in reads, lists, claims and changes', async () => {
        const store = await open();
        const change = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 't')));
        await clientOn(store).startNew('Orch', { instanceId: 't', input: 1, tags });
        await clientOn(store).startNew('Orch', { instanceId: 'u', input: 2 });
        sameTags((await store.getInstance('t'))?.tags);
        expect((await store.getInstance('u'))?.tags).toBeUndefined();
        const listed = (await store.queryInstances({})).instances;
        sameTags(listed.find((s) => s.instanceId === 't')?.tags);
        expect(listed.find((s) => s.instanceId === 'u')?.tags).toBeUndefined();
        sameTags((await within(change, 'the start\'s change')).state?.tags);
        const item = await claimId(store, 't');
        sameTags(item.state.tags);
        // A step's state, built from the claimed one, keeps them.
        await commitStep(store, item, { runtimeStatus: 'Running' }, [started('t')]);
        sameTags((await store.getInstance('t'))?.tags);
      });

      it('keeps the tags through a continueAsNew, gives them to a sub-orchestration, and a restart starts with them', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'tags', {
          orchestrators: {
            TaggedParent: function* (ctx) {
              if (ctx.getInput<number>() === 0) {
                ctx.continueAsNew(1);
                return undefined;
              }
              return yield ctx.callSubOrchestrator('HelloSequence', undefined, `${ctx.instanceId}-child`);
            },
          },
        });
        const { client } = runtime;
        await client.startNew('TaggedParent', { instanceId: 'p', input: 0, tags });
        const done = await client.waitForCompletion('p', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', input: 1 });
        sameTags(done.tags);
        sameTags((await client.getStatus('p-child'))?.tags);
        await client.restart('p');
        sameTags((await store.getInstance('p'))?.tags);
        sameTags((await client.waitForCompletion('p', SETTLED)).tags);
        // A new start over the finished id is a new instance: the tags it was given, or none.
        await client.startNew('HelloSequence', { instanceId: 'p' });
        expect((await store.getInstance('p'))?.tags).toBeUndefined();
      });

      it('refuses tags that break the rules (400) and writes nothing', async () => {
        const store = await open();
        const client = clientOn(store);
        for (const bad of [{ n: 1 }, [], 'a=b', { '': 'x' }, { ['k'.repeat(129)]: 'v' }]) {
          await expect(client.startNew('Orch', { instanceId: 'bad', tags: bad as never })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(await store.getInstance('bad')).toBeUndefined();
      });
    });

    describe('a fork (DurableClient.fork)', () => {
      /** Activity runs by input, for a test to count. */
      const forkRuns = () => {
        const runs = new Map<string, number>();
        const Count: Activity = (input) => {
          runs.set(String(input), (runs.get(String(input)) ?? 0) + 1);
          return String(input).toUpperCase();
        };
        return { runs, Count, of: (input: string) => runs.get(input) ?? 0 };
      };
      /** Two activities, a wait for `go` (custom status `waiting`), a third activity. */
      const ForkSeq: Orchestrator = function* (ctx) {
        const a: unknown = yield ctx.callActivity('Count', 'a');
        const b: unknown = yield ctx.callActivity('Count', 'b');
        ctx.setCustomStatus('waiting');
        const go: unknown = yield ctx.waitForExternalEvent('go');
        const c: unknown = yield ctx.callActivity('Count', 'c');
        return [a, b, go, c, ctx.getInput()];
      };
      /** A sub-orchestration (id of the engine's), a timer, a fan-out of two activities. */
      const ForkTree: Orchestrator = function* (ctx) {
        const child: unknown = yield ctx.callSubOrchestrator('ForkSeqChild', undefined);
        yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1));
        const fan: unknown = yield ctx.Task.all([ctx.callActivity('Count', 'x'), ctx.callActivity('Count', 'y')]);
        return [child, fan];
      };
      const ForkSeqChild: Orchestrator = function* (ctx) {
        return yield ctx.callActivity('Count', 'child');
      };
      const forkRuntime = async (store: Store, count: Activity, more: Record<string, Orchestrator> = {}) => runtimeOn(store, `fork-${randomId()}`, {
        orchestrators: { ForkSeq, ForkTree, ForkSeqChild, ...more }, activities: { Count: count },
      });
      const waiting = (client: DurableClient, id: string) =>
        within(firstValueFrom(client.customStatus$(id).pipe(filter((v) => v === 'waiting'))), `${id} waiting for go`);
      const snapshot = async (store: Store, client: DurableClient, id: string) => ({
        status: await client.getStatus(id, { showHistory: true, showHistoryOutput: true }), version: (await store.getInstance(id))?.version,
      });

      it('keeps the first results of a running instance without running their activities again, runs the rest, and leaves the source as it was', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count);
        await client.startNew('ForkSeq', { instanceId: 'src', input: 'in', tags: { team: 't' } });
        await waiting(client, 'src');
        const before = await snapshot(store, client, 'src');
        expect(await client.fork('src', { newInstanceId: 'f1', keepResults: 1 })).toBe('f1');
        // Read-your-writes: the fork is there, Running, a top-level instance with the source's name, input and tags.
        const forked = (await client.getStatus('f1'))!;
        expect(forked).toMatchObject({ name: 'ForkSeq', runtimeStatus: 'Running', input: 'in', tags: { team: 't' } });
        expect(forked.parentInstanceId).toBeUndefined();
        await waiting(client, 'f1');
        await client.raiseEvent('f1', 'go', 'g');
        expect(await client.waitForCompletion('f1', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 'B', 'g', 'C', 'in'] });
        // `a` was kept (run once, by the source); `b` ran again in the fork; `c` ran in the fork only.
        expect([count.of('a'), count.of('b'), count.of('c')]).toEqual([1, 2, 1]);
        expect(await snapshot(store, client, 'src')).toEqual(before);
        await client.raiseEvent('src', 'go', 's');
        expect(await client.waitForCompletion('src', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 'B', 's', 'C', 'in'] });
      });

      it('forks an ended instance: keeping every result it completes again running no activity; keeping none it runs everything again', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count);
        await client.startNew('ForkSeq', { instanceId: 'done' });
        await waiting(client, 'done');
        await client.raiseEvent('done', 'go', 1);
        const done = await client.waitForCompletion('done', SETTLED);
        const all = await client.fork('done');
        expect(await client.waitForCompletion(all, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: done.output });
        expect([...count.runs.values()]).toEqual([1, 1, 1]);
        // None kept: a new start with the source's input, Pending as it resolves; the event `go` is raised to it again.
        await client.fork('done', { newInstanceId: 'again', keepResults: 0 });
        expect((await client.getStatus('again'))?.runtimeStatus).toBe('Pending');
        expect(await client.waitForCompletion('again', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 'B', 1, 'C', null] });
        expect([count.of('a'), count.of('b'), count.of('c')]).toEqual([2, 2, 2]);
        // A terminated instance: its fork goes on where it was stopped.
        await client.startNew('ForkSeq', { instanceId: 'stopped', input: 3 });
        await waiting(client, 'stopped');
        await client.terminate('stopped', 'enough');
        await client.waitForCompletion('stopped', SETTLED);
        const resumed = await client.fork('stopped', { newInstanceId: 'resumed' });
        await waiting(client, resumed);
        await client.raiseEvent(resumed, 'go', 'r');
        expect(await client.waitForCompletion(resumed, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 'B', 'r', 'C', 3] });
        expect((await client.getStatus('stopped'))?.runtimeStatus).toBe('Terminated');
        expect([count.of('a'), count.of('b')]).toEqual([3, 3]);
      });

      it('keeps a sub-orchestration\u2019s result and a fired timer, runs a fan-out again; keeping none starts the child anew as the fork\u2019s own', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count);
        await client.startNew('ForkTree', { instanceId: 'tree' });
        const done = await client.waitForCompletion('tree', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: ['CHILD', ['X', 'Y']] });
        // Results: the child's, the timer's, then x's and y's (in either order): keep the first two.
        await client.fork('tree', { newInstanceId: 'tree-2', keepResults: 2 });
        expect((await client.waitForCompletion('tree-2', SETTLED)).output).toEqual(done.output);
        expect([count.of('child'), count.of('x'), count.of('y')]).toEqual([1, 2, 2]);
        await client.fork('tree', { newInstanceId: 'tree-0', keepResults: 0 });
        expect((await client.waitForCompletion('tree-0', SETTLED)).output).toEqual(done.output);
        expect(count.of('child')).toBe(2);
        const children = (await client.listInstances({})).instances.filter((s) => s.parentInstanceId !== undefined);
        expect(children.map((s) => s.parentInstanceId).sort()).toEqual(['tree', 'tree-0']);
      });

      it('forks an instance that continued as new from its current execution, with that execution\u2019s input', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count, {
          Loop: function* (ctx) {
            const n = ctx.getInput<number>();
            const r: unknown = yield ctx.callActivity('Count', `loop${n}`);
            if (n < 2) {
              ctx.continueAsNew(n + 1);
              return undefined;
            }
            return r;
          },
        });
        await client.startNew('Loop', { instanceId: 'loop', input: 0 });
        await client.waitForCompletion('loop', SETTLED);
        const fork = await client.fork('loop');
        expect(await client.waitForCompletion(fork, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'LOOP2', input: 2 });
        expect([count.of('loop0'), count.of('loop2')]).toEqual([1, 1]);
      });

      it('replays the kept sub-orchestrations named by newGuid(), and names with GUIDs of its own the children its own steps call, a fork of a fork too', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count, {
          Guids: function* (ctx) {
            const first = ctx.newGuid();
            yield ctx.callSubOrchestrator('ForkSeqChild', undefined, first);
            const second = ctx.newGuid();
            yield ctx.callSubOrchestrator('ForkSeqChild', undefined, second);
            const third = ctx.newGuid();
            yield ctx.callSubOrchestrator('ForkSeqChild', undefined, third);
            return [first, second, third];
          },
        });
        await client.startNew('Guids', { instanceId: 'guids' });
        const [first, second, third] = (await client.waitForCompletion('guids', SETTLED)).output as string[];
        // The first child is kept (its call not made again), the others are the fork's own.
        await client.fork('guids', { newInstanceId: 'guids-1', keepResults: 1 });
        const forked = await client.waitForCompletion('guids-1', SETTLED);
        expect(forked.runtimeStatus).toBe('Completed');
        const [, forkSecond, forkThird] = forked.output as string[];
        expect(forked.output).toEqual([first, expect.any(String), expect.any(String)]);
        expect(new Set([second, third, forkSecond, forkThird]).size).toBe(4);
        // A fork of the fork keeps a child named in the source and one named in the first fork.
        await client.fork('guids-1', { newInstanceId: 'guids-2', keepResults: 2 });
        const again = await client.waitForCompletion('guids-2', SETTLED);
        expect(again).toMatchObject({ runtimeStatus: 'Completed', output: [first, forkSecond, expect.any(String)] });
        expect(count.of('child')).toBe(3 + 2 + 1);
        const parents = (await client.listInstances({})).instances.filter((s) => s.parentInstanceId !== undefined).map((s) => s.parentInstanceId);
        expect(parents.sort()).toEqual(['guids', 'guids', 'guids', 'guids-1', 'guids-1', 'guids-2']);
      });

      it('runs the sub-orchestrations a copied step calls again, named by newGuid(), under ids of its own: a fan-out cut in the middle neither collides with the source\u2019s running children nor replaces its ended ones', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count, {
          // Three children named by GUIDs (one an id built from a GUID), called at once; each waits for `go`.
          GuidFan: function* (ctx) {
            const ids = [ctx.newGuid(), `job-${ctx.newGuid()}`, ctx.newGuid()];
            ctx.setCustomStatus(ids);
            return yield ctx.Task.all(ids.map((id, i) => ctx.callSubOrchestrator('HeldChild', i, id)));
          },
          HeldChild: function* (ctx) {
            yield ctx.waitForExternalEvent('go');
            return ctx.getInput();
          },
        });
        // The ids of the children an instance called, in the order of its history (the kept calls first).
        const children = (id: string) => within(firstValueFrom(client.history$(id).pipe(
          filter((e) => e.type === 'SubOrchestrationInstanceCreated'), take(3), toArray(),
        )), `${id} calling its children`).then((events) => events.map((e) => (e as { instanceId: string }).instanceId));
        // Raises `go` to each child in turn, each once the parent took the result of the one before (results in that order).
        const release = async (parent: string, taken: number, ids: readonly string[]) => {
          for (const [i, id] of ids.entries()) {
            await client.raiseEvent(id, 'go');
            await within(firstValueFrom(client.history$(parent).pipe(
              filter((e) => e.type === 'SubOrchestrationInstanceCompleted'), take(taken + i + 1), toArray(),
            )), `${parent} taking the result of ${id}`);
          }
        };
        await client.startNew('GuidFan', { instanceId: 'fan' });
        const ids = await children('fan');
        expect(ids[1]).toMatch(/^job-/);
        // The first child ends and the source takes its result: the other two run on, and the fork keeps that result only.
        await release('fan', 0, ids.slice(0, 1));
        await client.fork('fan', { newInstanceId: 'fan-1', keepResults: 1 });
        const [kept, ...own] = await children('fan-1');
        expect(kept).toBe(ids[0]);
        // The two calls made again run as children of the fork under ids of its own (an id built from a GUID keeps its shape).
        expect(own.filter((id) => ids.includes(id))).toEqual([]);
        expect(own[0]).toMatch(/^job-/);
        for (const id of own) expect((await client.getStatus(id))?.parentInstanceId).toBe('fan-1');
        for (const id of ids.slice(1)) expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Running', parentInstanceId: 'fan' });
        await release('fan-1', 1, own);
        expect(await client.waitForCompletion('fan-1', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [0, 1, 2] });
        await release('fan', 1, ids.slice(1));
        expect(await client.waitForCompletion('fan', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [0, 1, 2] });
        // Another fork of the ended source: ids of its own again, the source's ended children left as they were.
        await client.fork('fan', { newInstanceId: 'fan-2', keepResults: 1 });
        const again = (await children('fan-2')).slice(1);
        expect(new Set([...ids, ...own, ...again]).size).toBe(7);
        for (const id of ids.slice(1)) expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'fan' });
        await release('fan-2', 1, again);
        expect(await client.waitForCompletion('fan-2', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [0, 1, 2] });
        // A fork of the first fork keeping its first own child's result replays that call under the id the first fork gave
        // it, and calls the last child under an id of its own.
        await client.fork('fan-1', { newInstanceId: 'fan-1-1', keepResults: 2 });
        const third = await children('fan-1-1');
        expect(third.slice(0, 2)).toEqual([ids[0], own[0]]);
        expect([...ids, ...own, ...again]).not.toContain(third[2]);
        await release('fan-1-1', 2, third.slice(2));
        expect(await client.waitForCompletion('fan-1-1', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [0, 1, 2] });
        expect(await client.getStatus(own[1]!)).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'fan-1' });
      });

      it('raises to the fork the external events it does not keep, after the kept results and in the order the source received them, unless reapplyEvents is false', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count, {
          // An activity, then three events `e` in the order they come, then one `f`.
          Events: function* (ctx) {
            const a: unknown = yield ctx.callActivity('Count', 'a');
            const got: unknown[] = [a];
            ctx.setCustomStatus(got.length);
            for (let i = 0; i < 3; i++) {
              got.push(yield ctx.waitForExternalEvent('e'));
              ctx.setCustomStatus(got.length);
            }
            got.push(yield ctx.waitForExternalEvent('f'));
            return got;
          },
        });
        await client.startNew('Events', { instanceId: 'ev' });
        // Raised once the activity's result is in: it is the first result.
        await within(firstValueFrom(client.customStatus$('ev').pipe(filter((v) => v === 1))), 'the activity\u2019s result taken');
        for (const [name, data] of [['e', 1], ['f', 'F'], ['e', 2], ['e', 3]] as const) await client.raiseEvent('ev', name, data);
        expect(await client.waitForCompletion('ev', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 1, 2, 3, 'F'] });
        // Results in the order received: a, e 1, f, e 2, e 3. Keeping two, f, e 2 and e 3 are raised to the fork again.
        await client.fork('ev', { newInstanceId: 'ev-2', keepResults: 2 });
        expect(await client.waitForCompletion('ev-2', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 1, 2, 3, 'F'] });
        // Raised again at the fork's time (that of its ExecutionRewound), as new events of the fork; the kept one keeps its own.
        const forked = (await client.getStatus('ev-2', { showHistory: true, showHistoryOutput: true }))?.history ?? [];
        const rewound = forked.findIndex((e) => e.type === 'ExecutionRewound');
        const raisedAgain = forked.slice(rewound).filter((e) => e.type === 'EventRaised');
        expect(raisedAgain.map((e) => (e as { input?: unknown }).input)).toEqual([1, 'F', 2, 3]);
        expect(raisedAgain.slice(1).map((e) => e.timestamp)).toEqual(Array(3).fill(forked[rewound]!.timestamp));
        const sourceHistory = (await client.getStatus('ev', { showHistory: true, showHistoryOutput: true }))?.history ?? [];
        expect(raisedAgain[0]!.timestamp).toBe(sourceHistory.find((e) => e.type === 'EventRaised')!.timestamp);
        // Keeping none: a new start, every event raised behind it (the activity runs again).
        await client.fork('ev', { newInstanceId: 'ev-0', keepResults: 0 });
        expect(await client.waitForCompletion('ev-0', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 1, 2, 3, 'F'] });
        expect(count.of('a')).toBe(2);
        // Left out: the fork waits for the second `e`, which the caller raises.
        await client.fork('ev', { newInstanceId: 'ev-own', keepResults: 2, reapplyEvents: false });
        await within(firstValueFrom(client.customStatus$('ev-own').pipe(filter((v) => v === 2))), 'the fork taking its kept event');
        for (const [name, data] of [['e', 'x'], ['e', 'y'], ['f', 'z']] as const) await client.raiseEvent('ev-own', name, data);
        expect(await client.waitForCompletion('ev-own', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 1, 'x', 'y', 'z'] });
        expect(count.of('a')).toBe(2);
        expect((await client.getStatus('ev'))?.output).toEqual(['A', 1, 2, 3, 'F']);
      });

      it('forks an instance whose kept results all came with its start into a start with those results behind it', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count, {
          First: function* (ctx) {
            const go: unknown = yield ctx.waitForExternalEvent('go');
            ctx.setCustomStatus('waiting');
            const more: unknown = yield ctx.waitForExternalEvent('more');
            return [go, more, ctx.getInput()];
          },
        });
        await client.signalWithStart('First', { instanceId: 'sw', input: 'in', eventName: 'go', eventData: 1 });
        await waiting(client, 'sw');
        await client.fork('sw', { newInstanceId: 'sw-2', keepResults: 1 });
        expect(await client.getStatus('sw-2')).toMatchObject({ runtimeStatus: 'Pending', input: 'in' });
        await waiting(client, 'sw-2');
        await client.raiseEvent('sw-2', 'more', 'm');
        expect(await client.waitForCompletion('sw-2', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'm', 'in'] });
        const done = await client.getStatus('sw-2', { showHistory: true });
        expect(done?.history?.filter((e) => e.type === 'ExecutionStarted' || e.type === 'ExecutionRewound')).toMatchObject([{ type: 'ExecutionStarted', instanceId: 'sw-2' }]);
        expect((await client.getStatus('sw'))?.runtimeStatus).toBe('Running');
      });

      it('refuses an unknown source (404), a bad id, keepResults or reapplyEvents (400), and a taken id (409), writing nothing', async () => {
        const store = await open();
        const count = forkRuns();
        const { client } = await forkRuntime(store, count.Count);
        await client.startNew('ForkSeq', { instanceId: 'src' });
        await waiting(client, 'src');
        await client.startNew('ForkSeq', { instanceId: 'other' });
        const before = (await client.listInstances({})).instances.map((s) => s.instanceId).sort();
        await expect(client.fork('nobody')).rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
        for (const options of [{ keepResults: 3 }, { keepResults: -1 }, { keepResults: 1.5 }, { newInstanceId: 'a/b' }, { newInstanceId: '' }, { reapplyEvents: 'no' }, 'x']) {
          await expect(client.fork('src', options as never), JSON.stringify(options)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        await expect(client.fork('src', { newInstanceId: 'src' })).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        await expect(client.fork('src', { newInstanceId: 'other', keepResults: 2 })).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect((await client.listInstances({})).instances.map((s) => s.instanceId).sort()).toEqual(before);
        // Two results recorded: keeping both is taken.
        expect(await client.fork('src', { keepResults: 2, newInstanceId: 'both' })).toBe('both');
      });
    });

    describe('signal-with-start (CreateInstanceWrite.signal)', () => {
      /** A client's signal-with-start of `request` with the event `name` (`data`), as decideSignalWithStart writes it. */
      const signalWithStart = (store: Store, request: CreateInstanceRequest, name: string, data?: unknown) =>
        store.commit({ requests: [{ type: 'createInstance', ...request, ifRunning: { kind: 'fail' }, signal: message(request.state.instanceId, eventRaised(name, data)) }] });
      const eventsOf = (item: OrchestrationWorkItem) => item.messages.map((m) => m.event);

      it('starts an absent id and buffers the event after its start message', async () => {
        const store = await open();
        await signalWithStart(store, newInstance('a', { input: 'in' }), 'Add', 1);
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', input: 'in', executionId: 'exec-1', version: 1 });
        expect(eventsOf(await claim(store))).toMatchObject([{ type: 'ExecutionStarted', input: 'in' }, { type: 'EventRaised', name: 'Add', input: 1 }]);
      });

      it('delivers the event to an active instance and starts nothing: its execution, input and version stay', async () => {
        const store = await open();
        await create(store, newInstance('a', { input: 1 }));
        await signalWithStart(store, newInstance('a', { input: 2, executionId: 'exec-2' }), 'Add', 'x');
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', input: 1, executionId: 'exec-1', version: 1 });
        expect(eventsOf(await claim(store))).toMatchObject([
          { type: 'ExecutionStarted', input: 1, executionId: 'exec-1' }, { type: 'EventRaised', name: 'Add', input: 'x' },
        ]);
      });

      it('replaces a terminal instance with a new execution that gets the event', async () => {
        const store = await open();
        await create(store, newInstance('a', { input: 'first' }));
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed', output: 'done' }, [started('a'), completedEvent()]);
        await signalWithStart(store, newInstance('a', { input: 'second', executionId: 'exec-2' }), 'Add');
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', input: 'second', executionId: 'exec-2', version: 3 });
        expect(await store.getHistory('a')).toEqual([]);
        expect(eventsOf(await claim(store))).toMatchObject([{ type: 'ExecutionStarted', executionId: 'exec-2' }, { type: 'EventRaised', name: 'Add' }]);
      });

      it('starts one execution for two that race over one id, and delivers both events', async () => {
        const store = await open();
        await Promise.all([
          signalWithStart(store, newInstance('race', { input: 1, executionId: 'exec-1' }), 'Add', 1),
          signalWithStart(store, newInstance('race', { input: 2, executionId: 'exec-2' }), 'Add', 2),
        ]);
        const state = await store.getInstance('race');
        expect(state).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
        const events = eventsOf(await claim(store));
        expect(events).toHaveLength(3);
        expect(events[0]).toMatchObject({ type: 'ExecutionStarted', executionId: state!.executionId, input: state!.input });
        expect(events.slice(1).map((e) => e.type === 'EventRaised' && e.input).sort()).toEqual([1, 2]);
      });

      it('runs an orchestration once for signal-with-starts that race, each event reaching it, and again after it finished', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Collect: function* (ctx) {
              const items: unknown[] = [ctx.getInput()];
              for (let i = 0; i < 3; i++) items.push(yield ctx.waitForExternalEvent('Add'));
              return items;
            },
          },
        });
        const { client } = runtime;
        const ids = await Promise.all([1, 2, 3].map((n) => client.signalWithStart('Collect', { instanceId: 'cart', input: `in-${n}`, eventName: 'add', eventData: n })));
        expect(ids).toEqual(['cart', 'cart', 'cart']);
        const done = await client.waitForCompletion('cart', SETTLED);
        expect(done.runtimeStatus).toBe('Completed');
        const [input, ...items] = done.output as unknown[];
        expect(['in-1', 'in-2', 'in-3']).toContain(input);
        expect(items.sort()).toEqual([1, 2, 3]);
        // Over the finished instance: a new execution, with the new input and the event.
        await client.signalWithStart('Collect', { instanceId: 'cart', input: 'again', eventName: 'Add', eventData: 4 });
        await client.raiseEvent('cart', 'Add', 5);
        await client.raiseEvent('cart', 'Add', 6);
        expect(await client.waitForCompletion('cart', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['again', 4, 5, 6] });
      }, 60_000);

      if (options.shared) {
        it('starts one execution when two handles signal-with-start one id at once, both events delivered', async () => {
          const db = `shared-${randomId()}`;
          const a = await open(db);
          const b = await open(db);
          await Promise.all([
            signalWithStart(a, newInstance('s', { input: 1, executionId: 'exec-1' }), 'Add', 1),
            signalWithStart(b, newInstance('s', { input: 2, executionId: 'exec-2' }), 'Add', 2),
          ]);
          expect(await a.getInstance('s')).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
          const events = eventsOf(await claim(b));
          expect(events.map((e) => e.type)).toEqual(['ExecutionStarted', 'EventRaised', 'EventRaised']);
          expect(events.slice(1).map((e) => e.type === 'EventRaised' && e.input).sort()).toEqual([1, 2]);
        });
      }
    });

    describe('events raised with an idempotency key', () => {
      const raised = (item: OrchestrationWorkItem) => item.messages.filter((m) => m.event.type === 'EventRaised').map((m) => (m.event as { input?: unknown }).input);

      it("delivers a keyed raise once however often it is repeated, whatever the repeat's name and data; raises without a key are all delivered", async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const client = createClient({ store });
        await client.raiseEvent('a', 'go', 1, { idempotencyKey: 'k1' });
        await client.raiseEvent('a', 'go', 1, { idempotencyKey: 'k1' });
        await client.raiseEvent('a', 'other', 2, { idempotencyKey: 'k1' });
        await client.raiseEvent('a', 'go', 3, { idempotencyKey: 'k2' });
        await client.raiseEvent('a', 'go', 4);
        await client.raiseEvent('a', 'go', 4);
        const item = await claim(store);
        expect(raised(item)).toEqual([1, 3, 4, 4]);
        // The keys are bookkeeping: the status did not change.
        expect(item.state).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
        expect(await client.getStatus('a')).not.toHaveProperty('raisedEventKeys');
      });

      it('delivers nothing for a repeat of an event consumed into history, nor of one raised while the step that consumed the first was in flight', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const client = createClient({ store });
        await client.raiseEvent('a', 'go', 1, { idempotencyKey: 'k1' });
        const item = await claim(store);
        // Raised after the claim: the step below was decided from a state without this key, and must not drop it.
        await client.raiseEvent('a', 'go', 2, { idempotencyKey: 'k2' });
        await commitStep(store, item, { runtimeStatus: 'Running' }, [started('a'), { ...eventRaised('go', 1), eventId: -1 }]);
        await client.raiseEvent('a', 'go', 'again', { idempotencyKey: 'k1' });
        await client.raiseEvent('a', 'go', 'again', { idempotencyKey: 'k2' });
        const next = await claim(store, 'w1', at(60_000));
        expect(raised(next)).toEqual([2]);
      });

      it('delivers once when raises with one key race, from one handle or several', async () => {
        const db = `conformance-${randomId()}`;
        const store = await open(db);
        await create(store, newInstance('a'));
        const clients = [createClient({ store }), createClient({ store: options.shared ? await open(db) : store })];
        await Promise.all(Array.from({ length: 6 }, (_, i) => clients[i % 2]!.raiseEvent('a', 'go', i, { idempotencyKey: 'race' })));
        expect(raised(await claim(store))).toHaveLength(1);
      });

      it('resolves a repeat to an instance that finished since, refusing a new key (410) and writing nothing', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const client = createClient({ store });
        await client.raiseEvent('a', 'go', 1, { idempotencyKey: 'k1' });
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed', output: 'done' }, [started('a'), completedEvent()]);
        const finished = await store.getInstance('a');
        await client.raiseEvent('a', 'go', 1, { idempotencyKey: 'k1' });
        await expect(client.raiseEvent('a', 'go', 3, { idempotencyKey: 'k3' })).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
        expect(await store.getInstance('a')).toEqual(finished);
        expect(await claimNothingOr(store)).toBeUndefined();
      });

      it(`remembers the keys across a new execution of the id, and the latest ${MAX_REMEMBERED_EVENT_KEYS} only`, async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const client = createClient({ store });
        await client.raiseEvent('a', 'go', 'first', { idempotencyKey: 'k1' });
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, [started('a'), completedEvent()]);
        await create(store, newInstance('a', { executionId: 'exec-2' }));
        await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'k1' });
        for (let i = 0; i < MAX_REMEMBERED_EVENT_KEYS; i++) await client.raiseEvent('a', 'n', i, { idempotencyKey: `n-${i}` });
        // k1 is the oldest of MAX + 1 keys: forgotten, so its repeat is delivered; the latest are still known.
        await client.raiseEvent('a', 'go', 'forgotten', { idempotencyKey: 'k1' });
        await client.raiseEvent('a', 'n', 'repeat', { idempotencyKey: `n-${MAX_REMEMBERED_EVENT_KEYS - 1}` });
        const item = await claim(store, 'w1', at(60_000));
        expect(item.state.executionId).toBe('exec-2');
        expect(raised(item)).toEqual([...Array.from({ length: MAX_REMEMBERED_EVENT_KEYS }, (_, i) => i), 'forgotten']);
      });

      it('forgets the keys of a purged instance: a raise with one of them to a new instance of the id is delivered', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const client = createClient({ store });
        await client.raiseEvent('a', 'go', 'first', { idempotencyKey: 'k1' });
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, [started('a'), completedEvent()]);
        expect(await store.purgeInstance('a')).toBe(1);
        await create(store, newInstance('a', { executionId: 'exec-2' }));
        await client.raiseEvent('a', 'go', 'after the purge', { idempotencyKey: 'k1' });
        expect(raised(await claim(store, 'w1', at(60_000)))).toEqual(['after the purge']);
      });

      it('forgets the keys of instances purged by a filter or as a set, in the purge: a raise with one of them to a new instance of the id is delivered', async () => {
        const store = await open();
        const client = createClient({ store });
        for (const id of ['by-filter', 'as-set']) {
          await create(store, newInstance(id, { name: id === 'by-filter' ? 'ByFilter' : 'Orch' }));
          await client.raiseEvent(id, 'go', 'first', { idempotencyKey: 'k1' });
          await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, [started(id), completedEvent()]);
        }
        expect(await store.purgeInstances({ createdTimeFrom: new Date(0), name: ['ByFilter'] })).toBe(1);
        const member = (await store.getInstance('as-set'))!;
        expect(await store.purgeInstanceSet([{ instanceId: 'as-set', executionId: member.executionId, version: member.version }])).toEqual({ instancesDeleted: 1 });
        for (const id of ['by-filter', 'as-set']) {
          await create(store, newInstance(id, { executionId: 'exec-2' }));
          await client.raiseEvent(id, 'go', 'after the purge', { idempotencyKey: 'k1' });
          expect(raised(await claim(store, 'w1', at(60_000))), id).toEqual(['after the purge']);
        }
      });

      it('remembers the keys when the instance continues as new', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const client = createClient({ store });
        await client.raiseEvent('a', 'go', 'first', { idempotencyKey: 'k1' });
        // The step that continues it as new: the next execution's state, its history begun again.
        await commitStep(store, await claim(store), { runtimeStatus: 'Running', executionId: 'exec-2' }, [], { replaceHistory: true });
        await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'k1' });
        await client.raiseEvent('a', 'go', 'new', { idempotencyKey: 'k2' });
        const after = await claim(store, 'w1', at(60_000));
        expect(after.state.executionId).toBe('exec-2');
        expect(raised(after)).toEqual(['new']);
      });

      it('leaves the state as it was for a keyed raise, and publishes no change for it', async () => {
        const store = await open();
        await create(store, newInstance('a', { input: { rows: Array.from({ length: 100 }, (_, i) => i) } }));
        const before = await store.getInstance('a');
        const client = createClient({ store });
        // The first change the feed delivers after the raises is the start of 'b': the raises published none.
        const first = firstValueFrom(store.changes$);
        await client.raiseEvent('a', 'go', 1, { idempotencyKey: 'k1' });
        await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'k1' });
        await client.signalWithStart('Orch', { instanceId: 'a', eventName: 'go', eventData: 2, idempotencyKey: 'k2' });
        await create(store, newInstance('b'));
        expect((await within(first, 'the start of b')).instanceId).toBe('b');
        expect(await store.getInstance('a')).toEqual(before);
        expect(raised(await claim(store))).toEqual([1, 2]);
      });

      it('keeps the keys through a signal-with-start, delivered to the instance or starting the id anew over a finished one', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const client = createClient({ store });
        await client.raiseEvent('a', 'go', 1, { idempotencyKey: 'k1' });
        await client.signalWithStart('Orch', { instanceId: 'a', eventName: 'go', eventData: 2 });
        await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'k1' });
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, [started('a'), completedEvent()]);
        await client.signalWithStart('Orch', { instanceId: 'a', eventName: 'go', eventData: 3 });
        await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'k1' });
        const item = await claim(store, 'w1', at(60_000));
        expect(item.state).toMatchObject({ runtimeStatus: 'Pending' });
        expect(item.state.executionId).not.toBe('exec-1');
        expect(raised(item)).toEqual([3]);
      });

      it('starts and delivers a keyed signal-with-start once however often it is repeated, also after the instance finished, and shares its keys with raises', async () => {
        const store = await open();
        const client = createClient({ store });
        const signal = (data: unknown, idempotencyKey: string) => client.signalWithStart('Orch', { instanceId: 's', eventName: 'go', eventData: data, idempotencyKey });
        expect(await signal(1, 'sk')).toBe('s');
        expect(await signal('again', 'sk')).toBe('s');
        await client.raiseEvent('s', 'go', 'raised with its key', { idempotencyKey: 'sk' });
        await client.raiseEvent('s', 'go', 2, { idempotencyKey: 'rk' });
        await signal('signalled with a raise key', 'rk');
        const item = await claim(store);
        expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised', 'EventRaised']);
        expect(raised(item)).toEqual([1, 2]);
        expect(item.state.version).toBe(1);
        await commitStep(store, item, { runtimeStatus: 'Completed' }, [started('s'), completedEvent()]);
        const finished = await store.getInstance('s');
        // A repeat after the instance finished starts nothing over it; a new key does.
        expect(await signal('late repeat', 'sk')).toBe('s');
        expect(await store.getInstance('s')).toEqual(finished);
        expect(await claimNothingOr(store)).toBeUndefined();
        await signal(3, 'sk-2');
        const next = await claim(store, 'w1', at(60_000));
        expect(next.state.version).toBe(finished!.version + 1);
        expect(raised(next)).toEqual([3]);
      });

      it('starts once and delivers once when keyed signal-with-starts with one key race, from one handle or several', async () => {
        const db = `conformance-${randomId()}`;
        const store = await open(db);
        const clients = [createClient({ store }), createClient({ store: options.shared ? await open(db) : store })];
        await Promise.all(Array.from({ length: 6 }, (_, i) =>
          clients[i % 2]!.signalWithStart('Orch', { instanceId: 'r', input: i, eventName: 'go', eventData: i, idempotencyKey: 'race' })));
        const item = await claim(store);
        expect(item.state.version).toBe(1);
        expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
      });

      it("refuses a signal-with-start's malformed key (400), writing nothing", async () => {
        const store = await open();
        const client = createClient({ store });
        for (const idempotencyKey of ['', 'has space', 'x'.repeat(129), 'é']) {
          await expect(client.signalWithStart('Orch', { instanceId: 'bad', eventName: 'go', idempotencyKey }))
            .rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(await store.getInstance('bad')).toBeUndefined();
      });

      it("refuses a write set's malformed key (400), writing nothing", async () => {
        const store = await open();
        await create(store, newInstance('a'));
        for (const idempotencyKey of ['', 'has space', 'x'.repeat(129), 'é']) {
          await expect(store.commit({ requests: [{ type: 'insertMessage', message: message('a', eventRaised('go')), ifMissing: 'fail', idempotencyKey }] }))
            .rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(raised(await claim(store))).toEqual([]);
      });

      it('delivers a repeated raise once to an orchestrator that a runtime runs', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            TwoEvents: function* (ctx) {
              const first: unknown = yield ctx.waitForExternalEvent('go');
              const second: unknown = yield ctx.waitForExternalEvent('go');
              return [first, second];
            },
          },
        });
        const client = runtime.client;
        await client.startNew('TwoEvents', { instanceId: 'two' });
        await client.raiseEvent('two', 'go', 'a', { idempotencyKey: 'k-a' });
        await within(firstValueFrom(client.history$('two').pipe(filter((e) => e.type === 'EventRaised'))), 'the first event recorded');
        await client.raiseEvent('two', 'go', 'a again', { idempotencyKey: 'k-a' });
        await client.raiseEvent('two', 'go', 'b', { idempotencyKey: 'k-b' });
        expect(await client.waitForCompletion('two', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b'] });
      });
    });

    describe('messages and orchestration work items', () => {
      it('refuses a message to an unknown instance', async () => {
        const store = await open();
        await expect(send(store, message('nobody', eventRaised('x')))).rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
      });

      it('refuses, writing nothing, a command whose instance finished between the client\'s read and the commit', async () => {
        const store = await open();
        const running = await runningInstance(store, 'a', []);
        const seen = await store.getInstance('a'); // what a client read before sending: Running
        expect(seen?.runtimeStatus).toBe('Running');
        await forceState(store, running, { runtimeStatus: 'Completed' }); // the instance finishes meanwhile
        const finished = await store.getInstance('a');
        const command = message('a', { type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString() });
        await expect(store.commit({
          requests: [{ type: 'insertMessage', message: command, ifMissing: 'fail', requires: { status: 'running', operation: 'terminate' } }],
        })).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
        expect(await store.getInstance('a')).toEqual(finished);
        expect(await claimNothingOr(store)).toBeUndefined();
        // A restart of an instance that is active again is refused the same way (409), creating nothing.
        await create(store, newInstance('a', { executionId: 'exec-2' }));
        const restart = newInstance('b');
        await expect(store.commit({
          requests: [{ type: 'createInstance', ...restart, ifRunning: { kind: 'fail' }, requires: { instanceId: 'a', status: 'terminal', operation: 'restart' } }],
        })).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        expect(await store.getInstance('b')).toBeUndefined();
      });

      it('hands out messages of one instance in arrival order under a lease', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        for (let i = 0; i < 5; i++) await send(store, message('a', eventRaised('e', i)));
        const item = await claim(store);
        expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised', 'EventRaised', 'EventRaised', 'EventRaised', 'EventRaised']);
        expect(item.messages.slice(1).map((m) => (m.event as { input?: unknown }).input)).toEqual([0, 1, 2, 3, 4]);
        expect(item.lease.owner).toBe('w1');
        expect(item.lease.expiresAt.getTime()).toBe(T0.getTime() + 30_000);
      });

      it('gives a leased instance to nobody else until the lease expires', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const first = await claim(store, 'w1', T0);
        expect(await store.claimOrchestration({ owner: 'w2', leaseMs: 30_000, now: at(29_999) })).toBeUndefined();
        const takeover = await store.claimOrchestration({ owner: 'w2', leaseMs: 30_000, now: at(30_001) });
        expect(takeover?.state.instanceId).toBe('a');
        expect(takeover?.lease.token).not.toBe(first.lease.token);
      });

      it('gives one instance to only one of two concurrent claimers', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const [x, y] = await Promise.all([
          store.claimOrchestration({ owner: 'w1', leaseMs: 30_000, now: T0 }),
          store.claimOrchestration({ owner: 'w2', leaseMs: 30_000, now: T0 }),
        ]);
        expect([x, y].filter(Boolean)).toHaveLength(1);
      });

      it('refuses a commit whose lease was taken over, writing nothing', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const stale = await claim(store, 'w1', T0);
        const fresh = await claim(store, 'w2', at(31_000));
        const staleCommit = commitOf(stale.state, stale.lease.token, {
          consumedMessageIds: stale.messages.map((m) => m.id),
          state: { ...stale.state, runtimeStatus: 'Running', version: stale.state.version + 1, historyLength: 1 },
          history: [started('a')],
          activityTasks: [activityTask('a', 'task-stale')],
        });
        await expect(store.commit(staleCommit)).rejects.toMatchObject({ code: 'lease-lost' });
        expect((await store.getInstance('a'))?.runtimeStatus).toBe('Pending');
        expect(await store.getHistory('a')).toEqual([]);
        expect(await store.claimActivity({ owner: 'w3', leaseMs: 1000, now: at(31_000) })).toBeUndefined();
        await store.commit(commitOf(fresh.state, fresh.lease.token, {
          consumedMessageIds: fresh.messages.map((m) => m.id),
          state: { ...fresh.state, runtimeStatus: 'Running', version: fresh.state.version + 1, historyLength: 1 },
          history: [started('a')],
        }));
        expect((await store.getInstance('a'))?.runtimeStatus).toBe('Running');
      });

      it('ignores an abandon under a lease that was taken over: the new holder keeps the instance', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const stale = await claim(store, 'w1', T0);
        const fresh = await claim(store, 'w2', at(31_000));
        await store.abandonOrchestration('a', stale.lease.token);
        expect(await store.claimOrchestration({ owner: 'w3', leaseMs: 30_000, now: at(32_000) })).toBeUndefined();
        await store.abandonOrchestration('a', fresh.lease.token);
        expect((await store.claimOrchestration({ owner: 'w3', leaseMs: 30_000, now: at(32_000) }))?.state.instanceId).toBe('a');
      });

      it('signals work when an abandon releases a lease', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const item = await claim(store);
        const signalled = within(firstValueFrom(store.workAvailable$), 'a work signal after the abandon');
        await store.abandonOrchestration('a', item.lease.token);
        await signalled;
      });

      it('writes nothing of a step whose write set is refused by a later request (a sub-instance id that is running)', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        await create(store, newInstance('busy'));
        const item = await claimId(store, 'a');
        const writeSet = commitOf(item.state, item.lease.token, {
          consumedMessageIds: item.messages.map((m) => m.id),
          state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1, historyLength: 1 },
          history: [started('a')],
          activityTasks: [activityTask('a', 'task-refused')],
        });
        const refused: WriteSet = {
          ...writeSet,
          requests: [...writeSet.requests, { type: 'createInstance', ...newInstance('busy', { input: 2 }), ifRunning: { kind: 'fail' } }],
        };
        await expect(store.commit(refused)).rejects.toMatchObject({ code: 'instance-already-exists' });
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', version: item.state.version, historyLength: 0 });
        expect(await store.getHistory('a')).toEqual([]);
        expect((await store.getInstance('busy'))?.input).toBeUndefined();
        expect(await store.claimActivity({ owner: 'w3', leaseMs: 1000, now: T0 })).toBeUndefined();
        await store.commit(writeSet); // the lease is still held: the step as it should have been goes through
        expect(await store.getHistory('a')).toEqual([started('a')]);
      });

      it('commits a step atomically: history, state, consumed messages, tasks, timers, sub-instances and messages', async () => {
        const store = await open();
        await create(store, newInstance('parent'));
        await create(store, newInstance('other'));
        await create(store, newInstance('busy-child'));
        const item = await claimId(store, 'parent');
        await send(store, message('parent', eventRaised('late')));
        await store.commit(commitOf(item.state, item.lease.token, {
          consumedMessageIds: item.messages.map((m) => m.id),
          state: { ...item.state, runtimeStatus: 'Running', customStatus: { step: 1 }, version: item.state.version + 1, historyLength: 2 },
          history: [started('parent'), { type: 'TaskScheduled', eventId: 0, timestamp: T0.toISOString(), name: 'Act' }],
          activityTasks: [activityTask('parent', 'task-1')],
          messages: [
            { ...message('parent', { type: 'TimerFired', eventId: -1, timestamp: at(60_000).toISOString(), timerId: 1, fireAt: at(60_000).toISOString() }), visibleAt: at(60_000) },
            message('other', eventRaised('hello', 'from parent')),
            message('ghost', eventRaised('dropped')),
          ],
          subInstances: [subInstance('child', 'parent'), subInstance('busy-child', 'parent')],
        }));
        const state = await store.getInstance('parent');
        expect(state).toMatchObject({ runtimeStatus: 'Running', customStatus: { step: 1 }, historyLength: 2 });
        expect((await store.getHistory('parent')).map((e) => e.type)).toEqual(['ExecutionStarted', 'TaskScheduled']);
        expect(await store.getInstance('child')).toMatchObject({ runtimeStatus: 'Pending', parentInstanceId: 'parent' });
        expect(await store.getInstance('ghost')).toBeUndefined();
        const task = await store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 });
        expect(task?.task).toMatchObject({ id: 'task-1', name: 'Act', instanceId: 'parent' });
        // The parent has the late event and the conflict notice now; the timer only after it is due.
        const next = await claimId(store, 'parent', T0);
        const types = next.messages.map((m) => m.event.type);
        expect(types).toContain('EventRaised');
        expect(types).toContain('SubOrchestrationInstanceFailed');
        expect(types).not.toContain('TimerFired');
        expect(await store.nextWakeTime(T0)).toBeDefined();
        const other = await claimId(store, 'other', T0);
        expect(other.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
      });

      /** A store whose instance 'a' is Running with one durable timer message due at `at(5000)`. */
      async function storeWithTimerAt5000(): Promise<Store> {
        const store = await open();
        await create(store, newInstance('a'));
        const item = await claim(store);
        await store.commit(commitOf(item.state, item.lease.token, {
          consumedMessageIds: item.messages.map((m) => m.id),
          state: { ...item.state, runtimeStatus: 'Running', version: 2, historyLength: 1 },
          history: [started('a')],
          messages: [{ ...message('a', { type: 'TimerFired', eventId: -1, timestamp: at(5000).toISOString(), timerId: 0, fireAt: at(5000).toISOString() }), visibleAt: at(5000) }],
        }));
        return store;
      }

      it('keeps delayed messages back until they are due and reports when that is', async () => {
        const store = await storeWithTimerAt5000();
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(4999) })).toBeUndefined();
        expect((await store.nextWakeTime(at(1000)))?.getTime()).toBe(at(5000).getTime());
        const due = await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(5000) });
        expect(due?.messages.map((m) => m.event.type)).toEqual(['TimerFired']);
      });

      it('reports unclaimed work that is due already as due at once, however early the claim ran', async () => {
        const store = await storeWithTimerAt5000();
        // A claim one millisecond early finds nothing; asked a moment later, the store must still report the timer.
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(4999) })).toBeUndefined();
        expect((await store.nextWakeTime(at(5000)))!.getTime()).toBeLessThanOrEqual(at(5000).getTime());
        expect((await store.nextWakeTime(at(6000)))!.getTime()).toBeLessThanOrEqual(at(6000).getTime());
        // Once claimed, the lease expiry is what counts.
        const due = await store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: at(6000) });
        expect(due?.messages.map((m) => m.event.type)).toEqual(['TimerFired']);
        expect((await store.nextWakeTime(at(6000)))?.getTime()).toBe(at(7000).getTime());
      });

      it('refuses a claim, a lease renewal or a wake-time read with a malformed time, lease length or owner (400), leasing nothing', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1')]);
        await send(store, message('a', eventRaised('e')));
        const good: ClaimOptions = { owner: 'w1', leaseMs: 1000, now: T0 };
        // An Invalid Date or a NaN length made a lease that no comparison sees as live or as expired: work claimed under
        // it was claimed again by the next worker, or never again.
        const malformed: unknown[] = [
          { ...good, now: new Date(NaN) }, { ...good, now: T0.getTime() }, { ...good, now: undefined },
          { ...good, leaseMs: NaN }, { ...good, leaseMs: 0 }, { ...good, leaseMs: -1000 }, { ...good, leaseMs: Infinity }, { ...good, leaseMs: 8.64e15 }, { ...good, leaseMs: '1000' },
          { ...good, owner: '' }, { ...good, owner: undefined }, { ...good, maxMessages: 0 }, { ...good, maxMessages: 1.5 }, undefined,
        ];
        for (const bad of malformed) {
          await expect(store.claimOrchestration(bad as ClaimOptions)).rejects.toMatchObject({ code: 'invalid-argument' });
          await expect(store.claimActivity(bad as ClaimOptions)).rejects.toMatchObject({ code: 'invalid-argument' });
        }
        for (const bad of [new Date(NaN), T0.getTime(), undefined]) {
          await expect(store.nextWakeTime(bad as Date)).rejects.toMatchObject({ code: 'invalid-argument' });
        }
        const work = await store.claimActivity(good);
        expect(work?.task.id).toBe('t1');
        for (const bad of [new Date(NaN), at(5000).toISOString(), undefined]) {
          await expect(store.renewActivityLease('t1', work!.lease.token, bad as Date)).rejects.toMatchObject({ code: 'invalid-argument' });
        }
        // The task's lease ends when its claim said, not at a refused renewal's time; the instance was leased by nobody.
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(999) })).toBeUndefined();
        expect((await claim(store, 'w2', T0)).messages.map((m) => m.event.type)).toEqual(['EventRaised']);
        expect((await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(1001) }))?.task.id).toBe('t1');
      });

      it('releases an abandoned lease at once', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const item = await claim(store);
        await store.abandonOrchestration('a', item.lease.token);
        expect((await claim(store, 'w2')).state.instanceId).toBe('a');
      });

      it('signals work for a step whose released instance has messages left, and none for a step that consumed them all and wrote no work', async () => {
        const store = await open();
        for (const id of ['done', 'raised', 'timed']) await create(store, newInstance(id));
        await send(store, { ...message('timed', eventRaised('later')), visibleAt: at(60_000) });
        const items = new Map<string, OrchestrationWorkItem>();
        for (let i = 0; i < 3; i++) {
          const item = await claim(store);
          items.set(item.state.instanceId, item);
        }
        // Sent while the step of 'raised' runs: its step releases the lease with this event still pending.
        await send(store, message('raised', eventRaised('go')));
        const step = (id: string) => commitStep(store, items.get(id)!, { runtimeStatus: 'Running' }, [started(id)]);
        let work = 0;
        const subscription = store.workAvailable$.subscribe(() => work++);
        try {
          // Nothing is claimable that was not before: waking the workers would run a claim round that finds nothing.
          await step('done');
          expect(work).toBe(0);
          await step('raised');
          expect(work).toBeGreaterThan(0);
          // A message due later: claimable at its time, which the workers learn by asking again.
          work = 0;
          await step('timed');
          expect(work).toBeGreaterThan(0);
        } finally {
          subscription.unsubscribe();
        }
        // What each step left: the event, claimable at once, and the later message, at its time.
        const raised = await claim(store, 'w2', at(1));
        expect(raised.messages.map((m) => m.event.type)).toEqual(['EventRaised']);
        await commitStep(store, raised, {});
        expect((await store.nextWakeTime(at(1)))?.getTime()).toBe(at(60_000).getTime());
      });

      it('reads history from an index', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const item = await claim(store);
        const history: HistoryEvent[] = [started('a'), ...[0, 1, 2].map((i): HistoryEvent => ({ type: 'TaskScheduled', eventId: i, timestamp: T0.toISOString(), name: `t${i}` }))];
        await store.commit(commitOf(item.state, item.lease.token, {
          consumedMessageIds: item.messages.map((m) => m.id), state: { ...item.state, version: 2, historyLength: 4 }, history,
        }));
        expect(await store.getHistory('a')).toEqual(history);
        expect(await store.getHistory('a', { fromIndex: 2 })).toEqual(history.slice(2));
        expect(await store.getHistory('unknown')).toEqual([]);
      });

      it('reads only the events of a range (fromIndex up to, not including, toIndex), across the steps that wrote them', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const scheduled = (i: number): HistoryEvent => ({ type: 'TaskScheduled', eventId: i, timestamp: T0.toISOString(), name: `t${i}` });
        // Three steps of 3, 2 and 3 events: a store that keeps each step's events together cuts inside them.
        const steps = [[started('a'), scheduled(0), scheduled(1)], [scheduled(2), scheduled(3)], [scheduled(4), scheduled(5), scheduled(6)]];
        for (const [i, events] of steps.entries()) {
          if (i > 0) await send(store, message('a', eventRaised(`go-${i}`)));
          await commitStep(store, await claim(store), { runtimeStatus: 'Running' }, events);
        }
        const history = steps.flat();
        expect(await store.getHistory('a')).toEqual(history);
        const ranges: Array<[number | undefined, number | undefined]> = [
          [undefined, 2], [0, 1], [1, 4], [3, 5], [4, 6], [2, 8], [5, undefined], [6, 7], [0, 100], [3, 3], [6, 2], [8, undefined], [20, 30],
        ];
        for (const [fromIndex, toIndex] of ranges) {
          const range = { ...(fromIndex === undefined ? {} : { fromIndex }), ...(toIndex === undefined ? {} : { toIndex }) };
          expect(await store.getHistory('a', range), JSON.stringify(range)).toEqual(history.slice(fromIndex ?? 0, toIndex));
          if (store.getInstanceHistory) {
            const read = await store.getInstanceHistory('a', range);
            expect(read.history, JSON.stringify(range)).toEqual(history.slice(fromIndex ?? 0, toIndex));
            expect(read.state?.historyLength).toBe(history.length);
          }
        }
        expect(await store.getHistory('unknown', { fromIndex: 1, toIndex: 3 })).toEqual([]);
      });
    });

    describe('activity tasks', () => {
      it('claims a task under a lease and completes it atomically with its result', async () => {
        const store = await open();
        const parent = await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const work = await store.claimActivity({ owner: 'w', leaseMs: 10_000, now: T0 });
        expect(work?.task).toMatchObject({ id: 't1', name: 'Act', input: { n: 1 }, taskScheduledId: 0, attempt: 1 });
        expect(work?.lease.owner).toBe('w');
        expect(work?.lease.expiresAt.getTime()).toBe(T0.getTime() + 10_000);
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 10_000, now: T0 })).toBeUndefined();
        await complete(store, { taskId: 't1', leaseToken: work!.lease.token, result: result('a', parent.executionId, 0, 'done') });
        const item = await claim(store);
        expect(item.messages.map((m) => m.event)).toMatchObject([{ type: 'TaskCompleted', taskScheduledId: 0, result: 'done' }]);
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 10_000, now: at(20_000) })).toBeUndefined();
      });

      it('claims the oldest ready task first, whatever the id of its instance and however many tasks others have', async () => {
        const store = await open();
        await runningInstance(store, 'zzz', [activityTask('zzz', 'z1')]);
        await runningInstance(store, 'aaa', Array.from({ length: 20 }, (_, i) => activityTask('aaa', `a${i + 1}`)));
        const claimed: string[] = [];
        for (let i = 0; i < 21; i++) {
          const work = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
          claimed.push(work!.task.id);
        }
        expect(claimed[0]).toBe('z1');
        expect(new Set(claimed).size).toBe(21);
        expect(await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 })).toBeUndefined();
      });

      it('claims the tasks of one write set in the order it inserts them, whether or not it names their instances otherwise', async () => {
        const store = await open();
        // Each instance has a task already, so a store that keeps an instance's first task apart stores these as others.
        await runningInstance(store, 'x', [activityTask('x', 'x0')]);
        await runningInstance(store, 'y', [activityTask('y', 'y0')]);
        // 'y' is named by a message as well (a store reads it); 'x' only by its tasks.
        await store.commit({
          requests: [
            { type: 'insertTask', task: activityTask('x', 'x1') },
            { type: 'insertTask', task: activityTask('y', 'y1') },
            { type: 'insertTask', task: activityTask('x', 'x2') },
            { type: 'insertMessage', message: message('y', eventRaised('nudge')), ifMissing: 'fail' },
          ],
        });
        const claimed: string[] = [];
        for (let work; (work = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 })); ) claimed.push(work.task.id);
        expect(claimed).toEqual(['x0', 'y0', 'x1', 'y1', 'x2']);
      });

      it('keeps a task inserted for another instance in a commit that deletes one: claimed once, then only after its lease', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1')]);
        await runningInstance(store, 'b', []);
        const work = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
        expect(work?.task.id).toBe('t1');
        await store.commit({
          lease: { kind: 'activity', taskId: 't1', token: work!.lease.token },
          requests: [{ type: 'deleteTask', taskId: 't1' }, { type: 'insertTask', task: activityTask('b', 't2') }],
        });
        const claimed = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
        expect(claimed?.task).toMatchObject({ id: 't2', instanceId: 'b' });
        expect(await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 })).toBeUndefined();
        expect((await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: at(60_001) }))?.task.id).toBe('t2');
        expect(await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: at(60_001) })).toBeUndefined();
      });

      it('reports a free activity task as due at once and a claimed one at its lease expiry', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1')]);
        expect((await store.nextWakeTime(at(1000)))!.getTime()).toBeLessThanOrEqual(at(1000).getTime());
        await store.claimActivity({ owner: 'w', leaseMs: 10_000, now: at(1000) });
        expect((await store.nextWakeTime(at(1000)))?.getTime()).toBe(at(11_000).getTime());
      });

      it('refuses to complete a task whose lease was lost', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const stale = await store.claimActivity({ owner: 'w1', leaseMs: 1000, now: T0 });
        const fresh = await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(2000) });
        expect(fresh?.task.id).toBe('t1');
        await expect(complete(store, { taskId: 't1', leaseToken: stale!.lease.token, result: result('a', 'exec-1', 0, 'x') }))
          .rejects.toMatchObject({ code: 'lease-lost' });
        await store.abandonActivity('t1', fresh!.lease.token);
        expect((await store.claimActivity({ owner: 'w3', leaseMs: 1000, now: at(2000) }))?.task.id).toBe('t1');
      });

      it('ignores an abandon under an activity lease that was taken over: the new holder keeps the task', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const stale = await store.claimActivity({ owner: 'w1', leaseMs: 10_000, now: T0 });
        const fresh = await store.claimActivity({ owner: 'w2', leaseMs: 10_000, now: at(11_000) });
        expect(fresh?.task.id).toBe('t1');
        await store.abandonActivity('t1', stale!.lease.token);
        expect(await store.claimActivity({ owner: 'w3', leaseMs: 10_000, now: at(12_000) })).toBeUndefined();
        await store.abandonActivity('t1', fresh!.lease.token);
        expect((await store.claimActivity({ owner: 'w3', leaseMs: 10_000, now: at(12_000) }))?.task.id).toBe('t1');
      });

      it('keeps its own copy of a task: neither the inserted object nor a claimed one changes what it stores', async () => {
        const store = await open();
        const task = activityTask('a', 't1');
        await runningInstance(store, 'a', [task]);
        task.input.n = 99;
        const first = await store.claimActivity({ owner: 'w1', leaseMs: 10_000, now: T0 });
        expect(first?.task.input).toEqual({ n: 1 });
        try {
          (first!.task.input as { n: number }).n = 42; // a frozen value refuses the change: that keeps the store intact too
        } catch {
          // frozen
        }
        await store.abandonActivity('t1', first!.lease.token);
        const again = await store.claimActivity({ owner: 'w2', leaseMs: 10_000, now: T0 });
        expect(again?.task.input).toEqual({ n: 1 });
      });

      it('renews a held activity lease (heartbeat) and refuses to renew a lost one', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const work = await store.claimActivity({ owner: 'w1', leaseMs: 1000, now: T0 });
        await store.renewActivityLease('t1', work!.lease.token, at(10_000));
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(5000) })).toBeUndefined();
        expect((await store.nextWakeTime(at(5000)))?.getTime()).toBe(at(10_000).getTime());
        const takeover = await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(10_001) });
        expect(takeover?.task.id).toBe('t1');
        await expect(store.renewActivityLease('t1', work!.lease.token, at(20_000))).rejects.toMatchObject({ code: 'lease-lost' });
        await expect(store.renewActivityLease('missing', 'token', at(20_000))).rejects.toMatchObject({ code: 'lease-lost' });
        await complete(store, { taskId: 't1', leaseToken: takeover!.lease.token, result: result('a', 'exec-1', 0, 'ok') });
      });

      it('refuses a missing lease token as a lost lease: nothing free is leased or written by it, and the task stays claimable', async () => {
        const store = await open();
        const running = await runningInstance(store, 'a', [activityTask('a', 't1')]);
        for (const missing of [undefined, null, '']) {
          const token = missing as unknown as string; // a caller that lost its token (a free lease has none)
          await expect(store.renewActivityLease('t1', token, at(60_000))).rejects.toMatchObject({ code: 'lease-lost' });
          await expect(complete(store, { taskId: 't1', leaseToken: token, result: result('a', 'exec-1', 0, 'x') }))
            .rejects.toMatchObject({ code: 'lease-lost' });
          await store.abandonActivity('t1', token);
          await expect(store.commit(commitOf(running, token, { state: { ...running, runtimeStatus: 'Completed', version: running.version + 1 } })))
            .rejects.toMatchObject({ code: 'lease-lost' });
          await store.abandonOrchestration('a', token);
        }
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Running', version: running.version });
        // Free, due at once: no renewal leased it to nobody until a minute on.
        expect((await store.nextWakeTime(T0))!.getTime()).toBeLessThanOrEqual(T0.getTime());
        const work = await store.claimActivity({ owner: 'w1', leaseMs: 1000, now: T0 });
        expect(work?.task.id).toBe('t1');
        await complete(store, { taskId: 't1', leaseToken: work!.lease.token, result: result('a', 'exec-1', 0, 'ok') });
      });

      it('drops the result of a task whose execution was replaced', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const work = await store.claimActivity({ owner: 'w', leaseMs: 10_000, now: T0 });
        const item = await claimNothingOr(store);
        expect(item).toBeUndefined();
        // Terminal and restarted: the old execution's result must not reach the new one.
        const state = (await store.getInstance('a'))!;
        await forceState(store, state, { runtimeStatus: 'Terminated' });
        await create(store, newInstance('a', { executionId: 'exec-2' }));
        // The store may have dropped the task with the old execution (then the lease is gone) or accept and drop the
        // result; either way the result must not reach the new execution.
        await complete(store, { taskId: 't1', leaseToken: work!.lease.token, result: result('a', 'exec-1', 0, 'stale') })
          .catch((error: unknown) => expect(error).toMatchObject({ code: 'lease-lost' }));
        const next = await claim(store);
        expect(next.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
      });
    });

    describe('releasing the leases of one owner', () => {
      it('releases every orchestration and activity lease of that owner at once, and only those', async () => {
        const store = await open();
        await runningInstance(store, 'tasks', [activityTask('tasks', 't1'), activityTask('tasks', 't2')]);
        const mineTask = await store.claimActivity({ owner: 'tab-1', leaseMs: 60_000, now: T0 });
        const theirTask = await store.claimActivity({ owner: 'tab-2', leaseMs: 60_000, now: T0 });
        await create(store, newInstance('a'));
        await create(store, newInstance('b'));
        const mine = await claim(store, 'tab-1');
        const theirs = await claim(store, 'tab-2');
        expect(await claimNothingOr(store)).toBeUndefined();

        const woken = firstValueFrom(store.workAvailable$);
        expect(await store.releaseOwner('tab-1')).toBe(2);
        await woken;
        // Released: claimable by anyone at once, long before the 60 s leases would have expired.
        expect((await claim(store, 'tab-3')).state.instanceId).toBe(mine.state.instanceId);
        expect((await store.claimActivity({ owner: 'tab-3', leaseMs: 60_000, now: T0 }))?.task.id).toBe(mineTask!.task.id);
        // The other owner's leases are untouched.
        expect(await claimNothingOr(store)).toBeUndefined();
        expect(await store.claimActivity({ owner: 'tab-3', leaseMs: 60_000, now: T0 })).toBeUndefined();
        await store.renewActivityLease(theirTask!.task.id, theirTask!.lease.token, at(90_000));
        // What the released owner still tries is refused.
        await expect(complete(store, { taskId: mineTask!.task.id, leaseToken: mineTask!.lease.token, result: result('tasks', 'exec-1', 0, 'late') }))
          .rejects.toMatchObject({ code: 'lease-lost' });
        await expect(store.renewActivityLease(mineTask!.task.id, mineTask!.lease.token, at(90_000))).rejects.toMatchObject({ code: 'lease-lost' });
        await expect(store.commit(commitOf(mine.state, mine.lease.token, {
          consumedMessageIds: mine.messages.map((m) => m.id), state: { ...mine.state, runtimeStatus: 'Running', version: 2, historyLength: 1 },
          history: [started(mine.state.instanceId)],
        }))).rejects.toMatchObject({ code: 'lease-lost' });
        await store.commit(commitOf(theirs.state, theirs.lease.token, { consumedMessageIds: theirs.messages.map((m) => m.id), state: theirs.state }));
        // Nothing is left to release; an owner that is not a worker id is refused.
        expect(await store.releaseOwner('tab-1')).toBe(0);
        await expect(store.releaseOwner('')).rejects.toMatchObject({ code: 'invalid-argument' });
        await expect(store.releaseOwner(42 as unknown as string)).rejects.toMatchObject({ code: 'invalid-argument' });
      });

      it('releases a lease that has expired already, leaving its work claimable', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        await store.claimOrchestration({ owner: 'tab-1', leaseMs: 1000, now: T0 });
        expect(await store.releaseOwner('tab-1')).toBe(1);
        expect((await claim(store, 'tab-2', at(500))).state.instanceId).toBe('a');
      });

      it('releases the leases of the earlier lives of a worker id, never those of the life that asks or of a later one', async () => {
        const store = await open();
        const bare = 'node-1'; // recorded by an older version, or by a worker that does not mark its lives
        const earlier = lifeLeaseOwner('node-1', at(-60_000));
        const current = lifeLeaseOwner('node-1', T0);
        const later = lifeLeaseOwner('node-1', at(60_000)); // a release this life sent, applied late, meets a later life
        // Other workers: an id that starts with the same characters, and an id with a '#' recorded by an older version.
        const others = [lifeLeaseOwner('node-10', at(-60_000)), 'node-1#a', 'node-10'];
        const owners = [bare, earlier, current, later, ...others];
        for (let i = 0; i < owners.length; i++) await create(store, newInstance(`i${i}`));
        const holder = new Map<string, string>(); // instance id -> lease owner
        for (const owner of owners) holder.set((await claim(store, owner, T0)).state.instanceId, owner);
        await runningInstance(store, 'tasks', [activityTask('tasks', 't-earlier'), activityTask('tasks', 't-current')]);
        const earlierTask = await store.claimActivity({ owner: earlier, leaseMs: 60_000, now: T0 });
        const currentTask = await store.claimActivity({ owner: current, leaseMs: 60_000, now: T0 });
        expect(await claimNothingOr(store)).toBeUndefined();

        const woken = firstValueFrom(store.workAvailable$);
        expect(await store.releaseOwner('node-1', current)).toBe(3);
        await woken;
        const freed = async (): Promise<string[]> => {
          const found: string[] = [];
          for (let item = await claimNothingOr(store); item; item = await claimNothingOr(store)) found.push(holder.get(item.state.instanceId) ?? item.state.instanceId);
          return found.sort();
        };
        // Claimed by a probe with a 1 ms lease at T0: claimable again from T0 + 1 ms on, never at T0.
        expect(await freed()).toEqual([bare, earlier].sort());
        expect((await store.claimActivity({ owner: 'probe', leaseMs: 60_000, now: T0 }))?.task.id).toBe(earlierTask!.task.id);
        expect(await store.claimActivity({ owner: 'probe', leaseMs: 60_000, now: T0 })).toBeUndefined();
        // What the current life holds still commits and renews.
        await store.renewActivityLease(currentTask!.task.id, currentTask!.lease.token, at(90_000));
        // The same release, sent again (or applied twice), finds nothing more.
        expect(await store.releaseOwner('node-1', current)).toBe(0);
        // Without an asking life, every life of the id: the current one and the later one, with their task.
        expect(await store.releaseOwner('node-1')).toBe(3);
        expect(await freed()).toEqual([current, later].sort());
        expect((await store.claimActivity({ owner: 'probe', leaseMs: 60_000, now: T0 }))?.task.id).toBe(currentTask!.task.id);
        // The other workers' leases were never touched.
        expect(await claimNothingOr(store)).toBeUndefined();
        await expect(store.releaseOwner('node-1', 42 as unknown as string)).rejects.toMatchObject({ code: 'invalid-argument' });
        await expect(store.releaseOwner('node-1', '')).rejects.toMatchObject({ code: 'invalid-argument' });
      });
    });

    describe('fused steps (capabilities.fusedSteps)', () => {
      /** A step of `a` at `state` that consumes task t1's result and schedules `next`, under an activityStep lease. */
      const fusedStep = (state: InstanceState, token: string, now: Date, next?: ActivityTask & { lease?: Lease }): WriteSet => ({
        lease: { kind: 'activityStep', taskId: 't1', token, instanceId: state.instanceId, version: state.version, now },
        requests: [
          { type: 'deleteTask', taskId: 't1' },
          { type: 'replaceState', state: { ...state, customStatus: 'fused', version: state.version + 1, historyLength: state.historyLength + 1 } },
          { type: 'appendHistory', instanceId: state.instanceId, from: state.historyLength, events: [completedEvent()] },
          ...(next ? [{ type: 'insertTask' as const, task: activityTask(state.instanceId, next.id), ...(next.lease ? { lease: next.lease } : {}) }] : []),
        ],
      });

      it('stores a task inserted with a lease as held: nobody claims it before the lease expires', async (context) => {
        const store = await open();
        if (!store.capabilities.fusedSteps) return context.skip();
        const lease = { owner: 'w1', token: 'held', expiresAt: at(10_000) };
        await create(store, newInstance('a'));
        const item = await claim(store);
        const step = commitOf(item.state, item.lease.token, {
          consumedMessageIds: item.messages.map((m) => m.id), history: [started('a')],
          state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1, historyLength: 1 },
        });
        await store.commit({ ...step, requests: [...step.requests, { type: 'insertTask', task: activityTask('a', 't1'), lease }] });
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(5000) })).toBeUndefined();
        expect((await store.nextWakeTime(at(5000)))?.getTime()).toBe(at(10_000).getTime());
        // The holder completes it under that lease.
        await complete(store, { taskId: 't1', leaseToken: 'held', result: result('a', 'exec-1', 0, 'ok') });
        expect((await claim(store, 'w1', at(5000))).messages.map((m) => m.event.type)).toEqual(['TaskCompleted']);
      });

      it('commits an activity result with the step it wakes, the result never queued, the next task leased', async (context) => {
        const store = await open();
        if (!store.capabilities.fusedSteps) return context.skip();
        const state = await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const work = await store.claimActivity({ owner: 'w1', leaseMs: 10_000, now: T0 });
        const next = { ...activityTask('a', 't2'), lease: { owner: 'w1', token: 'next', expiresAt: at(10_000) } };
        const seen: StatusChange[] = [];
        const subscription = store.changes$.subscribe((c) => seen.push(c));
        await store.commit(fusedStep(state, work!.lease.token, at(1), next)).finally(() => subscription.unsubscribe());
        expect(await store.getInstance('a')).toMatchObject({ customStatus: 'fused', version: state.version + 1 });
        expect(await store.getHistory('a')).toHaveLength(state.historyLength + 1);
        expect(seen.map((c) => c.state?.customStatus)).toEqual(['fused']);
        // Nothing is queued: the result was consumed in the commit, t1 is gone and t2 is held.
        expect(await store.claimOrchestration({ owner: 'w2', leaseMs: 1000, now: at(2) })).toBeUndefined();
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(2) })).toBeUndefined();
        expect((await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(10_001) }))?.task.id).toBe('t2');
      });

      it('refuses a fused step, writing nothing, when a claim would have handed out more or the instance moved on', async (context) => {
        const store = await open();
        if (!store.capabilities.fusedSteps) return context.skip();
        const state = await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const work = await store.claimActivity({ owner: 'w1', leaseMs: 10_000, now: T0 });
        const token = work!.lease.token;
        // Another message is visible: the step would have had to see it too.
        await send(store, message('a', eventRaised('other')));
        await expect(store.commit(fusedStep(state, token, at(1)))).rejects.toMatchObject({ code: 'lease-lost' });
        // Claimed (leased) by another worker: refused as well.
        const item = await claim(store, 'w2', at(1));
        await expect(store.commit(fusedStep(state, token, at(2)))).rejects.toMatchObject({ code: 'lease-lost' });
        // That worker's step moves the version on: a step decided from the old state is refused.
        const moved = { ...item.state, version: item.state.version + 1 };
        await store.commit(commitOf(item.state, item.lease.token, { consumedMessageIds: item.messages.map((m) => m.id), state: moved }));
        await expect(store.commit(fusedStep(state, token, at(3)))).rejects.toMatchObject({ code: 'lease-lost' });
        // A lost task lease is refused too; none of this wrote anything.
        await expect(store.commit(fusedStep(moved, 'not-the-token', at(3)))).rejects.toMatchObject({ code: 'lease-lost' });
        expect(await store.getInstance('a')).toMatchObject({ version: moved.version });
        expect(await store.getHistory('a')).toHaveLength(state.historyLength);
        // With the state it now has and no visible message, the same result commits with its step.
        await store.commit(fusedStep(moved, token, at(4)));
        expect(await store.getInstance('a')).toMatchObject({ customStatus: 'fused', version: moved.version + 1 });
      });

      it('refuses a fused step whose lease is malformed (an Invalid Date as now, a bad version or id) as an invalid argument, writing nothing', async (context) => {
        const store = await open();
        if (!store.capabilities.fusedSteps) return context.skip();
        const state = await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const work = await store.claimActivity({ owner: 'w1', leaseMs: 10_000, now: T0 });
        await send(store, message('a', eventRaised('other')));
        const step = fusedStep(state, work!.lease.token, at(1));
        const lease = step.lease as WriteLease;
        // An Invalid Date saw no message as visible: the step went ahead of the event queued before it.
        const malformed: unknown[] = [
          { ...lease, now: new Date(NaN) }, { ...lease, now: 'x' }, { ...lease, version: 0 }, { ...lease, version: '1' },
          { ...lease, taskId: '' }, { ...lease, instanceId: undefined },
        ];
        for (const bad of malformed) {
          await expect(store.commit({ ...step, lease: bad as WriteLease })).rejects.toMatchObject({ code: 'invalid-argument' });
        }
        expect(await store.getInstance('a')).toMatchObject({ version: state.version });
        expect(await store.getHistory('a')).toHaveLength(state.historyLength);
        // The task is still leased to w1, and the event still waits for a claim.
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(2) })).toBeUndefined();
        expect((await claim(store, 'w2', at(2))).messages.map((m) => m.event.type)).toEqual(['EventRaised']);
      });

      it('refuses a start or a task stored with a malformed lease (an Invalid Date expiry, an empty owner or token) as an invalid argument, writing nothing', async () => {
        // An Invalid Date expiry is neither live nor expired: the start or task it held was never claimed again. A
        // store without fused steps refuses every such lease with the same error.
        const store = await open();
        await create(store, newInstance('a'));
        const good = { owner: 'w1', token: 'start', expiresAt: at(10_000) };
        for (const lease of [{ ...good, expiresAt: new Date(NaN) }, { ...good, owner: '' }, { ...good, token: '' }]) {
          await expect(store.commit({ requests: [{ type: 'createInstance', ...newInstance('b'), ifRunning: { kind: 'fail' }, lease }] }))
            .rejects.toMatchObject({ code: 'invalid-argument' });
          await expect(store.commit({ requests: [{ type: 'insertTask', task: activityTask('a', 't1'), lease }] })).rejects.toMatchObject({ code: 'invalid-argument' });
        }
        expect(await store.getInstance('b')).toBeUndefined();
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(20_000) })).toBeUndefined();
      });

      it('stores an instance created with a lease as held: its first step commits without a claim, nobody else claims it before the lease expires', async (context) => {
        const store = await open();
        if (!store.capabilities.fusedSteps) return context.skip();
        const lease = { owner: 'w1', token: 'start', expiresAt: at(10_000) };
        const request = newInstance('a');
        let work = 0;
        const subscription = store.workAvailable$.subscribe(() => work++);
        const result = await store.commit({ requests: [{ type: 'createInstance', ...request, ifRunning: { kind: 'fail' }, lease }] })
          .finally(() => subscription.unsubscribe());
        expect(result.leasedStarts).toEqual(['a']); // the starter may run its first step
        // Held: nothing claimable here (no work signalled in this handle), claimable by others when the lease expires.
        expect(work).toBe(0);
        expect(await store.claimOrchestration({ owner: 'w2', leaseMs: 1000, now: at(5000) })).toBeUndefined();
        expect((await store.nextWakeTime(at(5000)))?.getTime()).toBe(at(10_000).getTime());
        // The holder commits the first step under that lease, consuming the start message.
        const running = { ...request.state, runtimeStatus: 'Running' as const, version: 2, historyLength: 1 };
        await store.commit(commitOf(request.state, 'start', { consumedMessageIds: [request.message.id], history: [started('a')], state: running }));
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Running', version: 2 });
        expect(await store.claimOrchestration({ owner: 'w2', leaseMs: 1000, now: at(20_000) })).toBeUndefined();
      });

      it('lets another worker claim a leased start once the lease expires, refusing the late holder', async (context) => {
        const store = await open();
        if (!store.capabilities.fusedSteps) return context.skip();
        const request = newInstance('a');
        await store.commit({ requests: [{ type: 'createInstance', ...request, ifRunning: { kind: 'fail' }, lease: { owner: 'w1', token: 'start', expiresAt: at(1000) } }] });
        const item = await claim(store, 'w2', at(1000));
        expect(item.messages.map((m) => m.id)).toEqual([request.message.id]);
        const running = { ...request.state, runtimeStatus: 'Running' as const, version: 2, historyLength: 1 };
        await expect(store.commit(commitOf(request.state, 'start', { consumedMessageIds: [request.message.id], history: [started('a')], state: running })))
          .rejects.toMatchObject({ code: 'lease-lost' });
        expect(await store.getHistory('a')).toEqual([]);
      });

      it('stores a leased start over a terminal instance unleased: claimable at once', async (context) => {
        const store = await open();
        if (!store.capabilities.fusedSteps) return context.skip();
        await create(store, newInstance('a'));
        const first = await claim(store);
        await store.commit(commitOf(first.state, first.lease.token, {
          consumedMessageIds: first.messages.map((m) => m.id), history: [started('a')],
          state: { ...first.state, runtimeStatus: 'Completed', version: 2, historyLength: 1 },
        }));
        const again = newInstance('a', { executionId: 'exec-2' });
        const result = await store.commit({
          requests: [{ type: 'createInstance', ...again, ifRunning: { kind: 'fail' }, lease: { owner: 'w1', token: 'start', expiresAt: at(10_000) } }],
        });
        expect(result.leasedStarts).toEqual([]); // so the starter does not run its first step
        const item = await claim(store, 'w2', at(1));
        expect(item.state).toMatchObject({ executionId: 'exec-2', version: 3 });
        expect(item.messages.map((m) => m.id)).toEqual([again.message.id]);
      });

      it('keeps a timer that is not due yet pending through a fused step', async (context) => {
        const store = await open();
        if (!store.capabilities.fusedSteps) return context.skip();
        const state = await runningInstance(store, 'a', [activityTask('a', 't1')]);
        const fireAt = at(60_000).toISOString();
        const timer: OrchestrationMessage = { ...message('a', { type: 'TimerFired', eventId: -1, timestamp: fireAt, timerId: 1, fireAt }), visibleAt: at(60_000) };
        await store.commit({ requests: [{ type: 'insertMessage', message: timer, ifMissing: 'fail' }] });
        const work = await store.claimActivity({ owner: 'w1', leaseMs: 10_000, now: T0 });
        await store.commit(fusedStep(state, work!.lease.token, at(1)));
        expect(await store.claimOrchestration({ owner: 'w2', leaseMs: 1000, now: at(2) })).toBeUndefined();
        expect((await claim(store, 'w2', at(60_000))).messages.map((m) => m.id)).toEqual([timer.id]);
      });
    });

    describe('unclaimed writes (capabilities.unclaimedWrites)', () => {
      it('commits only while nobody holds a live lease and the version is the one read, taking over an expired lease', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await create(store, newInstance('a'));
        const pending = (await store.getInstance('a'))!;
        const held = await claim(store, 'w1', T0); // leased until 30 s
        await expect(store.commit(terminateOf(pending, at(29_999)))).rejects.toMatchObject({ code: 'lease-lost' });
        await expect(store.commit(terminateOf({ ...pending, version: pending.version + 1 }, at(30_000)))).rejects.toMatchObject({ code: 'lease-lost' });
        // Read from another execution at the same version (the id purged and started again begins at version 1).
        await expect(store.commit(terminateOf({ ...pending, executionId: 'another' }, at(30_000)))).rejects.toMatchObject({ code: 'lease-lost' });
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', version: pending.version });
        expect(await store.getHistory('a')).toEqual([]);
        // The lease has expired: the write commits, and the late holder can no longer commit its step over it.
        let work = 0;
        const subscription = store.workAvailable$.subscribe(() => work++);
        await store.commit(terminateOf(pending, at(30_000))).finally(() => subscription.unsubscribe());
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', version: pending.version + 1 });
        await expect(store.commit(commitOf(held.state, held.lease.token, {
          consumedMessageIds: held.messages.map((m) => m.id), history: [started('a')],
          state: { ...held.state, runtimeStatus: 'Running', version: held.state.version + 1, historyLength: 1 },
        }))).rejects.toMatchObject({ code: 'lease-lost' });
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Terminated', version: pending.version + 1 });
        // The start message is still queued, claimable at once (work was signalled): a worker records and ignores it.
        expect(work).toBeGreaterThan(0);
        expect((await claim(store, 'w2', at(30_000))).messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
      });

      it('signals no work for a commit that changes nothing (a resume of an instance not suspended, before its start: an HTTP retry), and signals it once an expired lease is taken over', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await create(store, newInstance('a'));
        const held = await claim(store, 'w1', T0); // a worker's lease on 'a', until 30 s
        const client = createClient({ store });
        await client.startNew('AwaitGo', { instanceId: 'retried' });
        const retried = (await store.getInstance('retried'))!;
        let work = 0;
        const subscription = store.workAvailable$.subscribe(() => work++);
        try {
          // The start was claimable before: waking every worker for a claim round at each retry finds nothing new.
          await client.resume('retried', 'retry');
          await client.resume('retried', 'retry');
          expect(work).toBe(0);
          expect(await store.getInstance('retried')).toMatchObject({ runtimeStatus: 'Pending', version: retried.version });
          // The same commit of no request over a worker's expired lease clears it: the start is claimable again.
          const lease: UnclaimedLease = { kind: 'unclaimed', instanceId: 'a', executionId: held.state.executionId, version: held.state.version, now: at(30_000) };
          await store.commit({ lease, requests: [] });
          expect(work).toBeGreaterThan(0);
        } finally {
          subscription.unsubscribe();
        }
        expect((await claimId(store, 'a', at(30_000))).messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
      });
    });

    describe('unclaimed writes and the messages queued before them', () => {
      it('holds a write whose lease names no command (its client\u2019s worker applies what is queued first) back while a message but the start of the execution read is visible at the writer\u2019s time', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        for (const id of ['soon', 'now']) {
          await create(store, newInstance(id));
          await send(store, { ...message(id, eventRaised('go')), visibleAt: at(10_000) });
        }
        const write = async (id: string, now: Date) => store.commit(terminateOf((await store.getInstance(id))!, now));
        // The event becomes visible after the write: it reaches a terminated instance (recorded and ignored).
        await write('soon', at(9_999));
        expect(await store.getInstance('soon')).toMatchObject({ runtimeStatus: 'Terminated' });
        // Visible: it was committed before the write, so a worker applies it first, and the write is refused.
        await expect(write('now', at(10_000))).rejects.toMatchObject({ code: 'lease-lost' });
        expect(await store.getInstance('now')).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
      });

      it('lets a terminate go ahead of the events queued before it, not of a command; they stay queued for a worker', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await create(store, newInstance('a'));
        await send(store, message('a', eventRaised('go')));
        await store.commit(terminateOf((await store.getInstance('a'))!, at(1), true));
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        expect((await claim(store, 'w1', at(1))).messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
        // Not ahead of a worker that holds the instance.
        await create(store, newInstance('b'));
        const pending = (await store.getInstance('b'))!;
        await claim(store, 'w1', at(2));
        await expect(store.commit(terminateOf(pending, at(3), true))).rejects.toMatchObject({ code: 'lease-lost' });
        expect(await store.getInstance('b')).toMatchObject({ runtimeStatus: 'Pending', version: pending.version });
        // A command queued before it is applied first, by a worker: a terminate's reason is the output, as Durable
        // Functions keeps the first.
        for (const [id, queued] of [
          ['first', { type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString(), reason: 'first' }],
          ['suspended', { type: 'ExecutionSuspended', eventId: -1, timestamp: T0.toISOString(), reason: 'queued' }],
        ] as const) {
          await create(store, newInstance(id));
          await send(store, message(id, eventRaised('go')));
          await send(store, message(id, queued));
          const read = (await store.getInstance(id))!;
          await expect(store.commit(terminateOf(read, at(1), true))).rejects.toMatchObject({ code: 'lease-lost' });
          expect(await store.getInstance(id)).toMatchObject({ runtimeStatus: 'Pending', version: read.version });
        }
      });

      it('lets a suspend or resume go ahead of an event queued before it, not of a command queued before it', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        for (const id of ['ahead', 'behind']) {
          await create(store, newInstance(id));
          await send(store, message(id, eventRaised('go')));
        }
        await send(store, message('behind', { type: 'ExecutionResumed', eventId: -1, timestamp: T0.toISOString(), reason: 'queued' }));
        await store.commit(suspendOf((await store.getInstance('ahead'))!, at(1)));
        expect(await store.getInstance('ahead')).toMatchObject({ runtimeStatus: 'Suspended' });
        await expect(store.commit(suspendOf((await store.getInstance('behind'))!, at(1)))).rejects.toMatchObject({ code: 'lease-lost' });
        expect(await store.getInstance('behind')).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
        // The event stays queued for a worker, with the start.
        expect((await claimId(store, 'ahead', at(1))).messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
      });

      it('names, refusing a client\'s own suspend or resume while a claim holds the instance, the last suspend or resume that claim took, not one queued after it', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        const command = (type: 'ExecutionSuspended' | 'ExecutionResumed', reason: string) => ({ type, eventId: -1, timestamp: T0.toISOString(), reason });
        const refusalOf = async (id: string): Promise<unknown> => {
          const read = (await store.getInstance(id))!;
          const error: unknown = await store.commit(suspendOf(read, at(2))).then(() => undefined, (e: unknown) => e);
          expect(await store.getInstance(id)).toMatchObject({ version: read.version });
          return error;
        };
        // Taken by the claim: its step commits it first.
        await create(store, newInstance('took-suspend'));
        await send(store, message('took-suspend', command('ExecutionSuspended', 'taken')));
        expect((await claimId(store, 'took-suspend', at(1))).messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'ExecutionSuspended']);
        expect(await refusalOf('took-suspend')).toMatchObject({ code: 'lease-lost', claimedCommand: 'suspend' });
        // The last of those it took.
        await create(store, newInstance('took-both'));
        await send(store, message('took-both', command('ExecutionSuspended', 'taken')));
        await send(store, message('took-both', command('ExecutionResumed', 'taken')));
        await claimId(store, 'took-both', at(1));
        expect(await refusalOf('took-both')).toMatchObject({ code: 'lease-lost', claimedCommand: 'resume' });
        // Queued once the claim was made: not taken, both reach the instance in order in a later step.
        await create(store, newInstance('queued-after'));
        await claimId(store, 'queued-after', at(1));
        await send(store, message('queued-after', command('ExecutionSuspended', 'queued')));
        const queued = await refusalOf('queued-after');
        expect(queued).toMatchObject({ code: 'lease-lost' });
        expect((queued as { claimedCommand?: unknown }).claimedCommand).toBeUndefined();
      });

      it('names, while a claim of at most so many messages holds the instance, the last command it handed out, not one it left queued', async (context) => {
        // Two commands queued, split by a claim of two messages (the start and the suspend; a store may hand out more
        // than asked, then the last it handed out is named): its step commits Suspended first, so a resume the status
        // reflects must wait for it. Counting the resume left queued as taken named it (MongoStore), and that resume
        // call resolved at once, before the step's commit showed Suspended.
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        const command = (type: 'ExecutionSuspended' | 'ExecutionResumed', reason: string) => ({ type, eventId: -1, timestamp: T0.toISOString(), reason });
        await create(store, newInstance('capped'));
        await send(store, message('capped', command('ExecutionSuspended', 'taken')));
        await send(store, message('capped', command('ExecutionResumed', 'left')));
        const handedOut = (await claimId(store, 'capped', at(1), 2)).messages.map((m) => m.event.type);
        expect(handedOut.slice(0, 2)).toEqual(['ExecutionStarted', 'ExecutionSuspended']);
        const read = (await store.getInstance('capped'))!;
        const error: unknown = await store.commit(suspendOf(read, at(2))).then(() => undefined, (e: unknown) => e);
        expect(error).toMatchObject({ code: 'lease-lost', claimedCommand: handedOut.includes('ExecutionResumed') ? 'resume' : 'suspend' });
        expect(await store.getInstance('capped')).toMatchObject({ version: read.version });
      });

      it('refuses a malformed unclaimed lease (an Invalid Date as now, a bad version, id or command, no object at all) as an invalid argument, writing nothing', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await create(store, newInstance('a'));
        await send(store, message('a', eventRaised('go')));
        const pending = (await store.getInstance('a'))!;
        const terminate = terminateOf(pending, at(1));
        const lease = terminate.lease as UnclaimedLease;
        // An Invalid Date saw no message as visible: the terminate went ahead of the event queued before it.
        const malformed: unknown[] = [
          { ...lease, now: new Date(NaN) }, { ...lease, now: 'x' }, { ...lease, now: undefined }, { ...lease, version: 0 },
          { ...lease, version: 1.5 }, { ...lease, version: '1' }, { ...lease, executionId: '' }, { ...lease, instanceId: undefined },
          { ...lease, kind: 'other' }, { ...lease, command: 'rewind' }, { ...lease, command: null }, null, 'x',
        ];
        for (const bad of malformed) {
          await expect(store.commit({ ...terminate, lease: bad as WriteLease })).rejects.toMatchObject({ code: 'invalid-argument' });
        }
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', version: pending.version });
        expect(await store.getHistory('a')).toEqual([]);
        // As the lease read: refused, for the event waits for a worker.
        await expect(store.commit(terminate)).rejects.toMatchObject({ code: 'lease-lost' });
        expect((await claim(store, 'w1', at(1))).messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
      });
    });

    describe('a client without a worker (capabilities.unclaimedWrites)', () => {
      const awaitGo: Orchestrator = function* (ctx) {
        return yield ctx.waitForExternalEvent('go');
      };
      const parentOfAwaitGo: Orchestrator = function* (ctx) {
        try {
          return yield ctx.callSubOrchestrator('AwaitGo', undefined, `${ctx.instanceId}-child`);
        } catch (error) {
          return `child failed: ${(error as Error).message}`;
        }
      };
      const orchestrators = { AwaitGo: awaitGo, ParentOfAwaitGo: parentOfAwaitGo };
      const runningOn = async (store: Store, instanceId: string, name: string, running = instanceId): Promise<void> => {
        const runtime = await runtimeOn(store, 'w1', { orchestrators });
        await runtime.client.startNew(name, { instanceId });
        await firstValueFrom(runtime.client.status$(running).pipe(filter((s) => s?.runtimeStatus === 'Running')));
        await runtime.stop();
      };
      /**
       * Starts a ParentOfAwaitGo instance `instanceId` and commits its first step by hand (a runtime would run the
       * child at once): the child `${instanceId}-child` is Pending, its start queued, and the start is where its parent
       * link is. Returns a client of `store`.
       */
      const parentsFirstStep = async (store: Store, instanceId: string): Promise<DurableClient> => {
        const client = createClient({ store });
        await client.startNew('ParentOfAwaitGo', { instanceId });
        await stepByHand(store, orchestrators);
        return client;
      };

      it('terminates a Pending instance at once; a worker started later records and ignores its start', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        const client = createClient({ store });
        await client.startNew('HelloSequence', { instanceId: 'p' });
        await client.terminate('p', 'not needed');
        expect(await client.getStatus('p')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
        expect(await firstValueFrom(client.status$('p'))).toMatchObject({ runtimeStatus: 'Terminated' });
        expect(await client.waitForCompletion('p', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
        let hellos = 0;
        await runtimeOn(store, 'w1', { activities: { E1_SayHello: (name: string) => `Hello ${name}${hellos++ ? '' : '!'}` } });
        await firstValueFrom(client.history$('p').pipe(filter((e) => e.type === 'ExecutionStarted')));
        expect(await client.getStatus('p')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
        expect((await store.getHistory('p')).map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionTerminated', 'OrchestratorCompleted', 'ExecutionStarted']);
        expect(hellos).toBe(0);
      });

      it('keeps the first terminate\'s reason, as Durable Functions does: a terminate does not go ahead of one queued before it', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        await runningOn(opened, 'twice', 'AwaitGo');
        // A worker holds the instance (claimed for an event), so the first terminate goes to a worker as a message.
        const client = createClient({ store: opened });
        await client.raiseEvent('twice', 'other');
        const held = await opened.claimOrchestration({ owner: 'holder', leaseMs: 60_000, now: new Date() });
        expect(held?.state.instanceId).toBe('twice');
        const { store: sending, done: sent } = firstCommitTold(opened, isMessage);
        const first = createClient({ store: sending }).terminate('twice', 'first');
        await within(sent, 'the first terminate queued');
        // The holder lets go before applying it; a client with no worker then terminates the instance directly.
        await opened.abandonOrchestration('twice', held!.lease.token);
        const later = firstCommitTold(opened, isMessage);
        const second = createClient({ store: later.store }).terminate('twice', 'second');
        // Committed at once (ahead of the first), or queued behind it for a worker.
        await within(Promise.race([second, later.done]), 'the second terminate committed');
        await runtimeOn(opened, 'w2', { orchestrators });
        // The second reaches the instance the first terminated: it did nothing, and its caller hears so (410).
        const answers = Promise.all([first, second.then(() => 'resolved', (error: { code?: string; status?: number }) => `${error.code} ${error.status}`)]);
        expect((await within(answers, 'both terminates'))[1]).toBe('instance-not-running 410');
        const done = await client.waitForCompletion('twice', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Terminated', output: 'first' });
        // The later one is recorded after it and ignored.
        await firstValueFrom(client.history$('twice').pipe(filter((e) => e.type === 'ExecutionTerminated' && e.reason === 'second')));
        const reasons = (await opened.getHistory('twice')).flatMap((e) => e.type === 'ExecutionTerminated' ? [e.reason] : []);
        expect(reasons).toEqual(['first', 'second']);
      });

      it('terminates a Running instance that no worker holds at once', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await runningOn(store, 'r', 'AwaitGo');
        const client = createClient({ store });
        await client.terminate('r', { why: 'cancelled' });
        expect(await client.getStatus('r')).toMatchObject({ runtimeStatus: 'Terminated', output: { why: 'cancelled' } });
        expect(await firstValueFrom(client.status$('r'))).toMatchObject({ runtimeStatus: 'Terminated' });
        expect((await store.getHistory('r')).at(-2)).toMatchObject({ type: 'ExecutionTerminated', reason: { why: 'cancelled' } });
        await expect(client.raiseEvent('r', 'go')).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
      });

      it('terminates a running sub-orchestration at once and its parent hears of it', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await runningOn(store, 'parent', 'ParentOfAwaitGo', 'parent-child');
        const client = createClient({ store });
        await client.terminate('parent-child', 'cut');
        expect(await client.getStatus('parent-child')).toMatchObject({ runtimeStatus: 'Terminated', output: 'cut' });
        await runtimeOn(store, 'w2', { orchestrators });
        const parent = await client.waitForCompletion('parent', SETTLED);
        expect(parent).toMatchObject({ runtimeStatus: 'Completed' });
        expect(parent.output).toContain('"parent-child" was terminated: "cut"');
      });

      for (const after of ['purge', 'restart'] as const) {
        it(`terminates a Pending sub-orchestration at once, and its parent hears of it after a ${after}`, async (context) => {
          const opened = await open();
          if (!opened.capabilities.unclaimedWrites) return context.skip();
          const client = await parentsFirstStep(opened, 'p');
          expect(await client.getStatus('p-child')).toMatchObject({ runtimeStatus: 'Pending' });
          // The store, telling which commit the terminate made.
          const { store, done } = firstCommitTold(opened);
          // No worker runs: the client commits the termination itself, and the parent's answer with it (its call is
          // in the child's state). Before, it was left to a worker (the parent link was read from the queued start
          // alone): with none running the call resolved after 10 s, the child still Pending.
          await createClient({ store }).terminate('p-child', 'cut');
          expect((await done).lease).toMatchObject({ kind: 'unclaimed', instanceId: 'p-child' });
          expect(await client.getStatus('p-child')).toMatchObject({ runtimeStatus: 'Terminated', output: 'cut' });
          // The child is gone now, or runs again as an instance of its own: its parent was answered already.
          if (after === 'purge') expect(await client.purgeInstanceHistory('p-child')).toEqual({ instancesDeleted: 1 });
          else await client.restart('p-child');
          await runtimeOn(opened, 'w1', { orchestrators });
          const parent = await client.waitForCompletion('p', SETTLED);
          expect(parent).toMatchObject({ runtimeStatus: 'Completed' });
          expect(parent.output).toContain('"p-child" was terminated: "cut"');
        });
      }

      it('answers the parent of a sub-orchestration suspended before it started, then terminated at once', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        const client = await parentsFirstStep(opened, 'sp');
        // Suspended by its status alone; the terminate of a child with no history is committed by the client, the held
        // suspend recorded ahead of the termination, and the parent answered in the same commit.
        await client.suspend('sp-child', 'hold');
        expect(await client.getStatus('sp-child')).toMatchObject({ runtimeStatus: 'Suspended' });
        const { store, done } = firstCommitTold(opened);
        await createClient({ store }).terminate('sp-child', 'cut');
        expect((await done).lease).toMatchObject({ kind: 'unclaimed', instanceId: 'sp-child' });
        expect(await client.getStatus('sp-child')).toMatchObject({ runtimeStatus: 'Terminated', output: 'cut' });
        const types = (await opened.getHistory('sp-child')).map((e) => e.type);
        expect(types.indexOf('ExecutionSuspended')).toBeGreaterThan(-1);
        expect(types.indexOf('ExecutionSuspended')).toBeLessThan(types.indexOf('ExecutionTerminated'));
        await runtimeOn(opened, 'w1', { orchestrators });
        // The worker records the queued start after the termination and ignores it.
        await within(firstValueFrom(client.history$('sp-child').pipe(filter((e) => e.type === 'ExecutionStarted'))), 'the start recorded');
        expect(await client.getStatus('sp-child')).toMatchObject({ runtimeStatus: 'Terminated', output: 'cut' });
        const parent = await client.waitForCompletion('sp', SETTLED);
        expect(parent).toMatchObject({ runtimeStatus: 'Completed' });
        expect(parent.output).toContain('"sp-child" was terminated: "cut"');
      });

      it('terminates at once ahead of an event raised before it; a worker that comes later records the event after the termination and ignores it', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        await runningOn(opened, 'e', 'AwaitGo');
        const client = createClient({ store: opened });
        await client.raiseEvent('e', 'go', 'approved');
        // The store, telling when the terminate's first commit is done: the client's own (no worker is there to apply
        // the event first).
        const { store, done } = firstCommitTold(opened);
        await createClient({ store }).terminate('e', 'cleanup');
        expect((await done).lease).toMatchObject({ kind: 'unclaimed', command: 'terminate' });
        expect(await client.getStatus('e')).toMatchObject({ runtimeStatus: 'Terminated', output: 'cleanup' });
        await runtimeOn(opened, 'w2', { orchestrators });
        await within(firstValueFrom(client.history$('e').pipe(filter((e) => e.type === 'EventRaised'))), 'the event recorded');
        const types = (await opened.getHistory('e')).map((e) => e.type);
        expect(types.indexOf('EventRaised')).toBeGreaterThan(types.indexOf('ExecutionTerminated'));
        expect(await client.getStatus('e')).toMatchObject({ runtimeStatus: 'Terminated', output: 'cleanup' });
      });

      for (const busy of [false, true]) {
        it(`a started runtime's own client${busy ? ', its only step slot in use,' : ''} applies an event raised before a terminate first`, async (context) => {
          const opened = await open();
          if (!opened.capabilities.unclaimedWrites) return context.skip();
          const hog: Orchestrator = function* (ctx) {
            yield ctx.waitForExternalEvent('never');
          };
          let openGate!: () => void;
          const gate = new Promise<void>((resolve) => (openGate = resolve));
          let hogHeld!: () => void;
          const holding = new Promise<void>((resolve) => (hogHeld = resolve));
          let terminateQueued!: () => void;
          const queued = new Promise<void>((resolve) => (terminateQueued = resolve));
          // The store, holding the commit of every step of 'hog' until the gate opens (that step keeps the worker's one
          // slot in use), and telling when the terminate is queued as a message.
          const store = storeWith(opened, {
            commit: async (writeSet) => {
              if (writeSet.lease?.kind === 'orchestration' && writeSet.lease.instanceId === 'hog') {
                hogHeld();
                await gate;
              }
              const isTerminateMessage = !writeSet.lease && writeSet.requests.some((r) => r.type === 'insertMessage' && r.message.event.type === 'ExecutionTerminated');
              return opened.commit(writeSet).finally(() => isTerminateMessage && terminateQueued());
            },
          });
          try {
            const runtime = await runtimeOn(store, 'w1', { orchestrators: { ...orchestrators, Hog: hog }, maxConcurrentOrchestrations: 1 });
            const client = runtime.client;
            await client.startNew('AwaitGo', { instanceId: 'e' });
            await within(firstValueFrom(client.status$('e').pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the first step');
            if (busy) {
              await client.startNew('Hog', { instanceId: 'hog' });
              await within(holding, "hog's step held");
            }
            await client.raiseEvent('e', 'go', 'approved');
            const terminating = client.terminate('e', 'cleanup').then(() => 'resolved', (error: { code?: string }) => error.code);
            if (busy) {
              // The worker cannot claim the event yet; the terminate waits behind it, queued, and does not go ahead.
              await within(Promise.race([queued, terminating]), 'the terminate queued');
              expect(await client.getStatus('e')).toMatchObject({ runtimeStatus: 'Running' });
              openGate();
            }
            // Applied first: the instance completes with the event; the terminate finds it Completed (or is applied
            // after it, recorded and ignored).
            expect(['resolved', 'instance-not-running']).toContain(await terminating);
            expect(await client.waitForCompletion('e', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'approved' });
          } finally {
            openGate();
          }
        });
      }

      it('falls back to a message when a worker holds the instance, and the instance still ends Terminated', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        // The store, telling when an unclaimed write has been answered.
        const { store, done: answered } = firstCommitTold(opened, (writeSet) => writeSet.lease?.kind === 'unclaimed');
        const client = createClient({ store });
        await client.startNew('HelloSequence', { instanceId: 'held' });
        const item = await opened.claimOrchestration({ owner: 'w0', leaseMs: 60_000, now: new Date() });
        expect(item?.state.instanceId).toBe('held');
        const terminating = client.terminate('held', 'raced');
        await answered;
        expect(await client.getStatus('held')).toMatchObject({ runtimeStatus: 'Pending' }); // refused: nothing written
        await opened.abandonOrchestration('held', item!.lease.token);
        await runtimeOn(opened, 'w1');
        await terminating;
        expect(await client.waitForCompletion('held', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: 'raced' });
        expect((await opened.getHistory('held')).filter((e) => e.type === 'ExecutionTerminated')).toHaveLength(1);
      });

      it('suspends and resumes a Running instance that no worker holds at once; a worker started later goes on with it', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await runningOn(store, 's', 'AwaitGo');
        const client = createClient({ store });
        await client.suspend('s', 'maintenance');
        expect(await client.getStatus('s')).toMatchObject({ runtimeStatus: 'Suspended' });
        expect(await firstValueFrom(client.status$('s'))).toMatchObject({ runtimeStatus: 'Suspended' });
        await client.resume('s', 'done');
        expect(await client.getStatus('s')).toMatchObject({ runtimeStatus: 'Running' });
        // Recorded as a worker's steps record them.
        expect((await store.getHistory('s')).slice(-6)).toMatchObject([
          { type: 'OrchestratorStarted' }, { type: 'ExecutionSuspended', reason: 'maintenance' }, { type: 'OrchestratorCompleted' },
          { type: 'OrchestratorStarted' }, { type: 'ExecutionResumed', reason: 'done' }, { type: 'OrchestratorCompleted' },
        ]);
        await client.raiseEvent('s', 'go', 'approved');
        await runtimeOn(store, 'w2', { orchestrators });
        expect(await client.waitForCompletion('s', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'approved' });
      });

      it('answers a repeated suspend or resume at once with the status asked for, and leaves nothing queued to wait behind', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await runningOn(store, 'rs', 'AwaitGo');
        const client = createClient({ store });
        const status = async () => (await client.getStatus('rs'))?.runtimeStatus;
        await client.resume('rs', 'running already');
        expect(await status()).toBe('Running');
        await client.suspend('rs', 'first');
        expect(await status()).toBe('Suspended');
        // An HTTP retry of POST /suspend: recorded as a worker's step records it, nothing queued.
        await client.suspend('rs', 'retry');
        expect(await status()).toBe('Suspended');
        await client.resume('rs', 'done');
        expect(await status()).toBe('Running');
        await client.terminate('rs', 'end');
        expect(await status()).toBe('Terminated');
        expect((await store.getHistory('rs')).filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed')).toMatchObject([
          { type: 'ExecutionResumed', reason: 'running already' }, { type: 'ExecutionSuspended', reason: 'first' },
          { type: 'ExecutionSuspended', reason: 'retry' }, { type: 'ExecutionResumed', reason: 'done' },
        ]);
        // No message left for a worker.
        expect(await store.claimOrchestration({ owner: 'w2', leaseMs: 1000, now: new Date() })).toBeUndefined();
      });

      it('answers two concurrent identical suspends (a POST and its retry) with Suspended, and leaves nothing queued', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        await runningOn(opened, 'cc', 'AwaitGo');
        // The store, holding the first two reads of the instance until both are made: both calls read it Running at
        // the same version, so the store refuses one of the two direct commits.
        let arrived = 0;
        let release!: () => void;
        const bothRead = new Promise<void>((resolve) => (release = resolve));
        const store = storeWith(opened, {
          getInstance: async (id) => {
            const state = await opened.getInstance(id);
            if (arrived < 2 && ++arrived === 2) release();
            if (arrived <= 2) await bothRead;
            return state;
          },
        });
        await within(Promise.all([createClient({ store }).suspend('cc', 'post'), createClient({ store }).suspend('cc', 'retry')]), 'both suspends');
        expect(await opened.getInstance('cc')).toMatchObject({ runtimeStatus: 'Suspended' });
        // No message left for a worker (the refused call did not fall back to one), so later direct commands go on.
        expect(await opened.claimOrchestration({ owner: 'w2', leaseMs: 1000, now: new Date() })).toBeUndefined();
      });

      it('orders a repeated suspend behind a resume queued before it (the suspend goes to a worker after it)', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        await runningOn(store, 'rq', 'AwaitGo');
        const client = createClient({ store });
        await client.suspend('rq', 'first');
        // A resume queued for a worker (one whose call timed out), then a suspend of the still Suspended instance.
        await send(store, message('rq', { type: 'ExecutionResumed', eventId: -1, timestamp: new Date().toISOString(), reason: 'queued' }));
        await client.suspend('rq', 'after it');
        expect(await client.getStatus('rq')).toMatchObject({ runtimeStatus: 'Suspended' });
        await runtimeOn(store, 'w2', { orchestrators });
        await within(
          firstValueFrom(client.history$('rq').pipe(filter((e) => e.type === 'ExecutionSuspended' && e.reason === 'after it'))),
          'the worker\u2019s suspend after the queued resume',
        );
        expect(await client.getStatus('rq')).toMatchObject({ runtimeStatus: 'Suspended' });
        expect((await store.getHistory('rq')).filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed')).toMatchObject([
          { type: 'ExecutionSuspended', reason: 'first' }, { type: 'ExecutionResumed', reason: 'queued' },
          { type: 'ExecutionSuspended', reason: 'after it' },
        ]);
      });

      it('orders a resume that changes nothing behind a suspend queued before it, on an instance nobody has started yet (the resume goes to a worker after it)', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        const client = createClient({ store });
        await client.startNew('AwaitGo', { instanceId: 'pq' });
        // A suspend queued for a worker (one whose call timed out), then a resume of the still Pending instance: from
        // the status read it changes nothing, but it comes after that suspend and must undo it.
        await send(store, message('pq', { type: 'ExecutionSuspended', eventId: -1, timestamp: new Date().toISOString(), reason: 'queued' }));
        await client.resume('pq', 'after it');
        await runtimeOn(store, 'w2', { orchestrators });
        await within(
          firstValueFrom(client.history$('pq').pipe(filter((e) => e.type === 'ExecutionResumed' && e.reason === 'after it'))),
          'the worker\u2019s resume after the queued suspend',
        );
        expect((await store.getHistory('pq')).filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed')).toMatchObject([
          { type: 'ExecutionSuspended', reason: 'queued' }, { type: 'ExecutionResumed', reason: 'after it' },
        ]);
        expect(await client.getStatus('pq')).toMatchObject({ runtimeStatus: 'Running' });
      });

      it('suspends a Pending instance in the client\u2019s own commit; a worker then starts it suspended and runs it on the resume', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        const client = createClient({ store: opened });
        await client.startNew('AwaitGo', { instanceId: 'ps' });
        // The store, telling when the suspend's first commit is done: the client's own, under an unclaimed lease (the
        // start of the execution read does not hold it back), not a message for a worker.
        const { store, done } = firstCommitTold(opened);
        await createClient({ store }).suspend('ps', 'before it ran');
        expect((await done).lease?.kind).toBe('unclaimed');
        expect(await client.getStatus('ps')).toMatchObject({ runtimeStatus: 'Suspended' });
        expect(await opened.getHistory('ps')).toEqual([]);
        await runtimeOn(opened, 'w1', { orchestrators });
        await client.raiseEvent('ps', 'go', 'kept');
        // The worker takes the start and the event in and keeps both for the resume: the code has not run.
        await within(firstValueFrom(client.history$('ps').pipe(filter((e) => e.type === 'EventRaised'))), 'the event taken in');
        expect(await client.getStatus('ps')).toMatchObject({ runtimeStatus: 'Suspended' });
        const types = (await opened.getHistory('ps')).map((e) => e.type);
        const suspended = types.indexOf('ExecutionSuspended');
        const started = types.indexOf('ExecutionStarted');
        expect(suspended).toBeGreaterThanOrEqual(0);
        expect(started).toBeGreaterThanOrEqual(0);
        expect(suspended).toBeLessThan(started);
        await client.resume('ps');
        expect(await client.waitForCompletion('ps', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'kept' });
      });

      it('records every suspend and resume of an instance nobody has started yet that changes its status, in order, whether the client terminates it at once or a worker does', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        const client = createClient({ store: opened });
        const commands = async (id: string) => {
          await client.startNew('AwaitGo', { instanceId: id });
          await client.suspend(id, 'hold');
          await client.resume(id, 'go');
          await client.suspend(id, 'hold again');
          await client.resume(id, 'go again');
          await client.resume(id, 'a retry');
          await client.suspend(id, 'last');
          await client.suspend(id, 'last again');
        };
        // Through a worker: one holds the instance when the terminate comes, so the terminate is queued for it.
        await commands('queued');
        const item = await opened.claimOrchestration({ owner: 'w0', leaseMs: 60_000, now: new Date() });
        expect(item?.state.instanceId).toBe('queued');
        // At once: no worker runs, so the terminate is the client's own commit.
        await commands('direct');
        const direct = firstCommitTold(opened);
        await createClient({ store: direct.store }).terminate('direct', 'cut');
        expect((await direct.done).lease?.kind).toBe('unclaimed');
        const queued = firstCommitTold(opened, isMessage);
        const terminating = createClient({ store: queued.store }).terminate('queued', 'cut');
        await queued.done;
        await opened.abandonOrchestration('queued', item!.lease.token);
        await runtimeOn(opened, 'w1', { orchestrators });
        await terminating;
        await client.waitForCompletion('queued', SETTLED);
        const recorded = async (id: string) => {
          const history = await opened.getHistory(id);
          return history.slice(0, history.findIndex((e) => e.type === 'ExecutionTerminated'))
            .filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed')
            .map((e) => ({ type: e.type, reason: (e as { reason?: unknown }).reason }));
        };
        // Each command that changed the status is its own event, as Durable Functions records each command's message,
        // ahead of the end; a retry (a resume of one not suspended, a suspend of one suspended) changed nothing and is
        // not held, so that retries cannot grow the stored state.
        const expected = [
          { type: 'ExecutionSuspended', reason: 'hold' }, { type: 'ExecutionResumed', reason: 'go' },
          { type: 'ExecutionSuspended', reason: 'hold again' }, { type: 'ExecutionResumed', reason: 'go again' },
          { type: 'ExecutionSuspended', reason: 'last' },
        ];
        expect(await recorded('direct')).toEqual(expected);
        expect(await recorded('queued')).toEqual(expected);
        for (const id of ['direct', 'queued']) {
          expect(await client.getStatus(id), id).toMatchObject({ runtimeStatus: 'Terminated', output: 'cut' });
        }
      });

      it('records the commands held before a tab of the release before suspends an instance nobody has started yet, then its suspend', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        const client = createClient({ store: opened });
        await client.startNew('AwaitGo', { instanceId: 'older-tab' });
        await client.suspend('older-tab', 'hold');
        await client.resume('older-tab', 'go');
        // That tab (on a shared store) commits its suspend as its applyEvent folds it: a held suspend of its own, every
        // other field of the state kept as it read it.
        const state = (await opened.getInstance('older-tab'))!;
        const now = new Date(state.lastUpdatedTime.getTime() + 1000);
        const next: InstanceState = {
          ...state, runtimeStatus: 'Suspended', lastUpdatedTime: now, version: state.version + 1,
          heldSuspend: { timestamp: now.toISOString(), reason: 'older tab', resumeTo: state.heldSuspend!.resumeTo },
        };
        const lease: UnclaimedLease = { kind: 'unclaimed', instanceId: 'older-tab', executionId: state.executionId, version: state.version, now };
        await opened.commit({ lease, requests: [{ type: 'replaceState', state: next }] });
        await client.terminate('older-tab', 'cut');
        const history = await opened.getHistory('older-tab');
        // Each command once, in order, ahead of the termination: none of this version's is lost with that suspend.
        expect(history.filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed').map((e) => (e as { reason?: unknown }).reason))
          .toEqual(['hold', 'go', 'older tab']);
        expect(await client.getStatus('older-tab')).toMatchObject({ runtimeStatus: 'Terminated', output: 'cut' });
      });

      it('suspends at once ahead of an event raised before it; a worker keeps the event and processes it after the resume', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        await runningOn(opened, 'es', 'AwaitGo');
        const client = createClient({ store: opened });
        await client.raiseEvent('es', 'go', 'approved');
        const { store, done } = firstCommitTold(opened);
        await createClient({ store }).suspend('es');
        expect((await done).lease).toMatchObject({ kind: 'unclaimed', command: 'suspend' });
        expect(await client.getStatus('es')).toMatchObject({ runtimeStatus: 'Suspended' });
        await runtimeOn(opened, 'w2', { orchestrators });
        // The worker takes the event in while suspended and keeps it: the orchestrator has not run on it.
        await within(firstValueFrom(client.history$('es').pipe(filter((e) => e.type === 'EventRaised'))), 'the event taken in');
        expect(await client.getStatus('es')).toMatchObject({ runtimeStatus: 'Suspended' });
        await client.resume('es');
        expect(await client.waitForCompletion('es', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'approved' });
      });

      it('resumes at once ahead of an event raised while suspended and still queued; a worker then processes it', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        await runningOn(opened, 'q', 'AwaitGo');
        const client = createClient({ store: opened });
        await client.suspend('q');
        await client.raiseEvent('q', 'go', 'kept');
        const { store, done } = firstCommitTold(opened);
        await createClient({ store }).resume('q');
        expect((await done).lease).toMatchObject({ kind: 'unclaimed', command: 'resume' });
        expect(await client.getStatus('q')).toMatchObject({ runtimeStatus: 'Running' });
        await runtimeOn(opened, 'w2', { orchestrators });
        expect(await client.waitForCompletion('q', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'kept' });
      });

      it('leaves the resume to a worker when a worker kept an event for it in the history while suspended', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        const runtime = await runtimeOn(opened, 'w1', { orchestrators });
        await runtime.client.startNew('AwaitGo', { instanceId: 'k' });
        await firstValueFrom(runtime.client.status$('k').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        await runtime.client.suspend('k');
        await runtime.client.raiseEvent('k', 'go', 'kept');
        // The worker takes the event in and keeps it for the resume; no message is left.
        await firstValueFrom(runtime.client.history$('k').pipe(filter((e) => e.type === 'EventRaised')));
        await runtime.stop();
        const { store, done } = firstCommitTold(opened);
        const resuming = createClient({ store }).resume('k');
        await done;
        // A resume committed by the client would leave the kept event unapplied, the instance Running and waiting.
        expect(await createClient({ store: opened }).getStatus('k')).toMatchObject({ runtimeStatus: 'Suspended' });
        await runtimeOn(opened, 'w2', { orchestrators });
        await resuming;
        expect(await runtime.client.waitForCompletion('k', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'kept' });
      });

      it('falls back to a message when a worker holds the instance, and the instance still ends Suspended', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        await runningOn(opened, 'sh', 'AwaitGo');
        // A worker claims the instance for a message due a minute from now (claiming at that time): it holds the
        // instance's lease, and no message is visible at the client's time.
        const later = new Date(Date.now() + 60_000);
        const other: OrchestrationMessage = {
          id: randomId(), instanceId: 'sh', visibleAt: later,
          event: { type: 'EventRaised', eventId: -1, timestamp: later.toISOString(), name: 'other' },
        };
        await opened.commit({ requests: [{ type: 'insertMessage', message: other, ifMissing: 'fail' }] });
        const item = await opened.claimOrchestration({ owner: 'w0', leaseMs: 60_000, now: later });
        expect(item?.state.instanceId).toBe('sh');
        const { store, done } = firstCommitTold(opened);
        const client = createClient({ store });
        const suspending = client.suspend('sh', 'raced');
        await done;
        expect(await client.getStatus('sh')).toMatchObject({ runtimeStatus: 'Running' }); // refused: nothing written
        await opened.abandonOrchestration('sh', item!.lease.token);
        await runtimeOn(opened, 'w1', { orchestrators });
        await suspending;
        expect(await client.getStatus('sh')).toMatchObject({ runtimeStatus: 'Suspended' });
        expect((await opened.getHistory('sh')).filter((e) => e.type === 'ExecutionSuspended')).toMatchObject([{ reason: 'raced' }]);
      });
    });

    describe('a suspend in the step that continues an instance as new', () => {
      // The first execution waits for 'go', then continues as new; the next one ends at once with its input.
      const continueOnGo: Orchestrator = function* (ctx) {
        if (ctx.getInput() !== undefined) return `done ${String(ctx.getInput())}`;
        yield ctx.waitForExternalEvent('go');
        ctx.continueAsNew('next');
        return undefined;
      };
      const orchestrators = { ContinueOnGo: continueOnGo };

      it('starts the next execution suspended, and runs it after the resume', async () => {
        const store = await open();
        const first = await runtimeOn(store, 'w1', { orchestrators });
        await first.client.startNew('ContinueOnGo', { instanceId: 'cs' });
        await within(firstValueFrom(first.client.history$('cs').pipe(filter((e) => e.type === 'OrchestratorCompleted'))), 'the first step');
        await first.stop();
        // The event that continues it as new and a suspend, queued with no worker: one worker's step takes both.
        await send(store, message('cs', eventRaised('go')));
        await send(store, message('cs', { type: 'ExecutionSuspended', eventId: -1, timestamp: new Date().toISOString(), reason: 'hold' }));
        const client = createClient({ store });
        await runtimeOn(store, 'w2', { orchestrators });
        // The worker takes the next execution's start: that execution does not run while suspended.
        await within(
          firstValueFrom(client.history$('cs').pipe(filter((e) => e.type === 'ExecutionStarted' && e.input === 'next'))),
          'the next execution\u2019s start',
        );
        expect(await client.getStatus('cs')).toMatchObject({ runtimeStatus: 'Suspended', input: 'next' });
        // The suspend recorded ahead of that start is the one committed, its reason kept.
        expect((await store.getHistory('cs')).filter((e) => e.type === 'ExecutionSuspended')).toMatchObject([{ reason: 'hold' }]);
        await client.resume('cs', 'go on');
        expect(await client.waitForCompletion('cs', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done next' });
      });

      for (const how of ['by a client once it had continued as new', 'in the step that continued it as new'] as const) {
        it(`gives an instance suspended ${how} ContinuedAsNew back on a resume before its next execution started`, async (context) => {
          const store = await open();
          if (!store.capabilities.unclaimedWrites) return context.skip();
          const client = createClient({ store });
          await client.startNew('ContinueOnGo', { instanceId: 'cr' });
          // Its steps by hand, so that no worker goes on with the next execution: its start stays queued.
          if (how === 'by a client once it had continued as new') {
            await client.raiseEvent('cr', 'go');
            await stepByHand(store, orchestrators);
            expect(await client.getStatus('cr')).toMatchObject({ runtimeStatus: 'ContinuedAsNew', input: 'next' });
            await client.suspend('cr', 'hold');
          } else {
            await stepByHand(store, orchestrators);
            await send(store, message('cr', eventRaised('go')));
            await send(store, message('cr', { type: 'ExecutionSuspended', eventId: -1, timestamp: new Date().toISOString(), reason: 'hold' }));
            await stepByHand(store, orchestrators);
          }
          expect(await client.getStatus('cr')).toMatchObject({ runtimeStatus: 'Suspended', input: 'next' });
          // Nothing of the next execution ran: the resume gives back the status before the suspend (Pending would read
          // as an instance nobody ever started), and a worker starts that execution as it would have.
          await client.resume('cr', 'go on');
          expect(await client.getStatus('cr')).toMatchObject({ runtimeStatus: 'ContinuedAsNew', input: 'next' });
          await runtimeOn(store, 'w1', { orchestrators });
          expect(await client.waitForCompletion('cr', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done next' });
          // Both commands recorded ahead of that execution's start, as Durable Functions records each.
          expect((await store.getHistory('cr')).slice(0, 4)).toMatchObject([
            { type: 'OrchestratorStarted' }, { type: 'ExecutionSuspended', reason: 'hold' }, { type: 'ExecutionResumed', reason: 'go on' },
            { type: 'ExecutionStarted', input: 'next' },
          ]);
        });
      }
    });

    describe('a suspend committed before the execution started', () => {
      const hellos = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];

      it('records it with its reason ahead of the start that a worker takes later, and runs the execution on the resume', async () => {
        const opened = await open();
        const client = createClient({ store: opened });
        await client.startNew('HelloSequence', { instanceId: 'sr' });
        // The suspend's first commit: the client's own where the store can (read-your-writes with no worker), else its
        // message for a worker (a store without capabilities.unclaimedWrites).
        const { store, done } = firstCommitTold(opened);
        const suspending = createClient({ store }).suspend('sr', 'maintenance window');
        await done;
        await runtimeOn(opened, 'w1');
        await within(suspending, 'the suspend');
        await within(firstValueFrom(client.history$('sr').pipe(filter((e) => e.type === 'ExecutionStarted'))), 'the start taken in');
        expect(await client.getStatus('sr')).toMatchObject({ runtimeStatus: 'Suspended' });
        expect(await opened.getHistory('sr')).toMatchObject([
          { type: 'OrchestratorStarted' }, { type: 'ExecutionSuspended', reason: 'maintenance window' }, { type: 'ExecutionStarted' },
          { type: 'OrchestratorCompleted' },
        ]);
        await client.resume('sr');
        expect(await client.waitForCompletion('sr', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: hellos });
      });

      it('records a suspend and a resume both committed before the start ahead of it, and runs the execution as any start', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip(); // its client queues both for a worker (as below)
        const client = createClient({ store });
        await client.startNew('HelloSequence', { instanceId: 'rb' });
        await client.suspend('rb', 'hold');
        await client.resume('rb', 'go on');
        expect(await client.getStatus('rb')).toMatchObject({ runtimeStatus: 'Pending' });
        await runtimeOn(store, 'w1');
        expect(await client.waitForCompletion('rb', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: hellos });
        // As Durable Functions records each command, and as a worker records the two when both reach it as messages.
        expect((await store.getHistory('rb')).slice(0, 5)).toMatchObject([
          { type: 'OrchestratorStarted' }, { type: 'ExecutionSuspended', reason: 'hold' }, { type: 'ExecutionResumed', reason: 'go on' },
          { type: 'ExecutionStarted' }, { type: 'TaskScheduled' },
        ]);
      });

      it('runs no code of an execution whose suspend was queued as a message before a worker took its start in', async () => {
        const opened = await open();
        const client = createClient({ store: opened });
        await client.startNew('HelloSequence', { instanceId: 'mq' });
        // The suspend as a client sends it to a worker (MongoStore's, or one whose command waits behind another
        // message): queued after the start, and one step of a worker takes both in.
        const { store: told, done } = firstCommitTold(opened, isMessage);
        const messaging = storeWith(told, { capabilities: { ...opened.capabilities, unclaimedWrites: false } });
        const suspending = createClient({ store: messaging }).suspend('mq', 'queued');
        await done;
        await runtimeOn(opened, 'w1');
        await within(suspending, 'the suspend applied by a worker');
        expect(await client.getStatus('mq')).toMatchObject({ runtimeStatus: 'Suspended' });
        // As after the client's own commit: the suspend ahead of the start, which waits for the resume (no activity
        // scheduled), instead of a first step run, then suspended.
        expect(await opened.getHistory('mq')).toMatchObject([
          { type: 'OrchestratorStarted' }, { type: 'ExecutionSuspended', reason: 'queued' }, { type: 'ExecutionStarted' },
          { type: 'OrchestratorCompleted' },
        ]);
        await client.resume('mq');
        expect(await client.waitForCompletion('mq', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: hellos });
      });
    });

    describe('queries', () => {
      it('filters by status, created time and a literal id prefix', async () => {
        const store = await open();
        for (let i = 0; i < 6; i++) await create(store, newInstance(`job-${i}`, { createdTime: at(i * 1000) }));
        await create(store, newInstance('a.*b', { createdTime: at(10_000) }));
        await create(store, newInstance('aXXb', { createdTime: at(10_000) }));
        await forceState(store, (await store.getInstance('job-1'))!, { runtimeStatus: 'Completed' });
        await forceState(store, (await store.getInstance('job-2'))!, { runtimeStatus: 'Failed' });
        const ids = async (q: Parameters<Store['queryInstances']>[0]) => (await store.queryInstances(q)).instances.map((s) => s.instanceId);
        expect(await ids({ runtimeStatus: ['Completed', 'Failed'] })).toEqual(['job-1', 'job-2']);
        expect(await ids({ createdTimeFrom: at(2000), createdTimeTo: at(4000) })).toEqual(['job-2', 'job-3', 'job-4']);
        expect(await ids({ instanceIdPrefix: 'a.*' })).toEqual(['a.*b']);
        expect(await ids({ instanceIdPrefix: 'job-' })).toHaveLength(6);
        expect(await ids({ instanceIdPrefix: '' })).toHaveLength(8);
      });

      it('matches an id prefix literally and case-sensitively, whatever characters it holds', async () => {
        const store = await open();
        const all = ['Job-1', 'job-2', 'JOB-3', 'a+b(1)', 'a+b[2]', 'ab', 'aab', 'x$y', 'x^y|z', 'x{1}', 'étape', 'Étape', '東京-1'];
        for (const id of all) await create(store, newInstance(id));
        // Sorted here: the order of ids beyond plain ASCII is the store's own.
        const ids = async (instanceIdPrefix: string) => (await store.queryInstances({ instanceIdPrefix })).instances.map((s) => s.instanceId).sort();
        expect(await ids('job-')).toEqual(['job-2']);
        expect(await ids('Job')).toEqual(['Job-1']);
        expect(await ids('JOB-')).toEqual(['JOB-3']);
        expect(await ids('a+b')).toEqual(['a+b(1)', 'a+b[2]']);
        expect(await ids('a+b(')).toEqual(['a+b(1)']);
        expect(await ids('a+b[')).toEqual(['a+b[2]']);
        expect(await ids('x$')).toEqual(['x$y']);
        expect(await ids('x^y|')).toEqual(['x^y|z']);
        expect(await ids('x{1')).toEqual(['x{1}']);
        expect(await ids('é')).toEqual(['étape']);
        expect(await ids('東京')).toEqual(['東京-1']);
        expect(await ids('b')).toEqual([]);
        expect(await ids('job-2-')).toEqual([]);
      });

      it('reads an empty runtimeStatus list as no status filter, in queries and in purges', async () => {
        const store = await open();
        await create(store, newInstance('pending'));
        await create(store, newInstance('done'));
        await forceState(store, (await store.getInstance('done'))!, { runtimeStatus: 'Completed' });
        expect((await store.queryInstances({ runtimeStatus: [] })).instances.map((s) => s.instanceId).sort()).toEqual(['done', 'pending']);
        // Terminal instances only, as without the list.
        expect(await store.purgeInstances({ createdTimeFrom: T0, runtimeStatus: [] })).toBe(1);
        expect((await store.queryInstances({})).instances.map((s) => s.instanceId)).toEqual(['pending']);
      });

      it('orders by created time first and by instance id only between instances created at one time', async () => {
        const store = await open();
        // Plain ASCII ids: whatever key a store orders ids by (MongoStore's instance key, say) sorts them as strings do.
        await create(store, newInstance('c', { createdTime: at(0) }));
        await create(store, newInstance('b', { createdTime: at(2000) }));
        await create(store, newInstance('a', { createdTime: at(1000) }));
        await create(store, newInstance('d', { createdTime: at(1000) }));
        const all = await store.queryInstances({});
        expect(all.instances.map((s) => s.instanceId)).toEqual(['c', 'a', 'd', 'b']);
        const first = await store.queryInstances({ pageSize: 2 });
        const rest = await store.queryInstances({ pageSize: 2, continuationToken: first.continuationToken });
        expect([...first.instances, ...rest.instances].map((s) => s.instanceId)).toEqual(['c', 'a', 'd', 'b']);
      });

      it('answers copies: changing a state a query returned changes nothing stored', async () => {
        const store = await open();
        await create(store, newInstance('a', { input: { n: 1 } }));
        const [state] = (await store.queryInstances({})).instances;
        try {
          (state as { runtimeStatus: string }).runtimeStatus = 'Completed';
          (state!.input as { n: number }).n = 2;
        } catch {
          // frozen
        }
        expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', input: { n: 1 } });
        expect((await store.queryInstances({ runtimeStatus: ['Completed'] })).instances).toEqual([]);
      });

      it('pages in (createdTime, instanceId) order without repeating or skipping while instances are added', async () => {
        const store = await open();
        const expected: string[] = [];
        for (let i = 0; i < 25; i++) {
          const id = `p-${String(i).padStart(2, '0')}`;
          expected.push(id);
          await create(store, newInstance(id, { createdTime: at(Math.floor(i / 3) * 1000) }));
        }
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await store.queryInstances({ pageSize: 10, ...(token ? { continuationToken: token } : {}) });
          seen.push(...page.instances.map((s) => s.instanceId));
          token = page.continuationToken;
          // Added while paging, in the past and in the future of the cursor.
          await create(store, newInstance(`early-${pages}`, { createdTime: at(-1000) }));
          pages++;
        } while (token);
        expect(seen.filter((id) => id.startsWith('p-'))).toEqual(expected);
        expect(new Set(seen).size).toBe(seen.length);
      });

      for (const again of ['restart', 'startNew'] as const) {
        it(`pages every instance that existed when paging began exactly once, one listed and then started again by ${again} included`, async () => {
          const store = await open();
          // One clock that moves forward stamps every createdTime, as one process's does; a second apart each.
          const clock = new VirtualClock(T0);
          const client = createClient({ store, clock });
          const ids = Array.from({ length: 7 }, (_, i) => `again-${i}`);
          for (const id of ids) {
            await client.startNew('Orch', { instanceId: id, input: id });
            await clock.advance(1000);
          }
          for (const id of ids) await forceState(store, (await store.getInstance(id))!, { runtimeStatus: 'Completed' });
          const first = await store.queryInstances({ pageSize: 2 });
          const seen = first.instances.map((s) => s.instanceId);
          expect(seen).toEqual(['again-0', 'again-1']);
          // Listed on the first page, then a new execution with a new createdTime, after every other instance's.
          await clock.advance(1000);
          if (again === 'restart') await client.restart('again-0');
          else await client.startNew('Orch', { instanceId: 'again-0', input: 'again' });
          expect((await store.getInstance('again-0'))!.createdTime.getTime()).toBeGreaterThan(at(6000).getTime());
          for (let token = first.continuationToken; token !== undefined;) {
            const page = await store.queryInstances({ pageSize: 2, continuationToken: token });
            seen.push(...page.instances.map((s) => s.instanceId));
            token = page.continuationToken;
          }
          // Each exactly once, in page order: the ones not listed yet (untouched) too.
          expect(seen).toEqual(ids);
          // A listing begun now shows the new execution in its new place.
          expect((await store.queryInstances({})).instances.map((s) => s.instanceId)).toEqual([...ids.slice(1), 'again-0']);
        });
      }

      it('bounds a filtered listing by the newest instance of all, not of the matches: one that enters the filter while paging is listed once', async () => {
        const store = await open();
        for (let i = 0; i < 5; i++) {
          await create(store, newInstance(`f-${i}`, { createdTime: at(i * 1000) }));
          await forceState(store, (await store.getInstance(`f-${i}`))!, { runtimeStatus: 'Completed' });
        }
        // The newest instance when paging begins, not Completed yet: outside the filter, newer than every match.
        await create(store, newInstance('f-newest', { createdTime: at(9000) }));
        const completed = { runtimeStatus: ['Completed'], pageSize: 2 } as const;
        const first = await store.queryInstances(completed);
        const seen = first.instances.map((s) => s.instanceId);
        expect(seen).toEqual(['f-0', 'f-1']);
        // It completes while paging: it existed when paging began, so it is listed, at its place after the others.
        await forceState(store, (await store.getInstance('f-newest'))!, { runtimeStatus: 'Completed' });
        // One created after paging began, newer than every instance then: left to a listing begun later.
        await create(store, newInstance('f-later', { createdTime: at(10_000) }));
        await forceState(store, (await store.getInstance('f-later'))!, { runtimeStatus: 'Completed' });
        for (let token = first.continuationToken; token !== undefined;) {
          const page = await store.queryInstances({ ...completed, continuationToken: token });
          seen.push(...page.instances.map((s) => s.instanceId));
          token = page.continuationToken;
        }
        expect(seen).toEqual(['f-0', 'f-1', 'f-2', 'f-3', 'f-4', 'f-newest']);
        expect((await store.queryInstances({ runtimeStatus: ['Completed'] })).instances.map((s) => s.instanceId).at(-1)).toBe('f-later');
      });

      it('selects nothing from an empty created-time range: a reversed filter, or a token past createdTimeTo', async () => {
        const store = await open();
        for (let i = 0; i < 4; i++) await create(store, newInstance(`r-${i}`, { createdTime: at(i * 1000) }));
        await create(store, newInstance('r-2b', { createdTime: at(2000) }));
        await forceState(store, (await store.getInstance('r-1'))!, { runtimeStatus: 'Completed' });
        await forceState(store, (await store.getInstance('r-2'))!, { runtimeStatus: 'Completed' });
        const reversed = { createdTimeFrom: at(2000), createdTimeTo: at(1000) };
        expect(await store.queryInstances(reversed)).toEqual({ instances: [] });
        expect(await store.queryInstances({ ...reversed, runtimeStatus: ['Completed', 'Pending'] })).toEqual({ instances: [] });
        expect(await store.purgeInstances(reversed)).toBe(0);
        expect(await store.purgeInstances({ ...reversed, runtimeStatus: ['Completed'] })).toBe(0);
        // A token kept while the filter was narrowed: its place (r-2, at 2000) is past the new createdTimeTo.
        const first = await store.queryInstances({ pageSize: 3 });
        const token = first.continuationToken!;
        expect(first.instances.map((s) => s.instanceId)).toEqual(['r-0', 'r-1', 'r-2']);
        expect(await store.queryInstances({ continuationToken: token, createdTimeTo: at(1000) })).toEqual({ instances: [] });
        expect(await store.queryInstances({ continuationToken: token, createdTimeTo: at(1000), runtimeStatus: ['Completed'] })).toEqual({ instances: [] });
        // Up to the token's own time the range is not empty: what follows the token at that time is still listed.
        const after = async (to: number) => (await store.queryInstances({ continuationToken: token, createdTimeTo: at(to) })).instances.map((s) => s.instanceId);
        expect(await after(2000)).toEqual(['r-2b']);
        expect(await after(3000)).toEqual(['r-2b', 'r-3']);
        expect((await store.queryInstances({})).instances).toHaveLength(5);
      });

      it('goes on after a key given as a token made for it, up to its bound: what a retention sweep resumes from', async () => {
        // A retention sweep that went past a status's listing goes on, at its next pass, after the last key it listed
        // (encodeContinuationToken of that key, bounded by its cutoff): never the keys at or before it, even in the
        // same millisecond, and every key after it up to the bound, created since or not.
        const store = await open();
        await create(store, newInstance('k-0', { createdTime: at(1000) }));
        for (const id of ['k-1a', 'k-1b', 'k-1c']) await create(store, newInstance(id, { createdTime: at(2000) }));
        await create(store, newInstance('k-2', { createdTime: at(3000) }));
        for (const id of ['k-0', 'k-1a', 'k-1c', 'k-2']) await forceState(store, (await store.getInstance(id))!, { runtimeStatus: 'Completed' });
        const after = async (bound: number, query: InstanceQuery = {}) => {
          const token = encodeContinuationToken({ createdTime: at(2000).getTime(), instanceId: 'k-1a' }, at(bound).getTime());
          return (await store.queryInstances({ ...query, createdTimeTo: at(bound), continuationToken: token })).instances.map((s) => s.instanceId);
        };
        expect(await after(3000)).toEqual(['k-1b', 'k-1c', 'k-2']);
        expect(await after(3000, { runtimeStatus: ['Completed'] })).toEqual(['k-1c', 'k-2']);
        expect(await after(2000, { runtimeStatus: ['Completed'] })).toEqual(['k-1c']);
        await create(store, newInstance('k-3', { createdTime: at(4000) }));
        await forceState(store, (await store.getInstance('k-3'))!, { runtimeStatus: 'Completed' });
        expect(await after(3000, { runtimeStatus: ['Completed'] })).toEqual(['k-1c', 'k-2']);
        expect(await after(4000, { runtimeStatus: ['Completed'], pageSize: 2 })).toEqual(['k-1c', 'k-2']);
        expect(await after(4000, { runtimeStatus: ['Completed'] })).toEqual(['k-1c', 'k-2', 'k-3']);
      });

      it('lists the ended instances of a status in end order, up to a time, after a key (listEnded, where the store has it)', async () => {
        // A retention sweep lists each status it keeps in this order: only the instances whose period has passed, and
        // at its next pass after the last one it listed (an instance that ends later comes after it).
        const store = await open();
        if (store.listEnded === undefined) return;
        // Every page is checked against the one rule as well (matchesEndedQuery, compareEndedKeys): what it lists is
        // exactly the matching instances in end order, the first `limit` of them.
        const list = async (partial: Partial<EndedQuery>) => {
          const query: EndedQuery = { runtimeStatus: 'Completed', endedTo: at(10_000), limit: 100, ...partial };
          const ids = (await store.listEnded!(query)).map((state) => state.instanceId);
          const all = (await store.queryInstances({ pageSize: 1000 })).instances;
          const byRule = all.filter((state) => matchesEndedQuery(state, query)).sort((a, b) => compareEndedKeys(endedKeyOf(a), endedKeyOf(b)));
          expect(ids).toEqual(byRule.slice(0, query.limit).map((state) => state.instanceId));
          return ids;
        };
        // Created in one order, ended in another: e-3 first, then e-1a and e-1b in one millisecond, then e-2.
        for (const id of ['e-1a', 'e-1b', 'e-2', 'e-3', 'e-run', 'e-failed']) await create(store, newInstance(id, { createdTime: at(0) }));
        const end = async (id: string, ms: number, runtimeStatus: InstanceState['runtimeStatus'] = 'Completed') =>
          forceState(store, (await store.getInstance(id))!, { runtimeStatus, lastUpdatedTime: at(ms) });
        await end('e-3', 1000);
        await end('e-1b', 2000);
        await end('e-1a', 2000);
        await end('e-2', 3000);
        await end('e-failed', 1500, 'Failed');
        await end('e-run', 500, 'Running');
        expect(await list({})).toEqual(['e-3', 'e-1a', 'e-1b', 'e-2']);
        expect(await list({ endedTo: at(2000) })).toEqual(['e-3', 'e-1a', 'e-1b']);
        expect(await list({ endedTo: at(999) })).toEqual([]);
        expect(await list({ after: { endedMs: at(2000).getTime(), instanceId: 'e-1a' } })).toEqual(['e-1b', 'e-2']);
        expect(await list({ after: { endedMs: at(2000).getTime(), instanceId: '' }, limit: 1 })).toEqual(['e-1a']);
        expect(await list({ runtimeStatus: 'Failed' })).toEqual(['e-failed']);
        // A change recorded on an ended instance (a late result) moves it to its new end; a purge takes it out.
        await end('e-3', 4000);
        expect(await list({})).toEqual(['e-1a', 'e-1b', 'e-2', 'e-3']);
        await store.purgeInstance('e-1a');
        expect(await list({})).toEqual(['e-1b', 'e-2', 'e-3']);
        // Started again over its id: no longer ended.
        await store.commit({ requests: [{ type: 'createInstance', ...newInstance('e-2', { executionId: 'exec-2', createdTime: at(5000) }), ifRunning: { kind: 'fail' } }] });
        expect(await list({})).toEqual(['e-1b', 'e-3']);
        for (const query of [{ runtimeStatus: 'Running' as const }, { limit: 0 }, { limit: 1001 }, { endedTo: new Date(NaN) }, { after: { endedMs: 1.5, instanceId: 'x' } }]) {
          await expect(list(query)).rejects.toMatchObject({ code: 'invalid-argument' });
        }
      });

      it('lists the ids of one end millisecond as JavaScript compares them (by UTF-16 code unit: a character above U+FFFF before U+FF01), and goes on after each (listEnded)', async () => {
        // A store's own string order may differ (MongoDB compares UTF-8 bytes, that is code points): a page that went
        // on after a key in that order would skip or repeat instances the sweep's resume key (compareEndedKeys) names.
        const store = await open();
        if (store.listEnded === undefined) return;
        const inOrder = ['u-a', 'u-\u4E1C', 'u-\u{1F600}', 'u-\u{1F600}a', 'u-\uFF01', 'u-\uFFFD'];
        for (const id of [...inOrder].reverse()) {
          await create(store, newInstance(id, { createdTime: at(0) }));
          await forceState(store, (await store.getInstance(id))!, { runtimeStatus: 'Completed', lastUpdatedTime: at(1000) });
        }
        const query: EndedQuery = { runtimeStatus: 'Completed', endedTo: at(1000), limit: 100 };
        const ids = async (partial: Partial<EndedQuery>) => (await store.listEnded!({ ...query, ...partial })).map((state) => state.instanceId);
        expect(await ids({})).toEqual(inOrder);
        for (const [i, instanceId] of inOrder.entries()) expect(await ids({ after: { endedMs: at(1000).getTime(), instanceId } })).toEqual(inOrder.slice(i + 1));
        // Paged two at a time from the sweep's own resume keys: each instance once, in order.
        const paged: string[] = [];
        for (let page = await store.listEnded!({ ...query, limit: 2 }); ; ) {
          paged.push(...page.map((state) => state.instanceId));
          if (page.length < 2) break;
          page = await store.listEnded!({ ...query, limit: 2, after: endedKeyOf(page.at(-1)!) });
        }
        expect(paged).toEqual(inOrder);
      });

      it('rejects a forged continuation token and a bad page size', async () => {
        const store = await open();
        await expect(store.queryInstances({ continuationToken: 'not-a-token' })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        await expect(store.queryInstances({ pageSize: 0 })).rejects.toMatchObject({ code: 'invalid-argument' });
        await expect(store.queryInstances({ pageSize: 1.5 })).rejects.toMatchObject({ code: 'invalid-argument' });
      });

      it('takes a page size above the largest page (1000) as the largest, as every client and the HTTP API do', async () => {
        // 1001 instances, so a store that ignored the clamp would give them all; created in one commit, so the case
        // stays cheap on a store whose writes are slow one by one (IndexedDB).
        const store = await open();
        const ids = Array.from({ length: 1001 }, (_, i) => `big-${String(i).padStart(4, '0')}`);
        await store.commit({ requests: ids.map((id) => ({ type: 'createInstance' as const, ...newInstance(id), ifRunning: { kind: 'fail' as const } })) });
        const page = await store.queryInstances({ pageSize: 5000 });
        expect(page.instances).toHaveLength(1000);
        expect(page).toEqual(await store.queryInstances({ pageSize: 1000 }));
        const rest = await store.queryInstances({ pageSize: 5000, continuationToken: page.continuationToken! });
        expect([...page.instances, ...rest.instances].map((s) => s.instanceId).sort()).toEqual(ids);
        expect(rest.continuationToken).toBeUndefined();
      });

      it('reads an empty continuation token as none: the first page, as every client and the HTTP API read it', async () => {
        const store = await open();
        expect(await store.queryInstances({ continuationToken: '' })).toEqual(await store.queryInstances({}));
      });

      describe('orchestrator name filter and newest-first order', () => {
        it("names 'name' and 'order' in capabilities.filters: a client refuses those filters on a store that does not", async () => {
          expect((await open()).capabilities.filters).toEqual(expect.arrayContaining(['name', 'order']));
        });

        const seed = async (store: Store) => {
          // Two instances per millisecond, names interleaved; 'orders' differs from 'Orders' only in case.
          const names = ['Orders', 'Billing', 'Orders', 'orders', 'Billing', 'Orders', 'Orders', 'Billing'];
          for (const [i, name] of names.entries()) await create(store, newInstance(`n-${i}`, { name, createdTime: at(Math.floor(i / 2) * 1000) }));
          await forceState(store, (await store.getInstance('n-2'))!, { runtimeStatus: 'Completed' });
          await forceState(store, (await store.getInstance('n-4'))!, { runtimeStatus: 'Completed' });
        };

        it('filters by orchestrator name, exactly (case included), one name or several, with the other filters', async () => {
          const store = await open();
          await seed(store);
          const ids = async (q: Parameters<Store['queryInstances']>[0]) => (await store.queryInstances(q)).instances.map((s) => s.instanceId);
          expect(await ids({ name: ['Orders'] })).toEqual(['n-0', 'n-2', 'n-5', 'n-6']);
          expect(await ids({ name: ['orders'] })).toEqual(['n-3']);
          expect(await ids({ name: ['Orders', 'orders'] })).toEqual(['n-0', 'n-2', 'n-3', 'n-5', 'n-6']);
          expect(await ids({ name: ['Billing', 'Orders'] })).toEqual(['n-0', 'n-1', 'n-2', 'n-4', 'n-5', 'n-6', 'n-7']);
          expect(await ids({ name: ['ORDERS'] })).toEqual([]);
          expect(await ids({ name: [] })).toHaveLength(8);
          expect(await ids({ name: ['Orders', 'Billing'], runtimeStatus: ['Completed'] })).toEqual(['n-2', 'n-4']);
          expect(await ids({ name: ['Orders'], createdTimeFrom: at(1000), createdTimeTo: at(2000) })).toEqual(['n-2', 'n-5']);
          expect(await ids({ name: ['Billing'], instanceIdPrefix: 'n-7' })).toEqual(['n-7']);
          expect(await ids({ name: ['Billing'], order: 'desc' })).toEqual(['n-7', 'n-4', 'n-1']);
        });

        it('lists newest first with order desc, the exact reverse of the default order, through every page', async () => {
          const store = await open();
          await seed(store);
          const ascending = await allPages(store, {});
          expect(ascending).toEqual(['n-0', 'n-1', 'n-2', 'n-3', 'n-4', 'n-5', 'n-6', 'n-7']);
          expect(await allPages(store, { order: 'asc' })).toEqual(ascending);
          for (const pageSize of [1, 2, 3, 100]) {
            expect(await allPages(store, { order: 'desc', pageSize })).toEqual([...ascending].reverse());
            // Several names merged, and a status filter, page for page in the same order.
            expect(await allPages(store, { order: 'desc', pageSize, name: ['Orders', 'Billing'] })).toEqual(['n-7', 'n-6', 'n-5', 'n-4', 'n-2', 'n-1', 'n-0']);
            expect(await allPages(store, { order: 'desc', pageSize, runtimeStatus: ['Pending'] })).toEqual(['n-7', 'n-6', 'n-5', 'n-3', 'n-1', 'n-0']);
            expect(await allPages(store, { order: 'desc', pageSize, createdTimeFrom: at(1000), createdTimeTo: at(2000) })).toEqual(['n-5', 'n-4', 'n-3', 'n-2']);
          }
        });

        it('pages newest first without repeating or skipping an instance that existed when paging began, while instances are added', async () => {
          const store = await open();
          const expected: string[] = [];
          for (let i = 0; i < 25; i++) {
            const id = `p-${String(i).padStart(2, '0')}`;
            expected.push(id);
            await create(store, newInstance(id, { name: i % 2 ? 'Odd' : 'Even', createdTime: at(Math.floor(i / 3) * 1000) }));
          }
          for (const [round, name] of [undefined, ['Even', 'Odd']].entries()) {
            const seen: string[] = [];
            let token: string | undefined;
            let pages = 0;
            do {
              const page = await store.queryInstances({ pageSize: 4, order: 'desc', ...(name ? { name } : {}), ...(token ? { continuationToken: token } : {}) });
              seen.push(...page.instances.map((s) => s.instanceId));
              token = page.continuationToken;
              // Added while paging, newer than every instance listed so far: never listed by a later page.
              await create(store, newInstance(`late-${String(name)}-${pages}`, { name: 'Even', createdTime: at((round + 1) * 100_000 + pages) }));
              pages++;
            } while (token);
            // The instances added by an earlier listing existed when this one began: listed (once) as the newest.
            expect(seen.filter((id) => id.startsWith('p-'))).toEqual([...expected].reverse());
            expect(seen.filter((id) => id.startsWith(`late-${String(name)}-`))).toEqual([]);
            expect(new Set(seen).size).toBe(seen.length);
          }
        });

        it('refuses a continuation token used with the other order (400), whatever the filters', async () => {
          const store = await open();
          await seed(store);
          const asc = await store.queryInstances({ pageSize: 2 });
          const desc = await store.queryInstances({ pageSize: 2, order: 'desc' });
          await expect(store.queryInstances({ order: 'desc', continuationToken: asc.continuationToken! })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(store.queryInstances({ continuationToken: desc.continuationToken! })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(store.queryInstances({ order: 'asc', continuationToken: desc.continuationToken! })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          // With its own order, a token goes on after its key, whatever the filters now are (a position, not a session).
          expect((await store.queryInstances({ order: 'desc', continuationToken: desc.continuationToken!, name: ['Billing'] })).instances.map((s) => s.instanceId)).toEqual(['n-4', 'n-1']);
        });

        it('refuses a malformed name filter or order (400) and purges nothing', async () => {
          const store = await open();
          await seed(store);
          const hostile = [
            { name: [''] }, { name: [1] }, { name: ['ok', null] }, { name: ['a\u0000b'] }, { name: { 0: 'Orders' } },
            { name: Array.from({ length: 101 }, (_, i) => `n${i}`) }, { order: 'newest' }, { order: 'DESC' }, { order: -1 },
          ];
          for (const query of hostile) {
            await expect(store.queryInstances(query as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
            await expect(store.purgeInstances({ createdTimeFrom: T0, ...query } as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          }
          expect((await store.queryInstances({})).instances).toHaveLength(8);
        });

        it('purges the terminal instances of the names asked for only', async () => {
          const store = await open();
          await seed(store);
          expect(await store.purgeInstances({ createdTimeFrom: T0, name: ['orders'] })).toBe(0);
          expect(await store.purgeInstances({ createdTimeFrom: T0, name: ['Billing'] })).toBe(1);
          expect((await store.queryInstances({ runtimeStatus: ['Completed'] })).instances.map((s) => s.instanceId)).toEqual(['n-2']);
          expect(await store.purgeInstances({ createdTimeFrom: T0, name: ['Orders', 'Billing'] })).toBe(1);
          expect((await store.queryInstances({})).instances).toHaveLength(6);
        });

        it('moves an instance between name filters when its id starts again under another orchestrator', async () => {
          const store = await open();
          await create(store, newInstance('x', { name: 'First' }));
          await forceState(store, (await store.getInstance('x'))!, { runtimeStatus: 'Completed' });
          await store.commit({ requests: [{ type: 'createInstance', ...newInstance('x', { name: 'Second', executionId: 'exec-2', createdTime: at(5000) }), ifRunning: { kind: 'fail' } }] });
          expect((await store.queryInstances({ name: ['First'] })).instances).toEqual([]);
          expect((await store.queryInstances({ name: ['Second'] })).instances.map((s) => s.instanceId)).toEqual(['x']);
          expect(await store.purgeInstances({ createdTimeFrom: T0, name: ['First'] })).toBe(0);
        });

        it('lists an instance once under its name after it left that name and came back (started again, purged and made again)', async () => {
          const store = await open();
          const restart = async (id: string, name: string, n: number) => {
            await forceState(store, (await store.getInstance(id))!, { runtimeStatus: 'Completed' });
            await store.commit({ requests: [{ type: 'createInstance', ...newInstance(id, { name, executionId: `exec-${n}`, createdTime: at(n * 1000) }), ifRunning: { kind: 'fail' } }] });
          };
          await create(store, newInstance('y', { name: 'First', createdTime: at(3000) }));
          await create(store, newInstance('x', { name: 'First' }));
          await restart('x', 'Second', 1);
          await restart('x', 'First', 2);
          await forceState(store, (await store.getInstance('y'))!, { runtimeStatus: 'Completed' });
          expect(await store.purgeInstance('y')).toBe(1);
          await create(store, newInstance('y', { name: 'First', executionId: 'exec-4', createdTime: at(4000) }));
          expect((await store.queryInstances({ name: ['First'] })).instances.map((s) => s.instanceId)).toEqual(['x', 'y']);
          expect((await store.queryInstances({ name: ['Second'] })).instances).toEqual([]);
          await forceState(store, (await store.getInstance('x'))!, { runtimeStatus: 'Completed' });
          await forceState(store, (await store.getInstance('y'))!, { runtimeStatus: 'Completed' });
          expect(await store.purgeInstances({ createdTimeFrom: T0, name: ['First'] })).toBe(2);
          expect((await store.queryInstances({})).instances).toEqual([]);
        });
      });

      describe('tag filter', () => {
        it("names 'tags' in capabilities.filters: a client refuses a tag filter on a store that does not", async () => {
          expect((await open()).capabilities.filters).toEqual(expect.arrayContaining(['tags']));
        });

        // An own `__proto__` key, a key holding `=` and one holding `"`: pairs that a `key=value` string would mix up.
        const odd = JSON.parse('{"__proto__":"p"}') as Record<string, string>;
        /** Tags of `t-<i>`: tenant acme or globex (and ACME, another value), every third also region eu. */
        const tagsOf = (i: number): Record<string, string> | undefined => i === 9 ? undefined : {
          tenant: i % 4 === 3 ? 'ACME' : i % 2 === 0 ? 'acme' : 'globex',
          ...(i % 3 === 0 ? { region: 'eu' } : {}),
          ...(i === 5 ? { 'tenant=acme': 'x', ...odd } : {}),
          ...(i === 7 ? { tenant2: '"q"' } : {}),
        };
        const seed = async (store: Store) => {
          // Two instances per millisecond; t-9 without tags; names alternate.
          for (let i = 0; i < 10; i++) {
            const tags = tagsOf(i);
            await create(store, newInstance(`t-${i}`, { name: i % 2 ? 'Odd' : 'Even', createdTime: at(Math.floor(i / 2) * 1000), ...(tags ? { tags } : {}) }));
          }
          await forceState(store, (await store.getInstance('t-0'))!, { runtimeStatus: 'Completed' });
          await forceState(store, (await store.getInstance('t-3'))!, { runtimeStatus: 'Failed' });
          await forceState(store, (await store.getInstance('t-6'))!, { runtimeStatus: 'Completed' });
        };
        const ids = async (store: Store, q: Parameters<Store['queryInstances']>[0]) => (await store.queryInstances(q)).instances.map((s) => s.instanceId);

        it('lists the instances that have every pair asked for, exactly (case included), with the other filters and newest first', async () => {
          const store = await open();
          await seed(store);
          expect(await ids(store, { tags: { tenant: 'acme' } })).toEqual(['t-0', 't-2', 't-4', 't-6', 't-8']);
          expect(await ids(store, { tags: { tenant: 'ACME' } })).toEqual(['t-3', 't-7']);
          expect(await ids(store, { tags: { tenant: 'Acme' } })).toEqual([]);
          expect(await ids(store, { tags: { region: 'eu' } })).toEqual(['t-0', 't-3', 't-6']);
          expect(await ids(store, { tags: { tenant: 'acme', region: 'eu' } })).toEqual(['t-0', 't-6']);
          expect(await ids(store, { tags: { region: 'eu', tenant: 'globex' } })).toEqual([]);
          expect(await ids(store, { tags: { tenant: 'acme', nope: '' } })).toEqual([]);
          expect(await ids(store, { tags: { 'tenant=acme': 'x' } })).toEqual(['t-5']);
          expect(await ids(store, { tags: { tenant: 'acme=x' } })).toEqual([]);
          expect(await ids(store, { tags: odd })).toEqual(['t-5']);
          expect(await ids(store, { tags: { tenant2: '"q"' } })).toEqual(['t-7']);
          expect(await ids(store, { tags: {} })).toHaveLength(10);
          expect(await ids(store, { tags: { tenant: 'acme' }, runtimeStatus: ['Completed'] })).toEqual(['t-0', 't-6']);
          expect(await ids(store, { tags: { tenant: 'acme' }, runtimeStatus: ['Pending'], name: ['Even'] })).toEqual(['t-2', 't-4', 't-8']);
          expect(await ids(store, { tags: { tenant: 'globex' }, name: ['Even'] })).toEqual([]);
          expect(await ids(store, { tags: { tenant: 'acme' }, createdTimeFrom: at(1000), createdTimeTo: at(3000) })).toEqual(['t-2', 't-4', 't-6']);
          expect(await ids(store, { tags: { tenant: 'acme' }, instanceIdPrefix: 't-8' })).toEqual(['t-8']);
          expect(await ids(store, { tags: { tenant: 'acme' }, order: 'desc' })).toEqual(['t-8', 't-6', 't-4', 't-2', 't-0']);
        });

        it('pages by tag through every page, in both orders, with the other filters, exactly as the unfiltered listing filtered', async () => {
          const store = await open();
          await seed(store);
          const everything = (await store.queryInstances({})).instances;
          const queries: Array<Parameters<Store['queryInstances']>[0]> = [
            { tags: { tenant: 'acme' } }, { tags: { tenant: 'acme', region: 'eu' } }, { tags: { region: 'eu' }, runtimeStatus: ['Completed', 'Failed'] },
            { tags: { tenant: 'acme' }, name: ['Even', 'Odd'] }, { tags: { tenant: 'globex' }, createdTimeFrom: at(1000) },
          ];
          for (const query of queries) {
            const expected = everything.filter((state) => matchesQuery(state, query)).map((s) => s.instanceId);
            expect(expected.length).toBeGreaterThan(0);
            for (const pageSize of [1, 2, 3, 100]) {
              const q = { ...query, pageSize };
              expect(await allPages(store, q)).toEqual(expected);
              expect(await allPages(store, { ...q, order: 'desc' })).toEqual([...expected].reverse());
            }
          }
        });

        it('refuses a malformed tag filter (400), as it refuses tags on a start, and purges nothing', async () => {
          const store = await open();
          await seed(store);
          const hostile = [
            { tags: 'tenant=acme' }, { tags: ['acme'] }, { tags: { tenant: 1 } }, { tags: { '': 'x' } }, { tags: { tenant: null } },
            { tags: { t: 'a\u0000b' } }, { tags: { ['k'.repeat(129)]: 'v' } }, { tags: new Map([['tenant', 'acme']]) },
          ];
          for (const query of hostile) {
            await expect(store.queryInstances(query as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
            await expect(store.purgeInstances({ createdTimeFrom: T0, ...query } as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          }
          expect((await store.queryInstances({})).instances).toHaveLength(10);
        });

        it('purges the terminal instances that have every pair asked for only', async () => {
          const store = await open();
          await seed(store);
          expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'globex' } })).toBe(0);
          expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'acme', region: 'eu' }, name: ['Odd'] })).toBe(0);
          expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'acme', region: 'eu' }, createdTimeTo: at(2000) })).toBe(1);
          expect((await ids(store, { runtimeStatus: ['Completed', 'Failed'] }))).toEqual(['t-3', 't-6']);
          expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { region: 'eu' } })).toBe(2);
          expect(await ids(store, {})).toEqual(['t-1', 't-2', 't-4', 't-5', 't-7', 't-8', 't-9']);
          expect(await ids(store, { tags: { region: 'eu' } })).toEqual([]);
        });

        it('moves an instance between tag filters when its id starts again with other tags at another time, and drops it when purged', async () => {
          const store = await open();
          await create(store, newInstance('x', { tags: { tenant: 'acme', plan: 'free' } }));
          await create(store, newInstance('y', { tags: { tenant: 'acme' }, createdTime: at(2000) }));
          await forceState(store, (await store.getInstance('x'))!, { runtimeStatus: 'Completed' });
          await store.commit({ requests: [{ type: 'createInstance', ...newInstance('x', { executionId: 'exec-2', createdTime: at(5000), tags: { tenant: 'acme', plan: 'pro' } }), ifRunning: { kind: 'fail' } }] });
          expect(await ids(store, { tags: { plan: 'free' } })).toEqual([]);
          expect(await ids(store, { tags: { plan: 'pro' } })).toEqual(['x']);
          // Listed at its new place in the order, once, across pages.
          expect(await allPages(store, { tags: { tenant: 'acme' }, pageSize: 1 })).toEqual(['y', 'x']);
          expect(await allPages(store, { tags: { tenant: 'acme' }, pageSize: 1, order: 'desc' })).toEqual(['x', 'y']);
          expect(await ids(store, { tags: { tenant: 'acme' }, createdTimeTo: at(3000) })).toEqual(['y']);
          expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { plan: 'free' } })).toBe(0);
          await forceState(store, (await store.getInstance('x'))!, { runtimeStatus: 'Completed' });
          // Started again without tags: in no tag listing.
          await store.commit({ requests: [{ type: 'createInstance', ...newInstance('x', { executionId: 'exec-3', createdTime: at(6000) }), ifRunning: { kind: 'fail' } }] });
          expect(await ids(store, { tags: { tenant: 'acme' } })).toEqual(['y']);
          await forceState(store, (await store.getInstance('y'))!, { runtimeStatus: 'Completed' });
          expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'acme' } })).toBe(1);
          await create(store, newInstance('y', { executionId: 'exec-2', createdTime: at(7000) }));
          expect(await ids(store, { tags: { tenant: 'acme' } })).toEqual([]);
        });

        it('keeps an instance in its tag listings at its new place after a restart (a new execution at a later time)', async () => {
          const store = await open();
          const clock = new VirtualClock(T0);
          const client = createClient({ store, clock });
          await client.startNew('Orch', { instanceId: 'r', tags: { tenant: 'acme' } });
          await clock.advance(1000);
          await client.startNew('Orch', { instanceId: 's', tags: { tenant: 'acme' } });
          await forceState(store, (await store.getInstance('r'))!, { runtimeStatus: 'Completed' });
          await clock.advance(1000);
          await client.restart('r');
          expect((await store.getInstance('r'))?.createdTime.getTime()).toBeGreaterThan(T0.getTime() + 1000);
          expect(await allPages(store, { tags: { tenant: 'acme' }, pageSize: 1 })).toEqual(['s', 'r']);
          expect(await ids(store, { tags: { tenant: 'acme' }, createdTimeTo: at(1500) })).toEqual(['s']);
        });
      });

      it('refuses a runtimeStatus that is a string or names an unknown status (the shared filter rule)', async () => {
        const store = await open();
        await create(store, newInstance('q1'));
        const hostile = [{ runtimeStatus: 'Pending' }, { runtimeStatus: ['Pending', 'Bogus'] }, { runtimeStatus: ['pending'] }, { createdTimeFrom: 'yesterday' }];
        for (const query of hostile) {
          await expect(store.queryInstances(query as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
      });
    });

    describe('leftovers of an earlier execution of an id', () => {
      // The rule (`planWriteSet`): a result, timer or sub-orchestration answer carries the execution it is for, and is
      // dropped unless that execution is the instance's current one; a new start over a terminal id, and a purge, take
      // the old execution's messages and activity tasks with them. Nothing of an old run reaches, or wakes, a new one.
      const timer = (instanceId: string, executionId: string, ms: number): OrchestrationMessage => ({
        ...message(instanceId, { type: 'TimerFired', eventId: -1, timestamp: at(ms).toISOString(), timerId: 1, fireAt: at(ms).toISOString() }),
        executionId, visibleAt: at(ms),
      });
      const subCompleted = (instanceId: string, executionId: string): OrchestrationMessage => ({
        ...message(instanceId, { type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'old' }),
        executionId,
      });

      it('records and ignores a late result, timer or sub-orchestration answer of an execution that ended', async () => {
        // Not stale: they name the current execution. Queued as any message, and the step that claims them records
        // them in the ended instance's history (a new version, a change on changes$), its status as it was.
        const store = await open();
        for (const [id, runtimeStatus] of [['done', 'Completed'], ['ended', 'Terminated']] as const) {
          await runningInstance(store, id, [activityTask(id, `${id}-t`)]);
          const running = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
          await forceState(store, (await store.getInstance(id))!, { runtimeStatus, output: 'end' });
          await complete(store, { taskId: `${id}-t`, leaseToken: running!.lease.token, result: result(id, 'exec-1', 0, 'late') });
          await send(store, timer(id, 'exec-1', 1_100_000));
          await store.commit({ requests: [{ type: 'insertMessage', message: subCompleted(id, 'exec-1'), ifMissing: 'drop' }] });
          const before = (await store.getInstance(id))!;
          const item = await claimId(store, id, at(1_100_000));
          expect(item.messages.map((m) => m.event.type).sort()).toEqual(['SubOrchestrationInstanceCompleted', 'TaskCompleted', 'TimerFired']);
          const decision = decideStep({
            state: item.state, messages: item.messages, leaseToken: item.lease.token, now: at(1_100_000), newId: () => randomId(),
            newExecution: () => new OrchestrationExecution(function* (ctx) { yield ctx.waitForExternalEvent('never'); }, { customStatusLimitBytes: 16_384 }),
          });
          if (decision.kind !== 'commit') throw new Error('expected a commit');
          const changed = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === id && (c.state?.version ?? 0) > before.version), take(1)));
          await store.commit(decision.writeSet);
          expect((await within(changed, 'the change of the recorded events')).state).toMatchObject({ version: before.version + 1 });
          const after = (await store.getInstance(id))!;
          expect(after).toMatchObject({
            runtimeStatus, output: 'end', executionId: 'exec-1', lastUpdatedTime: before.lastUpdatedTime, version: before.version + 1,
            historyLength: before.historyLength + 3,
          });
          const history = await store.getHistory(id);
          expect(history).toHaveLength(after.historyLength);
          expect(history.slice(-3)).toEqual(item.messages.map((m) => m.event));
          expect(await store.nextWakeTime(at(1_100_000))).toBeUndefined();
          expect(await claimNothingOr(store)).toBeUndefined();
        }
      });

      it('keeps nothing of a terminated execution\'s running activity, timer or messages in the run started again under its id', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1'), activityTask('a', 't2')]);
        const running = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
        expect(running?.task.id).toBe('t1');
        // The old execution's timer, and an answer to it, are queued when it is terminated.
        await send(store, timer('a', 'exec-1', 120_000));
        const state = (await store.getInstance('a'))!;
        await forceState(store, state, { runtimeStatus: 'Terminated' });
        await create(store, newInstance('a', { executionId: 'exec-2' }));
        // The old run's pending task is gone, its timer wakes nobody: only the new start is work.
        expect((await store.nextWakeTime(T0))!.getTime()).toBeLessThanOrEqual(T0.getTime());
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 60_000, now: at(120_000) })).toBeUndefined();
        // The running activity ends later: its result (taskScheduledId 0, which the new run uses again) and any other
        // answer addressed to the old execution are dropped, or refused with the lease.
        await complete(store, { taskId: 't1', leaseToken: running!.lease.token, result: result('a', 'exec-1', 0, 'stale') })
          .catch((error: unknown) => expect(error).toMatchObject({ code: 'lease-lost' }));
        await send(store, subCompleted('a', 'exec-1'));
        const next = await claim(store, 'w1', at(120_000));
        expect(next.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
        expect(next.messages[0]!.event).toMatchObject({ executionId: 'exec-2' });
        await commitStep(store, next, { runtimeStatus: 'Running' }, [started('a')]);
        expect(await store.nextWakeTime(at(120_000))).toBeUndefined();
        expect(await claimNothingOr(store)).toBeUndefined();
      });

      it('drops what is addressed to the execution an instance continued from, and keeps what is addressed to none', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1')]);
        // The activity that lost a race (Task.any) is still running when the execution continues as new.
        const running = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
        await send(store, message('a', eventRaised('nudge')));
        const item = await claimId(store, 'a');
        await commitStep(store, item, { runtimeStatus: 'Running', executionId: 'exec-2' }, [{ ...started('a'), executionId: 'exec-2' } as HistoryEvent], { replaceHistory: true });
        // Its result names the old execution and taskScheduledId 0, the id the new execution's first task has too.
        await complete(store, { taskId: 't1', leaseToken: running!.lease.token, result: result('a', 'exec-1', 0, 'stale') });
        await store.commit({ requests: [{ type: 'insertMessage', message: subCompleted('a', 'exec-1'), ifMissing: 'drop' }] });
        await store.commit({ requests: [{ type: 'insertMessage', message: timer('a', 'exec-1', 0), ifMissing: 'drop' }] });
        expect(await claimNothingOr(store)).toBeUndefined();
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 60_000, now: at(120_000) })).toBeUndefined();
        expect(await store.nextWakeTime(T0)).toBeUndefined();
        // An event raised to the instance names no execution: the new one takes it (as Durable Functions carries it over).
        await send(store, message('a', eventRaised('later')));
        await send(store, result('a', 'exec-2', 0, 'fresh'));
        const next = await claim(store);
        expect(next.messages.map((m) => m.event.type)).toEqual(['EventRaised', 'TaskCompleted']);
        expect(next.messages[1]!.event).toMatchObject({ result: 'fresh' });
      });

      it('takes a timer the execution queued before it continued as new off the queue, with no step of the new execution', async () => {
        const store = await open();
        await runningInstance(store, 'a', []);
        await send(store, timer('a', 'exec-1', 5000));
        await send(store, message('a', eventRaised('nudge')));
        const item = await claimId(store, 'a');
        const restarted = [{ ...started('a'), executionId: 'exec-2' } as HistoryEvent];
        await commitStep(store, item, { runtimeStatus: 'Running', executionId: 'exec-2' }, restarted, { replaceHistory: true });
        const before = (await store.getInstance('a'))!;
        // The timer falls due: a worker claims it, and its step decision (decideStep) consumes it, and only that.
        const due = await claim(store, 'w1', at(5000));
        expect(due.messages.map((m) => m.executionId)).toEqual(['exec-1']);
        const decision = decideStep({
          state: due.state, messages: due.messages, leaseToken: due.lease.token, now: at(5000), newId: () => randomId(),
          newExecution: () => new OrchestrationExecution(function* (ctx) { yield ctx.waitForExternalEvent('never'); }, { customStatusLimitBytes: 16_384 }),
        });
        expect(decision.kind).toBe('commit');
        if (decision.kind !== 'commit') return;
        await store.commit(decision.writeSet);
        expect(await store.getInstance('a')).toMatchObject({ executionId: 'exec-2', version: before.version, historyLength: 1 });
        expect(await store.getHistory('a')).toEqual(restarted);
        expect(await store.nextWakeTime(at(5000))).toBeUndefined();
        // The commit let go of the instance: a message of the new execution is claimable at once.
        await send(store, result('a', 'exec-2', 0, 'fresh'));
        expect((await claim(store, 'w2', at(5000))).messages.map((m) => m.event.type)).toEqual(['TaskCompleted']);
      });

      it('keeps nothing of a purged instance\'s running activity or timers in a new instance of the same id', async () => {
        const store = await open();
        await runningInstance(store, 'a', [activityTask('a', 't1'), activityTask('a', 't2')]);
        const running = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
        await send(store, timer('a', 'exec-1', 120_000));
        await forceState(store, (await store.getInstance('a'))!, { runtimeStatus: 'Terminated' });
        expect(await store.purgeInstance('a')).toBe(1);
        await create(store, newInstance('a', { executionId: 'exec-2' }));
        expect((await store.nextWakeTime(T0))!.getTime()).toBeLessThanOrEqual(T0.getTime());
        expect(await store.claimActivity({ owner: 'w2', leaseMs: 60_000, now: at(120_000) })).toBeUndefined();
        await complete(store, { taskId: 't1', leaseToken: running!.lease.token, result: result('a', 'exec-1', 0, 'stale') })
          .catch((error: unknown) => expect(error).toMatchObject({ code: 'lease-lost' }));
        const next = await claim(store, 'w1', at(120_000));
        expect(next.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
        await commitStep(store, next, { runtimeStatus: 'Running' }, [started('a')]);
        expect(await store.nextWakeTime(at(120_000))).toBeUndefined();
      });
    });

    describe('purge', () => {
      it('purges a terminal instance with its history and messages, refuses an active one', async () => {
        const store = await open();
        await create(store, newInstance('active'));
        await expect(store.purgeInstance('active')).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        expect(await store.getInstance('active')).toBeDefined();
        await create(store, newInstance('done'));
        await forceState(store, (await store.getInstance('done'))!, { runtimeStatus: 'Completed' });
        expect(await store.purgeInstance('done')).toBe(1);
        expect(await store.getInstance('done')).toBeUndefined();
        expect(await store.getHistory('done')).toEqual([]);
        expect(await store.purgeInstance('done')).toBe(0);
      });

      it('purges an instance\'s activity tasks with it, right after the step that ended it, leaving others\' tasks', async () => {
        const store = await open();
        await runningInstance(store, 'keep', [activityTask('keep', 'k1')]);
        await runningInstance(store, 'done', [activityTask('done', 'd1'), activityTask('done', 'd2')]);
        // The step that ends the instance schedules one more task (as a step that schedules and fails would).
        await send(store, message('done', eventRaised('nudge')));
        const item = await claimId(store, 'done');
        await store.commit(commitOf(item.state, item.lease.token, {
          consumedMessageIds: item.messages.map((m) => m.id),
          state: { ...item.state, runtimeStatus: 'Failed', version: item.state.version + 1 },
          activityTasks: [activityTask('done', 'd3')],
        }));
        expect(await store.purgeInstance('done')).toBe(1);
        const claimed: string[] = [];
        for (let work; (work = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 })); ) claimed.push(work.task.id);
        expect(claimed).toEqual(['k1']);
        expect(await store.nextWakeTime(T0)).toEqual(at(60_000));
        // The id can be used again from scratch: nothing of the purged instance comes back with it.
        await runningInstance(store, 'done', []);
        expect(await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 })).toBeUndefined();
      });

      it('purges by filter, terminal instances only', async () => {
        const store = await open();
        for (const [id, status, time] of [['c1', 'Completed', 0], ['c2', 'Completed', 5000], ['f1', 'Failed', 1000], ['r1', 'Running', 1000]] as const) {
          await create(store, newInstance(id, { createdTime: at(time) }));
          await forceState(store, (await store.getInstance(id))!, { runtimeStatus: status });
        }
        expect(await store.purgeInstances({ createdTimeFrom: at(0), createdTimeTo: at(2000) })).toBe(2);
        expect((await store.queryInstances({})).instances.map((s) => s.instanceId).sort()).toEqual(['c2', 'r1']);
        expect(await store.purgeInstances({ createdTimeFrom: at(0), runtimeStatus: ['Failed'] })).toBe(0);
      });

      it('takes both created-time bounds as inclusive, to the millisecond, in a query and in a purge by filter', async () => {
        const store = await open();
        for (const [id, time] of [['before', 999], ['at-from', 1000], ['between', 1500], ['at-to', 2000], ['after', 2001]] as const) {
          await create(store, newInstance(id, { createdTime: at(time) }));
          await forceState(store, (await store.getInstance(id))!, { runtimeStatus: 'Completed' });
        }
        const range = { createdTimeFrom: at(1000), createdTimeTo: at(2000) };
        expect((await store.queryInstances(range)).instances.map((s) => s.instanceId)).toEqual(['at-from', 'between', 'at-to']);
        expect(await store.purgeInstances(range)).toBe(3);
        expect((await store.queryInstances({})).instances.map((s) => s.instanceId)).toEqual(['before', 'after']);
        // A range of one millisecond holds the instances created in it.
        expect(await store.purgeInstances({ createdTimeFrom: at(2001), createdTimeTo: at(2001), runtimeStatus: ['Completed'] })).toBe(1);
        expect((await store.queryInstances({})).instances.map((s) => s.instanceId)).toEqual(['before']);
      });

      it('delivers a purge by filter on the change feed, as a purge of one instance', async () => {
        const store = await open();
        await create(store, newInstance('c1'));
        await forceState(store, (await store.getInstance('c1'))!, { runtimeStatus: 'Completed' });
        const purged = within(firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'c1' && c.state === undefined))), 'the purge of c1 on changes$');
        expect(await store.purgeInstances({ createdTimeFrom: T0 })).toBe(1);
        expect((await purged).instanceId).toBe('c1');
      });

      it('refuses a malformed purge filter and deletes nothing: a string runtimeStatus is not a list of characters', async () => {
        const store = await open();
        for (const [id, status] of [['done-1', 'Completed'], ['done-2', 'Failed']] as const) {
          await create(store, newInstance(id, { createdTime: at(1000) }));
          await forceState(store, (await store.getInstance(id))!, { runtimeStatus: status });
        }
        const hostile = [
          { createdTimeFrom: at(0), runtimeStatus: 'Completed' },
          { createdTimeFrom: at(0), runtimeStatus: ['Completed', 'Done'] },
          { createdTimeFrom: at(0), createdTimeTo: 'now' },
          { runtimeStatus: ['Completed'] },
          null,
          // A member a purge does not read is refused, not dropped (which would widen the purge): a typo, `order`.
          { createdTimeFrom: at(0), runtimestatus: ['Failed'] },
          { createdTimeFrom: at(0), order: 'desc' },
          { createdTimeFrom: at(0), showInput: undefined },
        ];
        for (const filter of hostile) {
          await expect(store.purgeInstances(filter as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect((await store.queryInstances({})).instances.map((s) => s.instanceId)).toEqual(['done-1', 'done-2']);
        // So is a member a query does not read, naming it; `showInput` is one it reads.
        await expect(store.queryInstances({ pagesize: 1 } as never)).rejects.toThrow(/query\.pagesize is not known/);
        expect((await store.queryInstances({ pageSize: 1, showInput: false })).instances).toHaveLength(1);
      });
    });

    describe('recursive terminate and purge', () => {
      // A root that calls a child that completes, then one that calls a grandchild waiting for ever.
      const tree: Record<string, Orchestrator> = {
        TreeRoot: function* (ctx) {
          yield ctx.callSubOrchestrator('TreeQuick', undefined, `${ctx.instanceId}-quick`);
          return yield ctx.callSubOrchestrator('TreeMid', undefined, `${ctx.instanceId}-mid`);
        },
        TreeMid: function* (ctx) {
          return yield ctx.callSubOrchestrator('TreeLeaf', undefined, `${ctx.instanceId}-leaf`);
        },
        TreeLeaf: function* (ctx) {
          return yield ctx.waitForExternalEvent('never');
        },
        TreeQuick: function* () {
          return 'quick';
        },
      };
      const ids = (root: string) => ({ quick: `${root}-quick`, mid: `${root}-mid`, leaf: `${root}-mid-leaf` });
      const treeRunning = async (client: DurableClient, root: string): Promise<void> => {
        await client.startNew('TreeRoot', { instanceId: root });
        await firstValueFrom(client.status$(ids(root).leaf).pipe(filter((s) => s?.runtimeStatus === 'Running')));
      };
      const statusOf = async (client: DurableClient, id: string) => (await client.getStatus(id))?.runtimeStatus;

      it('terminates the running sub-orchestrations at every depth with `recursive`, and they are terminal when it resolves', async () => {
        const store = await open();
        const { client } = await runtimeOn(store, 'w1', { orchestrators: tree });
        await treeRunning(client, 'rt');
        const { quick, mid, leaf } = ids('rt');
        await client.terminate('rt', 'stop', { recursive: true });
        expect(await client.getStatus('rt')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        expect(await client.getStatus(mid)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        expect(await client.getStatus(leaf)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        // A child that had completed is left as it was: nothing is appended to its history.
        expect(await client.getStatus(quick)).toMatchObject({ runtimeStatus: 'Completed', output: 'quick' });
        expect((await store.getHistory(quick)).some((e) => e.type === 'ExecutionTerminated')).toBe(false);
        expect((await store.getHistory(leaf)).filter((e) => e.type === 'ExecutionTerminated')).toMatchObject([{ reason: 'stop', recursive: true }]);
      });

      it('terminates the named instance only by default: its sub-orchestrations run on', async () => {
        const store = await open();
        const { client } = await runtimeOn(store, 'w1', { orchestrators: tree });
        await treeRunning(client, 'solo');
        await client.terminate('solo', 'stop');
        expect(await statusOf(client, 'solo')).toBe('Terminated');
        expect(await statusOf(client, ids('solo').mid)).toBe('Running');
        expect(await statusOf(client, ids('solo').leaf)).toBe('Running');
      });

      it('keeps a recursive terminate that no worker applies queued in the store: a worker started later ends the whole tree', async () => {
        const opened = await open();
        const first = await runtimeOn(opened, 'w1', { orchestrators: tree });
        await treeRunning(first.client, 'later');
        await first.stop();
        const { mid, leaf } = ids('later');
        // The client's own commit of a child's terminate fails (as a crash between the levels would leave it): the
        // terminates the root's commit handed on stay queued.
        const store = storeWith(opened, {
          commit: (writeSet) => (writeSet.lease?.kind === 'unclaimed' && writeSet.lease.takes !== undefined
            ? Promise.reject(new Error('lost before the child was terminated')) : opened.commit(writeSet)),
        });
        const client = createClient({ store });
        let resolved = false;
        const terminated = client.terminate('later', 'stop', { recursive: true }).then(() => (resolved = true));
        if (store.capabilities.unclaimedWrites) {
          // The client applies the root's terminate itself; its children's wait, queued, for a worker.
          await firstValueFrom(client.status$('later').pipe(filter((s) => s?.runtimeStatus === 'Terminated')));
          expect(await statusOf(client, mid)).toBe('Running');
          expect(resolved).toBe(false);
        }
        await runtimeOn(opened, 'w2', { orchestrators: tree });
        await within(terminated, 'the recursive terminate');
        expect(await statusOf(client, 'later')).toBe('Terminated');
        expect(await statusOf(client, mid)).toBe('Terminated');
        expect(await statusOf(client, leaf)).toBe('Terminated');
      });

      it('terminates the whole tree at once from a client with no worker anywhere, applying the terminates its commits handed on', async (context) => {
        const store = await open();
        if (!store.capabilities.unclaimedWrites) return context.skip();
        const first = await runtimeOn(store, 'w1', { orchestrators: tree });
        await treeRunning(first.client, 'alone');
        await first.stop();
        const { mid, leaf } = ids('alone');
        const client = createClient({ store });
        await client.terminate('alone', 'stop', { recursive: true });
        for (const id of ['alone', mid, leaf]) expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        // Each queued terminate was applied and deleted by the commit that applied it: what is left for a worker is the
        // children's answers to their terminated parents, no terminate.
        const left: string[] = [];
        for (let item = await store.claimOrchestration({ owner: 'w2', leaseMs: 60_000, now: new Date() }); item;
          item = await store.claimOrchestration({ owner: 'w2', leaseMs: 60_000, now: new Date() })) {
          left.push(...item.messages.map((m) => `${m.instanceId} ${m.event.type}`));
        }
        expect(left.sort()).toEqual([`alone SubOrchestrationInstanceFailed`, `${mid} SubOrchestrationInstanceFailed`]);
        for (const id of [mid, leaf]) expect((await store.getHistory(id)).filter((e) => e.type === 'ExecutionTerminated')).toHaveLength(1);
      });

      it('reads each history of the tree once when the client terminates every level itself', async (context) => {
        const opened = await open();
        if (!opened.capabilities.unclaimedWrites) return context.skip();
        const first = await runtimeOn(opened, 'w1', { orchestrators: tree });
        await treeRunning(first.client, 'once');
        await first.stop();
        const { mid, leaf } = ids('once');
        const reads: string[] = [];
        const atOnce = opened.getInstanceHistory;
        const store = storeWith(opened, {
          getHistory: (instanceId, options) => (reads.push(instanceId), opened.getHistory(instanceId, options)),
          ...(atOnce ? { getInstanceHistory: (instanceId, options) => (reads.push(instanceId), atOnce.call(opened, instanceId, options)) } : {}),
        });
        const client = createClient({ store });
        await client.terminate('once', 'stop', { recursive: true });
        for (const id of ['once', mid, leaf]) expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        // The history each commit needed (its sub-orchestration calls, a child's parent link); the children to wait for
        // are those the commits handed the terminate on to, not read again.
        expect(reads.sort()).toEqual(['once', mid, leaf].sort());
      });

      it('purges a terminal instance with its sub-orchestrations at every depth with `recursive`, counting them all', async () => {
        const store = await open();
        const { client } = await runtimeOn(store, 'w1', { orchestrators: tree });
        await treeRunning(client, 'pt');
        await client.terminate('pt', 'stop', { recursive: true });
        expect(await client.purgeInstanceHistory('pt', { recursive: true })).toEqual({ instancesDeleted: 4 });
        for (const id of ['pt', ...Object.values(ids('pt'))]) {
          expect(await client.getStatus(id)).toBeUndefined();
          expect(await store.getHistory(id)).toEqual([]);
        }
        expect(await client.purgeInstanceHistory('pt', { recursive: true })).toEqual({ instancesDeleted: 0 });
      });

      it('refuses a recursive purge whose tree holds an instance that is not terminal (409), deleting nothing', async () => {
        const store = await open();
        const { client } = await runtimeOn(store, 'w1', { orchestrators: tree });
        await treeRunning(client, 'busy');
        await client.terminate('busy', 'stop');
        await expect(client.purgeInstanceHistory('busy', { recursive: true })).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        for (const id of ['busy', ...Object.values(ids('busy'))]) expect(await client.getStatus(id)).toBeDefined();
        // Without `recursive`, the named instance alone.
        expect(await client.purgeInstanceHistory('busy')).toEqual({ instancesDeleted: 1 });
        expect(await statusOf(client, ids('busy').leaf)).toBe('Running');
      });

      // The snapshot a purge of the set decides on: the instance's execution and version as read now.
      const memberOf = async (store: Store, instanceId: string): Promise<PurgeMember> => {
        const state = await store.getInstance(instanceId);
        if (!state) throw new Error(`no instance ${instanceId}`);
        return { instanceId, executionId: state.executionId, version: state.version };
      };

      it('purges a set of instances all at once, and none when one of them is no longer the snapshot the purge read', async () => {
        const opened = await open();
        const runtime = await runtimeOn(opened, 'w1', { orchestrators: tree });
        await treeRunning(runtime.client, 'ps');
        await runtime.client.terminate('ps', 'stop', { recursive: true });
        // No worker records the children's late answers meanwhile: every version stays as read.
        await runtime.stop();
        const store = opened;
        const client = createClient({ store });
        await client.startNew('TreeLeaf', { instanceId: 'ps-other' }); // Pending: not terminal
        const all = ['ps-mid-leaf', 'ps-mid', 'ps-quick', 'ps'];
        const members = await Promise.all(all.map((id) => memberOf(store, id)));
        const refusals: [PurgeMember[], string][] = [
          [members.map((m, i) => (i === 1 ? { ...m, version: m.version + 1 } : m)), 'ps-mid'], // a later version
          [members.map((m, i) => (i === 2 ? { ...m, executionId: 'another' } : m)), 'ps-quick'], // another execution
          [[...members, { instanceId: 'ps-nobody', executionId: 'e', version: 1 }], 'ps-nobody'], // no such instance
          [[...members.slice(0, 2), await memberOf(store, 'ps-other'), ...members.slice(2)], 'ps-other'], // not terminal
        ];
        for (const [set, changed] of refusals) expect(await store.purgeInstanceSet(set)).toEqual({ instancesDeleted: 0, changed });
        for (const id of [...all, 'ps-other']) expect(await store.getInstance(id)).toBeDefined();
        expect(await store.getHistory('ps-mid-leaf')).not.toEqual([]);
        const purges = within(firstValueFrom(store.changes$.pipe(
          filter((c) => c.state === undefined && all.includes(c.instanceId)), take(all.length), toArray(),
        )), 'the purges on changes$');
        expect(await store.purgeInstanceSet(members)).toEqual({ instancesDeleted: 4 });
        expect((await purges).map((c) => [c.instanceId, c.purged]).sort()).toEqual(
          members.map((m) => [m.instanceId, { executionId: m.executionId, version: m.version }]).sort(),
        );
        for (const id of all) {
          expect(await store.getInstance(id)).toBeUndefined();
          expect(await store.getHistory(id)).toEqual([]);
        }
        expect(await store.getInstance('ps-other')).toBeDefined();
        expect(await store.purgeInstanceSet([])).toEqual({ instancesDeleted: 0 });
      });

      it('refuses a malformed purge set with 400, deleting nothing', async () => {
        const store = await open();
        const client = createClient({ store });
        await client.startNew('HelloSequence', { instanceId: 'pbad' });
        await client.terminate('pbad', 'stop');
        const member = await memberOf(store, 'pbad');
        const many = Array.from({ length: MAX_PURGE_SET + 1 }, (_, i) => ({ ...member, instanceId: `pbad-${i}` }));
        for (const set of [member, [member, member], [{ ...member, version: 0 }], [{ ...member, executionId: '' }], [{ ...member, instanceId: '' }], [null], many]) {
          await expect(store.purgeInstanceSet(set as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(await store.getInstance('pbad')).toBeDefined();
        expect(await store.purgeInstanceSet([member])).toEqual({ instancesDeleted: 1 });
      });

      it('leaves alone an instance started over a member\'s id after the tree was read, and purges the rest of the tree', async () => {
        const opened = await open();
        const runtime = await runtimeOn(opened, 'w1', { orchestrators: tree });
        await treeRunning(runtime.client, 'pr');
        await runtime.client.terminate('pr', 'stop', { recursive: true });
        await runtime.stop();
        const { quick, mid, leaf } = ids('pr');
        // Just before the purge's first set reaches the store, another caller starts an instance over a member's id (the
        // completed child's): the set's condition on it fails, so nothing of the set is deleted, and the purge reads
        // its tree again, where that id is no longer a sub-orchestration of the root.
        let race: (() => Promise<unknown>) | undefined = () => createClient({ store: opened }).startNew('TreeQuick', { instanceId: quick, input: 'not the tree\'s' });
        const sets: string[][] = [];
        const store = storeWith(opened, {
          purgeInstanceSet: async (members) => {
            const run = race;
            race = undefined;
            await run?.();
            sets.push(members.map((m) => m.instanceId));
            return opened.purgeInstanceSet(members);
          },
        });
        const client = createClient({ store });
        expect(await client.purgeInstanceHistory('pr', { recursive: true })).toEqual({ instancesDeleted: 3 });
        expect(sets).toEqual([[leaf, mid, quick, 'pr'], [leaf, mid, 'pr']]);
        for (const id of ['pr', mid, leaf]) expect(await client.getStatus(id)).toBeUndefined();
        expect(await client.getStatus(quick, { showInput: true })).toMatchObject({ runtimeStatus: 'Pending', input: 'not the tree\'s' });
        expect((await client.getStatus(quick))?.parentInstanceId).toBeUndefined();
      });

      it('refuses options that are not `{ recursive?: boolean }` with 400, writing nothing', async () => {
        const store = await open();
        const client = createClient({ store });
        await client.startNew('HelloSequence', { instanceId: 'opts' });
        for (const options of [{ recursive: 'yes' }, 'recursive', null]) {
          await expect(client.terminate('opts', 'stop', options as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.purgeInstanceHistory('opts', options as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(await statusOf(client, 'opts')).toBe('Pending');
      });
    });

    describe('retention', () => {
      const HOUR = 3_600_000;
      const MINUTE = 60_000;

      it('purges ended instances once their period has passed since they ended, leaving the others and one started again meanwhile', async () => {
        const opened = await open();
        const clock = new VirtualClock(T0);
        // Just before the sweep's set reaches the store, another caller starts an instance over one of its members.
        let race: (() => Promise<unknown>) | undefined;
        const store = storeWith(opened, {
          purgeInstanceSet: async (members) => {
            const run = race;
            race = undefined;
            await run?.();
            return opened.purgeInstanceSet(members);
          },
        });
        const waiting: Orchestrator = function* (ctx) {
          return yield ctx.waitForExternalEvent('go');
        };
        const runtime = createRuntime({
          store, clock, logger: silentLogger, orchestrators: { HelloSequence: helloSequence, Waiting: waiting }, activities: { E1_SayHello: sayHello },
          retention: { completed: HOUR, terminated: HOUR, intervalMs: MINUTE }, storeCallTimeoutMs: Infinity,
        });
        runtimes.push(runtime);
        await runtime.start();
        const { client } = runtime;
        for (const id of ['ret-a', 'ret-b']) await client.startNew('HelloSequence', { instanceId: id });
        for (const id of ['ret-running', 'ret-terminated', 'ret-late']) await client.startNew('Waiting', { instanceId: id });
        await client.terminate('ret-terminated', 'stop');
        for (const id of ['ret-a', 'ret-b', 'ret-terminated']) expect(['Completed', 'Terminated']).toContain((await client.waitForCompletion(id)).runtimeStatus);
        await clock.advance(HOUR / 2);
        await client.raiseEvent('ret-late', 'go', 'late'); // ends half an hour after the others
        expect((await client.waitForCompletion('ret-late')).runtimeStatus).toBe('Completed');
        await clock.advance(HOUR / 2 - MINUTE);
        for (const id of ['ret-a', 'ret-b', 'ret-terminated']) expect(await client.getStatus(id)).toBeDefined();
        race = () => createClient({ store: opened, clock }).startNew('Waiting', { instanceId: 'ret-a', input: 'again' });
        await clock.advance(MINUTE);
        // A sweep a minute while the store catches up, but never as far as ret-late's end plus its period (T0 + 1.5 h),
        // however many polls a slow store takes.
        await vi.waitFor(async () => {
          if (clock.now().getTime() < T0.getTime() + HOUR + 20 * MINUTE) await clock.advance(MINUTE);
          for (const id of ['ret-b', 'ret-terminated']) expect(await client.getStatus(id)).toBeUndefined();
        }, { timeout: 20_000 });
        expect(await client.getStatus('ret-a', { showInput: true })).toMatchObject({ runtimeStatus: expect.stringMatching(/^(Pending|Running)$/), input: 'again' });
        expect((await client.getStatus('ret-running'))?.runtimeStatus).toBe('Running');
        expect((await client.getStatus('ret-late'))?.runtimeStatus).toBe('Completed'); // ended 29 min ago
        await runtime.stop({ graceMs: 0 });
      });

      it(`purges each instance once with two workers sweeping at once${options.shared ? ' on two handles' : ''}, logging nothing`, async () => {
        const db = `retention-${randomId()}`;
        const handles = [await open(db), options.shared ? await open(db) : undefined];
        const clock = new VirtualClock(T0);
        let deleted = 0;
        const errors: unknown[] = [];
        const quick: Orchestrator = function* () {
          return 'done';
        };
        const workers = handles.map((handle, i) => {
          const opened = handle ?? handles[0]!;
          const store = storeWith(opened, {
            purgeInstanceSet: async (members) => {
              const result = await opened.purgeInstanceSet(members);
              deleted += result.instancesDeleted;
              return result;
            },
          });
          const runtime = createRuntime({
            store, clock, workerId: `sweeper-${i}`, orchestrators: { Quick: quick },
            logger: { warn: () => undefined, error: (message: string, details?: unknown) => void errors.push(`${message}: ${String(details)}`) },
            // The clock jumps an hour while a store call may be in flight: no call is to end for that.
            retention: { completed: HOUR, intervalMs: MINUTE }, storeCallTimeoutMs: Infinity,
          });
          runtimes.push(runtime);
          return runtime;
        });
        await Promise.all(workers.map((runtime) => runtime.start()));
        const { client } = workers[0]!;
        const ids = Array.from({ length: 20 }, (_, i) => `sweep-${String(i).padStart(2, '0')}`);
        for (const id of ids) await client.startNew('Quick', { instanceId: id });
        for (const id of ids) expect((await client.waitForCompletion(id)).runtimeStatus).toBe('Completed');
        await clock.advance(HOUR);
        await vi.waitFor(async () => {
          await clock.advance(MINUTE);
          expect((await client.getStatusBy({ instanceIdPrefix: 'sweep-' })).length).toBe(0);
        }, { timeout: 20_000 });
        expect(deleted).toBe(ids.length);
        expect(errors).toEqual([]);
        await Promise.all(workers.map((runtime) => runtime.stop({ graceMs: 0 })));
      });
    });

    describe('change feed', () => {
      it('delivers every committed snapshot of an instance in order, and a purge', async () => {
        const store = await open();
        const collected = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'a'), take(7), toArray()));
        await create(store, newInstance('a'));
        for (let i = 1; i <= 5; i++) {
          await send(store, message('a', eventRaised('tick', i)));
          await commitStep(store, await claim(store), { runtimeStatus: i === 5 ? 'Completed' : 'Running', customStatus: `step ${i}` }, [eventRaised('tick', i)]);
        }
        await store.purgeInstance('a');
        const seen: StatusChange[] = await collected;
        expect(seen.map((c) => c.state?.customStatus ?? null)).toEqual([null, 'step 1', 'step 2', 'step 3', 'step 4', 'step 5', null]);
        expect(seen.map((c) => c.state?.version)).toEqual([1, 2, 3, 4, 5, 6, undefined]);
        expect(seen[6]?.state).toBeUndefined();
      });

      it('delivers a change only once it is committed: a read made on hearing it shows that snapshot or a later one', async () => {
        const store = await open();
        const reads: { version: number | undefined; read: Promise<InstanceState | undefined> }[] = [];
        const purged = within(firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'a' && c.state === undefined))), 'the purge of a on changes$');
        // Each read starts in the subscriber, as a client's read on hearing a change does.
        const subscription = store.changes$.pipe(filter((c) => c.instanceId === 'a')).subscribe((c) => {
          const read = store.getInstance('a');
          read.catch(() => undefined);
          reads.push({ version: c.state?.version, read });
        });
        try {
          await create(store, newInstance('a'));
          for (let i = 1; i <= 3; i++) {
            await send(store, message('a', eventRaised('tick', i)));
            await commitStep(store, await claim(store), { runtimeStatus: i === 3 ? 'Completed' : 'Running', customStatus: `step ${i}` });
          }
          await store.purgeInstance('a');
          await purged; // changes of one instance come in commit order: every earlier one was heard
        } finally {
          subscription.unsubscribe();
        }
        expect(reads.map((r) => r.version)).toEqual([1, 2, 3, 4, undefined]);
        for (const { version, read } of reads) {
          if (version === undefined) expect(await read).toBeUndefined();
          else expect((await read)?.version).toBeGreaterThanOrEqual(version);
        }
      });

      it('delivers nothing of a commit it refused', async () => {
        const store = await open();
        const collected = firstValueFrom(store.changes$.pipe(
          filter((c) => c.instanceId === 'a'), takeWhile((c) => c.state?.customStatus !== 'fresh', true), toArray(),
        ));
        await store.getInstance('a'); // a store may open its feed asynchronously; one round trip settles it
        await create(store, newInstance('a'));
        const stale = await claim(store, 'w1', T0);
        const fresh = await claim(store, 'w2', at(31_000));
        const step = (item: OrchestrationWorkItem, customStatus: string) => commitOf(item.state, item.lease.token, {
          consumedMessageIds: item.messages.map((m) => m.id),
          state: { ...item.state, runtimeStatus: 'Running', customStatus, version: item.state.version + 1, historyLength: 1 },
          history: [started('a')],
        });
        await expect(store.commit(step(stale, 'stale'))).rejects.toMatchObject({ code: 'lease-lost' });
        await store.commit(step(fresh, 'fresh'));
        const seen = await collected;
        expect(seen.map((c) => c.state?.customStatus ?? null)).toEqual([null, 'fresh']);
      });

      // A reader's first read may show the id's next run before the purge reaches it (IndexedDB answers a read from a
      // commit in flight; another tab reads after its commit): versions start again at 1, so only the snapshot the
      // purge names tells the reader that the purge came first and its Pending run is news, not gone.
      it('names the snapshot a purge deleted, so a reader that already holds the next run keeps it', async () => {
        const store = await open();
        const collected = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'a'), take(4), toArray()));
        await create(store, newInstance('a', { executionId: 'run-1' }));
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, []);
        await store.purgeInstance('a');
        await create(store, newInstance('a', { executionId: 'run-2' }));
        const [, completed, purge, again] = await collected;
        expect(purge?.state).toBeUndefined();
        expect(purge?.purged).toEqual({ executionId: 'run-1', version: completed?.state?.version });
        expect(isNewerChange(purge!, completed!.state)).toBe(true); // a reader of the purged run: gone
        expect(isNewerChange(purge!, again!.state)).toBe(false); // a reader that read the next run first: keeps it
        expect(isNewerChange(again!, undefined)).toBe(true);
      });
    });

    describe('an instance\'s input', () => {
      it(`${options.frozenInput ? 'is published without a copy per step, and ' : ''}each status a client builds has an input of its own`, async () => {
        const store = await open();
        // No workerId: the runtime's worker takes the start its client commits without a claim (a claim may read the input
        // into an object of its own, once).
        const runtime = createRuntime({ store, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger });
        runtimes.push(runtime);
        await runtime.start();
        const big = { items: Array.from({ length: 500 }, (_, i) => ({ id: i, text: 'x'.repeat(90) })) }; // about 50 KB
        const published: unknown[] = [];
        const watched: InstanceStatus[] = [];
        const feed = store.changes$.subscribe(({ instanceId, state }) => instanceId === 'big' && published.push(state?.input));
        const statuses = runtime.client.status$('big').subscribe((status) => status && watched.push(status));
        try {
          await runtime.client.startNew('HelloSequence', { instanceId: 'big', input: big });
          const done = await runtime.client.waitForCompletion('big', SETTLED);
          await vi.waitFor(() => expect(watched.at(-1)?.runtimeStatus).toBe('Completed'), { timeout: SETTLED.timeoutMs });
          if (options.frozenInput) {
            // The start and its four steps: one input object, frozen (nobody changes it), not a copy per change.
            expect(published).toHaveLength(5);
            expect(new Set(published).size).toBe(1);
            expect(published[0]).toEqual(big);
            expect(Object.isFrozen(published[0])).toBe(true);
          }
          // What the client hands its users is theirs to change: a copy per status, which changes nothing else.
          expect(watched.length).toBeGreaterThan(1);
          for (const status of [...watched, done]) {
            expect(status.input).toEqual(big);
            expect(status.input).not.toBe(published[0]);
          }
          (watched[0]!.input as { items: { text: string }[] }).items[0]!.text = 'changed';
          expect(watched[1]!.input).toEqual(big);
          expect((await runtime.client.getStatus('big'))?.input).toEqual(big);
          const read = await store.getInstance('big');
          expect(read?.input).toEqual(big);
          expect(Object.isFrozen(read?.input)).toBe(false);
        } finally {
          feed.unsubscribe();
          statuses.unsubscribe();
        }
      });
    });

    describe('lifecycle', () => {
      it('closes idempotently and then rejects every call with StoreClosedError', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        const first = store.close();
        expect(store.close()).toBe(first);
        await first;
        await expect(store.getInstance('a')).rejects.toMatchObject({ code: 'store-closed' });
        await expect(create(store, newInstance('b'))).rejects.toMatchObject({ code: 'store-closed' });
        await expect(store.releaseOwner('w1')).rejects.toMatchObject({ code: 'store-closed' });
      });

      // A worker started on a store closed already says so, and tells that case from a close overtaking its claim by
      // `beforeCall`: a call made after close() is refused as it is made.
      it('refuses a claim made after close() with a StoreClosedError whose beforeCall is true', async () => {
        const store = await open();
        await create(store, newInstance('a'));
        await store.close();
        const refused = { name: 'StoreClosedError', code: 'store-closed', beforeCall: true };
        await expect(store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: T0 })).rejects.toMatchObject(refused);
        await expect(store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 })).rejects.toMatchObject(refused);
      });

      // A store may still be finishing calls made before close() (it waits for them), but one made after close() was
      // called joins none of them: an IndexedDB store's instance reads share a transaction, and a read that joined the
      // one a read before close() had queued answered with the state.
      it('refuses every call made once close() was called, while it closes and after, and changes nothing', async () => {
        const db = `conformance-${randomId()}`;
        const store = await open(db);
        await create(store, newInstance('done'));
        await commitStep(store, await claim(store), { runtimeStatus: 'Completed' }, []);
        await create(store, newInstance('a'));
        const before = store.getInstance('a'); // under way when close() is called: it may answer or be refused
        before.catch(() => undefined);
        const closing = store.close();
        const whileClosing = everyCall(store);
        await closing;
        const afterClose = everyCall(store);
        const expected = Object.fromEntries(Object.keys(afterClose).map((call) => [call, 'store-closed']));
        expect(await outcomesOf(whileClosing)).toEqual(expected);
        expect(await outcomesOf(afterClose)).toEqual(expected);
        // The feeds end at once for a subscriber that comes after the close.
        expect(await firstValueFrom(store.changes$, { defaultValue: 'ended' })).toBe('ended');
        expect(await firstValueFrom(store.workAvailable$, { defaultValue: 'ended' })).toBe('ended');
        if (!options.shared) return;
        const other = await open(db);
        expect(await other.getInstance('b')).toBeUndefined();
        expect(await other.getInstance('done')).toMatchObject({ runtimeStatus: 'Completed' });
        expect((await claim(other)).state.instanceId).toBe('a');
      });
    });

    describe('every kind of write set, through the engine', () => {
      it('fails an awaited sub-orchestration that targets its parent\'s own id inside the parent (already exists)', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Parent: function* (ctx) {
              try {
                yield ctx.callSubOrchestrator('Child', 'x', ctx.instanceId);
                return 'created';
              } catch (error) {
                return (error as { failureDetails?: { errorType?: string } }).failureDetails?.errorType ?? String(error);
              }
            },
            Child: function* () {
              return 'child';
            },
          },
        });
        await runtime.client.startNew('Parent', { instanceId: 'self' });
        const done = await runtime.client.waitForCompletion('self', SETTLED);
        expect(done).toMatchObject({ name: 'Parent', runtimeStatus: 'Completed', output: 'InstanceAlreadyExistsError' });
      });

      it('fails a fork\'s call named by a GUID over a child of the instance it was copied from, running or ended, and leaves that child as it was (ifChildOf), where a restart runs it again', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            // The child's id, a GUID's, comes in the input: a fork that keeps nothing and a restart have it too.
            Parent: function* (ctx) {
              try {
                return yield ctx.callSubOrchestrator('Child', 'x', ctx.getInput<string>());
              } catch (error) {
                return (error as { failureDetails?: { errorType?: string } }).failureDetails?.errorType ?? String(error);
              }
            },
            Child: function* (ctx) {
              return yield ctx.waitForExternalEvent('go');
            },
          },
        });
        const child = `job-${randomId()}`;
        await runtime.client.startNew('Parent', { instanceId: 'source', input: child });
        await within(firstValueFrom(runtime.client.status$(child).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the child running');
        // Running: the fork's call fails, the source's child is not told anything.
        const fork = await runtime.client.fork('source', { keepResults: 0 });
        expect(await runtime.client.waitForCompletion(fork, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'InstanceAlreadyExistsError' });
        await runtime.client.raiseEvent(child, 'go', 'done');
        expect(await runtime.client.waitForCompletion('source', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
        const ended = await runtime.client.getStatus(child);
        expect(ended).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'source' });
        // Ended: a fork does not start it again as its own either.
        const again = await runtime.client.fork('source', { keepResults: 0 });
        expect(await runtime.client.waitForCompletion(again, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'InstanceAlreadyExistsError' });
        expect(await runtime.client.getStatus(child)).toEqual(ended);
        // A restart under a new id is no copy, as a Durable Functions restart is not: its call runs that child again as its own.
        const restarted = await runtime.client.restart('source', { restartWithNewInstanceId: true });
        await within(firstValueFrom(runtime.client.status$(child).pipe(
          filter((s) => s?.runtimeStatus === 'Running' && s.parentInstanceId === restarted),
        )), 'the child running for the restart');
        await runtime.client.raiseEvent(child, 'go', 'again');
        expect(await runtime.client.waitForCompletion(restarted, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'again' });
      });

      it('fails the source\'s call named by a GUID over a child a fork of it called first, ended, and leaves that child the fork\'s (ifChildOf, the link\'s forkRoot)', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            // The child's id, a GUID's, comes in the input, which a fork that keeps nothing has too; called after 'go'.
            Parent: function* (ctx) {
              yield ctx.waitForExternalEvent('go');
              try {
                return yield ctx.callSubOrchestrator('Child', 'x', ctx.getInput<string>());
              } catch (error) {
                return (error as { failureDetails?: { errorType?: string } }).failureDetails?.errorType ?? String(error);
              }
            },
            Child: function* (ctx) {
              return yield ctx.waitForExternalEvent('go');
            },
          },
        });
        const child = `job-${randomId()}`;
        await runtime.client.startNew('Parent', { instanceId: 'source', input: child });
        const fork = await runtime.client.fork('source', { keepResults: 0 });
        await runtime.client.raiseEvent(fork, 'go');
        await within(firstValueFrom(runtime.client.status$(child).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the fork\'s child running');
        await runtime.client.raiseEvent(child, 'go', 'done');
        expect(await runtime.client.waitForCompletion(fork, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
        const ended = await runtime.client.getStatus(child);
        expect(ended).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: fork });
        // The source calls it after: refused, the fork's ended child not started again as the source's.
        await runtime.client.raiseEvent('source', 'go');
        expect(await runtime.client.waitForCompletion('source', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'InstanceAlreadyExistsError' });
        expect(await runtime.client.getStatus(child)).toEqual(ended);
      });

      it('rewinds a failed sub-orchestration in place when its parent is rewound (ifFailed), keeping its completed work', async () => {
        const store = await open();
        const runs = { Done: 0, Flaky: 0 };
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Parent: function* (ctx) {
              return yield ctx.callSubOrchestrator('Child', 'in', 'child');
            },
            Child: function* (ctx) {
              const done: number = yield ctx.callActivity('Done');
              const flaky: string = yield ctx.callActivity('Flaky');
              return [ctx.getInput(), done, flaky];
            },
          },
          activities: {
            Done: () => ++runs.Done,
            Flaky: () => {
              if (++runs.Flaky === 1) throw new Error('misconfigured');
              return 'fixed';
            },
          },
        });
        await runtime.client.startNew('Parent', { instanceId: 'parent' });
        expect(await runtime.client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
        await runtime.client.rewind('parent');
        expect(await runtime.client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['in', 1, 'fixed'] });
        expect(runs).toEqual({ Done: 1, Flaky: 2 });
        const history = await store.getHistory('child');
        expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
        expect(history.filter((e) => e.type === 'ExecutionRewound')).toHaveLength(1);
      });

      it('attaches a rewound parent\'s rerun call to its failed sub-orchestration running again after its own rewind (ifFailed)', async () => {
        const store = await open();
        const runs = { Done: 0, Flaky: 0 };
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Parent: function* (ctx) {
              return yield ctx.callSubOrchestrator('Child', 'in', 'child');
            },
            Child: function* (ctx) {
              const done: number = yield ctx.callActivity('Done');
              const flaky: string = yield ctx.callActivity('Flaky');
              ctx.setCustomStatus('waiting');
              return [done, flaky, yield ctx.waitForExternalEvent('go')];
            },
          },
          activities: {
            Done: () => ++runs.Done,
            Flaky: () => {
              if (++runs.Flaky === 1) throw new Error('misconfigured');
              return 'fixed';
            },
          },
        });
        const { client } = runtime;
        await client.startNew('Parent', { instanceId: 'parent' });
        expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
        // The child is rewound on its own and runs again; then the parent is: its rerun call waits for the child
        // (it failed as already running before).
        await client.rewind('child');
        await firstValueFrom(client.customStatus$('child').pipe(filter((status) => status === 'waiting')));
        await client.rewind('parent');
        await firstValueFrom(client.history$('parent').pipe(filter((e) => e.type === 'ExecutionRewound')));
        await client.raiseEvent('child', 'go', 'g');
        expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'fixed', 'g'] });
        expect(runs).toEqual({ Done: 1, Flaky: 2 });
        expect((await store.getHistory('child')).filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      });

      it('does not attach a rewound parent\'s rerun call to a running sub-orchestration that reports to another execution of the parent', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Parent: function* (ctx) {
              if (ctx.getInput() === 'first') {
                // Called and left running: the next execution calls the same id, finds it running, and fails.
                ctx.callSubOrchestrator('Child', 'first', 'child');
                ctx.continueAsNew('second');
                return undefined;
              }
              return yield ctx.callSubOrchestrator('Child', 'second', 'child');
            },
            Child: function* (ctx) {
              ctx.setCustomStatus('waiting');
              return [ctx.getInput(), yield ctx.waitForExternalEvent('go')];
            },
          },
        });
        const { client } = runtime;
        await client.startNew('Parent', { instanceId: 'parent', input: 'first' });
        const failed = await client.waitForCompletion('parent', SETTLED);
        expect(failed).toMatchObject({ runtimeStatus: 'Failed', input: 'second' });
        await firstValueFrom(client.customStatus$('child').pipe(filter((status) => status === 'waiting')));
        // The rerun call finds the first execution's child running again: it fails again, rather than taking that
        // child (started with another input, for another call) for its own.
        await client.rewind('parent');
        await firstValueFrom(client.history$('parent').pipe(filter((e) => e.type === 'ExecutionRewound')));
        await client.raiseEvent('child', 'go', 'g');
        expect(await client.waitForCompletion('child', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['first', 'g'] });
        const again = await client.waitForCompletion('parent', SETTLED);
        const { errorType, errorMessage } = failed!.failureDetails!;
        expect(errorMessage).toContain('already running');
        expect(again).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType, errorMessage } });
        expect((await store.getHistory('child')).filter((e) => e.type === 'ExecutionRewound')).toEqual([]);
      });

      it('keeps a parent that schedules a sub-orchestration on its own id and returns in the same step', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Parent: function* (ctx) {
              ctx.callSubOrchestrator('Child', 'x', ctx.instanceId);
              return 'parent-output';
            },
            Child: function* () {
              return 'child-output';
            },
          },
        });
        await runtime.client.startNew('Parent', { instanceId: 'self', input: 'parent-input' });
        const done = await runtime.client.waitForCompletion('self', SETTLED);
        expect(done).toMatchObject({ name: 'Parent', runtimeStatus: 'Completed', output: 'parent-output', input: 'parent-input' });
        await runtime.stop();
        // Nothing is left to run: no start message of a child was queued over the parent.
        expect(await store.claimOrchestration({ owner: 'probe', leaseMs: 1000, now: new Date(Date.now() + 3_600_000) })).toBeUndefined();
        const state = await store.getInstance('self');
        expect(state).toMatchObject({ name: 'Parent', runtimeStatus: 'Completed', output: 'parent-output' });
        expect(state?.parentInstanceId).toBeUndefined();
        const history = await store.getHistory('self');
        expect(history.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'SubOrchestrationInstanceCreated', 'ExecutionCompleted', 'OrchestratorCompleted']);
        expect(history).toHaveLength(state!.historyLength);
      });

      it('continues as new with the events it did not process, carried into the next execution', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Accumulate: function* (ctx) {
              const total = ctx.getInput<number>();
              const added: number = yield ctx.waitForExternalEvent<number>('add');
              if (added === 0) return total;
              ctx.continueAsNew(total + added, { preserveUnprocessedEvents: true });
              return undefined;
            },
          },
        });
        await runtime.client.startNew('Accumulate', { instanceId: 'acc', input: 0 });
        // Several events in one batch: each execution takes one and carries the rest over.
        for (const value of [1, 2, 3, 0]) await runtime.client.raiseEvent('acc', 'add', value);
        const done = await runtime.client.waitForCompletion('acc', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 6 });
        const history = await store.getHistory('acc');
        expect(history.filter((e) => e.type === 'ExecutionStarted')).toMatchObject([{ input: 6 }]);
        expect(history.filter((e) => e.type === 'EventRaised')).toMatchObject([{ name: 'add', input: 0 }]);
      });

      it('delivers events carried over by continueAsNew ahead of one raised while its step was in flight, in the order raised', async () => {
        const store = await open();
        const relay: Orchestrator = function* (ctx) {
          if (ctx.getInput<number>() === 0) {
            yield ctx.waitForExternalEvent('go');
            ctx.continueAsNew(1, { preserveUnprocessedEvents: true });
            return undefined;
          }
          const got: unknown[] = [];
          for (let i = 0; i < 3; i++) got.push(yield ctx.waitForExternalEvent('x'));
          return got;
        };
        const client = createClient({ store });
        await client.startNew('Relay', { instanceId: 'relay', input: 0 });
        await stepByHand(store, { Relay: relay });
        // 'a' is buffered in history; 'b' comes in the batch that continues the execution; 'c' is raised while a worker
        // holds that step, so it is queued ahead of the start of the next execution.
        await client.raiseEvent('relay', 'x', 'a');
        await stepByHand(store, { Relay: relay });
        await client.raiseEvent('relay', 'go');
        await client.raiseEvent('relay', 'x', 'b');
        await stepByHand(store, { Relay: relay }, () => client.raiseEvent('relay', 'x', 'c'));
        expect(await client.getStatus('relay')).toMatchObject({ runtimeStatus: 'ContinuedAsNew' });
        await runtimeOn(store, 'w1', { orchestrators: { Relay: relay } });
        expect(await client.waitForCompletion('relay', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c'] });
      });

      it('restarts a terminal id that has a long history with a new execution and an empty history', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Count: function* (ctx) {
              const n = ctx.getInput<number>();
              let sum = 0;
              for (let i = 0; i < n; i++) sum += (yield ctx.callActivity('Inc', i)) as number;
              return sum;
            },
          },
          activities: { Inc: (i: number) => i + 1 },
        });
        await runtime.client.startNew('Count', { instanceId: 'again', input: 60 });
        const first = await runtime.client.waitForCompletion('again', SETTLED);
        expect(first).toMatchObject({ runtimeStatus: 'Completed', output: 1830 });
        const old = (await store.getInstance('again'))!;
        expect(old.historyLength).toBeGreaterThan(180);
        await runtime.client.startNew('Count', { instanceId: 'again', input: 2 });
        const second = await runtime.client.waitForCompletion('again', SETTLED);
        expect(second).toMatchObject({ runtimeStatus: 'Completed', output: 3, input: 2 });
        const now = (await store.getInstance('again'))!;
        expect(now.executionId).not.toBe(old.executionId);
        expect(now.version).toBeGreaterThan(old.version);
        const history = await store.getHistory('again');
        expect(history).toHaveLength(now.historyLength);
        expect(history.filter((e) => e.type === 'TaskScheduled')).toHaveLength(2);
        assertNoDuplicateSteps(history);
      });

      it('rewinds an instance whose callActivityWithRetry exhausted its attempts: the call runs again and succeeds', async () => {
        const store = await open();
        let failuresLeft = 2;
        let calls = 0;
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Flaky: function* (ctx) {
              const before: string = yield ctx.callActivity('Ok', 'before');
              const flaky: string = yield ctx.callActivityWithRetry('Flaky', { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 2 }, 'x');
              return [before, flaky];
            },
          },
          activities: {
            Ok: (v: string) => {
              calls++;
              return v;
            },
            Flaky: () => {
              if (failuresLeft > 0) {
                failuresLeft--;
                throw new Error('not yet');
              }
              return 'finally';
            },
          },
        });
        await runtime.client.startNew('Flaky', { instanceId: 'rewind-me' });
        const failed = await runtime.client.waitForCompletion('rewind-me', SETTLED);
        expect(failed.runtimeStatus).toBe('Failed');
        expect(failuresLeft).toBe(0);
        const failedState = (await store.getInstance('rewind-me'))!;
        const failedVersion = failedState.version;
        // waitForCompletion would see the Failed state itself: wait for the next terminal snapshot instead.
        const finished = firstValueFrom(store.changes$.pipe(
          filter((c) => c.instanceId === 'rewind-me' && (c.state?.version ?? 0) > failedVersion && isTerminalStatus(c.state!.runtimeStatus)),
          take(1),
        ));
        await runtime.client.rewind('rewind-me', 'fixed');
        expect((await finished).state).toMatchObject({ runtimeStatus: 'Completed', output: ['before', 'finally'] });
        expect(calls).toBe(1); // the completed call kept its recorded result
        const state = (await store.getInstance('rewind-me'))!;
        expect(state.historyEpoch).toBe(1);
        // The store keeps the history the rewind replaced, as it ended, with the state (what a history stream tells).
        expect(state.previousHistory).toEqual({ execution: `${failedState.executionId}/0`, events: failedState.historyLength });
        expect(await store.getHistory('rewind-me')).toHaveLength(state.historyLength);
      });

      it('records and ignores an activity result that arrives after a terminate', async () => {
        const store = await open();
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let started!: () => void;
        const running = new Promise<void>((resolve) => (started = resolve));
        const runtime = await runtimeOn(store, 'w1', {
          orchestrators: {
            Slow: function* (ctx) {
              return yield ctx.callActivity('Slow');
            },
          },
          activities: {
            Slow: async () => {
              started();
              await released;
              return 'late';
            },
          },
        });
        await runtime.client.startNew('Slow', { instanceId: 'race' });
        await running;
        await runtime.client.terminate('race', 'stop');
        const terminated = await runtime.client.waitForCompletion('race', SETTLED);
        expect(terminated).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        const before = (await store.getInstance('race'))!;
        const recorded = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'race' && (c.state?.version ?? 0) > before.version), take(1)));
        release();
        const after = (await within(recorded, 'the late result recorded')).state!;
        // Ignored: the status as the terminate left it, lastUpdatedTime too (status$ has nothing new to show) ...
        expect(after).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', name: 'Slow', lastUpdatedTime: before.lastUpdatedTime });
        expect(after.historyLength).toBeGreaterThan(before.historyLength);
        // ... and recorded, visibly in history, after the termination.
        const history = await store.getHistory('race');
        expect(history.at(-1)).toMatchObject({ type: 'TaskCompleted', result: 'late' });
        expect(history.filter((e) => e.type === 'ExecutionTerminated')).toHaveLength(1);
        expect(history).toHaveLength(after.historyLength);
      });
    });

    describe('with a runtime', () => {
      it('records a step whose failure record the store refuses too as a failure with the events, without payloads: nothing claimed vanishes', async () => {
        // The store refuses, for good, a commit appending more than HISTORY_LIMIT characters of history (as a store with
        // a bounded history document would), passing every other write through: the step that takes the large event,
        // then its failure record (the event in full), are refused.
        const opened = await open();
        let refusals = 0;
        const store = storeWith(opened, {
          commit: (writeSet) => {
            const history = writeSet.requests.filter((r) => r.type === 'appendHistory' || r.type === 'replaceHistory');
            if (JSON.stringify(history).length <= HISTORY_LIMIT) return opened.commit(writeSet);
            refusals++;
            return Promise.reject(new PayloadTooLargeError('the history exceeds what this store stores'));
          },
        });
        // Queued before any worker runs: the first step takes the start and both events.
        const client = createClient({ store });
        const id = await client.startNew('Waits', { instanceId: 'refused-twice', input: { small: true } });
        await client.raiseEvent(id, 'Big', 'x'.repeat(2 * HISTORY_LIMIT));
        await client.raiseEvent(id, 'Small', 'kept');
        const runtime = await runtimeOn(store, 'w1', { orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('Never'); } } });
        const failed = await runtime.client.waitForCompletion(id, SETTLED);
        expect(failed).toMatchObject({
          runtimeStatus: 'Failed', input: { small: true },
          failureDetails: { errorType: 'PayloadTooLargeError', errorMessage: expect.stringMatching(/failure record were refused/) },
        });
        expect(refusals).toBe(2);
        const history = await store.getHistory(id);
        const reason = 'the store refused to record it (PayloadTooLargeError: the history exceeds what this store stores)';
        expect(history.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'EventRaised', 'EventRaised', 'ExecutionCompleted', 'OrchestratorCompleted']);
        expect(history[1]).toMatchObject({ type: 'ExecutionStarted', input: { small: true } });
        expect(history.filter((e) => e.type === 'EventRaised')).toEqual([
          { type: 'EventRaised', eventId: -1, timestamp: expect.any(String), name: 'Big', payloadRefused: reason },
          { type: 'EventRaised', eventId: -1, timestamp: expect.any(String), name: 'Small', payloadRefused: reason },
        ]);
        // Every claimed message was consumed with its record: nothing is left to step.
        expect(await opened.claimOrchestration({ owner: 'w2', leaseMs: 60_000, now: new Date(Date.now() + 3_600_000) })).toBeUndefined();
      }, 120_000);

      it('keeps a cancel request queued behind the start and delivers it at the first wait, recorded in history with its reason', async () => {
        const store = await open();
        // Queued before any worker runs: the first step takes the start, the event and the cancel, in that order.
        const client = createClient({ store });
        const id = await client.startNew('Cancelable', { instanceId: 'cancel-queued' });
        await client.raiseEvent(id, 'First', 1);
        await client.cancel(id, 'queued cancel');
        await expect(client.cancel('cancel-nobody')).rejects.toMatchObject({ code: 'instance-not-found' });
        const cancelable: Orchestrator = function* (ctx) {
          const first: unknown = yield ctx.waitForExternalEvent('First');
          try {
            yield ctx.waitForExternalEvent('Never');
            return 'not canceled';
          } catch (error) {
            return { first, canceled: ctx.isCancellationRequested, message: (error as Error).message };
          }
        };
        const runtime = await runtimeOn(store, 'w1', { orchestrators: { Cancelable: cancelable } });
        expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({
          runtimeStatus: 'Completed', output: { first: 1, canceled: true, message: 'Canceled: queued cancel' },
        });
        const history = await store.getHistory(id);
        expect(history.filter((e) => e.type === 'ExecutionStarted' || e.type === 'EventRaised' || e.type === 'ExecutionCancelRequested').map((e) => e.type))
          .toEqual(['ExecutionStarted', 'EventRaised', 'ExecutionCancelRequested']);
        expect(history.find((e) => e.type === 'ExecutionCancelRequested')).toMatchObject({ reason: 'queued cancel' });
        // A terminal instance refuses it, writing nothing.
        await expect(client.cancel(id)).rejects.toMatchObject({ code: 'instance-not-running' });
        expect(await store.getHistory(id)).toHaveLength(history.length);
      });

      it('fails a continueAsNew whose carried events, each of which fits a message, do not fit one start message together', async () => {
        // A store that refuses for good (413) a commit inserting a message of more than MESSAGE_LIMIT characters, as
        // MongoStore refuses one over its maxPayloadBytes: the input and every carried event go in one start message.
        const MESSAGE_LIMIT = 20_000;
        const opened = await open();
        let refusals = 0;
        const store = storeWith(opened, {
          commit: (writeSet) => {
            if (writeSet.requests.every((r) => r.type !== 'insertMessage' || JSON.stringify(r.message).length <= MESSAGE_LIMIT)) return opened.commit(writeSet);
            refusals++;
            return Promise.reject(new PayloadTooLargeError('the message exceeds what this store stores'));
          },
        });
        const item = 'x'.repeat(MESSAGE_LIMIT * 0.6);
        // Queued before any worker runs, each event a message the store takes.
        const client = createClient({ store });
        const id = await client.startNew('Keeps', { instanceId: 'carried-too-large' });
        await client.raiseEvent(id, 'item', `1${item}`);
        await client.raiseEvent(id, 'item', `2${item}`);
        await client.raiseEvent(id, 'go');
        const keeps: Orchestrator = function* (ctx) {
          if (ctx.getInput() !== undefined) return [yield ctx.waitForExternalEvent('item'), yield ctx.waitForExternalEvent('item')];
          yield ctx.waitForExternalEvent('go');
          ctx.continueAsNew('next', { preserveUnprocessedEvents: true });
          return undefined;
        };
        const runtime = await runtimeOn(store, 'w1', { orchestrators: { Keeps: keeps } });
        const failed = await runtime.client.waitForCompletion(id, SETTLED);
        expect(failed).toMatchObject({
          runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError', errorMessage: expect.stringContaining('the message exceeds') },
        });
        expect(refusals).toBe(1);
        // The first execution's history is kept, with the failure: every event in full, nothing lost, no next execution.
        const history = await store.getHistory(id);
        expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
        expect(history.flatMap((e) => (e.type === 'EventRaised' ? [[e.name, e.input]] : []))).toEqual([['item', `1${item}`], ['item', `2${item}`], ['go', undefined]]);
        expect(history.at(-2)).toMatchObject({ type: 'ExecutionCompleted', orchestrationStatus: 'Failed' });
        expect(await opened.claimOrchestration({ owner: 'w2', leaseMs: 60_000, now: new Date(Date.now() + 3_600_000) })).toBeUndefined();
      }, 120_000);

      describe('a step whose records without payloads the store refuses too', () => {
        // The store of the refused-records test: its real results, but a commit appending or replacing more than
        // HISTORY_LIMIT characters of history refused for good (413), each refusal counted.
        const limited = async () => {
          const opened = await open();
          const refused = { count: 0 };
          const store = storeWith(opened, {
            commit: (writeSet) => {
              const history = writeSet.requests.filter((r) => r.type === 'appendHistory' || r.type === 'replaceHistory');
              if (JSON.stringify(history).length <= HISTORY_LIMIT) return opened.commit(writeSet);
              refused.count++;
              return Promise.reject(new PayloadTooLargeError('the history exceeds what this store stores'));
            },
          });
          return { opened, store, refused };
        };
        const big = 'x'.repeat(2 * HISTORY_LIMIT);
        const nothingLeft = async (opened: Store) => {
          expect(await opened.claimOrchestration({ owner: 'w2', leaseMs: 60_000, now: new Date(Date.now() + 3_600_000) })).toBeUndefined();
        };

        it('fails a first step whose input the store refuses with a record of fixed size: the start without its input, which the status keeps', async () => {
          const { opened, store, refused } = await limited();
          const runtime = await runtimeOn(store, 'w1', { orchestrators: { Echo: function* (ctx) { return ctx.getInput(); } } });
          const id = await runtime.client.startNew('Echo', { instanceId: 'refused-input', input: big });
          const failed = await runtime.client.waitForCompletion(id, SETTLED);
          expect(failed).toMatchObject({
            runtimeStatus: 'Failed', input: big,
            failureDetails: { errorType: 'PayloadTooLargeError', errorMessage: expect.stringMatching(/^the step and its failure records were refused, 0 claimed events not recorded/) },
          });
          // The step, its failure record, its bare record (the input in full): then the record of fixed size.
          expect(refused.count).toBe(3);
          const history = await store.getHistory(id);
          expect(history.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'ExecutionCompleted', 'OrchestratorCompleted']);
          expect(history[1]).toEqual(expect.not.objectContaining({ input: expect.anything() }));
          expect(history[1]).toMatchObject({ name: 'Echo', payloadRefused: expect.stringMatching(/store refused to record it/) });
          await nothingLeft(opened);
        }, 120_000);

        it('fails a continueAsNew whose input the store refuses the same way, instead of leaving it ContinuedAsNew', async () => {
          const { opened, store, refused } = await limited();
          const runtime = await runtimeOn(store, 'w1', {
            orchestrators: {
              Grows: function* (ctx) {
                if (ctx.getInput() !== undefined) return 'grown';
                ctx.continueAsNew(big);
                return undefined;
              },
            },
          });
          const id = await runtime.client.startNew('Grows', { instanceId: 'refused-continue' });
          const failed = await runtime.client.waitForCompletion(id, SETTLED);
          expect(failed).toMatchObject({ runtimeStatus: 'Failed', input: big, failureDetails: { errorMessage: expect.stringMatching(/failure records were refused/) } });
          expect(refused.count).toBe(3);
          expect((await store.getHistory(id)).map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'ExecutionCompleted', 'OrchestratorCompleted']);
          await nothingLeft(opened);
        }, 120_000);

        it('fails a step of many events with long names with a record of fixed size that counts them', async () => {
          const { opened, store, refused } = await limited();
          // Queued before any worker runs: the first step takes the start and every event.
          const client = createClient({ store });
          const id = await client.startNew('Waits', { instanceId: 'refused-names', input: { small: true } });
          for (let i = 0; i < 100; i++) await client.raiseEvent(id, `${i}`.padEnd(250, 'n'));
          const runtime = await runtimeOn(store, 'w1', { orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('Never'); } } });
          const failed = await runtime.client.waitForCompletion(id, SETTLED);
          expect(failed).toMatchObject({
            runtimeStatus: 'Failed', input: { small: true },
            failureDetails: { errorMessage: expect.stringMatching(/^the step and its failure records were refused, 100 claimed events not recorded/) },
          });
          expect(refused.count).toBe(3);
          expect((await store.getHistory(id)).map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'ExecutionCompleted', 'OrchestratorCompleted']);
          await nothingLeft(opened);
        }, 120_000);

        it('consumes late events of an ended instance whose payload-less record the store refuses with a record of fixed size that counts them', async () => {
          const { opened, store, refused } = await limited();
          const first = await runtimeOn(store, 'w1', { orchestrators: { Done: function* () { return 'done'; } } });
          const id = await first.client.startNew('Done', { instanceId: 'refused-late' });
          expect(await first.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
          await first.stop();
          const before = await store.getHistory(id);
          // Queued while no worker runs (as messages sent before the instance ended, which a client no longer sends to
          // it): one step takes every late event, whose payload-less record (each name kept) is more than the store takes.
          const timestamp = new Date().toISOString();
          await opened.commit({
            requests: Array.from({ length: 100 }, (_, i): WriteRequest => ({
              type: 'insertMessage', ifMissing: 'fail',
              message: { id: `late-${i}`, instanceId: id, event: { type: 'EventRaised', eventId: -1, timestamp, name: `${i}`.padEnd(250, 'n') } },
            })),
          });
          const runtime = await runtimeOn(store, 'w2', { orchestrators: { Done: function* () { return 'done'; } } });
          const recorded = firstValueFrom(runtime.client.history$(id).pipe(filter((e) => e.payloadRefused !== undefined)));
          // The step and its payload-less record refused: then the record of fixed size, the step markers.
          expect(await within(recorded, 'the late events counted')).toMatchObject({
            type: 'OrchestratorStarted', payloadRefused: expect.stringMatching(/^100 late events not recorded, the store refused to record them \(PayloadTooLargeError/),
          });
          expect(refused.count).toBe(2);
          const history = await store.getHistory(id);
          expect(history.slice(0, before.length)).toEqual(before);
          expect(history.slice(before.length).map((e) => e.type)).toEqual(['OrchestratorStarted', 'OrchestratorCompleted']);
          expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
          await nothingLeft(opened);
        }, 120_000);

        it('records a rewind whose rewritten history the store refuses as refused: the instance stays Failed, the rewind consumed, the call rejected', async () => {
          const { opened, store, refused } = await limited();
          let failing = true;
          const runtime = await runtimeOn(store, 'w1', {
            orchestrators: {
              Ten: function* (ctx) {
                const results: unknown[] = [];
                for (let i = 0; i < 10; i++) results.push(yield ctx.callActivity('Chunk'));
                results.push(yield ctx.callActivity('Flaky'));
                return results.length;
              },
            },
            activities: {
              Chunk: () => 'c'.repeat(HISTORY_LIMIT / 6),
              Flaky: () => {
                if (failing) throw new Error('flaky');
                return 'ok';
              },
            },
          });
          const id = await runtime.client.startNew('Ten', { instanceId: 'refused-rewind' });
          const failed = await runtime.client.waitForCompletion(id, SETTLED);
          expect(failed).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringMatching(/flaky/) } });
          expect(refused.count).toBe(0);
          const before = await store.getHistory(id);
          failing = false;
          // The rewound history (every chunk) is more than the store takes in one commit: the worker's rewind step, its
          // failure record and its bare record (each the whole rewound history) are refused.
          const recorded = firstValueFrom(runtime.client.history$(id).pipe(filter((e) => e.type === 'ExecutionRewound')));
          // The call rejects once the refusal is recorded (before 2026-12-04 it resolved after its 10 s wait, the
          // instance still Failed, as if the rewind had been made).
          const rewound = runtime.client.rewind(id, 'again');
          await expect(rewound).rejects.toBeInstanceOf(PayloadTooLargeError);
          await expect(rewound).rejects.toMatchObject({
            code: 'payload-too-large', status: 413, message: expect.stringMatching(/was not made, the instance stays Failed: the rewind was refused/),
          });
          // The rewind recorded as refused, after the history as it was; the message consumed.
          expect(await within(recorded, 'the refused rewind recorded')).toMatchObject({ payloadRefused: expect.stringMatching(/^the rewind was refused/) });
          const history = await store.getHistory(id);
          expect(history.slice(0, before.length)).toEqual(before);
          expect(history.slice(before.length)).toEqual([expect.objectContaining({ type: 'ExecutionRewound', payloadRefused: expect.stringMatching(/^the rewind was refused/) })]);
          expect(refused.count).toBe(3);
          expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringMatching(/flaky/) } });
          await nothingLeft(opened);
        }, 120_000);

        it('consumes, unrecorded, a rewind whose every record the store refuses (it takes no history of the instance), instead of retrying it at every lease expiry', async () => {
          const opened = await open();
          // The store's real results, but once `full`, any history write of the instance refused for good (413), each
          // refusal counted: a history at its limit, which takes not even the record of fixed size.
          let full = false;
          const refused = { count: 0 };
          let consumed!: () => void;
          const unrecorded = new Promise<void>((resolve) => (consumed = resolve));
          const store = storeWith(opened, {
            commit: async (writeSet) => {
              const history = writeSet.requests.some((r) => (r.type === 'appendHistory' || r.type === 'replaceHistory') && r.instanceId === 'full-rewind');
              if (full && history) {
                refused.count++;
                throw new PayloadTooLargeError('the history of this instance is at its limit');
              }
              const result = await opened.commit(writeSet);
              if (full && writeSet.lease?.kind === 'orchestration' && writeSet.lease.instanceId === 'full-rewind') consumed();
              return result;
            },
          });
          const runtime = await runtimeOn(store, 'w1', {
            orchestrators: { Fails: function* (ctx) { return yield ctx.callActivity('Fail'); } },
            activities: { Fail: () => { throw new Error('flaky'); } },
          });
          const id = await runtime.client.startNew('Fails', { instanceId: 'full-rewind' });
          expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
          const before = await opened.getHistory(id);
          full = true;
          // The rewind step, its failure record, its bare record and its record of fixed size are refused: the
          // rewind's message is then consumed with no record. Before, the step was left to be claimed again when its
          // lease expired, and refused again, for ever.
          const rewinding = runtime.client.rewind(id, 'again');
          rewinding.catch(() => undefined);
          await within(unrecorded, 'the rewind consumed');
          // At least those four (a lease that expired meanwhile makes the step be tried again), and none after.
          const refusedBefore = refused.count;
          expect(refusedBefore).toBeGreaterThanOrEqual(4);
          expect(await opened.getHistory(id)).toEqual(before);
          expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringMatching(/flaky/) } });
          await nothingLeft(opened);
          // The call rejects as for a refusal recorded: the instance Failed in the same history, nothing appended, its
          // version moved on.
          await expect(rewinding).rejects.toBeInstanceOf(PayloadTooLargeError);
          await expect(rewinding).rejects.toMatchObject({
            status: 413, message: expect.stringMatching(/was not made, the instance stays Failed: the rewind was refused, the store refused every record of it/),
          });
          expect(refused.count).toBe(refusedBefore);
        }, 120_000);
      });

      it('runs the hello sequence and pushes every custom status in order', async () => {
        const store = await open();
        const runtime = await runtimeOn(store, 'w1');
        let subscribed!: () => void;
        const ready = new Promise<void>((resolve) => (subscribed = resolve));
        const statuses = firstValueFrom(runtime.client.customStatus$('hello').pipe(tap(() => subscribed()), take(4), toArray()));
        await ready; // the first value (no instance yet) proves the subscription is live before anything commits
        const id = await runtime.client.startNew('HelloSequence', { instanceId: 'hello' });
        const done = await runtime.client.waitForCompletion(id, SETTLED);
        expect(done.runtimeStatus).toBe('Completed');
        expect(done.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
        expect(await statuses).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
      });

      it('shares work between two runtimes on one store handle: every instance completes once', async () => {
        const store = await open();
        const a = await runtimeOn(store, 'wa');
        await runtimeOn(store, 'wb');
        const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => a.client.startNew('HelloSequence', { instanceId: `one-${i}` })));
        // 120 steps: 43 s at load 27 in CI. Slow is not stuck, so the wait is long (as in the shared-handles case).
        const done = await Promise.all(ids.map((id) => a.client.waitForCompletion(id, { timeoutMs: 240_000 })));
        expect(done.every((s) => s.runtimeStatus === 'Completed')).toBe(true);
        for (const id of ids) assertNoDuplicateSteps(await store.getHistory(id));
      }, 300_000);
    });

    if (options.shared) {
      describe('shared between handles (tabs, processes)', () => {
        it('delivers a change committed through one handle to the change feed of another', async () => {
          const db = `shared-${randomId()}`;
          const a = await open(db);
          const b = await open(db);
          const seen = firstValueFrom(b.changes$.pipe(filter((c) => c.instanceId === 'x' && c.state?.runtimeStatus === 'Running'), take(1)));
          await b.getInstance('x'); // a store may open its feed asynchronously; one round trip through b settles it
          await create(a, newInstance('x'));
          await commitStep(a, await claim(a), { runtimeStatus: 'Running', customStatus: 'across' }, [started('x')]);
          expect((await seen).state).toMatchObject({ customStatus: 'across', version: 2 });
          expect(await b.getInstance('x')).toMatchObject({ customStatus: 'across' });
        });

        it('refuses a commit through one handle after another handle took the lease over', async () => {
          const db = `shared-${randomId()}`;
          const a = await open(db);
          const b = await open(db);
          await create(a, newInstance('x'));
          const stale = await claim(a, 'wa', T0);
          const fresh = await claim(b, 'wb', at(60_000));
          await expect(a.commit(commitOf(stale.state, stale.lease.token, {
            consumedMessageIds: stale.messages.map((m) => m.id), state: { ...stale.state, version: 2, historyLength: 1 }, history: [started('x')],
          }))).rejects.toMatchObject({ code: 'lease-lost' });
          expect(fresh.state.instanceId).toBe('x');
        });

        it(`runs ${options.sharedInstances ?? 100} hello sequences on workers of two handles: all complete once, no duplicated step`, async () => {
          const db = `shared-${randomId()}`;
          const storeA = await open(db);
          const storeB = await open(db);
          const a = await runtimeOn(storeA, 'wa');
          const b = await runtimeOn(storeB, 'wb');
          const n = options.sharedInstances ?? 100;
          const ids = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? a : b).client.startNew('HelloSequence', { instanceId: `multi-${i}` })));
          // 400 steps through one database: at a load average of 27 (fake-indexeddb in Node) every instance was still
          // Running after 60 s, all progressing together. Slow is not stuck, so the wait is long.
          const done = await Promise.all(ids.map((id) => b.client.waitForCompletion(id, { timeoutMs: 240_000 })));
          expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
          expect(done.every((s) => JSON.stringify(s.output) === JSON.stringify(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']))).toBe(true);
          for (const id of ids) assertNoDuplicateSteps(await storeA.getHistory(id));
          // A step is counted once its commit has settled, which may be just after its status is seen: count once
          // both workers have drained.
          await Promise.all([a.stop({ graceMs: Infinity }), b.stop({ graceMs: Infinity })]);
          expect(a.metrics.steps + b.metrics.steps).toBe(n * 4);
        }, 300_000);
      });
    }
  });
}

// -------------------------------------------------------------------- helpers

/** Asserts that a history records every scheduled task, result and completion exactly once. */
export function assertNoDuplicateSteps(history: readonly HistoryEvent[]): void {
  const scheduled = history.filter((e) => e.type === 'TaskScheduled').map((e) => e.eventId);
  const completed = history.filter((e) => e.type === 'TaskCompleted').map((e) => (e as { taskScheduledId: number }).taskScheduledId);
  expect(new Set(scheduled).size, 'each task scheduled once').toBe(scheduled.length);
  expect(new Set(completed).size, 'each result recorded once').toBe(completed.length);
  expect(history.filter((e) => e.type === 'ExecutionStarted'), 'one start').toHaveLength(1);
  expect(history.filter((e) => e.type === 'ExecutionCompleted').length, 'at most one completion').toBeLessThanOrEqual(1);
}

/** A commit of a message (no lease): a command a client left to a worker. */
function isMessage(writeSet: WriteSet): boolean {
  return writeSet.lease === undefined;
}

/**
 * The terminate of the top-level instance `state` with reason 'stop' at `now`, as a client decides it (no lease): one
 * whose own worker claims at once (a message queued before it holds it back), or with `ahead` one without a worker at
 * hand (it goes ahead of queued events, not of a queued command).
 */
function terminateOf(state: InstanceState, now: Date, ahead = false): WriteSet {
  const event = { type: 'ExecutionTerminated', eventId: -1, timestamp: now.toISOString(), reason: 'stop' } as const;
  const decision = decideTerminate({ state, event, now, newId: () => randomId(), ahead });
  if (decision.kind !== 'commit') throw new Error(`a top-level instance's terminate commits (decided ${decision.kind})`);
  return decision.writeSet;
}

/**
 * The suspend of the instance `state` (Pending, Running or Suspended) at `now`, as a client without a worker at hand
 * decides it (no lease; it goes ahead of queued events, not of a queued command).
 */
function suspendOf(state: InstanceState, now: Date): WriteSet {
  const event = { type: 'ExecutionSuspended', eventId: -1, timestamp: now.toISOString(), reason: 'hold' } as const;
  const decision = decideSuspend({ state, event, now, newId: () => randomId(), ahead: true });
  if (decision.kind !== 'commit') throw new Error(`the suspend commits (decided ${decision.kind})`);
  return decision.writeSet;
}

/**
 * `opened` as a store whose `done` resolves once its first commit (of those `told` picks: every one by default)
 * settled, whatever the outcome, with that commit's write set (an `unclaimed` lease: a client's direct commit; none: a
 * message).
 */
function firstCommitTold(opened: Store, told: (writeSet: WriteSet) => boolean = () => true): { store: Store; done: Promise<WriteSet> } {
  let committed!: (writeSet: WriteSet) => void;
  const done = new Promise<WriteSet>((resolve) => (committed = resolve));
  const store = storeWith(opened, {
    commit: (writeSet) => opened.commit(writeSet).finally(() => told(writeSet) && committed(writeSet)),
  });
  return { store, done };
}

/**
 * The step a worker would take next on `store`, run by hand with `orchestrators` and committed: nothing is left running
 * to go on with what the step queues (a child's start, the next execution's). `inFlight` runs between the claim and the
 * decision.
 */
async function stepByHand(store: Store, orchestrators: Readonly<Record<string, Orchestrator>>, inFlight?: () => Promise<void>): Promise<void> {
  const item = await store.claimOrchestration({ owner: 'w0', leaseMs: 60_000, now: new Date() });
  if (!item) throw new Error('no orchestration work to step');
  // What happens while the step is in flight (claimed, not committed yet).
  if (inFlight) await inFlight();
  const input: StepInput = {
    state: item.state, messages: item.messages, leaseToken: item.lease.token, now: new Date(), newId: () => randomId(),
    newExecution: (name) => new OrchestrationExecution(orchestrators[name]!, { customStatusLimitBytes: 16_384 }),
  };
  let decision = decideStep(input);
  if (decision.kind === 'needHistory') decision = decideStep({ ...input, history: await store.getHistory(item.state.instanceId) });
  if (decision.kind !== 'commit') throw new Error('decideStep asked for the history twice');
  await store.commit(decision.writeSet);
}

/** `opened`, with the members in `overrides` in place of its own (the rest bound to it). */
function storeWith(opened: Store, overrides: Partial<Store>): Store {
  return new Proxy(opened, {
    get: (target, key) => {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof Store];
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? value.bind(target) as unknown : value;
    },
  });
}

/** Ids of a listing followed through every page. */
async function allPages(store: Store, query: Parameters<Store['queryInstances']>[0]): Promise<string[]> {
  const seen: string[] = [];
  for (let token: string | undefined, first = true; first || token !== undefined; first = false) {
    const page = await store.queryInstances({ ...query, ...(token ? { continuationToken: token } : {}) });
    seen.push(...page.instances.map((s) => s.instanceId));
    token = page.continuationToken;
  }
  return seen;
}

function newInstance(
  instanceId: string,
  o: { input?: unknown; executionId?: string; createdTime?: Date; name?: string; tags?: Readonly<Record<string, string>> } = {},
): CreateInstanceRequest {
  const executionId = o.executionId ?? 'exec-1';
  const createdTime = o.createdTime ?? T0;
  const name = o.name ?? 'Orch';
  return {
    state: {
      instanceId, name, runtimeStatus: 'Pending', createdTime, lastUpdatedTime: createdTime, executionId,
      historyLength: 0, version: 1, ...(o.input === undefined ? {} : { input: o.input }), ...(o.tags === undefined ? {} : { tags: o.tags }),
    },
    message: message(instanceId, {
      type: 'ExecutionStarted', eventId: -1, timestamp: createdTime.toISOString(), name, instanceId, executionId,
      ...(o.input === undefined ? {} : { input: o.input }),
    }),
  };
}

function message(instanceId: string, event: OrchestrationMessage['event']): OrchestrationMessage {
  return { id: randomId(), instanceId, event };
}

function eventRaised(name: string, input?: unknown): OrchestrationMessage['event'] & HistoryEvent {
  return { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name, ...(input === undefined ? {} : { input }) };
}

function started(instanceId: string): HistoryEvent {
  return { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Orch', instanceId, executionId: 'exec-1' };
}

function completedEvent(): HistoryEvent {
  return { type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Completed' };
}

function result(instanceId: string, executionId: string, taskScheduledId: number, value: unknown): OrchestrationMessage {
  return { id: randomId(), instanceId, executionId, event: { type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId, result: value } };
}

function activityTask(instanceId: string, id: string) {
  return { id, instanceId, executionId: 'exec-1', name: 'Act', input: { n: 1 }, taskScheduledId: 0, attempt: 1 };
}

function subInstance(instanceId: string, parentId: string) {
  const req = newInstance(instanceId, { executionId: `exec-${instanceId}` });
  return {
    ...req,
    state: { ...req.state, parentInstanceId: parentId },
    onConflict: message(parentId, {
      type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 1,
      failureDetails: { errorType: 'InstanceAlreadyExistsError', errorMessage: 'busy' },
    }),
  };
}

/** An instance to create with its start message. */
interface CreateInstanceRequest {
  readonly state: InstanceState;
  readonly message: OrchestrationMessage;
}

/** The parts of a hand-made step commit (see {@link commitOf}). */
interface StepParts {
  readonly state: InstanceState;
  readonly history?: readonly HistoryEvent[];
  readonly replaceHistory?: boolean;
  readonly consumedMessageIds?: readonly string[];
  readonly activityTasks?: readonly ActivityTask[];
  readonly messages?: readonly OrchestrationMessage[];
  readonly subInstances?: readonly ReturnType<typeof subInstance>[];
}

/** A step's write set, in the order decideStep writes one, for the work item claimed at `claimed`. */
function commitOf(claimed: InstanceState, leaseToken: string, parts: StepParts): WriteSet {
  const id = claimed.instanceId;
  const requests: WriteRequest[] = [
    { type: 'replaceState', state: parts.state },
    parts.replaceHistory
      ? { type: 'replaceHistory', instanceId: id, events: parts.history ?? [] }
      : { type: 'appendHistory', instanceId: id, from: claimed.historyLength, events: parts.history ?? [] },
    { type: 'deleteMessages', instanceId: id, messageIds: parts.consumedMessageIds ?? [] },
    ...(parts.activityTasks ?? []).map((task): WriteRequest => ({ type: 'insertTask', task })),
    ...(parts.subInstances ?? []).map((sub): WriteRequest => ({
      type: 'createInstance', state: sub.state, message: sub.message, ifRunning: { kind: 'notify', message: sub.onConflict },
    })),
    ...(parts.messages ?? []).map((message): WriteRequest => ({ type: 'insertMessage', message, ifMissing: 'drop' })),
  ];
  return { lease: { kind: 'orchestration', instanceId: id, token: leaseToken }, requests };
}

/** A client start: creates, replacing a terminal instance; refused over a running one. */
async function create(store: Store, request: CreateInstanceRequest): Promise<void> {
  await store.commit({ requests: [{ type: 'createInstance', ...request, ifRunning: { kind: 'fail' } }] });
}

/** A client message to an existing instance. */
async function send(store: Store, message: OrchestrationMessage): Promise<void> {
  await store.commit({ requests: [{ type: 'insertMessage', message, ifMissing: 'fail' }] });
}

/** An activity result under the task's lease. */
async function complete(store: Store, completion: { taskId: string; leaseToken: string; result: OrchestrationMessage }): Promise<void> {
  await store.commit({
    lease: { kind: 'activity', taskId: completion.taskId, token: completion.leaseToken },
    requests: [{ type: 'deleteTask', taskId: completion.taskId }, { type: 'insertMessage', message: completion.result, ifMissing: 'drop' }],
  });
}

async function claim(store: Store, owner = 'w1', now = T0, maxMessages?: number) {
  const item = await store.claimOrchestration({ owner, leaseMs: 30_000, now, ...(maxMessages === undefined ? {} : { maxMessages }) });
  if (!item) throw new Error('expected a work item');
  return item;
}

async function claimNothingOr(store: Store) {
  return store.claimOrchestration({ owner: 'probe', leaseMs: 1, now: T0 });
}

/** Claims until the work item of `instanceId` comes up, abandoning others. */
async function claimId(store: Store, instanceId: string, now = T0, maxMessages?: number) {
  const others: { id: string; token: string }[] = [];
  try {
    for (;;) {
      const item = await claim(store, 'w1', now, maxMessages);
      if (item.state.instanceId === instanceId) return item;
      others.push({ id: item.state.instanceId, token: item.lease.token });
    }
  } finally {
    for (const o of others) await store.abandonOrchestration(o.id, o.token);
  }
}

/** An instance in Running state with the given activity tasks, its start message consumed. */
async function runningInstance(store: Store, instanceId: string, tasks: ReturnType<typeof activityTask>[]) {
  await create(store, newInstance(instanceId));
  const item = await claim(store);
  const state = { ...item.state, runtimeStatus: 'Running' as const, version: item.state.version + 1, historyLength: 1 };
  await store.commit(commitOf(item.state, item.lease.token, {
    consumedMessageIds: item.messages.map((m) => m.id), state, history: [started(instanceId)], activityTasks: tasks,
  }));
  return state;
}

/** Commits a state change through the normal claim/commit path (consuming a nudge message). */
async function forceState(store: Store, state: InstanceState, patch: StatePatch) {
  await send(store, message(state.instanceId, eventRaised('nudge')));
  await commitStep(store, await claimId(store, state.instanceId, at(1_000_000)), patch);
}

/** What a hand-made step changes in a state, beside the version and the history length it derives. */
type StatePatch = Partial<Omit<InstanceState, 'version' | 'historyLength'>>;

/**
 * Commits a step of the claimed `item` by hand: it consumes the item's messages, gives its state `patch` with the next
 * version and the history length `history` leaves, and appends `history` (or, with `replaceHistory`, replaces the
 * history with it).
 */
async function commitStep(
  store: Store, item: OrchestrationWorkItem, patch: StatePatch, history: readonly HistoryEvent[] = [],
  { replaceHistory = false } = {},
): Promise<void> {
  const state: InstanceState = {
    ...item.state, ...patch, version: item.state.version + 1,
    historyLength: (replaceHistory ? 0 : item.state.historyLength) + history.length,
  };
  await store.commit(commitOf(item.state, item.lease.token, { consumedMessageIds: item.messages.map((m) => m.id), state, history, replaceHistory }));
}

/**
 * Calls every method of the port on `store` at once (a method that throws gives a rejected promise), each of which
 * would read, or find work to take or delete, in the store of the lifecycle test: under the name of the call.
 */
function everyCall(store: Store): Record<string, Promise<unknown>> {
  const calls: Record<string, () => Promise<unknown>> = {
    getInstance: () => store.getInstance('a'),
    getHistory: () => store.getHistory('a'),
    ...(store.getInstanceHistory ? { getInstanceHistory: () => store.getInstanceHistory!('a') } : {}),
    queryInstances: () => store.queryInstances({}),
    commit: () => create(store, newInstance('b')),
    claimOrchestration: () => store.claimOrchestration({ owner: 'w1', leaseMs: 30_000, now: T0 }),
    abandonOrchestration: () => store.abandonOrchestration('a', 'token'),
    claimActivity: () => store.claimActivity({ owner: 'w1', leaseMs: 30_000, now: T0 }),
    abandonActivity: () => store.abandonActivity('task', 'token'),
    renewActivityLease: () => store.renewActivityLease('task', 'token', at(60_000)),
    releaseOwner: () => store.releaseOwner('w1'),
    purgeInstance: () => store.purgeInstance('done'),
    purgeInstances: () => store.purgeInstances({ createdTimeFrom: at(-86_400_000) }),
    nextWakeTime: () => store.nextWakeTime(T0),
  };
  return Object.fromEntries(Object.entries(calls).map(([name, call]) => {
    let promise: Promise<unknown>;
    try {
      promise = call();
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.catch(() => undefined);
    return [name, promise];
  }));
}

/** How each call ended: the `code` of its error, or `'answered'`. */
async function outcomesOf(calls: Record<string, Promise<unknown>>): Promise<Record<string, unknown>> {
  const names = Object.keys(calls);
  const settled = await Promise.allSettled(Object.values(calls));
  return Object.fromEntries(settled.map((outcome, i) => [
    names[i], outcome.status === 'fulfilled' ? 'answered' : (outcome.reason as { readonly code?: unknown } | undefined)?.code ?? String(outcome.reason),
  ]));
}
