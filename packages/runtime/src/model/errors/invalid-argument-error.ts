import { DurableError } from './durable-error.js';

/** An argument was invalid: a malformed id, non-JSON input, an unknown orchestrator name, ... (HTTP 400). */
export class InvalidArgumentError extends DurableError {
  override readonly name = 'InvalidArgumentError';
  readonly code = 'invalid-argument' as const;
  readonly status = 400 as const;
}
