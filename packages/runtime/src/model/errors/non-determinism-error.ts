import { DurableError } from './durable-error.js';

/**
 * A replay scheduled different work than the history recorded. The message names the expected and the actual action,
 * or what the replay did instead (`replay threw TypeError: ...`, with the first line of the thrown message cut to a few
 * hundred characters; `replay returned`); an error the orchestrator threw is its `cause`, whole, and its stack follows
 * the error's own (`Caused by: ...` in `stack`, the message cut so too, and so in the instance's
 * `failureDetails.stackTrace`).
 */
export class NonDeterminismError extends DurableError {
  override readonly name = 'NonDeterminismError';
  readonly code = 'non-determinism' as const;
  readonly status = 500 as const;
}
