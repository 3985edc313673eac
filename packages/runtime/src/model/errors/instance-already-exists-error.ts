import { DurableError } from './durable-error.js';

/** An instance with the id exists and is Pending, Running, ContinuedAsNew or Suspended (HTTP 409). */
export class InstanceAlreadyExistsError extends DurableError {
  override readonly name = 'InstanceAlreadyExistsError';
  readonly code = 'instance-already-exists' as const;
  readonly status = 409 as const;
}
