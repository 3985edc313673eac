import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { ALL_RUNTIME_STATUSES, type OrchestrationRuntimeStatus } from './instance-status.js';

/** Longest accepted instance id, in characters (as Durable Functions). */
export const MAX_INSTANCE_ID_LENGTH = 256;

// Control characters (C0, DEL, C1) and the characters Durable Functions forbids in instance ids.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_ID_CHARACTERS = /[\/\\#?\u0000-\u001f\u007f-\u009f]/;

// In a `u` regex a surrogate pair is one code point, so only a lone (unpaired) surrogate is in category Cs.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Checks that `text` is well-formed UTF-16: no lone surrogate, which no UTF-8 encoding (a URL, a database key, a
 * JSON body) can carry, so two different ids would meet in one key. Throws {@link InvalidArgumentError}.
 */
export function assertWellFormed(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) throw new InvalidArgumentError(`${what} contains a lone surrogate (it is not well-formed Unicode)`);
}

/**
 * Checks an instance id: a non-empty string of at most 256 characters of well-formed Unicode, not starting with
 * `@`, not `.` or `..`, without `/ \ # ?` or control characters. Throws {@link InvalidArgumentError} otherwise.
 * The client, the engine (sub-orchestration ids) and the HTTP API all apply this one rule.
 */
export function assertValidInstanceId(id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new InvalidArgumentError('instance id must be a string');
  if (id.length === 0) throw new InvalidArgumentError('instance id must not be empty');
  assertWellFormed(id, 'instance id');
  if (id.length > MAX_INSTANCE_ID_LENGTH) {
    throw new InvalidArgumentError(`instance id is ${id.length} characters long; the limit is ${MAX_INSTANCE_ID_LENGTH}`);
  }
  if (id.startsWith('@')) throw new InvalidArgumentError('instance id must not start with "@"');
  // URL parsers collapse these path segments, so such an id could not be addressed over the HTTP API.
  if (id === '.' || id === '..') throw new InvalidArgumentError(`instance id must not be ${JSON.stringify(id)}`);
  const bad = FORBIDDEN_ID_CHARACTERS.exec(id);
  if (bad) {
    const shown = bad[0] < ' ' || bad[0] >= '\u007f' ? `U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}` : bad[0];
    throw new InvalidArgumentError(`instance id must not contain ${JSON.stringify(shown)}`);
  }
}

/** Checks a non-empty name (orchestrator, activity or event name) of at most 256 characters of well-formed Unicode. */
export function assertValidName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string`);
  assertWellFormed(name, what);
  if (name.length > MAX_INSTANCE_ID_LENGTH) throw new InvalidArgumentError(`${what} is longer than ${MAX_INSTANCE_ID_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidArgumentError(`${what} must not contain control characters`);
}

/** Checks an optional Date argument. */
export function assertOptionalDate(value: unknown, what: string): asserts value is Date | undefined {
  if (value === undefined) return;
  let valid: boolean;
  try {
    valid = value instanceof Date && !Number.isNaN(value.getTime());
  } catch {
    valid = false; // a proxy or a forged Date
  }
  if (!valid) throw new InvalidArgumentError(`${what} must be a valid Date`);
}

/**
 * Reads the named members of an options argument into a plain snapshot: `undefined` gives `{}`; `null`, a
 * non-object, or an object that throws while being read (a throwing getter, a revoked proxy) gives
 * {@link InvalidArgumentError}. Callers still check each member's type.
 *
 * @example
 * ```ts
 * const { input, instanceId } = readOptions(options, 'startNew options', ['input', 'instanceId']);
 * ```
 */
export function readOptions<K extends string>(options: unknown, what: string, keys: readonly K[]): { readonly [P in K]?: unknown } {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${what} must be an object`);
  const snapshot: { [P in K]?: unknown } = {};
  for (const key of keys) {
    let value: unknown;
    try {
      value = (options as Record<string, unknown>)[key];
    } catch (error) {
      throw new InvalidArgumentError(`${what}.${key} could not be read: reading it threw`, { cause: error });
    }
    if (value !== undefined) snapshot[key] = value;
  }
  return snapshot;
}

/** Checks an optional boolean option. */
export function assertOptionalBoolean(value: unknown, what: string): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidArgumentError(`${what} must be true or false`);
}

/**
 * Checks an optional timeout in milliseconds and returns it, or `fallback` when absent: a number >= 0, or
 * `Infinity` for "no timeout" (wait as long as it takes). NaN, negative numbers and non-numbers give
 * {@link InvalidArgumentError}.
 */
export function resolveTimeoutMs(value: unknown, fallback: number, what = 'timeoutMs'): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a number of milliseconds >= 0 (Infinity: no timeout)`);
  }
  return value;
}

/** The runtime status named `name`; `ignoreCase` matches any case (as the HTTP API's query parameters). */
export function runtimeStatusNamed(name: unknown, ignoreCase = false): OrchestrationRuntimeStatus | undefined {
  if (typeof name !== 'string') return undefined;
  const wanted = ignoreCase ? name.toLowerCase() : name;
  return ALL_RUNTIME_STATUSES.find((status) => (ignoreCase ? status.toLowerCase() : status) === wanted);
}

/** The filters shared by listing, live queries and purging, after {@link validateInstanceFilter}. */
export interface ValidInstanceFilter {
  /** Known statuses, without duplicates; absent or empty means "any status". */
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[];
  readonly createdTimeFrom?: Date;
  readonly createdTimeTo?: Date;
  /** Matched literally. */
  readonly instanceIdPrefix?: string;
}

/** A listing query after {@link validateInstanceQuery}: filters plus paging. */
export interface ValidInstanceQuery extends ValidInstanceFilter {
  readonly pageSize?: number;
  readonly continuationToken?: string;
}

/** A purge filter after {@link validatePurgeFilter}: `createdTimeFrom` is required. */
export interface ValidPurgeFilter {
  readonly createdTimeFrom: Date;
  readonly createdTimeTo?: Date;
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[];
}

/**
 * The one check of instance filters, used by every client, every store (`queryInstances`, `purgeInstances`) and the
 * HTTP API: `runtimeStatus` must be an array of known status names, the times valid Dates, the prefix a
 * well-formed string. Returns a snapshot holding only those members; throws {@link InvalidArgumentError} otherwise.
 * A string `runtimeStatus` is refused, never read as a list of characters.
 *
 * @example
 * ```ts
 * validateInstanceFilter({ runtimeStatus: ['Completed'] }); // ok
 * validateInstanceFilter({ runtimeStatus: 'Completed' });   // throws InvalidArgumentError
 * ```
 */
export function validateInstanceFilter(filter: unknown, what = 'filter'): ValidInstanceFilter {
  const raw = readOptions(filter, what, ['runtimeStatus', 'createdTimeFrom', 'createdTimeTo', 'instanceIdPrefix']);
  const runtimeStatus = raw.runtimeStatus === undefined ? undefined : statusList(raw.runtimeStatus, `${what}.runtimeStatus`);
  assertOptionalDate(raw.createdTimeFrom, `${what}.createdTimeFrom`);
  assertOptionalDate(raw.createdTimeTo, `${what}.createdTimeTo`);
  if (raw.instanceIdPrefix !== undefined) {
    if (typeof raw.instanceIdPrefix !== 'string') throw new InvalidArgumentError(`${what}.instanceIdPrefix must be a string`);
    assertWellFormed(raw.instanceIdPrefix, `${what}.instanceIdPrefix`);
  }
  return {
    ...(runtimeStatus === undefined ? {} : { runtimeStatus }),
    ...(raw.createdTimeFrom === undefined ? {} : { createdTimeFrom: new Date(raw.createdTimeFrom.getTime()) }),
    ...(raw.createdTimeTo === undefined ? {} : { createdTimeTo: new Date(raw.createdTimeTo.getTime()) }),
    ...(raw.instanceIdPrefix === undefined ? {} : { instanceIdPrefix: raw.instanceIdPrefix }),
  };
}

/** {@link validateInstanceFilter} plus paging: `pageSize` a positive integer, `continuationToken` a string. */
export function validateInstanceQuery(query: unknown, what = 'query'): ValidInstanceQuery {
  const filter = validateInstanceFilter(query, what);
  const { pageSize, continuationToken } = readOptions(query, what, ['pageSize', 'continuationToken']);
  if (pageSize !== undefined && (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1)) {
    throw new InvalidArgumentError(`${what}.pageSize must be a positive integer`);
  }
  if (continuationToken !== undefined && typeof continuationToken !== 'string') {
    throw new InvalidArgumentError(`${what}.continuationToken must be a string`);
  }
  return {
    ...filter,
    ...(pageSize === undefined ? {} : { pageSize }),
    ...(continuationToken === undefined ? {} : { continuationToken }),
  };
}

/** {@link validateInstanceFilter} for purges: `createdTimeFrom` is required, and no prefix is accepted. */
export function validatePurgeFilter(filter: unknown, what = 'purge filter'): ValidPurgeFilter {
  if (filter === undefined || filter === null) throw new InvalidArgumentError(`${what} is required (with createdTimeFrom)`);
  const valid = validateInstanceFilter(filter, what);
  if (valid.createdTimeFrom === undefined) throw new InvalidArgumentError(`${what}.createdTimeFrom (a Date) is required`);
  return {
    createdTimeFrom: valid.createdTimeFrom,
    ...(valid.createdTimeTo === undefined ? {} : { createdTimeTo: valid.createdTimeTo }),
    ...(valid.runtimeStatus === undefined ? {} : { runtimeStatus: valid.runtimeStatus }),
  };
}

function statusList(value: unknown, what: string): OrchestrationRuntimeStatus[] {
  let names: unknown[];
  try {
    if (!Array.isArray(value)) throw new InvalidArgumentError(`${what} must be an array of status names`);
    names = Array.from(value as unknown[]);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new InvalidArgumentError(`${what} could not be read: reading it threw`, { cause: error });
  }
  const statuses: OrchestrationRuntimeStatus[] = [];
  for (const name of names) {
    const status = runtimeStatusNamed(name);
    if (status === undefined) {
      throw new InvalidArgumentError(`${what} has an unknown status ${typeof name === 'string' ? JSON.stringify(name) : `of type ${typeof name}`}`);
    }
    if (!statuses.includes(status)) statuses.push(status);
  }
  return statuses;
}
