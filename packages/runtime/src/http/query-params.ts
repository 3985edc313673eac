import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import type { OrchestrationRuntimeStatus } from '../model/instance-status.js';
import { assertValidInstanceId, runtimeStatusNamed } from '../model/validation.js';

/**
 * Parsers for the HTTP API's path and query parameters. Each returns `undefined` for an absent parameter and throws
 * {@link InvalidArgumentError} (HTTP 400) for a malformed one, naming the parameter.
 */

/** `true` / `false` (any case); `undefined` when absent. */
export function parseBoolean(params: URLSearchParams, name: string): boolean | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const lower = raw.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new InvalidArgumentError(`${name} must be true or false`);
}

/** An ISO 8601 date-time (at least `YYYY-MM-DD`). */
export function parseDate(params: URLSearchParams, name: string): Date | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}/.test(raw) ? new Date(raw) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new InvalidArgumentError(`${name} must be an ISO 8601 date`);
  return date;
}

/** A finite number >= 0. */
export function parseNonNegativeNumber(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${name} must be a number >= 0`);
  return value;
}

/** A positive integer. */
export function parsePositiveInteger(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
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
export function parseRuntimeStatuses(params: URLSearchParams, name: string): OrchestrationRuntimeStatus[] | undefined {
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
 * `top`: a positive integer page size. As in Durable Functions, a page may hold fewer instances than asked (at most
 * `max`), with a continuation token for the rest.
 */
export function parseTop(params: URLSearchParams, name: string, max: number): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return Math.min(Number(raw), max);
}

/** A string parameter, as given. */
export function parseString(params: URLSearchParams, name: string): string | undefined {
  return params.get(name) ?? undefined;
}

/**
 * An instance id taken from a URL path: a valid instance id (see `assertValidInstanceId`) that is also not `.` or
 * `..`, which URL parsers remove as dot segments, so such an id could never be addressed consistently.
 */
export function parseInstanceIdSegment(id: string): string {
  assertValidInstanceId(id);
  if (id === '.' || id === '..') throw new InvalidArgumentError('instance id must not be "." or ".." over HTTP');
  return id;
}
