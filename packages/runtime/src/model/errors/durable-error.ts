/** Options accepted by every {@link DurableError}. */
export interface DurableErrorOptions {
  /** The underlying error (a driver error, the failure thrown by an activity, ...). */
  readonly cause?: unknown;
}

/**
 * Base class of every error durable-rx throws on purpose. Each subclass has a stable machine-readable `code` and the
 * HTTP `status` it maps to, so callers (and the HTTP API) switch on `code`, never on messages.
 *
 * @example
 * ```ts
 * import { isDurableError, type DurableClient } from '@durable-rx/runtime';
 *
 * async function cancel(client: DurableClient, id: string): Promise<void> {
 *   try {
 *     await client.terminate(id, 'cancelled by the user');
 *   } catch (error) {
 *     // No such instance (404), or it has ended already (410): nothing to cancel. Switch on `code`, never on messages.
 *     if (isDurableError(error) && (error.code === 'instance-not-found' || error.code === 'instance-not-running')) return;
 *     throw error;
 *   }
 * }
 * ```
 */
export abstract class DurableError extends Error {
  /** Stable identifier of the error kind, e.g. `'instance-not-found'`. */
  abstract readonly code: string;
  /** HTTP status code this error maps to. */
  abstract readonly status: number;

  constructor(message: string, options?: DurableErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    // A fallback for subclasses outside this repository. Ours declare `name` as a string: minifiers rename classes,
    // so in a production bundle `new.target.name` would be a one-letter variable name.
    this.name = new.target.name;
  }
}

/** True when `value` is a {@link DurableError} (works across realms by checking the shape too). */
export function isDurableError(value: unknown): value is DurableError {
  return (
    value instanceof DurableError ||
    (value instanceof Error && typeof (value as { code?: unknown }).code === 'string' &&
      typeof (value as { status?: unknown }).status === 'number')
  );
}
