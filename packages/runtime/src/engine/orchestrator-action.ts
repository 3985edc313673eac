import {
  assertNever, type SubOrchestrationInstanceCreatedEvent, type TaskScheduledEvent, type TimerCreatedEvent,
} from '../model/history-event.js';
import type { JsonValue } from '../model/json.js';

/** Work an orchestrator step asks for. The worker turns actions into store writes (see `engine/decide-step.ts`). */
export type OrchestratorAction =
  | { readonly type: 'ScheduleTask'; readonly eventId: number; readonly name: string; readonly input?: JsonValue; readonly attempt: number }
  | { readonly type: 'CreateTimer'; readonly eventId: number; readonly fireAt: string }
  | {
      readonly type: 'CreateSubOrchestration';
      readonly eventId: number;
      readonly name: string;
      readonly instanceId: string;
      readonly input?: JsonValue;
    };

/** Human-readable description of an action, used in non-determinism messages. */
export function describeAction(action: OrchestratorAction): string {
  switch (action.type) {
    case 'ScheduleTask':
      return `callActivity(${JSON.stringify(action.name)})`;
    case 'CreateTimer':
      return 'createTimer()';
    case 'CreateSubOrchestration':
      return `callSubOrchestrator(${JSON.stringify(action.name)}, instanceId ${JSON.stringify(action.instanceId)})`;
    default:
      return assertNever(action, 'orchestrator action');
  }
}

/** The action a scheduling event of history records (inputs left out: replay compares kind, name and id only). */
export function recordedAction(event: TaskScheduledEvent | TimerCreatedEvent | SubOrchestrationInstanceCreatedEvent): OrchestratorAction {
  switch (event.type) {
    case 'TaskScheduled':
      return { type: 'ScheduleTask', eventId: event.eventId, name: event.name, attempt: 1 };
    case 'TimerCreated':
      return { type: 'CreateTimer', eventId: event.eventId, fireAt: event.fireAt };
    case 'SubOrchestrationInstanceCreated':
      return { type: 'CreateSubOrchestration', eventId: event.eventId, name: event.name, instanceId: event.instanceId };
    default:
      return assertNever(event, 'scheduling event');
  }
}
