import { applyEvent } from '../engine/apply-event.js';
import type { StepResult } from '../engine/orchestration-execution.js';
import type { ExecutionStartedEvent, HistoryEvent } from '../model/history-event.js';
import type { InstanceState } from '../model/instance-status.js';
import type { ActivityTask, OrchestrationMessage } from '../model/message.js';
import type { CreateSubInstanceRequest, OrchestrationCommit } from './store.js';

/** The parent link of a sub-orchestration, as recorded in its ExecutionStarted event. */
export type ParentLink = NonNullable<ExecutionStartedEvent['parentInstance']>;

/** Everything {@link planCommit} needs. */
export interface CommitPlanInput {
  readonly state: InstanceState;
  readonly leaseToken: string;
  readonly consumedMessageIds: readonly string[];
  readonly step: StepResult;
  /** When set, the history is replaced by `baseHistory` + the step's events (rewind). */
  readonly baseHistory?: readonly HistoryEvent[];
  /** The parent to notify when this execution finishes. */
  readonly parent?: ParentLink;
  readonly now: Date;
  /** Makes unique ids (UUIDs); injected to keep the plan pure. */
  readonly newId: () => string;
}

/**
 * Decides everything one orchestration step writes — pure, so every store adapter commits exactly the same thing:
 * the new state (through the status reducer), the history append, activity tasks, timer messages, sub-orchestrations,
 * the result message to a parent, and the restart of a `continueAsNew`.
 */
export function planCommit(input: CommitPlanInput): OrchestrationCommit {
  const { state, step, now } = input;
  const nowIso = now.toISOString();
  let next = step.newEvents.reduce(applyEvent, state);
  const activityTasks: ActivityTask[] = [];
  const messages: OrchestrationMessage[] = [];
  const subInstances: CreateSubInstanceRequest[] = [];

  for (const action of step.actions) {
    switch (action.type) {
      case 'ScheduleTask':
        activityTasks.push({
          id: input.newId(), instanceId: state.instanceId, executionId: state.executionId, name: action.name,
          taskScheduledId: action.eventId, attempt: action.attempt, ...(action.input === undefined ? {} : { input: action.input }),
        });
        break;
      case 'CreateTimer':
        messages.push({
          id: input.newId(), instanceId: state.instanceId, executionId: state.executionId, visibleAt: new Date(action.fireAt),
          event: { type: 'TimerFired', eventId: -1, timestamp: action.fireAt, timerId: action.eventId, fireAt: action.fireAt },
        });
        break;
      case 'CreateSubOrchestration': {
        const executionId = input.newId();
        subInstances.push({
          state: {
            instanceId: action.instanceId, name: action.name, runtimeStatus: 'Pending', createdTime: now, lastUpdatedTime: now,
            parentInstanceId: state.instanceId, executionId, historyLength: 0, version: 1,
            ...(action.input === undefined ? {} : { input: action.input }),
          },
          message: {
            id: input.newId(), instanceId: action.instanceId,
            event: {
              type: 'ExecutionStarted', eventId: -1, timestamp: nowIso, name: action.name, instanceId: action.instanceId,
              executionId, ...(action.input === undefined ? {} : { input: action.input }),
              parentInstance: { instanceId: state.instanceId, name: state.name, taskScheduledId: action.eventId, executionId: state.executionId },
            },
          },
          onConflict: {
            id: input.newId(), instanceId: state.instanceId, executionId: state.executionId,
            event: {
              type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp: nowIso, taskScheduledId: action.eventId,
              failureDetails: {
                errorType: 'InstanceAlreadyExistsError',
                errorMessage: `A sub-orchestration with id ${JSON.stringify(action.instanceId)} is already running`,
              },
            },
          },
        });
        break;
      }
    }
  }

  if (input.parent && next.runtimeStatus !== state.runtimeStatus) {
    const result = parentResult(next, input.parent, nowIso, input.newId);
    if (result) messages.push(result);
  }

  let history: readonly HistoryEvent[] = input.baseHistory ? [...input.baseHistory, ...step.newEvents] : step.newEvents;
  let replaceHistory = input.baseHistory !== undefined;
  if (step.continueAsNew) {
    const executionId = input.newId();
    replaceHistory = true;
    history = [];
    messages.push({
      id: input.newId(), instanceId: state.instanceId,
      event: {
        type: 'ExecutionStarted', eventId: -1, timestamp: nowIso, name: state.name, instanceId: state.instanceId, executionId,
        ...(step.continueAsNew.input === undefined ? {} : { input: step.continueAsNew.input }),
        ...(input.parent ? { parentInstance: input.parent } : {}),
      },
    });
    for (const event of step.continueAsNew.carryOverEvents) {
      messages.push({ id: input.newId(), instanceId: state.instanceId, event });
    }
    next = { ...next, executionId };
  }

  const { customStatus: _c, ...withoutCustomStatus } = next;
  return {
    instanceId: state.instanceId,
    leaseToken: input.leaseToken,
    state: {
      ...withoutCustomStatus,
      ...(step.customStatus === undefined ? {} : { customStatus: step.customStatus }),
      lastUpdatedTime: now,
      version: state.version + 1,
      ...(input.baseHistory ? { historyEpoch: (state.historyEpoch ?? 0) + 1 } : {}),
      historyLength: replaceHistory ? history.length : state.historyLength + history.length,
    },
    history,
    replaceHistory,
    consumedMessageIds: input.consumedMessageIds,
    activityTasks,
    messages,
    subInstances,
  };
}

/**
 * The commit of messages consumed by a terminal instance: their events are recorded in history and ignored
 * (a result that raced a terminate stays visible). The status itself does not change.
 */
export function planIgnoredMessages(
  state: InstanceState, leaseToken: string, messages: readonly OrchestrationMessage[], recorded: readonly HistoryEvent[],
): OrchestrationCommit {
  return {
    instanceId: state.instanceId,
    leaseToken,
    state: { ...state, version: state.version + 1, historyLength: state.historyLength + recorded.length },
    history: recorded,
    replaceHistory: false,
    consumedMessageIds: messages.map((m) => m.id),
    activityTasks: [],
    messages: [],
    subInstances: [],
  };
}

function parentResult(
  next: InstanceState, parent: ParentLink, timestamp: string, newId: () => string,
): OrchestrationMessage | undefined {
  const base = { id: newId(), instanceId: parent.instanceId, ...(parent.executionId ? { executionId: parent.executionId } : {}) };
  switch (next.runtimeStatus) {
    case 'Completed':
      return {
        ...base,
        event: {
          type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp, taskScheduledId: parent.taskScheduledId,
          ...(next.output === undefined ? {} : { result: next.output }),
        },
      };
    case 'Failed':
    case 'Terminated':
      return {
        ...base,
        event: {
          type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp, taskScheduledId: parent.taskScheduledId,
          failureDetails: next.failureDetails ?? {
            errorType: 'Terminated',
            errorMessage: `Sub-orchestration ${JSON.stringify(next.instanceId)} was terminated` +
              (next.output === undefined ? '' : `: ${JSON.stringify(next.output)}`),
          },
        },
      };
    default:
      return undefined;
  }
}
