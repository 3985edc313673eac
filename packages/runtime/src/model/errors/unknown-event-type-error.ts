import { DurableError } from './durable-error.js';

/** A history event or message has a type this version does not know (a corrupt or newer history). Never skipped. */
export class UnknownEventTypeError extends DurableError {
  override readonly name = 'UnknownEventTypeError';
  readonly code = 'unknown-event-type' as const;
  readonly status = 500 as const;
}
