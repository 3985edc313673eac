import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { readHistoryPosition, type HistoryPosition } from '../model/history-position.js';
import type { InstanceTags, OrchestrationRuntimeStatus } from '../model/instance-status.js';
import { assertValidInstanceId, isCount, isTags, readPageSize, runtimeStatusNamed } from '../model/validation.js';

/**
 * Parsers for the HTTP API's path and query parameters. Each returns `undefined` for an absent parameter and throws
 * {@link InvalidArgumentError} (HTTP 400) for a malformed one, naming the parameter.
 */

/**
 * The query parameters of one request, looked up by name in any case, as Durable Functions reads them
 * (`showHistory`, `showhistory` and `SHOWHISTORY` are one parameter): a filter written in another case is applied,
 * never ignored.
 *
 * @example
 * ```ts
 * const params = new QueryParams(new URL('http://h/x?RuntimeStatus=Failed&top=5').searchParams);
 * params.getAll('runtimeStatus'); // ['Failed']
 * params.get('top');              // '5'
 * ```
 */
export class QueryParams {
  /** Values by lower-cased name, in the order given. */
  readonly #values = new Map<string, string[]>();
  /** The parameters as given: {@link knownOnly} reads their names, spelt as sent, only on the routes that ask. */
  readonly #params: URLSearchParams;

  constructor(params: URLSearchParams) {
    this.#params = params;
    for (const [name, value] of params) {
      const key = name.toLowerCase();
      const values = this.#values.get(key);
      if (values) values.push(value);
      else this.#values.set(key, [value]);
    }
  }

  /**
   * The value of the single-valued parameter `name`; `undefined` when absent. A parameter given more than once (in
   * any case) throws {@link InvalidArgumentError}: which of two values was meant is not for the server to guess.
   */
  get(name: string): string | undefined {
    const values = this.#values.get(name.toLowerCase());
    if (values === undefined) return undefined;
    if (values.length > 1) throw new InvalidArgumentError(`${name} is given ${values.length} times; give it once`);
    return values[0];
  }

  /**
   * The value of the single-valued parameter `name` that takes a typed value (a flag, a date, a number, a name from a
   * list), `undefined` when absent or given without a value (`showHistory=`, `top=`): an empty value is the parameter
   * left out, as Durable Functions reads it, so a form or URL template that sends its empty fields asks for the
   * defaults. A string parameter keeps an empty value with {@link get} (`reason=` is an empty reason).
   */
  value(name: string): string | undefined {
    const raw = this.get(name);
    return raw === '' ? undefined : raw;
  }

  /** Every value of the list parameter `name` (e.g. `runtimeStatus`), in the order given. */
  getAll(name: string): readonly string[] {
    return this.#values.get(name.toLowerCase()) ?? [];
  }

  /**
   * Refuses, with {@link InvalidArgumentError} naming it, a parameter that is neither one of `known` (in any case) nor
   * one Durable Functions' clients and host put in any URL ({@link CLIENT_PARAMS}); returns `this`. For routes where an
   * unread parameter would widen what they do for good (a purge by filter): a misspelled filter (`runtimeStatuses`,
   * `createdTimeTo ` with a blank) or axios's array form (`runtimeStatus[]=Failed`, which gets a hint) must not leave
   * the purge without it. Other routes ignore unknown parameters, as Durable Functions does. `refusedLater` names
   * parameters let through here only for the route to refuse them with a message of their own (`instanceIdPrefix` on a
   * purge, which a purge cannot apply): they are left out of the parameters the message says the route knows.
   */
  knownOnly(known: readonly string[], refusedLater: readonly string[] = []): this {
    const names = [...known, ...refusedLater, ...CLIENT_PARAMS].map((name) => name.toLowerCase());
    for (const name of this.#params.keys()) {
      if (names.includes(name.toLowerCase())) continue;
      const list = /^(.*)\[\d*\]$/.exec(name)?.[1];
      throw new InvalidArgumentError(list !== undefined && names.includes(list.toLowerCase())
        ? `${JSON.stringify(name)} is not read: write ${list} without brackets (a list as runtimeStatus=A,B, or the parameter repeated)`
        : `${JSON.stringify(name)} is not a parameter of this route (it knows ${known.join(', ')})`);
    }
    return this;
  }
}

/**
 * The parameters Durable Functions' clients and host may put in the URL of any route: the function key (`code`) and
 * the task hub and connection a Durable Functions app names (`taskHub`, `connection`, and `connectionName`, which its
 * Python client sends). One store serves a handler, so only `code` is read (by the key check).
 */
const CLIENT_PARAMS = ['code', 'taskHub', 'connection', 'connectionName'];

/**
 * The history position of a history stream (`afterExecution` and `afterEvents`, both or neither: see
 * `readHistoryPosition`); `undefined` when absent. `afterEvents` is a count in decimal digits.
 */
export function parseHistoryPosition(params: QueryParams): HistoryPosition | undefined {
  const execution = params.value('afterExecution');
  const events = params.value('afterEvents');
  if (execution === undefined && events === undefined) return undefined;
  return readHistoryPosition({ execution, events: events !== undefined && /^\d{1,15}$/.test(events) ? Number(events) : events }, 'after');
}

/** `true` / `false` (any case); `undefined` when absent or empty. */
export function parseBoolean(params: QueryParams, name: string): boolean | undefined {
  const raw = params.value(name);
  if (raw === undefined) return undefined;
  const lower = raw.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new InvalidArgumentError(`${name} must be true or false`);
}

/**
 * `YYYY-MM-DD`, optionally followed by `THH:mm`, seconds, a fraction and a zone (`Z` or `±HH:mm`). A space may take
 * the place of the `T` (RFC 3339 allows it): Python's `str(datetime)` writes one (`2024-01-01 12:00:00.123000+00:00`),
 * which `requests` sends for a datetime in `params=`, and Durable Functions' `DateTime.TryParse` reads it. A time without a
 * zone is UTC (as are the times Durable Functions stores), whatever the server's time zone. A year of 1 to 3 digits is
 * read as if padded with zeros (`1-01-01` is `0001-01-01`), as Durable Functions pads it: Python's `strftime` writes
 * `datetime.min` without leading zeros on Linux. A year before 0000 or after 9999 is written with a sign and six digits
 * (`+275760-09-13`, `-000001-01-01`), as `Date.prototype.toISOString` writes it: every valid Date a local client takes
 * as a bound, a remote one can send.
 */
const ISO_DATE_TIME = /^(\d{1,4}|[+-]\d{6})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An ISO 8601 date or date-time (see `ISO_DATE_TIME`) that names a real instant: a day that does not exist
 * (`2024-02-30`) or an hour past 23 is refused, never rolled over into another date. Digits below the millisecond
 * (the Python client sends microseconds, .NET 100 ns ticks) are rounded as the bound needs, so that it takes in no
 * instance the exact instant would leave out (instances are created at whole milliseconds): `up` for a lower bound
 * (`createdTimeFrom`: `…00.1230001Z` is `…00.124Z`), `down` for an upper one (`createdTimeTo`).
 */
export function parseDate(params: QueryParams, name: string, round: 'up' | 'down'): Date | undefined {
  const raw = params.value(name);
  if (raw === undefined) return undefined;
  const date = isoDate(raw, round);
  if (!date) {
    throw new InvalidArgumentError(`${name} must be an ISO 8601 date or date-time such as 2024-01-31T12:00:00Z (a + in a zone as %2B)`);
  }
  return date;
}

function isoDate(raw: string, round: 'up' | 'down'): Date | undefined {
  const match = ISO_DATE_TIME.exec(raw);
  // `-000000` is no year (ECMAScript refuses it too): year 0 is `0000` or `+000000`.
  if (!match || match[1] === '-000000') return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone = 'Z'] = match;
  const parts = [Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)] as const;
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  // A later millisecond for a lower bound with a nonzero digit below the millisecond (set after the checks below).
  const extraMs = round === 'up' && /[1-9]/.test(fraction.slice(3)) ? 1 : 0;
  const utc = new Date(0);
  utc.setUTCFullYear(parts[0], parts[1], parts[2]); // not Date.UTC, which reads years 0-99 as 1900-1999
  utc.setUTCHours(parts[3], parts[4], parts[5], ms);
  const exact = utc.getUTCFullYear() === parts[0] && utc.getUTCMonth() === parts[1] && utc.getUTCDate() === parts[2]
    && utc.getUTCHours() === parts[3] && utc.getUTCMinutes() === parts[4] && utc.getUTCSeconds() === parts[5];
  if (!exact) return undefined;
  let offsetMs = 0;
  if (zone.toUpperCase() !== 'Z') {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetMinutes = Number(zone.slice(-2));
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offsetMs = (zone[0] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  const date = new Date(utc.getTime() + extraMs - offsetMs);
  // An offset or a rounded-up fraction can move the first or last day Dates hold out of their range.
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * When a start may begin (the start route's `startAt`, durable-rx's own): an ISO 8601 date-time with its time and a
 * zone (`2026-12-24T18:00:00Z`, `2026-12-24T19:00:00+01:00`), read as {@link parseDate} reads one, digits below the
 * millisecond rounded up (a start never begins before the time asked). Stricter than a list filter: a date alone or a
 * time without a zone, whose instant depends on the sender's time zone, is refused. `undefined` when absent or empty.
 *
 * @example
 * ```ts
 * parseStartTime(new QueryParams(new URLSearchParams('startAt=2026-12-24T18:00:00Z')), 'startAt'); // 2026-12-24T18:00:00.000Z
 * parseStartTime(new QueryParams(new URLSearchParams('startAt=2026-12-24')), 'startAt'); // throws InvalidArgumentError
 * ```
 */
export function parseStartTime(params: QueryParams, name: string): Date | undefined {
  const raw = params.value(name);
  if (raw === undefined) return undefined;
  const match = ISO_DATE_TIME.exec(raw);
  const date = match && match[4] !== undefined && match[8] !== undefined ? isoDate(raw, 'up') : undefined;
  if (!date) {
    throw new InvalidArgumentError(`${name} must be an ISO 8601 date-time with a zone such as 2026-12-24T18:00:00Z (a + in a zone as %2B)`);
  }
  return date;
}

/**
 * Tags in a query parameter (the start route's `tags`, durable-rx's own): a JSON object of string keys and string values,
 * checked as `StartNewOptions.tags` is (`isTags`). JSON, so that any key (`a=b`, `a,b`, `__proto__`) travels as it is.
 * `undefined` when absent, empty, or `{}`; anything else is refused with {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * parseTags(new QueryParams(new URLSearchParams('tags={"tenant":"acme"}')), 'tags'); // { tenant: 'acme' }
 * parseTags(new QueryParams(new URLSearchParams('tags=tenant:acme')), 'tags');       // throws InvalidArgumentError
 * ```
 */
export function parseTags(params: QueryParams, name: string): InstanceTags | undefined {
  const raw = params.value(name);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new InvalidArgumentError(`${name} must be a JSON object of string keys and string values, such as {"tenant":"acme"}`, { cause: error });
  }
  return isTags(value, name);
}

/** A decimal number >= 0 (`30`, `0.5`): no sign, exponent, hex or blanks; `undefined` when absent or empty. */
export function parseNonNegativeNumber(params: QueryParams, name: string): number | undefined {
  const raw = params.value(name);
  if (raw === undefined) return undefined;
  if (!/^(?:\d{1,15}(?:\.\d{0,9})?|\.\d{1,9})$/.test(raw)) throw new InvalidArgumentError(`${name} must be a decimal number >= 0`);
  return Number(raw);
}

/** Statuses of the Durable Functions client's enum that durable-rx never gives an instance. */
const FOREIGN_RUNTIME_STATUSES: readonly string[] = ['Canceled'];

/**
 * `runtimeStatus=Running,Pending` (also repeated parameters); names are matched case-insensitively. Every status of
 * the Durable Functions client's enum is accepted: one that durable-rx never gives an instance (`Canceled`) matches
 * nothing, so a filter of only such statuses gives `[]`, which callers must treat as "matches nothing". `undefined`
 * when absent or empty (no filter).
 */
export function parseRuntimeStatuses(params: QueryParams, name: string): OrchestrationRuntimeStatus[] | undefined {
  const raw = params.getAll(name);
  const statuses: OrchestrationRuntimeStatus[] = [];
  let named = false;
  for (const part of raw.flatMap((value) => value.split(','))) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    named = true;
    const status = runtimeStatusNamed(trimmed, true);
    if (status) {
      if (!statuses.includes(status)) statuses.push(status);
    } else if (!FOREIGN_RUNTIME_STATUSES.some((s) => s.toLowerCase() === trimmed.toLowerCase())) {
      throw new InvalidArgumentError(`${name} has an unknown status ${JSON.stringify(trimmed)}`);
    }
  }
  return named ? statuses : undefined;
}

/**
 * `top`: a positive integer page size in decimal digits, taken as the clients take `pageSize` (`readPageSize`): as in
 * Durable Functions, a page may hold fewer instances than asked (at most `MAX_PAGE_SIZE`), with a continuation token
 * for the rest.
 */
export function parseTop(params: QueryParams, name: string): number | undefined {
  const raw = params.value(name);
  if (raw === undefined) return undefined;
  return readPageSize(/^\d{1,15}$/.test(raw) ? Number(raw) : raw, name);
}

/** A positive integer in decimal digits (`limit`), as the clients' `isCount` takes it; `undefined` when absent or empty. */
export function parseCount(params: QueryParams, name: string): number | undefined {
  const raw = params.value(name);
  if (raw === undefined) return undefined;
  return isCount(/^\d{1,15}$/.test(raw) ? Number(raw) : raw, name);
}

/** A string parameter, as given. */
export function parseString(params: QueryParams, name: string): string | undefined {
  return params.get(name);
}

/**
 * An instance id taken from a URL path or a subscription: checked by the one rule the clients and stores apply
 * (`assertValidInstanceId`, which also refuses `.` and `..`, the dot segments URL parsers remove).
 */
export function parseInstanceIdSegment(id: string): string {
  assertValidInstanceId(id);
  return id;
}
