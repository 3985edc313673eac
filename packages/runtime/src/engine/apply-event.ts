import { assertNever, type HistoryEvent } from '../model/history-event.js';
import { isTerminalStatus, type InstanceState, type Mutable } from '../model/instance-status.js';

/**
 * The status reducer: folds one history event into an instance's state. Every status change of an instance goes
 * through here (worker commits, the client's direct commands, tests, store helpers), so the rules live in one place:
 * a terminal instance only changes again through a rewind (Failed) or a new ExecutionStarted. A suspend of an
 * execution not started yet (Pending, ContinuedAsNew) is held back in `heldSuspend` (its time, its reason and the
 * status before it), and a resume before the start gives that status back and is held with it (its time and reason),
 * so that the worker that takes the start records both ahead of it, as it records a suspend alone; an
 * ExecutionStarted leaves a Suspended instance Suspended (the execution starts suspended, decideStep having recorded
 * the held suspend ahead of it) and lets what is held go, as a termination or a completion of the execution not
 * started does; the OrchestratorStarted of a step of a started execution lets go one left behind.
 *
 * `version`, `historyLength` and `lastUpdatedTime` are bookkeeping the caller sets for the whole commit.
 */
export function applyEvent(state: InstanceState, event: HistoryEvent): InstanceState {
  const terminal = isTerminalStatus(state.runtimeStatus);
  switch (event.type) {
    case 'ExecutionStarted': {
      const { output: _o, failureDetails: _f, input: _i, parentInstanceId: _p, heldSuspend: _h, ...rest } = state;
      const next: Mutable<InstanceState> = rest;
      next.name = event.name;
      // An execution suspended before its start (see decideStep) starts suspended: the start waits for the resume.
      if (state.runtimeStatus !== 'Suspended') next.runtimeStatus = 'Running';
      next.executionId = event.executionId;
      if (event.input !== undefined) next.input = event.input;
      if (event.parentInstance) next.parentInstanceId = event.parentInstance.instanceId;
      return next;
    }
    case 'ExecutionCompleted': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, heldSuspend: _h, ...rest } = state;
      const next: Mutable<InstanceState> = rest;
      if (event.orchestrationStatus === 'Completed') {
        next.runtimeStatus = 'Completed';
        if (event.result !== undefined) next.output = event.result;
      } else {
        next.runtimeStatus = 'Failed';
        if (event.failureDetails) next.failureDetails = event.failureDetails;
      }
      return next;
    }
    case 'ExecutionTerminated': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, heldSuspend: _h, ...rest } = state;
      const next: Mutable<InstanceState> = rest;
      next.runtimeStatus = 'Terminated';
      if (event.reason !== undefined) next.output = event.reason;
      return next;
    }
    case 'ExecutionSuspended': {
      // A repeated suspend before the start holds the latest time and reason (Durable Functions records each suspend),
      // and the status before the first; a suspend after a resume before the start, the latest suspend alone. Only a
      // Suspended state's held suspend is in force: one a worker of an earlier version kept through a start and a
      // continueAsNew (it copied the field) is no status to give back.
      const resumeTo = (state.runtimeStatus === 'Suspended' && state.heldSuspend?.resumeTo) || state.runtimeStatus;
      if (resumeTo !== 'Pending' && resumeTo !== 'ContinuedAsNew') {
        return terminal ? state : { ...state, runtimeStatus: 'Suspended' };
      }
      // Not started: nothing of the execution is in its history yet, so the suspend waits in the state.
      const { timestamp, reason } = event;
      const heldSuspend = reason === undefined ? { timestamp, resumeTo } : { timestamp, reason, resumeTo };
      return { ...state, runtimeStatus: 'Suspended', heldSuspend };
    }
    case 'ExecutionResumed': {
      if (state.runtimeStatus !== 'Suspended') return state;
      const { heldSuspend, ...rest } = state;
      if (!heldSuspend) return { ...rest, runtimeStatus: 'Running' };
      // Before the start: the status before the suspend comes back, and the suspend stays held with this resume, for
      // the start's step to record both (Durable Functions records each command). A suspend after it, still before the
      // start, holds that latest suspend alone (above): the earlier suspend and this resume are not recorded.
      return { ...rest, runtimeStatus: heldSuspend.resumeTo, heldSuspend: { ...heldSuspend, resumed: event } };
    }
    case 'ExecutionRewound': {
      if (state.runtimeStatus !== 'Failed') return state;
      const { output: _o, failureDetails: _f, ...rest } = state;
      return { ...rest, runtimeStatus: 'Running' };
    }
    case 'ContinueAsNew': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, input: _i, ...rest } = state;
      const next: Mutable<InstanceState> = rest;
      next.runtimeStatus = 'ContinuedAsNew';
      if (event.input !== undefined) next.input = event.input;
      return next;
    }
    case 'OrchestratorStarted': {
      // A step of an execution that has started holds no suspend back: one there was kept through the start by a
      // worker of an earlier version (its ExecutionStarted kept the field), and a resume would take it for a suspend
      // before the start. (A continueAsNew and a suspend in one step hold one for the next execution after this.)
      if (!state.heldSuspend || !state.historyLength) return state;
      const { heldSuspend: _h, ...rest } = state;
      return rest;
    }
    case 'OrchestratorCompleted':
    case 'TaskScheduled':
    case 'TaskCompleted':
    case 'TaskFailed':
    case 'TimerCreated':
    case 'TimerFired':
    case 'EventRaised':
    case 'SubOrchestrationInstanceCreated':
    case 'SubOrchestrationInstanceCompleted':
    case 'SubOrchestrationInstanceFailed':
      return state;
    default:
      return assertNever(event);
  }
}
