import { describe, expect, it } from 'vitest';
import { decideFork } from '../src/engine/decide-step.js';
import { forkableResults, forkHistory } from '../src/engine/fork-history.js';
import { defaultChildId } from '../src/engine/orchestration-execution.js';
import { CURRENT_REPLAY_FLAGS } from '../src/engine/flags.js';
import { InvalidArgumentError } from '../src/model/errors/invalid-argument-error.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { InstanceState } from '../src/model/instance-status.js';
import { HistoryBuilder } from '../src/testing/history-builder.js';

const FORK = { instanceId: 'fork-1', executionId: 'fork-e' };
const T = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

/** `type` (and the call or result id, where there is one) of each event: the shape of a history. */
function shape(history: readonly HistoryEvent[]): string[] {
  return history.map((e) => {
    if ('taskScheduledId' in e) return `${e.type}(${e.taskScheduledId})`;
    if (e.type === 'TimerFired') return `${e.type}(${e.timerId})`;
    if (e.type === 'EventRaised') return `${e.type}(${e.name})`;
    return e.eventId >= 0 ? `${e.type}#${e.eventId}` : e.type;
  });
}

/** A, B, C called one after the other; A and B completed, C still running. */
function sequence() {
  return new HistoryBuilder({ name: 'Seq', instanceId: 'src', executionId: 'src-e' })
    .started('in').taskScheduled('A')
    .step(1000).taskCompleted(0, 'a').taskScheduled('B')
    .step(1000).taskCompleted(1, 'b').taskScheduled('C')
    .build();
}

describe('forkHistory: the history a fork replays', () => {
  it('keeps the first results and the calls that made them; the code after the last one runs again in the fork\u2019s first step, and a call whose result is not kept is made anew', () => {
    const history = sequence();
    expect(forkableResults(history)).toBe(2);
    const { events, pending } = forkHistory(history, 1, FORK);
    // A's result (the last kept) goes to the fork's first step, with the step it came in; B is called anew then.
    expect(shape(events)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled#0', 'OrchestratorCompleted']);
    expect(shape(pending)).toEqual(['TaskCompleted(0)']);
    // The start names the fork; the source's first marker keeps its replay flags and names the seed of its GUIDs.
    expect(events[1]).toMatchObject({ instanceId: 'fork-1', executionId: 'fork-e', input: 'in', name: 'Seq' });
    expect(events[0]).toEqual({ ...history[0], guidSeed: 'src_src-e', sourceInstanceId: 'src' });
  });

  it('keeps every result by default, and a call still running is made anew', () => {
    const { events, pending } = forkHistory(sequence(), undefined, FORK);
    expect(shape(events)).toEqual([
      'OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled#0', 'OrchestratorCompleted',
      'OrchestratorStarted', 'TaskCompleted(0)', 'TaskScheduled#1', 'OrchestratorCompleted',
    ]);
    expect(shape(pending)).toEqual(['TaskCompleted(1)']);
  });

  it('drops the end of an ended execution and what was recorded after it', () => {
    const history = new HistoryBuilder({ name: 'Seq', instanceId: 'src' })
      .started().taskScheduled('A')
      .step(1000).taskCompleted(0, 'a')
      .event({ type: 'ExecutionCompleted', eventId: -1, timestamp: T(1000).toISOString(), orchestrationStatus: 'Completed', result: 'a' })
      .step(1000).eventRaised('late', 1) // recorded and ignored: not received
      .build();
    expect(forkableResults(history)).toBe(1);
    const { events, pending } = forkHistory(history, 1, FORK);
    expect(shape(events)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled#0', 'OrchestratorCompleted']);
    expect(shape(pending)).toEqual(['TaskCompleted(0)']);
  });

  it('gives an empty history for keepResults 0 (a fresh start), and for a history with no events', () => {
    expect(forkHistory(sequence(), 0, FORK)).toEqual({ events: [], pending: [], reapplied: [] });
    expect(forkHistory([], undefined, FORK)).toEqual({ events: [], pending: [], reapplied: [] });
    expect(forkableResults([])).toBe(0);
  });

  it('refuses a keepResults beyond the results recorded, below 0 or not an integer', () => {
    for (const keep of [3, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => forkHistory(sequence(), keep, FORK)).toThrow(InvalidArgumentError);
    }
  });

  it('counts the results of a fan-out in the order received, keeping only the calls they answer', () => {
    const history = new HistoryBuilder({ name: 'Fan', instanceId: 'src' })
      .started().taskScheduled('W', 0).taskScheduled('W', 1).taskScheduled('W', 2)
      .step(1000).taskCompleted(1, 'w1').taskCompleted(0, 'w0')
      .step(1000).taskCompleted(2, 'w2')
      .build();
    const one = forkHistory(history, 1, FORK);
    expect(shape(one.events)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled#1', 'OrchestratorCompleted']);
    expect(shape(one.pending)).toEqual(['TaskCompleted(1)']);
    const two = forkHistory(history, 2, FORK);
    expect(shape(two.events)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled#0', 'TaskScheduled#1', 'OrchestratorCompleted']);
    expect(shape(two.pending)).toEqual(['TaskCompleted(1)', 'TaskCompleted(0)']);
    const all = forkHistory(history, 3, FORK);
    expect(shape(all.events)).toEqual([
      'OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled#0', 'TaskScheduled#1', 'TaskScheduled#2', 'OrchestratorCompleted',
      'OrchestratorStarted', 'TaskCompleted(1)', 'TaskCompleted(0)', 'OrchestratorCompleted',
    ]);
    expect(shape(all.pending)).toEqual(['TaskCompleted(2)']);
  });

  it('keeps a fired timer and a failure as results; a timer not fired before the cut is created again', () => {
    const history = new HistoryBuilder({ name: 'Timers', instanceId: 'src' })
      .started().timerCreated(T(5000))
      .step(5000).timerFired(0, T(5000)).taskScheduled('A')
      .step(1000).taskFailed(1, { errorType: 'Error', errorMessage: 'boom' }).timerCreated(T(60_000))
      .build();
    expect(forkableResults(history)).toBe(2);
    const { events, pending } = forkHistory(history, 2, FORK);
    expect(shape(events)).toEqual([
      'OrchestratorStarted', 'ExecutionStarted', 'TimerCreated#0', 'OrchestratorCompleted',
      'OrchestratorStarted', 'TimerFired(0)', 'TaskScheduled#1', 'OrchestratorCompleted',
    ]);
    expect(shape(pending)).toEqual(['TaskFailed(1)']);
  });

  it('counts raised events, and stops at a result recorded without its payload', () => {
    const history = new HistoryBuilder({ name: 'Events', instanceId: 'src' })
      .started().eventRaised('go', 1)
      .step(1000).eventRaised('go', 2)
      .step(1000).event({ type: 'EventRaised', eventId: -1, timestamp: T(2000).toISOString(), name: 'go', payloadRefused: 'too large' })
      .step(1000).eventRaised('go', 4)
      .build();
    expect(forkableResults(history)).toBe(2);
    const { events, pending } = forkHistory(history, 2, FORK);
    expect(shape(events)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'EventRaised(go)', 'OrchestratorCompleted']);
    expect(pending).toEqual([expect.objectContaining({ type: 'EventRaised', input: 2 })]);
  });

  it("begins a fork with the source's start as a message when every kept result reached the source before its first step", () => {
    const ts = T(0).toISOString();
    const history = new HistoryBuilder({ name: 'Events', instanceId: 'src', executionId: 'src-e' })
      // Carried over by a continueAsNew: recorded ahead of the start.
      .event({ type: 'EventRaised', eventId: -1, timestamp: ts, name: 'go', input: 0, carried: true })
      .started('in').eventRaised('go', 1).taskScheduled('A').eventRaised('go', 2)
      .step(1000).taskCompleted(0, 'a')
      .build();
    const { events, pending, start, reapplied } = forkHistory(history, 2, FORK);
    expect(events).toEqual([]);
    // Its first step runs no step of the source's: it makes GUIDs of its own (no seed to name).
    expect(start).not.toHaveProperty('guidSeed');
    expect(start).toMatchObject({
      type: 'ExecutionStarted', instanceId: 'fork-1', executionId: 'fork-e', input: 'in',
      carriedEvents: [{ type: 'EventRaised', name: 'go', input: 0, carried: true }],
    });
    // The kept result after the start goes behind it; A is called anew; the event not kept is raised again.
    expect(shape(pending)).toEqual(['EventRaised(go)']);
    expect(pending[0]).toMatchObject({ input: 1 });
    expect(reapplied.map((e) => e.input)).toEqual([2]);
    // A result of a later step kept: the first step stays in the history.
    expect(forkHistory(history, 4, FORK).start).toBeUndefined();
  });

  it('keeps the events carried ahead of the start that keepResults counts when the cut falls among them, and raises the rest again', () => {
    const ts = T(0).toISOString();
    const history = new HistoryBuilder({ name: 'Events', instanceId: 'src', executionId: 'src-e' })
      // Two events carried over by a continueAsNew, recorded ahead of the start: the first two results.
      .event({ type: 'EventRaised', eventId: -1, timestamp: ts, name: 'go', input: 0, carried: true })
      .event({ type: 'EventRaised', eventId: -1, timestamp: ts, name: 'go', input: 1, carried: true })
      .started('in').taskScheduled('A')
      .step(1000).taskCompleted(0, 'a')
      .build();
    const { events, pending, start, reapplied } = forkHistory(history, 1, FORK);
    expect(events).toEqual([]);
    expect(start).toMatchObject({ instanceId: 'fork-1', executionId: 'fork-e', input: 'in', carriedEvents: [{ name: 'go', input: 0 }] });
    expect(start?.carriedEvents).toHaveLength(1);
    expect(pending).toEqual([]);
    expect(reapplied.map((e) => e.input)).toEqual([1]);
  });

  it("names a kept sub-orchestration the engine named after the source as the fork's replay names it; an id the code gave stays", () => {
    const flags = CURRENT_REPLAY_FLAGS;
    const sourceChild = defaultChildId('src', 'src-e', 0, flags);
    const history = new HistoryBuilder({ name: 'Parent', instanceId: 'src', executionId: 'src-e' })
      .started().subOrchestrationCreated('Child', sourceChild).subOrchestrationCreated('Child', 'fixed-id')
      .subOrchestrationCreated('Child', defaultChildId('src', 'src-e', 2, flags))
      .step(1000).subOrchestrationCompleted(0, 'c0').subOrchestrationCompleted(1, 'c1')
      .build();
    const { events } = forkHistory(history, 2, FORK);
    expect(events.filter((e) => e.type === 'SubOrchestrationInstanceCreated').map((e) => 'instanceId' in e && e.instanceId)).toEqual([
      defaultChildId('fork-1', 'fork-e', 0, flags), 'fixed-id', // the third, unanswered, is called anew
    ]);
    expect(defaultChildId('fork-1', 'fork-e', 0, flags)).toBe('fork-1:fork-e:0');
  });

  it('drops the parent link, a rewind and a suspend not resumed before the cut; keeps a suspend that was resumed', () => {
    const ts = T(0).toISOString();
    const history = new HistoryBuilder({ name: 'Child', instanceId: 'src' })
      .event({
        type: 'ExecutionStarted', eventId: -1, timestamp: ts, name: 'Child', instanceId: 'src', executionId: 'src-e',
        parentInstance: { instanceId: 'p', name: 'P', taskScheduledId: 0 },
      })
      .taskScheduled('A').taskScheduled('B')
      .step(1000).event({ type: 'ExecutionSuspended', eventId: -1, timestamp: ts })
      .step(1000).event({ type: 'ExecutionResumed', eventId: -1, timestamp: ts })
      .step(1000).taskCompleted(0, 'a').event({ type: 'ExecutionRewound', eventId: -1, timestamp: ts })
      .step(1000).event({ type: 'ExecutionSuspended', eventId: -1, timestamp: ts })
      .step(1000).taskCompleted(1, 'b')
      .build();
    const { events, pending } = forkHistory(history, 1, FORK);
    expect(events[1]).not.toHaveProperty('parentInstance');
    expect(shape(events).filter((t) => t.startsWith('Execution'))).toEqual(['ExecutionStarted', 'ExecutionSuspended', 'ExecutionResumed']);
    expect(shape(pending)).toEqual(['TaskCompleted(0)']);
    // Every result kept: the suspend after the last resume is dropped, in the history and in the first step.
    const all = forkHistory(history, 2, FORK);
    expect([...shape(all.events), ...shape(all.pending)].filter((t) => t.startsWith('Execution'))).toEqual([
      'ExecutionStarted', 'ExecutionSuspended', 'ExecutionResumed',
    ]);
  });

  it('puts back the input of a start recorded without it', () => {
    const history = new HistoryBuilder({ name: 'Seq', instanceId: 'src' })
      .event({ type: 'ExecutionStarted', eventId: -1, timestamp: T(0).toISOString(), name: 'Seq', instanceId: 'src', executionId: 'e', payloadRefused: 'x' })
      .taskScheduled('A').step(1000).taskCompleted(0, 'a').build();
    const [, start] = forkHistory(history, 1, { ...FORK, input: { n: 1 } }).events;
    expect(start).toMatchObject({ input: { n: 1 } });
    expect(start).not.toHaveProperty('payloadRefused');
  });

  it("names on each step it copies the seed the source's step made its GUIDs with: the source's ids as its flags name them, or the seed a fork wrote there", () => {
    const seeds = (events: readonly HistoryEvent[]) => events.flatMap((e) => (e.type === 'OrchestratorStarted' ? [e.guidSeed] : []));
    const kept = forkHistory(sequence(), undefined, FORK).events;
    expect(seeds(kept)).toEqual(['src_src-e', 'src_src-e']);
    expect(kept[1]).not.toHaveProperty('guidSeed');
    // A history recorded before GUIDs named the execution: the instance id alone, as its replay made them.
    const legacy = new HistoryBuilder({ name: 'Seq', instanceId: 'src', executionId: 'src-e', legacy: true })
      .started().taskScheduled('A').step(1000).taskCompleted(0, 'a').taskScheduled('B').step(1000).taskCompleted(1, 'b').build();
    expect(seeds(forkHistory(legacy, 2, FORK).events)).toEqual(['src', 'src']);
    // A fork of a fork: the steps it copied from the first source keep that source's seed, the steps the first fork
    // ran itself get the first fork's own.
    const at = (ms: number) => T(ms).toISOString();
    const firstFork: HistoryEvent[] = [
      ...kept,
      // The first fork's own steps: B's result, C called; then C's result.
      { type: 'OrchestratorStarted', eventId: -1, timestamp: at(5000) },
      { type: 'TaskCompleted', eventId: -1, timestamp: at(5000), taskScheduledId: 1, result: 'b' },
      { type: 'TaskScheduled', eventId: 2, timestamp: at(5000), name: 'C' },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: at(5000) },
      { type: 'OrchestratorStarted', eventId: -1, timestamp: at(6000) },
      { type: 'TaskCompleted', eventId: -1, timestamp: at(6000), taskScheduledId: 2, result: 'c' },
    ];
    expect(seeds(forkHistory(firstFork, 3, { instanceId: 'fork-2', executionId: 'e2' }).events)).toEqual(['src_src-e', 'src_src-e', 'fork-1_fork-e']);
    // And the instance id each step ran under: the first source's for the steps it ran, the first fork's for its own.
    const ranAs = forkHistory(firstFork, 3, { instanceId: 'fork-2', executionId: 'e2' }).events.flatMap((e) => (e.type === 'OrchestratorStarted' ? [e.sourceInstanceId] : []));
    expect(ranAs).toEqual(['src', 'src', 'fork-1']);
  });

  it('gives the external events among the results not kept, in the order received, as raised events of their name, data and time', () => {
    const history = new HistoryBuilder({ name: 'Ev', instanceId: 'src' })
      .started().taskScheduled('A')
      .step(1000).eventRaised('e', 1).taskCompleted(0, 'a')
      .step(1000).eventRaised('f').taskScheduled('B')
      .step(1000).eventRaised('e', 2)
      .event({ type: 'EventRaised', eventId: -1, timestamp: T(3000).toISOString(), name: 'g', input: 3, carried: true })
      .event({ type: 'ExecutionCompleted', eventId: -1, timestamp: T(3000).toISOString(), orchestrationStatus: 'Completed' })
      .step(1000).eventRaised('late', 4) // after the end: recorded and ignored, not received
      .build();
    const names = (keep: number) => forkHistory(history, keep, FORK).reapplied.map((e) => [e.name, e.input]);
    expect(names(0)).toEqual([['e', 1], ['f', undefined], ['e', 2], ['g', 3]]);
    expect(names(2)).toEqual([['f', undefined], ['e', 2], ['g', 3]]);
    expect(names(5)).toEqual([]);
    const [f, , g] = forkHistory(history, 2, FORK).reapplied;
    expect(f).toEqual({ type: 'EventRaised', eventId: -1, timestamp: T(2000).toISOString(), name: 'f' });
    expect(g).not.toHaveProperty('carried');
  });

  it('decideFork raises them to the fork stamped with the fork\u2019s time, in the order received, behind the kept results (which keep the source\u2019s)', () => {
    const history = new HistoryBuilder({ name: 'Ev', instanceId: 'src', executionId: 'src-e' })
      .started().taskScheduled('A')
      .step(1000).taskCompleted(0, 'a')
      .step(1000).eventRaised('e', 1)
      .step(1000).eventRaised('f', 2)
      .build();
    const now = T(3_600_000);
    const source: InstanceState = {
      instanceId: 'src', name: 'Ev', runtimeStatus: 'Running', createdTime: T(0), lastUpdatedTime: T(3000), executionId: 'src-e',
      historyLength: history.length, version: 4,
    };
    let n = 0;
    const messages = (keepResults: number) => decideFork({ source, history, keepResults, instanceId: 'fork-1', now, newId: () => `id-${n++}` })
      .requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message.event] : []));
    // Keeping the activity's result: it keeps its time; both events are raised at the fork's.
    expect(messages(1)).toEqual([
      { type: 'TaskCompleted', eventId: -1, taskScheduledId: 0, timestamp: T(1000).toISOString(), result: 'a' },
      { type: 'EventRaised', eventId: -1, timestamp: now.toISOString(), name: 'e', input: 1 },
      { type: 'EventRaised', eventId: -1, timestamp: now.toISOString(), name: 'f', input: 2 },
    ]);
    // Keeping nothing: a start, the events behind it at the fork's time.
    expect(messages(0).map((e) => [e.type, e.timestamp])).toEqual([['EventRaised', now.toISOString()], ['EventRaised', now.toISOString()]]);
  });
});
