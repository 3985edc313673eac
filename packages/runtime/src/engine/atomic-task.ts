import { DurableTask } from './durable-task.js';

/** What an {@link AtomicTask} waits for: kind and name are used in messages (non-determinism, failures). */
export type AtomicTaskKind = 'activity' | 'timer' | 'sub-orchestration' | 'external-event';

/**
 * A task backed by one scheduled action (activity, timer, sub-orchestration) or one external event; the base of
 * `TimerTask` (what `ctx.createTimer` returns).
 */
export class AtomicTask<T = unknown> extends DurableTask<T> {
  constructor(
    /** What the task waits for. */
    readonly kind: AtomicTaskKind,
    /** Activity, orchestrator or event name; `''` for timers. */
    readonly name: string,
    /** The `eventId` of the scheduled action; -1 for external events. */
    readonly eventId: number,
  ) {
    super();
  }
}
