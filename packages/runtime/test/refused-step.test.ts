import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRuntime, DurableError, MemoryStore, PayloadTooLargeError, type Orchestrator, type Runtime } from '../src/index.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { WriteSet } from '../src/model/write-set.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { RecordingLogger } from './failing-store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';
import { untilEnded } from './until-ended.js';

const { runtimes, start } = startedRuntimes({ graceMs: 0 });

/** Most characters of JSON one commit may write on a {@link LimitedStore}. */
const LIMIT = 20_000;

/**
 * A store that refuses, for good, a commit that writes more than it can store (as MongoStore refuses a document over
 * its payload limit with a 413 before writing anything).
 */
class LimitedStore extends MemoryStore {
  refusals = 0;
  override commit(writeSet: WriteSet) {
    if (JSON.stringify(writeSet).length > LIMIT) {
      this.refusals++;
      return Promise.reject(new PayloadTooLargeError('the write exceeds what this store stores'));
    }
    return super.commit(writeSet);
  }
}

const big = (): string => 'x'.repeat(LIMIT);

/** A runtime on a LimitedStore and a virtual clock. */
async function onLimitedStore(orchestrators: Record<string, Orchestrator>, activities: Record<string, (input: never) => unknown> = {}) {
  const clock = new VirtualClock();
  const logger = new RecordingLogger();
  const store = new LimitedStore();
  const runtime = await start({ store, clock, logger, orchestrators, activities });
  const ended = (id: string, max?: number) => untilEnded(runtime, clock, id, max);
  return { clock, logger, store, runtime, ended };
}

describe('a step the store refuses for good (a 413 or a 400)', () => {
  it('fails the instance with the store\'s reason instead of retrying the step at every lease expiry', async () => {
    const { runtime, store, ended } = await onLimitedStore({ Big: function* () { return big(); } });
    const id = await runtime.client.startNew('Big');
    const status = await ended(id);
    expect(status).toMatchObject({
      runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError', errorMessage: 'the write exceeds what this store stores' },
    });
    expect(status!.history!.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'ExecutionCompleted', 'OrchestratorCompleted']);
    expect(store.refusals).toBe(1);
  });

  it('fails it so when the step schedules an activity with an input too large, and runs no activity', async () => {
    let runs = 0;
    const { runtime, ended } = await onLimitedStore(
      { Calls: function* (ctx) { yield ctx.callActivity('Small'); return yield ctx.callActivity('Work', big()); } },
      { Small: () => 'ok', Work: () => runs++ },
    );
    const id = await runtime.client.startNew('Calls');
    const status = await ended(id);
    expect(status).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    expect(status!.history!.filter((e) => e.type === 'TaskCompleted')).toHaveLength(1);
    expect(runs).toBe(0);
  });

  it('answers the parent of a sub-orchestration so refused, which sees it fail', async () => {
    const { runtime, ended } = await onLimitedStore({
      Child: function* (ctx) { yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1000)); return big(); },
      Parent: function* (ctx) {
        try {
          return yield ctx.callSubOrchestrator('Child', undefined, 'child-1');
        } catch (error) {
          return `caught: ${(error as Error).message}`;
        }
      },
    });
    const id = await runtime.client.startNew('Parent');
    const status = await ended(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed' });
    expect(status!.output).toMatch(/^caught: .*the write exceeds what this store stores/);
    expect(await runtime.client.getStatus('child-1')).toMatchObject({ runtimeStatus: 'Failed' });
  });

  it('fails a rewound instance whose step the store refuses again, and completes it once a rewind succeeds', async () => {
    let output = big();
    const { runtime, ended, store } = await onLimitedStore({
      Once: function* (ctx) { yield ctx.callActivity('Step'); return output; },
    }, { Step: () => 'done' });
    const id = await runtime.client.startNew('Once');
    expect(await ended(id)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    // Rewound, the replay ends with the same output: the store refuses that step too, and the instance fails again.
    const refusals = store.refusals;
    await runtime.client.rewind(id);
    const again = await ended(id);
    expect(again).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    expect(store.refusals).toBe(refusals + 1);
    // The history of the failed rewind is the one a rewind replays: the activity's result is kept, no step is left.
    output = 'small';
    await runtime.client.rewind(id);
    const completed = await ended(id);
    expect(completed).toMatchObject({ runtimeStatus: 'Completed', output: 'small' });
    expect(completed!.history!.filter((e) => e.type === 'TaskCompleted')).toHaveLength(1);
  });
  it('runs a rewound instance whose step was refused while it was suspended, as the Running it shows', async () => {
    const clock = new VirtualClock();
    const store = new LimitedStore();
    const orchestrators: Record<string, Orchestrator> = { Wait: function* (ctx) { return yield ctx.waitForExternalEvent<string>('Go'); } };
    const first = await start({ store, clock, orchestrators });
    const id = await first.client.startNew('Wait');
    await firstValueFrom(first.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    await first.stop();
    // Suspended, then two events that fit the store one at a time, not together, reach it: the step that takes both
    // is refused for good, and the instance fails while suspended.
    const runtime = createRuntime({ store, clock, orchestrators });
    runtimes.push(runtime);
    await runtime.client.suspend(id, 'paused');
    const half = 'x'.repeat(LIMIT * 0.6);
    await runtime.client.raiseEvent(id, 'Go', half);
    await runtime.client.raiseEvent(id, 'Go', half);
    await runtime.start();
    for (let s = 0; s < 120 && (await runtime.client.getStatus(id))?.runtimeStatus !== 'Failed'; s++) await clock.advance(1000);
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    // Rewound, it shows Running and runs: the next event completes it (the suspend ended with the run that failed).
    await runtime.client.rewind(id);
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Running' });
    await runtime.client.raiseEvent(id, 'Go', 'small');
    expect(await untilEnded(runtime, clock, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'small' });
  });
  it('records the runtime\'s custom status limit on a refused first step, so the code a rewind runs keeps it when another runtime replays it', async () => {
    const status = 'x'.repeat(500);
    let refuse = true;
    const orchestrators: Record<string, Orchestrator> = {
      Status: function* (ctx) {
        if (refuse) return big();
        ctx.setCustomStatus(status);
        yield ctx.waitForExternalEvent('Go');
        return 'done';
      },
    };
    const clock = new VirtualClock();
    const store = new LimitedStore();
    const first = await start({ store, clock, orchestrators, customStatusLimitBytes: 1000 });
    const id = await first.client.startNew('Status');
    const failed = await untilEnded(first, clock, id);
    expect(failed).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    expect(failed!.history![0]).toMatchObject({ type: 'OrchestratorStarted', customStatusLimitBytes: 1000 });
    // The rewind runs the code for the first time, under the limit its execution started with: the status fits.
    refuse = false;
    await first.client.rewind(id);
    await within(firstValueFrom(first.client.customStatus$(id).pipe(filter((s) => s === status))), 'the status of 502 bytes');
    await first.stop();
    // A runtime with a lower limit replays it as it ran, instead of failing on the status committed.
    const second = await start({ store, clock, orchestrators, customStatusLimitBytes: 100 });
    await second.client.raiseEvent(id, 'Go');
    expect(await untilEnded(second, clock, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
  });
});

describe('a step whose failure record the store refuses for good too', () => {
  it('fails the instance with the events recorded without their payloads, instead of retrying the step at every lease expiry', async () => {
    const clock = new VirtualClock();
    const logger = new RecordingLogger();
    const store = new LimitedStore();
    const runtime = createRuntime({
      store, clock, logger,
      orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('E'); } },
    });
    runtimes.push(runtime);
    const id = await runtime.client.startNew('Waits');
    // Two events that fit the store one at a time, not together: the step's history and its failure record both hold both.
    const half = 'x'.repeat(LIMIT * 0.6);
    await runtime.client.raiseEvent(id, 'E', half);
    await runtime.client.raiseEvent(id, 'E', half);
    await runtime.start();
    for (let s = 0; s < 120; s++) {
      const status = await runtime.client.getStatus(id);
      if (status && status.runtimeStatus !== 'Pending' && status.runtimeStatus !== 'Running') break;
      await clock.advance(1000);
    }
    const status = await runtime.client.getStatus(id, { showHistory: true });
    expect(status).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    expect(status!.failureDetails!.errorMessage).toMatch(/failure record were refused/);
    // Not dropped: each claimed event is in the history, visibly without its payload.
    const payloadRefused = 'the store refused to record it (PayloadTooLargeError: the write exceeds what this store stores)';
    expect(status!.history!.filter((e) => e.type === 'EventRaised')).toEqual([
      { type: 'EventRaised', eventId: -1, timestamp: expect.any(String), name: 'E', payloadRefused },
      { type: 'EventRaised', eventId: -1, timestamp: expect.any(String), name: 'E', payloadRefused },
    ]);
    expect(store.refusals).toBe(2);
    expect(logger.errors).toEqual([
      expect.stringMatching(/refused the step of [^ ]+; recorded as the instance's failure$/),
      expect.stringMatching(/refused the step of .* and its failure record; recorded as the instance's failure, without payloads$/),
    ]);
  });

  it('answers the terminate the step took, recorded without its reason, as applied: the instance is Terminated by it', async () => {
    const store = new LimitedStore();
    const runtime = await start({ store, orchestrators: { Waits: function* (ctx) { yield ctx.waitForExternalEvent('Go'); return yield ctx.waitForExternalEvent('E'); } } });
    const id = await runtime.client.startNew('Waits');
    await firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    // The worker's step on Go waits to commit, so what follows goes to it as messages, taken in its next step: two
    // events that fit the store one at a time, not together, and the terminate.
    const { held, release, sent } = holdNextStep(store);
    await runtime.client.raiseEvent(id, 'Go');
    await held;
    const half = 'x'.repeat(LIMIT * 0.6);
    await runtime.client.raiseEvent(id, 'E', half);
    await runtime.client.raiseEvent(id, 'E', half);
    const terminated = runtime.client.terminate(id, 'stop').then(() => 'resolved', (error: { code?: string }) => error.code);
    await sent;
    release();
    // The step and its failure record are refused; the record without payloads keeps the terminate, which ends the
    // instance without its reason. It was this call's terminate: no other was sent.
    expect(await within(terminated, 'the terminate')).toBe('resolved');
    const status = await runtime.client.getStatus(id, { showHistory: true });
    expect(status).toMatchObject({ runtimeStatus: 'Terminated' });
    expect(status!.output).toBeUndefined();
    expect(status!.history!.find((e) => e.type === 'ExecutionTerminated')).toMatchObject({ payloadRefused: expect.any(String) });
    expect(store.refusals).toBe(2);
  });

  it('keeps the messages for the next claim when the store has no room even for the record without payloads, and applies them once it takes the step', async () => {
    const clock = new VirtualClock();
    const logger = new RecordingLogger();
    // The step and its failure record refused for good (the event's payload), the record without payloads for want of
    // room (a 507): room may come back, so the step is tried again at its next claim.
    const store = new EventRefusingStore(true);
    const runtime = createRuntime({
      store, clock, logger,
      orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('E'); } },
    });
    runtimes.push(runtime);
    const id = await runtime.client.startNew('Waits');
    await runtime.client.raiseEvent(id, 'E', 'the payload');
    await runtime.start();
    // The step, its failure record and that record without payloads: each refused.
    for (let s = 0; s < 600 && store.refusals < 3; s++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(store.refusals).toBe(3);
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Pending' });
    store.refusing = false;
    for (let s = 0; s < 120; s++) {
      const status = await runtime.client.getStatus(id);
      if (status && status.runtimeStatus !== 'Pending' && status.runtimeStatus !== 'Running') break;
      await clock.advance(1000);
    }
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'the payload' });
    expect(store.refusals).toBe(3);
  });

  it('fails the instance with a record of fixed size when the store refuses the record without payloads for good too: it ends, the event counted', async () => {
    const logger = new RecordingLogger();
    const store = new EventRefusingStore();
    const runtime = createRuntime({ store, logger, orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('E'); } } });
    runtimes.push(runtime);
    const id = await runtime.client.startNew('Waits', { input: 'kept' });
    await runtime.client.raiseEvent(id, 'E', 'the payload');
    await runtime.start();
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({
      runtimeStatus: 'Failed', input: 'kept',
      failureDetails: { errorType: 'PayloadTooLargeError', errorMessage: expect.stringMatching(/^the step and its failure records were refused, 1 claimed events not recorded: this store records no raised event$/) },
    });
    expect(store.refusals).toBe(3);
    expect((await store.getHistory(id)).map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'ExecutionCompleted', 'OrchestratorCompleted']);
    expect(logger.errors).toContainEqual(expect.stringMatching(/and its failure records; recorded as the instance's failure, its events counted$/));
  });
});

/**
 * Holds the next step a worker commits on `store` (a commit under an orchestration lease): `held` once it is made, and
 * it reaches the store once `release` is called (meanwhile commands to the instance go to the worker as messages);
 * `afterHeld` runs as soon as the store has taken it. `sent` once a terminate message is committed.
 */
function holdNextStep(store: MemoryStore, afterHeld?: () => void) {
  let reached!: () => void;
  let release!: () => void;
  const held = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  let terminateSent!: () => void;
  const sent = new Promise<void>((r) => (terminateSent = r));
  const commit = store.commit.bind(store);
  let holding = true;
  store.commit = async (writeSet) => {
    const hold = holding && writeSet.lease?.kind === 'orchestration';
    if (hold) {
      holding = false;
      reached();
      await released;
    }
    const result = await commit(writeSet);
    if (hold) afterHeld?.();
    if (writeSet.requests.some((r) => r.type === 'insertMessage' && r.message.event.type === 'ExecutionTerminated')) terminateSent();
    return result;
  };
  return { held, release, sent };
}

/** A 507: the store has no room for the write (it may have later). */
class NoRoomError extends DurableError {
  override readonly name = 'NoRoomError';
  readonly code = 'storage-quota-exceeded' as const;
  readonly status = 507 as const;
}

/**
 * A store that refuses, for good, every commit recording a raised event while `refusing`, and takes the rest; with
 * `noRoomForBare`, a raised event recorded without its payload is refused for want of room instead (a 507).
 */
class EventRefusingStore extends MemoryStore {
  refusing = true;
  refusals = 0;
  constructor(private readonly noRoomForBare = false) {
    super();
  }
  override commit(writeSet: WriteSet) {
    const raised = writeSet.requests.flatMap((r) => (r.type === 'appendHistory' ? r.events.filter((e) => e.type === 'EventRaised') : []));
    if (this.refusing && raised.length > 0) {
      this.refusals++;
      if (this.noRoomForBare && raised.every((e) => e.payloadRefused !== undefined)) return Promise.reject(new NoRoomError('no room for the record'));
      return Promise.reject(new PayloadTooLargeError('this store records no raised event'));
    }
    return super.commit(writeSet);
  }
}

/** Most characters of JSON one commit may append to a history on a {@link HistoryLimitedStore}. */
const HISTORY_LIMIT = 20_000;

/**
 * A store that refuses, for good, a commit appending more history than it stores at once (as a store keeping the
 * history in documents of a bounded size would), while it takes messages of any size.
 */
class HistoryLimitedStore extends MemoryStore {
  refusals = 0;
  override commit(writeSet: WriteSet) {
    const history = writeSet.requests.filter((r) => r.type === 'appendHistory' || r.type === 'replaceHistory');
    if (JSON.stringify(history).length > HISTORY_LIMIT) {
      this.refusals++;
      return Promise.reject(new PayloadTooLargeError('the history exceeds what this store stores'));
    }
    return super.commit(writeSet);
  }
}

/** An activity whose runs wait until the test ends them, each with the value given. */
function held() {
  const finishes: ((value: string) => void)[] = [];
  let started: () => void = () => {};
  const running = new Promise<void>((resolve) => { started = resolve; });
  const activity = () => new Promise<string>((resolve) => { finishes.push(resolve); started(); });
  return { activity, running, finish: (value: string) => finishes.splice(0).forEach((f) => f(value)) };
}

/** The history of `id` once an event of `type` follows its end, polled for at most 60 s. */
async function untilRecorded(runtime: Runtime, id: string, type: HistoryEvent['type']) {
  for (let i = 0; i < 600; i++) {
    const status = await runtime.client.getStatus(id, { showHistory: true });
    const end = status?.history?.findIndex((e) => e.type === 'ExecutionTerminated' || e.type === 'ExecutionCompleted') ?? -1;
    if (end >= 0 && status!.history!.slice(end).some((e) => e.type === type)) return status!;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${type} recorded after the end of ${id}`);
}

/**
 * A store that refuses, for good, while `refusing` is `'all'`, every commit that appends any history at all (the step
 * is then consumed with no record).
 */
class ResultRefusingStore extends MemoryStore {
  refusing: 'all' | undefined;
  override commit(writeSet: WriteSet) {
    const appended = writeSet.requests.flatMap((r) => (r.type === 'appendHistory' ? r.events : []));
    if (this.refusing === 'all' && appended.length > 0) {
      return Promise.reject(new PayloadTooLargeError('this store takes no more history of the instance'));
    }
    return super.commit(writeSet);
  }
}

describe('a late result of an ended instance whose record the store refuses for good', () => {
  it('is recorded without its payload, visibly, after a terminate: the status stays as it was', async () => {
    const slow = held();
    const store = new HistoryLimitedStore();
    const logger = new RecordingLogger();
    const runtime = await start({
      store, logger, activities: { Slow: slow.activity },
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Slow'); } },
    });
    const id = await runtime.client.startNew('Calls');
    await within(slow.running, 'the activity\'s run');
    await runtime.client.terminate(id, 'stop');
    await within(runtime.client.waitForCompletion(id, SETTLED), 'the terminate');
    slow.finish('x'.repeat(2 * HISTORY_LIMIT));
    const status = await untilRecorded(runtime, id, 'TaskCompleted');
    expect(status).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    const types = status.history!.map((e) => e.type);
    expect(types.slice(types.indexOf('ExecutionTerminated'))).toEqual(['ExecutionTerminated', 'OrchestratorCompleted', 'TaskCompleted']);
    expect(status.history!.at(-1)).toEqual({
      type: 'TaskCompleted', eventId: -1, timestamp: expect.any(String), taskScheduledId: 0,
      payloadRefused: 'the store refused to record it (PayloadTooLargeError: the history exceeds what this store stores)',
    });
    // Refused twice: the activity's result with the step it makes (then committed alone), and that step.
    expect(store.refusals).toBe(2);
    expect(logger.errors).toEqual([expect.stringMatching(/refused the step of .*; recorded without payloads/)]);
  });

  it('is made again by a rewind of a failed instance, as a call with no result', async () => {
    const slow = held();
    let runs = 0;
    let failures = 0;
    const store = new HistoryLimitedStore();
    const runtime = await start({
      store, logger: new RecordingLogger(),
      activities: { Slow: (input: never) => (++runs === 1 ? slow.activity() : `small ${runs}`), Fails: () => { if (++failures === 1) throw new Error('boom'); return 'fixed'; } },
      orchestrators: {
        Both: function* (ctx) {
          const [a] = (yield ctx.Task.all([ctx.callActivity('Slow'), ctx.callActivity('Fails')])) as string[];
          return a;
        },
      },
    });
    const id = await runtime.client.startNew('Both');
    await within(slow.running, 'the activity\'s run');
    expect(await within(runtime.client.waitForCompletion(id, SETTLED), 'the failure')).toMatchObject({ runtimeStatus: 'Failed' });
    slow.finish('x'.repeat(2 * HISTORY_LIMIT));
    const failed = await untilRecorded(runtime, id, 'TaskCompleted');
    expect(failed.history!.at(-1)).toMatchObject({ type: 'TaskCompleted', taskScheduledId: 0, payloadRefused: expect.stringMatching(/PayloadTooLargeError/) });
    await runtime.client.rewind(id);
    expect(await within(runtime.client.waitForCompletion(id, SETTLED), 'the rewound run')).toMatchObject({ runtimeStatus: 'Completed', output: 'small 2' });
  });
});

/** Resolves once `store` holds a history of `id`, polled every 10 ms; rejects past `within`'s bound, and stops polling. */
async function untilHistory(store: MemoryStore, id: string): Promise<void> {
  let ended = false;
  const poll = async (): Promise<void> => {
    while (!ended && (await store.getHistory(id)).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  try {
    await within(poll(), `a history of ${id}`);
  } finally {
    ended = true;
  }
}

describe('a running instance\'s step whose record of fixed size the store refuses for good too', () => {
  /** A runtime on a virtual clock over a ResultRefusingStore, whose `Waits` returns the event `E` it waits for. */
  async function onRefusingStore() {
    const clock = new VirtualClock();
    const logger = new RecordingLogger();
    const store = new ResultRefusingStore();
    let commits = 0;
    const commit = store.commit.bind(store);
    store.commit = (writeSet) => { commits++; return commit(writeSet); };
    const runtime = await start({ store, clock, logger, orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('E'); } } });
    return { clock, logger, store, runtime, commits: () => commits, ended: (id: string) => untilEnded(runtime, clock, id) };
  }

  it('ends it Failed in its status alone, its history as it was, instead of retrying the step at every lease expiry; a rewind then runs it on', async () => {
    const { clock, logger, store, runtime, commits, ended } = await onRefusingStore();
    const id = await runtime.client.startNew('Waits', { input: 'kept' });
    await untilHistory(store, id);
    const before = (await store.getHistory(id)).map((e) => e.type);
    expect(before).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'OrchestratorCompleted']);
    store.refusing = 'all';
    await runtime.client.raiseEvent(id, 'E', 'lost');
    const status = await ended(id);
    expect(status).toMatchObject({
      runtimeStatus: 'Failed', input: 'kept',
      failureDetails: {
        errorType: 'PayloadTooLargeError',
        errorMessage: 'the step and every record of it were refused, 1 claimed events not recorded: this store takes no more history of the instance',
      },
    });
    // No record of the step: the history the store took before.
    expect(status!.history!.map((e) => e.type)).toEqual(before);
    expect(logger.errors.at(-1)).toMatch(/and every record of it; its messages consumed, not recorded, the instance ended in its status alone$/);
    // Not claimed again: the lease expiries after it commit nothing.
    const after = commits();
    await clock.advance(120_000);
    expect(commits()).toBe(after);
    // Rewound once the store takes history again, it runs on from the history it has (the lost event not delivered).
    store.refusing = undefined;
    await runtime.client.rewind(id);
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Running' });
    await runtime.client.raiseEvent(id, 'E', 'again');
    expect(await ended(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'again' });
  });

  it('answers the terminate such a step took as applied: the instance is Terminated by it in its state alone', async () => {
    const { store, runtime } = await onRefusingStore();
    const id = await runtime.client.startNew('Waits');
    await untilHistory(store, id);
    // The step on E waits to commit (the terminate goes to the worker as a message); once it is taken, the store takes
    // no more history, so the next step, the terminate's, is recorded nowhere but in the state.
    const { held, release, sent } = holdNextStep(store, () => (store.refusing = 'all'));
    await runtime.client.raiseEvent(id, 'Other');
    await held;
    const terminated = runtime.client.terminate(id, 'stop').then(() => 'resolved', (error: { code?: string }) => error.code);
    await sent;
    release();
    expect(await within(terminated, 'the terminate')).toBe('resolved');
    const status = await runtime.client.getStatus(id, { showHistory: true });
    expect(status).toMatchObject({ runtimeStatus: 'Terminated' });
    expect(status!.history!.some((e) => e.type === 'ExecutionTerminated')).toBe(false);
  });

  it('ends one whose first step the store refuses every record of Failed with no history; a rewind, with nothing to replay, is refused, a restart runs it', async () => {
    const { store, runtime, ended } = await onRefusingStore();
    store.refusing = 'all';
    const id = await runtime.client.startNew('Waits', { input: 'kept' });
    expect(await ended(id)).toMatchObject({ runtimeStatus: 'Failed', input: 'kept', failureDetails: { errorMessage: expect.stringMatching(/^the step and every record of it were refused/) } });
    expect(await store.getHistory(id)).toEqual([]);
    store.refusing = undefined;
    await expect(runtime.client.rewind(id)).rejects.toMatchObject({
      name: 'PayloadTooLargeError', message: expect.stringMatching(/was not made, the instance stays Failed: the rewind was refused, the instance has no history to replay/),
    });
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Failed' });
    await runtime.client.restart(id);
    await runtime.client.raiseEvent(id, 'E', 'now');
    expect(await ended(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'now' });
  });
});
