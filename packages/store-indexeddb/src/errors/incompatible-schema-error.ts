import { DurableError } from '@durable-rx/runtime';

/**
 * The database was written by a schema version this code cannot read (a newer version of the app, or another
 * library using the same database name) (HTTP 409). Nothing was written to it.
 *
 * @example
 * ```ts
 * await store.getInstance(id).catch((e) => { if (e.code === 'incompatible-schema') askToUpdateTheApp(); });
 * ```
 */
export class IncompatibleSchemaError extends DurableError {
  override readonly name = 'IncompatibleSchemaError';
  readonly code = 'incompatible-schema' as const;
  readonly status = 409 as const;
}
