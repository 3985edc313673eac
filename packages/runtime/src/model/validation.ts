import { InvalidArgumentError } from './errors/invalid-argument-error.js';

/** Longest accepted instance id, in characters (as Durable Functions). */
export const MAX_INSTANCE_ID_LENGTH = 256;

// Control characters (C0, DEL, C1) and the characters Durable Functions forbids in instance ids.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_ID_CHARACTERS = /[\/\\#?\u0000-\u001f\u007f-\u009f]/;

/**
 * Checks an instance id: a non-empty string of at most 256 characters, not starting with `@`, not `.` or `..`,
 * without `/ \ # ?` or control characters. Throws {@link InvalidArgumentError} otherwise.
 */
export function assertValidInstanceId(id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new InvalidArgumentError('instance id must be a string');
  if (id.length === 0) throw new InvalidArgumentError('instance id must not be empty');
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

/** Checks a non-empty name (orchestrator, activity or event name) of at most 256 characters. */
export function assertValidName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string`);
  if (name.length > MAX_INSTANCE_ID_LENGTH) throw new InvalidArgumentError(`${what} is longer than ${MAX_INSTANCE_ID_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidArgumentError(`${what} must not contain control characters`);
}

/** Checks an optional Date argument. */
export function assertOptionalDate(value: unknown, what: string): asserts value is Date | undefined {
  if (value === undefined) return;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new InvalidArgumentError(`${what} must be a valid Date`);
}
