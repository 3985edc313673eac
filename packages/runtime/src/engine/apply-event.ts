import { assertNever, type HistoryEvent } from '../model/history-event.js';
import { isTerminalStatus, type InstanceState } from '../model/instance-status.js';

/**
 * The status reducer: folds one history event into an instance's state. Every status change of an instance goes
 * through here (worker commits, tests, store helpers), so the rules live in one place:
 * a terminal instance only changes again through a rewind (Failed) or a new ExecutionStarted.
 *
 * `version`, `historyLength` and `lastUpdatedTime` are bookkeeping the caller sets for the whole commit.
 */
export function applyEvent(state: InstanceState, event: HistoryEvent): InstanceState {
  const terminal = isTerminalStatus(state.runtimeStatus);
  switch (event.type) {
    case 'ExecutionStarted': {
      const { output: _o, failureDetails: _f, input: _i, parentInstanceId: _p, ...rest } = state;
      return {
        ...rest,
        name: event.name,
        runtimeStatus: 'Running',
        executionId: event.executionId,
        ...(event.input === undefined ? {} : { input: event.input }),
        ...(event.parentInstance ? { parentInstanceId: event.parentInstance.instanceId } : {}),
      };
    }
    case 'ExecutionCompleted': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, ...rest } = state;
      return event.orchestrationStatus === 'Completed'
        ? { ...rest, runtimeStatus: 'Completed', ...(event.result === undefined ? {} : { output: event.result }) }
        : { ...rest, runtimeStatus: 'Failed', ...(event.failureDetails ? { failureDetails: event.failureDetails } : {}) };
    }
    case 'ExecutionTerminated': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, ...rest } = state;
      return { ...rest, runtimeStatus: 'Terminated', ...(event.reason === undefined ? {} : { output: event.reason }) };
    }
    case 'ExecutionSuspended':
      return terminal ? state : { ...state, runtimeStatus: 'Suspended' };
    case 'ExecutionResumed':
      return state.runtimeStatus === 'Suspended' ? { ...state, runtimeStatus: 'Running' } : state;
    case 'ExecutionRewound': {
      if (state.runtimeStatus !== 'Failed') return state;
      const { output: _o, failureDetails: _f, ...rest } = state;
      return { ...rest, runtimeStatus: 'Running' };
    }
    case 'ContinueAsNew': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, input: _i, ...rest } = state;
      return { ...rest, runtimeStatus: 'ContinuedAsNew', ...(event.input === undefined ? {} : { input: event.input }) };
    }
    case 'OrchestratorStarted':
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
