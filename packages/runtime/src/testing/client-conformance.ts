import { filter, firstValueFrom, map, ReplaySubject, take, takeWhile, tap, toArray, type Observable } from 'rxjs';
import type { DurableClient, ListInstancesQuery } from '../client/durable-client.js';
import type { Activity, Orchestrator } from '../engine/orchestration-context.js';
import type { HistoryEvent } from '../model/history-event.js';
import { toInstanceStatus, type InstanceStatus } from '../model/instance-status.js';
import { PayloadTooLargeError } from '../model/errors/payload-too-large-error.js';
import { isCancellation } from '../model/errors/canceled-error.js';
import { MemoryStore } from '../store/memory-store.js';
import { compareIds } from '../store/store-helpers.js';
import type { Store } from '../store/store.js';
import type { WriteSet } from '../model/write-set.js';
import { createClient } from '../client/create-client.js';
import { createRuntime, type Runtime } from '../runtime/create-runtime.js';
import { silentLogger } from '../env/logger.js';
import { randomId } from '../env/new-id.js';
import { Gates } from './gates.js';
import { echo, sampleActivities, sampleOrchestrators, waitForEvents } from './samples.js';
import { SETTLED, within } from './settled.js';
import { VirtualClock } from './virtual-clock.js';
import { vitest } from './vitest-api.js';

const { afterEach, beforeEach, describe, expect, it, vi } = vitest;

/**
 * Timeout of the tests that run hundreds of steps (100 instances at once, through HTTP for a remote client). They take
 * a second or two on an idle machine; on a CI host whose cores are busy with other work, many times that: listing
 * 1001 instances through HTTP took 70 s with six busy loops on the test's core.
 */
const HEAVY_TEST_TIMEOUT_MS = 300_000;

/** The client under test, made from a running runtime, and how to dispose of it. */
export interface ClientUnderTest {
  readonly client: DurableClient;
  close(): Promise<void>;
  /**
   * `false` when the client's commands reach a worker that runs on its own (a client in front of a server, over HTTP,
   * as with Durable Functions): a read right after `startNew` or `restart` may find the instance Running already, so the
   * case that wants it Pending is skipped. Default `true`: the runtime's own client, whose worker takes a start up only
   * after the reads its caller issues as the start resolves.
   */
  readonly startsShowPending?: boolean;
}

/** Wraps a started runtime into the client to test (`runtime.client` itself, or a remote client in front of it). */
export type ClientWrapper = (runtime: Runtime) => Promise<ClientUnderTest>;

/** Options of {@link describeClientConformance}. */
export interface ClientConformanceOptions {
  /**
   * The store each test's runtime runs on, given a fresh database name; closed after the test. Default: a new
   * `MemoryStore`. Every adapter runs the client suite too, so a client command behaves the same (and bad input is
   * refused the same way) whatever the store.
   */
  readonly createStore?: (name: string) => Store | Promise<Store>;
}

/**
 * The DurableClient conformance suite: every operation of the `DurableClient` interface, the seed scenarios and the bad
 * inputs. It runs against the local client and, through `@durable-rx/rx-client`, against the HTTP API, so a UI
 * written against `DurableClient` behaves the same with either.
 *
 * Each test gets a fresh runtime on a MemoryStore with the seed orchestrators plus a few test ones; activities named
 * `Gated` wait until the test opens their gate, so tests control progress without timing.
 *
 * @example
 * ```ts
 * describeClientConformance('local client', async (runtime) => ({ client: runtime.client, close: async () => {} }));
 * ```
 */
export function describeClientConformance(name: string, wrap: ClientWrapper, options: ClientConformanceOptions = {}): void {
  describe(`DurableClient conformance: ${name}`, () => {
    let runtime: Runtime;
    let under: ClientUnderTest;
    let client: DurableClient;
    let gates: Gates;
    let calls: Map<string, number>;
    let flakyFixed: boolean;
    let store: Store;
    let held: HeldHistoryReads;
    /** The suite's orchestrators and activities, for a runtime of a test's own. */
    let registry: { orchestrators: Record<string, Orchestrator>; activities: Record<string, Activity> };

    /** A fresh store: the suite's own (`options.createStore`), or a MemoryStore. */
    const newStore = async (): Promise<Store> =>
      options.createStore ? await options.createStore(`client-conformance-${randomId()}`) : new MemoryStore();

    beforeEach(async () => {
      gates = new Gates();
      calls = new Map();
      flakyFixed = false;
      const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
      const activities: Record<string, Activity> = {
        ...sampleActivities,
        Gated: async (key: string) => {
          count('Gated');
          await gates.wait(key);
          return `opened ${key}`;
        },
        Step: (n: number) => {
          count(`Step ${n}`);
          return n * 10;
        },
        Flaky: (n: number) => {
          count('Flaky');
          if (!flakyFixed) throw new Error(`flaky ${n} is broken`);
          return n + 1;
        },
      };
      const orchestrators: Record<string, Orchestrator> = {
        ...sampleOrchestrators,
        GatedSequence: function* (ctx) {
          const first: string = yield ctx.callActivity('Gated', `${ctx.instanceId}/1`);
          ctx.setCustomStatus('first done');
          const second: string = yield ctx.callActivity('Gated', `${ctx.instanceId}/2`);
          return [first, second];
        },
        WaitForEvents: waitForEvents,
        ParentOfGated: function* (ctx) {
          return yield ctx.callSubOrchestrator('GatedSequence', undefined, `${ctx.instanceId}-child`);
        },
        GrandparentOfGated: function* (ctx) {
          return yield ctx.callSubOrchestrator('ParentOfGated', undefined, `${ctx.instanceId}-mid`);
        },
        GatedFlaky: function* (ctx) {
          yield ctx.callActivity('Flaky', 1);
          return yield ctx.callActivity('Gated', `${ctx.instanceId}/rerun`);
        },
        StepThenFlaky: function* (ctx) {
          const a: number = yield ctx.callActivity('Step', 1);
          const b: number = yield ctx.callActivity('Flaky', a);
          return a + b;
        },
        Echo: echo,
        GatedLoop: function* (ctx) {
          const { n, last } = ctx.getInput<{ n: number; last: number }>();
          yield ctx.callActivity('Gated', `${ctx.instanceId}/${n}`);
          if (n === last) return n;
          ctx.continueAsNew({ n: n + 1, last });
          return undefined;
        },
        SameJsonStatus: function* (ctx) {
          // A fresh object each time, with the same JSON text: customStatus$ shows it once.
          ctx.setCustomStatus({ stage: 'working' });
          yield ctx.callActivity('Step', 1);
          ctx.setCustomStatus({ stage: 'working' });
          yield ctx.callActivity('Step', 2);
          ctx.setCustomStatus('done');
          return 'ok';
        },
        WaitForItems: function* (ctx) {
          // WaitForEvents with an object input: `{ items }` events named `Item`, counted in the custom status.
          const { items } = ctx.getInput<{ items: number }>();
          for (let i = 1; i <= items; i++) {
            yield ctx.waitForExternalEvent('Item');
            ctx.setCustomStatus({ received: i });
          }
          return items;
        },
        GatedCount: function* (ctx) {
          // `{ received: i }` after the i-th of `n` gated calls, each in a commit of its own (the next call is scheduled
          // by the commit that sets it).
          const n = ctx.getInput<number>();
          for (let i = 1; i <= n; i++) {
            yield ctx.callActivity('Gated', `${ctx.instanceId}/${i}`);
            ctx.setCustomStatus({ received: i });
          }
          return n;
        },
        Report: function* (ctx) {
          // An object custom status and an object output, committed together when `Go` arrives.
          const got: unknown = yield ctx.waitForExternalEvent('Go');
          ctx.setCustomStatus({ stage: 'done', got });
          return { got };
        },
        StartedAt: function* (ctx) {
          // When its first step ran (a delayed start's time), and the `Go` event it waits for.
          const at = ctx.currentUtcDateTime.toISOString();
          const got: unknown = yield ctx.waitForExternalEvent('Go');
          return { at, got };
        },
        Compensating: function* (ctx) {
          // Waits on a gated call; a cancel compensates with a call made after it, and the instance completes.
          yield ctx.callActivity('Step', 1);
          try {
            yield ctx.callActivity('Gated', `${ctx.instanceId}/work`);
            return 'finished';
          } catch (error) {
            if (!isCancellation(error)) throw error;
            const refund: number = yield ctx.callActivity('Step', 2);
            ctx.setCustomStatus({ canceled: ctx.isCancellationRequested });
            return `compensated ${refund}`;
          }
        },
        ParentOfCanceled: function* (ctx) {
          try {
            return yield ctx.callSubOrchestrator('GatedSequence', undefined, `${ctx.instanceId}-child`);
          } catch (error) {
            return isCancellation(error) ? 'child canceled' : 'child failed';
          }
        },
        GoThenContinue: function* (ctx) {
          // Continues as new on `Go`; the next execution completes on the next `Go`.
          if (ctx.getInput() === undefined) {
            yield ctx.waitForExternalEvent('Go');
            ctx.continueAsNew('next');
            return undefined;
          }
          return yield ctx.waitForExternalEvent('Go');
        },
        WaitForNamed: function* (ctx) {
          const received: unknown[] = [];
          for (const name of ctx.getInput<string[]>()) received.push(yield ctx.waitForExternalEvent(name));
          return received;
        },
      };
      registry = { orchestrators, activities };
      store = await newStore();
      held = new HeldHistoryReads(store);
      runtime = createRuntime({ store: held.store, orchestrators, activities, logger: silentLogger });
      await runtime.start();
      under = await wrap(runtime);
      client = under.client;
    });

    afterEach(async () => {
      gates.openAll();
      held.releaseAll();
      await under.close();
      await runtime.stop();
      await store.close();
    });

    describe('startNew', () => {
      it('starts the hello sequence and returns a random UUID when no id is given', async () => {
        const id = await client.startNew('E1_HelloSequence');
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        const done = await client.waitForCompletion(id, SETTLED);
        expect(done).toMatchObject({ instanceId: id, name: 'E1_HelloSequence', runtimeStatus: 'Completed' });
        expect(done.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
        expect(done.customStatus).toBe('London');
        expect(done.createdTime).toBeInstanceOf(Date);
        expect(done.lastUpdatedTime.getTime()).toBeGreaterThanOrEqual(done.createdTime.getTime());
      });

      it('uses the given instance id and passes the input', async () => {
        const input = { city: 'Tokyo', n: [1, 2, 3], nested: { ok: true } };
        expect(await client.startNew('Echo', { instanceId: 'echo-1', input })).toBe('echo-1');
        const done = await client.waitForCompletion('echo-1', SETTLED);
        expect(done.input).toEqual(input);
        expect(done.output).toEqual(input);
      });

      it.each([
        ['empty', ''],
        ['too long', 'x'.repeat(257)],
        ['leading @', '@entity'],
        ['a slash', 'a/b'],
        ['a backslash', 'a\\b'],
        ['a hash', 'a#b'],
        ['a question mark', 'a?b'],
        ['a control character', 'a\u0001b'],
        ['a C1 control character', 'a\u0085b'],
        ['a newline', 'a\nb'],
        ['a dot segment', '.'],
        ['a dot-dot segment', '..'],
      ])('refuses an instance id with %s and writes nothing', async (_what, id) => {
        await expect(client.startNew('Echo', { instanceId: id })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        expect(await client.getStatusAll()).toEqual([]);
      });

      it('keeps the given id exactly as given, spaces included', async () => {
        const id = ' padded id ';
        expect(await client.startNew('Echo', { instanceId: id, input: 1 })).toBe(id);
        expect((await client.waitForCompletion(id, SETTLED)).instanceId).toBe(id);
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual([id]);
      });

      it.each([['leading @', '@bad'], ['a slash', 'a/b'], ['a C1 control character', 'a\u0085b']])(
        'refuses an instance id with %s (400) in every method that takes one, rather than reading it as unknown',
        async (_what, id) => {
          const calls: (() => unknown)[] = [
            () => client.getStatus(id),
            () => client.purgeInstanceHistory(id),
            () => client.waitForCompletion(id, { timeoutMs: 50 }),
            () => client.raiseEvent(id, 'Item', 1),
            () => client.terminate(id, 'x'),
            () => client.suspend(id),
            () => client.resume(id),
            () => client.rewind(id),
            () => client.restart(id),
            () => firstValueFrom(client.status$(id)),
            () => firstValueFrom(client.customStatus$(id)),
            () => firstValueFrom(client.history$(id)),
          ];
          for (const call of calls) {
            await expect((async () => call())()).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          }
        },
      );

      it('accepts an id of exactly 256 characters', async () => {
        const id = 'x'.repeat(256);
        await client.startNew('Echo', { instanceId: id, input: 1 });
        expect((await client.waitForCompletion(id, SETTLED)).output).toBe(1);
      });

      it.each([
        ['a function', { f: () => 1 }],
        ['a symbol', { s: Symbol('x') }],
        ['a BigInt', { b: BigInt(1) }],
        ['NaN', { n: Number.NaN }],
        ['Infinity', [Number.POSITIVE_INFINITY]],
        ['a class instance', { m: new Map() }],
        ['a cycle', cyclic()],
      ])('refuses input containing %s and writes nothing', async (_what, input) => {
        await expect(client.startNew('Echo', { instanceId: 'bad-input', input })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        expect(await client.getStatus('bad-input')).toBeUndefined();
      });

      it('turns Dates in the input into ISO strings', async () => {
        await client.startNew('Echo', { instanceId: 'dated', input: { at: new Date('2026-05-01T00:00:00.000Z') } });
        expect((await client.waitForCompletion('dated', SETTLED)).output).toEqual({ at: '2026-05-01T00:00:00.000Z' });
      });

      it('refuses null, non-object and malformed options of every method (400), writing nothing', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'opts', input: 1 });
        const throwing = new Proxy({}, { get: () => { throw new Error('getter threw'); } });
        const calls: (() => unknown)[] = [
          () => client.startNew('Echo', null as never),
          () => client.startNew('Echo', 'x' as never),
          () => client.startNew('Echo', throwing as never),
          () => client.startNew('Echo', { instanceId: 42 } as never),
          () => client.startNew('Echo', { instanceId: 'opts', ifExists: 'skip' } as never),
          () => client.startNew('Echo', { instanceId: 'opts-new', ifExists: true } as never),
          () => client.getStatus('opts', null as never),
          () => client.getStatus('opts', { showHistory: 'yes' } as never),
          () => client.getStatus('opts', { showInput: 0 } as never),
          () => client.listInstances(null as never),
          () => client.listInstances({ pageSize: '5' } as never),
          () => client.listInstances({ showInput: 'no' } as never),
          () => client.getStatusBy(null as never),
          () => client.purgeInstanceHistoryBy(null as never),
          () => client.waitForCompletion('opts', null as never),
          () => client.waitForCompletion('opts', throwing as never),
          () => client.restart('opts', null as never),
          () => client.fork('opts', null as never),
          () => client.fork('opts', { keepResults: -1 }),
          () => client.fork('opts', { newInstanceId: '@x' }),
          () => client.fork('opts', { reapplyEvents: 'yes' } as never),
          () => client.instances$(null as never),
          () => client.createHttpManagementPayload('opts', 'http://h.example', null as never),
        ];
        for (const call of calls) {
          await expect((async () => call())()).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['opts']);
      });

      it('names a bad option by its path (the argument, then the member), the same on every client', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'named', input: 1 });
        const refused: [() => unknown, string][] = [
          [() => client.startNew('Echo', { input: { f() {} } }), 'startNew options.input.f is a function, not JSON'],
          [() => client.startNew('Echo', { input: Number.NaN }), 'startNew options.input is NaN, not JSON'],
          [() => client.startNew('Echo', { instanceId: 42 } as never), 'startNew options.instanceId must be a string of 1 to 256 characters'],
          [
            () => client.startNew('Echo', { ifExists: 'replace' } as never),
            "startNew options.ifExists must be 'overwrite', 'fail' or 'useExisting'",
          ],
          [() => client.getStatus('named', { showInput: 0 } as never), 'getStatus options.showInput must be a boolean'],
          [() => client.getStatus('named', { showHistory: 'yes' } as never), 'getStatus options.showHistory must be a boolean'],
          [() => client.listInstances({ showInput: 'no' } as never), 'query.showInput must be a boolean'],
          [() => client.listInstances({ pageSize: 0 }), 'query.pageSize must be a positive integer'],
          [() => client.listInstances({ pageSize: 2.5 }), 'query.pageSize must be a positive integer'],
          [() => client.getStatusBy({ showInput: 'no' } as never), 'filter.showInput must be a boolean'],
          [() => client.instances$({ showInput: 'no' } as never), 'filter.showInput must be a boolean'],
          [() => client.waitForCompletion('named', { timeoutMs: -1 }), 'waitForCompletion options.timeoutMs must be a number >= 0 (ms)'],
          [() => client.restart('named', { restartWithNewInstanceId: 1 } as never), 'restart options.restartWithNewInstanceId must be a boolean'],
          [() => client.fork('named', { keepResults: 1.5 }), 'fork options.keepResults must be an integer >= 0'],
          [() => client.fork('named', { reapplyEvents: 1 } as never), 'fork options.reapplyEvents must be a boolean'],
          [
            () => client.createHttpManagementPayload('named', 'http://h.example', { key: 1 } as never),
            'createHttpManagementPayload options.key must be a string',
          ],
        ];
        for (const [call, message] of refused) {
          await expect((async () => call())()).rejects.toMatchObject({ code: 'invalid-argument', status: 400, message });
        }
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['named']);
      });

      it('refuses an id whose instance is still active (409) and keeps it untouched', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'busy', input: 1 });
        await expect(client.startNew('Echo', { instanceId: 'busy', input: 'other' })).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        const status = await client.getStatus('busy');
        expect(status).toMatchObject({ name: 'WaitForEvents', input: 1 });
      });

      it('refuses the id of a Suspended instance too (409) and keeps it Suspended, with its input', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'held', input: 1 });
        await client.suspend('held');
        await expect(client.startNew('Echo', { instanceId: 'held', input: 'other' })).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect(await client.getStatus('held')).toMatchObject({ name: 'WaitForEvents', runtimeStatus: 'Suspended', input: 1 });
      });

      it('starts a new execution over a terminal instance', async () => {
        await client.startNew('Echo', { instanceId: 'again', input: 'first' });
        await client.waitForCompletion('again', SETTLED);
        await client.startNew('Echo', { instanceId: 'again', input: 'second' });
        const done = await client.waitForCompletion('again', SETTLED);
        expect(done.output).toBe('second');
        const status = await client.getStatus('again', { showHistory: true });
        expect(status?.history?.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      });

      it("refuses the id of any instance with ifExists 'fail' (409), a finished one too, and keeps it", async () => {
        await client.startNew('Echo', { instanceId: 'kept', input: 'first' });
        const done = await client.waitForCompletion('kept', SETTLED);
        await expect(client.startNew('Echo', { instanceId: 'kept', input: 'second', ifExists: 'fail' }))
          .rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect(await client.getStatus('kept')).toEqual(done);
        await client.startNew('WaitForEvents', { instanceId: 'active', input: 1 });
        await expect(client.startNew('Echo', { instanceId: 'active', input: 'other', ifExists: 'fail' }))
          .rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect(await client.getStatus('active')).toMatchObject({ name: 'WaitForEvents', input: 1 });
        expect(await client.startNew('Echo', { instanceId: 'fresh', input: 'new', ifExists: 'fail' })).toBe('fresh');
        expect((await client.waitForCompletion('fresh', SETTLED)).output).toBe('new');
      });

      it("answers the id of any instance with ifExists 'useExisting' and starts nothing", async () => {
        await client.startNew('Echo', { instanceId: 'kept', input: 'first' });
        const done = await client.waitForCompletion('kept', SETTLED);
        expect(await client.startNew('Echo', { instanceId: 'kept', input: 'second', ifExists: 'useExisting' })).toBe('kept');
        expect(await client.getStatus('kept')).toEqual(done);
        const history = (await client.getStatus('kept', { showHistory: true }))?.history ?? [];
        expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
        await client.startNew('WaitForEvents', { instanceId: 'active', input: 1 });
        expect(await client.startNew('Echo', { instanceId: 'active', input: 'other', ifExists: 'useExisting' })).toBe('active');
        expect(await client.getStatus('active')).toMatchObject({ name: 'WaitForEvents', input: 1 });
        // The default replaces a finished instance, as before.
        await client.startNew('Echo', { instanceId: 'kept', input: 'third', ifExists: 'overwrite' });
        expect((await client.waitForCompletion('kept', SETTLED)).output).toBe('third');
      });

      it("runs one execution for starts of one id with ifExists 'useExisting' that race; all answer the id", async () => {
        const ids = await Promise.all([1, 2, 3].map((n) => client.startNew('Echo', { instanceId: 'raced', input: n, ifExists: 'useExisting' })));
        expect(ids).toEqual(['raced', 'raced', 'raced']);
        const done = await client.waitForCompletion('raced', SETTLED);
        expect(done.runtimeStatus).toBe('Completed');
        expect([1, 2, 3]).toContain(done.output);
        const history = (await client.getStatus('raced', { showHistory: true }))?.history ?? [];
        expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      });

      it("lets one of several starts of one id with ifExists 'fail' that race succeed; the others get 409", async () => {
        const results = await Promise.allSettled([1, 2, 3].map((n) => client.startNew('Echo', { instanceId: 'raced', input: n, ifExists: 'fail' })));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'instance-already-exists', status: 409 });
      });

      it('refuses an orchestrator name the runtime does not know', async () => {
        await expect(client.startNew('NoSuchOrchestrator')).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        expect(await client.getStatusAll()).toEqual([]);
      });

      it('keeps hostile keys as plain data', async () => {
        const input = JSON.parse('{"__proto__":{"polluted":1},"$set":{"a.b":2},"constructor":{"prototype":{"p":1}}}') as unknown;
        await client.startNew('Echo', { instanceId: 'hostile', input });
        const done = await client.waitForCompletion('hostile', SETTLED);
        expect(done.output).toEqual(input);
        expect(Object.keys(done.output as object)).toEqual(['__proto__', '$set', 'constructor']);
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      });

      it('keeps numbers beyond 2^53 as JavaScript holds them (JSON writes 2^60 and 1e20 as integer literals), in inputs and event data', async () => {
        // Plain JSON numbers every client takes: JSON.stringify writes them as integer literals that read back as themselves.
        const input = { big: 2 ** 60, exp: 1e20, min: -(2 ** 53), list: [Number.MAX_SAFE_INTEGER + 1] };
        await client.startNew('Echo', { instanceId: 'big', input });
        expect((await client.waitForCompletion('big', SETTLED)).output).toEqual(input);
        await client.startNew('WaitForEvents', { instanceId: 'big-event', input: 1 });
        await client.raiseEvent('big-event', 'Item', 2 ** 62);
        expect((await client.waitForCompletion('big-event', SETTLED)).output).toEqual([2 ** 62]);
      });
    });

    describe('a delayed start (startNew startAt)', () => {
      /** A time an hour ahead, in whole seconds (as every status format keeps it). */
      const inAnHour = () => new Date(Math.ceil((Date.now() + 3_600_000) / 1000) * 1000);

      it('shows a delayed start at once as Pending with its scheduledStartTime, in getStatus, listInstances, status$ and instances$', async () => {
        const startAt = inAnHour();
        const id = await client.startNew('Echo', { instanceId: 'later-1', input: 'x', startAt });
        const isScheduled = (status: InstanceStatus | undefined) => {
          expect(status).toMatchObject({ instanceId: id, runtimeStatus: 'Pending', input: 'x' });
          expect(status?.scheduledStartTime).toBeInstanceOf(Date);
          expect(status?.scheduledStartTime?.getTime()).toBe(startAt.getTime());
        };
        isScheduled(await client.getStatus(id));
        isScheduled((await client.listInstances({ instanceIdPrefix: 'later-' })).instances[0]);
        isScheduled(await within(firstValueFrom(client.status$(id)), 'the first status'));
        isScheduled((await within(firstValueFrom(client.instances$({ instanceIdPrefix: 'later-' }).pipe(filter((l) => l.length > 0))), 'the first list'))[0]);
        // Active: a second start of the id is refused, as over any Pending instance.
        await expect(client.startNew('Echo', { instanceId: id })).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
      });

      it('terminates a delayed start before its time without running it; a restart runs it at once, with no scheduled time', async () => {
        const id = await client.startNew('StartedAt', { instanceId: 'later-2', startAt: inAnHour() });
        await client.terminate(id, 'not needed');
        const ended = await client.getStatus(id);
        expect(ended).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
        expect(ended?.scheduledStartTime).toBeInstanceOf(Date);
        await client.restart(id);
        await client.raiseEvent(id, 'Go', 'now');
        const done = await client.waitForCompletion(id, SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { got: 'now' } });
        expect(done.scheduledStartTime).toBeUndefined();
      });

      it('suspends and resumes a delayed start before its time as any Pending instance', async () => {
        const id = await client.startNew('StartedAt', { instanceId: 'later-3', startAt: inAnHour() });
        await client.suspend(id, 'hold');
        expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Suspended' });
        await client.resume(id, 'go');
        expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Pending' });
        await client.raiseEvent(id, 'Go', 'kept');
        expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Pending' });
      });

      it('runs a delayed start no sooner than its time, with an event raised before it buffered', async () => {
        const startAt = new Date(Date.now() + 300);
        const id = await client.startNew('StartedAt', { startAt });
        await client.raiseEvent(id, 'Go', 'early');
        const done = await client.waitForCompletion(id, SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { got: 'early' } });
        expect(new Date((done.output as { at: string }).at).getTime()).toBeGreaterThanOrEqual(startAt.getTime());
      });

      it('starts at once for a startAt at or before now, and refuses one that is no valid Date (400), writing nothing', async () => {
        const id = await client.startNew('Echo', { input: 1, startAt: new Date(Date.now() - 60_000) });
        const done = await client.waitForCompletion(id, SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 1 });
        expect(done.scheduledStartTime).toBeUndefined();
        for (const startAt of [new Date(Number.NaN), '2026-12-24T18:00:00Z', Date.now() + 1000]) {
          await expect(client.startNew('Echo', { instanceId: 'bad-start', startAt: startAt as never })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(await client.getStatus('bad-start')).toBeUndefined();
      });
    });

    describe('instance tags (startNew tags)', () => {
      const tags = { tenant: 'acme', 'release.channel': 'beta', empty: '' };

      it('shows the tags given to startNew in getStatus, listInstances, status$ and instances$, and none when none were given', async () => {
        const id = await client.startNew('Echo', { instanceId: 'tagged', input: 1, tags });
        await client.startNew('Echo', { instanceId: 'plain', input: 2, tags: {} });
        expect((await client.getStatus(id))?.tags).toEqual(tags);
        const listed = (await client.listInstances()).instances;
        expect(listed.find((s) => s.instanceId === 'tagged')?.tags).toEqual(tags);
        expect(listed.find((s) => s.instanceId === 'plain')?.tags).toBeUndefined();
        expect((await within(firstValueFrom(client.status$(id).pipe(filter((s) => s !== undefined))), 'the status'))?.tags).toEqual(tags);
        const live = await within(firstValueFrom(client.instances$().pipe(filter((list) => list.length === 2))), 'the list');
        expect(live.find((s) => s.instanceId === 'tagged')?.tags).toEqual(tags);
        const done = await client.waitForCompletion(id, SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', tags });
        expect((await client.waitForCompletion('plain', SETTLED)).tags).toBeUndefined();
      });

      it('keeps hostile tag keys as own members of plain data: __proto__, constructor, $ keys, dotted keys', async () => {
        const hostile = JSON.parse('{"__proto__":"p","constructor":"c","$where":"1","a.b":"d","x=y&z":"v"}') as Record<string, string>;
        await client.startNew('Echo', { instanceId: 'hostile-tags', tags: hostile });
        const status = await client.waitForCompletion('hostile-tags', SETTLED);
        expect(Object.keys(status.tags!)).toEqual(['__proto__', 'constructor', '$where', 'a.b', 'x=y&z']);
        expect(Object.getOwnPropertyDescriptor(status.tags, '__proto__')?.value).toBe('p');
        expect(Object.getPrototypeOf(status.tags)).toBe(Object.prototype);
        expect(({} as Record<string, unknown>)['$where']).toBeUndefined();
      });

      it('refuses tags that are no map of strings or break a limit (400) and writes nothing', async () => {
        const long = (n: number) => 'k'.repeat(n);
        const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
        const refused: unknown[] = [
          'tenant=acme', ['tenant', 'acme'], null, new Map([['a', 'b']]), { tenant: 1 }, { tenant: null }, { tenant: { id: 1 } },
          { '': 'v' }, { [long(129)]: 'v' }, { k: long(257) }, { 'a\nb': 'v' }, { k: 'a\u0000b' }, { k: '\ud800' }, many,
        ];
        for (const bad of refused) {
          await expect(client.startNew('Echo', { instanceId: 'bad-tags', tags: bad as never })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.signalWithStart('Echo', { instanceId: 'bad-tags', eventName: 'e', tags: bad as never })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(await client.getStatusAll()).toEqual([]);
        const euros = (n: number) => '\u20ac'.repeat(n); // 3 bytes of UTF-8 each
        const tooMuch = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`${i}`.padEnd(128, 'k'), long(256)])); // 4224 bytes
        for (const bad of [tooMuch, { a: euros(256), b: euros(256), c: euros(256), d: euros(256), e: euros(256), f: euros(84) }]) {
          await expect(client.startNew('Echo', { instanceId: 'bad-tags', tags: bad })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect(await client.getStatusAll()).toEqual([]);
        // At the limits: 64 tags; a key of 128 characters and a value of 256; 4 KiB of UTF-8 in all, in 3-byte characters too.
        const most = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v']));
        const longest = { [long(128)]: long(256) };
        const heaviest = { a: euros(256), b: euros(256), c: euros(256), d: euros(256), e: euros(256), ff: euros(83) }; // 4096 bytes
        for (const [id, limit] of [['most-tags', most], ['longest-tags', longest], ['heaviest-tags', heaviest]] as const) {
          await client.startNew('Echo', { instanceId: id, tags: limit });
          expect((await client.waitForCompletion(id, SETTLED)).tags).toEqual(limit);
        }
      });

      it('keeps the tags through continueAsNew, passes them to sub-orchestrations, and restarts with them', async () => {
        await client.startNew('GatedLoop', { instanceId: 'loop-tags', input: { n: 1, last: 2 }, tags });
        gates.open('loop-tags/1');
        const second = (s: InstanceStatus | undefined) => (s?.input as { n?: number } | undefined)?.n === 2;
        expect((await within(firstValueFrom(client.status$('loop-tags').pipe(filter(second))), 'the second execution'))?.tags).toEqual(tags);
        gates.open('loop-tags/2');
        expect(await client.waitForCompletion('loop-tags', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', tags });

        await client.startNew('ParentOfGated', { instanceId: 'parent-tags', tags });
        const child = await within(firstValueFrom(client.status$('parent-tags-child').pipe(filter((s) => s !== undefined))), 'the child');
        expect(child?.tags).toEqual(tags);
        gates.open('parent-tags-child/1');
        gates.open('parent-tags-child/2');
        expect(await client.waitForCompletion('parent-tags', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', tags });

        const again = await client.restart('parent-tags', { restartWithNewInstanceId: true });
        expect((await client.getStatus(again))?.tags).toEqual(tags);
        gates.open(`${again}-child/1`);
        gates.open(`${again}-child/2`);
        expect(await client.waitForCompletion(again, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', tags });
        await client.startNew('Echo', { instanceId: 'parent-tags', input: 'untagged' });
        expect((await client.waitForCompletion('parent-tags', SETTLED)).tags).toBeUndefined();
      });

      it('gives signalWithStart\'s new execution its tags, and leaves an active instance\'s own', async () => {
        await client.signalWithStart('WaitForEvents', { instanceId: 'sws-tags', input: 2, eventName: 'Item', eventData: 'a', tags });
        expect((await client.getStatus('sws-tags'))?.tags).toEqual(tags);
        await client.signalWithStart('WaitForEvents', { instanceId: 'sws-tags', eventName: 'Item', eventData: 'b', tags: { other: 'x' } });
        expect(await client.waitForCompletion('sws-tags', SETTLED)).toMatchObject({ output: ['a', 'b'], tags });
      });
    });

    describe('names that are Object.prototype keys', () => {
      const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

      it('takes them as instance ids: started, listed, watched and purged like any other id', async () => {
        for (const id of names) await client.startNew('Echo', { instanceId: id, input: id });
        for (const id of names) expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ instanceId: id, runtimeStatus: 'Completed', output: id });
        expect((await client.getStatusAll()).map((s) => s.instanceId).sort()).toEqual([...names].sort());
        expect((await firstValueFrom(client.status$('__proto__')))?.output).toBe('__proto__');
        for (const id of names) expect(await client.purgeInstanceHistory(id)).toEqual({ instancesDeleted: 1 });
        expect(await client.getStatusAll()).toEqual([]);
      });

      it('takes them as event names, buffered and delivered in order', async () => {
        await client.startNew('WaitForNamed', { instanceId: 'named', input: names });
        for (const name of names) await client.raiseEvent('named', name, `value of ${name}`);
        expect(await client.waitForCompletion('named', SETTLED)).toMatchObject({
          runtimeStatus: 'Completed', output: names.map((name) => `value of ${name}`),
        });
      });
    });

    describe('getStatus', () => {
      it('returns undefined for an unknown id', async () => {
        expect(await client.getStatus('unknown')).toBeUndefined();
      });

      it('omits the input with showInput: false and adds history with showHistory', async () => {
        await client.startNew('E1_HelloSequence', { instanceId: 'h', input: { secret: 1 } });
        await client.waitForCompletion('h', SETTLED);
        expect(await client.getStatus('h')).toHaveProperty('input', { secret: 1 });
        expect(await client.getStatus('h', { showInput: false })).not.toHaveProperty('input');
        const historyWithoutInput = await client.getStatus('h', { showInput: false, showHistory: true });
        expect(historyWithoutInput).not.toHaveProperty('input');
        expect(historyWithoutInput!.history!.length).toBeGreaterThan(0);
        expect(await client.getStatus('h')).not.toHaveProperty('history');
        const withHistory = await client.getStatus('h', { showHistory: true });
        const types = withHistory!.history!.map((e) => e.type);
        expect(types[0]).toBe('OrchestratorStarted');
        expect(types).toContain('ExecutionStarted');
        expect(types.filter((t) => t === 'TaskScheduled')).toHaveLength(3);
        expect(types).toContain('ExecutionCompleted');
        const completed = withHistory!.history!.find((e) => e.type === 'TaskCompleted');
        expect(completed).not.toHaveProperty('result');
        const withOutput = await client.getStatus('h', { showHistory: true, showHistoryOutput: true });
        expect(withOutput!.history!.find((e) => e.type === 'TaskCompleted')).toHaveProperty('result', 'Hello Tokyo!');
      });

      it('keeps every input out of the history with showInput: false, results kept, as Durable Functions\' getStatus does', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'hidden-inputs', input: 1 });
        await client.raiseEvent('hidden-inputs', 'Item', { secret: 'event data' });
        await client.waitForCompletion('hidden-inputs', SETTLED);
        await client.startNew('E1_HelloSequence', { instanceId: 'hidden-inputs-2', input: { secret: 1 } });
        await client.waitForCompletion('hidden-inputs-2', SETTLED);
        for (const id of ['hidden-inputs', 'hidden-inputs-2']) {
          const shown = (await client.getStatus(id, { showHistory: true, showHistoryOutput: true }))!.history!;
          expect(shown.some((e) => 'input' in e)).toBe(true);
          const hidden = (await client.getStatus(id, { showHistory: true, showHistoryOutput: true, showInput: false }))!.history!;
          expect(hidden.filter((e) => 'input' in e)).toEqual([]);
          // Only the inputs go: the same events, results included.
          expect(hidden).toEqual(shown.map((e) => {
            const { input: _input, ...rest } = e as HistoryEvent & { input?: unknown };
            return rest;
          }));
        }
        const hello = (await client.getStatus('hidden-inputs-2', { showHistory: true, showHistoryOutput: true, showInput: false }))!;
        expect(hello.history!.find((e) => e.type === 'TaskCompleted')).toHaveProperty('result', 'Hello Tokyo!');
        expect(hello.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
      });

      it('gives the history of the execution whose status it gives, however late the history read answers', async () => {
        await client.startNew('GatedLoop', { instanceId: 'torn', input: { n: 0, last: 1 } });
        await gates.reached('torn/0');
        // The read of the history waits until the instance has gone on to its next execution (continueAsNew).
        const read = held.holdNext();
        const status = client.getStatus('torn', { showHistory: true, showHistoryOutput: true });
        await read.reached;
        gates.open('torn/0');
        await gates.reached('torn/1');
        read.release();
        const { input, history = [] } = (await status)!;
        expect(history.filter((e) => e.type === 'ExecutionStarted').map((e) => (e as { input?: unknown }).input)).toEqual([input]);
        const { n } = input as { n: number };
        expect(history.filter((e) => e.type === 'TaskScheduled').map((e) => (e as { input?: unknown }).input)).toEqual([`torn/${n}`]);
      });

      it('hands out a history the caller owns: changing it changes nothing a later read shows', async () => {
        await client.startNew('E1_HelloSequence', { instanceId: 'owned', input: { city: 'Tokyo' } });
        await client.waitForCompletion('owned', SETTLED);
        for (const options of [{ showHistory: true }, { showHistory: true, showHistoryOutput: true }]) {
          const first = (await client.getStatus('owned', options))!.history!;
          const text = JSON.stringify(first);
          for (const event of first) {
            (event as { timestamp: string }).timestamp = 'changed';
            const { input, result } = event as { input?: unknown; result?: unknown };
            if (typeof input === 'object' && input !== null) (input as Record<string, unknown>)['changed'] = true;
            if (typeof result === 'string') (event as { result: string }).result = 'changed';
          }
          (first as HistoryEvent[]).reverse().pop();
          expect(JSON.stringify((await client.getStatus('owned', options))!.history)).toBe(text);
        }
      });

      it('shows the { nextActions, foo } custom status while Running', async () => {
        await client.startNew('SetStatusTest', { instanceId: 'status-test' });
        const running = await firstValueFrom(client.status$('status-test').pipe(filter((s) => s?.customStatus !== undefined)));
        expect(running).toMatchObject({ runtimeStatus: 'Running', customStatus: { nextActions: ['A', 'B', 'C'], foo: 2 } });
        await client.raiseEvent('status-test', 'Proceed');
        expect((await client.waitForCompletion('status-test', SETTLED)).output).toBe('done');
      });
    });

    describe('listInstances, getStatusAll, getStatusBy', () => {
      it('filters by status, created time and a literal prefix', async () => {
        await client.startNew('Echo', { instanceId: 'done-1', input: 1 });
        await client.startNew('Echo', { instanceId: 'done-2', input: 2 });
        await client.waitForCompletion('done-1', SETTLED);
        await client.waitForCompletion('done-2', SETTLED);
        await client.startNew('WaitForEvents', { instanceId: 'wait.1', input: 1 });
        await client.startNew('WaitForEvents', { instanceId: 'waitX1', input: 1 });
        await firstValueFrom(client.status$('wait.1').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        await firstValueFrom(client.status$('waitX1').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        const ids = (list: InstanceStatus[]) => list.map((s) => s.instanceId).sort();
        expect(ids(await client.getStatusAll())).toEqual(['done-1', 'done-2', 'wait.1', 'waitX1']);
        expect(ids(await client.getStatusBy({ runtimeStatus: ['Completed'] }))).toEqual(['done-1', 'done-2']);
        expect(ids(await client.getStatusBy({ instanceIdPrefix: 'wait.' }))).toEqual(['wait.1']);
        expect(ids(await client.getStatusBy({ createdTimeFrom: new Date(Date.now() + 60_000) }))).toEqual([]);
        expect(ids(await client.getStatusBy({ createdTimeTo: new Date(Date.now() + 60_000) }))).toHaveLength(4);
        const noInput = await client.getStatusBy({ runtimeStatus: ['Completed'], showInput: false });
        expect(noInput.every((s) => !('input' in s))).toBe(true);
        // Both bounds are inclusive, as in Durable Functions: an instance created at exactly the bound matches.
        const { createdTime } = (await client.getStatus('done-1'))!;
        const atBound = await client.getStatusBy({ createdTimeFrom: createdTime, createdTimeTo: createdTime });
        expect(atBound.map((s) => s.instanceId)).toContain('done-1');
        const before = new Date(createdTime.getTime() - 1);
        expect((await client.getStatusBy({ createdTimeTo: before })).map((s) => s.instanceId)).not.toContain('done-1');
      });

      it('lists every instance in getStatusAll and getStatusBy, beyond the largest page (1000)', async () => {
        const ids = Array.from({ length: 1001 }, (_, i) => `all-${String(i).padStart(4, '0')}`);
        for (let i = 0; i < ids.length; i += 50) {
          await Promise.all(ids.slice(i, i + 50).map((id) => client.startNew('WaitForEvents', { instanceId: id, input: 1 })));
        }
        expect((await client.getStatusAll()).map((s) => s.instanceId).sort()).toEqual(ids);
        expect(await client.getStatusBy({ instanceIdPrefix: 'all-' })).toHaveLength(1001);
        // A page size above the largest page is taken as the largest, as the HTTP API takes `top`: a page shorter
        // than asked, with a token for the rest.
        const page = await client.listInstances({ pageSize: 5000, showInput: false });
        expect(page.instances).toHaveLength(1000);
        const rest = await client.listInstances({ pageSize: 1001, showInput: false, continuationToken: page.continuationToken });
        expect([...page.instances, ...rest.instances].map((s) => s.instanceId).sort()).toEqual(ids);
        expect(rest.continuationToken).toBeUndefined();
      }, HEAVY_TEST_TIMEOUT_MS);

      it('shows inputs by default in getStatusAll and getStatusBy, as listInstances does', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'shown', input: 1 });
        expect((await client.getStatusAll()).map((s) => s.input)).toEqual([1]);
        expect((await client.getStatusBy({ instanceIdPrefix: 'sho' })).map((s) => s.input)).toEqual([1]);
        expect((await client.listInstances()).instances.map((s) => s.input)).toEqual([1]);
      });

      it('pages with a continuation token in stable order, never repeating or skipping', async () => {
        const ids = Array.from({ length: 23 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
        for (const id of ids) await client.startNew('Echo', { instanceId: id, input: id });
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await client.listInstances({ pageSize: 5, ...(token ? { continuationToken: token } : {}) });
          expect(page.instances.length).toBeLessThanOrEqual(5);
          seen.push(...page.instances.map((s) => s.instanceId));
          token = page.continuationToken;
          pages++;
        } while (token);
        expect(pages).toBe(5);
        expect([...seen].sort()).toEqual(ids);
        expect(new Set(seen).size).toBe(23);
      });

      for (const again of ['restart', 'startNew'] as const) {
        it(`pages every instance that existed when paging began exactly once, one listed and then started again by ${again} included`, async () => {
          // A runtime of its own on a clock that moves only when told: every createdTime a second after the one before.
          const clock = new VirtualClock();
          const own = createRuntime({ store: await newStore(), ...registry, clock, logger: silentLogger });
          await own.start();
          const ownUnder = await wrap(own);
          try {
            const lister = ownUnder.client;
            const ids = Array.from({ length: 7 }, (_, i) => `again-${i}`);
            for (const id of ids) {
              await lister.startNew('Echo', { instanceId: id, input: id });
              await lister.waitForCompletion(id);
              await clock.advance(1000);
            }
            const first = await lister.listInstances({ pageSize: 2 });
            const seen = first.instances.map((s) => s.instanceId);
            expect(seen).toEqual(['again-0', 'again-1']);
            // Listed on the first page, then a new execution with a new createdTime, after every other instance's.
            if (again === 'restart') await lister.restart('again-0');
            else await lister.startNew('Echo', { instanceId: 'again-0', input: 'again' });
            await lister.waitForCompletion('again-0');
            for (let token = first.continuationToken; token !== undefined;) {
              const page = await lister.listInstances({ pageSize: 2, continuationToken: token });
              seen.push(...page.instances.map((s) => s.instanceId));
              token = page.continuationToken;
            }
            expect(seen).toEqual(ids);
            // A listing begun now shows the new execution in its new place.
            expect((await lister.getStatusAll()).map((s) => s.instanceId)).toEqual([...ids.slice(1), 'again-0']);
          } finally {
            await ownUnder.close();
            await own.stop();
            await own.store.close();
          }
        });
      }

      it('pages 100 instances by default, ordered by created time, then instance id', async () => {
        // Ids in an order of their own: within one created time, the id decides.
        const ids = Array.from({ length: 101 }, (_, i) => `default-${String((i * 37) % 101).padStart(3, '0')}`);
        for (const id of ids) await client.startNew('WaitForEvents', { instanceId: id, input: 1 });
        const first = await client.listInstances();
        expect(first.instances).toHaveLength(100);
        expect(first.continuationToken).toEqual(expect.any(String));
        const second = await client.listInstances({ continuationToken: first.continuationToken! });
        expect(second.instances).toHaveLength(1);
        expect(second.continuationToken).toBeUndefined();
        const listed = [...first.instances, ...second.instances];
        const byKey = byPageKey(listed);
        expect(listed.map((s) => s.instanceId)).toEqual(byKey.map((s) => s.instanceId));
        expect(new Set(listed.map((s) => s.instanceId))).toEqual(new Set(ids));
      }, HEAVY_TEST_TIMEOUT_MS);

      it('lists in getStatusAll and getStatusBy in the order of listInstances: created time, then instance id', async () => {
        await startOutOfIdOrder(client, 'WaitForEvents', 'ord-');
        const ids = (list: readonly InstanceStatus[]) => list.map((s) => s.instanceId);
        const listed = (await client.listInstances()).instances;
        expect(ids(listed)).toEqual(ids(byPageKey(listed)));
        expect(ids(listed)[0]).toBe('ord-c');
        expect(ids(listed)[3]).toBe('ord-d');
        expect(ids(await client.getStatusAll())).toEqual(ids(listed));
        expect(ids(await client.getStatusBy({ instanceIdPrefix: 'ord-' }))).toEqual(ids(listed));
        expect(ids(await client.getStatusBy({ runtimeStatus: ['Pending', 'Running'] }))).toEqual(ids(listed));
      });

      it('lists and purges nothing from an empty created-time range: a reversed filter, or a token past createdTimeTo', async () => {
        for (const id of ['e-1', 'e-2', 'e-3']) {
          await client.startNew('Echo', { instanceId: id, input: id });
          await client.waitForCompletion(id, SETTLED);
        }
        const [first] = await client.getStatusBy({ instanceIdPrefix: 'e-1' });
        const from = first!.createdTime;
        const reversed = { createdTimeFrom: new Date(from.getTime() + 1), createdTimeTo: from };
        expect(await client.listInstances(reversed)).toEqual({ instances: [] });
        expect(await client.getStatusBy({ ...reversed, runtimeStatus: ['Completed'] })).toEqual([]);
        expect(await firstValueFrom(client.instances$(reversed))).toEqual([]);
        expect(await client.purgeInstanceHistoryBy(reversed)).toEqual({ instancesDeleted: 0 });
        expect(await client.purgeInstanceHistoryBy({ ...reversed, runtimeStatus: ['Completed'] })).toEqual({ instancesDeleted: 0 });
        // A token kept while the filter was narrowed to end before the token's place.
        const page = await client.listInstances({ pageSize: 1 });
        const narrowed = { continuationToken: page.continuationToken!, createdTimeTo: new Date(page.instances[0]!.createdTime.getTime() - 1) };
        expect(await client.listInstances(narrowed)).toEqual({ instances: [] });
        expect(await client.listInstances({ ...narrowed, runtimeStatus: ['Completed'] })).toEqual({ instances: [] });
        expect((await client.getStatusAll()).map((s) => s.instanceId).sort()).toEqual(['e-1', 'e-2', 'e-3']);
      });

      it('reads an empty continuation token as none, the first page, as Durable Functions reads an empty header', async () => {
        for (const id of ['t-1', 't-2']) await client.startNew('Echo', { instanceId: id, input: id });
        const first = await client.listInstances({ pageSize: 1 });
        expect(await client.listInstances({ pageSize: 1, continuationToken: '' })).toEqual(first);
        expect((await client.listInstances({ continuationToken: '' })).instances.map((s) => s.instanceId).sort()).toEqual(['t-1', 't-2']);
      });

      it('filters, watches and purges by any valid Date, years before 0000 and after 9999 included', async () => {
        await client.startNew('Echo', { instanceId: 'far', input: 1 });
        await client.waitForCompletion('far', SETTLED);
        const first = new Date(-8.64e15);
        const last = new Date(8.64e15);
        expect((await client.listInstances({ createdTimeFrom: first, createdTimeTo: last })).instances.map((s) => s.instanceId)).toEqual(['far']);
        expect(await client.listInstances({ createdTimeFrom: new Date('+010000-01-01T00:00:00Z') })).toEqual({ instances: [] });
        expect((await client.getStatusBy({ createdTimeTo: last })).map((s) => s.instanceId)).toEqual(['far']);
        expect((await firstValueFrom(client.instances$({ createdTimeTo: last }))).map((s) => s.instanceId)).toEqual(['far']);
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: first, createdTimeTo: new Date('-000001-12-31T00:00:00Z') })).toEqual({ instancesDeleted: 0 });
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: first, createdTimeTo: last })).toEqual({ instancesDeleted: 1 });
      });

      it('refuses a forged continuation token', async () => {
        await expect(client.listInstances({ continuationToken: '%%%' })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
      });

      it('filters by orchestrator name, exactly (case included), and lists newest first with order desc, page by page', async () => {
        await startOutOfIdOrder(client, 'WaitForEvents', 'nm-w');
        await client.startNew('Echo', { instanceId: 'nm-e1', input: 1 });
        await client.startNew('Echo', { instanceId: 'nm-e2', input: 2 });
        for (const id of ['nm-e1', 'nm-e2']) await client.waitForCompletion(id, SETTLED);
        const ids = (list: readonly InstanceStatus[]) => list.map((s) => s.instanceId);
        const all = ids(await client.getStatusAll());
        expect(ids(await client.getStatusBy({ name: 'Echo' }))).toEqual(['nm-e1', 'nm-e2']);
        expect(ids(await client.getStatusBy({ name: ['Echo'], order: 'desc' }))).toEqual(['nm-e2', 'nm-e1']);
        const waiting = all.filter((id) => id.startsWith('nm-w'));
        expect(waiting).toHaveLength(4);
        expect(ids(await client.getStatusBy({ name: 'WaitForEvents' }))).toEqual(waiting);
        expect(await client.getStatusBy({ name: 'echo' })).toEqual([]);
        expect(ids(await client.getStatusBy({ name: [] }))).toEqual(all);
        expect(ids(await client.getStatusBy({ order: 'desc' }))).toEqual([...all].reverse());
        expect(ids(await client.getStatusBy({ name: ['WaitForEvents', 'Echo'], runtimeStatus: ['Completed'], order: 'desc' }))).toEqual(['nm-e2', 'nm-e1']);
        // Page by page, newest first: every instance once, in the reverse of the default order.
        const seen: string[] = [];
        let token: string | undefined;
        do {
          const page = await client.listInstances({ pageSize: 2, order: 'desc', name: ['Echo', 'WaitForEvents'], ...(token ? { continuationToken: token } : {}) });
          seen.push(...ids(page.instances));
          token = page.continuationToken;
          // A token is a position in one order: used with the other, it is refused.
          if (token) await expect(client.listInstances({ continuationToken: token })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        } while (token);
        expect(seen).toEqual([...all].reverse());
        expect((await firstValueFrom(client.instances$({ name: 'Echo', order: 'desc' }))).map((s) => s.instanceId)).toEqual(['nm-e2', 'nm-e1']);
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), name: 'WaitForEvents' })).toEqual({ instancesDeleted: 0 });
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), name: ['Echo'] })).toEqual({ instancesDeleted: 2 });
        expect(ids(await client.getStatusAll())).toEqual(waiting);
      });

      it('refuses a malformed name filter or order (400), listing, watching and purging nothing', async () => {
        await client.startNew('Echo', { instanceId: 'bad-1', input: 1 });
        await client.waitForCompletion('bad-1', SETTLED);
        const hostile = [{ name: '' }, { name: [''] }, { name: [7] }, { name: 'a\u0001' }, { order: 'newest' }, { order: true }];
        for (const filter of hostile) {
          await expect(client.listInstances(filter as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.getStatusBy(filter as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          // Thrown as instances$ is called, or as its first error: either way the watch never starts.
          await expect((async () => firstValueFrom(client.instances$(filter as never)))()).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), ...filter } as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['bad-1']);
      });

      it('filters by tags (every pair, exactly), with the other filters, page by page in both orders, in lists, watches and purges', async () => {
        // An own `__proto__` key and a key holding `=`: carried as they are (JSON over HTTP).
        const odd = JSON.parse('{"__proto__":"p","a=b":"c"}') as Record<string, string>;
        await client.startNew('Echo', { instanceId: 'tg-1', input: 1, tags: { tenant: 'acme', region: 'eu' } });
        await client.startNew('Echo', { instanceId: 'tg-2', input: 2, tags: { tenant: 'acme' } });
        await client.startNew('Echo', { instanceId: 'tg-3', input: 3, tags: { tenant: 'ACME', ...odd } });
        await client.startNew('WaitForEvents', { instanceId: 'tg-4', input: 1, tags: { tenant: 'acme', region: 'eu' } });
        await client.startNew('Echo', { instanceId: 'tg-5', input: 5 });
        for (const id of ['tg-1', 'tg-2', 'tg-3', 'tg-5']) await client.waitForCompletion(id, SETTLED);
        const ids = (list: readonly InstanceStatus[]) => list.map((s) => s.instanceId);
        const acme = ids(await client.getStatusAll()).filter((id) => ['tg-1', 'tg-2', 'tg-4'].includes(id));
        expect(ids(await client.getStatusBy({ tags: { tenant: 'acme' } }))).toEqual(acme);
        expect(ids(await client.getStatusBy({ tags: { tenant: 'acme' }, order: 'desc' }))).toEqual([...acme].reverse());
        expect(ids(await client.getStatusBy({ tags: { region: 'eu', tenant: 'acme' } })).sort()).toEqual(['tg-1', 'tg-4']);
        expect(ids(await client.getStatusBy({ tags: { tenant: 'acme', region: 'eu' }, runtimeStatus: ['Completed'] }))).toEqual(['tg-1']);
        expect(ids(await client.getStatusBy({ tags: { tenant: 'acme' }, name: 'WaitForEvents' }))).toEqual(['tg-4']);
        expect(await client.getStatusBy({ tags: { tenant: 'Acme' } })).toEqual([]);
        expect(ids(await client.getStatusBy({ tags: odd }))).toEqual(['tg-3']);
        expect(ids(await client.getStatusBy({ tags: {} })).sort()).toEqual(['tg-1', 'tg-2', 'tg-3', 'tg-4', 'tg-5']);
        expect((await client.getStatusBy({ tags: { tenant: 'ACME' } }))[0]?.tags).toEqual({ tenant: 'ACME', ...odd });
        for (const order of ['asc', 'desc'] as const) {
          const seen: string[] = [];
          let token: string | undefined;
          do {
            const page = await client.listInstances({ pageSize: 1, order, tags: { tenant: 'acme' }, ...(token ? { continuationToken: token } : {}) });
            seen.push(...ids(page.instances));
            token = page.continuationToken;
          } while (token);
          expect(seen).toEqual(order === 'asc' ? acme : [...acme].reverse());
        }
        expect((await firstValueFrom(client.instances$({ tags: { tenant: 'acme' }, order: 'desc' }))).map((s) => s.instanceId)).toEqual([...acme].reverse());
        expect(await client.terminateBy({ tags: { tenant: 'acme', region: 'eu' } }, 'stop')).toEqual({ instancesAffected: 1, instancesSkipped: 0 });
        expect((await client.getStatus('tg-4'))?.runtimeStatus).toBe('Terminated');
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), tags: { tenant: 'acme', region: 'eu' }, name: 'Echo' })).toEqual({ instancesDeleted: 1 });
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), tags: { tenant: 'acme' } })).toEqual({ instancesDeleted: 2 });
        expect(ids(await client.getStatusAll()).sort()).toEqual(['tg-3', 'tg-5']);
      });

      it('refuses a malformed tag filter (400), as tags on a start, listing, watching, purging and terminating nothing', async () => {
        await client.startNew('Echo', { instanceId: 'badtag-1', input: 1, tags: { tenant: 'acme' } });
        await client.waitForCompletion('badtag-1', SETTLED);
        const hostile = [{ tags: 'tenant=acme' }, { tags: ['acme'] }, { tags: { tenant: 1 } }, { tags: { '': 'x' } }, { tags: { t: 'a\u0001' } }, { tags: null }];
        for (const filter of hostile) {
          await expect(client.listInstances(filter as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.getStatusBy(filter as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect((async () => firstValueFrom(client.instances$(filter as never)))()).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), ...filter } as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.terminateBy(filter as never, 'stop')).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['badtag-1']);
      });

      it('refuses a continuation token that no HTTP header can carry, as every other forged token', async () => {
        // A remote client sends it as a header, which fetch refuses (a TypeError, as if the network were down).
        for (const continuationToken of ['ключ', 'a\nb']) {
          await expect(client.listInstances({ continuationToken })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
      });
    });

    describe('signalWithStart', () => {
      it('starts an absent id with the input and the event buffered for its first wait', async () => {
        expect(await client.signalWithStart('WaitForEvents', { instanceId: 'sws', input: 2, eventName: 'item', eventData: 'a' })).toBe('sws');
        await client.raiseEvent('sws', 'Item', 'b');
        expect(await client.waitForCompletion('sws', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', input: 2, output: ['a', 'b'] });
      });

      it('delivers the event to an active instance, a Suspended one too, and starts nothing', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'busy', input: 3 });
        await client.raiseEvent('busy', 'Item', 1);
        // Another orchestrator's name and input: the active instance keeps its own.
        expect(await client.signalWithStart('Echo', { instanceId: 'busy', input: 'other', eventName: 'Item', eventData: 2 })).toBe('busy');
        expect(await client.getStatus('busy')).toMatchObject({ name: 'WaitForEvents', input: 3 });
        await client.suspend('busy');
        await client.signalWithStart('WaitForEvents', { instanceId: 'busy', eventName: 'Item', eventData: 3 });
        expect(await client.getStatus('busy')).toMatchObject({ runtimeStatus: 'Suspended' });
        await client.resume('busy');
        const done = await client.waitForCompletion('busy', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: [1, 2, 3] });
        const history = (await client.getStatus('busy', { showHistory: true }))?.history ?? [];
        expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      });

      it('starts a new execution over a terminal instance, with the new input and the event', async () => {
        await client.startNew('Echo', { instanceId: 'again', input: 'first' });
        await client.waitForCompletion('again', SETTLED);
        await client.signalWithStart('WaitForEvents', { instanceId: 'again', input: 1, eventName: 'Item', eventData: 'late' });
        expect(await client.waitForCompletion('again', SETTLED)).toMatchObject({ name: 'WaitForEvents', input: 1, output: ['late'] });
      });

      it('runs one execution for calls of one id that race, and delivers every event', async () => {
        const ids = await Promise.all([1, 2, 3].map((n) => client.signalWithStart('WaitForEvents', { instanceId: 'raced', input: 3, eventName: 'Item', eventData: n })));
        expect(ids).toEqual(['raced', 'raced', 'raced']);
        const done = await client.waitForCompletion('raced', SETTLED);
        expect((done.output as number[]).sort()).toEqual([1, 2, 3]);
        const history = (await client.getStatus('raced', { showHistory: true }))?.history ?? [];
        expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      });

      it('refuses bad arguments (400) as startNew and raiseEvent do, an unknown orchestrator too, and writes nothing', async () => {
        const invalid = { code: 'invalid-argument', status: 400 };
        const refused: [() => unknown, string?][] = [
          [() => client.signalWithStart('NoSuchOrchestrator', { instanceId: 'x', eventName: 'Item' })],
          [() => client.signalWithStart('', { instanceId: 'x', eventName: 'Item' })],
          [() => client.signalWithStart('WaitForEvents', undefined as never), 'signalWithStart options must be an object'],
          [() => client.signalWithStart('WaitForEvents', null as never), 'signalWithStart options must be an object'],
          [() => client.signalWithStart('WaitForEvents', { eventName: 'Item' } as never), 'signalWithStart options.instanceId is required'],
          [() => client.signalWithStart('WaitForEvents', { instanceId: 'x' } as never), 'signalWithStart options.eventName is required'],
          [() => client.signalWithStart('WaitForEvents', { instanceId: 'a/b', eventName: 'Item' })],
          [() => client.signalWithStart('WaitForEvents', { instanceId: 'x', eventName: '' })],
          [() => client.signalWithStart('WaitForEvents', { instanceId: 'x', eventName: '..' })],
          [() => client.signalWithStart('WaitForEvents', { instanceId: 'x', eventName: 'Item', input: { f() {} } }), 'signalWithStart options.input.f is a function, not JSON'],
          [() => client.signalWithStart('WaitForEvents', { instanceId: 'x', eventName: 'Item', eventData: Number.NaN }), 'signalWithStart options.eventData is NaN, not JSON'],
          [() => client.signalWithStart('WaitForEvents', { instanceId: 'x', eventName: 'Item', eventData: cyclic() })],
        ];
        for (const [call, message] of refused) {
          await expect((async () => call())()).rejects.toMatchObject(message === undefined ? invalid : { ...invalid, message });
        }
        expect(await client.getStatusAll()).toEqual([]);
      });
    });

    describe('raiseEvent', () => {
      it('delivers events, buffering those raised before the orchestrator waits (FIFO)', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'events', input: 3 });
        await client.raiseEvent('events', 'Item', 'a');
        await client.raiseEvent('events', 'Other', 'ignored');
        await client.raiseEvent('events', 'Item', { b: 2 });
        await client.raiseEvent('events', 'Item', ['c']);
        const done = await client.waitForCompletion('events', SETTLED);
        expect(done.output).toEqual(['a', { b: 2 }, ['c']]);
      });

      it('matches event names with case ignored, as Durable Functions, one FIFO queue across cases', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'event-case', input: 3 });
        // WaitForEvents waits for `Item`: raised as `item`, `ITEM` and `iTeM`, before and while it waits, in that order.
        await client.raiseEvent('event-case', 'item', 1);
        await client.raiseEvent('event-case', 'Items', 'another name');
        await client.raiseEvent('event-case', 'ITEM', 2);
        await client.raiseEvent('event-case', 'iTeM', 3);
        const done = await client.waitForCompletion('event-case', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: [1, 2, 3] });
        // The history keeps each name as raised.
        const names = (await client.getStatus('event-case', { showHistory: true }))?.history
          ?.flatMap((event) => (event.type === 'EventRaised' ? [event.name] : []));
        expect(names).toEqual(expect.arrayContaining(['item', 'ITEM', 'iTeM']));
      });

      it('runs the ReserveTicket seed: discount as custom status, BookingConfirmed decides', async () => {
        await client.startNew('ReserveTicket', { instanceId: 'ticket', input: 'user-42' });
        const offer = await firstValueFrom(client.customStatus$('ticket').pipe(filter((s) => s !== undefined)));
        expect(offer).toMatchObject({ discountTimeout: 60, bookingUrl: 'https://www.myawesomebookingweb.com' });
        expect(typeof (offer as { discount: unknown }).discount).toBe('number');
        await client.raiseEvent('ticket', 'BookingConfirmed', true);
        const done = await client.waitForCompletion('ticket', SETTLED);
        expect(done.output).toBe(true);
        expect(done.customStatus).toEqual({ message: 'Thank you for confirming your booking.' });
      });

      it('runs the CityRecommender seed', async () => {
        await client.startNew('CityRecommender', { instanceId: 'city', input: 1 });
        const rec = await firstValueFrom(client.customStatus$('city').pipe(filter((s) => s !== undefined)));
        expect(rec).toEqual({ recommendedCities: ['Tokyo', 'Seattle'], recommendedSeasons: ['Spring', 'Summer'] });
        await client.raiseEvent('city', 'CitySelected', 'Seattle');
        expect((await client.waitForCompletion('city', SETTLED)).output).toBe('Seattle');
      });

      it('delivers a raise repeated with one idempotency key once, and refuses a malformed key (400) delivering nothing', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'keyed', input: 2 });
        for (const idempotencyKey of ['', 'two words', 'k'.repeat(129), 'clé', 7 as unknown as string]) {
          await expect(client.raiseEvent('keyed', 'Item', 'refused', { idempotencyKey }), JSON.stringify(idempotencyKey))
            .rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        await client.raiseEvent('keyed', 'Item', 'a', { idempotencyKey: 'key-a' });
        await client.raiseEvent('keyed', 'Item', 'a again', { idempotencyKey: 'key-a' });
        await client.raiseEvent('keyed', 'Item', 'b', { idempotencyKey: 'key-b' });
        expect((await client.waitForCompletion('keyed', SETTLED)).output).toEqual(['a', 'b']);
        // The event delivered once: a repeat of it still resolves, though the instance finished.
        await client.raiseEvent('keyed', 'Item', 'a', { idempotencyKey: 'key-a' });
      });

      it('rejects an unknown instance (404), a terminal one (410) and bad arguments (400)', async () => {
        await expect(client.raiseEvent('nobody', 'Item')).rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
        await client.startNew('Echo', { instanceId: 'finished', input: 1 });
        await client.waitForCompletion('finished', SETTLED);
        await expect(client.raiseEvent('finished', 'Item')).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
        await client.startNew('WaitForEvents', { instanceId: 'w', input: 1 });
        await expect(client.raiseEvent('w', '', 1)).rejects.toMatchObject({ status: 400 });
        await expect(client.raiseEvent('w', 'Item', { f: () => 1 })).rejects.toMatchObject({ status: 400 });
        await expect(client.raiseEvent('a/b', 'Item')).rejects.toMatchObject({ status: 400 });
      });

      it('refuses bad event data, reasons and deep nesting (400) and changes nothing; hostile keys arrive as plain data', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'guarded', input: 1 });
        await firstValueFrom(client.status$('guarded').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        const deep = nestedArrays(100_000);
        const invalid = { code: 'invalid-argument', status: 400 };
        await expect(client.startNew('Echo', { instanceId: 'deep', input: deep })).rejects.toMatchObject(invalid);
        await expect(client.raiseEvent('guarded', 'Item', deep)).rejects.toMatchObject(invalid);
        await expect(client.raiseEvent('guarded', 'Item', cyclic())).rejects.toMatchObject(invalid);
        await expect(client.terminate('guarded', { n: BigInt(1) })).rejects.toMatchObject(invalid);
        await expect(client.terminate('guarded', deep)).rejects.toMatchObject(invalid);
        await expect(client.suspend('guarded', 42 as unknown as string)).rejects.toMatchObject(invalid);
        expect(await client.getStatus('deep')).toBeUndefined();
        const status = await client.getStatus('guarded', { showHistory: true });
        expect(status?.runtimeStatus).toBe('Running');
        expect(status?.history?.some((e) => e.type === 'EventRaised' || e.type === 'ExecutionTerminated')).toBe(false);
        const hostile = JSON.parse('{"__proto__":{"polluted":1},"$where":"1","a.b":{"$gt":""},"constructor":{"prototype":{"p":1}}}') as unknown;
        await client.raiseEvent('guarded', 'Item', hostile);
        const done = await client.waitForCompletion('guarded', SETTLED);
        expect(done.output).toEqual([hostile]);
        expect(Object.keys((done.output as object[])[0]!)).toEqual(['__proto__', '$where', 'a.b', 'constructor']);
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      });

      it('refuses an array longer than any JSON value may hold (413) before copying it, and changes nothing: never a crash', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'sparse', input: 1 });
        // Holds no element: only a copy of it would (one that ends the process, not the call).
        const sparse = new Array(2 ** 32 - 1);
        const tooLarge = { code: 'payload-too-large', status: 413 };
        await expect(client.startNew('Echo', { instanceId: 'sparse-start', input: { list: sparse } })).rejects.toMatchObject(tooLarge);
        await expect(client.raiseEvent('sparse', 'Item', [1, sparse])).rejects.toMatchObject(tooLarge);
        await expect(client.terminate('sparse', sparse)).rejects.toMatchObject(tooLarge);
        // All arrays of a value count together: 2^24 elements and the outer array's 2.
        const holes = new Array(2 ** 26); // too long for V8 to give it a backing store: shortened, it still has none
        holes.length = 2 ** 24;
        await expect(client.raiseEvent('sparse', 'Item', [0, holes])).rejects.toMatchObject(tooLarge);
        expect(await client.getStatus('sparse-start')).toBeUndefined();
        const status = await client.getStatus('sparse', { showHistory: true });
        expect(status?.history?.some((e) => e.type === 'EventRaised' || e.type === 'ExecutionTerminated')).toBe(false);
      });

      it('refuses . and .. as event and orchestrator names (400), as instance ids: no URL can carry them', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'dots', input: 1 });
        for (const name of ['.', '..']) {
          await expect(client.raiseEvent('dots', name, 1)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.startNew(name, { instanceId: `start${name}` })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect((await client.getStatus('dots', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['dots']);
      });

      it('refuses a reason string with a lone surrogate (400), which a URL would carry as U+FFFD, and changes nothing', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'lone', input: 1 });
        await firstValueFrom(client.status$('lone').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        const invalid = { code: 'invalid-argument', status: 400 };
        await expect(client.terminate('lone', 'bad \ud800 reason')).rejects.toMatchObject(invalid);
        await expect(client.suspend('lone', '\udc00')).rejects.toMatchObject(invalid);
        await expect(client.resume('lone', 'x\ud800')).rejects.toMatchObject(invalid);
        await expect(client.rewind('lone', '\ud800')).rejects.toMatchObject(invalid);
        expect(await client.getStatus('lone')).toMatchObject({ runtimeStatus: 'Running' });
        // A paired surrogate is well-formed, and kept.
        await client.terminate('lone', 'done 😀');
        expect(await client.getStatus('lone')).toMatchObject({ runtimeStatus: 'Terminated', output: 'done 😀' });
      });
    });

    describe('terminate', () => {
      it('terminates a running instance with the reason as output; a result that arrives later is recorded in its history and ignored', async () => {
        await client.startNew('GatedSequence', { instanceId: 'term' });
        await gates.reached('term/1');
        await client.terminate('term', 'user cancelled');
        const done = await client.waitForCompletion('term', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Terminated', output: 'user cancelled' });
        const recorded = firstValueFrom(client.history$('term').pipe(filter((e) => e.type === 'TaskCompleted')));
        gates.open('term/1');
        await recorded; // the late result is recorded in the history, after the termination ...
        const after = await client.getStatus('term', { showHistory: true });
        const types = after!.history!.map((e) => e.type);
        expect(types.indexOf('ExecutionTerminated')).toBeGreaterThanOrEqual(0);
        expect(types.lastIndexOf('TaskCompleted')).toBeGreaterThan(types.indexOf('ExecutionTerminated'));
        // ... and ignored: the status stays as the terminate left it.
        expect(after).toMatchObject({ runtimeStatus: 'Terminated', output: 'user cancelled', lastUpdatedTime: done.lastUpdatedTime });
        expect(calls.get('Gated')).toBe(1);
      });

      it('leaves the sub-orchestrations of the instance running, as Durable Functions does: they are terminated by id', async () => {
        await client.startNew('ParentOfGated', { instanceId: 'parent' });
        await gates.reached('parent-child/1');
        await client.terminate('parent', 'stop');
        expect(await client.getStatus('parent-child')).toMatchObject({ runtimeStatus: 'Running', parentInstanceId: 'parent' });
        gates.open('parent-child/1');
        gates.open('parent-child/2');
        expect(await client.waitForCompletion('parent-child', SETTLED)).toMatchObject({
          runtimeStatus: 'Completed', output: ['opened parent-child/1', 'opened parent-child/2'],
        });
        expect(await client.getStatus('parent')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
      });

      it('terminates the sub-orchestrations at every depth with `recursive`: they are Terminated when it resolves', async () => {
        await client.startNew('GrandparentOfGated', { instanceId: 'tree' });
        await gates.reached('tree-mid-child/1');
        await client.terminate('tree', 'stop', { recursive: true });
        for (const id of ['tree', 'tree-mid', 'tree-mid-child']) {
          expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        }
        await expect(client.terminate('tree', 'again', { recursive: true })).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
        await expect(client.terminate('tree', 'stop', { recursive: 'yes' } as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
      });

      it('rejects an unknown instance (404) and a terminal one (410)', async () => {
        await expect(client.terminate('nobody')).rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
        await client.startNew('Echo', { instanceId: 'finished', input: 1 });
        await client.waitForCompletion('finished', SETTLED);
        await expect(client.terminate('finished')).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
      });
    });

    describe('cancel', () => {
      it('delivers the cancel into the orchestrator at its wait: it compensates with a new call and completes', async () => {
        await client.startNew('Compensating', { instanceId: 'cx' });
        await gates.reached('cx/work');
        await client.cancel('cx', 'withdrawn');
        const done = await client.waitForCompletion('cx', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'compensated 20', customStatus: { canceled: true } });
        expect(calls.get('Step 2')).toBe(1);
        const history = (await client.getStatus('cx', { showHistory: true }))!.history!;
        expect(history.filter((e) => e.type === 'ExecutionCancelRequested')).toMatchObject([{ reason: 'withdrawn' }]);
        // The call it waited for was not canceled: its result is recorded later, and ignored.
        const recorded = firstValueFrom(client.history$('cx').pipe(filter((e) => e.type === 'TaskCompleted' && e.result === 'opened cx/work')));
        gates.open('cx/work');
        await recorded;
        expect(await client.getStatus('cx')).toMatchObject({ runtimeStatus: 'Completed', output: 'compensated 20' });
      });

      it('ends the instance Failed with errorType CanceledError when the orchestrator lets the error escape', async () => {
        await client.startNew('GatedSequence', { instanceId: 'cf' });
        await gates.reached('cf/1');
        await client.cancel('cf', 'stop');
        const done = await client.waitForCompletion('cf', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'CanceledError', errorMessage: 'Canceled: stop' } });
        expect(isCancellation(done.failureDetails)).toBe(true);
      });

      it('fails the parent\'s call of a canceled sub-orchestration with an error for which isCancellation holds', async () => {
        await client.startNew('ParentOfCanceled', { instanceId: 'cp' });
        await gates.reached('cp-child/1');
        await client.cancel('cp-child');
        expect(await client.waitForCompletion('cp', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'child canceled' });
        expect(await client.getStatus('cp-child')).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'CanceledError' } });
      });

      it('keeps a cancel sent to a Suspended instance until it is resumed', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'cs', input: 1 });
        await firstValueFrom(client.status$('cs').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        await client.suspend('cs');
        const recorded = firstValueFrom(client.history$('cs').pipe(filter((e) => e.type === 'ExecutionCancelRequested')));
        await client.cancel('cs', 'held');
        await recorded; // the worker consumed the request ...
        expect(await client.getStatus('cs')).toMatchObject({ runtimeStatus: 'Suspended' }); // ... and kept it
        await client.resume('cs');
        expect(await client.waitForCompletion('cs', SETTLED)).toMatchObject({
          runtimeStatus: 'Failed', failureDetails: { errorType: 'CanceledError', errorMessage: 'Canceled: held' },
        });
      });

      it('rejects an unknown instance (404), a terminal one (410) and a reason that is not a string (400)', async () => {
        await expect(client.cancel('nobody')).rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
        await client.startNew('Echo', { instanceId: 'c-finished', input: 1 });
        await client.waitForCompletion('c-finished', SETTLED);
        await expect(client.cancel('c-finished')).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
        await expect(client.cancel('c-finished', 42 as unknown as string)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        expect((await client.getStatus('c-finished', { showHistory: true }))!.history!.some((e) => e.type === 'ExecutionCancelRequested')).toBe(false);
      });
    });

    describe('suspend and resume', () => {
      it('makes no progress while suspended and processes kept messages after resume', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'sus', input: 1 });
        await firstValueFrom(client.status$('sus').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        await client.suspend('sus', 'maintenance');
        await firstValueFrom(client.status$('sus').pipe(filter((s) => s?.runtimeStatus === 'Suspended')));
        const recorded = firstValueFrom(client.history$('sus').pipe(filter((e) => e.type === 'EventRaised')));
        await client.raiseEvent('sus', 'Item', 'while suspended');
        await recorded; // the worker consumed the event ...
        const meanwhile = await client.getStatus('sus');
        expect(meanwhile).toMatchObject({ runtimeStatus: 'Suspended' }); // ... and made no progress
        expect(meanwhile).not.toHaveProperty('output');
        await client.resume('sus', 'done');
        const done = await client.waitForCompletion('sus', SETTLED);
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: ['while suspended'] });
      });

      it('runs a resume on an event kept while suspended, however many suspends were recorded after it', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'sus-deep', input: 1 });
        await firstValueFrom(client.status$('sus-deep').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        await client.suspend('sus-deep', 'first');
        const recorded = firstValueFrom(client.history$('sus-deep').pipe(filter((e) => e.type === 'EventRaised')));
        await client.raiseEvent('sus-deep', 'Item', 'kept');
        await recorded;
        // Suspends again (retries), each recorded in a step of its own: the kept event lies far behind the last events
        // of the history, which a resume reads first.
        for (let i = 0; i < 20; i++) await client.suspend('sus-deep', `retry ${i}`);
        expect((await client.getStatus('sus-deep', { showHistory: true }))!.history!.length).toBeGreaterThan(60);
        await client.resume('sus-deep', 'done');
        // The step that applied the resume ran the orchestrator on the kept event, which completed it.
        expect(await client.getStatus('sus-deep')).toMatchObject({ runtimeStatus: 'Completed', output: ['kept'] });
      });

      it('keeps an activity result that arrives while suspended and goes on with it after resume', async () => {
        await client.startNew('GatedSequence', { instanceId: 'sus-result' });
        await gates.reached('sus-result/1');
        await client.suspend('sus-result');
        const recorded = firstValueFrom(client.history$('sus-result').pipe(filter((e) => e.type === 'TaskCompleted')));
        gates.open('sus-result/1');
        await recorded; // the result is committed ...
        const meanwhile = await client.getStatus('sus-result');
        expect(meanwhile?.runtimeStatus).toBe('Suspended'); // ... and the orchestrator did not go on with it
        expect(meanwhile).not.toHaveProperty('customStatus');
        expect(calls.get('Gated')).toBe(1);
        await client.resume('sus-result');
        await gates.reached('sus-result/2');
        expect((await client.getStatus('sus-result'))?.customStatus).toBe('first done');
        gates.open('sus-result/2');
        expect(await client.waitForCompletion('sus-result', SETTLED)).toMatchObject({
          runtimeStatus: 'Completed', output: ['opened sus-result/1', 'opened sus-result/2'],
        });
      });

      it('terminates a Suspended instance with the reason as output', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'sus-term', input: 1 });
        await client.suspend('sus-term');
        await client.raiseEvent('sus-term', 'Item', 'kept, never used');
        await client.terminate('sus-term', 'stopped while suspended');
        expect(await client.getStatus('sus-term')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stopped while suspended' });
        await expect(client.resume('sus-term')).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
      });

      it('rejects unknown (404) and terminal (410) instances', async () => {
        await expect(client.suspend('nobody')).rejects.toMatchObject({ status: 404 });
        await expect(client.resume('nobody')).rejects.toMatchObject({ status: 404 });
        await client.startNew('Echo', { instanceId: 'finished', input: 1 });
        await client.waitForCompletion('finished', SETTLED);
        await expect(client.suspend('finished')).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
        await expect(client.resume('finished')).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
      });
    });

    describe('rewind', () => {
      it('reruns the failed activity of a Failed instance without redoing completed work', async () => {
        await client.startNew('StepThenFlaky', { instanceId: 'rw' });
        const failed = await client.waitForCompletion('rw', SETTLED);
        expect(failed.runtimeStatus).toBe('Failed');
        expect(failed.failureDetails?.errorMessage).toContain('flaky 10 is broken');
        flakyFixed = true; // the operator fixes the cause, then rewinds
        const back = collectUntil(client.status$('rw'), (s) => s?.runtimeStatus === 'Completed');
        await back.ready;
        await expect(client.rewind('rw', 'fixed')).resolves.toBeUndefined();
        const seen = (await back.done).map((s) => s?.runtimeStatus);
        expect(seen[0]).toBe('Failed');
        expect(seen).toContain('Running');
        const done = await client.getStatus('rw');
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 21 });
        expect(done).not.toHaveProperty('failureDetails');
        expect(calls.get('Step 1')).toBe(1);
        expect(calls.get('Flaky')).toBe(2);
      });

      it('reads its own write: once rewind resolves the status is no longer Failed, and waitForCompletion waits for the rerun', async () => {
        await client.startNew('GatedFlaky', { instanceId: 'ryw' });
        expect((await client.waitForCompletion('ryw', SETTLED)).runtimeStatus).toBe('Failed');
        flakyFixed = true;
        await client.rewind('ryw');
        expect((await client.getStatus('ryw'))?.runtimeStatus).not.toBe('Failed');
        // The rerun waits at its gate, so the instance cannot have finished yet: waitForCompletion must not answer
        // with the old failure, and it answers with the new result once the gate opens.
        await gates.reached('ryw/rerun');
        const done = client.waitForCompletion('ryw', { timeoutMs: 60_000 });
        gates.open('ryw/rerun');
        expect(await done).toMatchObject({ runtimeStatus: 'Completed', output: 'opened ryw/rerun' });
      });

      it('restarts history$ with the rewritten history after a rewind', async () => {
        await client.startNew('StepThenFlaky', { instanceId: 'rwh' });
        expect((await client.waitForCompletion('rwh', SETTLED)).runtimeStatus).toBe('Failed');
        const events = collectUntil(client.history$('rwh'), (e) => e.type === 'ExecutionCompleted' && e.orchestrationStatus === 'Completed');
        await events.ready;
        flakyFixed = true;
        await client.rewind('rwh');
        const seen = await events.done;
        const restart = seen.findLastIndex((e) => e.type === 'ExecutionStarted');
        expect(restart).toBeGreaterThan(0); // the history was delivered again from its start
        const rewritten = seen.slice(restart - 1);
        expect(rewritten[0]?.type).toBe('OrchestratorStarted');
        expect(rewritten.some((e) => e.type === 'ExecutionRewound')).toBe(true);
        expect(rewritten.some((e) => e.type === 'TaskFailed')).toBe(false);
        expect(rewritten.filter((e) => e.type === 'TaskCompleted')).toHaveLength(2);
      });

      it('refuses Completed/Terminated (410), active (409) and unknown (404) instances', async () => {
        await client.startNew('Echo', { instanceId: 'ok', input: 1 });
        await client.waitForCompletion('ok', SETTLED);
        await expect(client.rewind('ok')).rejects.toMatchObject({ code: 'instance-not-running', status: 410 });
        await client.startNew('WaitForEvents', { instanceId: 'active', input: 1 });
        await expect(client.rewind('active')).rejects.toMatchObject({ status: 409 });
        await client.suspend('active');
        await expect(client.rewind('active')).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        await client.terminate('active');
        await client.waitForCompletion('active', SETTLED);
        await expect(client.rewind('active')).rejects.toMatchObject({ status: 410 });
        await expect(client.rewind('nobody')).rejects.toMatchObject({ status: 404 });
      });
    });

    describe('a rewind whose rewritten history the store refuses for good', () => {
      /**
       * A store of its own that refuses for good (413) a commit writing more than LIMIT characters of history, and
       * runtimes on it that have `Chunks`: eight calls whose results together are more than that (each commit writes
       * one), then `Flaky`, which fails it. Its rewind rewrites the whole history at once, so the store refuses it.
       */
      const LIMIT = 20_000;
      const onLimitedStore = async () => {
        const inner = await newStore();
        const limit = { chars: LIMIT };
        const store = refusingLongHistories(inner, () => limit.chars);
        const orchestrators: Record<string, Orchestrator> = {
          ...registry.orchestrators,
          Chunks: function* (ctx) {
            for (let i = 0; i < 8; i++) yield ctx.callActivity('Chunk');
            return yield ctx.callActivity('Flaky', 1);
          },
        };
        const activities: Record<string, Activity> = { ...registry.activities, Chunk: () => 'c'.repeat(LIMIT / 5) };
        return { inner, store, limit, newRuntime: () => createRuntime({ store, orchestrators, activities, logger: silentLogger }) };
      };
      /** Runs `test` with the client under test over a started runtime on a store of its own, and closes them after. */
      const onOwnRuntime = async (test: (admin: DurableClient, limit: { chars: number }) => Promise<void>): Promise<void> => {
        const { inner, limit, newRuntime } = await onLimitedStore();
        const own = newRuntime();
        await own.start();
        const ownUnder = await wrap(own);
        try {
          await test(ownUnder.client, limit);
        } finally {
          await ownUnder.close();
          await own.stop();
          await inner.close();
        }
      };

      it('rejects with PayloadTooLargeError (413) once a worker recorded it as refused; the instance stays Failed', () =>
        onOwnRuntime(async (admin) => {
          await admin.startNew('Chunks', { instanceId: 'too-long' });
          const failed = await admin.waitForCompletion('too-long', SETTLED);
          expect(failed).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringContaining('flaky 1 is broken') } });
          flakyFixed = true;
          // The worker's step, its failure record and its record without payloads each hold the whole history: refused.
          // It records the rewind as refused instead, and the call rejects (before 2026-12-04 it resolved after its
          // 10 s wait, as if the rewind had been made).
          const rewound = admin.rewind('too-long', 'again');
          await expect(rewound).rejects.toBeInstanceOf(PayloadTooLargeError);
          await expect(rewound).rejects.toMatchObject({
            code: 'payload-too-large', status: 413, message: expect.stringMatching(/was not made, the instance stays Failed: the rewind was refused/),
          });
          const after = await admin.getStatus('too-long', { showHistory: true });
          expect(after).toMatchObject({ runtimeStatus: 'Failed', failureDetails: failed.failureDetails });
          expect(after?.history?.at(-1)).toMatchObject({ type: 'ExecutionRewound', payloadRefused: expect.stringMatching(/^the rewind was refused/) });
          expect(calls.get('Flaky')).toBe(1);
        }));

      it('resolves a later rewind the store takes, after an earlier one it refused: the instance runs again', () =>
        onOwnRuntime(async (admin, limit) => {
          await admin.startNew('Chunks', { instanceId: 'too-long-then-fits' });
          expect((await admin.waitForCompletion('too-long-then-fits', SETTLED)).runtimeStatus).toBe('Failed');
          flakyFixed = true;
          await expect(admin.rewind('too-long-then-fits', 'refused')).rejects.toBeInstanceOf(PayloadTooLargeError);
          // The store takes any history now: the refusal recorded before this rewind was sent is not its answer.
          limit.chars = Infinity;
          await admin.rewind('too-long-then-fits', 'made');
          expect((await admin.getStatus('too-long-then-fits'))?.runtimeStatus).not.toBe('Failed');
          expect(await admin.waitForCompletion('too-long-then-fits', SETTLED)).toMatchObject({ runtimeStatus: 'Completed' });
          const history = (await admin.getStatus('too-long-then-fits', { showHistory: true }))?.history ?? [];
          const rewinds = history.flatMap((e) => (e.type === 'ExecutionRewound' ? [e.payloadRefused === undefined ? e.reason : 'refused'] : []));
          expect(rewinds).toEqual(['refused', 'made']);
          expect(calls.get('Flaky')).toBe(2);
        }));

      it('rejects with the store\'s PayloadTooLargeError when no worker runs: the client\'s own rewrite is refused, nothing written', async (context) => {
        const { inner, store, newRuntime } = await onLimitedStore();
        if (!store.capabilities.unclaimedWrites) {
          await inner.close();
          return context.skip();
        }
        const first = newRuntime();
        const idle = newRuntime(); // never started: no worker holds the instance, the client commits the rewind itself
        const idleUnder = await wrap(idle);
        try {
          await first.start();
          await first.client.startNew('Chunks', { instanceId: 'too-long-lone' });
          expect((await first.client.waitForCompletion('too-long-lone', SETTLED)).runtimeStatus).toBe('Failed');
          await first.stop();
          const before = await inner.getHistory('too-long-lone');
          flakyFixed = true;
          await expect(idleUnder.client.rewind('too-long-lone', 'again')).rejects.toMatchObject({ code: 'payload-too-large', status: 413 });
          await expect(idleUnder.client.rewind('too-long-lone')).rejects.toBeInstanceOf(PayloadTooLargeError);
          expect((await idleUnder.client.getStatus('too-long-lone'))?.runtimeStatus).toBe('Failed');
          expect(await inner.getHistory('too-long-lone')).toEqual(before);
          expect(calls.get('Flaky')).toBe(1);
        } finally {
          await idleUnder.close();
          await idle.stop();
          await first.stop();
          await inner.close();
        }
      });
    });

    /**
     * A store of its own for the cases with no worker running; undefined (closed again) when it cannot apply commands
     * at once. With no worker, a command is applied at once only by the client's own commit: on a store with
     * `capabilities.unclaimedWrites` (every store of this repository). Without it the command is queued for a worker and
     * the call resolves after COMMAND_APPLIED_TIMEOUT_MS with the status unchanged, so those cases are skipped.
     */
    async function loneStore(): Promise<Store | undefined> {
      const lone = await newStore();
      if (lone.capabilities.unclaimedWrites) return lone;
      await lone.close();
      return undefined;
    }

    describe('read-your-writes with no worker running', () => {
      it('suspends and resumes an instance nobody has started yet at once; a worker then runs nothing of it until the resume', async (context) => {
        const lone = await loneStore();
        if (!lone) return context.skip();
        const worker = createRuntime({ store: lone, orchestrators: { WaitForEvents: waitForEvents }, logger: silentLogger });
        try {
          const admin = createClient({ store: lone });
          await admin.startNew('WaitForEvents', { instanceId: 'parked', input: 1 });
          await admin.suspend('parked', 'hold');
          expect((await admin.getStatus('parked'))?.runtimeStatus).toBe('Suspended');
          await admin.resume('parked', 'go');
          expect((await admin.getStatus('parked'))?.runtimeStatus).toBe('Pending');
          await admin.suspend('parked', 'hold again');
          expect((await admin.getStatus('parked'))?.runtimeStatus).toBe('Suspended');
          // A worker comes: the instance starts suspended, keeps the event raised meanwhile, and runs on the resume.
          await worker.start();
          const recorded = firstValueFrom(admin.history$('parked').pipe(filter((e) => e.type === 'EventRaised')));
          await admin.raiseEvent('parked', 'Item', 'kept');
          await within(recorded, 'the EventRaised recorded');
          // The suspend in force when the worker took the start in is recorded ahead of it, with its reason.
          const history = await lone.getHistory('parked');
          const beforeStart = history.slice(0, history.findIndex((e) => e.type === 'ExecutionStarted'));
          expect(beforeStart.filter((e) => e.type === 'ExecutionSuspended').at(-1)).toMatchObject({ reason: 'hold again' });
          const meanwhile = await admin.getStatus('parked');
          expect(meanwhile?.runtimeStatus).toBe('Suspended');
          expect(meanwhile).not.toHaveProperty('customStatus');
          await admin.resume('parked');
          expect((await admin.getStatus('parked'))?.runtimeStatus).not.toBe('Suspended');
          expect(await admin.waitForCompletion('parked', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['kept'] });
        } finally {
          await worker.stop();
          await lone.close();
        }
      });
    });

    describe('read-your-writes with no worker running, for a rewind', () => {
      it('rewinds a Failed instance at once; a worker that starts later reruns only the failed call', async (context) => {
        const lone = await loneStore();
        if (!lone) return context.skip();
        const first = createRuntime({ store: lone, ...registry, logger: silentLogger });
        const later = createRuntime({ store: lone, ...registry, logger: silentLogger });
        try {
          const admin = createClient({ store: lone });
          await first.start();
          await admin.startNew('StepThenFlaky', { instanceId: 'lone-rw' });
          expect((await admin.waitForCompletion('lone-rw', SETTLED)).runtimeStatus).toBe('Failed');
          await first.stop();
          flakyFixed = true;
          await admin.rewind('lone-rw', 'fixed');
          const rewound = await admin.getStatus('lone-rw');
          expect(rewound?.runtimeStatus).toBe('Running');
          expect(rewound).not.toHaveProperty('failureDetails');
          // The failure is gone from the history already; the call it failed is rerun by the next worker.
          expect((await lone.getHistory('lone-rw')).some((e) => e.type === 'TaskFailed')).toBe(false);
          expect(calls.get('Flaky')).toBe(1);
          await later.start();
          expect(await admin.waitForCompletion('lone-rw', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 21 });
          expect(calls.get('Step 1')).toBe(1);
          expect(calls.get('Flaky')).toBe(2);
          const history = await lone.getHistory('lone-rw');
          expect(history.filter((e) => e.type === 'ExecutionRewound')).toHaveLength(1);
          expect(history.filter((e) => e.type === 'TaskCompleted')).toHaveLength(2);
        } finally {
          await first.stop();
          await later.stop();
          await lone.close();
        }
      });
    });

    describe('read-your-writes with no worker running, after a resume that had nothing to resume', () => {
      it('terminates an instance nobody has started yet at once, a resume of it before (nothing to resume) queuing nothing', async (context) => {
        const lone = await loneStore();
        if (!lone) return context.skip();
        try {
          const admin = createClient({ store: lone });
          await admin.startNew('WaitForEvents', { instanceId: 'idle', input: 1 });
          await admin.resume('idle', 'an HTTP retry, say');
          expect((await admin.getStatus('idle'))?.runtimeStatus).toBe('Pending');
          await admin.terminate('idle', 'not needed');
          expect(await admin.getStatus('idle')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not needed' });
        } finally {
          await lone.close();
        }
      });
    });

    describe('read-your-writes with no worker running, after commands that change nothing', () => {
      it('writes nothing for a suspend or resume of an instance nobody has started yet that changes nothing (an HTTP retry): no new snapshot, the version and held commands kept', async (context) => {
        const lone = await loneStore();
        if (!lone) return context.skip();
        try {
          const admin = createClient({ store: lone });
          await admin.startNew('WaitForEvents', { instanceId: 'retried', input: 1 });
          // Every snapshot status$ pushes, in commit order: once the termination's has come, all that the commands
          // before it pushed have.
          const statuses: (string | undefined)[] = [];
          let firstArrived!: () => void;
          let terminated!: () => void;
          let failed!: (error: unknown) => void;
          const first = new Promise<void>((resolve) => (firstArrived = resolve));
          const ended = new Promise<void>((resolve, reject) => ((terminated = resolve), (failed = reject)));
          ended.catch(() => undefined); // awaited below, after the commands: a status$ failure meanwhile is no unhandled rejection
          const watching = admin.status$('retried').subscribe({
            next: (s) => {
              statuses.push(s?.runtimeStatus);
              firstArrived();
              if (s?.runtimeStatus === 'Terminated') terminated();
            },
            error: (error: unknown) => failed(error),
          });
          try {
            await within(first, 'the first snapshot');
            /** A command that changes nothing: it resolves, and the stored instance is the same (version, held commands). */
            const retried = async (command: () => Promise<void>) => {
              const before = await lone.getInstance('retried');
              await command();
              expect(await lone.getInstance('retried')).toEqual(before);
            };
            await retried(() => admin.resume('retried', 'nothing to resume'));
            await admin.suspend('retried', 'hold');
            await retried(() => admin.suspend('retried', 'hold, retried'));
            await admin.resume('retried', 'go');
            await retried(() => admin.resume('retried', 'go, retried'));
            await admin.terminate('retried', 'end');
            await within(ended, 'the termination\u2019s snapshot');
          } finally {
            watching.unsubscribe();
          }
          expect(statuses).toEqual(['Pending', 'Suspended', 'Pending', 'Terminated']);
          // Recorded ahead of the termination: the commands that changed the status, each once.
          expect((await lone.getHistory('retried')).filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed')).toMatchObject([
            { type: 'ExecutionSuspended', reason: 'hold' }, { type: 'ExecutionResumed', reason: 'go' },
          ]);
        } finally {
          await lone.close();
        }
      });
    });

    describe('read-your-writes with no worker running, with an event raised before the command', () => {
      /**
       * A runtime on a store of its own that is not started (no worker runs) and the client under test in front of it,
       * with `instanceId` started: Pending, or Running (a worker ran its first step and stopped). Undefined when the
       * store cannot apply commands at once (see `loneStore`).
       */
      const idle = async (instanceId: string, running: boolean) => {
        const lone = await loneStore();
        if (!lone) return undefined;
        const runtime = createRuntime({ store: lone, ...registry, logger: silentLogger });
        if (running) {
          const first = createRuntime({ store: lone, ...registry, logger: silentLogger });
          try {
            await first.start();
            await first.client.startNew('WaitForEvents', { instanceId, input: 2 });
            await within(firstValueFrom(first.client.status$(instanceId).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the first step');
          } finally {
            await first.stop();
          }
        }
        const idleUnder = await wrap(runtime);
        if (!running) await idleUnder.client.startNew('WaitForEvents', { instanceId, input: 2 });
        return {
          client: idleUnder.client, runtime, lone,
          close: async () => {
            await idleUnder.close();
            await runtime.stop();
            await lone.close();
          },
        };
      };

      for (const running of [false, true]) {
        const which = running ? 'a Running instance' : 'an instance nobody has started yet';

        it(`terminates ${which} at once; a worker that comes later records the event and ignores it`, async (context) => {
          const id = running ? 'rt-running' : 'rt-pending';
          const on = await idle(id, running);
          if (!on) return context.skip();
          try {
            const admin = on.client;
            await admin.raiseEvent(id, 'Item', 'early');
            await admin.terminate(id, 'stop');
            expect(await admin.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
            expect(await admin.waitForCompletion(id, { timeoutMs: 0 })).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
            await on.runtime.start();
            await within(firstValueFrom(admin.history$(id).pipe(filter((e) => e.type === 'EventRaised'))), 'the event recorded');
            const history = (await admin.getStatus(id, { showHistory: true, showHistoryOutput: true }))!.history!;
            const terminated = history.findIndex((e) => e.type === 'ExecutionTerminated');
            const raised = history.findIndex((e) => e.type === 'EventRaised');
            expect(terminated).toBeGreaterThanOrEqual(0);
            expect(raised).toBeGreaterThan(terminated);
            expect(history[raised]).toMatchObject({ name: 'Item', input: 'early' });
            expect(await admin.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
          } finally {
            await on.close();
          }
        });

        it(`suspends and resumes ${which} at once; a worker that comes later processes the events raised before and meanwhile`, async (context) => {
          const id = running ? 'rs-running' : 'rs-pending';
          const on = await idle(id, running);
          if (!on) return context.skip();
          try {
            const admin = on.client;
            await admin.raiseEvent(id, 'Item', 'before');
            await admin.suspend(id, 'hold');
            expect((await admin.getStatus(id))?.runtimeStatus).toBe('Suspended');
            await admin.raiseEvent(id, 'Item', 'meanwhile');
            await admin.resume(id, 'go');
            expect((await admin.getStatus(id))?.runtimeStatus).toBe(running ? 'Running' : 'Pending');
            await on.runtime.start();
            expect(await admin.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['before', 'meanwhile'] });
          } finally {
            await on.close();
          }
        });

        it(`terminates ${which} suspended at once, with an event kept for the resume; the event is recorded and ignored`, async (context) => {
          const id = running ? 'st-running' : 'st-pending';
          const on = await idle(id, running);
          if (!on) return context.skip();
          try {
            const admin = on.client;
            await admin.suspend(id, 'hold');
            await admin.raiseEvent(id, 'Item', 'kept');
            expect((await admin.getStatus(id))?.runtimeStatus).toBe('Suspended');
            await admin.terminate(id, 'stop');
            expect(await admin.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
            await on.runtime.start();
            await within(firstValueFrom(admin.history$(id).pipe(filter((e) => e.type === 'EventRaised'))), 'the event recorded');
            expect(await admin.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
          } finally {
            await on.close();
          }
        });
      }
    });

    describe('read-your-writes', () => {
      it('shows each command in the status as soon as the command resolves: suspend, resume, terminate', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'ryw-cmd', input: 2 });
        await client.suspend('ryw-cmd', 'hold');
        expect((await client.getStatus('ryw-cmd'))?.runtimeStatus).toBe('Suspended');
        await client.resume('ryw-cmd', 'go');
        expect((await client.getStatus('ryw-cmd'))?.runtimeStatus).toBe('Running');
        await client.resume('ryw-cmd'); // not suspended: nothing to wait for
        await client.terminate('ryw-cmd', 'stop');
        expect(await client.getStatus('ryw-cmd')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        expect((await client.waitForCompletion('ryw-cmd', { timeoutMs: 0 })).runtimeStatus).toBe('Terminated');
      });

      it('resolves a suspend and a resume sent while a worker holds the instance only once a worker has applied them', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'ryw-held', input: 3 });
        await firstValueFrom(client.status$('ryw-held').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        // Each command is sent while the worker's step (on an event raised just before) waits to commit: the worker
        // holds the instance, so the command goes to it as a message, applied only after that step.
        for (const [command, shows] of [['suspend', 'Suspended'], ['resume', 'Running']] as const) {
          const step = held.holdNextStep('ryw-held');
          await client.raiseEvent('ryw-held', 'Item', command);
          await step.reached;
          const sent = held.messageCommitted('ryw-held', command === 'suspend' ? 'ExecutionSuspended' : 'ExecutionResumed');
          let released = false;
          let resolvedWhileHeld = false;
          const done = client[command]('ryw-held', 'held').then(() => {
            resolvedWhileHeld = !released;
          });
          await sent;
          // Two reads through the client after the message is committed: a command that resolved without waiting for
          // the worker has answered by then.
          await client.getStatus('ryw-held');
          await client.getStatus('ryw-held');
          released = true;
          step.release();
          await done;
          expect(resolvedWhileHeld).toBe(false);
          expect((await client.getStatus('ryw-held'))?.runtimeStatus).toBe(shows);
        }
        await client.raiseEvent('ryw-held', 'Item', 'last');
        expect(await client.waitForCompletion('ryw-held', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['suspend', 'resume', 'last'] });
      });

      it('resolves a resume (or suspend) that the status reflects only once it shows again, while a worker\'s step that took the opposite command waits to commit', async () => {
        const id = 'ryw-behind-claimed';
        await client.startNew('WaitForEvents', { instanceId: id, input: 3 });
        await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
        for (const [first, then, shows] of [['suspend', 'resume', 'Running'], ['resume', 'suspend', 'Suspended']] as const) {
          if (shows === 'Suspended') await client.suspend(id, 'before');
          // The first command is sent while a step (on an event raised just before) waits to commit: it goes as a
          // message, and the worker's next step takes it, held before its commit, the status still the other one.
          const onEvent = held.holdNextStep(id);
          await client.raiseEvent(id, 'Item', first);
          await onEvent.reached;
          const firstSent = held.messageCommitted(id, first === 'suspend' ? 'ExecutionSuspended' : 'ExecutionResumed');
          const firstDone = client[first](id, 'first');
          await firstSent;
          const taking = held.holdNextStep(id);
          onEvent.release();
          await taking.reached;
          expect((await client.getStatus(id))?.runtimeStatus).toBe(shows);
          // The second, the status reflecting it already, is sent behind the one that step took.
          const thenSent = held.messageCommitted(id, then === 'suspend' ? 'ExecutionSuspended' : 'ExecutionResumed');
          let resolved = false;
          const thenDone = client[then](id, 'then').then(() => {
            resolved = true;
          });
          await thenSent;
          const applying = held.holdNextStep(id);
          taking.release();
          await firstDone;
          await applying.reached;
          // The step that took the first committed it; the next one, which takes the second, waits: a read shows the
          // first command's status, so the second has not resolved.
          expect((await client.getStatus(id))?.runtimeStatus).not.toBe(shows);
          expect(resolved).toBe(false);
          applying.release();
          await thenDone;
          expect((await client.getStatus(id))?.runtimeStatus).toBe(shows);
        }
        await client.resume(id, 'end');
        await client.raiseEvent(id, 'Item', 'last');
        expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['suspend', 'resume', 'last'] });
      });

      it('rejects a terminate or suspend that the instance\'s own end overtakes while it is queued (410), whatever the store', async () => {
        for (const [command, type] of [['terminate', 'ExecutionTerminated'], ['suspend', 'ExecutionSuspended']] as const) {
          const id = `overtaken-${command}`;
          await client.startNew('WaitForEvents', { instanceId: id, input: 1 });
          await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
          // The command is sent while the worker's step that completes the instance (on the one event it waits for)
          // waits to commit: it goes to the worker as a message, behind that step.
          const step = held.holdNextStep(id);
          await client.raiseEvent(id, 'Item', 'last');
          await step.reached;
          const sent = held.messageCommitted(id, type);
          const outcome = client[command](id, 'late').then(() => 'resolved', (error: { code?: string; status?: number }) => `${error.code} ${error.status}`);
          await sent;
          step.release();
          expect(await outcome).toBe('instance-not-running 410');
          expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: ['last'] });
        }
      });

      it('answers a suspend and a terminate that one worker step applies each as it came: applied in order, or 410 once terminated', async () => {
        const outcomes: Record<string, string> = {};
        for (const order of [['suspend', 'terminate'], ['terminate', 'suspend']] as const) {
          const id = `one-step-${order[0]}-first`;
          await client.startNew('WaitForEvents', { instanceId: id, input: 2 });
          await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
          // Both commands are sent while the worker's step on an event waits to commit: they go to the worker as
          // messages, in this order, and its next step takes both.
          const step = held.holdNextStep(id);
          await client.raiseEvent(id, 'Item', 'first');
          await step.reached;
          // Each is sent once the one before it is committed: two requests on their way at once (a remote client's)
          // may reach the server in either order.
          const calls: Promise<string>[] = [];
          for (const command of order) {
            const sent = held.messageCommitted(id, command === 'suspend' ? 'ExecutionSuspended' : 'ExecutionTerminated');
            calls.push(client[command](id, command).then(() => 'resolved', (error: { code?: string; status?: number }) => `${error.code} ${error.status}`));
            await sent;
          }
          step.release();
          outcomes[id] = (await Promise.all(calls)).join(', ');
          expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'terminate' });
        }
        expect(outcomes).toEqual({
          // Suspended, then terminated: each was applied.
          'one-step-suspend-first': 'resolved, resolved',
          // Terminated first: the suspend reached a terminal instance, which recorded and ignored it.
          'one-step-terminate-first': 'resolved, instance-not-running 410',
        });
      });

      it('answers two terminates that one worker step applies as a direct commit does: the first applied, the second 410', async () => {
        const id = 'one-step-two-terminates';
        await client.startNew('WaitForEvents', { instanceId: id, input: 2 });
        await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
        // Both are sent while the worker's step on an event waits to commit: they go to the worker as messages, in
        // this order, and its next step takes both. The first ends the instance; the second reaches it terminated.
        const step = held.holdNextStep(id);
        await client.raiseEvent(id, 'Item', 'first');
        await step.reached;
        const calls: Promise<string>[] = [];
        for (const reason of ['first', 'second']) {
          const sent = held.messageCommitted(id, 'ExecutionTerminated');
          calls.push(client.terminate(id, reason).then(() => 'resolved', (error: { code?: string; status?: number }) => `${error.code} ${error.status}`));
          await sent;
        }
        step.release();
        // The second did nothing: the instance shows the first's reason, and its caller hears so, as one whose
        // terminate meets an instance another terminate ended first always does.
        expect(await Promise.all(calls)).toEqual(['resolved', 'instance-not-running 410']);
        expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'first' });
      });

      it('answers a terminate with a reason that one worker step takes after one without: 410, the instance ended with none', async () => {
        const id = 'one-step-two-terminates-first-without-reason';
        await client.startNew('WaitForEvents', { instanceId: id, input: 2 });
        await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
        const step = held.holdNextStep(id);
        await client.raiseEvent(id, 'Item', 'first');
        await step.reached;
        const calls: Promise<string>[] = [];
        for (const reason of [undefined, 'second']) {
          const sent = held.messageCommitted(id, 'ExecutionTerminated');
          calls.push(client.terminate(id, reason).then(() => 'resolved', (error: { code?: string; status?: number }) => `${error.code} ${error.status}`));
          await sent;
        }
        step.release();
        expect(await Promise.all(calls)).toEqual(['resolved', 'instance-not-running 410']);
        const status = await client.getStatus(id);
        expect(status).toMatchObject({ runtimeStatus: 'Terminated' });
        expect(status?.output ?? null).toBeNull();
      });

      /**
       * Runs `body` on a runtime of its own over a fresh store whose history reads can be held, on a clock that does not
       * move (a command's wait for a worker never ends by itself), with the client under test over it; closes it all.
       */
      const onStillClock = async (body: (admin: DurableClient, held: HeldHistoryReads) => Promise<void>): Promise<void> => {
        const ownHeld = new HeldHistoryReads(await newStore());
        const own = createRuntime({ store: ownHeld.store, ...registry, clock: new VirtualClock(), logger: silentLogger });
        await own.start();
        const ownUnder = await wrap(own);
        try {
          await body(ownUnder.client, ownHeld);
        } finally {
          ownHeld.releaseAll();
          await ownUnder.close();
          await own.stop();
          await own.store.close();
        }
      };

      /** How a command's call settled: `'resolved'`, or the code it was refused with. */
      const outcomeOf = (call: Promise<void>): Promise<string | undefined> =>
        call.then(() => 'resolved', (error: { code?: string }) => error.code);

      /** Holds the step that records the next execution's start (`ExecutionStarted`), until it is released. */
      const holdNextStart = (held: HeldHistoryReads, id: string): ReturnType<HeldHistoryReads['holdNextStep']> =>
        held.holdNextStep(id, (writeSet) => writeSet.requests.some((r) =>
          r.type === 'appendHistory' && r.events.some((e) => e.type === 'ExecutionStarted')));

      it('resolves a suspend that one worker step applies and a resume right behind it undoes, from its history, not at the wait\'s end', async () => {
        // A runtime whose clock does not move: the command's wait for a worker (COMMAND_APPLIED_TIMEOUT_MS) never ends
        // by itself, so only the history can answer the suspend, which the instance never shows.
        await onStillClock(async (admin, ownHeld) => {
          const id = 'one-step-suspend-resume';
          await admin.startNew('WaitForEvents', { instanceId: id, input: 2 });
          await firstValueFrom(admin.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
          const step = ownHeld.holdNextStep(id);
          await admin.raiseEvent(id, 'Item', 'first');
          await step.reached;
          const suspended = ownHeld.messageCommitted(id, 'ExecutionSuspended');
          const suspend = outcomeOf(admin.suspend(id, 'hold'));
          await suspended;
          const resumed = ownHeld.messageCommitted(id, 'ExecutionResumed');
          // The status still shows Running: the resume has nothing to wait for, and goes as a message behind the suspend.
          await admin.resume(id, 'go');
          await resumed;
          step.release();
          expect(await suspend).toBe('resolved');
          expect((await admin.getStatus(id))?.runtimeStatus).toBe('Running');
        });
      });

      it('resolves a resume that one worker step applies and a suspend right behind it undoes, from its history, not at the wait\'s end', async () => {
        // The mirror of the case above, on a clock that does not move: the instance shows Suspended before and after
        // the step, so only the history can answer the resume.
        await onStillClock(async (admin, ownHeld) => {
          const id = 'one-step-resume-suspend';
          await admin.startNew('WaitForEvents', { instanceId: id, input: 2 });
          await firstValueFrom(admin.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
          await admin.suspend(id, 'first');
          expect((await admin.getStatus(id))?.runtimeStatus).toBe('Suspended');
          const step = ownHeld.holdNextStep(id);
          await admin.raiseEvent(id, 'Item', 'kept');
          await step.reached;
          const resumed = ownHeld.messageCommitted(id, 'ExecutionResumed');
          const resume = outcomeOf(admin.resume(id, 'go'));
          await resumed;
          const suspended = ownHeld.messageCommitted(id, 'ExecutionSuspended');
          // The status still shows Suspended: the suspend has nothing to wait for, and goes as a message behind the resume.
          await admin.suspend(id, 'again');
          await suspended;
          step.release();
          expect(await resume).toBe('resolved');
          expect((await admin.getStatus(id))?.runtimeStatus).toBe('Suspended');
        });
      });

      it('resolves a suspend that the step continuing the instance as new holds for the next execution, with a resume right behind it, before that execution starts', async () => {
        // The step takes `Go`, the suspend and the resume: the execution continues as new, and the suspend and the
        // resume are held in the state for the next execution (its history empty) until a worker takes its start,
        // held here. Only the state can answer the suspend, which the instance never shows.
        await onStillClock(async (admin, ownHeld) => {
          const id = 'continued-suspend-resume';
          await admin.startNew('GoThenContinue', { instanceId: id });
          await firstValueFrom(admin.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
          const step = ownHeld.holdNextStep(id);
          await admin.raiseEvent(id, 'Other', 'buffered');
          await step.reached;
          const started = holdNextStart(ownHeld, id);
          await admin.raiseEvent(id, 'Go');
          const suspended = ownHeld.messageCommitted(id, 'ExecutionSuspended');
          const suspend = outcomeOf(admin.suspend(id, 'hold'));
          await suspended;
          const resumed = ownHeld.messageCommitted(id, 'ExecutionResumed');
          await admin.resume(id, 'go on'); // the instance shows Running: nothing to wait for
          await resumed;
          step.release();
          await started.reached;
          expect(await suspend).toBe('resolved');
          expect(await admin.getStatus(id)).toMatchObject({ runtimeStatus: 'ContinuedAsNew', input: 'next' });
          started.release();
          await admin.raiseEvent(id, 'Go', 'done');
          expect(await admin.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
        });
      });

      it('resolves a suspend that the step continuing the instance as new applies and undoes by a resume before its continueAsNew, before the next execution starts', async () => {
        // The step takes the suspend, the resume and `Go`: Suspended, Running again, then the code runs on `Go` and
        // continues the instance as new. Both commands are in the history the next execution replaces, whose start
        // step is held: only the state can answer the suspend, which the instance never shows.
        await onStillClock(async (admin, ownHeld) => {
          const id = 'suspend-resume-continued';
          await admin.startNew('GoThenContinue', { instanceId: id });
          await firstValueFrom(admin.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
          const step = ownHeld.holdNextStep(id);
          await admin.raiseEvent(id, 'Other', 'buffered');
          await step.reached;
          const started = holdNextStart(ownHeld, id);
          const suspended = ownHeld.messageCommitted(id, 'ExecutionSuspended');
          const suspend = outcomeOf(admin.suspend(id, 'hold'));
          await suspended;
          const resumed = ownHeld.messageCommitted(id, 'ExecutionResumed');
          const resume = outcomeOf(admin.resume(id, 'go on'));
          await resumed;
          await admin.raiseEvent(id, 'Go');
          step.release();
          await started.reached;
          expect(await suspend).toBe('resolved');
          expect(await resume).toBe('resolved');
          expect(await admin.getStatus(id)).toMatchObject({ runtimeStatus: 'ContinuedAsNew', input: 'next' });
          started.release();
          await admin.raiseEvent(id, 'Go', 'done');
          expect(await admin.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
        });
      });

      it('resolves a resume whose step continues the instance as new, with a suspend right behind it held for the next execution', async () => {
        // The resume's step runs the code on the kept `Go`, which continues the instance as new: the resume is in the
        // history that execution ended with, which the next one replaces, and the suspend behind it suspends the next
        // execution. The instance shows Suspended before and after; the state shows that the execution the resume
        // was sent to has run on.
        await onStillClock(async (admin, ownHeld) => {
          const id = 'continued-resume-suspend';
          await admin.startNew('GoThenContinue', { instanceId: id });
          await firstValueFrom(admin.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
          await admin.suspend(id, 'first');
          const step = ownHeld.holdNextStep(id);
          await admin.raiseEvent(id, 'Go');
          await step.reached;
          const resumed = ownHeld.messageCommitted(id, 'ExecutionResumed');
          const resume = outcomeOf(admin.resume(id, 'go'));
          await resumed;
          const suspended = ownHeld.messageCommitted(id, 'ExecutionSuspended');
          await admin.suspend(id, 'again'); // the instance shows Suspended: nothing to wait for
          await suspended;
          step.release();
          expect(await resume).toBe('resolved');
          expect(await admin.getStatus(id)).toMatchObject({ runtimeStatus: 'Suspended', input: 'next' });
          await admin.resume(id, 'last');
          await admin.raiseEvent(id, 'Go', 'done');
          expect(await admin.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
        });
      });

      it('resolves a resume sent behind a resume and a suspend only once its own message is applied, not when the execution continues as new', async () => {
        // Three calls to a Suspended instance, as from several callers: a resume, a suspend, a resume. The step that takes
        // the first two runs the code on the kept `Go` to a continueAsNew, and the suspend suspends the next execution;
        // the last resume is still queued (sent while that step ran). It resolves once applied, and the status then
        // shows it: not Suspended.
        await onStillClock(async (admin, ownHeld) => {
          const id = 'resume-suspend-resume';
          await admin.startNew('GoThenContinue', { instanceId: id });
          await firstValueFrom(admin.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
          await admin.suspend(id, 'first');
          const first = ownHeld.holdNextStep(id);
          await admin.raiseEvent(id, 'Go');
          await first.reached;
          const resumed = ownHeld.messageCommitted(id, 'ExecutionResumed');
          const resume = outcomeOf(admin.resume(id, 'one'));
          await resumed;
          const suspended = ownHeld.messageCommitted(id, 'ExecutionSuspended');
          const suspend = outcomeOf(admin.suspend(id, 'two'));
          await suspended;
          const continuing = ownHeld.holdNextStep(id);
          first.release();
          await continuing.reached;
          const resumedAgain = ownHeld.messageCommitted(id, 'ExecutionResumed');
          let lastSettled = false;
          const last = outcomeOf(admin.resume(id, 'three')).finally(() => (lastSettled = true));
          await resumedAgain;
          const started = holdNextStart(ownHeld, id);
          continuing.release();
          expect(await resume).toBe('resolved');
          expect(await suspend).toBe('resolved');
          expect(await admin.getStatus(id)).toMatchObject({ runtimeStatus: 'Suspended', input: 'next' });
          // Before, the last resume resolved here, the instance Suspended and its message still queued.
          expect(lastSettled).toBe(false);
          started.release();
          expect(await last).toBe('resolved');
          expect((await admin.getStatus(id))?.runtimeStatus).toBe('Running');
          await admin.raiseEvent(id, 'Go', 'done');
          expect(await admin.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
        });
      });

      /** The status of `id` from getStatus, status$'s first value and listInstances, all three issued at once, in the
       * promise job the command resolved in. */
      const readNow = async (id: string): Promise<(string | undefined)[]> => {
        const [status, first, page] = await Promise.all([
          client.getStatus(id), firstValueFrom(client.status$(id)), client.listInstances(),
        ]);
        return [status?.runtimeStatus, first?.runtimeStatus, page.instances.find((s) => s.instanceId === id)?.runtimeStatus];
      };

      it('shows a start, and a restart of a completed instance, Pending to getStatus, status$ and listInstances read as it resolves', async (context) => {
        if (under.startsShowPending === false) {
          return context.skip('the worker behind this client runs on its own: a start may be Running at the next read');
        }
        await client.startNew('Echo', { instanceId: 'ryw-start', input: 1 });
        expect(await readNow('ryw-start')).toEqual(['Pending', 'Pending', 'Pending']);
        expect(await client.waitForCompletion('ryw-start', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 1 });
        await client.restart('ryw-start');
        expect(await readNow('ryw-start')).toEqual(['Pending', 'Pending', 'Pending']);
        expect(await client.waitForCompletion('ryw-start', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 1 });
      });

      it('shows an execution a signalWithStart started Pending to getStatus, status$ and listInstances read as it resolves', async (context) => {
        if (under.startsShowPending === false) {
          return context.skip('the worker behind this client runs on its own: a start may be Running at the next read');
        }
        await client.signalWithStart('Echo', { instanceId: 'ryw-signal', input: 1, eventName: 'Item' });
        expect(await readNow('ryw-signal')).toEqual(['Pending', 'Pending', 'Pending']);
        expect(await client.waitForCompletion('ryw-signal', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 1 });
        // Over the completed instance: a new execution, Pending too.
        await client.signalWithStart('Echo', { instanceId: 'ryw-signal', input: 2, eventName: 'Item' });
        expect(await readNow('ryw-signal')).toEqual(['Pending', 'Pending', 'Pending']);
        expect(await client.waitForCompletion('ryw-signal', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 2 });
      });

      it('shows a start, read as it resolves, exactly as the store holds it', async (context) => {
        if (under.startsShowPending === false) {
          return context.skip('the worker behind this client runs on its own: a start may be Running at the next read');
        }
        await client.startNew('Echo', { instanceId: 'ryw-same', input: { n: 1, list: ['a', null] } });
        // Both issued in the promise job the start resolved in: the store's own read shows the start too.
        const [status, stored] = await Promise.all([client.getStatus('ryw-same'), store.getInstance('ryw-same')]);
        expect(stored?.runtimeStatus).toBe('Pending');
        expect(status).toStrictEqual(toInstanceStatus(stored!));
      });
    });

    describe('fork', () => {
      it('forks a failed instance keeping the results before the failure: the kept call is not made again, the failed one is; the source stays Failed', async () => {
        await client.startNew('StepThenFlaky', { instanceId: 'fk0' });
        expect((await client.waitForCompletion('fk0', SETTLED)).runtimeStatus).toBe('Failed');
        // Every result kept (the failure too): the fork fails again, running nothing.
        const again = await client.fork('fk0');
        expect((await client.waitForCompletion(again, SETTLED)).runtimeStatus).toBe('Failed');
        expect([calls.get('Step 1'), calls.get('Flaky')]).toEqual([1, 1]);
        flakyFixed = true;
        expect(await client.fork('fk0', { newInstanceId: 'fk0-mended', keepResults: 1 })).toBe('fk0-mended');
        expect(await client.waitForCompletion('fk0-mended', SETTLED)).toMatchObject({ name: 'StepThenFlaky', runtimeStatus: 'Completed', output: 10 + 11 });
        expect([calls.get('Step 1'), calls.get('Flaky')]).toEqual([1, 2]);
        expect((await client.getStatus('fk0'))?.runtimeStatus).toBe('Failed');
      });

      it('forks from one snapshot of the source, however late its history read answers: the execution the history is of, with its input', async () => {
        await client.startNew('GatedLoop', { instanceId: 'fk-torn', input: { n: 0, last: 1 } });
        await gates.reached('fk-torn/0');
        // The source's history is read only once the source has gone on to its next execution (continueAsNew).
        const read = held.holdNext();
        const forked = client.fork('fk-torn', { newInstanceId: 'fk-torn-copy' });
        await read.reached;
        gates.open('fk-torn/0');
        await gates.reached('fk-torn/1');
        read.release();
        expect(await forked).toBe('fk-torn-copy');
        expect((await client.getStatus('fk-torn-copy'))?.input).toEqual({ n: 1, last: 1 });
        gates.open('fk-torn-copy/1');
        expect(await client.waitForCompletion('fk-torn-copy', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 1 });
      });

      it('forks a suspended instance: the fork runs with the events the source recorded, the source stays Suspended', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'fk-held', input: 3 });
        await client.raiseEvent('fk-held', 'Item', 'a');
        await within(firstValueFrom(client.customStatus$('fk-held').pipe(filter((v) => (v as { received?: number } | undefined)?.received === 1))), 'the first event taken');
        await client.suspend('fk-held');
        await client.raiseEvent('fk-held', 'Item', 'b');
        // Recorded while suspended, kept for the resume.
        await within(firstValueFrom(client.history$('fk-held').pipe(filter((e) => e.type === 'EventRaised'), take(2), toArray())), 'both events recorded');
        const fork = await client.fork('fk-held');
        await within(firstValueFrom(client.customStatus$(fork).pipe(filter((v) => (v as { received?: number } | undefined)?.received === 2))), 'the fork taking both events');
        await client.raiseEvent(fork, 'Item', 'c');
        expect(await client.waitForCompletion(fork, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c'] });
        expect(await client.getStatus('fk-held')).toMatchObject({ runtimeStatus: 'Suspended', customStatus: { received: 1 } });
      });

      it('raises to the fork the external events it does not keep, in the order received, unless reapplyEvents is false', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'fk-ev', input: 3 });
        for (const item of ['a', 'b', 'c']) await client.raiseEvent('fk-ev', 'Item', item);
        expect(await client.waitForCompletion('fk-ev', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c'] });
        // The first kept, the other two raised to the fork again.
        const again = await client.fork('fk-ev', { keepResults: 1 });
        expect(await client.waitForCompletion(again, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c'] });
        const own = await client.fork('fk-ev', { keepResults: 1, reapplyEvents: false });
        await within(firstValueFrom(client.customStatus$(own).pipe(filter((v) => (v as { received?: number } | undefined)?.received === 1))), 'the fork taking its kept event');
        await client.raiseEvent(own, 'Item', 'x');
        await client.raiseEvent(own, 'Item', 'y');
        expect(await client.waitForCompletion(own, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'x', 'y'] });
      });

      it('refuses an unknown source (404), keepResults beyond the results recorded (400) and a taken id (409), writing nothing', async () => {
        await client.startNew('Echo', { instanceId: 'fk1', input: 1 });
        await client.waitForCompletion('fk1', SETTLED);
        await expect(client.fork('fk-none')).rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
        await expect(client.fork('fk1', { keepResults: 1 })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        await expect(client.fork('fk1', { newInstanceId: 'fk1' })).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['fk1']);
        // Nothing recorded to keep: a new start with the source's input.
        const fresh = await client.fork('fk1', { keepResults: 0 });
        expect(await client.waitForCompletion(fresh, SETTLED)).toMatchObject({ name: 'Echo', output: 1, input: 1 });
      });
    });

    describe('restart', () => {
      it('starts a terminal instance again under its own id unless a new id is asked for', async () => {
        // An orchestration that waits for an event, so the restarted run is told from the first by its output.
        await client.startNew('WaitForEvents', { instanceId: 'r0', input: 1 });
        await client.raiseEvent('r0', 'Item', 'first');
        expect((await client.waitForCompletion('r0', SETTLED)).output).toEqual(['first']);
        expect(await client.restart('r0')).toBe('r0');
        expect(['Pending', 'Running']).toContain((await client.getStatus('r0'))?.runtimeStatus);
        await client.raiseEvent('r0', 'Item', 'second');
        expect(await client.waitForCompletion('r0', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['second'] });
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['r0']);
        await expect(client.restart('r0', { restartWithNewInstanceId: 'yes' as unknown as boolean }))
          .rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['r0']);
      });

      it('starts a terminal instance again with its input under a new id when asked, Pending at once', async () => {
        await client.startNew('Echo', { instanceId: 'r1', input: { n: 1 } });
        await client.waitForCompletion('r1', SETTLED);
        const id = await client.restart('r1', { restartWithNewInstanceId: true });
        expect(id).not.toBe('r1');
        expect((await client.getStatus(id))?.input).toEqual({ n: 1 });
        expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ name: 'Echo', runtimeStatus: 'Completed', output: { n: 1 } });
        expect((await client.getStatus('r1'))?.runtimeStatus).toBe('Completed');
      });

      it('gives each restart with a new id a fresh id of its own', async () => {
        await client.startNew('Echo', { instanceId: 'r2', input: 2 });
        await client.waitForCompletion('r2', SETTLED);
        const first = await client.restart('r2', { restartWithNewInstanceId: true });
        const second = await client.restart('r2', { restartWithNewInstanceId: true });
        expect(new Set(['r2', first, second]).size).toBe(3);
        expect((await client.waitForCompletion(second, SETTLED)).output).toBe(2);
      });

      it('reads its own write: a restart under the same id is the new execution once it resolves (Pending; Running too over HTTP, where the server runs its own worker), never the old result', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'r2', input: 1 });
        await client.raiseEvent('r2', 'Item', 'a');
        expect((await client.waitForCompletion('r2', SETTLED)).output).toEqual(['a']);
        expect(await client.restart('r2', { restartWithNewInstanceId: false })).toBe('r2');
        expect(['Pending', 'Running']).toContain((await client.getStatus('r2'))?.runtimeStatus);
        expect(['Pending', 'Running']).toContain((await client.waitForCompletion('r2', { timeoutMs: 50 })).runtimeStatus);
        await client.raiseEvent('r2', 'Item', 'b');
        expect((await client.waitForCompletion('r2', SETTLED)).output).toEqual(['b']);
      });

      it('starts a Failed and a Terminated instance again with its input, not only a Completed one', async () => {
        await client.startNew('StepThenFlaky', { instanceId: 'r-failed', input: { n: 1 } });
        expect((await client.waitForCompletion('r-failed', SETTLED)).runtimeStatus).toBe('Failed');
        flakyFixed = true;
        expect(await client.restart('r-failed')).toBe('r-failed');
        expect(await client.waitForCompletion('r-failed', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', input: { n: 1 }, output: 21 });
        await client.startNew('WaitForEvents', { instanceId: 'r-terminated', input: 1 });
        await client.terminate('r-terminated', 'stop');
        expect(await client.restart('r-terminated')).toBe('r-terminated');
        const again = await client.getStatus('r-terminated');
        expect(['Pending', 'Running']).toContain(again?.runtimeStatus);
        expect(again?.input).toBe(1);
        await client.raiseEvent('r-terminated', 'Item', 'after restart');
        expect(await client.waitForCompletion('r-terminated', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['after restart'] });
      });

      it('refuses an instance whose orchestrator the runtime does not know (400), as startNew does, writing nothing', async () => {
        // Started by a client of the same store that checks no names (a runtime with other orchestrators would do so
        // too); this runtime's worker fails it, having no such orchestrator.
        const other = createClient({ store: held.store });
        await other.startNew('OnlyElsewhere', { instanceId: 'elsewhere', input: 1 });
        const failed = await client.waitForCompletion('elsewhere', SETTLED);
        expect(failed).toMatchObject({ name: 'OnlyElsewhere', runtimeStatus: 'Failed' });
        for (const restartWithNewInstanceId of [false, true]) {
          await expect(client.restart('elsewhere', { restartWithNewInstanceId }))
            .rejects.toMatchObject({ code: 'invalid-argument', status: 400, message: expect.stringContaining('OnlyElsewhere') });
        }
        expect(await client.getStatusAll()).toEqual([failed]);
      });

      it('refuses an active (409) and an unknown (404) instance, writing nothing', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'held', input: 1 });
        await client.suspend('held');
        await expect(client.restart('held')).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        expect((await client.getStatus('held'))?.runtimeStatus).toBe('Suspended');
        await client.startNew('WaitForEvents', { instanceId: 'busy', input: 1 });
        await expect(client.restart('busy')).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        await expect(client.restart('nobody')).rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
        expect((await client.getStatusAll()).map((s) => s.instanceId).sort()).toEqual(['busy', 'held']); // one ms may hold both
      });
    });

    describe('createCheckStatusResponse, waitForCompletionOrCreateCheckStatusResponse', () => {
      const request = () => new Request('https://app.example.com/api/start?x=1', { method: 'POST' });
      /** A `waitForCompletionOrCreateCheckStatusResponse` call for the instance `id`, in one of its forms. */
      type Answer = (id: string) => Promise<Response>;

      /** Starts an instance that waits for an event, asks `answer` about it: 202 with the check-status payload. */
      const answers202WhileRunning = async (id: string, answer: Answer): Promise<Response> => {
        await client.startNew('WaitForEvents', { instanceId: id, input: 1 });
        const response = await answer(id);
        expect(response.status).toBe(202);
        expect(await response.json()).toEqual(client.createHttpManagementPayload(id, 'https://app.example.com'));
        return response;
      };

      /**
       * Starts the gated sequence `id` past its first gate, asks `answer` about it while the second activity waits at
       * its gate, then opens that gate: 200 with the output.
       */
      const answers200OnCompletion = async (id: string, answer: Answer): Promise<void> => {
        await client.startNew('GatedSequence', { instanceId: id });
        gates.open(`${id}/1`);
        const pending = answer(id);
        await gates.reached(`${id}/2`);
        gates.open(`${id}/2`);
        const response = await pending;
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual([`opened ${id}/1`, `opened ${id}/2`]);
      };

      it('builds the 202 check-status response from the request origin', async () => {
        const response = client.createCheckStatusResponse(request(), 'abc');
        expect(response.status).toBe(202);
        const body = await response.json();
        expect(body).toEqual(client.createHttpManagementPayload('abc', 'https://app.example.com'));
        expect(response.headers.get('location')).toBe('https://app.example.com/runtime/webhooks/durabletask/instances/abc');
        expect(response.headers.get('retry-after')).toBe('10');
        expect(response.headers.get('content-type')).toContain('application/json');
        const keyed = await client.createCheckStatusResponse(request(), 'abc', { key: 'k', baseUrl: 'https://proxy.example.com/durable' }).json();
        expect(keyed).toMatchObject({ statusQueryGetUri: 'https://proxy.example.com/durable/runtime/webhooks/durabletask/instances/abc?code=k' });
      });

      it('declares its JSON bodies charset=utf-8, as the HTTP API does, so a client that reads a body without one as ISO-8859-1 (Windows PowerShell 5.1) reads them as sent', async () => {
        const contentType = (response: Response) => response.headers.get('content-type');
        const utf8Json = 'application/json; charset=utf-8';
        expect(contentType(client.createCheckStatusResponse(request(), 'é1'))).toBe(utf8Json);
        await client.startNew('WaitForEvents', { instanceId: 'é1', input: 1 });
        expect(contentType(await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'é1', { timeoutMs: 0 }))).toBe(utf8Json); // 202
        await client.terminate('é1', 'enough');
        expect(contentType(await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'é1'))).toBe(utf8Json); // 200, the status
        await client.startNew('Echo', { instanceId: 'é2', input: 'Café' });
        const completed = await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'é2', { timeoutMs: 60_000 }); // 200, the output
        expect([completed.status, contentType(completed), await completed.json()]).toEqual([200, utf8Json, 'Café']);
      });

      it('puts returnInternalServerErrorOnFailure=true into the status link and Location when asked, as Durable Functions\' .NET client', async () => {
        const root = 'https://app.example.com/runtime/webhooks/durabletask/instances';
        const asked = client.createCheckStatusResponse(request(), 'abc', { returnInternalServerErrorOnFailure: true });
        expect(await asked.json()).toEqual({
          ...client.createHttpManagementPayload('abc', 'https://app.example.com'),
          statusQueryGetUri: `${root}/abc?returnInternalServerErrorOnFailure=true`,
        });
        expect(asked.headers.get('location')).toBe(`${root}/abc?returnInternalServerErrorOnFailure=true`);
        const keyed = client.createCheckStatusResponse(request(), 'abc', { key: 'k', returnInternalServerErrorOnFailure: true });
        expect(keyed.headers.get('location')).toBe(`${root}/abc?code=k&returnInternalServerErrorOnFailure=true`);
        await keyed.body?.cancel();
        const notAsked = client.createCheckStatusResponse(request(), 'abc', { returnInternalServerErrorOnFailure: false });
        expect(notAsked.headers.get('location')).toBe(`${root}/abc`);
        await notAsked.body?.cancel();
        // The wait's 202 (the timeout passed) carries it too.
        await client.startNew('WaitForEvents', { instanceId: 'w10', input: 1 });
        const running = await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w10', { timeoutMs: 50, returnInternalServerErrorOnFailure: true });
        expect(running.status).toBe(202);
        expect(running.headers.get('location')).toBe(`${root}/w10?returnInternalServerErrorOnFailure=true`);
        await running.body?.cancel();
      });

      it('answers 200 with the output the moment the instance completes within the timeout', async () => {
        await answers200OnCompletion('w1', (id) => client.waitForCompletionOrCreateCheckStatusResponse(request(), id, { timeoutMs: 60_000 }));
      });

      it('answers 202 with the check-status response when the timeout passes first', async () => {
        const response = await answers202WhileRunning('w2', (id) => client.waitForCompletionOrCreateCheckStatusResponse(request(), id, { timeoutMs: 50 }));
        expect(response.headers.get('location')).toBe('https://app.example.com/runtime/webhooks/durabletask/instances/w2');
      });

      it("takes Durable Functions' option names: timeoutInMilliseconds (timeoutMs wins) and retryIntervalInMilliseconds (ignored)", async () => {
        // Durable Functions' form, as its SDK's callers write it: the 50 ms timeout applies, the interval changes nothing.
        await answers202WhileRunning('w6', (id) => client.waitForCompletionOrCreateCheckStatusResponse(request(), id, {
          timeoutInMilliseconds: 50, retryIntervalInMilliseconds: 1000,
        }));
        const wait = vi.spyOn(client, 'waitForCompletion');
        try {
          const both = await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w6', { timeoutMs: 50, timeoutInMilliseconds: 3_600_000 });
          expect(both.status).toBe(202);
          await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w6', { timeoutInMilliseconds: 40, retryIntervalInMilliseconds: 10 });
          expect(wait.mock.calls).toEqual([['w6', { timeoutMs: 50 }], ['w6', { timeoutMs: 40 }]]);
        } finally {
          wait.mockRestore();
        }
        await answers200OnCompletion('w7', (id) => client.waitForCompletionOrCreateCheckStatusResponse(request(), id, {
          timeoutInMilliseconds: 60_000, retryIntervalInMilliseconds: 0,
        }));
      });

      it("takes Durable Functions' positional form (request, id, timeoutInMilliseconds, retryIntervalInMilliseconds)", async () => {
        // As the SDK's v1/v2 callers write it: the 50 ms timeout applies, the interval changes nothing.
        await answers202WhileRunning('w8', (id) => client.waitForCompletionOrCreateCheckStatusResponse(request(), id, 50, 1000));
        const wait = vi.spyOn(client, 'waitForCompletion');
        try {
          expect((await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w8', 40)).status).toBe(202);
          expect((await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w8', 0, 0)).status).toBe(202);
          expect(wait.mock.calls).toEqual([['w8', { timeoutMs: 40 }], ['w8', { timeoutMs: 0 }]]);
        } finally {
          wait.mockRestore();
        }
        await answers200OnCompletion('w9', (id) => client.waitForCompletionOrCreateCheckStatusResponse(request(), id, 60_000, 1000));
      });

      it('answers 200 with the status for Terminated and 500 with the status for Failed, as Durable Functions', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'w3', input: 1 });
        await client.terminate('w3', 'enough');
        const terminated = await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w3');
        expect(terminated.status).toBe(200);
        expect(await terminated.json()).toMatchObject({ instanceId: 'w3', runtimeStatus: 'Terminated', output: 'enough', input: 1, customStatus: null });
        await client.startNew('StepThenFlaky', { instanceId: 'w4' });
        const failed = await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w4');
        expect(failed.status).toBe(500);
        expect(await failed.json()).toMatchObject({ instanceId: 'w4', runtimeStatus: 'Failed', output: expect.stringContaining('flaky 10 is broken') });
        // As .NET's wait: returnInternalServerErrorOnFailure false answers a Failed instance 200, true (the default) 500.
        const asked200 = await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w4', { returnInternalServerErrorOnFailure: false });
        expect(asked200.status).toBe(200);
        expect(await asked200.json()).toMatchObject({ instanceId: 'w4', runtimeStatus: 'Failed' });
        expect((await client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w4', { returnInternalServerErrorOnFailure: true })).status).toBe(500);
      });

      it('refuses malformed options and requests with a typed 400 naming them, never a TypeError', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'w5', input: 1 });
        const throwing = new Proxy({}, { get: () => { throw new Error('getter threw'); } });
        const refused: [() => unknown, string][] = [
          [() => client.createCheckStatusResponse(request(), 'w5', null as never), 'createCheckStatusResponse options must be an object'],
          [() => client.createCheckStatusResponse(request(), 'w5', throwing as never), 'createCheckStatusResponse options.baseUrl threw when read'],
          [() => client.createCheckStatusResponse(request(), 'w5', { baseUrl: 42 } as never), 'createCheckStatusResponse options.baseUrl must be a string'],
          [() => client.createCheckStatusResponse(request(), 'w5', { key: 42 } as never), 'createCheckStatusResponse options.key must be a string'],
          [
            () => client.createCheckStatusResponse(request(), 'w5', { returnInternalServerErrorOnFailure: 'true' } as never),
            'createCheckStatusResponse options.returnInternalServerErrorOnFailure must be a boolean',
          ],
          [() => client.createCheckStatusResponse(undefined as never, 'w5'), 'request.url undefined is not an absolute URL'],
          [
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', null as never),
            'waitForCompletionOrCreateCheckStatusResponse options must be an object',
          ],
          [
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', { timeoutMs: -1 }),
            'waitForCompletionOrCreateCheckStatusResponse options.timeoutMs must be a number >= 0 (ms)',
          ],
          [
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', { timeoutInMilliseconds: Number.NaN }),
            'waitForCompletionOrCreateCheckStatusResponse options.timeoutInMilliseconds must be a number >= 0 (ms)',
          ],
          [
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', { retryIntervalInMilliseconds: '1s' } as never),
            'waitForCompletionOrCreateCheckStatusResponse options.retryIntervalInMilliseconds must be a number >= 0 (ms)',
          ],
          // The positional form, by the same rule: each argument is named as the member it stands for.
          [
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', -1),
            'waitForCompletionOrCreateCheckStatusResponse options.timeoutInMilliseconds must be a number >= 0 (ms)',
          ],
          [
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', Number.NaN, 10),
            'waitForCompletionOrCreateCheckStatusResponse options.timeoutInMilliseconds must be a number >= 0 (ms)',
          ],
          [
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', 100, -1),
            'waitForCompletionOrCreateCheckStatusResponse options.retryIntervalInMilliseconds must be a number >= 0 (ms)',
          ],
          [
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', undefined, '1s' as never),
            'waitForCompletionOrCreateCheckStatusResponse options.retryIntervalInMilliseconds must be a number >= 0 (ms)',
          ],
          [
            // An options object and a fourth argument: the third is then the positional timeout, which is no number.
            () => client.waitForCompletionOrCreateCheckStatusResponse(request(), 'w5', { timeoutMs: 50 } as never, 10),
            'waitForCompletionOrCreateCheckStatusResponse options.timeoutInMilliseconds must be a number >= 0 (ms)',
          ],
        ];
        for (const [call, message] of refused) {
          await expect((async () => call())()).rejects.toMatchObject({ code: 'invalid-argument', status: 400, message });
        }
      });

      it('rejects an unknown instance (404)', async () => {
        await expect(client.waitForCompletionOrCreateCheckStatusResponse(request(), 'nobody', { timeoutMs: 50 }))
          .rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
      });
    });

    describe('commands by filter (terminateBy, suspendBy, resumeBy, cancelBy)', () => {
      /** Starts `WaitForEvents` instances `${prefix}1` .. `${prefix}n` (each waits for an event that never comes). */
      const startWaiting = async (prefix: string, n: number): Promise<string[]> => {
        const ids = Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
        for (const id of ids) await client.startNew('WaitForEvents', { instanceId: id, input: 1 });
        return ids;
      };
      const statusesOf = async (ids: readonly string[]) => Promise.all(ids.map(async (id) => (await client.getStatus(id))?.runtimeStatus));

      it('terminates every active instance the filter matches, with the reason, and leaves the rest; a repeat finds none', async () => {
        const ids = await startWaiting('bulk-', 3);
        await client.startNew('WaitForItems', { instanceId: 'bulk-other-name', input: { items: 1 } });
        await client.startNew('Echo', { instanceId: 'bulk-done', input: 1 });
        await client.waitForCompletion('bulk-done', SETTLED);
        await client.startNew('WaitForEvents', { instanceId: 'elsewhere', input: 1 });
        expect(await client.terminateBy({ instanceIdPrefix: 'bulk-', name: 'WaitForEvents' }, { why: 'stop' })).toEqual({ instancesAffected: 3, instancesSkipped: 0 });
        for (const id of ids) expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: { why: 'stop' } });
        expect(await statusesOf(['bulk-other-name', 'elsewhere'])).not.toContain('Terminated');
        expect((await client.getStatus('bulk-done'))?.runtimeStatus).toBe('Completed');
        // Repeating is safe: the terminated instances no longer match.
        expect(await client.terminateBy({ instanceIdPrefix: 'bulk-', name: 'WaitForEvents' }, 'again')).toEqual({ instancesAffected: 0, instancesSkipped: 0 });
        // A runtimeStatus of terminal statuses only matches nothing: not an error.
        expect(await client.terminateBy({ runtimeStatus: ['Completed', 'Failed'] })).toEqual({ instancesAffected: 0, instancesSkipped: 0 });
        expect((await client.getStatus('bulk-done'))?.runtimeStatus).toBe('Completed');
      });

      it('takes every instance in the statuses the command applies to when the filter names nothing', async () => {
        // The HTTP API refuses a request naming no filter (a command on the id `.` reaches that route); a remote
        // client names the statuses for `{}`, so that it means what it means to a local client.
        const ids = await startWaiting('all-', 3);
        await client.startNew('Echo', { instanceId: 'all-done', input: 1 });
        await client.waitForCompletion('all-done', SETTLED);
        expect(await client.suspendBy({}, 'everything')).toEqual({ instancesAffected: 3, instancesSkipped: 0 });
        expect(await statusesOf(ids)).toEqual(['Suspended', 'Suspended', 'Suspended']);
        expect(await client.terminateBy({}, 'everything')).toEqual({ instancesAffected: 3, instancesSkipped: 0 });
        expect(await statusesOf([...ids, 'all-done'])).toEqual(['Terminated', 'Terminated', 'Terminated', 'Completed']);
      });

      it('takes up at most `limit` instances per call and goes on from its continuation token, in the listing order', async () => {
        const ids = await startWaiting('paged-', 5);
        const first = await client.terminateBy({ instanceIdPrefix: 'paged-' }, 'stop', { limit: 2 });
        expect(first).toMatchObject({ instancesAffected: 2, instancesSkipped: 0, continuationToken: expect.any(String) });
        const after = await statusesOf(ids);
        expect(after.slice(0, 2)).toEqual(['Terminated', 'Terminated']);
        expect(after.slice(2)).not.toContain('Terminated');
        const second = await client.terminateBy({ instanceIdPrefix: 'paged-' }, 'stop', { limit: 2, continuationToken: first.continuationToken });
        expect(second).toMatchObject({ instancesAffected: 2, instancesSkipped: 0, continuationToken: expect.any(String) });
        const last = await client.terminateBy({ instanceIdPrefix: 'paged-' }, 'stop', { limit: 2, continuationToken: second.continuationToken });
        expect(last).toEqual({ instancesAffected: 1, instancesSkipped: 0 });
        expect(new Set(await statusesOf(ids))).toEqual(new Set(['Terminated']));
      });

      it('ends sub-orchestrations the filter matches once each, by a recursive terminate of their parent or their own: never an error', async () => {
        await client.startNew('GrandparentOfGated', { instanceId: 'btree' });
        await gates.reached('btree-mid-child/1');
        const result = await client.terminateBy({ instanceIdPrefix: 'btree' }, 'stop', { recursive: true });
        expect(result.instancesAffected + result.instancesSkipped).toBe(3);
        expect(result.instancesAffected).toBeGreaterThanOrEqual(1);
        expect(await statusesOf(['btree', 'btree-mid', 'btree-mid-child'])).toEqual(['Terminated', 'Terminated', 'Terminated']);
      });

      it('suspends the Pending and Running instances the filter matches and resumes the Suspended ones', async () => {
        const ids = await startWaiting('pause-', 3);
        await client.suspend('pause-3', 'earlier');
        expect(await client.suspendBy({ instanceIdPrefix: 'pause-' }, 'maintenance')).toEqual({ instancesAffected: 2, instancesSkipped: 0 });
        expect(await statusesOf(ids)).toEqual(['Suspended', 'Suspended', 'Suspended']);
        expect(await client.suspendBy({ instanceIdPrefix: 'pause-' })).toEqual({ instancesAffected: 0, instancesSkipped: 0 });
        expect(await client.resumeBy({ instanceIdPrefix: 'pause-' }, 'done')).toEqual({ instancesAffected: 3, instancesSkipped: 0 });
        expect(await statusesOf(ids)).not.toContain('Suspended');
        // They go on: the event each waits for completes it.
        await client.raiseEvent('pause-1', 'Item', 'go');
        expect(await client.waitForCompletion('pause-1', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['go'] });
      });

      it('sends a cancel to every active instance the filter matches', async () => {
        const ids = await startWaiting('stopme-', 2);
        expect(await client.cancelBy({ instanceIdPrefix: 'stopme-' }, 'withdrawn')).toEqual({ instancesAffected: 2, instancesSkipped: 0 });
        for (const id of ids) {
          const done = await client.waitForCompletion(id, SETTLED);
          expect(done.runtimeStatus).toBe('Failed');
          expect(isCancellation(done.failureDetails)).toBe(true);
        }
      });

      it('refuses a malformed filter, reason or option (400) and changes nothing; an aborted signal changes nothing', async () => {
        const ids = await startWaiting('keep-', 2);
        const refused = [
          () => client.terminateBy({ runtimeStatus: 'Running' } as never),
          () => client.terminateBy({ instanceIdPrefix: 'keep-', name: '' }),
          () => client.terminateBy({ instanceIdPrefix: 'keep-' }, () => 'not json'),
          () => client.suspendBy({ instanceIdPrefix: 'keep-' }, 42 as never),
          () => client.resumeBy({ instanceIdPrefix: 'keep-' }, undefined, { limit: 0 }),
          () => client.cancelBy({ instanceIdPrefix: 'keep-' }, undefined, { signal: 'stop' as never }),
          () => client.terminateBy({ instanceIdPrefix: 'keep-' }, undefined, { recursive: 'yes' as never }),
          () => client.terminateBy({ instanceIdPrefix: 'keep-' }, undefined, { continuationToken: 'forged' }),
          () => client.suspendBy({ instanceIdPrefix: 'keep-' }, undefined, 'all' as never),
        ];
        for (const call of refused) await expect(call()).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        const aborted = new AbortController();
        aborted.abort(new Error('stopped by the caller'));
        await expect(client.terminateBy({ instanceIdPrefix: 'keep-' }, 'stop', { signal: aborted.signal })).rejects.toThrow('stopped by the caller');
        expect(await statusesOf(ids)).not.toContain('Terminated');
        expect(await statusesOf(ids)).not.toContain('Suspended');
      });
    });

    describe('purge', () => {
      it('purges a terminal instance, returns 0 for unknown, refuses an active one (409)', async () => {
        await client.startNew('Echo', { instanceId: 'p', input: 1 });
        await client.waitForCompletion('p', SETTLED);
        expect(await client.purgeInstanceHistory('p')).toEqual({ instancesDeleted: 1 });
        expect(await client.getStatus('p')).toBeUndefined();
        expect(await client.purgeInstanceHistory('p')).toEqual({ instancesDeleted: 0 });
        await client.startNew('WaitForEvents', { instanceId: 'active', input: 1 });
        await expect(client.purgeInstanceHistory('active')).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        expect(await client.getStatus('active')).toBeDefined();
        await client.suspend('active');
        await expect(client.purgeInstanceHistory('active')).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        expect((await client.getStatus('active'))?.runtimeStatus).toBe('Suspended');
      });

      it('purges an instance with its sub-orchestrations at every depth with `recursive`; a tree with an active member is refused (409)', async () => {
        await client.startNew('GrandparentOfGated', { instanceId: 'ptree' });
        await gates.reached('ptree-mid-child/1');
        await client.terminate('ptree', 'stop');
        // The children run on: a recursive purge deletes nothing.
        await expect(client.purgeInstanceHistory('ptree', { recursive: true })).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
        expect(await client.getStatus('ptree')).toBeDefined();
        await client.terminate('ptree-mid', 'stop', { recursive: true });
        expect(await client.purgeInstanceHistory('ptree', { recursive: true })).toEqual({ instancesDeleted: 3 });
        for (const id of ['ptree', 'ptree-mid', 'ptree-mid-child']) expect(await client.getStatus(id)).toBeUndefined();
        await expect(client.purgeInstanceHistory('ptree', { recursive: 1 } as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
      });

      it('purges terminal instances by filter', async () => {
        const from = new Date(Date.now() - 60_000);
        for (const id of ['a', 'b']) {
          await client.startNew('Echo', { instanceId: id, input: id });
          await client.waitForCompletion(id, SETTLED);
        }
        await client.startNew('WaitForEvents', { instanceId: 'c', input: 1 });
        await firstValueFrom(client.status$('c').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: ['Failed'] })).toEqual({ instancesDeleted: 0 });
        // Terminal instances only, whatever the filter names: a Running instance is never purged.
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: ['Running'] })).toEqual({ instancesDeleted: 0 });
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: ['Running', 'Completed'] })).toEqual({ instancesDeleted: 2 });
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['c']);
      });

      it('refuses a string runtimeStatus or an unknown status name (400) and deletes nothing', async () => {
        const from = new Date(Date.now() - 60_000);
        await client.startNew('Echo', { instanceId: 'kept', input: 1 });
        await client.waitForCompletion('kept', SETTLED);
        for (const filter of [{ createdTimeFrom: from, runtimeStatus: 'Completed' }, { createdTimeFrom: from, runtimeStatus: ['Completed', 'Done'] }]) {
          await expect(client.purgeInstanceHistoryBy(filter as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
          await expect(client.listInstances(filter as never)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
        }
        expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['kept']);
      });
    });

    describe('waitForCompletion', () => {
      it('resolves with the latest status when the timeout passes', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'slow', input: 1 });
        const status = await client.waitForCompletion('slow', { timeoutMs: 50 });
        expect(['Pending', 'Running']).toContain(status.runtimeStatus);
      });

      it('does not give up at once by default (10 s, as Durable Functions): an instance that completes 200 ms later resolves it Completed', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'default-wait', input: 1 });
        const waiting = client.waitForCompletion('default-wait');
        await new Promise((resolve) => setTimeout(resolve, 200));
        await client.raiseEvent('default-wait', 'Item', 'done');
        expect((await waiting).runtimeStatus).toBe('Completed');
      });

      it('rejects an unknown instance (404)', async () => {
        await expect(client.waitForCompletion('nobody', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
        // At once, not when the timeout passes: an unknown id has nothing to wait for.
        await expect(within(client.waitForCompletion('nobody', { timeoutMs: Infinity }), 'the unknown instance\u2019s 404'))
          .rejects.toMatchObject({ code: 'instance-not-found', status: 404 });
      });

      it('waits as long as it takes with timeoutMs: Infinity or beyond 2^31-1 ms, and refuses NaN or negative timeouts', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'patient', input: 1 });
        const forever = client.waitForCompletion('patient', { timeoutMs: Infinity });
        const long = client.waitForCompletion('patient', { timeoutMs: 2 ** 31 + 5 });
        // An overflowing timer fires after about 1 ms; both waits must still be pending well after that.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await client.raiseEvent('patient', 'Item', 'done');
        expect((await forever).runtimeStatus).toBe('Completed');
        expect((await long).runtimeStatus).toBe('Completed');
        for (const timeoutMs of [Number.NaN, -1]) {
          await expect(client.waitForCompletion('patient', { timeoutMs })).rejects.toMatchObject({ code: 'invalid-argument' });
        }
      });
    });

    describe('observables', () => {
      /**
       * history$ of the GatedLoop instance `instanceId` until its ExecutionCompleted: `seen` holds the events so far,
       * `done` resolves at the end. Each execution goes on once the watcher has its activity's TaskScheduled.
       */
      function watchGatedLoop(instanceId: string): { seen: HistoryEvent[]; done: Promise<HistoryEvent[]> } {
        const seen: HistoryEvent[] = [];
        const done = firstValueFrom(client.history$(instanceId).pipe(
          tap((e) => {
            seen.push(e);
            if (e.type === 'TaskScheduled') gates.open(String(e.input));
          }),
          takeWhile((e) => e.type !== 'ExecutionCompleted', true),
          toArray(),
        ));
        return { seen, done };
      }

      it('gives the first value of status$, customStatus$, instances$ and history$ after subscribe returns, as their TSDoc says', async () => {
        await client.startNew('Echo', { instanceId: 'first', input: 1 });
        await client.waitForCompletion('first', SETTLED);
        const watches: Observable<unknown>[] = [client.status$('first'), client.customStatus$('first'), client.instances$(), client.history$('first')];
        for (const watch of watches) {
          const values: unknown[] = [];
          const got = new Promise<void>((resolve) => watch.pipe(take(1)).subscribe((value) => {
            values.push(value);
            resolve();
          }));
          expect(values).toHaveLength(0); // nothing during subscribe, whatever the store
          await within(got, 'the first value');
          expect(values).toHaveLength(1);
        }
      });

      it('status$ emits the current snapshot, then each committed change in order, without consecutive duplicates', async () => {
        const watched = collectUntil(client.status$('watched'), (s) => s?.runtimeStatus === 'Completed');
        await watched.ready;
        await client.startNew('E1_HelloSequence', { instanceId: 'watched' });
        const statuses = await watched.done;
        expect(statuses[0]).toBeUndefined();
        const order = ['Pending', 'Running', 'Completed'];
        const runtimeStatuses = statuses.slice(1).map((s) => s!.runtimeStatus);
        expect(runtimeStatuses.at(-1)).toBe('Completed');
        expect(runtimeStatuses).toContain('Running');
        for (let i = 1; i < runtimeStatuses.length; i++) {
          expect(order.indexOf(runtimeStatuses[i]!)).toBeGreaterThanOrEqual(order.indexOf(runtimeStatuses[i - 1]!));
        }
        for (let i = 1; i < statuses.length; i++) expect(JSON.stringify(statuses[i])).not.toBe(JSON.stringify(statuses[i - 1]));
        expect(statuses.map((s) => s?.customStatus).filter((c, i, all) => i === 0 || c !== all[i - 1])).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
      });

      it('status$ goes on after a terminal status: a purge and a new execution under the same id follow on one subscription', async () => {
        let executions = 0;
        const watched = collectUntil(client.status$('again'), (s) => s?.runtimeStatus === 'Completed' && ++executions === 2);
        await watched.ready;
        await client.startNew('Echo', { instanceId: 'again', input: 'first' });
        await client.waitForCompletion('again', SETTLED);
        await client.purgeInstanceHistory('again');
        await client.startNew('Echo', { instanceId: 'again', input: 'second' });
        const statuses = await watched.done;
        const completed = statuses.filter((s) => s?.runtimeStatus === 'Completed').map((s) => s!.output);
        expect(completed).toEqual(['first', 'second']);
        const firstDone = statuses.findIndex((s) => s?.runtimeStatus === 'Completed');
        expect(statuses.slice(firstDone + 1)).toContain(undefined); // the purge
      });

      it('customStatus$ delivers Tokyo, Seattle, London whole', async () => {
        const values = collect(client.customStatus$('hello'), 4);
        await values.ready;
        await client.startNew('E1_HelloSequence', { instanceId: 'hello' });
        expect(await values.done).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
      });

      it('a watch subscribed before a command sees what the command commits: subscribe, then start at once, misses nothing', async () => {
        // No await between the subscriptions and the start: a remote client's watch must be in place on the server
        // before the start reaches it, as the local client's is from the subscribe.
        const customs = collectUntil(client.customStatus$('subscribe-start'), (v) => v === 'London');
        const statuses = collectUntil(client.status$('subscribe-start'), (s) => s?.runtimeStatus === 'Completed');
        await client.startNew('E1_HelloSequence', { instanceId: 'subscribe-start' });
        expect(await customs.done).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
        // Every committed status, in order: none yet, created, its first step, each activity's result.
        expect((await statuses.done).map((s) => s && `${s.runtimeStatus} ${s.customStatus ?? '-'}`)).toEqual([
          undefined, 'Pending -', 'Running -', 'Running Tokyo', 'Running Seattle', 'Completed London',
        ]);
      });

      it('customStatus$ delivers every value committed while its first read was answering, in order, after that read', async () => {
        const hold = held.holdNextAnswer('slow-first');
        const values = collectUntil(client.customStatus$('slow-first'), (v) => v === 'London');
        await within(hold.reached, 'customStatus$\u2019s first read'); // the instance did not exist yet when it was read
        await client.startNew('E1_HelloSequence', { instanceId: 'slow-first' });
        // Through the runtime's own client: a remote client may serve its waits from the watch whose read is held.
        await runtime.client.waitForCompletion('slow-first', SETTLED);
        hold.release();
        expect(await values.done).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
      });

      it('customStatus$ delivers every committed value in order for 100 concurrent instances', async () => {
        const ids = Array.from({ length: 100 }, (_, i) => `many-${i}`);
        const streams = ids.map((id) => collect(client.customStatus$(id), 4));
        await Promise.all(streams.map((s) => s.ready));
        await Promise.all(ids.map((id) => client.startNew('E1_HelloSequence', { instanceId: id })));
        const all = await Promise.all(streams.map((s) => s.done));
        for (const values of all) expect(values).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
      }, HEAVY_TEST_TIMEOUT_MS);

      it('customStatus$ does not emit again a value with the same JSON text as the one before, though a fresh object', async () => {
        const values = collectUntil(client.customStatus$('same-json'), (v) => v === 'done');
        await values.ready;
        await client.startNew('SameJsonStatus', { instanceId: 'same-json' });
        expect(await values.done).toEqual([undefined, { stage: 'working' }, 'done']);
      });

      it('customStatus$ compares the next value with the one committed, not with what its watcher made of it: a value changed to equal the next is still followed by it', async () => {
        await client.startNew('GatedCount', { instanceId: 'changed-custom', input: 3 });
        await gates.reached('changed-custom/1');
        // A single watcher (its values are its own) that changes { received: 1 } into the value committed next.
        const values = collectUntil(client.customStatus$('changed-custom').pipe(tap((value) => {
          if ((value as { received?: number } | undefined)?.received === 1) (value as { received: number }).received = 2;
        })), (value) => (value as { received?: number } | undefined)?.received === 3);
        await values.ready;
        for (let i = 1; i <= 3; i++) gates.open(`changed-custom/${i}`);
        // The first one as changed, then { received: 2 } as committed.
        expect(await values.done).toEqual([undefined, { received: 2 }, { received: 2 }, { received: 3 }]);
      });

      /** The `received` count of a GatedCount status's custom status. */
      const received = (s: InstanceStatus | undefined): number | undefined => (s?.customStatus as { received?: number } | undefined)?.received;

      /** Runs `body` with the client under test of a runtime of its own whose clock does not move, then closes both. */
      const withStillClock = async (body: (watcher: DurableClient) => Promise<void>): Promise<void> => {
        const own = createRuntime({ store: await newStore(), ...registry, clock: new VirtualClock(), logger: silentLogger });
        await own.start();
        const ownUnder = await wrap(own);
        try {
          await body(ownUnder.client);
        } finally {
          await ownUnder.close();
          await own.stop();
          await own.store.close();
        }
      };

      it('status$ compares the next status with the one committed, not with what its watcher made of it: a status changed to equal the next is still followed by it', async () => {
        // A clock that does not move: the commits of the instance differ only in their custom status, so the status
        // a watcher changed into the next one would count as a repeat of it if that were what the next one is compared with.
        await withStillClock(async (watcher) => {
          await watcher.startNew('GatedCount', { instanceId: 'changed-status', input: 3 });
          await gates.reached('changed-status/1');
          const statuses = collectUntil(watcher.status$('changed-status').pipe(tap((s) => {
            if (received(s) === 1) (s!.customStatus as { received: number }).received = 2;
          })), (s) => s?.runtimeStatus === 'Completed');
          await statuses.ready;
          for (let i = 1; i <= 3; i++) gates.open(`changed-status/${i}`);
          const shown = (await statuses.done).map((s) => `${s?.runtimeStatus} ${received(s) ?? '-'}`);
          expect(shown).toEqual(['Running -', 'Running 2', 'Running 2', 'Completed 3']);
        });
      });

      it('instances$ compares a member\'s next status with the one committed, not with what its watcher made of it: a member changed to equal the next is still followed by it', async () => {
        // As for status$: a clock that does not move, so the member's commits differ only in their custom status, and
        // the one a watcher changed into the next would make that next one look like a commit of history only.
        await withStillClock(async (watcher) => {
          await watcher.startNew('GatedCount', { instanceId: 'changed-member', input: 3 });
          await gates.reached('changed-member/1');
          // A single watcher of the list (its statuses are its own) that changes the member's { received: 1 } into the next value.
          const lists = collectUntil(watcher.instances$({ instanceIdPrefix: 'changed-member' }).pipe(tap((l) => {
            if (received(l[0]) === 1) (l[0]!.customStatus as { received: number }).received = 2;
          })), (l) => l[0]?.runtimeStatus === 'Completed');
          await lists.ready;
          for (let i = 1; i <= 3; i++) gates.open(`changed-member/${i}`);
          const shown = (await lists.done).map((l) => l.map((s) => `${s.runtimeStatus} ${received(s) ?? '-'}`).join());
          expect(shown).toEqual(['Running -', 'Running 2', 'Running 2', 'Completed 3']);
        });
      });

      it('instances$ keeps to its filter: other ids never join, and a member whose status leaves the filter leaves the list', async () => {
        const emitted: string[][] = [];
        const lists = client.instances$({ instanceIdPrefix: 'kept-', runtimeStatus: ['Pending', 'Running'] });
        const last = firstValueFrom(lists.pipe(
          map((list) => list.map((s) => s.instanceId)),
          tap((ids) => emitted.push(ids)),
          filter((ids) => ids.includes('kept-3')),
        ));
        await client.startNew('WaitForEvents', { instanceId: 'kept-1', input: 1 });
        await client.startNew('WaitForEvents', { instanceId: 'other-1', input: 1 });
        await client.startNew('Echo', { instanceId: 'kept-2', input: 2 });
        await client.waitForCompletion('kept-2', SETTLED);
        await firstValueFrom(client.status$('other-1').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        await client.startNew('WaitForEvents', { instanceId: 'kept-3', input: 1 });
        expect(await last).toEqual(['kept-1', 'kept-3']);
        expect(emitted.flat()).not.toContain('other-1');
      });

      it('instances$ leaves inputs out with showInput: false, and shows them by default', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'quiet-1', input: 1 });
        const quiet = await firstValueFrom(client.instances$({ instanceIdPrefix: 'quiet-', showInput: false }).pipe(filter((l) => l.length === 1)));
        expect(quiet[0]).not.toHaveProperty('input');
        const shown = await firstValueFrom(client.instances$({ instanceIdPrefix: 'quiet-' }).pipe(filter((l) => l.length === 1)));
        expect(shown[0]).toHaveProperty('input', 1);
      });

      it('instances$ lists in the order of listInstances (created time, then instance id), and a restarted member moves to its new place', async () => {
        await startOutOfIdOrder(client, 'Echo', 'live-');
        for (const id of ['live-a', 'live-b', 'live-c', 'live-d']) await client.waitForCompletion(id, SETTLED);
        const ids = (list: readonly InstanceStatus[]) => list.map((s) => s.instanceId);
        const listed = ids((await client.listInstances({ instanceIdPrefix: 'live-' })).instances);
        expect(listed[0]).toBe('live-c');
        const live = client.instances$({ instanceIdPrefix: 'live-' });
        const first = await firstValueFrom(live);
        expect(ids(first)).toEqual(listed);
        expect(ids(first)).toEqual(ids(byPageKey(first)));
        // A restart gives c a new created time, after d's: it moves from first to last, on the same subscription.
        const created = first.find((s) => s.instanceId === 'live-c')!.createdTime.getTime();
        const moved = firstValueFrom(live.pipe(filter((list) => (list.find((s) => s.instanceId === 'live-c')?.createdTime.getTime() ?? 0) > created)));
        await nextMillisecond();
        await client.restart('live-c');
        expect(ids(await moved)).toEqual([...listed.filter((id) => id !== 'live-c'), 'live-c']);
        expect(ids(await client.getStatusBy({ instanceIdPrefix: 'live-' }))).toEqual(ids(await moved));
      });

      it('moves an instance between name filters, lists and live lists, when its id starts again under another orchestrator', async () => {
        const ids = (list: readonly InstanceStatus[]) => list.map((s) => s.instanceId);
        const shown = (name: string, want: string) => firstValueFrom(client.instances$({ name, order: 'desc' }).pipe(
          map((list) => list.map((s) => `${s.instanceId}:${s.name}`).join(',')),
          filter((text) => text === want),
        ));
        await client.startNew('Echo', { instanceId: 'mv-x', input: 1 });
        await client.waitForCompletion('mv-x', SETTLED);
        const echoLeft = shown('Echo', '');
        const waitJoined = shown('WaitForEvents', 'mv-x:WaitForEvents');
        await nextMillisecond();
        await client.startNew('WaitForEvents', { instanceId: 'mv-x', input: 1 });
        await echoLeft;
        await waitJoined;
        expect(await client.getStatusBy({ name: 'Echo' })).toEqual([]);
        expect(ids(await client.getStatusBy({ name: ['WaitForEvents'], order: 'desc' }))).toEqual(['mv-x']);
        await client.terminate('mv-x', 'done');
        await client.waitForCompletion('mv-x', SETTLED);
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), name: 'Echo' })).toEqual({ instancesDeleted: 0 });
        expect(await client.getStatus('mv-x')).toMatchObject({ name: 'WaitForEvents', runtimeStatus: 'Terminated' });
        expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), name: 'WaitForEvents' })).toEqual({ instancesDeleted: 1 });
      });

      it('instances$ with order desc keeps the newest first as members join, change and leave', async () => {
        const lists = client.instances$({ name: 'WaitForEvents', order: 'desc' });
        const shown = (want: string) => firstValueFrom(lists.pipe(
          map((list) => list.map((s) => `${s.instanceId}:${s.runtimeStatus}`).join(',')),
          filter((text) => text === want),
        ));
        expect(await firstValueFrom(lists)).toEqual([]);
        const one = shown('desc-a:Running');
        await client.startNew('WaitForEvents', { instanceId: 'desc-a', input: 1 });
        await one;
        const two = shown('desc-b:Running,desc-a:Running');
        await nextMillisecond();
        await client.startNew('Echo', { instanceId: 'desc-e', input: 1 }); // another orchestrator: never listed
        await client.startNew('WaitForEvents', { instanceId: 'desc-b', input: 1 });
        await two;
        const changed = shown('desc-b:Running,desc-a:Terminated');
        await client.terminate('desc-a', 'done');
        await changed;
        const left = shown('desc-b:Running');
        await client.purgeInstanceHistory('desc-a');
        await left;
      });

      it('instances$ re-emits when membership or a member status changes', async () => {
        const lists = client.instances$({ instanceIdPrefix: 'live-' });
        const firstList = await firstValueFrom(lists);
        expect(firstList).toEqual([]);
        const seen = firstValueFrom(lists.pipe(
          map((list) => list.map((s) => `${s.instanceId}:${s.runtimeStatus}`).join(',')),
          filter((text) => text === 'live-1:Completed,live-2:Running'),
        ));
        await client.startNew('Echo', { instanceId: 'live-1', input: 1 });
        await client.startNew('WaitForEvents', { instanceId: 'live-2', input: 1 });
        await client.startNew('Echo', { instanceId: 'other', input: 1 });
        expect(await seen).toBe('live-1:Completed,live-2:Running');
        const afterPurge = firstValueFrom(lists.pipe(filter((list) => list.length === 1 && list[0]!.instanceId === 'live-2')));
        await client.waitForCompletion('live-1', SETTLED);
        await client.purgeInstanceHistory('live-1');
        expect((await afterPurge).map((s) => s.instanceId)).toEqual(['live-2']);
      });

      it('history$ shows each execution of a continueAsNew loop once, in order, each event under its own ExecutionStarted', async () => {
        const last = 4;
        const { seen, done } = watchGatedLoop('loop'); // from before the start
        await client.startNew('GatedLoop', { instanceId: 'loop', input: { n: 0, last } });
        await done;
        const executions = executionsOf(seen);
        expect(executions.map((x) => x.input)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n, last })));
        // Each execution's history whole, from its first event: before continueAsNew, the step that scheduled the
        // activity (its last step moves on to the next execution); the last one to its end.
        for (const x of executions.slice(0, -1)) {
          expect(x.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled', 'OrchestratorCompleted']);
        }
        const stored = (await client.getStatus('loop', { showHistory: true }))!.history!;
        expect(executions.at(-1)!.events.map((e) => e.type)).toEqual(stored.map((e) => e.type).slice(0, executions.at(-1)!.events.length));
        expect(seen).toHaveLength(4 * last + stored.length - 1); // all but the last step's OrchestratorCompleted (the take ends before)
      });

      it('history$ never shows events of one execution as another\'s, however late a history read answers', async () => {
        // The first read of the history waits until the instance has gone on to its next execution (continueAsNew).
        const read = held.holdNext();
        const { seen, done } = watchGatedLoop('late');
        await client.startNew('GatedLoop', { instanceId: 'late', input: { n: 0, last: 2 } });
        await read.reached;
        gates.open('late/0');
        await gates.reached('late/1');
        read.release();
        await done;
        const executions = executionsOf(seen);
        // The history the late read found (execution 1's) is not shown as execution 0's, nor twice: execution 0's is
        // gone (continueAsNew keeps only the current history), the later ones are whole.
        const inputs = executions.map((x) => (x.input as { n: number }).n);
        expect(inputs).toEqual([...new Set(inputs)].sort());
        expect(inputs.slice(-2)).toEqual([1, 2]);
        for (const x of executions) {
          expect(x.events[0]?.type).toBe('OrchestratorStarted');
          const scheduled = x.events.filter((e) => e.type === 'TaskScheduled').map((e) => (e as { input?: unknown }).input);
          expect(scheduled).toEqual([`late/${(x.input as { n: number }).n}`]);
        }
        expect(executions.at(-2)!.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled', 'OrchestratorCompleted']);
        expect(seen.filter((e) => e.type === 'ExecutionCompleted')).toHaveLength(1);
      });

      it('status$ and instances$ hand each subscriber values of its own: one that changes them changes nothing another sees', async () => {
        await client.startNew('Echo', { instanceId: 'owned-status', input: { n: 1 } });
        await client.waitForCompletion('owned-status', SETTLED);
        const change = (status: InstanceStatus | undefined): void => {
          (status!.input as { n: number }).n = 2;
          (status!.output as { n: number }).n = 2;
        };
        // Subscribed together (a remote client may serve them from one subscription), the changer first.
        const status = client.status$('owned-status');
        const [, seen] = await Promise.all([firstValueFrom(status.pipe(tap(change))), firstValueFrom(status)]);
        expect(seen).toMatchObject({ input: { n: 1 }, output: { n: 1 } });
        const list = client.instances$({ instanceIdPrefix: 'owned-' });
        const [, listed] = await Promise.all([firstValueFrom(list.pipe(tap((l) => change(l[0])))), firstValueFrom(list)]);
        expect(listed).toMatchObject([{ input: { n: 1 }, output: { n: 1 } }]);
        expect(await client.getStatus('owned-status')).toMatchObject({ input: { n: 1 }, output: { n: 1 } });
      });

      it('status$ and instances$ hand each watcher of one commit values of its own: one that changes them changes nothing another sees', async () => {
        await client.startNew('WaitForItems', { instanceId: 'owned-commit', input: { items: 2 } });
        await firstValueFrom(client.status$('owned-commit').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        type Shown = InstanceStatus | undefined;
        const received = (s: Shown): unknown => (s?.customStatus as { received?: unknown } | undefined)?.received;
        const change = (s: Shown): void => {
          if (received(s) !== 1) return; // only the value of the commit both watch, not the first (each one's own read)
          (s!.input as { items: number }).items = 99;
          (s!.customStatus as { received: number }).received = 99;
        };
        // Two watchers of each stream, both subscribed before the commit, so that both get it from the same feed.
        const status = client.status$('owned-commit');
        const list = client.instances$({ instanceIdPrefix: 'owned-commit' }).pipe(map((l) => l[0]));
        const watchers = [status.pipe(tap(change)), status, list.pipe(tap(change)), list].map((source) => {
          const seen = new ReplaySubject<Shown>();
          return { seen, subscription: source.subscribe(seen) };
        });
        try {
          for (const { seen } of watchers) await firstValueFrom(seen.pipe(filter((s) => s?.runtimeStatus === 'Running')));
          await client.raiseEvent('owned-commit', 'Item', 'x');
          const [, watched, , listed] = await Promise.all(watchers.map(({ seen }) => firstValueFrom(seen.pipe(filter((s) => received(s) !== undefined)))));
          expect(watched).toMatchObject({ input: { items: 2 }, customStatus: { received: 1 } });
          expect(listed).toMatchObject({ input: { items: 2 }, customStatus: { received: 1 } });
          expect(await client.getStatus('owned-commit')).toMatchObject({ input: { items: 2 }, customStatus: { received: 1 } });
        } finally {
          for (const { subscription } of watchers) subscription.unsubscribe();
        }
      });

      it('two clients of one store, one watcher each, hand each values of its own: one that changes them changes nothing the other client or the store shows', async () => {
        // A second client on the same store (another runtime's, a server's): each client has a single watcher of the
        // commit, so neither knows from its own watchers that the other was handed the same change.
        const other = createClient({ store: held.store });
        const watched = new ReplaySubject<InstanceStatus | undefined>();
        const subscription = client.status$('two-clients').subscribe(watched);
        try {
          await client.startNew('Report', { instanceId: 'two-clients', input: { n: 1 } });
          await firstValueFrom(watched.pipe(filter((s) => s?.runtimeStatus === 'Running')));
          // Waiting (its watch is on before the event is raised), so both hear the commit that completes the instance.
          const waited = other.waitForCompletion('two-clients', SETTLED);
          await client.raiseEvent('two-clients', 'Go', { v: 1 });
          const [shown, done] = await Promise.all([firstValueFrom(watched.pipe(filter((s) => s?.runtimeStatus === 'Completed'))), waited]);
          const original = { input: { n: 1 }, customStatus: { stage: 'done', got: { v: 1 } }, output: { got: { v: 1 } } };
          expect(shown).toMatchObject(original);
          expect(done).toMatchObject(original);
          // Each changes other members, so a change made through either client would show in the other's.
          (shown!.input as { n: number }).n = 2;
          (shown!.customStatus as { stage: string }).stage = 'changed';
          ((done.output as { got: { v: number } }).got).v = 2;
          expect(done).toMatchObject({ input: original.input, customStatus: original.customStatus });
          expect(shown).toMatchObject({ output: original.output });
          expect(await client.getStatus('two-clients')).toMatchObject(original);
          expect(await other.getStatus('two-clients')).toMatchObject(original);
        } finally {
          subscription.unsubscribe();
        }
      });

      it('customStatus$ hands each watcher of one commit a value of its own, in one client and in two of one store', async () => {
        const other = createClient({ store: held.store });
        await client.startNew('WaitForItems', { instanceId: 'owned-custom', input: { items: 2 } });
        await firstValueFrom(client.status$('owned-custom').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        const change = (value: unknown): void => {
          if ((value as { received?: number } | undefined)?.received === 1) (value as { received: number }).received = 99;
        };
        // Two watchers in the client under test (the changer first) and one in a second client, all subscribed before
        // the commit, so that all get it from the same feed.
        const watchers = [client.customStatus$('owned-custom').pipe(tap(change)), client.customStatus$('owned-custom'), other.customStatus$('owned-custom')]
          .map((source) => {
            const seen = new ReplaySubject<unknown>();
            return { seen, subscription: source.subscribe(seen) };
          });
        try {
          for (const { seen } of watchers) await firstValueFrom(seen); // each one's read has answered
          await client.raiseEvent('owned-custom', 'Item', 'x');
          const values = await Promise.all(watchers.map(({ seen }) => firstValueFrom(seen.pipe(filter((v) => v !== undefined)))));
          expect(values.slice(1)).toEqual([{ received: 1 }, { received: 1 }]);
          expect((await other.getStatus('owned-custom'))?.customStatus).toEqual({ received: 1 });
        } finally {
          for (const { subscription } of watchers) subscription.unsubscribe();
        }
      });

      it('history$ hands each subscriber events of its own: one that changes them changes nothing another sees', async () => {
        await client.startNew('E1_HelloSequence', { instanceId: 'owned-live', input: { city: 'Tokyo' } });
        await client.waitForCompletion('owned-live', SETTLED);
        const { history: committed = [] } = (await client.getStatus('owned-live', { showHistory: true, showHistoryOutput: true }))!;
        const expected = JSON.stringify(committed);
        const history = client.history$('owned-live').pipe(take(committed.length));
        const changer = history.pipe(
          tap((event) => {
            (event as { timestamp: string }).timestamp = 'changed';
            const { input } = event as { input?: unknown };
            if (typeof input === 'object' && input !== null) (input as Record<string, unknown>)['changed'] = true;
          }),
          toArray(),
        );
        // Subscribed together (a remote client may serve both from one stream), the changer first.
        const [, seen] = await Promise.all([firstValueFrom(changer), firstValueFrom(history.pipe(toArray()))]);
        expect(JSON.stringify(seen)).toBe(expected);
        expect(JSON.stringify((await client.getStatus('owned-live', { showHistory: true, showHistoryOutput: true }))!.history)).toBe(expected);
      });

      it('history$ goes on through a purge into the history of the next instance of the id: both histories, whole and in order', async () => {
        await client.startNew('Echo', { instanceId: 'again', input: 1 });
        await client.waitForCompletion('again', SETTLED);
        const historyOf = async (): Promise<readonly HistoryEvent[]> =>
          (await client.getStatus('again', { showHistory: true, showHistoryOutput: true }))!.history!;
        const first = await historyOf();
        let firstSeen!: () => void;
        const firstDelivered = new Promise<void>((resolve) => (firstSeen = resolve));
        let count = 0;
        const watched = firstValueFrom(client.history$('again').pipe(
          tap(() => {
            if (++count === first.length) firstSeen();
          }),
          take(first.length * 2), // Echo's history has the same length whatever its input
          toArray(),
        ));
        watched.catch(() => undefined); // awaited below: a failure is reported there, not as unhandled
        // A watch that has every event of the first run when it is purged misses nothing.
        await within(firstDelivered, 'the first history delivered');
        expect(await client.purgeInstanceHistory('again')).toEqual({ instancesDeleted: 1 });
        await client.startNew('Echo', { instanceId: 'again', input: 2 });
        await client.waitForCompletion('again', SETTLED);
        const second = await historyOf();
        expect(JSON.stringify(await within(watched, 'the second history delivered'))).toBe(JSON.stringify([...first, ...second]));
      });

      it('history$ replays committed events, then appends new ones as they commit', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'hist', input: 1 });
        await firstValueFrom(client.status$('hist').pipe(filter((s) => s?.runtimeStatus === 'Running')));
        const events = firstValueFrom(client.history$('hist').pipe(
          take(7),
          toArray(),
        ));
        await client.raiseEvent('hist', 'Item', 'x');
        const types = (await events).map((e: HistoryEvent) => e.type);
        expect(types).toEqual([
          'OrchestratorStarted', 'ExecutionStarted', 'OrchestratorCompleted',
          'OrchestratorStarted', 'EventRaised', 'ExecutionCompleted', 'OrchestratorCompleted',
        ]);
      });
    });

    describe('options with a member no call takes (a typo)', () => {
      /** Expects `call` to be refused as bad input naming the `key` it does not take, before anything is done. */
      const refusesKey = async (key: string, call: () => unknown): Promise<void> => {
        const refusal = expect((async () => call())()).rejects;
        await refusal.toMatchObject({ code: 'invalid-argument', status: 400 });
        await refusal.toThrow(new RegExp(`\\.${key} is not known: accepted are `));
      };

      it('refuses a start, naming the member and the accepted ones, and starts nothing', async () => {
        await refusesKey('inptu', () => client.startNew('Echo', { instanceId: 'typo-start', inptu: 1 } as never));
        await expect(client.startNew('Echo', { instanceId: 'typo-start', inptu: 1 } as never)).rejects.toThrow(/input, instanceId/);
        // A member it does not know is refused when it is undefined too: a typo is a typo.
        await refusesKey('instanceID', () => client.startNew('Echo', { instanceId: 'typo-start', instanceID: undefined } as never));
        await refusesKey('version', () => client.startNew('Echo', { instanceId: 'typo-start', version: '1.0' } as never));
        await refusesKey('inptu', () => client.signalWithStart('Echo', { instanceId: 'typo-start', eventName: 'e', inptu: 1 } as never));
        expect(await client.getStatus('typo-start')).toBeUndefined();
        expect((await client.listInstances()).instances).toEqual([]);
        // Members it knows may be undefined (exactOptionalPropertyTypes code writes them so).
        const id = await client.startNew('Echo', { input: undefined, instanceId: undefined, ifExists: undefined, startAt: undefined, tags: undefined });
        expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
      });

      it('refuses a raise and delivers nothing; takes Durable Functions\' taskHubName and connectionName', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'typo-raise', input: 2 });
        await refusesKey('idempotencykey', () => client.raiseEvent('typo-raise', 'Item', 'refused', { idempotencykey: 'k' } as never));
        await client.raiseEvent('typo-raise', 'Item', 'first', { taskHubName: 'hub', connectionName: 'Storage' });
        await client.raiseEvent('typo-raise', 'Item', 'second', { idempotencyKey: 'k', taskHubName: undefined });
        expect((await client.waitForCompletion('typo-raise', SETTLED)).output).toEqual(['first', 'second']);
      });

      it('refuses reads and listings: getStatus, listInstances, getStatusBy, instances$', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'typo-read', input: 1 });
        await refusesKey('showHistroy', () => client.getStatus('typo-read', { showHistroy: true } as never));
        await refusesKey('pagesize', () => client.listInstances({ pagesize: 1 } as never));
        await refusesKey('runtimeStatuses', () => client.getStatusBy({ runtimeStatuses: ['Completed'] } as never));
        await refusesKey('pagesize', () => firstValueFrom(client.instances$({ pagesize: 2 } as never)));
        await refusesKey('timeout', () => client.waitForCompletion('typo-read', { timeout: 0 } as never));
        // The members each takes, `showInput` on a filter included.
        expect((await client.listInstances({ pageSize: 1, showInput: false, continuationToken: undefined })).instances).toHaveLength(1);
        expect(await client.getStatusBy({ instanceIdPrefix: 'typo-', showInput: false })).toHaveLength(1);
        // instances$ takes listInstances' query whole (TypeScript lets one be passed): its paging is checked, and a live
        // list holds every match.
        const query: ListInstancesQuery = { instanceIdPrefix: 'typo-', pageSize: 1, continuationToken: 'not-read' };
        expect(await firstValueFrom(client.instances$(query))).toHaveLength(1);
        await expect((async () => firstValueFrom(client.instances$({ pageSize: 0 } as ListInstancesQuery)))()).rejects.toThrow(/pageSize must be a positive integer/);
      });

      it('refuses commands and changes nothing: terminate, purges, restart, fork, commands by filter', async () => {
        await client.startNew('WaitForEvents', { instanceId: 'typo-command', input: 1 });
        await client.startNew('Echo', { instanceId: 'typo-done', input: 1 });
        await client.waitForCompletion('typo-done', SETTLED);
        await refusesKey('recursve', () => client.terminate('typo-command', 'stop', { recursve: true } as never));
        await refusesKey('limt', () => client.terminateBy({ instanceIdPrefix: 'typo-' }, 'stop', { limt: 1 } as never));
        // `recursive` is terminate's: the other commands by filter take none.
        await refusesKey('recursive', () => client.suspendBy({ instanceIdPrefix: 'typo-' }, 'pause', { recursive: true } as never));
        await refusesKey('runtimestatus', () => client.cancelBy({ runtimestatus: ['Running'] } as never));
        await refusesKey('recursve', () => client.purgeInstanceHistory('typo-done', { recursve: true } as never));
        // `order` means nothing to a purge, and an `instanceIdPrefix` is one it cannot apply.
        await refusesKey('order', () => client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), order: 'asc' } as never));
        await refusesKey('restartWithNewId', () => client.restart('typo-done', { restartWithNewId: true } as never));
        await refusesKey('newId', () => client.fork('typo-done', { newId: 'typo-fork' } as never));
        // `showInput`, a filter's member, is taken by a command by filter too (it shows nothing there).
        expect(await client.suspendBy({ instanceIdPrefix: 'typo-none', showInput: false }, 'pause')).toEqual({ instancesAffected: 0, instancesSkipped: 0 });
        expect((await client.getStatus('typo-command'))?.runtimeStatus).not.toBe('Terminated');
        expect((await client.getStatus('typo-command'))?.runtimeStatus).not.toBe('Suspended');
        expect((await client.getStatus('typo-done'))?.runtimeStatus).toBe('Completed');
        expect((await client.listInstances()).instances.map((s) => s.instanceId).sort()).toEqual(['typo-command', 'typo-done']);
      });

      it('refuses the check-status and payload calls\' options; takes Durable Functions\' wait options', async () => {
        const request = new Request('https://app.example.com/api/start', { method: 'POST' });
        await refusesKey('code', () => client.createHttpManagementPayload('typo-http', 'https://app.example.com', { code: 'k' } as never));
        await refusesKey('baseURL', () => client.createCheckStatusResponse(request, 'typo-http', { baseURL: 'https://x.test' } as never));
        await client.startNew('WaitForEvents', { instanceId: 'typo-http', input: 1 });
        await refusesKey('timeout', () => client.waitForCompletionOrCreateCheckStatusResponse(request, 'typo-http', { timeout: 0 } as never));
        const answer = await client.waitForCompletionOrCreateCheckStatusResponse(request, 'typo-http', { timeoutInMilliseconds: 0, retryIntervalInMilliseconds: 0 });
        expect(answer.status).toBe(202);
      });
    });

    describe('createHttpManagementPayload', () => {
      it('formats the management URLs as Durable Functions does', () => {
        const p = client.createHttpManagementPayload('abc 1', 'http://127.0.0.1:7071/');
        const base = 'http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/abc%201';
        expect(p).toEqual({
          id: 'abc 1',
          statusQueryGetUri: base,
          sendEventPostUri: `${base}/raiseEvent/{eventName}`,
          terminatePostUri: `${base}/terminate?reason={text}`,
          rewindPostUri: `${base}/rewind?reason={text}`,
          purgeHistoryDeleteUri: base,
          suspendPostUri: `${base}/suspend?reason={text}`,
          resumePostUri: `${base}/resume?reason={text}`,
          restartPostUri: `${base}/restart`,
        });
        expect(client.createHttpManagementPayload('x', 'http://h', { key: 'k&1' }).statusQueryGetUri).toBe('http://h/runtime/webhooks/durabletask/instances/x?code=k%261');
      });
    });
  });
}

// -------------------------------------------------------------------- helpers

/**
 * The history events seen, one execution after another: each from the event before its `ExecutionStarted` (the
 * `OrchestratorStarted` of its first step), with that execution's input.
 */
function executionsOf(events: readonly HistoryEvent[]): { input: unknown; events: HistoryEvent[] }[] {
  const executions: { input: unknown; events: HistoryEvent[] }[] = [];
  const before: HistoryEvent[] = []; // what comes before the first ExecutionStarted
  for (const e of events) {
    const current = executions.at(-1)?.events ?? before;
    if (e.type !== 'ExecutionStarted') current.push(e);
    else executions.push({ input: e.input, events: [...(current.at(-1)?.type === 'OrchestratorStarted' ? [current.pop()!] : []), e] });
  }
  return executions;
}

/**
 * `inner`, but a commit that appends or replaces more than `limit()` characters of history is refused for good (413)
 * before anything is written, as a store whose history document is bounded refuses it; every other call is `inner`'s.
 */
function refusingLongHistories(inner: Store, limit: () => number): Store {
  const commit = (writeSet: WriteSet) => {
    const history = writeSet.requests.filter((r) => r.type === 'appendHistory' || r.type === 'replaceHistory');
    if (JSON.stringify(history).length <= limit()) return inner.commit(writeSet);
    return Promise.reject(new PayloadTooLargeError('the history exceeds what this store stores'));
  };
  return new Proxy(inner, {
    get: (target, key) => {
      if (key === 'commit') return commit;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * A store whose history reads can be made to answer late, as a slow network or a busy database answers: the next
 * `getHistory` or `getInstanceHistory` after {@link HeldHistoryReads.holdNext} waits until released before it reads,
 * so a test decides what the instance has become by the time the read is made. Every other call goes straight to the
 * store.
 */
class HeldHistoryReads {
  readonly store: Store;
  #next: { reached: () => void; released: Promise<void> } | undefined;
  /** The next `getInstance` of one id, answered only once released (see {@link HeldHistoryReads.holdNextAnswer}). */
  #nextAnswer: { instanceId: string; reached: () => void; released: Promise<void> } | undefined;
  /** The next step a worker commits for one instance, committed only once released ({@link HeldHistoryReads.holdNextStep}). */
  #nextStep: { instanceId: string; which?: ((writeSet: WriteSet) => boolean) | undefined; reached: () => void; released: Promise<void> } | undefined;
  /** Messages to wait for ({@link HeldHistoryReads.messageCommitted}). */
  readonly #messageWatches = new Set<{ instanceId: string; type: string; committed: () => void }>();
  readonly #releases: (() => void)[] = [];

  constructor(inner: Store) {
    this.store = new Proxy(inner, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        if (key === 'getInstance') {
          return async (instanceId: string) => {
            const answer = (await value.call(target, instanceId)) as unknown;
            const hold = this.#nextAnswer;
            if (hold?.instanceId === instanceId) {
              this.#nextAnswer = undefined;
              hold.reached();
              await hold.released;
            }
            return answer;
          };
        }
        if (key === 'commit') {
          return async (writeSet: WriteSet) => {
            const step = this.#nextStep;
            const lease = writeSet.lease;
            if (step && lease?.kind === 'orchestration' && lease.instanceId === step.instanceId && (!step.which || step.which(writeSet))) {
              this.#nextStep = undefined;
              step.reached();
              await step.released;
            }
            const result = (await value.call(target, writeSet)) as unknown;
            for (const watch of [...this.#messageWatches]) {
              const sent = writeSet.requests.some((r) =>
                r.type === 'insertMessage' && r.message.instanceId === watch.instanceId && r.message.event.type === watch.type);
              if (sent) {
                this.#messageWatches.delete(watch);
                watch.committed();
              }
            }
            return result;
          };
        }
        if (key !== 'getHistory' && key !== 'getInstanceHistory') return value.bind(target);
        return async (...args: unknown[]) => {
          const hold = this.#next;
          this.#next = undefined;
          if (hold) {
            hold.reached();
            await hold.released;
          }
          return value.apply(target, args) as unknown;
        };
      },
    });
  }

  /**
   * One hold: what the wrapper keeps (`reached` to call when the held call comes, `released` to wait on) and what the
   * test gets (`reached` to wait on, `release` to call); `release` is called by `releaseAll` too.
   */
  #gate(): {
    hold: { reached: () => void; released: Promise<void> };
    handle: { reached: Promise<void>; release: () => void };
  } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    this.#releases.push(release);
    return { hold: { reached, released }, handle: { reached: reachedP, release } };
  }

  /** Holds the next history read: `reached` once it is made, and it reads once `release` is called. */
  holdNext(): { reached: Promise<void>; release: () => void } {
    const gate = this.#gate();
    this.#next = gate.hold;
    return gate.handle;
  }

  /**
   * Holds the answer of the next `getInstance` of `instanceId`: the store reads it at once, `reached` resolves, and the
   * caller hears the state read only once `release` is called (what commits in between reaches it as changes).
   */
  holdNextAnswer(instanceId: string): { reached: Promise<void>; release: () => void } {
    const gate = this.#gate();
    this.#nextAnswer = { instanceId, ...gate.hold };
    return gate.handle;
  }

  /**
   * Holds the next step a worker commits for `instanceId` (a commit under its orchestration lease): `reached` once the
   * worker commits it, and it reaches the store once `release` is called. Meanwhile the worker holds the instance, so a
   * command to it goes to a worker as a message, applied after the step. With `which`, the next such step whose write set
   * it matches (the steps before it commit).
   */
  holdNextStep(instanceId: string, which?: (writeSet: WriteSet) => boolean): { reached: Promise<void>; release: () => void } {
    const gate = this.#gate();
    this.#nextStep = { instanceId, which, ...gate.hold };
    return gate.handle;
  }

  /** Resolves once a message to `instanceId` whose event is of `type` has been committed. */
  messageCommitted(instanceId: string, type: HistoryEvent['type']): Promise<void> {
    return new Promise<void>((committed) => this.#messageWatches.add({ instanceId, type, committed }));
  }

  /** Lets every held read go (after a test). */
  releaseAll(): void {
    this.#next = undefined;
    this.#nextAnswer = undefined;
    this.#nextStep = undefined;
    for (const release of this.#releases.splice(0)) release();
  }
}

/** Waits until the clock has passed the current millisecond, so what is created next has a later created time. */
/**
 * Starts `name` (input 1) as `prefix` + c, b, a, d, in an order of their own: c in a millisecond before the others, d in
 * one after them; b and a in between, one after the other (perhaps within one millisecond, where the id decides).
 */
async function startOutOfIdOrder(client: DurableClient, name: string, prefix: string): Promise<void> {
  await client.startNew(name, { instanceId: `${prefix}c`, input: 1 });
  await nextMillisecond();
  await client.startNew(name, { instanceId: `${prefix}b`, input: 1 });
  await client.startNew(name, { instanceId: `${prefix}a`, input: 1 });
  await nextMillisecond();
  await client.startNew(name, { instanceId: `${prefix}d`, input: 1 });
}

async function nextMillisecond(): Promise<void> {
  const now = Date.now();
  while (Date.now() <= now) await new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * The statuses in page order: created time, then instance id (by UTF-16 code units, as MemoryStore and IndexedDB
 * compare; MongoStore compares UTF-8 bytes, which differ only for ids this suite does not use: see its README).
 */
function byPageKey(list: readonly InstanceStatus[]): InstanceStatus[] {
  return [...list].sort((a, b) => a.createdTime.getTime() - b.createdTime.getTime() || compareIds(a.instanceId, b.instanceId));
}

/** Subscribes at once; `ready` resolves with the first value, `done` with the first `count` values. */
function collect<T>(source: Observable<T>, count: number): { ready: Promise<void>; done: Promise<T[]> } {
  return collectUntil(source.pipe(take(count)), () => false);
}

/** Subscribes at once; `ready` resolves with the first value, `done` with every value up to the first that matches. */
function collectUntil<T>(source: Observable<T>, last: (value: T) => boolean): { ready: Promise<void>; done: Promise<T[]> } {
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const done = firstValueFrom(source.pipe(
    tap(() => markReady()),
    takeWhile((v) => !last(v), true),
    toArray(),
  ));
  return { ready, done };
}

function cyclic(): unknown {
  const a: Record<string, unknown> = {};
  a['self'] = a;
  return a;
}

/** An array nested `depth` levels deep, built without recursion. */
function nestedArrays(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}
