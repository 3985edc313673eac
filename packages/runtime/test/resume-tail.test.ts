import { describe, expect, it } from 'vitest';
import { decideResume, RESUME_TAIL_EVENTS, type DirectDecision } from '../src/engine/decide-step.js';
import { suspendedWithNothingDeferred, suspendedWithNothingDeferredFrom } from '../src/engine/orchestration-execution.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { InstanceState } from '../src/model/instance-status.js';
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
