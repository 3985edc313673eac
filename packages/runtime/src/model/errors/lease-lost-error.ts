import { DurableError, type DurableErrorOptions } from './durable-error.js';

/** A store refused a commit because the worker no longer holds the lease on the work item (another worker took it over). */
export class LeaseLostError extends DurableError {
  override readonly name = 'LeaseLostError';
  readonly code = 'lease-lost' as const;
  readonly status = 409 as const;
  /**
   * On the refusal of a write decided without a lease (a client's own suspend or resume) while a worker's claim holds
   * the instance: the last suspend or resume that claim took, which its step commits first (store-kit's
   * `unclaimedRefusal`). Absent when the claim took neither, or the refusal has another cause.
   */
  readonly claimedCommand?: 'suspend' | 'resume';

  /** `options.claimedCommand`: see {@link LeaseLostError.claimedCommand}. */
  constructor(message: string, options?: DurableErrorOptions & { readonly claimedCommand?: 'suspend' | 'resume' | undefined }) {
    super(message, options);
    if (options?.claimedCommand !== undefined) this.claimedCommand = options.claimedCommand;
  }
}
