import { describe, expect, it } from 'vitest';
import {
  decideMisuse, decideRefusedStep, decideResume, decideStart, decideStep, decideSuspend, decideTerminate, isDelayedStart, refusedRewindFrom, refusedRewindOf, type StepInput, unrecordedRewindOf, unrecordable,
} from '../src/engine/decide-step.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { OrchestrationExecution, suspendedWithNothingDeferred } from '../src/engine/orchestration-execution.js';
import { applyEvent } from '../src/engine/apply-event.js';
import { rewindHistory } from '../src/engine/rewind-history.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { InstanceState } from '../src/model/instance-status.js';
import { isStaleResult, type OrchestrationMessage } from '../src/model/message.js';
import type { WriteSet } from '../src/model/write-set.js';
import { HistoryBuilder } from '../src/testing/history-builder.js';
import { MisuseMarks } from '../src/engine/misuse-marks.js';
import { OrchestrationError } from '../src/model/errors/orchestration-error.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
/** The runtime's `customStatusLimitBytes` a refused step is given. */
const LIMIT = 16_384;

const callOnce: Orchestrator = function* (ctx) {
  return yield ctx.callActivity('Act', 1);
};

function state(overrides: Partial<InstanceState> = {}): InstanceState {
  return {
    instanceId: 'instance-1', name: 'CallOnce', runtimeStatus: 'Running', createdTime: T0, lastUpdatedTime: T0,
    executionId: 'execution-1', historyLength: 0, version: 2, ...overrides,
  };
}

function input(s: InstanceState, messages: OrchestrationMessage[], extra: Partial<StepInput> = {}): StepInput {
  let n = 0;
  return {
    state: s, messages, leaseToken: 'lease', now: T0, newId: () => `id-${n++}`,
    newExecution: () => new OrchestrationExecution(callOnce, { customStatusLimitBytes: 16_384 }), ...extra,
  };
}

function result(executionId: string, id = 'result'): OrchestrationMessage {
  return {
    id, instanceId: 'instance-1', executionId,
    event: { type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'done' },
  };
}

describe('a delayed start (decideStart with startAt)', () => {
  const at = (ms: number) => new Date(T0.getTime() + ms);
  const lease = { owner: 'w', token: 't', expiresAt: at(30_000) };
  const startOf = (startAt: Date | undefined) => {
    let n = 0;
    const [create] = decideStart({ instanceId: 'd', name: 'CallOnce', input: 1, now: T0, newId: () => `id-${n++}`, lease, startAt }).requests;
    if (create?.type !== 'createInstance') throw new Error('expected a create');
    return create;
  };

  it('stores a start later than now Pending with scheduledStartTime, its message visible then, and never leased', () => {
    const create = startOf(at(60_000));
    expect(create.state).toMatchObject({ runtimeStatus: 'Pending', scheduledStartTime: at(60_000) });
    expect(create.message.visibleAt).toEqual(at(60_000));
    expect(create.lease).toBeUndefined();
    expect(isDelayedStart(at(60_000), T0)).toBe(true);
  });

  it('starts one at or before now at once: no scheduledStartTime, no visibleAt, the lease kept', () => {
    for (const startAt of [T0, at(-1), undefined]) {
      const create = startOf(startAt);
      expect('scheduledStartTime' in create.state).toBe(false);
      expect(create.message.visibleAt).toBeUndefined();
      expect(create.lease).toEqual(lease);
      expect(isDelayedStart(startAt, T0)).toBe(false);
    }
  });

  it('runs the execution a continueAsNew starts at once: its state drops the scheduled time', () => {
    const again: Orchestrator = function* (ctx) {
      ctx.continueAsNew(2);
      return undefined;
    };
    const create = startOf(at(60_000));
    const decision = decideStep(input({ ...create.state, version: 1 }, [create.message], {
      now: at(60_000), newExecution: () => new OrchestrationExecution(again, { customStatusLimitBytes: LIMIT }),
    }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state.runtimeStatus).toBe('ContinuedAsNew');
    expect('scheduledStartTime' in decision.state).toBe(false);
  });
});

describe('decideStep', () => {
  const history = new HistoryBuilder({ name: 'CallOnce' }).started().taskScheduled('Act', 1).build();

  it('asks for the history on a cache miss, then commits the step under the lease with version + 1', () => {
    const s = state({ historyLength: history.length });
    expect(decideStep(input(s, [result('execution-1')]))).toEqual({ kind: 'needHistory' });
    const decision = decideStep(input(s, [result('execution-1')], { history }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toMatchObject({ runtimeStatus: 'Completed', output: 'done', version: 3 });
    expect(decision.writeSet.lease).toEqual({ kind: 'orchestration', instanceId: 'instance-1', token: 'lease' });
    expect(decision.writeSet.requests.map((r) => r.type)).toEqual(['replaceState', 'appendHistory', 'deleteMessages']);
    const append = decision.writeSet.requests[1];
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.from).toBe(history.length);
    expect(decision.state.historyLength).toBe(history.length + append.events.length);
    expect(decision.execution).toBeUndefined(); // finished: nothing to cache
    expect(decision.eventsReplayed).toBe(history.length);
  });

  it('reruns a failed sub-orchestration call on rewind (its instance taken back if it reports to the call), unless the step itself brings its result', () => {
    const callKid: Orchestrator = function* (ctx) {
      return yield ctx.callSubOrchestrator('Child', undefined, 'kid');
    };
    const failure = { errorType: 'Error', errorMessage: 'kid broke' };
    const failed = new HistoryBuilder({ name: 'CallKid' }).started().subOrchestrationCreated('Child', 'kid')
      .step().event({ type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, failureDetails: failure })
      .event({ type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed', failureDetails: failure })
      .build();
    const s = state({ name: 'CallKid', runtimeStatus: 'Failed', failureDetails: failure, historyLength: failed.length });
    const rewound: OrchestrationMessage = { id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() } };
    const late: OrchestrationMessage = {
      id: 'late', instanceId: 'instance-1', executionId: 'execution-1',
      event: { type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'late' },
    };
    const extra = { history: failed, newExecution: () => new OrchestrationExecution(callKid, { customStatusLimitBytes: 16_384 }) };
    const rerun = decideStep(input(s, [rewound], extra));
    if (rerun.kind !== 'commit') throw new Error('expected a commit');
    expect(rerun.writeSet.requests.find((r) => r.type === 'createInstance')).toMatchObject({
      state: { instanceId: 'kid', parentInstanceId: 'instance-1', parentCall: { executionId: 'execution-1', taskScheduledId: 0 } },
      ifFailed: { instanceId: 'kid', event: { type: 'ExecutionRewound' } },
    });
    // The kid, rewound on its own, completed after the history was read: its result comes in the same step.
    const answered = decideStep(input(s, [rewound, late], extra));
    if (answered.kind !== 'commit') throw new Error('expected a commit');
    expect(answered.writeSet.requests.some((r) => r.type === 'createInstance')).toBe(false);
    expect(answered.state).toMatchObject({ runtimeStatus: 'Completed', output: 'late' });
  });

  it('records late events claimed ahead of a rewind in its batch before the history is rewound: a failure among them is rerun, not a second end', () => {
    const both: Orchestrator = function* (ctx) {
      return yield ctx.Task.all([ctx.callActivity('A'), ctx.callActivity('B')]);
    };
    const failure = { errorType: 'Error', errorMessage: 'A broke' };
    const failed = new HistoryBuilder({ name: 'Both' }).started().taskScheduled('A').taskScheduled('B')
      .step().taskFailed(0, failure)
      .event({ type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed', failureDetails: failure })
      .build();
    const s = state({ name: 'Both', runtimeStatus: 'Failed', failureDetails: failure, historyLength: failed.length });
    // B's failure, queued before the rewind (B still ran when A failed the instance): one claim takes both.
    const late: OrchestrationMessage = {
      id: 'late', instanceId: 'instance-1', executionId: 'execution-1',
      event: { type: 'TaskFailed', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 1, failureDetails: { errorType: 'Error', errorMessage: 'B broke' } },
    };
    const rewound: OrchestrationMessage = { id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() } };
    const decision = decideStep(input(s, [late, rewound], { history: failed, newExecution: () => new OrchestrationExecution(both, { customStatusLimitBytes: 16_384 }) }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    // As when B's failure was recorded in a step of its own before the rewind: both calls rerun, the instance Running.
    // Before, B's failure reached the rewound run, which failed again in this step, and the rewind recorded after
    // that end left it Running with its execution over, for ever.
    expect(decision.state.runtimeStatus).toBe('Running');
    expect(decision.writeSet.requests.filter((r) => r.type === 'insertTask')).toHaveLength(2);
    const written = decision.writeSet.requests.find((r) => r.type === 'replaceHistory');
    if (written?.type !== 'replaceHistory') throw new Error('expected the history rewritten');
    expect(written.events.map((e) => e.type)).not.toContain('ExecutionCompleted');
    expect(written.events.filter((e) => e.type === 'TaskScheduled')).toHaveLength(2);
  });

  // A worker's mark of ctx misuse names the instance's execution, which a rewind keeps, and its history epoch, which a
  // rewind bumps: a mark no step of this worker took (another worker stepped the instance on, and it failed) failed the
  // freshly rewound instance at once when it named the execution alone. (The second case's state is what decideRewind
  // leaves: the epoch bumped, the rerun pending.)
  it('reruns a rewound instance whatever misuse this worker marked on it before the rewind', () => {
    const failure = { errorType: 'Error', errorMessage: 'act broke' };
    const failed = new HistoryBuilder({ name: 'CallOnce' }).started().taskScheduled('Act', 1)
      .step().taskFailed(0, failure)
      .event({ type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed', failureDetails: failure })
      .build();
    const executionId = (failed[1] as { executionId: string }).executionId;
    const s = state({ runtimeStatus: 'Failed', failureDetails: failure, historyLength: failed.length, executionId });
    const rewound: OrchestrationMessage = { id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() } };
    const raised: OrchestrationMessage = { id: 'raised', instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'E' } };
    // A rewind step (the message reaches the Failed instance), and the step after a client's rewind (its rerun pending).
    const cases = [
      { s, messages: [rewound] },
      { s: { ...s, runtimeStatus: 'Running' as const, failureDetails: undefined, rerun: rewound.event as never, historyEpoch: 1 }, messages: [raised] },
    ];
    for (const [i, { s: at, messages }] of cases.entries()) {
      const options = { customStatusLimitBytes: 16_384, misuseMarks: new MisuseMarks() };
      options.misuseMarks.mark('instance-1', executionId, 0, new OrchestrationError('ctx used outside the orchestrator\'s run'));
      const decision = decideStep(input(at, messages, { history: failed, newExecution: () => new OrchestrationExecution(callOnce, options) }));
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      expect(decision.state.runtimeStatus, `case ${i}`).toBe('Running');
      const written = decision.writeSet.requests.flatMap((r) => (r.type === 'replaceHistory' || r.type === 'appendHistory' ? r.events : []));
      expect(written.filter((e) => e.type === 'ExecutionCompleted'), `case ${i}`).toEqual([]); // not failed again
      expect(options.misuseMarks.size, `case ${i}`).toBe(0);
    }
  });

  it('consumes and drops a result of another execution without running the orchestrator', () => {
    const s = state({ historyLength: history.length });
    const decision = decideStep(input(s, [result('an-older-execution', 'stale')], { history }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state.runtimeStatus).toBe('Running');
    expect(decision.writeSet.requests).toContainEqual({ type: 'deleteMessages', instanceId: 'instance-1', messageIds: ['stale'] });
    expect(decision.writeSet.requests.some((r) => r.type === 'insertTask')).toBe(false);
  });

  it('records and ignores what reaches a terminal instance, without its history or an execution', () => {
    const s = state({ runtimeStatus: 'Terminated', output: 'stop', historyLength: 7 });
    const decision = decideStep(input(s, [result('execution-1')]));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toEqual({ ...s, version: 3, historyLength: 8 });
    expect(decision.writeSet.requests).toEqual([
      { type: 'replaceState', state: decision.state },
      { type: 'appendHistory', instanceId: 'instance-1', from: 7, events: [result('execution-1').event] },
      { type: 'deleteMessages', instanceId: 'instance-1', messageIds: ['result'] },
    ]);
  });

  it('records a late result, timer and sub-orchestration answer of a Completed, Terminated or Failed execution, its status as it was', () => {
    const ended = new Date(T0.getTime() - 60_000);
    const timer: OrchestrationMessage = {
      id: 'timer', instanceId: 'instance-1', executionId: 'execution-1', visibleAt: T0,
      event: { type: 'TimerFired', eventId: -1, timestamp: T0.toISOString(), timerId: 1, fireAt: T0.toISOString() },
    };
    const answer: OrchestrationMessage = {
      id: 'answer', instanceId: 'instance-1', executionId: 'execution-1',
      event: { type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 2, result: 'sub' },
    };
    for (const runtimeStatus of ['Completed', 'Terminated', 'Failed'] as const) {
      const s = state({ runtimeStatus, output: 'end', customStatus: 'shown', lastUpdatedTime: ended, historyLength: 7 });
      const messages = [result('execution-1'), timer, answer];
      expect(messages.some((m) => isStaleResult(m, s))).toBe(false);
      const decision = decideStep(input(s, messages));
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      // Only the version (history readers see the change) and the history length move: lastUpdatedTime stays.
      expect(decision.state).toEqual({ ...s, version: 3, historyLength: 10 });
      expect(decision.execution).toBeUndefined();
      expect(decision.writeSet.requests).toContainEqual(
        { type: 'appendHistory', instanceId: 'instance-1', from: 7, events: messages.map((m) => m.event) },
      );
      // A message of another execution (after continueAsNew, or a purged or replaced run) is still dropped.
      expect(isStaleResult(result('execution-0'), s)).toBe(true);
    }
  });
});

describe('the failure of a misused run decided without a lease (decideMisuse)', () => {
  const failure = { errorType: 'OrchestrationError', errorMessage: 'ctx used outside the orchestrator\'s run' };
  const now = new Date(T0.getTime() + 1000);
  let n = 0;
  const misuse = { executionId: 'execution-1', historyEpoch: 0, failure, now, newId: () => `m-${n++}` };

  it('fails the Running run under an unclaimed lease at the version read: ExecutionCompleted (Failed) between step markers', () => {
    const s = state({ historyLength: 3, customStatus: 'kept' });
    const decision = decideMisuse({ ...misuse, state: s });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toMatchObject({ runtimeStatus: 'Failed', failureDetails: failure, customStatus: 'kept', version: 3, historyLength: 6 });
    const marker = { eventId: -1, timestamp: now.toISOString() };
    expect(decision.writeSet).toEqual({
      lease: { kind: 'unclaimed', instanceId: 'instance-1', executionId: 'execution-1', version: 2, now },
      requests: [
        { type: 'replaceState', state: decision.state },
        {
          type: 'appendHistory', instanceId: 'instance-1', from: 3,
          events: [
            { type: 'OrchestratorStarted', ...marker },
            { type: 'ExecutionCompleted', ...marker, orchestrationStatus: 'Failed', failureDetails: failure },
            { type: 'OrchestratorCompleted', ...marker },
          ],
        },
      ],
    });
  });

  it('finds the run over once it ended, continued, was rewound or started again, and waits while it is Suspended or not started', () => {
    const over = [
      state({ historyLength: 3, historyEpoch: 1 }), // rewound since: a late callback of the run before
      state({ historyLength: 3, executionId: 'execution-2' }),
      state({ historyLength: 3, runtimeStatus: 'Completed' }),
      state({ historyLength: 3, runtimeStatus: 'Failed' }),
    ];
    for (const [i, s] of over.entries()) expect(decideMisuse({ ...misuse, state: s }), `case ${i}`).toEqual({ kind: 'over' });
    for (const s of [state({ historyLength: 3, runtimeStatus: 'Suspended' }), state({ runtimeStatus: 'Pending' })]) {
      expect(decideMisuse({ ...misuse, state: s })).toEqual({ kind: 'wait' });
    }
  });

  it('answers the parent call a sub-orchestration\'s state names, without its history', () => {
    const s = state({ parentInstanceId: 'parent', parentCall: { taskScheduledId: 4, executionId: 'parent-execution' }, historyLength: 150 });
    // Before, `needHistory`: the whole history was read for the link.
    const decision = decideMisuse({ ...misuse, state: s });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.writeSet.requests.find((r) => r.type === 'insertMessage')).toMatchObject({
      message: { instanceId: 'parent', executionId: 'parent-execution', event: { type: 'SubOrchestrationInstanceFailed', taskScheduledId: 4, failureDetails: failure } },
    });
  });

  it('answers the parent of a sub-orchestration whose state names no call (stored before 2026-12-03), read from its history', () => {
    const parentInstance = { instanceId: 'parent', name: 'Parent', taskScheduledId: 4, executionId: 'parent-execution' };
    const s = state({ parentInstanceId: 'parent', historyLength: 1 });
    expect(decideMisuse({ ...misuse, state: s })).toEqual({ kind: 'needHistory' });
    const history: HistoryEvent[] = [{
      type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1', parentInstance,
    }];
    const decision = decideMisuse({ ...misuse, state: s, history });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.writeSet.requests.find((r) => r.type === 'insertMessage')).toMatchObject({
      message: { instanceId: 'parent', executionId: 'parent-execution', event: { type: 'SubOrchestrationInstanceFailed', taskScheduledId: 4, failureDetails: failure } },
    });
  });
});

describe('a terminate decided without a lease (decideTerminate) and the start it leaves queued', () => {
  const parent = { instanceId: 'parent', name: 'Parent', taskScheduledId: 4, executionId: 'parent-execution' };
  const start = (executionId: string, parentInstance?: typeof parent): OrchestrationMessage => ({
    id: 'start', instanceId: 'instance-1',
    event: {
      type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId,
      ...(parentInstance ? { parentInstance } : {}),
    },
  });
  const terminated = { type: 'ExecutionTerminated' as const, eventId: -1, timestamp: T0.toISOString(), reason: 'stop' };
  const now = new Date(T0.getTime() + 1000);
  let n = 0;
  const newId = () => `t-${n++}`;

  it('terminates a Pending instance under an unclaimed lease at the version read: the reason as output, the event appended', () => {
    // The custom status a last execution left (a ContinuedAsNew instance's) is not the one not started yet: dropped,
    // as a worker's first step drops it.
    const s = state({ runtimeStatus: 'Pending', customStatus: 'left' });
    const decision = decideTerminate({ state: s, event: terminated, now, newId });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const { customStatus: _c, ...rest } = s;
    expect(decision.state).toEqual({ ...rest, runtimeStatus: 'Terminated', output: 'stop', version: 3, historyLength: 3, lastUpdatedTime: now });
    const marker = { eventId: -1, timestamp: now.toISOString() };
    expect(decision.writeSet).toEqual({
      lease: { kind: 'unclaimed', instanceId: 'instance-1', executionId: 'execution-1', version: 2, now },
      requests: [
        { type: 'replaceState', state: decision.state },
        {
          type: 'appendHistory', instanceId: 'instance-1', from: 0,
          events: [{ type: 'OrchestratorStarted', ...marker }, terminated, { type: 'OrchestratorCompleted', ...marker }],
        },
      ],
    });
  });

  it('terminates a sub-orchestration with no history (Pending, ContinuedAsNew) at once, answering the parent call its state holds, once', () => {
    const call = { taskScheduledId: parent.taskScheduledId, executionId: parent.executionId };
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew'] as const) {
      const s = state({ runtimeStatus, parentInstanceId: 'parent', parentCall: call });
      const decision = decideTerminate({ state: s, event: terminated, now, newId });
      // Before, `send`: the terminate waited for a worker, and with none running the call resolved after 10 s, the
      // child still Pending.
      if (decision.kind !== 'commit') throw new Error(`expected a commit for ${runtimeStatus}`);
      expect(decision.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', version: 3 });
      const sent = decision.writeSet.requests.filter((r) => r.type === 'insertMessage');
      expect(sent).toEqual([expect.objectContaining({
        ifMissing: 'drop',
        message: expect.objectContaining({
          instanceId: 'parent', executionId: 'parent-execution',
          event: expect.objectContaining({ type: 'SubOrchestrationInstanceFailed', taskScheduledId: 4, failureDetails: expect.objectContaining({ errorType: 'Terminated' }) }),
        }),
      })]);
      // The start a worker takes later is recorded and ignored: the parent is not answered again.
      const later = decideStep(input(decision.state, [start('execution-1', parent)]));
      if (later.kind !== 'commit') throw new Error('expected a commit');
      expect(later.writeSet.requests.some((r) => r.type === 'insertMessage')).toBe(false);
      expect(later.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    }
  });

  it('leaves to a worker a sub-orchestration with no history whose state names no parent call (stored before 2026-12-03)', () => {
    expect(decideTerminate({ state: state({ runtimeStatus: 'Pending', parentInstanceId: 'parent' }), event: terminated, now, newId })).toEqual({ kind: 'send' });
  });

  it('answers the call a started sub-orchestration\'s state names, without its history, as the link its history gives would', () => {
    // The state a worker's steps leave: started for one call, then rewound in place by its parent for another.
    const rewinder = { ...parent, taskScheduledId: 9 };
    const history = [
      start('execution-1', parent).event,
      { type: 'ExecutionRewound' as const, eventId: -1, timestamp: T0.toISOString(), parentInstance: rewinder },
    ];
    const failed = applyEvent(state({ runtimeStatus: 'Pending' }), history[0]!);
    expect(failed.parentCall).toEqual({ taskScheduledId: 4, executionId: 'parent-execution' });
    const s = { ...applyEvent({ ...failed, runtimeStatus: 'Failed' }, history[1]!), historyLength: history.length };
    expect(s.parentCall).toEqual({ taskScheduledId: 9, executionId: 'parent-execution' });
    // Before, `needHistory`: the whole history was read for the link.
    const ids = () => {
      let n = 0;
      return () => `id-${n++}`;
    };
    const decision = decideTerminate({ state: s, event: terminated, now, newId: ids() });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const legacy = decideTerminate({ state: { ...s, parentCall: undefined }, event: terminated, now, newId: ids(), history });
    if (legacy.kind !== 'commit') throw new Error('expected a commit');
    const withoutState = (d: typeof decision) => d.writeSet.requests.filter((r) => r.type !== 'replaceState');
    expect(withoutState(decision)).toEqual(withoutState(legacy));
    expect(decision.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', parentCall: s.parentCall });
    expect(decision.writeSet.requests.find((r) => r.type === 'insertMessage')).toMatchObject({
      message: { instanceId: 'parent', event: { type: 'SubOrchestrationInstanceFailed', taskScheduledId: 9 } },
    });
  });

  it('answers the call a parent\'s rewind named, though the step recording it found the child running (rewound on its own first)', () => {
    // A child the parent's next execution adopted: started for a call of the parent's earlier execution, then Failed,
    // rewound on its own (its rewind queued ahead, so running again when the step recording the parent's rewind takes
    // it: that rewind reached it Failed). Its execution reports to the parent's rerun call from then on.
    const earlier = { ...parent, executionId: 'parent-e1' };
    const rewinder = { ...parent, executionId: 'parent-e2', taskScheduledId: 9 };
    const history = new HistoryBuilder({ name: 'CallOnce' }).started().taskScheduled('Act', 1).build()
      .map((e) => (e.type === 'ExecutionStarted' ? { ...e, parentInstance: earlier } : e));
    const running = state({ parentInstanceId: 'parent', parentCall: { taskScheduledId: 4, executionId: 'parent-e1' }, historyLength: history.length, version: 5 });
    const rewound: OrchestrationMessage = {
      id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString(), parentInstance: rewinder },
    };
    const step = decideStep(input(running, [rewound], { history }));
    if (step.kind !== 'commit') throw new Error('expected a commit');
    const recorded = [...history, ...step.writeSet.requests.flatMap((r) => (r.type === 'appendHistory' ? r.events : []))];
    const s = { ...step.state, historyLength: recorded.length };
    // What the worker answers once the child completes: the rerun call.
    const completed = decideStep(input(s, [result('execution-1')], { history: recorded }));
    if (completed.kind !== 'commit') throw new Error('expected a commit');
    const answered = (d: { writeSet: WriteSet }) =>
      d.writeSet.requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message] : []))
        .map((m) => ({ instanceId: m.instanceId, executionId: m.executionId, taskScheduledId: (m.event as { taskScheduledId?: number }).taskScheduledId }));
    expect(answered(completed)).toEqual([{ instanceId: 'parent', executionId: 'parent-e2', taskScheduledId: 9 }]);
    // A client's terminate answers the same call, from the state. Before, the earlier execution's call (parent-e1, #4),
    // whose result the parent drops as stale: the rerun call waited for ever.
    const terminate = decideTerminate({ state: s, event: terminated, now, newId });
    if (terminate.kind !== 'commit') throw new Error('expected a commit');
    expect(answered(terminate)).toEqual([{ instanceId: 'parent', executionId: 'parent-e2', taskScheduledId: 9 }]);
  });

  it('answers the call the history names, not a stale one its state kept, once the history is read (a recursive terminate, a refused step)', () => {
    // A state stored before 2026-12-06: a child rewound on its own, then recording its parent's rewind while Running,
    // kept the call of the parent's earlier execution (parent-e1 #4); its history reports to the rerun call (parent-e2 #9).
    const earlier = { ...parent, executionId: 'parent-e1' };
    const rewinder = { ...parent, executionId: 'parent-e2', taskScheduledId: 9 };
    const history = [
      ...new HistoryBuilder({ name: 'CallOnce' }).started().taskScheduled('Act', 1).build()
        .map((e) => (e.type === 'ExecutionStarted' ? { ...e, parentInstance: earlier } : e)),
      { type: 'ExecutionRewound' as const, eventId: -1, timestamp: T0.toISOString(), parentInstance: rewinder },
    ];
    const stale = state({ parentInstanceId: 'parent', parentCall: { taskScheduledId: 4, executionId: 'parent-e1' }, historyLength: history.length, version: 5 });
    const answered = (d: { kind: string; writeSet?: WriteSet }) => (d.writeSet?.requests ?? [])
      .flatMap((r) => (r.type === 'insertMessage' && r.message.instanceId === 'parent' ? [r.message] : []))
      .map((m) => ({ executionId: m.executionId, taskScheduledId: (m.event as { taskScheduledId?: number }).taskScheduledId }));
    const rerunCall = [{ executionId: 'parent-e2', taskScheduledId: 9 }];
    // What a worker's step answers, replaying the history.
    const completed = decideStep(input(stale, [result('execution-1')], { history }));
    expect(answered(completed)).toEqual(rerunCall);
    // A client's recursive terminate reads the history: its link wins. Before, parent-e1 #4, which the parent drops as
    // stale: the rerun call waited for ever.
    const recursive = { ...terminated, recursive: true as const };
    expect(decideTerminate({ state: stale, event: recursive, now, newId })).toEqual({ kind: 'needHistory' });
    expect(answered(decideTerminate({ state: stale, event: recursive, now, newId, history }))).toEqual(rerunCall);
    // A step the store refuses for good, read for the recursive terminate it takes.
    const refused = { state: stale, messages: [{ id: 'stop', instanceId: 'instance-1', event: recursive }], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now, newId, failure: { errorType: 'E', errorMessage: 'too large' } };
    expect(decideRefusedStep(refused)).toEqual({ kind: 'needHistory' });
    expect(answered(decideRefusedStep({ ...refused, history }))).toEqual(rerunCall);
    // Not read (a plain terminate): the state's call, as before, with no read.
    expect(answered(decideTerminate({ state: stale, event: terminated, now, newId }))).toEqual([{ executionId: 'parent-e1', taskScheduledId: 4 }]);
  });

  it('asks a started sub-orchestration whose state names no call (stored before 2026-12-03) for its history and answers the call that waits for it, the last one a rewind named', () => {
    const s = state({ parentInstanceId: 'parent', historyLength: 3 });
    expect(decideTerminate({ state: s, event: terminated, now, newId })).toEqual({ kind: 'needHistory' });
    const rewinder = { ...parent, taskScheduledId: 9 };
    const history = [
      start('execution-1', parent).event,
      { type: 'ExecutionRewound' as const, eventId: -1, timestamp: T0.toISOString(), parentInstance: rewinder },
      { type: 'ExecutionRewound' as const, eventId: -1, timestamp: T0.toISOString() },
    ];
    const decision = decideTerminate({ state: s, event: terminated, now, newId, history });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const sent = decision.writeSet.requests.find((r) => r.type === 'insertMessage');
    expect(sent).toMatchObject({
      ifMissing: 'drop',
      message: {
        instanceId: 'parent', executionId: 'parent-execution',
        event: { type: 'SubOrchestrationInstanceFailed', taskScheduledId: 9, failureDetails: { errorType: 'Terminated' } },
      },
    });
  });

  it('records and ignores the start of the terminated execution (a top-level instance terminated before it ran); runs a start of a new one', () => {
    const s = state({ runtimeStatus: 'Terminated', output: 'stop', historyLength: 1, version: 3 });
    const ignored = decideStep(input(s, [start('execution-1')]));
    if (ignored.kind !== 'commit') throw new Error('expected a commit');
    expect(ignored.state).toEqual({ ...s, version: 4, historyLength: 2 });
    expect(ignored.execution).toBeUndefined();
    // Recorded and consumed, nothing sent, nothing run.
    expect(ignored.writeSet.requests.map((r) => r.type)).toEqual(['replaceState', 'appendHistory', 'deleteMessages']);
    expect(ignored.writeSet.requests[1]).toMatchObject({ events: [{ type: 'ExecutionStarted', executionId: 'execution-1' }] });
    const restarted = decideStep(input(s, [start('execution-2')], { history: [] }));
    if (restarted.kind !== 'commit') throw new Error('expected a commit');
    expect(restarted.state).toMatchObject({ runtimeStatus: 'Running', executionId: 'execution-2' });
  });
});

describe('a suspend and a resume decided without a lease (decideSuspend, decideResume): the step a worker commits', () => {
  const now = new Date(T0.getTime() + 1000);
  const newId = () => 'unused';
  const suspended = { type: 'ExecutionSuspended' as const, eventId: -1, timestamp: now.toISOString(), reason: 'hold' };
  const resumed = { type: 'ExecutionResumed' as const, eventId: -1, timestamp: now.toISOString(), reason: 'go' };
  const running = () => new HistoryBuilder({ name: 'CallOnce' }).started().taskScheduled('Act', 1);
  const message = (event: typeof suspended | typeof resumed): OrchestrationMessage => ({ id: 'command', instanceId: 'instance-1', event });
  // The orchestrator sets a custom status before its call: a worker's step keeps it (its replay sets it again), and so
  // must the direct write, from the state read.
  const callOnceWaiting: Orchestrator = function* (ctx) {
    ctx.setCustomStatus({ phase: 'waiting' });
    return yield ctx.callActivity('Act', 1);
  };
  const waiting = (overrides: Partial<InstanceState> = {}) => state({ customStatus: { phase: 'waiting' }, ...overrides });
  /** The state and history a worker's step commits for `event`, from `s` and its stored `history`. */
  const workerStep = (s: InstanceState, history: HistoryEvent[], event: typeof suspended | typeof resumed) => {
    const newExecution = () => new OrchestrationExecution(callOnceWaiting, { customStatusLimitBytes: 16_384 });
    const decision = decideStep(input(s, [message(event)], { history, now, newExecution }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    return { state: decision.state, requests: decision.writeSet.requests.filter((r) => r.type !== 'deleteMessages') };
  };
  const lease = (s: InstanceState) => ({ kind: 'unclaimed', instanceId: 'instance-1', executionId: 'execution-1', version: s.version, now });

  it('suspends a Running instance as a worker\u2019s step does, under an unclaimed lease at the version read', () => {
    const history = running().build();
    const s = waiting({ historyLength: history.length });
    const decision = decideSuspend({ state: s, event: suspended, now, newId });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toMatchObject({ runtimeStatus: 'Suspended', version: 3, historyLength: history.length + 3 });
    expect(decision.writeSet).toEqual({ lease: lease(s), requests: workerStep(s, history, suspended).requests });
    expect(decision.state).toEqual(workerStep(s, history, suspended).state);
  });

  it('suspends a Suspended instance again as a worker\u2019s step does: the suspend recorded, the status and custom status kept', () => {
    const history = running().step().event(suspended).build();
    const s = waiting({ runtimeStatus: 'Suspended', historyLength: history.length });
    const decision = decideSuspend({ state: s, event: { ...suspended, reason: 'retry' }, now, newId });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const worker = workerStep(s, history, { ...suspended, reason: 'retry' });
    expect(decision.state).toMatchObject({ runtimeStatus: 'Suspended', customStatus: { phase: 'waiting' }, version: 3, historyLength: history.length + 3 });
    expect(decision.writeSet).toEqual({ lease: lease(s), requests: worker.requests });
    expect(decision.state).toEqual(worker.state);
  });

  it('resumes a Running instance again as a worker\u2019s step does, without its history: the resume recorded, nothing else changed', () => {
    const history = running().build();
    const s = waiting({ historyLength: history.length });
    const decision = decideResume({ state: s, event: resumed, now, newId });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const worker = workerStep(s, history, resumed);
    expect(decision.state).toMatchObject({ runtimeStatus: 'Running', customStatus: { phase: 'waiting' }, version: 3, historyLength: history.length + 3 });
    expect(decision.writeSet).toEqual({ lease: lease(s), requests: worker.requests });
    expect(decision.state).toEqual(worker.state);
  });

  it('names the command in the unclaimed lease only when it may go ahead of what is queued before it (ahead: no worker at hand), the write otherwise the same', () => {
    const terminated = { type: 'ExecutionTerminated' as const, eventId: -1, timestamp: now.toISOString(), reason: 'stop' };
    const history = running().build();
    const started = waiting({ historyLength: history.length });
    const suspendedHistory = running().step().event(suspended).build();
    const suspendedState = waiting({ runtimeStatus: 'Suspended', historyLength: suspendedHistory.length });
    const cases = [
      ['terminate', (ahead?: boolean) => decideTerminate({ state: started, event: terminated, now, newId: () => 'id', ...(ahead === undefined ? {} : { ahead }) })],
      ['suspend', (ahead?: boolean) => decideSuspend({ state: started, event: suspended, now, newId: () => 'id', ...(ahead === undefined ? {} : { ahead }) })],
      ['suspend', (ahead?: boolean) => decideSuspend({ state: waiting({ runtimeStatus: 'Pending' }), event: suspended, now, newId: () => 'id', ...(ahead === undefined ? {} : { ahead }) })],
      ['resume', (ahead?: boolean) => decideResume({ state: suspendedState, event: resumed, history: suspendedHistory, now, newId: () => 'id', ...(ahead === undefined ? {} : { ahead }) })],
      ['resume', (ahead?: boolean) => decideResume({ state: waiting({ runtimeStatus: 'Pending' }), event: resumed, now, newId: () => 'id', ...(ahead === undefined ? {} : { ahead }) })],
    ] as const;
    for (const [command, decide] of cases) {
      const [strict, notAhead, ahead] = [decide(), decide(false), decide(true)];
      if (strict.kind !== 'commit' || notAhead.kind !== 'commit' || ahead.kind !== 'commit') throw new Error(`expected commits for ${command}`);
      expect(strict.writeSet.lease, command).not.toHaveProperty('command');
      expect(notAhead, command).toEqual(strict);
      expect(ahead.writeSet.lease, command).toEqual({ ...strict.writeSet.lease, command });
      expect(ahead.writeSet.requests, command).toEqual(strict.writeSet.requests);
      expect(ahead.state, command).toEqual(strict.state);
    }
  });

  it('leaves a terminal instance\u2019s suspend, resume and terminate to the message, whose condition refuses it', () => {
    const terminated = { type: 'ExecutionTerminated' as const, eventId: -1, timestamp: now.toISOString() };
    for (const runtimeStatus of ['Completed', 'Failed', 'Terminated'] as const) {
      const s = waiting({ runtimeStatus, historyLength: 5 });
      expect(decideSuspend({ state: s, event: suspended, now, newId }), runtimeStatus).toEqual({ kind: 'send' });
      expect(decideResume({ state: s, event: resumed, now, newId }), runtimeStatus).toEqual({ kind: 'send' });
      expect(decideTerminate({ state: s, event: terminated, now, newId }), runtimeStatus).toEqual({ kind: 'send' });
    }
  });

  it('suspends an execution not started yet (Pending, ContinuedAsNew) by its state alone; a worker then starts it suspended, the suspend recorded as committed', () => {
    const start: OrchestrationMessage = {
      id: 'start', instanceId: 'instance-1',
      event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1' },
    };
    /** The events a worker's first step appends when it claims the queued start, a minute later, and the state it writes. */
    const firstStep = (s: InstanceState) => {
      const first = decideStep(input(s, [start], { now: new Date(now.getTime() + 60_000) }));
      if (first.kind !== 'commit') throw new Error('expected a commit');
      const append = first.writeSet.requests.find((r) => r.type === 'appendHistory');
      if (append?.type !== 'appendHistory') throw new Error('expected a history append');
      // Its code does not run: no activity.
      expect(first.writeSet.requests.some((r) => r.type === 'insertTask')).toBe(false);
      return { state: first.state, events: append.events };
    };
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew'] as const) {
      const s = waiting({ runtimeStatus });
      const decision = decideSuspend({ state: s, event: suspended, now, newId });
      if (decision.kind !== 'commit') throw new Error(`expected a commit for ${runtimeStatus}`);
      // Nothing appended (a history ahead of the start would have a worker defer the start behind it): the suspend's
      // time, its reason and the status it came from are held back in the state.
      const held: InstanceState = {
        ...s, runtimeStatus: 'Suspended', heldSuspend: { timestamp: now.toISOString(), reason: 'hold', resumeTo: runtimeStatus },
        held: { executionId: s.executionId, commands: [suspended] }, lastUpdatedTime: now, version: s.version + 1,
      };
      expect(decision.writeSet).toEqual({ lease: lease(s), requests: [{ type: 'replaceState', state: held }] });
      // The worker's first step records that suspend ahead of the start, at the time it was committed (not at the
      // claim) and with its reason, as Durable Functions records it; the state then holds it no more.
      const first = firstStep(decision.state);
      expect(first.state.runtimeStatus).toBe('Suspended');
      expect(first.state).not.toHaveProperty('heldSuspend');
      expect(first.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionSuspended', 'ExecutionStarted', 'OrchestratorCompleted']);
      expect(first.events[1]).toEqual(suspended);
    }
    // A state with no history that holds no suspend (a Running one): the status alone; the worker stamps the suspend
    // with the state's last change, the suspend's commit.
    for (const runtimeStatus of ['Running'] as const) {
      const s = waiting({ runtimeStatus });
      const decision = decideSuspend({ state: s, event: suspended, now, newId });
      if (decision.kind !== 'commit') throw new Error(`expected a commit for ${runtimeStatus}`);
      expect(decision.writeSet).toEqual({
        lease: lease(s), requests: [{ type: 'replaceState', state: { ...s, runtimeStatus: 'Suspended', lastUpdatedTime: now, version: s.version + 1 } }],
      });
      const first = firstStep(decision.state);
      expect(first.state.runtimeStatus).toBe('Suspended');
      expect(first.events[1]).toEqual({ type: 'ExecutionSuspended', eventId: -1, timestamp: now.toISOString() });
    }
    // A terminal instance: left to the message, whose condition refuses it.
    expect(decideSuspend({ state: waiting({ runtimeStatus: 'Completed' }), event: suspended, now, newId })).toEqual({ kind: 'send' });
  });

  it('resumes an execution suspended before it started to the status it had (Pending, ContinuedAsNew), the start then recording both commands; one not Suspended keeps its status', () => {
    const start: OrchestrationMessage = {
      id: 'start', instanceId: 'instance-1',
      event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1' },
    };
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew'] as const) {
      const before = waiting({ runtimeStatus });
      const held = decideSuspend({ state: before, event: suspended, now, newId });
      if (held.kind !== 'commit') throw new Error('expected a commit');
      const s = held.state;
      const decision = decideResume({ state: s, event: resumed, now, newId });
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      // The status before the suspend (a ContinuedAsNew instance is not shown as one nobody started), the resume held
      // after the suspend, with its time and reason.
      const resumedState: InstanceState = {
        ...before, heldSuspend: { timestamp: now.toISOString(), reason: 'hold', resumeTo: runtimeStatus, resumed },
        held: { executionId: before.executionId, commands: [suspended, resumed] }, lastUpdatedTime: now, version: s.version + 1,
      };
      expect(decision.writeSet).toEqual({ lease: lease(s), requests: [{ type: 'replaceState', state: resumedState }] });
      // Its start then runs as any start does (the activity is scheduled), recording both commands ahead of it, as a
      // worker records them when both reach it as messages (Durable Functions records each); the state holds nothing.
      const first = decideStep(input(decision.state, [start], { now: new Date(now.getTime() + 60_000) }));
      if (first.kind !== 'commit') throw new Error('expected a commit');
      expect(first.state.runtimeStatus).toBe('Running');
      expect(first.state).not.toHaveProperty('heldSuspend');
      expect(first.writeSet.requests.some((r) => r.type === 'insertTask')).toBe(true);
      const append = first.writeSet.requests.find((r) => r.type === 'appendHistory');
      if (append?.type !== 'appendHistory') throw new Error('expected a history append');
      expect(append.events.map((e) => e.type)).toEqual([
        'OrchestratorStarted', 'ExecutionSuspended', 'ExecutionResumed', 'ExecutionStarted', 'TaskScheduled', 'OrchestratorCompleted',
      ]);
      expect(append.events.slice(1, 3)).toEqual([suspended, resumed]);
      // The history replays to the status written.
      expect(append.events.reduce(applyEvent, before).runtimeStatus).toBe('Running');
    }
    // Suspended with no held suspend (stored by an earlier version): Pending, as that version resumed it, its suspend
    // (stamped with the state's last change) held with the resume.
    const legacy = waiting({ runtimeStatus: 'Suspended' });
    const legacySuspend = { type: 'ExecutionSuspended', eventId: -1, timestamp: T0.toISOString() };
    expect(decideResume({ state: legacy, event: resumed, now, newId })).toMatchObject({
      kind: 'commit',
      state: {
        ...legacy, runtimeStatus: 'Pending', lastUpdatedTime: now, version: legacy.version + 1,
        heldSuspend: { timestamp: T0.toISOString(), resumeTo: 'Pending', resumed }, held: { executionId: legacy.executionId, commands: [legacySuspend, resumed] },
      },
    });
    // Not Suspended: nothing to resume, the status stays, and no message is queued that would hold every later direct
    // command back; nothing is held either (a retry at every call would grow the state), and nothing is written (no
    // new snapshot, the version kept): a commit of no request, under the check that orders it behind a command queued
    // before it.
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew', 'Running'] as const) {
      const same = waiting({ runtimeStatus });
      expect(decideResume({ state: same, event: resumed, now, newId }), runtimeStatus).toEqual({
        kind: 'commit', state: same, writeSet: { lease: lease(same), requests: [] },
      });
    }
    expect(decideResume({ state: waiting({ runtimeStatus: 'Terminated' }), event: resumed, now, newId })).toEqual({ kind: 'send' });
  });

  it('writes nothing for a suspend or resume of an execution not started yet that changes nothing (an HTTP retry): no request, the state as read, under the check that orders it', () => {
    const unchanged = (s: InstanceState, decision: ReturnType<typeof decideSuspend>, what: string, at = now) =>
      expect(decision, what).toEqual({ kind: 'commit', state: s, writeSet: { lease: { ...lease(s), now: at }, requests: [] } });
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew'] as const) {
      const before = waiting({ runtimeStatus });
      const first = decideSuspend({ state: before, event: suspended, now, newId });
      if (first.kind !== 'commit') throw new Error('expected a commit');
      const later = new Date(now.getTime() + 5000);
      // A repeated suspend: the suspend held, its time and reason, the version and last change all kept.
      unchanged(first.state, decideSuspend({ state: first.state, event: { ...suspended, reason: 'retry' }, now: later, newId }), `${runtimeStatus}: suspend again`, later);
      const resumedOnce = decideResume({ state: first.state, event: resumed, now, newId });
      if (resumedOnce.kind !== 'commit') throw new Error('expected a commit');
      // A repeated resume: nothing to resume.
      unchanged(resumedOnce.state, decideResume({ state: resumedOnce.state, event: { ...resumed, reason: 'retry' }, now: later, newId }), `${runtimeStatus}: resume again`, later);
    }
    // Suspended as an earlier version stored it (no held suspend): its suspend's time is its last change, which a
    // worker's first step and a resume read (heldCommands); a repeated suspend keeps it.
    const legacy = waiting({ runtimeStatus: 'Suspended' });
    unchanged(legacy, decideSuspend({ state: legacy, event: suspended, now, newId }), 'legacy: suspend again');
  });

  const suspendedAtLastOf = (commands: readonly HistoryEvent[]): boolean => commands.at(-1)!.type === 'ExecutionSuspended';

  it('records the suspends and resumes committed before the start that changed its status ahead of it, in order, as it records them when they reach it as messages', () => {
    const start: OrchestrationMessage = {
      id: 'start', instanceId: 'instance-1',
      event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1' },
    };
    const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
    const later = new Date(now.getTime() + 60_000);
    /** The first step's events and state when the worker claims `messages`, from `s`. */
    const firstStep = (s: InstanceState, messages: OrchestrationMessage[]) => {
      const first = decideStep(input(s, messages, { now: later }));
      if (first.kind !== 'commit') throw new Error('expected a commit');
      const append = first.writeSet.requests.find((r) => r.type === 'appendHistory');
      if (append?.type !== 'appendHistory') throw new Error('expected a history append');
      return { events: append.events, state: first.state, tasks: first.writeSet.requests.filter((r) => r.type === 'insertTask').length };
    };
    const suspend1 = { ...suspended, timestamp: at(1000) };
    const resume2 = { ...resumed, timestamp: at(2000) };
    // Each sequence, and the commands of it held: those that change the status (a repeated suspend, a resume with
    // nothing suspended, an HTTP retry, change nothing), in the order a worker records them.
    const sequences = {
      'suspend, resume, suspend': [[suspended, { ...resumed, timestamp: at(1000) }, { ...suspended, timestamp: at(2000), reason: 'hold again' }], [0, 1, 2]],
      'suspend, suspend, resume': [[suspended, { ...suspended, timestamp: at(1000), reason: 'retry' }, resume2], [0, 2]],
      'resume alone, then suspend, resume, resume': [[resumed, suspend1, resume2, { ...resumed, timestamp: at(3000), reason: 'retry' }], [1, 2]],
    } as const;
    for (const [what, [commands, kept]] of Object.entries(sequences)) {
      // Held: each command committed by a client while no worker runs.
      let s = waiting({ runtimeStatus: 'Pending' });
      for (const command of commands) {
        const decision = command.type === 'ExecutionSuspended'
          ? decideSuspend({ state: s, event: command, now, newId })
          : decideResume({ state: s, event: command, now, newId });
        if (decision.kind !== 'commit') throw new Error('expected a commit');
        s = decision.state;
      }
      const held = firstStep(s, [start]);
      // Queued: the same commands reach the worker as messages, with the start, and each is recorded.
      const queued = firstStep(waiting({ runtimeStatus: 'Pending' }), [start, ...commands.map((event, i) => ({ id: `c${i}`, instanceId: 'instance-1', event }))]);
      expect(queued.events.slice(1, 1 + commands.length), what).toEqual(commands);
      // Held, those that changed the status, in the same order, then the same step.
      expect(held.events.slice(1, 1 + kept.length), what).toEqual(kept.map((i) => commands[i]));
      expect(held.events.slice(1 + kept.length), what).toEqual(queued.events.slice(1 + commands.length));
      expect(held.events[1 + kept.length], what).toEqual(start.event);
      // The same state (a version apart: the held commands were commits of their own; a history without the commands
      // that changed nothing), saying the same of what was kept while suspended (the start: its code waits for the resume).
      const { version } = held.state;
      expect(held.state, what).toEqual({
        ...queued.state, version, historyLength: held.events.length, ...(queued.state.suspension ? { suspension: { version, kept: true } } : {}),
      });
      expect(queued.state.suspension, what).toEqual(suspendedAtLastOf(commands) ? { version: queued.state.version, kept: true } : undefined);
      expect(held.state, what).not.toHaveProperty('heldSuspend');
      // The last command decides: a suspend leaves the execution suspended, its code not run.
      const suspendedAtLast = suspendedAtLastOf(commands);
      expect(held.state.runtimeStatus, what).toBe(suspendedAtLast ? 'Suspended' : 'Running');
      expect(held.tasks, what).toBe(suspendedAtLast ? 0 : 1);
    }
  });

  it('records the held commands ahead of a terminate decided before the start, as a worker that takes the start and the terminate does', () => {
    const start: OrchestrationMessage = {
      id: 'start', instanceId: 'instance-1',
      event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1' },
    };
    const terminated = { type: 'ExecutionTerminated' as const, eventId: -1, timestamp: now.toISOString(), reason: 'stop' };
    const again = { ...suspended, reason: 'hold again' };
    // A ContinuedAsNew instance keeps the custom status its last execution set until the next one starts.
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew'] as const) {
    let s = waiting({ runtimeStatus });
    for (const [decide, event] of [[decideSuspend, suspended], [decideResume, resumed], [decideSuspend, again]] as const) {
      const decision = (decide as typeof decideSuspend)({ state: s, event: event as typeof suspended, now, newId });
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      s = decision.state;
    }
    const direct = decideTerminate({ state: s, event: terminated, now, newId });
    if (direct.kind !== 'commit') throw new Error('expected a commit');
    const append = direct.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events).toEqual([
      { type: 'OrchestratorStarted', eventId: -1, timestamp: now.toISOString() }, suspended, resumed, again, terminated,
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: now.toISOString() },
    ]);
    // A worker that takes the start with the terminate records the same commands ahead of the termination (and the
    // start with them, which reaches the direct write's instance later, recorded and ignored), and ends the same way.
    const step = decideStep(input(s, [start, { id: 'terminate', instanceId: 'instance-1', event: terminated }], { now }));
    if (step.kind !== 'commit') throw new Error('expected a commit');
    const stepAppend = step.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (stepAppend?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(stepAppend.events.slice(1).filter((e) => e.type !== 'ExecutionStarted')).toEqual(append.events.slice(1));
    const { version: _v, lastUpdatedTime: _t, historyLength: _l, ...directState } = direct.state;
    expect(step.state).toEqual({ ...directState, version: step.state.version, lastUpdatedTime: step.state.lastUpdatedTime, historyLength: step.state.historyLength });
    expect(direct.state).not.toHaveProperty('heldSuspend');
    expect(direct.state).not.toHaveProperty('customStatus');
    }
  });

  it('records the held suspend and resume ahead of the start when the store refuses that first step for good (decideRefusedStep), as decideStep does', () => {
    const start: OrchestrationMessage = {
      id: 'start', instanceId: 'instance-1',
      event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1' },
    };
    const failure = { errorType: 'PayloadTooLargeError', errorMessage: 'too large' };
    const later = new Date(now.getTime() + 60_000);
    const suspendedOnly = decideSuspend({ state: waiting({ runtimeStatus: 'Pending' }), event: suspended, now, newId });
    if (suspendedOnly.kind !== 'commit') throw new Error('expected a commit');
    const heldResumed = decideResume({ state: suspendedOnly.state, event: resumed, now, newId });
    if (heldResumed.kind !== 'commit') throw new Error('expected a commit');
    for (const [s, commands] of [[heldResumed.state, [suspended, resumed]], [suspendedOnly.state, [suspended]]] as const) {
      for (const bare of [false, true]) {
        const refused = decideRefusedStep({ state: s, messages: [start], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: later, newId, failure, bare });
        if (refused.kind !== 'commit') throw new Error('expected a commit');
        const append = refused.writeSet.requests.find((r) => r.type === 'appendHistory');
        if (append?.type !== 'appendHistory') throw new Error('expected a history append');
        // Its failure record refused too (bare), each command is recorded without its reason, the start still after them.
        const payloadRefused = 'the store refused to record it (PayloadTooLargeError: too large)';
        expect(append.events.slice(1, 1 + commands.length)).toEqual(bare ? commands.map(({ reason: _r, ...c }) => ({ ...c, payloadRefused })) : commands);
        expect(append.events.map((e) => e.type)).toEqual([
          'OrchestratorStarted', ...commands.map((c) => c.type), 'ExecutionStarted', 'ExecutionCompleted', 'OrchestratorCompleted',
        ]);
        expect(refused.state).toMatchObject({
          runtimeStatus: 'Failed', failureDetails: bare ? { errorType: failure.errorType, errorMessage: 'the step and its failure record were refused: too large' } : failure,
        });
        expect(refused.state).not.toHaveProperty('heldSuspend');
      }
    }
  });

  it('terminates an execution not started yet, whatever its status: the start that reaches it later is recorded and ignored', () => {
    const s = waiting({ runtimeStatus: 'Suspended' });
    const terminated = { type: 'ExecutionTerminated' as const, eventId: -1, timestamp: now.toISOString(), reason: 'stop' };
    const decision = decideTerminate({ state: s, event: terminated, now, newId });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    // Suspended by a state an earlier version stored (no held suspend): that suspend recorded ahead of the termination.
    expect(decision.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', historyLength: 4 });
    const start: OrchestrationMessage = {
      id: 'start', instanceId: 'instance-1',
      event: { type: 'ExecutionStarted', eventId: -1, timestamp: now.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1' },
    };
    const later = decideStep(input(decision.state, [start], { now }));
    if (later.kind !== 'commit') throw new Error('expected a commit');
    expect(later.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    expect(later.writeSet.requests.some((r) => r.type === 'insertTask')).toBe(false);
  });

  it('resumes an instance that nothing reached while suspended as a worker\u2019s step does, once it has the history', () => {
    // An event that came before the suspend, and one kept while suspended then applied by an earlier resume.
    for (const history of [
      running().step().eventRaised('early').event(suspended).build(),
      running().step().event(suspended).step().eventRaised('kept').step().event(resumed).step().event(suspended).build(),
    ]) {
      const s = waiting({ runtimeStatus: 'Suspended', historyLength: history.length });
      expect(decideResume({ state: s, event: resumed, now, newId })).toEqual({ kind: 'needHistory', fromIndex: 0 });
      const decision = decideResume({ state: s, event: resumed, now, newId, history });
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      expect(decision.state).toMatchObject({ runtimeStatus: 'Running', version: 3, historyLength: history.length + 3 });
      expect(decision.writeSet).toEqual({ lease: lease(s), requests: workerStep(s, history, resumed).requests });
      expect(decision.state).toEqual(workerStep(s, history, resumed).state);
    }
  });

  it('leaves a resume to a worker when something was kept while suspended (the resume runs the orchestrator on it)', () => {
    const cases = {
      'an event': running().step().event(suspended).step().eventRaised('kept').build(),
      'an activity result': running().step().event(suspended).step().taskCompleted(0, 'done').build(),
      'a second suspend after a kept event': running().step().event(suspended).step().eventRaised('kept').step().event(suspended).build(),
    };
    for (const [what, history] of Object.entries(cases)) {
      const s = waiting({ runtimeStatus: 'Suspended', historyLength: history.length });
      expect(decideResume({ state: s, event: resumed, now, newId, history }), what).toEqual({ kind: 'send' });
      // A worker's resume step does run it: the activity result completes the instance.
      if (what === 'an activity result') expect(workerStep(s, history, resumed).state.runtimeStatus).toBe('Completed');
    }
  });
});

describe('decideStep, with a continueAsNew and a suspend in one step', () => {
  // The first execution waits for 'go', then continues as new; the next one calls an activity at once.
  const loop: Orchestrator = function* (ctx) {
    if (ctx.getInput() === undefined) {
      yield ctx.waitForExternalEvent('go');
      ctx.continueAsNew('next');
      return undefined;
    }
    return yield ctx.callActivity('Act', ctx.getInput());
  };
  const newExecution = () => new OrchestrationExecution(loop, { customStatusLimitBytes: 16_384 });
  const at = (ms: number) => new Date(T0.getTime() + ms);
  const event = (e: OrchestrationMessage['event'], id: string): OrchestrationMessage => ({ id, instanceId: 'instance-1', event: e });
  const commit = (s: InstanceState, messages: OrchestrationMessage[], history: readonly HistoryEvent[], now: Date) => {
    const decision = decideStep(input(s, messages, { history, now, newExecution }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const requests = decision.writeSet.requests;
    const written = requests.flatMap((r) => (r.type === 'appendHistory' || r.type === 'replaceHistory' ? [r] : []))[0]!;
    const sent = requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message] : []));
    return {
      state: decision.state, history: written.type === 'replaceHistory' ? written.events : [...history, ...written.events], sent,
      tasks: requests.filter((r) => r.type === 'insertTask').length,
    };
  };

  it('starts the next execution suspended: its code runs only after the resume', () => {
    const history = new HistoryBuilder({ name: 'CallOnce' }).started().build();
    const s = state({ historyLength: history.length });
    const raised = event({ type: 'EventRaised', eventId: -1, timestamp: at(1).toISOString(), name: 'go' }, 'go');
    const suspend = event({ type: 'ExecutionSuspended', eventId: -1, timestamp: at(1).toISOString(), reason: 'hold' }, 'suspend');
    const first = commit(s, [raised, suspend], history, at(1));
    expect(first.state.runtimeStatus).toBe('Suspended');
    expect(first.history).toEqual([]);
    const start = first.sent.find((m) => m.event.type === 'ExecutionStarted')!;
    // A worker claims the queued start: the execution starts suspended, its code does not run.
    const second = commit(first.state, [start], first.history, at(2));
    expect(second.state.runtimeStatus).toBe('Suspended');
    expect(second.tasks).toBe(0);
    // Its history replays to the status written.
    expect(second.history.reduce(applyEvent, state({ runtimeStatus: 'Pending' })).runtimeStatus).toBe('Suspended');
    // The resume runs the code kept for it: the activity is scheduled.
    const resume = event({ type: 'ExecutionResumed', eventId: -1, timestamp: at(3).toISOString() }, 'resume');
    const third = commit(second.state, [resume], second.history, at(3));
    expect(third.state.runtimeStatus).toBe('Running');
    expect(third.tasks).toBe(1);
  });

  it('holds the suspend back for the next execution with its time and reason, and resumes it to ContinuedAsNew before its start', () => {
    const history = new HistoryBuilder({ name: 'CallOnce' }).started().build();
    const raised = event({ type: 'EventRaised', eventId: -1, timestamp: at(1).toISOString(), name: 'go' }, 'go');
    const suspend = event({ type: 'ExecutionSuspended', eventId: -1, timestamp: at(1).toISOString(), reason: 'hold' }, 'suspend');
    const first = commit(state({ historyLength: history.length }), [raised, suspend], history, at(2));
    expect(first.state.heldSuspend).toEqual({ timestamp: at(1).toISOString(), reason: 'hold', resumeTo: 'ContinuedAsNew' });
    // Held for the next execution, which the step names: not the one that continued as new.
    expect(first.state.executionId).not.toBe('execution-1');
    expect(first.state.held).toEqual({ executionId: first.state.executionId, commands: [suspend.event] });
    const start = first.sent.find((m) => m.event.type === 'ExecutionStarted')!;
    const second = commit(first.state, [start], first.history, at(3));
    expect(second.history.find((e) => e.type === 'ExecutionSuspended')).toEqual(suspend.event);
    // A resume before a worker took the start: ContinuedAsNew again, and the start then runs as any start does,
    // recording the suspend and the resume ahead of it.
    const resumeEvent = { type: 'ExecutionResumed', eventId: -1, timestamp: at(3).toISOString() } as const;
    const resumed = decideResume({ state: first.state, event: resumeEvent, now: at(3), newId: () => 'x' });
    if (resumed.kind !== 'commit') throw new Error('expected a commit');
    expect(resumed.state.runtimeStatus).toBe('ContinuedAsNew');
    expect(resumed.state.heldSuspend).toEqual({ ...first.state.heldSuspend, resumed: resumeEvent });
    expect(resumed.state.held).toEqual({ executionId: first.state.executionId, commands: [suspend.event, resumeEvent] });
    const next = commit(resumed.state, [start], [], at(4));
    expect(next.tasks).toBe(1);
    expect(next.history.slice(1, 4)).toEqual([suspend.event, resumeEvent, start.event]);
    expect(next.state).not.toHaveProperty('heldSuspend');
    // So does a resume in the step itself, after the suspend: nothing of the next execution has run.
    const resume = event({ type: 'ExecutionResumed', eventId: -1, timestamp: at(1).toISOString(), reason: 'go on' }, 'resume');
    const both = commit(state({ historyLength: history.length }), [raised, suspend, resume], history, at(2));
    expect(both.state.runtimeStatus).toBe('ContinuedAsNew');
    expect(both.state.heldSuspend).toEqual({ timestamp: at(1).toISOString(), reason: 'hold', resumeTo: 'ContinuedAsNew', resumed: resume.event });
    expect(both.state.held).toEqual({ executionId: both.state.executionId, commands: [suspend.event, resume.event] });
    const bothNext = commit(both.state, [both.sent.find((m) => m.event.type === 'ExecutionStarted')!], both.history, at(3));
    expect(bothNext.tasks).toBe(1);
    expect(bothNext.history.slice(1, 3)).toEqual([suspend.event, resume.event]);
  });

  it('carries no suspend an earlier version left held into the next execution, which starts as any start does', () => {
    // Running (a history), the field kept by that version's ExecutionStarted; its step continues it as new.
    const history = new HistoryBuilder({ name: 'CallOnce' }).started().build();
    const left = state({ historyLength: history.length, heldSuspend: { timestamp: T0.toISOString(), reason: 'old', resumeTo: 'Pending' } });
    const raised = event({ type: 'EventRaised', eventId: -1, timestamp: at(1).toISOString(), name: 'go' }, 'go');
    const first = commit(left, [raised], history, at(1));
    expect(first.state.runtimeStatus).toBe('ContinuedAsNew');
    expect(first.state).not.toHaveProperty('heldSuspend');
    const start = first.sent.find((m) => m.event.type === 'ExecutionStarted')!;
    const second = commit(first.state, [start], first.history, at(2));
    expect(second.history.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled', 'OrchestratorCompleted']);
    expect(second.state.runtimeStatus).toBe('Running');
  });

  it('resumes to Running an execution whose start an earlier version recorded keeping the held suspend', () => {
    // That worker's ExecutionStarted kept the field: the execution runs (a history), suspended, the suspend still held.
    const history = new HistoryBuilder({ name: 'CallOnce' }).started().build();
    history.push({ type: 'ExecutionSuspended', eventId: -1, timestamp: at(1).toISOString() });
    const left = state({ runtimeStatus: 'Suspended', historyLength: history.length, heldSuspend: { timestamp: T0.toISOString(), resumeTo: 'Pending' } });
    const resume = { type: 'ExecutionResumed', eventId: -1, timestamp: at(2).toISOString() } as const;
    const direct = decideResume({ state: left, event: resume, history, now: at(2), newId: () => 'x' });
    if (direct.kind !== 'commit') throw new Error('expected a commit');
    expect(direct.state.runtimeStatus).toBe('Running');
    expect(direct.state).not.toHaveProperty('heldSuspend');
    const step = commit(left, [event(resume, 'resume')], history, at(2));
    expect(step.state.runtimeStatus).toBe('Running');
    expect(step.state).not.toHaveProperty('heldSuspend');
  });
});

describe('decideStep, the first step of an execution whose suspend was queued with its start (the message path)', () => {
  const start: OrchestrationMessage = {
    id: 'start', instanceId: 'instance-1',
    event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1' },
  };
  const command = (type: 'ExecutionSuspended' | 'ExecutionResumed' | 'ExecutionTerminated', reason: string): OrchestrationMessage => ({
    id: `${type} ${reason}`, instanceId: 'instance-1', event: { type, eventId: -1, timestamp: T0.toISOString(), reason },
  });
  const raised: OrchestrationMessage = { id: 'go', instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go' } };
  /** The first step over a Pending instance with `messages` (the start first): its state, history and tasks. */
  const firstStep = (messages: OrchestrationMessage[], s = state({ runtimeStatus: 'Pending' })) => {
    const decision = decideStep(input(s, messages));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    return {
      state: decision.state, events: append.events, types: append.events.map((e) => e.type),
      tasks: decision.writeSet.requests.filter((r) => r.type === 'insertTask').length,
    };
  };

  it('runs no code: the suspend goes ahead of the start, which waits for the resume with what came before the suspend', () => {
    const step = firstStep([start, raised, command('ExecutionSuspended', 'queued')]);
    expect(step.state.runtimeStatus).toBe('Suspended');
    expect(step.state).not.toHaveProperty('heldSuspend');
    expect(step.types).toEqual(['OrchestratorStarted', 'ExecutionSuspended', 'ExecutionStarted', 'EventRaised', 'OrchestratorCompleted']);
    expect(step.events[1]).toMatchObject({ reason: 'queued' });
    expect(step.tasks).toBe(0);
    // Its history replays to the status written, and a worker's resume step runs the start: the activity is scheduled.
    expect(step.events.reduce(applyEvent, state({ runtimeStatus: 'Pending' })).runtimeStatus).toBe('Suspended');
    const s = { ...step.state, historyLength: step.events.length };
    const resume = decideStep(input(s, [command('ExecutionResumed', 'go on')], { history: step.events }));
    if (resume.kind !== 'commit') throw new Error('expected a commit');
    expect(resume.state.runtimeStatus).toBe('Running');
    expect(resume.writeSet.requests.filter((r) => r.type === 'insertTask')).toHaveLength(1);
  });

  it('meets the batch\u2019s suspends and resumes in their order before the start: the last one decides whether it runs', () => {
    const cases = [
      { commands: ['ExecutionSuspended', 'ExecutionResumed'], runs: true },
      { commands: ['ExecutionResumed', 'ExecutionSuspended'], runs: false },
      { commands: ['ExecutionSuspended', 'ExecutionResumed', 'ExecutionSuspended'], runs: false },
    ] as const;
    for (const { commands, runs } of cases) {
      const step = firstStep([start, ...commands.map((type, i) => command(type, String(i)))]);
      expect(step.types, commands.join(', ')).toEqual(['OrchestratorStarted', ...commands, 'ExecutionStarted', ...(runs ? ['TaskScheduled'] : []), 'OrchestratorCompleted']);
      expect(step.state.runtimeStatus, commands.join(', ')).toBe(runs ? 'Running' : 'Suspended');
      expect(step.tasks, commands.join(', ')).toBe(runs ? 1 : 0);
    }
    // After a suspend the client held back: a resume queued behind an event, then a suspend; the held one goes first.
    const held = state({ runtimeStatus: 'Suspended', heldSuspend: { timestamp: T0.toISOString(), reason: 'held', resumeTo: 'Pending' } });
    const step = firstStep([start, raised, command('ExecutionResumed', 'r'), command('ExecutionSuspended', 's')], held);
    expect(step.types).toEqual([
      'OrchestratorStarted', 'ExecutionSuspended', 'ExecutionResumed', 'ExecutionSuspended', 'ExecutionStarted', 'EventRaised', 'OrchestratorCompleted',
    ]);
    expect(step.tasks).toBe(0);
  });

  it('keeps the order of a batch whose terminate comes before its suspend: the terminate ends the execution', () => {
    const step = firstStep([start, command('ExecutionTerminated', 'stop'), command('ExecutionSuspended', 'late')]);
    expect(step.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    const at = (type: string) => step.types.indexOf(type as HistoryEvent['type']);
    expect(at('ExecutionStarted')).toBeLessThan(at('ExecutionTerminated'));
    expect(at('ExecutionTerminated')).toBeLessThan(at('ExecutionSuspended'));
  });
});

describe('decideStep, when changed code now continues an execution as new during its replay', () => {
  // Recorded by code that called Prep, then waited for 'Go' (which came), then for 'More'. The code now continues as
  // new right after Prep: its replay ends the execution, and the next step (a 'More' raised) records that late. For
  // this execution 'Go' was never processed: what the old code did with it is not in history.
  const history = new HistoryBuilder({ name: 'Changed' })
    .started().taskScheduled('Prep').step().taskCompleted(0, 1).step().eventRaised('Go', 'consumed by the old code').build();
  const raised = (id: string, name: string, value: string): OrchestrationMessage => ({
    id, instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name, input: value },
  });
  const changed = (preserveUnprocessedEvents: boolean): Orchestrator => function* (ctx) {
    yield ctx.callActivity('Prep');
    ctx.continueAsNew('next', { preserveUnprocessedEvents });
  };
  const decide = (preserve: boolean) => {
    const decision = decideStep(input(state({ name: 'Changed', historyLength: history.length }), [raised('more', 'More', 'now')], {
      history, newExecution: () => new OrchestrationExecution(changed(preserve), { customStatusLimitBytes: 16_384 }),
    }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const sent = decision.writeSet.requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message.event] : []));
    const deleted = decision.writeSet.requests.flatMap((r) => (r.type === 'deleteMessages' ? r.messageIds : []));
    return { decision, sent, deleted };
  };

  it('carries each unprocessed event over once, in the start message: the one in history and the one of this step', () => {
    const { decision, sent, deleted } = decide(true);
    expect(decision.state.runtimeStatus).toBe('ContinuedAsNew');
    expect(decision.writeSet.requests).toContainEqual({ type: 'replaceHistory', instanceId: 'instance-1', events: [] });
    expect(sent.map((e) => e.type)).toEqual(['ExecutionStarted']);
    expect(sent[0]).toMatchObject({
      carriedEvents: [
        { type: 'EventRaised', name: 'Go', input: 'consumed by the old code', carried: true },
        { type: 'EventRaised', name: 'More', input: 'now', carried: true },
      ],
    });
    // The step's own event is consumed with the step: it travels in the start message, once.
    expect(deleted).toEqual(['more']);
  });

  it('drops both without preserveUnprocessedEvents, as a continueAsNew in a step of its own does', () => {
    const { sent, deleted } = decide(false);
    expect(sent.map((e) => e.type)).toEqual(['ExecutionStarted']);
    expect(deleted).toEqual(['more']);
  });
});

describe('decideStep, events carried over by continueAsNew and events raised while its step was in flight', () => {
  // The soak found it (extended workload, seeds 500006, 500014, 500056): 'a' was buffered in history, 'b' came in the
  // continueAsNew step's own batch, 'c' was raised while that step was in flight, so it was queued ahead of the next
  // execution's start. The carried events, kept in the queue or sent again behind the start, reached the next
  // execution out of the order raised.
  const ts = T0.toISOString();
  const raised = (id: string, value: string, name = 'x'): OrchestrationMessage => ({
    id, instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: ts, name, input: value },
  });
  const relay: Orchestrator = function* (ctx) {
    if (ctx.getInput() === undefined) {
      yield ctx.callActivity('Prep');
      ctx.continueAsNew('second', { preserveUnprocessedEvents: true });
      return undefined;
    }
    const got: unknown[] = [];
    for (let i = 0; i < 3; i++) got.push(yield ctx.waitForExternalEvent('x'));
    return got;
  };
  const newExecution = () => new OrchestrationExecution(relay, { customStatusLimitBytes: 16_384 });
  /** Steps `batches` one claim each, from `state` and `history`, each step replaying the history written so far. */
  const run = (start: InstanceState, first: readonly HistoryEvent[], batches: OrchestrationMessage[][]) => {
    let current = start;
    let history = first;
    const sent: OrchestrationMessage[] = [];
    const left: OrchestrationMessage[] = [];
    for (const batch of batches) {
      const decision = decideStep(input(current, batch, { history, newExecution }));
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      for (const r of decision.writeSet.requests) {
        if (r.type === 'appendHistory') history = [...history, ...r.events];
        else if (r.type === 'replaceHistory') history = r.events;
        else if (r.type === 'insertMessage') sent.push(r.message);
      }
      // A message the step did not consume stays queued, in its place.
      const consumed = decision.writeSet.requests.flatMap((r) => (r.type === 'deleteMessages' ? r.messageIds : []));
      left.push(...batch.filter((m) => !consumed.includes(m.id)));
      current = decision.state;
    }
    return { state: current, history, sent, left };
  };
  const firstExecution = new HistoryBuilder({ name: 'Relay' }).started().taskScheduled('Prep').step().eventRaised('x', 'a').build();
  const continued = () => run(
    state({ name: 'Relay', historyLength: firstExecution.length }), firstExecution, [[result('execution-1', 'done'), raised('b', 'b')]],
  );

  it('sends them in the start message, in the order raised, and consumes the one of its own batch', () => {
    const { state: next, sent, left } = continued();
    expect(next.runtimeStatus).toBe('ContinuedAsNew');
    expect(left).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.event).toMatchObject({
      type: 'ExecutionStarted', input: 'second',
      carriedEvents: [{ name: 'x', input: 'a', carried: true }, { name: 'x', input: 'b', carried: true }],
    });
  });

  for (const [how, split] of [['one claim', false], ['claims of one message each (a store bound)', true]] as const) {
    it(`delivers each name's events in the order raised, carried ones first, over ${how}`, () => {
      const { state: next, sent, left } = continued();
      // 'c' was raised while the continueAsNew step was in flight: it is queued ahead of the messages that step sent.
      // Its name in other case is the same name (matched with case ignored).
      const queue = [...left, raised('c', 'c', 'X'), ...sent, raised('d', 'late')];
      const done = run(next, [], split ? queue.map((m) => [m]) : [queue]);
      expect(done.state).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c'] });
      // What history records is the order applied: a replay from scratch agrees, and the start is recorded without them.
      const events = done.history.filter((e) => e.type === 'EventRaised').map((e) => e.type === 'EventRaised' && e.input);
      expect(events).toEqual(['c', 'a', 'b', 'late']);
      expect(done.history.find((e) => e.type === 'ExecutionStarted')).not.toHaveProperty('carriedEvents');
      const replayed = newExecution();
      replayed.replay(done.history);
      expect(replayed.step(T0, []).isFinished).toBe(true);
      expect(done.history.reduce(applyEvent, next)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c'] });
    });
  }

  it('delivers a start and events of a history without the mark (written before it) as before: in arrival order', () => {
    const start: OrchestrationMessage = {
      id: 'start', instanceId: 'instance-1',
      event: { type: 'ExecutionStarted', eventId: -1, timestamp: ts, name: 'Relay', instanceId: 'instance-1', executionId: 'execution-2', input: 'second' },
    };
    const next = state({ name: 'Relay', runtimeStatus: 'ContinuedAsNew', executionId: 'execution-2', input: 'second' });
    const done = run(next, [], [[raised('c', 'c'), start, raised('a', 'a'), raised('b', 'b')]]);
    expect(done.state).toMatchObject({ runtimeStatus: 'Completed', output: ['c', 'a', 'b'] });
  });
});

describe('decideStep, a batch whose event continues the execution as new and whose termination comes after it', () => {
  const ts = T0.toISOString();
  const parent = { instanceId: 'parent', name: 'Parent', taskScheduledId: 0, executionId: 'parent-execution' };
  const history: HistoryEvent[] = [
    { type: 'OrchestratorStarted', eventId: -1, timestamp: ts },
    { type: 'ExecutionStarted', eventId: -1, timestamp: ts, name: 'Loop', instanceId: 'instance-1', executionId: 'execution-1', parentInstance: parent },
    { type: 'OrchestratorCompleted', eventId: -1, timestamp: ts },
  ];
  const loop: Orchestrator = function* (ctx) {
    yield ctx.waitForExternalEvent('go');
    ctx.continueAsNew(1, { preserveUnprocessedEvents: true });
  };
  const messages: OrchestrationMessage[] = [
    { id: 'go', instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: ts, name: 'go' } },
    { id: 'later', instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: ts, name: 'later' } },
    { id: 'stop', instanceId: 'instance-1', event: { type: 'ExecutionTerminated', eventId: -1, timestamp: ts, reason: 'stop' } },
  ];

  it('ends Terminated in the execution it ran: no new start, the history kept with the termination, the parent answered once', () => {
    const decision = decideStep(input(state({ name: 'Loop', parentInstanceId: 'parent', historyLength: history.length }), messages, {
      history, newExecution: () => new OrchestrationExecution(loop, { customStatusLimitBytes: 16_384 }),
    }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', executionId: 'execution-1' });
    const { requests } = decision.writeSet;
    const append = requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events.map((e) => e.type)).toContain('ExecutionTerminated');
    expect(decision.state.historyLength).toBe(history.length + append.events.length);
    expect(requests.some((r) => r.type === 'replaceHistory')).toBe(false);
    const sent = requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message] : []));
    expect(sent).toEqual([expect.objectContaining({ instanceId: 'parent', event: expect.objectContaining({ type: 'SubOrchestrationInstanceFailed' }) })]);
    // Every message is consumed: nothing is carried over into an execution that never starts.
    expect(requests).toContainEqual({ type: 'deleteMessages', instanceId: 'instance-1', messageIds: ['go', 'later', 'stop'] });
  });

  it('keeps the input the terminated execution ran with, not the one it would have continued with', () => {
    const started = history.map((e) => (e.type === 'ExecutionStarted' ? { ...e, input: 0 } : e));
    const decision = decideStep(input(state({ name: 'Loop', parentInstanceId: 'parent', historyLength: started.length, input: 0 }), messages, {
      history: started, newExecution: () => new OrchestrationExecution(loop, { customStatusLimitBytes: 16_384 }),
    }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', executionId: 'execution-1', input: 0 });
    expect(decision.writeSet.requests).toContainEqual({ type: 'replaceState', state: decision.state });
    // The continueAsNew that never took effect is not in the history either: replaying the history written gives the
    // status written.
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events.map((e) => e.type)).not.toContain('ContinueAsNew');
    const replayed = [...started, ...append.events].reduce(applyEvent, state({ name: 'Loop', runtimeStatus: 'Pending' }));
    expect(replayed).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', input: 0 });
  });
});

describe('decideStep, a terminate queued before the start of the execution a continueAsNew made', () => {
  // The soak found it (extended workload, seed 500034): the terminate was sent while a worker ran the step that
  // continued the instance as new, so it was queued ahead of the new execution's start. The batch [terminate, start]
  // left the instance Running with a history ending Terminated, nothing to wake it: stuck for good.
  const ts = T0.toISOString();
  const parent = { instanceId: 'parent', name: 'Parent', taskScheduledId: 0, executionId: 'parent-execution' };
  const loop: Orchestrator = function* (ctx) {
    yield ctx.waitForExternalEvent('go');
    ctx.continueAsNew(1);
  };
  const messages: OrchestrationMessage[] = [
    { id: 'stop', instanceId: 'instance-1', event: { type: 'ExecutionTerminated', eventId: -1, timestamp: ts, reason: 'stop' } },
    {
      id: 'start', instanceId: 'instance-1',
      event: { type: 'ExecutionStarted', eventId: -1, timestamp: ts, name: 'Loop', instanceId: 'instance-1', executionId: 'execution-2', input: 1, parentInstance: parent },
    },
  ];

  it('ends Terminated with its reason, the start recorded and ignored, the parent answered', () => {
    const continued = state({ name: 'Loop', runtimeStatus: 'ContinuedAsNew', executionId: 'execution-2', parentInstanceId: 'parent', input: 1 });
    const decision = decideStep(input(continued, messages, { newExecution: () => new OrchestrationExecution(loop, { customStatusLimitBytes: 16_384 }) }));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', executionId: 'execution-2' });
    const sent = decision.writeSet.requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message] : []));
    expect(sent).toEqual([expect.objectContaining({ instanceId: 'parent', event: expect.objectContaining({ type: 'SubOrchestrationInstanceFailed' }) })]);
    expect(decision.writeSet.requests).toContainEqual({ type: 'deleteMessages', instanceId: 'instance-1', messageIds: ['stop', 'start'] });
    // Replaying the history written gives the status written.
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events.reduce(applyEvent, continued)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
  });

  // A store whose claim hands out at most so many messages (MongoStore's maxMessagesPerClaim) may end a claim between
  // the terminate and the start: the execution that has no history yet answers its parent by the link in its state.
  const continued = state({
    name: 'Loop', runtimeStatus: 'ContinuedAsNew', executionId: 'execution-2', parentInstanceId: 'parent', input: 1,
    parentCall: { executionId: 'parent-execution', taskScheduledId: 0 },
  });
  const sentBy = (decision: ReturnType<typeof decideStep>): OrchestrationMessage[] => {
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    return decision.writeSet.requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message] : []));
  };
  const answered = [{
    id: expect.any(String), instanceId: 'parent', executionId: 'parent-execution',
    event: expect.objectContaining({ type: 'SubOrchestrationInstanceFailed', taskScheduledId: 0 }),
  }];
  const newLoop = { newExecution: () => new OrchestrationExecution(loop, { customStatusLimitBytes: 16_384 }) };

  it('answers the parent once when the terminate and the start are claimed one at a time', () => {
    const first = decideStep(input(continued, [messages[0]!], newLoop));
    expect(sentBy(first)).toEqual(answered);
    if (first.kind !== 'commit') throw new Error('expected a commit');
    expect(first.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    const second = decideStep(input(first.state, [messages[1]!], newLoop));
    expect(sentBy(second)).toEqual([]);
    if (second.kind !== 'commit') throw new Error('expected a commit');
    expect(second.state).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop', executionId: 'execution-2' });
  });

  it('answers the parent once when both are claimed together, by the state\'s link as by the start\'s', () => {
    expect(sentBy(decideStep(input(continued, messages, newLoop)))).toEqual(answered);
  });

  it('replays the history it writes as the step reads it: the start after the termination ignored, no failure', () => {
    const decision = decideStep(input(continued, messages, newLoop));
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    const late: OrchestrationMessage = {
      id: 'late', instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: ts, name: 'go', input: 1 },
    };
    // Replayed (not the cached execution) for an instance not terminal (as one the start left Running before the start
    // of an ended execution was ignored): the replay ends where the step ended, the event is recorded and ignored.
    const stuck: InstanceState = { ...decision.state, runtimeStatus: 'Running' };
    const replayed = decideStep(input(stuck, [late], { ...newLoop, history: append.events }));
    if (replayed.kind !== 'commit') throw new Error('expected a commit');
    const appended = replayed.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (appended?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(appended.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'EventRaised', 'OrchestratorCompleted']);
    expect(replayed.state).toMatchObject({ runtimeStatus: 'Running', output: 'stop' });
    expect(replayed.state.failureDetails).toBeUndefined();
  });

  it('answers the parent once when the store refuses the step of the terminate claimed alone', () => {
    const failure = { errorType: 'PayloadTooLargeError', errorMessage: 'too large' };
    const refused = decideRefusedStep({ state: continued, messages: [messages[0]!], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure });
    expect(sentBy(refused)).toEqual(answered);
  });
});

describe('suspendedWithNothingDeferred, the rule decideResume reads the history with', () => {
  const ts = T0.toISOString();
  const suspended: HistoryEvent = { type: 'ExecutionSuspended', eventId: -1, timestamp: ts };
  const resumed: HistoryEvent = { type: 'ExecutionResumed', eventId: -1, timestamp: ts };
  const base = () => new HistoryBuilder({ name: 'O' }).started();

  it('is true for an execution suspended with nothing kept since, and false once something reached it', () => {
    expect(suspendedWithNothingDeferred(base().event(suspended).build())).toBe(true);
    expect(suspendedWithNothingDeferred(base().event(suspended).eventRaised('go', 1).build())).toBe(false);
    // A second suspend keeps what the first one kept.
    expect(suspendedWithNothingDeferred(base().event(suspended).eventRaised('go', 1).event(suspended).build())).toBe(false);
  });

  it('is false for an execution resumed since, or never suspended', () => {
    expect(suspendedWithNothingDeferred(base().event(suspended).event(resumed).build())).toBe(false);
    expect(suspendedWithNothingDeferred(base().eventRaised('go', 1).build())).toBe(false);
  });

  it('reads only the first `length` events: those of the execution as read, not what a later read ran ahead to', () => {
    const history = base().event(suspended).eventRaised('go', 1).build(); // ends with the step's OrchestratorCompleted
    expect(suspendedWithNothingDeferred(history, history.length - 2)).toBe(true);
    expect(suspendedWithNothingDeferred(history, history.length)).toBe(false);
  });
});

describe('decideRefusedStep', () => {
  const failure = { errorType: 'PayloadTooLargeError', errorMessage: 'too large' };
  const history = new HistoryBuilder({ name: 'CallOnce' }).started().taskScheduled('Act', 1).build();

  it('fails the instance with the store\'s reason, recording the claimed events, without running the orchestrator', () => {
    const s = state({ historyLength: history.length, customStatus: 'kept' });
    const decision = decideRefusedStep({ state: s, messages: [result('execution-1')], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toMatchObject({ runtimeStatus: 'Failed', failureDetails: failure, customStatus: 'kept', version: 3 });
    expect(decision.writeSet.lease).toEqual({ kind: 'orchestration', instanceId: 'instance-1', token: 'lease' });
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'TaskCompleted', 'ExecutionCompleted', 'OrchestratorCompleted']);
    // A step in the middle of the history (not read: the instance is no sub-orchestration) takes the marker of a later
    // step: the replay flags are recorded by the first step of an execution only.
    expect(append.events[0]).not.toHaveProperty('replayFlags');
    expect(decision.writeSet.requests.find((r) => r.type === 'deleteMessages')).toMatchObject({ messageIds: ['result'] });
  });

  it('asks for the history of a started sub-orchestration, and answers its parent from it', () => {
    const parentInstance = { instanceId: 'parent', name: 'P', taskScheduledId: 4, executionId: 'parent-execution' };
    const child = history.map((e) => (e.type === 'ExecutionStarted' ? { ...e, parentInstance } : e));
    const s = state({ historyLength: child.length, parentInstanceId: 'parent' });
    const base = { state: s, messages: [result('execution-1')], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure };
    expect(decideRefusedStep(base)).toEqual({ kind: 'needHistory' });
    const decision = decideRefusedStep({ ...base, history: child });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.writeSet.requests).toContainEqual(expect.objectContaining({
      type: 'insertMessage',
      message: expect.objectContaining({ instanceId: 'parent', executionId: 'parent-execution', event: expect.objectContaining({ type: 'SubOrchestrationInstanceFailed', taskScheduledId: 4, failureDetails: failure }) }),
    }));
  });

  it('reads the claimed messages as decideStep does: a result of another execution is consumed, not recorded', () => {
    const s = state({ historyLength: history.length });
    const messages = [result('execution-0', 'stale'), result('execution-1')];
    const decision = decideRefusedStep({ state: s, messages, leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'TaskCompleted', 'ExecutionCompleted', 'OrchestratorCompleted']);
    expect(decision.eventsApplied).toBe(1);
    expect(decision.writeSet.requests.find((r) => r.type === 'deleteMessages')).toMatchObject({ messageIds: ['stale', 'result'] });
    // The step decision drops the same message.
    const step = decideStep(input(s, messages, { history }));
    if (step.kind !== 'commit') throw new Error('expected a commit');
    expect(step.writeSet.requests.find((r) => r.type === 'deleteMessages')).toMatchObject({ messageIds: ['stale', 'result'] });
    expect(step.eventsApplied).toBe(1);
  });

  it('records the late events of an ended instance without their payloads, visibly, leaving its status as it was', () => {
    const huge = 'x'.repeat(1_000_000);
    const at = T0.toISOString();
    const late = (id: string, event: OrchestrationMessage['event']): OrchestrationMessage => ({ id, instanceId: 'instance-1', executionId: 'execution-1', event });
    const messages = [
      late('done', { type: 'TaskCompleted', eventId: -1, timestamp: at, taskScheduledId: 0, result: huge }),
      late('failed', { type: 'TaskFailed', eventId: -1, timestamp: at, taskScheduledId: 1, failureDetails: { errorType: 'Boom', errorMessage: huge, stackTrace: huge } }),
      late('timer', { type: 'TimerFired', eventId: -1, timestamp: at, timerId: 2, fireAt: at }),
      late('child', { type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: at, taskScheduledId: 3, result: { big: huge } }),
    ];
    for (const runtimeStatus of ['Completed', 'Terminated', 'Failed'] as const) {
      const s = state({ runtimeStatus, output: 'done', historyLength: history.length });
      const decision = decideRefusedStep({ state: s, messages, leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure });
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      expect(decision.state).toEqual({ ...s, version: 3, historyLength: history.length + 4 });
      expect(decision.writeSet.requests.map((r) => r.type)).toEqual(['replaceState', 'appendHistory', 'deleteMessages']);
      const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
      if (append?.type !== 'appendHistory') throw new Error('expected a history append');
      expect(append.from).toBe(history.length);
      const reason = 'the store refused to record it (PayloadTooLargeError: too large)';
      expect(append.events).toEqual([
        { type: 'TaskCompleted', eventId: -1, timestamp: at, taskScheduledId: 0, payloadRefused: reason },
        { type: 'TaskFailed', eventId: -1, timestamp: at, taskScheduledId: 1, failureDetails: { errorType: 'Boom', errorMessage: '(not recorded)' }, payloadRefused: reason },
        { type: 'TimerFired', eventId: -1, timestamp: at, timerId: 2, fireAt: at },
        { type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: at, taskScheduledId: 3, payloadRefused: reason },
      ]);
      // Bounded, so the fallback is not refused for the size that refused the step: a few hundred bytes an event.
      expect(JSON.stringify(decision.writeSet).length).toBeLessThan(2_000 + JSON.stringify(s).length);
      expect(decision.writeSet.requests.find((r) => r.type === 'deleteMessages')).toMatchObject({ messageIds: ['done', 'failed', 'timer', 'child'] });
    }
  });

  it('bounds every text of such a record, the store\'s reason and a start\'s name too', () => {
    const long = 'n'.repeat(100_000);
    const s = state({ runtimeStatus: 'Terminated', historyLength: 0 });
    const start: OrchestrationMessage = {
      id: 'start', instanceId: 'instance-1', executionId: 'execution-1',
      event: {
        type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: long, instanceId: 'instance-1', executionId: 'execution-1', input: long,
        parentInstance: { instanceId: 'p'.repeat(256), name: 'P'.repeat(256), taskScheduledId: 1 }, // ids and names: at most 256
      },
    };
    const decision = decideRefusedStep({ state: s, messages: [start], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure: { errorType: 'E', errorMessage: long } });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events).toHaveLength(1);
    expect(append.events[0]).toMatchObject({ type: 'ExecutionStarted', instanceId: 'instance-1', executionId: 'execution-1', parentInstance: { taskScheduledId: 1 } });
    expect(append.events[0]).not.toHaveProperty('input');
    expect(append.events[0]!.payloadRefused).toMatch(/^the store refused to record it \(E: n+…$/);
    expect(JSON.stringify(append.events).length).toBeLessThan(2_000);
    expect(append.events[0]).toMatchObject({ name: expect.stringMatching(/^n{255}…$/) });
  });

  it('counts them in a record of fixed size when that record was refused too (bare): the messages are consumed, the status kept', () => {
    const s = state({ runtimeStatus: 'Completed', output: 'done', historyLength: history.length });
    const huge = { errorType: 'PayloadTooLargeError', errorMessage: 'x'.repeat(1_000_000) };
    const decision = decideRefusedStep({ state: s, messages: [result('execution-1')], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure: huge, bare: true });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toEqual({ ...s, version: 3, historyLength: history.length + 2 });
    expect(decision.writeSet.requests.map((r) => r.type)).toEqual(['replaceState', 'appendHistory', 'deleteMessages']);
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events).toEqual([
      { type: 'OrchestratorStarted', eventId: -1, timestamp: T0.toISOString(), payloadRefused: expect.stringMatching(/^1 late events not recorded, the store refused to record them \(PayloadTooLargeError: x+…\)?$/) },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: T0.toISOString() },
    ]);
    expect((append.events[0]!.payloadRefused ?? '').length).toBeLessThanOrEqual(256);
  });

  it('records every claimed event of a running instance without its payload when its failure record was refused too (bare), the failure bounded', () => {
    const huge = 'x'.repeat(1_000_000);
    const at = T0.toISOString();
    const msg = (id: string, event: OrchestrationMessage['event']): OrchestrationMessage => ({ id, instanceId: 'instance-1', executionId: 'execution-1', event });
    const s = state({ runtimeStatus: 'Pending', input: { small: true } });
    const messages = [
      msg('start', { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1', input: { small: true } }),
      msg('event', { type: 'EventRaised', eventId: -1, timestamp: at, name: 'E', input: huge }),
      msg('timer', { type: 'TimerFired', eventId: -1, timestamp: at, timerId: 2, fireAt: at }),
    ];
    const refusedTwice = { errorType: 'PayloadTooLargeError', errorMessage: huge, stackTrace: huge };
    const decision = decideRefusedStep({ state: s, messages, leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure: refusedTwice, bare: true });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    const payloadRefused = expect.stringMatching(/^the store refused to record it \(PayloadTooLargeError: x+…$/);
    expect(append.events.slice(1, 4)).toEqual([
      messages[0]!.event, // the start keeps its input: the state holds it, a restart or rewind needs it
      { type: 'EventRaised', eventId: -1, timestamp: at, name: 'E', payloadRefused },
      messages[2]!.event,
    ]);
    expect(append.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'EventRaised', 'TimerFired', 'ExecutionCompleted', 'OrchestratorCompleted']);
    expect(decision.state).toMatchObject({
      runtimeStatus: 'Failed', input: { small: true },
      failureDetails: { errorType: 'PayloadTooLargeError', errorMessage: expect.stringMatching(/^the step and its failure record were refused: x+…$/) },
    });
    expect(decision.state.failureDetails).not.toHaveProperty('stackTrace');
    expect(JSON.stringify(decision.writeSet).length).toBeLessThan(3_000);
    expect(decision.writeSet.requests.find((r) => r.type === 'deleteMessages')).toMatchObject({ messageIds: ['start', 'event', 'timer'] });
  });

  it('writes a record of fixed size when the bare record was refused for good too (summary): the start without its input, the rest counted', () => {
    const huge = 'x'.repeat(1_000_000);
    const at = T0.toISOString();
    const msg = (id: string, event: OrchestrationMessage['event']): OrchestrationMessage => ({ id, instanceId: 'instance-1', executionId: 'execution-1', event });
    const s = state({ runtimeStatus: 'Pending', input: huge });
    const events = Array.from({ length: 1_000 }, (_, i) => msg(`e${i}`, { type: 'EventRaised', eventId: -1, timestamp: at, name: 'n'.repeat(250), input: i }));
    const messages = [
      msg('start', { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-1', input: huge }),
      ...events,
    ];
    const decision = decideRefusedStep({ state: s, messages, leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure: { errorType: 'PayloadTooLargeError', errorMessage: huge }, summary: true });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(JSON.stringify(decision.writeSet.requests.filter((r) => r.type === 'appendHistory')).length).toBeLessThan(2_000);
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'ExecutionCompleted', 'OrchestratorCompleted']);
    expect(append.events[1]).not.toHaveProperty('input');
    expect(append.events[1]).toMatchObject({ name: 'CallOnce', payloadRefused: expect.stringMatching(/^the store refused to record it \(1000 claimed events not recorded; /) });
    // The status keeps the input (a restart reads it there), and says how many events were left out.
    expect(decision.state).toMatchObject({
      runtimeStatus: 'Failed', input: huge,
      failureDetails: { errorMessage: expect.stringMatching(/^the step and its failure records were refused, 1000 claimed events not recorded: x+…$/) },
    });
    expect(decision.writeSet.requests.find((r) => r.type === 'deleteMessages')).toMatchObject({ messageIds: messages.map((m) => m.id) });
    // A rewind of it runs with that input again.
    const rewound = rewindHistory(append.events, decision.state.input);
    expect(rewound.find((e) => e.type === 'ExecutionStarted')).toEqual({ ...messages[0]!.event });
  });

  it('records a rewind as refused when its bare record was refused for good too (summary): appended, the instance still Failed', () => {
    const s = state({ runtimeStatus: 'Failed', failureDetails: failure, historyLength: history.length, version: 7 });
    const rewind: OrchestrationMessage = { id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() } };
    const decision = decideRefusedStep({ state: s, messages: [rewind], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure, summary: true, history });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toEqual({ ...s, version: 8, historyLength: history.length + 1 });
    expect(decision.writeSet.requests.map((r) => r.type)).toEqual(['replaceState', 'appendHistory', 'deleteMessages']);
    expect(decision.writeSet.requests[1]).toMatchObject({
      from: history.length, events: [{ type: 'ExecutionRewound', payloadRefused: expect.stringMatching(/^the rewind was refused, the store refused its history \(0 claimed events not recorded; /) }],
    });
  });

  it('tells a rewind waiting for a worker where its refusal may be recorded: after the history it was sent on, while Failed on it', () => {
    const before = state({ runtimeStatus: 'Failed', failureDetails: failure, historyLength: history.length, version: 7 });
    const rewind: OrchestrationMessage = { id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() } };
    const decision = decideRefusedStep({ state: before, messages: [rewind], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure, summary: true, history });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    // The refusal: the same history, still Failed, the record appended where the history was.
    expect(refusedRewindFrom(before, decision.state)).toBe(history.length);
    expect(refusedRewindOf(append.events)).toMatch(/^the rewind was refused/);
    // Nothing appended, or the rewind made (a new history, another status), or another execution: nothing to read.
    expect(refusedRewindFrom(before, before)).toBeUndefined();
    expect(refusedRewindFrom(before, { ...decision.state, historyEpoch: 1 })).toBeUndefined();
    expect(refusedRewindFrom(before, { ...decision.state, runtimeStatus: 'Running' })).toBeUndefined();
    expect(refusedRewindFrom(before, { ...decision.state, executionId: 'execution-2' })).toBeUndefined();
    // An earlier refusal of the same history, before this rewind was sent, is not this rewind's.
    expect(refusedRewindFrom(decision.state, { ...decision.state, version: 9, historyLength: decision.state.historyLength + 1 })).toBe(decision.state.historyLength);
    expect(refusedRewindOf([])).toBeUndefined();
    expect(refusedRewindOf([{ type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() }])).toBeUndefined();
  });

  it('consumes with no record a rewind or late events whose record of fixed size the store refused too (unrecorded); a running step ends the instance in its state alone', () => {
    const before = state({ runtimeStatus: 'Failed', failureDetails: failure, historyLength: history.length, version: 7 });
    const rewind: OrchestrationMessage = { id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() } };
    const late: OrchestrationMessage = { id: 'late', instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go' } };
    for (const messages of [[rewind], [late]]) {
      const decision = decideRefusedStep({ state: before, messages, leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure, summary: true, unrecorded: true, history });
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      // The state the store holds, its version moved on; no history written; the messages consumed.
      expect(decision.state).toEqual({ ...before, version: 8 });
      expect(decision.writeSet.requests).toEqual([
        { type: 'replaceState', state: decision.state },
        { type: 'deleteMessages', instanceId: 'instance-1', messageIds: messages.map((m) => m.id) },
      ]);
      // What a rewind waiting for a worker rejects on: nothing to read.
      expect(unrecordedRewindOf(before, decision.state)).toMatch(/^the rewind was refused, the store refused every record of it/);
      expect(refusedRewindFrom(before, decision.state)).toBeUndefined();
    }
    // Not a refusal: the same state, a record appended, a new history or status.
    expect(unrecordedRewindOf(before, before)).toBeUndefined();
    expect(unrecordedRewindOf(before, { ...before, version: 8, historyLength: history.length + 1 })).toBeUndefined();
    expect(unrecordedRewindOf(before, { ...before, version: 8, historyEpoch: 1 })).toBeUndefined();
    expect(unrecordedRewindOf(before, { ...before, version: 8, runtimeStatus: 'Running' })).toBeUndefined();
    // A running instance's step ends it, in its state alone: Failed, saying why; its history as it was; the messages
    // consumed. Not retried at every lease expiry.
    const running = state({ historyLength: history.length, version: 7 });
    const step = decideRefusedStep({ state: running, messages: [late], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure, summary: true, unrecorded: true, history });
    if (step.kind !== 'commit') throw new Error('expected a commit');
    expect(step.state).toMatchObject({
      runtimeStatus: 'Failed', version: 8, historyLength: history.length,
      failureDetails: { errorType: failure.errorType, errorMessage: expect.stringMatching(/^the step and every record of it were refused, 1 claimed events not recorded: /) },
    });
    expect(step.writeSet.requests).toEqual([
      { type: 'replaceState', state: step.state },
      { type: 'deleteMessages', instanceId: 'instance-1', messageIds: ['late'] },
    ]);
    // A sub-orchestration so ended answers its parent.
    const child = state({ historyLength: 3, version: 7, parentInstanceId: 'parent' });
    const childHistory = new HistoryBuilder({ name: 'CallOnce', instanceId: 'instance-1' }).started().build();
    (childHistory[1] as { parentInstance?: unknown }).parentInstance = { instanceId: 'parent', name: 'P', taskScheduledId: 4, executionId: 'pe' };
    const answered = decideRefusedStep({ state: child, messages: [late], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure, summary: true, unrecorded: true, history: childHistory });
    if (answered.kind !== 'commit') throw new Error('expected a commit');
    expect(answered.writeSet.requests.map((r) => r.type)).toEqual(['replaceState', 'deleteMessages', 'insertMessage']);
    expect(answered.writeSet.requests[2]).toMatchObject({
      message: { instanceId: 'parent', executionId: 'pe', event: { type: 'SubOrchestrationInstanceFailed', taskScheduledId: 4 } },
    });
  });

  it('records as refused a rewind of an instance with no history (failed so in its first step): nothing to replay', () => {
    const s = state({ runtimeStatus: 'Failed', failureDetails: failure, historyLength: 0, version: 7 });
    const rewind: OrchestrationMessage = { id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() } };
    const decision = decideStep({ ...input(s, [rewind]), history: [] });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toEqual({ ...s, version: 8, historyLength: 1 });
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(refusedRewindFrom(s, decision.state)).toBe(0);
    expect(refusedRewindOf(append.events)).toMatch(/^the rewind was refused, the instance has no history to replay/);
  });

  it('counts as unrecordable (left as it was) a step of late events, a rewind or a new execution\'s start over an ended instance, not a running step', () => {
    const at = T0.toISOString();
    const rewind: OrchestrationMessage = { id: 'rewind', instanceId: 'instance-1', event: { type: 'ExecutionRewound', eventId: -1, timestamp: at } };
    const late: OrchestrationMessage = { id: 'late', instanceId: 'instance-1', event: { type: 'EventRaised', eventId: -1, timestamp: at, name: 'go' } };
    const restart: OrchestrationMessage = {
      id: 'restart', instanceId: 'instance-1', event: { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'CallOnce', instanceId: 'instance-1', executionId: 'execution-2' },
    };
    const failed = state({ runtimeStatus: 'Failed', failureDetails: failure, historyLength: history.length });
    const completed = state({ runtimeStatus: 'Completed', historyLength: history.length });
    expect(unrecordable(failed, [late])).toBe(true);
    expect(unrecordable(completed, [late])).toBe(true);
    expect(unrecordable(failed, [rewind])).toBe(true);
    expect(unrecordable(failed, [late, rewind])).toBe(true);
    // A start of another execution is not made: its state alone could not say so (its history is the last one's).
    expect(unrecordable(completed, [restart])).toBe(true);
    expect(unrecordable(failed, [late, restart])).toBe(true);
    // A rewind reaching a Completed instance is a late event like any; a running instance's step is never unrecordable.
    expect(unrecordable(completed, [rewind])).toBe(true);
    expect(unrecordable(state({ historyLength: history.length }), [late])).toBe(false);
    // decideRefusedStep applies the same rule: the start's step is consumed, the instance as it was.
    const decision = decideRefusedStep({ state: completed, messages: [restart], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure, summary: true, unrecorded: true, history });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toEqual({ ...completed, version: completed.version + 1 });
    expect(decision.writeSet.requests.map((r) => r.type)).toEqual(['replaceState', 'deleteMessages']);
  });

  it('terminates a running instance whose claimed terminate had its record refused twice, without the reason', () => {
    const s = state({ historyLength: history.length });
    const terminate: OrchestrationMessage = {
      id: 'terminate', instanceId: 'instance-1', event: { type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString(), reason: 'r'.repeat(100_000) },
    };
    const decision = decideRefusedStep({ state: s, messages: [terminate], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure, bare: true });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toMatchObject({ runtimeStatus: 'Terminated' });
    expect(decision.state).not.toHaveProperty('output');
    const append = decision.writeSet.requests.find((r) => r.type === 'appendHistory');
    if (append?.type !== 'appendHistory') throw new Error('expected a history append');
    expect(append.events.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionTerminated', 'OrchestratorCompleted']);
    expect(append.events[1]).toMatchObject({ payloadRefused: expect.stringMatching(/PayloadTooLargeError/) });
  });

  it('consumes results of another execution alone, as a step that is not refused does: no new version', () => {
    const s = state({ runtimeStatus: 'Completed', output: 'done', historyLength: history.length });
    const decision = decideRefusedStep({ state: s, messages: [result('execution-0')], leaseToken: 'lease', customStatusLimitBytes: LIMIT, now: T0, newId: () => 'id', failure });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.state).toBe(s);
    expect(decision.writeSet.requests).toEqual([{ type: 'deleteMessages', instanceId: 'instance-1', messageIds: ['result'] }]);
  });
});

describe('a recursive terminate (decideStep, decideTerminate)', () => {
  const twoChildren: Orchestrator = function* (ctx) {
    yield ctx.callSubOrchestrator('Child', undefined, 'done-child');
    return yield ctx.callSubOrchestrator('Child', undefined, 'open-child');
  };
  const history = new HistoryBuilder({ name: 'TwoChildren' })
    .started().subOrchestrationCreated('Child', 'done-child').step().subOrchestrationCompleted(0, 'ok').subOrchestrationCreated('Child', 'open-child').build();
  const s = state({ name: 'TwoChildren', historyLength: history.length });
  const terminate = (recursive: boolean): OrchestrationMessage => ({
    id: 'terminate', instanceId: 'instance-1',
    event: { type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString(), reason: 'stop', ...(recursive ? { recursive: true as const } : {}) },
  });
  const newExecution = () => new OrchestrationExecution(twoChildren, { customStatusLimitBytes: LIMIT });
  /** The messages a commit sends, as `[target, event type, ifActiveChildOf]`. */
  const sent = (decision: ReturnType<typeof decideStep>) => {
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    return decision.writeSet.requests.flatMap((r) => (r.type === 'insertMessage' ? [[r.message.instanceId, r.message.event, r.ifActiveChildOf]] : []));
  };

  it('reads the history even with the execution cached, and terminates the unanswered child only, in the same commit', () => {
    const cached = newExecution();
    cached.replay(history);
    expect(decideStep(input(s, [terminate(true)], { cached, newExecution }))).toEqual({ kind: 'needHistory' });
    const decision = decideStep(input(s, [terminate(true)], { cached, newExecution, history }));
    // The cached execution applies it: the history is read for the children's ids, not replayed.
    expect(decision).toMatchObject({ kind: 'commit', state: { runtimeStatus: 'Terminated', output: 'stop' }, cacheHit: true, eventsReplayed: 0 });
    expect(sent(decision)).toEqual([
      ['open-child', { type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString(), reason: 'stop', recursive: true }, 'instance-1'],
    ]);
  });

  it('sends nothing on without `recursive`', () => {
    expect(sent(decideStep(input(s, [terminate(false)], { newExecution, history })))).toEqual([]);
  });

  it('asks a client\'s direct terminate for the history of a top-level instance, and sends the children\'s terminates with it', () => {
    const event = terminate(true).event as Extract<HistoryEvent, { type: 'ExecutionTerminated' }>;
    let n = 0;
    const newId = () => `id-${n++}`;
    expect(decideTerminate({ state: s, event, now: T0, newId })).toEqual({ kind: 'needHistory' });
    const decision = decideTerminate({ state: s, event, now: T0, newId, history });
    if (decision.kind !== 'commit') throw new Error('expected a commit');
    expect(decision.writeSet.requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message.instanceId] : []))).toEqual(['open-child']);
  });
});
