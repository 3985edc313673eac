import { DurableError } from './durable-error.js';

/** An orchestrator broke the programming model, e.g. yielded something that is not a task. */
export class OrchestrationError extends DurableError {
  override readonly name = 'OrchestrationError';
  readonly code = 'orchestration-error' as const;
  readonly status = 500 as const;
}
