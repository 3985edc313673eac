import type { HistoryEvent } from '@durable-rx/runtime';
import { describe, expect, it } from 'vitest';
import { historyReplayFilter } from '../src/history-replay-filter.js';

const t = '2026-01-01T00:00:00.000Z';
const os = (): HistoryEvent => ({ type: 'OrchestratorStarted', eventId: -1, timestamp: t });
const oc = (): HistoryEvent => ({ type: 'OrchestratorCompleted', eventId: -1, timestamp: t });
const es = (executionId: string): HistoryEvent => ({ type: 'ExecutionStarted', eventId: -1, timestamp: t, name: 'n', instanceId: 'i', executionId });
const ev = (name: string): HistoryEvent => ({ type: 'EventRaised', eventId: -1, timestamp: t, name });
const suspended = (): HistoryEvent => ({ type: 'ExecutionSuspended', eventId: -1, timestamp: t, reason: 'hold' });
const resumed = (): HistoryEvent => ({ type: 'ExecutionResumed', eventId: -1, timestamp: t });
const terminated = (): HistoryEvent => ({ type: 'ExecutionTerminated', eventId: -1, timestamp: t, reason: 'x' });

/** Feeds (event, session) pairs and returns what the filter delivers. */
function run(feed: [HistoryEvent, string][]): HistoryEvent[] {
  const delivered: HistoryEvent[] = [];
  const accept = historyReplayFilter((event) => delivered.push(event));
  for (const [event, session] of feed) accept(event, session);
  return delivered;
}

describe('historyReplayFilter', () => {
  const execution1 = [os(), es('x1'), oc(), os(), ev('a'), oc()];

  it('passes a stream through untouched while the session stays the same', () => {
    expect(run(execution1.map((e) => [e, 's1']))).toEqual(execution1);
  });

  it('skips the replayed prefix of the same execution after a new session starts', () => {
    const feed: [HistoryEvent, string][] = [
      ...execution1.slice(0, 4).map((e): [HistoryEvent, string] => [e, 's1']),
      ...execution1.map((e): [HistoryEvent, string] => [e, 's2']), // replay from the start, then new events
      [ev('b'), 's2'],
    ];
    expect(run(feed)).toEqual([...execution1, ev('b')]);
  });

  it('delivers a new execution whole (continueAsNew or a restart)', () => {
    const execution2 = [os(), es('x2'), oc()];
    const feed: [HistoryEvent, string][] = [
      ...execution1.map((e): [HistoryEvent, string] => [e, 's1']),
      ...execution2.map((e): [HistoryEvent, string] => [e, 's2']),
    ];
    expect(run(feed)).toEqual([...execution1, ...execution2]);
  });

  it('counts a later execution from its own start when a second replay happens', () => {
    const execution2 = [os(), es('x2'), oc(), os(), ev('c'), oc()];
    const feed: [HistoryEvent, string][] = [
      ...execution1.map((e): [HistoryEvent, string] => [e, 's1']),
      ...execution2.slice(0, 3).map((e): [HistoryEvent, string] => [e, 's1']), // same session: continueAsNew seen live
      ...execution2.map((e): [HistoryEvent, string] => [e, 's2']), // replay of execution 2 only
    ];
    expect(run(feed)).toEqual([...execution1, ...execution2]);
  });

  // An execution suspended before it started: its first step records the suspend (and a resume that came before the
  // start) ahead of ExecutionStarted.
  const startedSuspended = (executionId: string): HistoryEvent[] => [os(), suspended(), resumed(), suspended(), es(executionId), oc()];

  it('skips the replayed prefix of an execution whose suspends come before its start', () => {
    const execution = [...startedSuspended('x1'), os(), resumed(), ev('a'), oc()];
    const feed: [HistoryEvent, string][] = [
      ...execution.slice(0, 6).map((e): [HistoryEvent, string] => [e, 's1']),
      ...execution.map((e): [HistoryEvent, string] => [e, 's2']),
      [ev('b'), 's2'],
    ];
    expect(run(feed)).toEqual([...execution, ev('b')]);
  });

  it('delivers a new execution whole when it starts suspended (continueAsNew while suspended)', () => {
    const execution2 = [...startedSuspended('x2'), os(), resumed(), oc()];
    const feed: [HistoryEvent, string][] = [
      ...execution1.map((e): [HistoryEvent, string] => [e, 's1']),
      ...execution2.map((e): [HistoryEvent, string] => [e, 's2']),
    ];
    expect(run(feed)).toEqual([...execution1, ...execution2]);
  });

  it('ends a replay check at the first step of a history with no start (terminated before it ran)', () => {
    const history = [os(), terminated(), oc()];
    const late = [os(), ev('late'), oc()]; // recorded and ignored
    const feed: [HistoryEvent, string][] = [
      ...history.map((e): [HistoryEvent, string] => [e, 's1']),
      ...[...history, ...late].map((e): [HistoryEvent, string] => [e, 's2']),
    ];
    expect(run(feed)).toEqual([...history, ...late]);
  });

  it('delivers everything when nothing had been delivered before the new session', () => {
    expect(run(execution1.map((e) => [e, 's2']))).toEqual(execution1);
  });
});
