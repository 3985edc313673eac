import { describe, expect, it } from 'vitest';
import { decideResume, decideRewind, decideStep, decideSuspend, RESUME_TAIL_EVENTS, type DirectDecision } from '../src/engine/decide-step.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { OrchestrationExecution, suspendedWithNothingDeferred, suspendedWithNothingDeferredFrom } from '../src/engine/orchestration-execution.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { InstanceState } from '../src/model/instance-status.js';
import type { OrchestrationMessage } from '../src/model/message.js';
import type { WriteSet } from '../src/model/write-set.js';
import { seededRandom as random } from '../src/testing/fault-injection.js';
import { HistoryBuilder } from '../src/testing/history-builder.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const suspended = { type: 'ExecutionSuspended' as const, eventId: -1, timestamp: T0.toISOString(), reason: 'hold' };
const resumed = { type: 'ExecutionResumed' as const, eventId: -1, timestamp: T0.toISOString(), reason: 'go' };

/**
 * A history as an execution records it, of `steps` steps of one to three messages each: suspends, resumes, events and
 * activity results, in any order. The code runs on an event or result only while not suspended (one kept while
 * suspended runs at the resume), and then may schedule a call or a timer: never while suspended.
 */
function recorded(seed: number, steps: number): HistoryEvent[] {
  const next = random(seed);
  const history = new HistoryBuilder({ name: 'Any' }).started().taskScheduled('Act');
  let isSuspended = false;
  let kept = 0;
  const codeRuns = () => {
    const roll = next();
    if (roll < 0.3) history.taskScheduled('Act');
    else if (roll < 0.4) history.timerCreated(new Date(T0.getTime() + 60_000));
  };
  for (let s = 0; s < steps; s++) {
    history.step(1);
    for (let m = 1 + Math.floor(next() * 3); m > 0; m--) {
      const roll = next();
      if (roll < 0.25) {
        history.event(suspended);
        isSuspended = true;
      } else if (roll < 0.45) {
        history.event(resumed);
        if (isSuspended && kept > 0) codeRuns();
        isSuspended = false;
        kept = 0;
      } else {
        if (roll < 0.75) history.eventRaised('Item', s);
        else history.taskCompleted(0, s);
        if (isSuspended) kept++;
        else codeRuns();
      }
    }
  }
  return history.build();
}

describe('suspendedWithNothingDeferredFrom: a resume\'s answer from a tail of the history', () => {
  it('gives the answer of the whole history whenever the tail gives one, and always from position 0', () => {
    let decided = 0;
    let asked = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const history = recorded(seed, 2 + (seed % 25));
      const whole = suspendedWithNothingDeferred(history);
      for (let from = 0; from <= history.length; from++) {
        const answer = suspendedWithNothingDeferredFrom(history.slice(from), from);
        asked++;
        if (answer === undefined) continue;
        decided++;
        expect(answer, `seed ${seed}, from ${from}`).toBe(whole);
      }
      expect(suspendedWithNothingDeferredFrom(history, 0)).toBe(whole);
    }
    // Most tails tell: the rule is of use, not only right.
    expect(decided / asked).toBeGreaterThan(0.5);
  });

  it('tells from a call the code scheduled that nothing before it was kept, and reads on when only events came before', () => {
    const called = new HistoryBuilder({ name: 'Any' }).started().taskScheduled('Act').step().taskCompleted(0).taskScheduled('Act').step().event(suspended).build();
    expect(suspendedWithNothingDeferredFrom(called.slice(-6), called.length - 6)).toBe(true);
    // An event before the suspend: kept (an earlier suspend) or not, only earlier events say.
    const raised = new HistoryBuilder({ name: 'Any' }).started().step().eventRaised('a').step().event(suspended).build();
    expect(suspendedWithNothingDeferredFrom(raised.slice(-5), raised.length - 5)).toBeUndefined();
    expect(suspendedWithNothingDeferredFrom(raised, 0)).toBe(true);
    // An event after a suspend in the tail was kept, whatever came before.
    const kept = new HistoryBuilder({ name: 'Any' }).started().step().event(suspended).step().eventRaised('a').build();
    expect(suspendedWithNothingDeferredFrom(kept.slice(-4), kept.length - 4)).toBe(false);
  });
});

describe('decideResume on a long history: a tail, then further back while it cannot tell', () => {
  const now = new Date(T0.getTime() + 1000);
  const newId = () => 'id';
  const stateOf = (history: readonly HistoryEvent[]): InstanceState => ({
    instanceId: 'instance-1', name: 'Any', runtimeStatus: 'Suspended', createdTime: T0, lastUpdatedTime: T0,
    executionId: 'execution-1', historyLength: history.length, version: 2,
  });
  /** The ranges decideResume asks for, each read as a client reads it (only what it had not read), and its decision. */
  const readAsAsked = (history: readonly HistoryEvent[]): { asked: number[]; decision: DirectDecision } => {
    const state = stateOf(history);
    const asked: number[] = [];
    let decision = decideResume({ state, event: resumed, now, newId });
    while (decision.kind === 'needHistory') {
      const from = decision.fromIndex ?? 0;
      asked.push(from);
      decision = decideResume({ state, event: resumed, now, newId, history: history.slice(from), historyFrom: from });
    }
    return { asked, decision };
  };

  it('reads the last events of a history whose code ran before the suspend, and decides as with the whole history', () => {
    const history = new HistoryBuilder({ name: 'Any' }).started().taskScheduled('Act');
    for (let i = 0; i < 50; i++) history.step().taskCompleted(i).taskScheduled('Act');
    const events = history.step().event(suspended).build();
    const { asked, decision } = readAsAsked(events);
    expect(asked).toEqual([events.length - RESUME_TAIL_EVENTS]);
    expect(decision).toEqual(decideResume({ state: stateOf(events), event: resumed, now, newId, history: events }));
    expect(decision.kind).toBe('commit');
  });

  it('reads further back, twice as far each time, to an event kept long before, and leaves the resume to a worker', () => {
    // Suspended, an event kept, then many suspends again (HTTP retries): the tail shows only those.
    const history = new HistoryBuilder({ name: 'Any' }).started().taskScheduled('Act').step().event(suspended).step().eventRaised('kept');
    for (let i = 0; i < 40; i++) history.step().event(suspended);
    const events = history.build();
    const { asked, decision } = readAsAsked(events);
    const n = events.length;
    expect(n).toBeGreaterThan(128);
    // Each read as long again as all read before it; the last holds the call the code scheduled before the suspend.
    expect(asked).toEqual([n - 16, n - 32, n - 64, n - 128]);
    expect(decision).toEqual({ kind: 'send' });
  });
});

describe('the state a step leaves Suspended says what was kept (suspension): a resume reads no history', () => {
  /** Waits for events, one after another, and does nothing else: no call or timer in its history to read back to. */
  const waits: Orchestrator = function* (ctx) {
    for (;;) yield ctx.waitForExternalEvent('Item');
  };
  const base: InstanceState = {
    instanceId: 'instance-1', name: 'Waits', runtimeStatus: 'Pending', createdTime: T0, lastUpdatedTime: T0,
    executionId: 'execution-1', historyLength: 0, version: 1,
  };
  const start: OrchestrationMessage = {
    id: 'start', instanceId: 'instance-1', event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Waits', instanceId: 'instance-1', executionId: 'execution-1' },
  };

  /**
   * Waits for events; on one whose input is 'call' it calls an activity and waits for its result, which fails it when
   * the activity failed (uncaught), for a rewind to run it again.
   */
  const callsWhenAsked: Orchestrator = function* (ctx) {
    for (;;) {
      if ((yield ctx.waitForExternalEvent('Item')) === 'call') yield ctx.callActivity('Act');
    }
  };

  it('decides every resume as the whole history does, the state alone telling, through worker steps, client commits and rewinds in any order', () => {
    let told = 0;
    let suspendedStates = 0;
    let keptStates = 0;
    let rewinds = 0;
    let suspendedAfterRewind = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      let n = 0;
      const newId = () => `id-${n++}`;
      let state = base;
      let history: HistoryEvent[] = [];
      /** The messages a commit queued, or a client sent instead of committing: the next worker step takes them. */
      let queued: OrchestrationMessage[] = [];
      /** Whether the last commit was a rewind (a client's, or a worker step that took an `ExecutionRewound`). */
      let rewound = false;
      const commit = (decision: { kind: string; writeSet?: WriteSet; state?: InstanceState }): void => {
        if (decision.kind !== 'commit') throw new Error(`seed ${seed}: expected a commit, got ${decision.kind}`);
        for (const r of decision.writeSet!.requests) {
          if (r.type === 'appendHistory') history = [...history, ...r.events];
          else if (r.type === 'replaceHistory') history = [...r.events];
          else if (r.type === 'insertMessage' && r.message.instanceId === 'instance-1') queued.push(r.message);
        }
        rewound = (decision.state!.historyEpoch ?? 0) !== (state.historyEpoch ?? 0);
        state = decision.state!;
        expect(state.historyLength, `seed ${seed}`).toBe(history.length);
      };
      /**
       * A client's command: committed at once when its decision commits and nothing is queued before it (the store
       * refuses an unclaimed write behind a queued message: it goes as a message then), else sent.
       */
      const command = (event: OrchestrationMessage['event'], decide: (history?: readonly HistoryEvent[]) => DirectDecision): void => {
        let decision = decide();
        if (decision.kind === 'needHistory') decision = decide(history);
        if (decision.kind === 'commit' && queued.length === 0) commit(decision);
        else queued.push({ id: newId(), instanceId: 'instance-1', executionId: state.executionId, event });
      };
      /** The calls of the current history that have no result yet, recorded or queued. */
      const openCalls = (): number[] => {
        const answered = new Set<number>();
        for (const e of [...history, ...queued.map((m) => m.event)]) if ('taskScheduledId' in e) answered.add(e.taskScheduledId);
        return history.flatMap((e) => e.type === 'TaskScheduled' && !answered.has(e.eventId) ? [e.eventId] : []);
      };
      // The first step may take held commands (a client's suspend before the start) or queued ones with it.
      for (let s = 0; s < 12 + (seed % 20); s++) {
        const now = new Date(T0.getTime() + 1000 * (s + 1));
        const at = now.toISOString();
        const roll = next();
        const started = state.historyLength > 0;
        if (roll < 0.15) {
          const event = { ...suspended, timestamp: at };
          command(event, () => decideSuspend({ state, event, now, newId }));
        } else if (roll < 0.25 && started && state.runtimeStatus === 'Suspended') {
          // A client's resume, committed when it may be (nothing kept), left to a worker otherwise.
          const event = { ...resumed, timestamp: at };
          command(event, (read) => decideResume({ state, event, now, newId, history: read, historyFrom: 0 }));
        } else if (roll < 0.4 && state.runtimeStatus === 'Failed') {
          // A rewind: a client's (the history rewritten at once, the rerun left to the next step), or a worker's.
          rewinds++;
          const event = { type: 'ExecutionRewound' as const, eventId: -1, timestamp: at, reason: 'retry' };
          if (next() < 0.5) command(event, (read) => decideRewind({ state, event, now, newId, history: read }));
          else queued.push({ id: newId(), instanceId: 'instance-1', executionId: state.executionId, event });
        } else {
          const messages: OrchestrationMessage[] = started ? queued : [start, ...queued];
          queued = [];
          for (let m = 1 + Math.floor(next() * 3); m > 0; m--) {
            const r = next();
            const calls = openCalls();
            let event: OrchestrationMessage['event'];
            if (r < 0.2) event = { ...suspended, timestamp: at };
            else if (r < 0.35) event = { ...resumed, timestamp: at };
            else if (r < 0.55 && calls.length > 0) {
              // An activity's result: a failure fails the instance (while it runs the code on it).
              const taskScheduledId = calls[0]!;
              event = next() < 0.5 ? { type: 'TaskCompleted', eventId: -1, timestamp: at, taskScheduledId, result: s }
                : { type: 'TaskFailed', eventId: -1, timestamp: at, taskScheduledId, failureDetails: { errorType: 'Error', errorMessage: 'boom' } };
            } else event = { type: 'EventRaised', eventId: -1, timestamp: at, name: 'Item', input: r < 0.75 ? 'call' : s };
            messages.push({ id: newId(), instanceId: 'instance-1', executionId: state.executionId, event });
          }
          commit(decideStep({
            state, messages, leaseToken: 'lease', now, newId, history,
            newExecution: () => new OrchestrationExecution(callsWhenAsked, { customStatusLimitBytes: 16_384 }),
          }));
        }
        if (state.runtimeStatus !== 'Suspended' || state.historyLength === 0) {
          expect(state.suspension, `seed ${seed}, step ${s}`).toBeUndefined();
          continue;
        }
        suspendedStates++;
        if (rewound) suspendedAfterRewind++;
        const whole = suspendedWithNothingDeferred(history);
        const resume = { event: resumed, now, newId };
        const alone = decideResume({ ...resume, state });
        if (alone.kind === 'needHistory') continue;
        told++;
        if (!whole) keptStates++;
        expect(state.suspension, `seed ${seed}, step ${s}`).toEqual({ version: state.version, kept: !whole });
        // The same decision as from the whole history, read by a state that says nothing.
        const { suspension: _s, ...unsaid } = state;
        expect(alone, `seed ${seed}, step ${s}`).toEqual(decideResume({ ...resume, state: unsaid, history, historyFrom: 0 }));
      }
    }
    // Every Suspended state these steps leave says it, a rewind's too: none is read.
    expect(suspendedStates).toBeGreaterThan(200);
    expect(told).toBe(suspendedStates);
    // Both answers, many times each, and many rewinds, some of them left Suspended by their own step.
    expect(keptStates).toBeGreaterThan(50);
    expect(suspendedStates - keptStates).toBeGreaterThan(50);
    expect(rewinds).toBeGreaterThan(50);
    expect(suspendedAfterRewind).toBeGreaterThan(10);
  });

  it('says nothing from the Running state a rewind of an earlier release left over a history that ends suspended', () => {
    // Until 2026-12-07 a client's rewind (decideRewind) could leave its history ending suspended, an event kept after
    // the suspend, under a Running status with the rerun pending; a tab of such a release still may. The step from it
    // replays that history suspended: its events do not start from a running execution, and a state that said
    // nothing was kept would have a client's resume commit without running the code on the kept event.
    const history = new HistoryBuilder({ name: 'Waits' }).started().step().event(suspended).step().eventRaised('Item', 1).build();
    const rerun = { type: 'ExecutionRewound' as const, eventId: -1, timestamp: T0.toISOString(), reason: 'retry' };
    const state: InstanceState = { ...base, runtimeStatus: 'Running', historyLength: history.length, version: 5, historyEpoch: 1, rerun };
    const now = new Date(T0.getTime() + 1000);
    let n = 0;
    const newId = () => `id-${n++}`;
    const at = now.toISOString();
    const steps = [
      decideStep({
        state, now, newId, leaseToken: 'lease', history,
        messages: [{ id: 'm1', instanceId: 'instance-1', event: { ...suspended, timestamp: at } }],
        newExecution: () => new OrchestrationExecution(waits, { customStatusLimitBytes: 16_384 }),
      }),
      decideSuspend({ state, event: { ...suspended, timestamp: at }, now, newId }),
    ];
    for (const decision of steps) {
      if (decision.kind !== 'commit') throw new Error(`expected a commit, got ${decision.kind}`);
      const appended = decision.writeSet.requests.flatMap((r) => r.type === 'appendHistory' ? r.events : []);
      expect(suspendedWithNothingDeferred([...history, ...appended])).toBe(false); // the event is kept
      expect(decision.state.runtimeStatus).toBe('Suspended');
      // What it says (from the history it read), or nothing: never that nothing was kept.
      expect(decision.state.suspension?.kept ?? true).toBe(true);
      expect(decideResume({ state: decision.state, event: resumed, now, newId }).kind).not.toBe('commit');
    }
  });

  it('says nothing once another write kept it at another version (a tab of an earlier release): the history is read', () => {
    const history = new HistoryBuilder({ name: 'Waits' }).started().step().eventRaised('Item').step().event(suspended).build();
    const state: InstanceState = { ...base, runtimeStatus: 'Suspended', historyLength: history.length, version: 7, suspension: { version: 6, kept: false } };
    expect(decideResume({ state, event: resumed, now: T0, newId: () => 'id' }).kind).toBe('needHistory');
    expect(decideResume({ state: { ...state, suspension: { version: 7, kept: true } }, event: resumed, now: T0, newId: () => 'id' })).toEqual({ kind: 'send' });
  });
});
