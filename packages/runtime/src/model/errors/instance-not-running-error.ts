import { DurableError } from './durable-error.js';

/** The instance is terminal (Completed, Failed or Terminated) and cannot take the command (HTTP 410). */
export class InstanceNotRunningError extends DurableError {
  override readonly name = 'InstanceNotRunningError';
  readonly code = 'instance-not-running' as const;
  readonly status = 410 as const;
}
