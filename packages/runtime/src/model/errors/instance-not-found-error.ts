import { DurableError } from './durable-error.js';

/** No instance has the given id (HTTP 404). */
export class InstanceNotFoundError extends DurableError {
  override readonly name = 'InstanceNotFoundError';
  readonly code = 'instance-not-found' as const;
  readonly status = 404 as const;
}
