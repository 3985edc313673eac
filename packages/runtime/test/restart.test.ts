import { filter, finalize, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { silentLogger } from '../src/env/logger.js';
import type { Activity, Orchestrator } from '../src/engine/orchestration-context.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { within } from './within.js';

const HELLO = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];

/** Waits for an event, then calls `Work` with it. */
const waitThenWork: Orchestrator = function* (ctx) {
  const value: unknown = yield ctx.waitForExternalEvent('go');
  return yield ctx.callActivity('Work', value);
};

/** `Work`, whose runs the test ends: `finish(i, value)` ends run `i` (from 0); `started(i)` resolves once it began. */
function heldWork() {
  const runs: { input: unknown; finish: (value: unknown) => void }[] = [];
  const waiting: (() => void)[] = [];
  const activity: Activity = (input) => new Promise((resolve) => {
    runs.push({ input, finish: resolve });
    waiting.splice(0).forEach((wake) => wake());
  });
  const started = async (i: number): Promise<void> => {
    while (runs.length <= i) await new Promise<void>((wake) => waiting.push(wake));
  };
  return { activity, runs, started, finish: (i: number, value: unknown) => runs[i]!.finish(value) };
}

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop({ graceMs: 0 })));
});

/** A runtime on the test's own MemoryStore, or on the one it creates itself (no `store` given). */
const stores = [
  ['a MemoryStore of the caller', () => new MemoryStore()],
  ['the MemoryStore the runtime creates', () => undefined],
] as const;

function runtimeOn(store: MemoryStore | undefined, activity: Activity): Runtime {
  const runtime = createRuntime({
    store, logger: silentLogger,
    orchestrators: { ...sampleOrchestrators, WaitThenWork: waitThenWork },
    activities: { ...sampleActivities, Work: activity },
  });
  runtimes.push(runtime);
  return runtime;
}

describe.each(stores)('a runtime started again after stop, on %s', (_, makeStore) => {
  it('runs what is started after the restart, and what the stop left waiting, with the same client', async () => {
    const work = heldWork();
    const runtime = runtimeOn(makeStore(), work.activity);
    const { client } = runtime;
    await runtime.start();
    const waiting = await client.startNew('WaitThenWork');
    await within(firstValueFrom(client.status$(waiting).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the waiter running');
    await runtime.stop();
    // While stopped the client still takes commands: the event is kept for the next life.
    await client.raiseEvent(waiting, 'go', 'raised while stopped');
    const startedWhileStopped = await client.startNew('E1_HelloSequence');
    expect((await client.getStatus(startedWhileStopped))?.runtimeStatus).toBe('Pending');

    await runtime.start();
    const startedAfter = await client.startNew('E1_HelloSequence');
    expect((await client.waitForCompletion(startedAfter, SETTLED)).output).toEqual(HELLO);
    expect((await client.waitForCompletion(startedWhileStopped, SETTLED)).output).toEqual(HELLO);
    await within(work.started(0), 'the waiter calling Work after the restart');
    expect(work.runs[0]!.input).toBe('raised while stopped');
    work.finish(0, 'done');
    expect(await client.waitForCompletion(waiting, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
  });

  it('reruns an activity the stop abandoned, and completes its instance', async () => {
    const work = heldWork();
    const runtime = runtimeOn(makeStore(), work.activity);
    await runtime.start();
    const id = await runtime.client.startNew('WaitThenWork');
    await runtime.client.raiseEvent(id, 'go', 1);
    await within(work.started(0), 'the first run of Work');
    await runtime.stop({ graceMs: 0 }); // abandons the run: its lease is released
    await runtime.start();
    await within(work.started(1), 'Work run again by the restarted runtime');
    work.finish(1, 'second');
    work.finish(0, 'first, too late'); // the abandoned run's result is refused
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'second' });
  });

  it('keeps what its client watched before the stop: a status$ and a wait made then see the instance complete after the restart', async () => {
    const work = heldWork();
    const runtime = runtimeOn(makeStore(), work.activity);
    const { client } = runtime;
    await runtime.start();
    const id = await client.startNew('WaitThenWork');
    let ended = false;
    const reached = firstValueFrom(client.status$(id).pipe(finalize(() => (ended = true)), filter((s) => s?.runtimeStatus === 'Completed')));
    const waiting = client.waitForCompletion(id, SETTLED);
    await within(firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the waiter running');
    await runtime.stop(); // a tab hidden (visibilitychange)
    expect(ended).toBe(false);
    await client.raiseEvent(id, 'go', 'while hidden');
    await runtime.start(); // and shown again
    await within(work.started(0), 'Work running after the restart');
    work.finish(0, 'done');
    expect(await within(reached, 'the status$ made before the stop reaching Completed')).toMatchObject({ output: 'done' });
    expect(await waiting).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
  });

  it('follows the store again with observables made after the restart', async () => {
    const runtime = runtimeOn(makeStore(), heldWork().activity);
    await runtime.start();
    await runtime.stop();
    await runtime.start();
    const id = await runtime.client.startNew('E1_HelloSequence');
    const completed = await within(
      firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Completed'))), 'status$ reaching Completed',
    );
    expect(completed?.output).toEqual(HELLO);
  });
});

describe('runtime start and stop called again', () => {
  it('returns one promise for starts before the next stop, and for stops before the next start, across lives', async () => {
    const store = new MemoryStore();
    const runtime = runtimeOn(store, heldWork().activity);
    for (let life = 0; life < 2; life++) {
      const starting = runtime.start();
      expect(runtime.start()).toBe(starting);
      await starting;
      expect(runtime.start()).toBe(starting);
      const id = await runtime.client.startNew('E1_HelloSequence');
      expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toEqual(HELLO);
      const stopping = runtime.stop();
      expect(runtime.stop()).toBe(stopping);
      await stopping;
      expect(runtime.stop()).toBe(stopping);
    }
    // One stop ended everything the starts began: an instance started now is run by no worker of this runtime.
    const id = await runtime.client.startNew('E1_HelloSequence');
    const other = createRuntime({ store, logger: silentLogger, orchestrators: sampleOrchestrators, activities: sampleActivities });
    runtimes.push(other);
    expect((await createClient({ store }).getStatus(id))?.runtimeStatus).toBe('Pending');
    await other.start(); // a worker elsewhere runs it: it was waiting for a claim, not leased to a stopped worker
    expect((await other.client.waitForCompletion(id, SETTLED)).output).toEqual(HELLO);
  });

  it('begins a start called during a stop once the stop has ended, and runs again', async () => {
    const work = heldWork();
    const runtime = runtimeOn(new MemoryStore(), work.activity);
    await runtime.start();
    const id = await runtime.client.startNew('WaitThenWork');
    await runtime.client.raiseEvent(id, 'go', 1);
    await within(work.started(0), 'Work running');
    const order: string[] = [];
    const stopping = runtime.stop({ graceMs: Infinity }).then(() => order.push('stopped'));
    const starting = runtime.start().then(() => order.push('started'));
    await Promise.resolve();
    work.finish(0, 'finished during the stop'); // the stop waits for it, and commits its result
    await within(Promise.all([stopping, starting]), 'the stop and the start');
    expect(order).toEqual(['stopped', 'started']);
    expect(work.runs).toHaveLength(1);
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'finished during the stop' });
  });

  it('ends stopped when a stop is called after a start that is still under way', async () => {
    const store = new MemoryStore();
    const runtime = runtimeOn(store, heldWork().activity);
    await runtime.start();
    await runtime.stop();
    const starting = runtime.start();
    const stopping = runtime.stop();
    await within(Promise.all([starting, stopping]), 'the start and the stop');
    const id = await runtime.client.startNew('E1_HelloSequence');
    expect((await runtime.client.getStatus(id))?.runtimeStatus).toBe('Pending'); // no lease handed to a worker
    await runtime.start();
    expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toEqual(HELLO);
  });

  it('keeps counting its metrics across lives', async () => {
    const runtime = runtimeOn(undefined, heldWork().activity);
    await runtime.start();
    await runtime.client.waitForCompletion(await runtime.client.startNew('E1_HelloSequence'), SETTLED);
    await runtime.stop();
    expect(runtime.metrics.activitiesRun).toBe(3);
    await runtime.start();
    await runtime.client.waitForCompletion(await runtime.client.startNew('E1_HelloSequence'), SETTLED);
    await runtime.stop();
    expect(runtime.metrics.activitiesRun).toBe(6); // the counters are monotonic: the second life adds to the first's
  });
});
