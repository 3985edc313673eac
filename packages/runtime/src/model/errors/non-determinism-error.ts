import { DurableError } from './durable-error.js';

/** A replay scheduled different work than the history recorded. The message names the expected and the actual action. */
export class NonDeterminismError extends DurableError {
  override readonly name = 'NonDeterminismError';
  readonly code = 'non-determinism' as const;
  readonly status = 500 as const;
}
