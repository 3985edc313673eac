import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../src/model/history-event.js';
import { eventProblems, historyProblems } from '../src/testing/soak.js';

// The soak's checks of one instance's history, as the soak runs them on it: a broken promise is reported once, by the
// check whose rule it breaks, so a failing seed's report counts each problem once.

const at = '2026-12-04T00:00:00.000Z';
const started: HistoryEvent = { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'Gate', instanceId: 'i', executionId: 'e' };
const event = (name: string, input: unknown): HistoryEvent => ({ type: 'EventRaised', eventId: -1, timestamp: at, name, input });
const raisedKey = (name: string, input: unknown): string => JSON.stringify([name, input]);
const problemsOf = (raised: readonly string[], history: readonly HistoryEvent[]): string[] =>
  [...historyProblems(history), ...eventProblems(raised, history)];

describe('soak history checks', () => {
  it('report a raised event recorded twice once, as a step applied twice', () => {
    const history = [started, event('Proceed', 1), event('Proceed', 1)];
    expect(problemsOf([raisedKey('Proceed', 1)], history)).toEqual(['EventRaised Proceed 1 recorded 2 times']);
  });

  it('still report an event in the history that was never raised, and a raised one that is missing', () => {
    const history = [started, event('Proceed', 2)];
    expect(problemsOf([raisedKey('Proceed', 1)], history)).toEqual([
      'event ["Proceed",2] in its history was not raised',
      'raised event ["Proceed",1] is not in its history',
    ]);
  });

  it('find nothing when each raised event is in the history once', () => {
    const history = [started, event('Proceed', 1), event('Proceed', 2)];
    expect(problemsOf([raisedKey('Proceed', 2), raisedKey('Proceed', 1)], history)).toEqual([]);
  });
});
