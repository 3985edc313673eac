import { DurableError } from './durable-error.js';

/** The command needs a terminal (or, for rewind, a Failed) instance but the instance is still active (HTTP 409). */
export class InstanceNotTerminalError extends DurableError {
  override readonly name = 'InstanceNotTerminalError';
  readonly code = 'instance-not-terminal' as const;
  readonly status = 409 as const;
}
