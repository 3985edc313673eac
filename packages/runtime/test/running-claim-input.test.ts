import { describe, expect, it } from 'vitest';
import { decideRefusedStep, decideStep, type StepDecision } from '../src/engine/decide-step.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { OrchestrationExecution } from '../src/engine/orchestration-execution.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { InstanceState } from '../src/model/instance-status.js';
import type { OrchestrationMessage } from '../src/model/message.js';
import type { WriteSet } from '../src/model/write-set.js';
import { planWriteSet, writesInput } from '../src/store/plan-write-set.js';

/**
 * A store that keeps the input apart from the rest of the state and writes it only with a new execution
 * (`writesInput`) may hand out the work item of a Running instance without its input: no step of a Running instance
 * reads it (the orchestrator's `getInput()` reads the start in the history). MongoStore's claims rely on this
 * (`CLAIM_WITHOUT_INPUT`). Each flow below runs twice through the engine's step decisions: once with every claim
 * carrying the input, once with a Running instance's claims leaving it out and the store keeping the stored input; the
 * two must write the same states (input included), histories, messages and tasks.
 */

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const INPUT = { round: 1, data: 'x'.repeat(64) };

/** Calls an activity with its input, waits for 'go', then: continues as new ('again'), fails ('fail'), or waits a timer and completes. */
const flow: Orchestrator = function* (ctx) {
  const input = ctx.getInput<{ round: number; data: string }>();
  const first: unknown = yield ctx.callActivity('Act', input.round);
  const event: unknown = yield ctx.waitForExternalEvent('go');
  if (event === 'again' && input.round < 2) {
    ctx.continueAsNew({ ...input, round: input.round + 1 });
    return undefined;
  }
  if (event === 'fail') throw new Error(`failed in round ${input.round}`);
  ctx.setCustomStatus({ first, event });
  yield ctx.createTimer(at(60_000));
  return { first, event, input };
};

/** An instance as a store holds it: its state (input included) and history, and the executions a worker cached. */
interface Stored {
  state: InstanceState;
  history: HistoryEvent[];
  cached: OrchestrationExecution | undefined;
  /** What the steps sent to the instance itself (a continueAsNew's start) and the tasks they scheduled. */
  sent: OrchestrationMessage[];
}

/** One run of a flow: the store keeps the input apart (`writesInput`); `leaveOut` says whether Running claims carry it. */
class Run {
  readonly stored: Stored;
  /** Each committed write set, with the state it was committed over. */
  readonly commits: { readonly writeSet: WriteSet; readonly before: InstanceState }[] = [];
  /** How many claims handed out a state without its input. */
  withoutInput = 0;
  #ids = 0;

  constructor(readonly leaveOut: boolean) {
    const state: InstanceState = {
      instanceId: 'i', name: 'Flow', runtimeStatus: 'Pending', createdTime: T0, lastUpdatedTime: T0, executionId: 'e1', historyLength: 0,
      version: 1, input: INPUT,
    };
    const start = message({ type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Flow', instanceId: 'i', executionId: 'e1', input: INPUT });
    this.stored = { state, history: [], cached: undefined, sent: [start] };
  }

  /** The state a claim hands out: without the input for a Running instance when the run leaves it out. */
  claimed(): InstanceState {
    const { state } = this.stored;
    if (!this.leaveOut || state.runtimeStatus !== 'Running') return state;
    const { input: _input, ...rest } = state;
    this.withoutInput++;
    return rest;
  }

  /** Claims `messages` (and takes what the instance sent itself), decides the step as the worker does, and commits it. */
  step(messages: OrchestrationMessage[], now: Date, refused?: { readonly summary: boolean }): StepDecision {
    const all = [...this.stored.sent.filter((m) => m.instanceId === 'i'), ...messages];
    this.stored.sent = [];
    const state = this.claimed();
    const base = { state, messages: all, leaseToken: 'lease', now, newId: () => `id-${this.#ids++}` };
    let decision: StepDecision;
    if (refused) {
      const input = { ...base, failure: { errorType: 'PayloadTooLargeError', errorMessage: 'refused' }, customStatusLimitBytes: 16_384, bare: true, summary: refused.summary };
      decision = decideRefusedStep({ ...input, history: undefined });
      if (decision.kind === 'needHistory') decision = decideRefusedStep({ ...input, history: this.stored.history });
    } else {
      const cached = this.stored.cached;
      const input = { ...base, cached, newExecution: () => new OrchestrationExecution(flow, { customStatusLimitBytes: 16_384 }) };
      decision = decideStep({ ...input, history: undefined });
      if (decision.kind === 'needHistory') decision = decideStep({ ...input, history: this.stored.history });
    }
    if (decision.kind !== 'commit') throw new Error(`expected a commit, not ${decision.kind}`);
    this.#commit(decision);
    return decision;
  }

  /** What the store keeps of a commit: the state (the stored input unless the plan writes one), history, messages. */
  #commit(decision: Extract<StepDecision, { kind: 'commit' }>): void {
    const { writeSet } = decision;
    const before = this.stored.state;
    this.commits.push({ writeSet, before });
    const plan = planWriteSet(writeSet, new Map([['i', before]]));
    for (const planned of plan.states) {
      if (planned.state.instanceId !== 'i') continue;
      const { input: _input, ...rest } = planned.state;
      const input = writesInput(planned) ? planned.state.input : before.input;
      this.stored.state = input === undefined ? rest : { ...rest, input };
    }
    for (const request of writeSet.requests) {
      if (request.type === 'appendHistory') this.stored.history = [...this.stored.history, ...request.events];
      if (request.type === 'replaceHistory') this.stored.history = [...request.events];
      if (request.type === 'insertMessage') this.stored.sent.push(request.message);
    }
    this.stored.cached = decision.execution;
  }
}

let messageIds = 0;
function message(event: OrchestrationMessage['event'], executionId?: string): OrchestrationMessage {
  return { id: `m-${messageIds++}`, instanceId: 'i', ...(executionId ? { executionId } : {}), event };
}
const completed = (executionId: string, result: unknown) =>
  message({ type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result }, executionId);
const raised = (input: unknown) => message({ type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go', input });
const fired = (executionId: string, timerId: number) =>
  message({ type: 'TimerFired', eventId: -1, timestamp: at(60_000).toISOString(), timerId, fireAt: at(60_000).toISOString() }, executionId);
const rewound = () => message({ type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString(), reason: 'again' });
const failed = (executionId: string) => message({
  type: 'TaskFailed', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, failureDetails: { errorType: 'Error', errorMessage: 'no' },
}, executionId);
const terminated = () => message({ type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString(), reason: 'stop' });

/** The timer the last step scheduled (its `eventId`, which TimerFired answers). */
function timerOf(run: Run): number {
  const created = run.stored.history.findLast((e) => e.type === 'TimerCreated');
  if (!created) throw new Error('no timer was created');
  return created.eventId;
}

/**
 * The write sets with the input left out of every state of the claimed execution that the store does not write it with
 * (`writesInput` false): what a store that keeps the input apart writes of them.
 */
function written(run: Run): unknown[] {
  return run.commits.map(({ writeSet, before }) => {
    const plan = planWriteSet(writeSet, new Map([['i', before]]));
    const inputWritten = new Set(plan.states.filter(writesInput).map((p) => p.state.instanceId));
    return writeSet.requests.map((request) => {
      if (request.type !== 'replaceState' || inputWritten.has(request.state.instanceId)) return request;
      const { input: _input, ...state } = request.state;
      return { ...request, state };
    });
  });
}

/** Runs `steps` on a run that hands out inputs and on one that leaves a Running instance's out; both must agree. */
function bothWays(steps: (run: Run) => void): { full: Run; lean: Run } {
  const [full, lean] = [false, true].map((leaveOut) => {
    messageIds = 0;
    const run = new Run(leaveOut);
    steps(run); // one call site for both: a failure's stack trace names it
    return run;
  }) as [Run, Run];
  expect(lean.withoutInput).toBeGreaterThan(0);
  expect(written(lean)).toEqual(written(full));
  expect(lean.stored.state).toEqual(full.stored.state);
  expect(lean.stored.history).toEqual(full.stored.history);
  return { full, lean };
}

describe('a step of a Running instance needs no input in its claimed state (a store that keeps the input apart may leave it out)', () => {
  it('an activity result, an event, a timer: the same steps, the same end, the input kept', () => {
    const { lean } = bothWays((run) => {
      run.step([], T0);
      expect(run.stored.state.runtimeStatus).toBe('Running');
      run.step([completed('e1', 'r1')], T0);
      run.step([raised('go')], T0);
      run.step([fired('e1', timerOf(run))], at(60_000));
    });
    expect(lean.stored.state).toMatchObject({ runtimeStatus: 'Completed', input: INPUT, output: { first: 'r1', event: 'go', input: INPUT } });
  });

  it('with the execution cached and without (a replay from history after a cache miss)', () => {
    bothWays((run) => {
      run.step([], T0);
      run.stored.cached = undefined;
      run.step([completed('e1', 'r1')], T0);
      run.stored.cached = undefined;
      run.step([raised('go')], T0);
      run.step([fired('e1', timerOf(run))], at(60_000));
    });
  });

  it('a continueAsNew: the next execution gets its own input, and its Running steps run without it', () => {
    const { lean } = bothWays((run) => {
      run.step([], T0);
      run.step([completed('e1', 'r1')], T0);
      run.step([raised('again')], T0);
      expect(run.stored.state).toMatchObject({ runtimeStatus: 'ContinuedAsNew', input: { ...INPUT, round: 2 } });
      run.step([], T0); // the start of the next execution, which the continueAsNew sent
      const next = run.stored.state.executionId;
      run.step([completed(next, 'r2')], T0);
      run.step([raised('go')], T0);
      run.step([fired(next, timerOf(run))], at(60_000));
    });
    expect(lean.stored.state).toMatchObject({ runtimeStatus: 'Completed', input: { ...INPUT, round: 2 }, output: { input: { round: 2 } } });
  });

  it('an activity that fails the instance, then a rewind of the Failed instance (whose claim carries the input) that completes it', () => {
    const { lean } = bothWays((run) => {
      run.step([], T0);
      run.step([failed('e1')], T0);
      expect(run.stored.state.runtimeStatus).toBe('Failed');
      run.step([rewound()], T0); // reruns the activity
      run.step([completed('e1', 'r2')], T0);
      run.step([raised('go')], T0);
      run.step([fired('e1', timerOf(run))], at(60_000));
    });
    expect(lean.stored.state).toMatchObject({ runtimeStatus: 'Completed', input: INPUT, output: { first: 'r2' } });
  });

  it('an orchestrator that throws (Failed, its code\u2019s own failure)', () => {
    bothWays((run) => {
      run.step([], T0);
      run.step([completed('e1', 'r1')], T0);
      run.step([raised('fail')], T0);
      expect(run.stored.state).toMatchObject({ runtimeStatus: 'Failed', input: INPUT, failureDetails: { errorMessage: 'failed in round 1' } });
    });
  });

  it('a terminate reaching a Running instance', () => {
    const { lean } = bothWays((run) => {
      run.step([], T0);
      run.step([terminated()], T0);
    });
    expect(lean.stored.state).toMatchObject({ runtimeStatus: 'Terminated', input: INPUT, output: 'stop' });
  });

  it('a Running step the store refused (recorded as the instance\u2019s failure, bare or of fixed size), then a rewind', () => {
    for (const summary of [false, true]) {
      const { lean } = bothWays((run) => {
        run.step([], T0);
        run.step([completed('e1', 'r1')], T0, { summary });
        expect(run.stored.state.runtimeStatus).toBe('Failed');
        run.step([rewound()], T0);
      });
      expect(lean.stored.state).toMatchObject({ runtimeStatus: 'Running', input: INPUT });
    }
  });

  it('why a Failed instance\u2019s claim keeps the input: a rewind of a start recorded without it gives it back from the state', () => {
    // The first step refused for good: its record of fixed size keeps the start without its input.
    const run = new Run(false);
    run.step([], T0, { summary: true });
    expect(run.stored.state).toMatchObject({ runtimeStatus: 'Failed', input: INPUT });
    expect(run.stored.history.find((e) => e.type === 'ExecutionStarted')).not.toHaveProperty('input');
    const withInput = decideStep({
      state: run.stored.state, messages: [rewound()], leaseToken: 'lease', now: T0, newId: () => 'x', history: run.stored.history,
      newExecution: () => new OrchestrationExecution(flow, { customStatusLimitBytes: 16_384 }),
    });
    const { input: _input, ...bare } = run.stored.state;
    const withoutInput = decideStep({
      state: bare, messages: [rewound()], leaseToken: 'lease', now: T0, newId: () => 'x', history: run.stored.history,
      newExecution: () => new OrchestrationExecution(flow, { customStatusLimitBytes: 16_384 }),
    });
    const startOf = (decision: StepDecision) => decision.kind === 'commit'
      ? decision.writeSet.requests.flatMap((r) => (r.type === 'replaceHistory' ? r.events : [])).find((e) => e.type === 'ExecutionStarted')
      : undefined;
    expect(startOf(withInput)).toMatchObject({ input: INPUT });
    expect(startOf(withoutInput)).not.toHaveProperty('input');
  });
});
