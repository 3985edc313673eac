import { filter, firstValueFrom } from 'rxjs';
import { expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import type { DurableClient } from '../src/client/durable-client.js';
import { uuidV5 } from '../src/engine/deterministic-guid.js';
import { forkCallId, handedOnGuids } from '../src/engine/fork-call-id.js';
import type { Orchestration, OrchestrationContext, Orchestrator } from '../src/engine/orchestration-context.js';
import { NonDeterminismError } from '../src/model/errors/non-determinism-error.js';
import type { TaskFailedError } from '../src/model/errors/task-failed-error.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { MAX_FORKED_FROM } from '../src/engine/fork-history.js';
import { replayHistory } from '../src/testing/replay-history.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';

const { start } = startedRuntimes();

/**
 * Once the history of `id` holds its first activity's result, which a fork that keeps one result keeps. The activity's
 * side effect (a note it pushes) comes before that result is recorded: a fork taken on seeing it may find none.
 */
function resultRecorded(client: DurableClient, id: string): Promise<unknown> {
  return within(firstValueFrom(client.history$(id).pipe(filter((event) => event.type === 'TaskCompleted'))), 'the result recorded');
}

/** Two sub-orchestrations named by `newGuid()`, one after the other, then an activity given a third GUID. */
const parent: Orchestrator = function* (ctx) {
  const first = ctx.newGuid();
  yield ctx.callSubOrchestrator('Child', 1, first);
  const second = ctx.newGuid();
  yield ctx.callSubOrchestrator('Child', 2, second);
  const third = ctx.newGuid();
  yield ctx.callActivity('Note', third);
  return [first, second, third];
};

async function started() {
  const clock = new VirtualClock();
  const children: unknown[] = [];
  const runtime = await start({
    clock,
    orchestrators: {
      Parent: parent,
      Child: function* (ctx) {
        children.push(ctx.getInput());
        return ctx.getInput();
      },
    },
    activities: { Note: (guid: string) => guid },
  });
  return { client: runtime.client, clock, children };
}

it("replays the GUIDs of the kept calls: a fork keeps a sub-orchestration named by newGuid(), and makes new GUIDs after the cut", async () => {
  const { client, clock, children } = await started();
  const id = await client.startNew('Parent');
  const source = await within(client.waitForCompletion(id, SETTLED), 'the source ending');
  expect(source.runtimeStatus).toBe('Completed');
  const [first, second, third] = source.output as [string, string, string];
  expect(children).toEqual([1, 2]);

  await clock.advance(60_000);
  const fork = await client.fork(id, { keepResults: 1 });
  const forked = await within(client.waitForCompletion(fork, SETTLED), 'the fork ending');
  expect(forked.runtimeStatus).toBe('Completed');
  const [forkFirst, forkSecond, forkThird] = forked.output as [string, string, string];
  // The kept child's id is the source's: its call is not made again. The GUIDs after the cut are the fork's own.
  expect(forkFirst).toBe(first);
  expect(forkSecond).not.toBe(second);
  expect(forkThird).not.toBe(third);
  expect(children).toEqual([1, 2, 2]);
  expect((await client.getStatus(forkSecond))?.runtimeStatus).toBe('Completed');
  expect((await client.getStatus(second))?.runtimeStatus).toBe('Completed');

  // A fork of the fork keeps the source's seed: both children replay, the first named in the source, the second in the fork.
  await clock.advance(60_000);
  const again = await client.fork(fork, { keepResults: 2 });
  const replayed = await within(client.waitForCompletion(again, SETTLED), 'the fork of the fork ending');
  expect(replayed.runtimeStatus).toBe('Completed');
  const [againFirst, againSecond, againThird] = replayed.output as string[];
  expect([againFirst, againSecond]).toEqual([first, forkSecond]);
  expect(new Set([third, forkThird, againThird]).size).toBe(3);
  expect(children).toEqual([1, 2, 2]);
});

it("runs the execution a fork's continueAsNew makes without the source's seed: its GUIDs are its own, on a clock that stands still too", async () => {
  const clock = new VirtualClock();
  const notes: string[] = [];
  const runtime = await start({
    clock,
    orchestrators: {
      Pass: function* (ctx) {
        const guid = ctx.newGuid();
        yield ctx.callActivity('Note', guid);
        if (ctx.getInput() === 0) {
          yield ctx.waitForExternalEvent('go');
          ctx.continueAsNew(1);
        }
        return guid;
      },
    },
    activities: { Note: (guid: string) => void notes.push(guid) },
  });
  const { client } = runtime;
  const id = await client.startNew('Pass', { input: 0 });
  await resultRecorded(client, id);
  const fork = await client.fork(id, { keepResults: 1 });
  await client.raiseEvent(fork, 'go');
  const forked = await within(client.waitForCompletion(fork, SETTLED), 'the fork ending');
  await client.raiseEvent(id, 'go');
  const source = await within(client.waitForCompletion(id, SETTLED), 'the source ending');
  expect([forked.runtimeStatus, source.runtimeStatus]).toEqual(['Completed', 'Completed']);
  // The first pass's activity ran once (the fork kept its result); each second pass made a GUID of its own execution.
  expect(notes).toHaveLength(3);
  expect(new Set(notes).size).toBe(3);
  expect(notes).toEqual(expect.arrayContaining([forked.output, source.output]));
  // The continued execution's steps are its own: none names the source's seed.
  const history = (await client.getStatus(fork, { showHistory: true }))?.history ?? [];
  expect(history.filter((e) => e.type === 'OrchestratorStarted').length).toBeGreaterThan(0);
  expect(history.filter((e) => 'guidSeed' in e)).toEqual([]);
});

it("makes GUIDs of its own in the steps it runs, whatever their time: forks of one source stepping in the same millisecond as each other and as the source call children of their own", async () => {
  const { client, children } = await started(); // the clock stands still
  const id = await client.startNew('Parent');
  const [first, second, third] = (await within(client.waitForCompletion(id, SETTLED), 'the source ending')).output as [string, string, string];
  const forks = await Promise.all([client.fork(id, { keepResults: 1 }), client.fork(id, { keepResults: 1 })]);
  const done = await Promise.all(forks.map((fork) => within(client.waitForCompletion(fork, SETTLED), 'a fork ending')));
  expect(done.map((status) => status.runtimeStatus)).toEqual(['Completed', 'Completed']);
  const [one, two] = done.map((status) => status.output as [string, string, string]);
  // The kept child is the source's; each fork's second child and third GUID are its own.
  expect([one![0], two![0]]).toEqual([first, first]);
  expect(new Set([second, one![1], two![1]]).size).toBe(3);
  expect(new Set([third, one![2], two![2]]).size).toBe(3);
  expect(children).toEqual([1, 2, 2, 2]);
  expect(await client.getStatus(second)).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: id });
  expect(await client.getStatus(one![1])).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: forks[0] });
  expect(await client.getStatus(two![1])).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: forks[1] });
});

/** Two children named by GUIDs (one by an id built from a GUID) and one by a fixed id, called at once. */
const fan: Orchestrator = function* (ctx) {
  const ids = [ctx.newGuid(), `job-${ctx.newGuid()}`, 'shipping-42'];
  return yield ctx.Task.all(ids.map((id, i) => ctx.callSubOrchestrator('Child', i, id)));
};

it('runs a call a copied step makes again, named by a GUID, under a GUID of its own on every replay; a fixed id stays, and a fork recorded under the source\u2019s GUID replays as it ran', async () => {
  const clock = new VirtualClock();
  const runtime = await start({ clock, orchestrators: { Fan: fan, Child: function* (ctx) { return ctx.getInput(); } } });
  const { client } = runtime;
  /** The history of `of` and the ids of the children it called, by call. */
  const calls = async (of: string) => {
    const history = (await client.getStatus(of, { showHistory: true, showHistoryOutput: true }))!.history!;
    return { history, ids: new Map(history.flatMap((e) => (e.type === 'SubOrchestrationInstanceCreated' ? [[e.eventId, e.instanceId] as const] : []))) };
  };
  const id = await client.startNew('Fan');
  expect(await within(client.waitForCompletion(id, SETTLED), 'the source ending')).toMatchObject({ runtimeStatus: 'Completed', output: [0, 1, 2] });
  const source = await calls(id);
  await clock.advance(60_000);
  // The first result kept (of whichever child answered first): the two other calls are made again.
  const fork = await client.fork(id, { keepResults: 1 });
  expect(await within(client.waitForCompletion(fork, SETTLED), 'the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: [0, 1, 2] });
  const forked = await calls(fork);
  const kept = forked.history.flatMap((e) => (e.type === 'SubOrchestrationInstanceCompleted' ? [e.taskScheduledId] : []))[0]!;
  expect(forked.ids.get(kept)).toBe(source.ids.get(kept));
  const remade = [...source.ids.keys()].filter((call) => call !== kept);
  expect(remade).toHaveLength(2);
  for (const call of remade) {
    const [was, is] = [source.ids.get(call)!, forked.ids.get(call)!];
    // A GUID of the source is renamed (an id built from one keeps its shape); the fixed id is the code's, kept as it is.
    if (was === 'shipping-42') expect(is).toBe(was);
    else expect([is === was, is.startsWith('job-')]).toEqual([false, was.startsWith('job-')]);
  }
  // The stored history replays as it ran (as a worker replays it from the start, after a restart).
  expect(replayHistory(fan, forked.history)).toMatchObject({ runtimeStatus: 'Completed', output: [0, 1, 2] });
  // A fork recorded before such calls were renamed (under the source's GUIDs) replays as it ran too.
  const old = forked.history.map((e) => (e.type === 'SubOrchestrationInstanceCreated' ? { ...e, instanceId: source.ids.get(e.eventId)! } : e));
  expect(old).not.toEqual(forked.history);
  expect(replayHistory(fan, old)).toMatchObject({ runtimeStatus: 'Completed', output: [0, 1, 2] });
  // Another id in place of the fork's own is no replay of it (its last hex digit changed).
  const changed = (id: string) => `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`;
  const other = forked.history.map((e) => (e.type === 'SubOrchestrationInstanceCreated' && e.instanceId !== source.ids.get(e.eventId) ? { ...e, instanceId: changed(e.instanceId) } : e));
  expect(other).not.toEqual(forked.history);
  expect(() => replayHistory(fan, other)).toThrow(NonDeterminismError);
});

it('forkCallId: renames in a call id each GUID a copied step made under another seed, as that step would have made it under the recording step\u2019s seed', () => {
  const name = '_2026-12-06T02:00:00.000Z_0';
  const g = uuidV5(`src_e1${name}`);
  const copied = new Map([[g, { seed: 'src_e1', name }]]);
  const own = uuidV5(`fork_e2${name}`);
  const fork = { seed: 'fork_e2', copied };
  expect(forkCallId(`job-${g}:1`, fork)).toBe(`job-${own}:1`);
  expect(forkCallId(`${g}${g}`, fork)).toBe(`${own}${own}`);
  // Recorded by a step of the seed that made it (a kept call), or not a GUID it made, or changed by the code: as it is.
  expect(forkCallId(g, { seed: 'src_e1', copied })).toBe(g);
  expect(forkCallId('shipping-42', fork)).toBe('shipping-42');
  // The same GUID upper-cased (by the code, as a .NET client may write one): renamed too, in the case it was found in.
  expect(forkCallId(`JOB-${g.toUpperCase()}`, fork)).toBe(`JOB-${own.toUpperCase()}`);
  expect(forkCallId(`JOB-${g.toUpperCase()}`, fork, `JOB-${g.toUpperCase()}`)).toBe(`JOB-${g.toUpperCase()}`);
  expect(forkCallId(uuidV5('other'), fork)).toBe(uuidV5('other'));
  // On replay: the id recorded when it is the renamed one or the one made (a fork recorded before the rename), else the renamed one.
  expect(forkCallId(`job-${g}`, fork, `job-${own}`)).toBe(`job-${own}`);
  expect(forkCallId(`job-${g}`, fork, `job-${g}`)).toBe(`job-${g}`);
  expect(forkCallId(`job-${g}`, fork, 'job-other')).toBe(`job-${own}`);
  // What a continueAsNew hands on: the copied GUIDs its input holds, once each.
  expect(handedOnGuids({ a: `job-${g}`, b: [g, uuidV5('other')] }, copied)).toEqual([{ seed: 'src_e1', name }]);
  expect(handedOnGuids(undefined, copied)).toEqual([]);
  expect(handedOnGuids({ a: g.toUpperCase() }, copied)).toEqual([{ seed: 'src_e1', name }]);
  // Handed on to the next execution: renamed apart from the GUID that execution's own step makes for that time and counter.
  const handedOn = forkCallId(`job-${g}`, { seed: 'fork_e3', copied: new Map([[g, { seed: 'src_e1', name, handed: true as const }]]) });
  expect([handedOn === `job-${g}`, handedOn === `job-${uuidV5(`fork_e3${name}`)}`]).toEqual([false, false]);
  expect(handedOnGuids(g, new Map([[g, { seed: 'src_e1', name, handed: true as const }]]))).toEqual([{ seed: 'src_e1', name }]);
});

/** Makes a GUID and waits for 'go', then hands the GUID on to the next execution, which runs `next` with it. */
function relaying(next: (ctx: OrchestrationContext, handed: string) => Orchestration): Orchestrator {
  return function* (ctx): Orchestration {
    const handed = ctx.getInput<string | undefined>();
    if (handed === undefined) {
      const guid = ctx.newGuid();
      yield ctx.callActivity('Note', guid);
      yield ctx.waitForExternalEvent('go');
      ctx.continueAsNew(guid);
      return undefined;
    }
    return yield* next(ctx, handed);
  };
}

/** The next execution calls a child named with the handed-on GUID. */
const relay = relaying(function* (ctx, handed) {
  return yield ctx.callSubOrchestrator('Child', handed, `job-${handed}`);
});

/** A `relay` instance whose first step's result (the noted GUID) is recorded, on a virtual clock. */
async function startedRelay() {
  const clock = new VirtualClock();
  const notes: string[] = [];
  const { client } = await start({
    clock,
    orchestrators: { Relay: relay, Child: function* (ctx) { return ctx.getInput(); } },
    activities: { Note: (guid: string) => void notes.push(guid) },
  });
  const id = await client.startNew('Relay');
  await resultRecorded(client, id);
  return { clock, notes, client, id, guid: notes[0]! };
}

it("names a child of the execution a fork's continueAsNew starts with a GUID of its own when the input hands on a GUID a copied step made; a fork of that execution replays it", async () => {
  const { clock, notes, client, id, guid } = await startedRelay();
  await clock.advance(60_000);
  // The fork keeps the activity's result: its replay makes the source's GUID, which it hands on.
  const fork = await client.fork(id, { keepResults: 1 });
  await client.raiseEvent(fork, 'go');
  const forked = await within(client.waitForCompletion(fork, SETTLED), 'the fork ending');
  expect(forked).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  const history = (await client.getStatus(fork, { showHistory: true, showHistoryOutput: true }))!.history!;
  const child = history.flatMap((e) => (e.type === 'SubOrchestrationInstanceCreated' ? [e.instanceId] : []));
  expect(child).toHaveLength(1);
  expect(child[0]).toMatch(/^job-[0-9a-f-]{36}$/);
  expect(child[0]).not.toBe(`job-${guid}`);
  expect(await client.getStatus(child[0]!)).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: fork });
  // The source's child of that name is the source's alone.
  expect(await client.getStatus(`job-${guid}`)).toBeUndefined();
  await client.raiseEvent(id, 'go');
  expect(await within(client.waitForCompletion(id, SETTLED), 'the source ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  expect(await client.getStatus(`job-${guid}`)).toMatchObject({ parentInstanceId: id });
  // The fork's history replays as it ran; a fork of it keeps the call, and one that keeps nothing calls a child of its own.
  expect(replayHistory(relay, history)).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  await clock.advance(60_000);
  const again = await client.fork(fork);
  expect(await within(client.waitForCompletion(again, SETTLED), 'the fork of the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  const againHistory = (await client.getStatus(again, { showHistory: true }))!.history!;
  expect(againHistory.flatMap((e) => (e.type === 'SubOrchestrationInstanceCreated' ? [e.instanceId] : []))).toEqual(child);
  expect(notes).toHaveLength(1);
});

it("names a child with a handed-on GUID apart from the GUIDs the next execution makes itself, on a clock that stands still", async () => {
  // The clock never moves: the copied step that made the GUID and the next execution's step share a millisecond.
  const clock = new VirtualClock();
  const notes: string[] = [];
  const both = relaying(function* (ctx, handed) {
    const mine = ctx.newGuid();
    return yield ctx.Task.all([ctx.callSubOrchestrator('Child', 'handed', `job-${handed}`), ctx.callSubOrchestrator('Child', 'mine', `job-${mine}`)]);
  });
  const runtime = await start({
    clock,
    cacheSize: 0,
    orchestrators: { Both: both, Child: function* (ctx) { return ctx.getInput(); } },
    activities: { Note: (guid: string) => void notes.push(guid) },
  });
  const { client } = runtime;
  const id = await client.startNew('Both');
  await resultRecorded(client, id);
  const fork = await client.fork(id, { keepResults: 1 });
  await client.raiseEvent(fork, 'go');
  await client.raiseEvent(id, 'go');
  expect(await within(client.waitForCompletion(id, SETTLED), 'the source ending')).toMatchObject({ runtimeStatus: 'Completed', output: ['handed', 'mine'] });
  expect(await within(client.waitForCompletion(fork, SETTLED), 'the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: ['handed', 'mine'] });
  const history = (await client.getStatus(fork, { showHistory: true, showHistoryOutput: true }))!.history!;
  const children = history.flatMap((e) => (e.type === 'SubOrchestrationInstanceCreated' ? [e.instanceId] : []));
  expect(new Set(children).size).toBe(2);
  expect(children).not.toContain(`job-${notes[0]}`);
  expect(replayHistory(both, history)).toMatchObject({ runtimeStatus: 'Completed', output: ['handed', 'mine'] });
});

it("names a child with a handed-on GUID as its own in a fork that keeps no results and in a restart, as a fork that keeps results does", async () => {
  const { clock, notes, client, id, guid } = await startedRelay();
  // The fork's continueAsNew hands the source's GUID on (its start names it): the fork's next execution ran a child of its own.
  const fork = await client.fork(id, { keepResults: 1 });
  await client.raiseEvent(fork, 'go');
  expect(await within(client.waitForCompletion(fork, SETTLED), 'the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  /** The ids of the children `of` called in its current execution. */
  const children = async (of: string) => ((await client.getStatus(of, { showHistory: true }))!.history!)
    .flatMap((e) => (e.type === 'SubOrchestrationInstanceCreated' ? [e.instanceId] : []));
  const own = await children(fork);
  // Each starts afresh with that input: a fork of it that keeps nothing, and a restart under a new id and under its own.
  await clock.advance(60_000);
  const afresh = await client.fork(fork, { keepResults: 0 });
  const restarted = await client.restart(fork, { restartWithNewInstanceId: true });
  const runs = [afresh, restarted];
  for (const run of runs) expect(await within(client.waitForCompletion(run, SETTLED), 'a new run ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  await client.restart(fork);
  expect(await within(client.waitForCompletion(fork, SETTLED), 'the restart ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  runs.push(fork);
  const called = await Promise.all(runs.map(children));
  for (const [i, ids] of called.entries()) {
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^job-[0-9a-f-]{36}$/);
    expect(await client.getStatus(ids[0]!)).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: runs[i] });
  }
  expect(new Set([`job-${guid}`, ...own, ...called.flat()]).size).toBe(5);
  // The source's child of that name is still the source's alone.
  expect(await client.getStatus(`job-${guid}`)).toBeUndefined();
  await client.raiseEvent(id, 'go');
  expect(await within(client.waitForCompletion(id, SETTLED), 'the source ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  expect(await client.getStatus(`job-${guid}`)).toMatchObject({ parentInstanceId: id });
  expect(notes).toHaveLength(1);
});

it("names a child with a handed-on GUID as its own in a restart of a fork terminated before its start was taken, and in a fork of a fork not started yet", async () => {
  const clock = new VirtualClock();
  const notes: string[] = [];
  const store = new MemoryStore();
  const runtime = await start({
    clock, store,
    orchestrators: { Relay: relay, Child: function* (ctx) { return ctx.getInput(); } },
    activities: { Note: (guid: string) => void notes.push(guid) },
  });
  const id = await runtime.client.startNew('Relay');
  await resultRecorded(runtime.client, id);
  const guid = notes[0]!;
  // A fork whose continueAsNew hands the source's GUID on: its current execution's start names it.
  const fork = await runtime.client.fork(id, { keepResults: 1 });
  await runtime.client.raiseEvent(fork, 'go');
  expect(await within(runtime.client.waitForCompletion(fork, SETTLED), 'the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  // No worker runs: a fork of it that keeps nothing stays Pending, its start queued; one is terminated so, then restarted,
  // and another is forked again before it starts.
  await runtime.stop();
  const alone = createClient({ store, clock });
  const terminated = await alone.fork(fork, { keepResults: 0 });
  await alone.terminate(terminated, 'not yet');
  expect(await alone.getStatus(terminated)).toMatchObject({ runtimeStatus: 'Terminated' });
  await alone.restart(terminated);
  const pending = await alone.fork(fork, { keepResults: 0 });
  const again = await alone.fork(pending, { keepResults: 0 });
  await runtime.start();
  const runs = [terminated, pending, again];
  for (const run of runs) expect(await within(runtime.client.waitForCompletion(run, SETTLED), `${run} ending`)).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  const called = await Promise.all(runs.map(async (of) => ((await runtime.client.getStatus(of, { showHistory: true }))!.history!)
    .flatMap((e) => (e.type === 'SubOrchestrationInstanceCreated' ? [e.instanceId] : []))));
  // Each ran a child of its own, none under the source's GUID.
  expect(called.map((ids) => ids.length)).toEqual([1, 1, 1]);
  expect(new Set([`job-${guid}`, ...called.flat()]).size).toBe(4);
  expect(await runtime.client.getStatus(`job-${guid}`)).toBeUndefined();
});

it.each([
  ['as made', (guid: string) => guid],
  ['upper-cased, as a client or activity of another language may write it', (guid: string) => guid.toUpperCase()],
])("fails a copy's call that names a child of its source by a GUID (%s) that reached it another way, saying so, and leaves that child the source's, where a restart runs it again", async (_, written) => {
  const clock = new VirtualClock();
  // The code's own store, outside the engine: the first execution keeps its GUID there, the next reads it back.
  let kept: string | undefined;
  const recall: Orchestrator = function* (ctx): Orchestration {
    if (ctx.getInput() === undefined) {
      yield ctx.callActivity('Keep', ctx.newGuid());
      yield ctx.waitForExternalEvent('go');
      ctx.continueAsNew('next');
      return undefined;
    }
    const guid = (yield ctx.callActivity('Recall')) as string;
    try {
      return yield ctx.callSubOrchestrator('Child', guid, `job-${guid}`);
    } catch (error) {
      return (error as TaskFailedError).failureDetails;
    }
  };
  const runtime = await start({
    clock,
    orchestrators: { Recall: recall, Child: function* (ctx) { return ctx.getInput(); } },
    activities: { Keep: (guid: string) => void (kept = written(guid)), Recall: () => kept },
  });
  const { client } = runtime;
  const id = await client.startNew('Recall');
  await resultRecorded(client, id);
  const guid = kept!;
  // The fork keeps the result of the step that made the GUID; the source then runs its child first.
  const fork = await client.fork(id, { keepResults: 1 });
  await client.raiseEvent(id, 'go');
  expect(await within(client.waitForCompletion(id, SETTLED), 'the source ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  const child = await client.getStatus(`job-${guid}`);
  expect(child).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: id });
  // The fork's next execution reads the GUID back from the code's store: its call names the source's child.
  await client.raiseEvent(fork, 'go');
  const forked = await within(client.waitForCompletion(fork, SETTLED), 'the fork ending');
  expect(forked.runtimeStatus).toBe('Completed');
  expect(forked.output).toMatchObject({ errorType: 'InstanceAlreadyExistsError' });
  const { errorMessage } = forked.output as { errorMessage: string };
  expect(errorMessage).toContain(`job-${guid}`);
  expect(errorMessage).toContain(`is a child of ${JSON.stringify(id)}`);
  // The source's child was not taken over: still the source's, the same execution.
  expect(await client.getStatus(`job-${guid}`)).toEqual(child);
  // A restart is no copy, as a Durable Functions restart is not: under a new id (with the input the source's first
  // execution handed on), its call runs the source's ended child again as its own, as any start of an ended id does.
  const restarted = await client.restart(id, { restartWithNewInstanceId: true });
  expect(await within(client.waitForCompletion(restarted, SETTLED), 'the restart ending')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
  expect(await client.getStatus(`job-${guid}`)).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: restarted });
  // So does a restart under its own id.
  await client.restart(id);
  expect(await within(client.waitForCompletion(id, SETTLED), 'the source restarting')).toMatchObject({ runtimeStatus: 'Completed', output: guid });
});

/** Makes a GUID in an activity (a way a copy does not rename), waits for 'go', then calls a child named with it. */
const late: Orchestrator = function* (ctx): Orchestration {
  const guid = (yield ctx.callActivity('Make')) as string;
  yield ctx.waitForExternalEvent('go');
  try {
    return yield ctx.callSubOrchestrator('Child', guid, `job-${guid}`);
  } catch (error) {
    return (error as TaskFailedError).failureDetails;
  }
};

/** A `late` instance whose activity's GUID is recorded, on a virtual clock. */
async function startedLate() {
  const made: string[] = [];
  const { client } = await start({
    clock: new VirtualClock(),
    orchestrators: { Late: late, Child: function* (ctx) { return ctx.getInput(); } },
    activities: { Make: () => { made.push(crypto.randomUUID()); return made.at(-1)!; } },
  });
  const id = await client.startNew('Late');
  await resultRecorded(client, id);
  return { client, id, guid: made[0]! };
}

/** Raises 'go' to `id` and waits for it to complete: its output. */
async function go(client: DurableClient, id: string): Promise<unknown> {
  await client.raiseEvent(id, 'go');
  const ended = await within(client.waitForCompletion(id, SETTLED), `${id} ending`);
  expect(ended.runtimeStatus).toBe('Completed');
  return ended.output;
}

it("fails the source's call, and another copy's, over a child a copy of it called first by a GUID that reached it another way, saying so, and leaves that child the copy's", async () => {
  const { client, id, guid } = await startedLate();
  // Two forks keep the activity's result, so both hold the source's GUID; one of them calls the child first.
  const fork = await client.fork(id, { keepResults: 1 });
  const sibling = await client.fork(id, { keepResults: 1 });
  await resultRecorded(client, fork);
  const ofFork = await client.fork(fork, { keepResults: 1 });
  expect(await go(client, fork)).toBe(guid);
  const child = await client.getStatus(`job-${guid}`);
  expect(child).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: fork });
  // The source, the fork's sibling and the fork's own fork are refused, each naming the id and the cause.
  const refused = [await go(client, id), await go(client, sibling), await go(client, ofFork)] as { errorType: string; errorMessage: string }[];
  for (const failure of refused) {
    expect(failure.errorType).toBe('InstanceAlreadyExistsError');
    expect(failure.errorMessage).toContain(`job-${guid}`);
  }
  expect(refused[0]!.errorMessage).toContain('is a child of a fork of this instance');
  expect(refused[1]!.errorMessage).toContain(`is a child of another copy of ${JSON.stringify(id)}`);
  expect(refused[2]!.errorMessage).toContain(`is a child of ${JSON.stringify(fork)}`);
  // The child was not taken over: still the fork's, the same execution.
  expect(await client.getStatus(`job-${guid}`)).toEqual(child);
});

it(`names at most ${MAX_FORKED_FROM} instances a fork of a fork was copied from, the nearest and the first, and still fails a call over a child of one it no longer names`, async () => {
  const { client, id, guid } = await startedLate();
  const chain = [id];
  for (let i = 0; i < MAX_FORKED_FROM + 2; i++) {
    chain.push(await client.fork(chain.at(-1)!, { keepResults: 1 }));
    await resultRecorded(client, chain.at(-1)!);
  }
  const last = chain.at(-1)!;
  const start = (await client.getStatus(last, { showHistory: true }))!.history!.find((e) => e.type === 'ExecutionStarted');
  expect(start).toMatchObject({ forkedFrom: [...chain.slice(-MAX_FORKED_FROM, -1).reverse(), id] });
  // The second fork, which the last no longer names, calls the child first: the last one's call is refused still.
  expect(await go(client, chain[2]!)).toBe(guid);
  const failure = await go(client, last) as { errorType: string; errorMessage: string };
  expect(failure.errorType).toBe('InstanceAlreadyExistsError');
  expect(failure.errorMessage).toContain(`is a child of another copy of ${JSON.stringify(id)}`);
  expect(await client.getStatus(`job-${guid}`)).toMatchObject({ parentInstanceId: chain[2] });
});
