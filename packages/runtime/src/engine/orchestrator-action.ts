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

/**
 * How a scheduling shows in non-determinism messages: the call that made it, from the action a replay created or from
 * the history event that recorded one (the two compare equal when they describe the same call).
 */
export function describeCall(call: OrchestratorAction | TaskScheduledEvent | TimerCreatedEvent | SubOrchestrationInstanceCreatedEvent): string {
  switch (call.type) {
    case 'ScheduleTask':
    case 'TaskScheduled':
      return `callActivity(${JSON.stringify(call.name)})`;
    case 'CreateTimer':
    case 'TimerCreated':
      return 'createTimer()';
    case 'CreateSubOrchestration':
    case 'SubOrchestrationInstanceCreated':
      return `callSubOrchestrator(${JSON.stringify(call.name)}, instanceId ${JSON.stringify(call.instanceId)})`;
    default:
      return assertNever(call);
  }
}
