import { DurableError } from './durable-error.js';

/** A store refused a commit because the worker no longer holds the lease on the work item (another worker took it over). */
export class LeaseLostError extends DurableError {
  override readonly name = 'LeaseLostError';
  readonly code = 'lease-lost' as const;
  readonly status = 409 as const;
}
