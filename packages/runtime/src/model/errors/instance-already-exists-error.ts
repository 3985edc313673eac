import { DurableError } from './durable-error.js';

/** An instance with the id exists and is Pending, Running, ContinuedAsNew or Suspended (HTTP 409). */
export class InstanceAlreadyExistsError extends DurableError {
  readonly code = 'instance-already-exists' as const;
  readonly status = 409 as const;
}
