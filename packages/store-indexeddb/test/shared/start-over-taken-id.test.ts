import { createClient, createRuntime, silentLogger, type Orchestrator, type StartIfExists } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { SETTLED } from '../../../../test-support/settled.js';
import { adapters, claim, create, message, newInstance, T0, uniqueName, type AdapterName } from './fixtures.js';

// A start of an id another handle (another tab) holds: both stores' handles write an id they have not met without
// reading it first, and the database's refusal of that write makes the start run again reading the instance. Whatever
// the handle knew, the start follows `ifExists` as over an instance it had read, and a refused one writes nothing.
describe.each(Object.keys(adapters) as AdapterName[])('%s: a start of an id another handle holds', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  async function twoHandles() {
    const name = uniqueName('taken-id');
    const holder = adapters[adapter](name);
    const starter = adapters[adapter](name);
    opened.push(holder, starter);
    const first = createClient({ store: holder });
    await first.startNew('Orch', { instanceId: 'x', input: 'first' });
    return { holder, starter, first, second: createClient({ store: starter }) };
  }

  it.each(['overwrite', 'fail', 'useExisting'] as const)("over an active instance, with ifExists '%s': refused or kept, nothing written", async (ifExists: StartIfExists) => {
    const { holder, starter, first, second } = await twoHandles();
    const before = await holder.getInstance('x');
    const started = second.startNew('Orch', { instanceId: 'x', input: 'second', ifExists });
    if (ifExists === 'useExisting') expect(await started).toBe('x');
    else await expect(started).rejects.toMatchObject({ code: 'instance-already-exists' });
    // Delayed, the same.
    const delayed = second.startNew('Orch', { instanceId: 'x', input: 'third', ifExists, startAt: new Date(Date.now() + 3_600_000) });
    if (ifExists === 'useExisting') expect(await delayed).toBe('x');
    else await expect(delayed).rejects.toMatchObject({ code: 'instance-already-exists' });
    expect(await starter.getInstance('x')).toEqual(before);
    expect((await first.getStatus('x', { showInput: true }))?.input).toBe('first');
    expect((await claim(starter)).messages.map((m) => (m.event as { input?: unknown }).input)).toEqual(['first']);
  });

  it.each(['overwrite', 'fail', 'useExisting'] as const)("over a terminal instance, with ifExists '%s'", async (ifExists: StartIfExists) => {
    const { holder, starter, first, second } = await twoHandles();
    await first.terminate('x', 'done');
    const ended = await holder.getInstance('x');
    expect(ended?.runtimeStatus).toBe('Terminated');
    const started = second.startNew('Orch', { instanceId: 'x', input: 'second', ifExists });
    if (ifExists === 'fail') await expect(started).rejects.toMatchObject({ code: 'instance-already-exists' });
    else expect(await started).toBe('x');
    if (ifExists === 'overwrite') {
      // Replaced: a new execution after the old one, its history gone, its start the one message to claim.
      const state = await holder.getInstance('x');
      expect(state).toMatchObject({ runtimeStatus: 'Pending', input: 'second', version: ended!.version + 1 });
      expect(state?.executionId).not.toBe(ended?.executionId);
      expect(await holder.getHistory('x')).toEqual([]);
      expect((await claim(holder)).messages.map((m) => (m.event as { input?: unknown }).input)).toEqual(['second']);
    } else {
      expect(await starter.getInstance('x')).toEqual(ended);
      expect((await holder.getHistory('x')).length).toBeGreaterThan(0);
      const left = await holder.claimOrchestration({ owner: 'test', leaseMs: 30_000, now: new Date() });
      expect(left?.messages.map((m) => (m.event as { input?: unknown }).input) ?? []).not.toContain('second');
    }
  });
});

// The other creates a handle may write without reading the instance first, over an id another handle (tab) holds: a
// sub-orchestration created in its parent's step (which also writes the parent's history, task and messages), a
// signal-with-start and a fork. The refused write aborts the whole transaction; the run again decides on the instance
// as stored, and each effect is written once.
describe.each(Object.keys(adapters) as AdapterName[])('%s: other creates of an id another handle holds', (adapter) => {
  const opened: Store[] = [];
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  function twoHandles() {
    const name = uniqueName('taken-create');
    const holder = adapters[adapter](name);
    const starter = adapters[adapter](name);
    opened.push(holder, starter);
    return { holder, starter };
  }

  async function runOn(store: Store, orchestrators: Record<string, Orchestrator>, activities: Record<string, (input: never) => unknown> = {}) {
    const runtime = createRuntime({ store, orchestrators, activities, logger: silentLogger, workerId: 'w' });
    stops.push(() => runtime.stop());
    await runtime.start();
    return createClient({ store });
  }

  const waiting: Orchestrator = function* (ctx) {
    yield ctx.waitForExternalEvent('never');
    return 'child';
  };

  it('a sub-orchestration over an active child: the parent is told once, its activity scheduled and run once, the child kept', async () => {
    const { holder, starter } = twoHandles();
    // Delayed: no worker claims it, so the starter's handle never reads it before its parent's step creates it.
    await createClient({ store: holder }).startNew('Child', { instanceId: 'c', input: 'held', startAt: new Date(Date.now() + 3_600_000) });
    const child = await holder.getInstance('c');
    let calls = 0;
    const parent: Orchestrator = function* (ctx) {
      const activity = ctx.callActivity('Add', 1);
      const sub = ctx.callSubOrchestrator('Child', 'mine', 'c');
      let failed = false;
      try {
        yield ctx.Task.all([activity, sub]);
      } catch {
        failed = true;
      }
      return { failed, sum: (yield activity) as number };
    };
    const client = await runOn(starter, { Parent: parent, Child: waiting }, { Add: (x: number) => (calls++, x + 1) });
    await client.startNew('Parent', { instanceId: 'p' });
    expect(await client.waitForCompletion('p', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: { failed: true, sum: 2 } });
    expect(calls).toBe(1);
    const history = await starter.getHistory('p');
    expect(history.filter((e) => e.type === 'TaskScheduled')).toHaveLength(1);
    expect(history.filter((e) => e.type === 'SubOrchestrationInstanceCreated')).toHaveLength(1);
    expect(history.filter((e) => e.type === 'SubOrchestrationInstanceFailed')).toHaveLength(1);
    expect(await holder.getInstance('c')).toEqual(child);
  });

  it('a sub-orchestration over a terminal child: replaced once, and the parent gets its result', async () => {
    const { holder, starter } = twoHandles();
    const other = createClient({ store: holder });
    await other.startNew('Child', { instanceId: 'c', input: 'held' });
    await other.terminate('c', 'ended');
    const child: Orchestrator = function* (ctx) {
      return `child ${String(ctx.getInput())}`;
    };
    const parent: Orchestrator = function* (ctx) {
      return yield ctx.callSubOrchestrator('Child', 'mine', 'c');
    };
    const client = await runOn(starter, { Parent: parent, Child: child });
    await client.startNew('Parent', { instanceId: 'p' });
    expect(await client.waitForCompletion('p', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'child mine' });
    expect((await starter.getHistory('p')).filter((e) => e.type === 'SubOrchestrationInstanceCreated')).toHaveLength(1);
    expect((await holder.getHistory('c')).filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
  });

  it('a signal-with-start over an active instance: the event delivered once, nothing started', async () => {
    const { holder, starter } = twoHandles();
    await create(holder, newInstance('x', 'first'));
    const before = await holder.getInstance('x');
    const signal = message('x', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go', input: 1 });
    await starter.commit({ requests: [{ type: 'createInstance', ...newInstance('x', 'second'), ifRunning: { kind: 'fail' }, signal }] });
    expect(await starter.getInstance('x')).toEqual(before);
    expect((await claim(holder)).messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
  });

  it('a fork onto a taken id: refused, and the instance there keeps its state and history', async () => {
    const { holder, starter } = twoHandles();
    const other = await runOn(holder, { O: function* () { return 1; } });
    await other.startNew('O', { instanceId: 'src' });
    await other.startNew('O', { instanceId: 'taken' });
    await other.waitForCompletion('src', SETTLED);
    await other.waitForCompletion('taken', SETTLED);
    const state = await holder.getInstance('taken');
    const history = await holder.getHistory('taken');
    await expect(createClient({ store: starter }).fork('src', { newInstanceId: 'taken' })).rejects.toMatchObject({ code: 'instance-already-exists' });
    expect(await holder.getInstance('taken')).toEqual(state);
    expect(await holder.getHistory('taken')).toEqual(history);
  });
});

