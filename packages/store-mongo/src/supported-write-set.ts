import { InvalidArgumentError } from '@durable-rx/runtime';
import type { WriteSet } from '@durable-rx/runtime/store-kit';

/**
 * Refuses a write set that asks for what MongoStore does not execute: the fused steps of stores with
 * `capabilities.fusedSteps` (an `activityStep` lease, a `createInstance` or `insertTask` stored already leased).
 * MongoStore does not advertise it, so the worker never sends them; a caller that does anyway gets
 * `InvalidArgumentError` before anything is written. Without this check an `activityStep` lease would be committed
 * without any lease check at all, and a leased start or task would be stored unleased while its writer believes it
 * holds the lease (another worker would run it too). (The `unclaimed` lease of `capabilities.unclaimedWrites`, a
 * client's own terminate, suspend or resume, MongoStore executes: see `unclaimedWriteRefusal`.)
 *
 * @example
 * ```ts
 * assertSupportedWriteSet({ requests: [{ type: 'insertMessage', message, ifMissing: 'fail' }] }); // passes
 * assertSupportedWriteSet({ lease: { kind: 'activityStep', ... }, requests }); // throws InvalidArgumentError
 * ```
 */
export function assertSupportedWriteSet(writeSet: WriteSet): void {
  if (writeSet.lease?.kind === 'activityStep') {
    throw unsupported('fusedSteps', `an activityStep lease (activity task ${JSON.stringify(writeSet.lease.taskId)})`);
  }
  for (const request of writeSet.requests) {
    if (request.type === 'createInstance' && request.lease !== undefined) {
      throw unsupported('fusedSteps', `a createInstance stored with a lease (instance ${JSON.stringify(request.state.instanceId)})`);
    }
    if (request.type === 'insertTask' && request.lease !== undefined) {
      throw unsupported('fusedSteps', `an insertTask stored with a lease (activity task ${JSON.stringify(request.task.id)})`);
    }
  }
}

/** What each capability MongoStore does not advertise would execute. */
const FEATURES = { fusedSteps: 'fused steps' } as const;

/** The refusal of a write set that has `what`, which needs `capability`. */
function unsupported(capability: keyof typeof FEATURES, what: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `MongoStore does not execute ${FEATURES[capability]} (its capabilities.${capability} is not set), but the write set has ${what}; nothing was written`,
  );
}
