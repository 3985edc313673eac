import { DurableError } from './durable-error.js';

/** A value exceeds its configured size limit, e.g. custom status (HTTP 413). */
export class PayloadTooLargeError extends DurableError {
  override readonly name = 'PayloadTooLargeError';
  readonly code = 'payload-too-large' as const;
  readonly status = 413 as const;
}
