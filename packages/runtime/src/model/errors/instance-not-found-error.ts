import { DurableError } from './durable-error.js';

/** No instance has the given id (HTTP 404). */
export class InstanceNotFoundError extends DurableError {
  override readonly name = 'InstanceNotFoundError';
  readonly code = 'instance-not-found' as const;
  readonly status = 404 as const;
}

/** The error for an unknown instance id, in the one wording every client, store plan and route uses. */
export function instanceNotFound(instanceId: string): InstanceNotFoundError {
  return new InstanceNotFoundError(`No instance with id ${JSON.stringify(instanceId)}`);
}
