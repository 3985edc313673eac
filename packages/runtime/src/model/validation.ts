import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import {
  ALL_RUNTIME_STATUSES, MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH, MAX_TAGS, MAX_TAGS_BYTES, type InstanceTags, type OrchestrationRuntimeStatus,
} from './instance-status.js';
import type { StartIfExists } from './write-set.js';

/** Longest accepted instance id, in characters (as Durable Functions). */
export const MAX_INSTANCE_ID_LENGTH = 256;

/** Largest page a listing gives: a larger `pageSize` (or the HTTP API's `top`) is taken as this one ({@link readPageSize}). */
export const MAX_PAGE_SIZE = 1000;

// Control characters (C0, DEL, C1) and the characters Durable Functions forbids in instance ids.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_ID_CHARACTERS = /[\/\\#?\u0000-\u001f\u007f-\u009f]/;

// In a `u` regex a surrogate pair is one code point, so only a lone (unpaired) surrogate is in category Cs.
const LONE_SURROGATE = /\p{Cs}/u;

// A constant: a regex literal in a function body is a new RegExp object every time it runs (names are checked on
// every raise and every replayed wait).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** Throws {@link InvalidArgumentError} with the message `<what> <problem>`. */
export function invalid(what: string, problem: string, cause?: unknown): never {
  throw new InvalidArgumentError(`${what} ${problem}`, { cause });
}

/**
 * Whether `value` is a Date that holds a time: not an Invalid Date, which every comparison treats as no time at all
 * (a message never visible, a lease never live). The one check of a time read from a `Clock` or handed to a store.
 */
export function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/**
 * The reading of `clock`, or a `RangeError` (`<whose> returned no valid Date`, the class Date itself throws for one)
 * when it is no valid Date: a custom `Clock` gone wrong, a fault of the process that reads it, not of any caller's
 * argument. So no `DurableError`: the HTTP API answers it as an unexpected failure (500 `internal`, logged) rather
 * than 400 `invalid-argument`, and a worker never takes it for a store refusing a write for good (a 400).
 */
export function readClock(clock: { now(): Date }, whose: string): Date {
  const now = clock.now();
  if (!isValidDate(now)) throw new RangeError(`${whose} returned no valid Date`);
  return now;
}

/**
 * Checks that `text` is well-formed UTF-16: no lone surrogate, which no UTF-8 encoding (a URL, a database key, a
 * JSON body) can carry, so two different ids would meet in one key. Throws {@link InvalidArgumentError}.
 */
export function assertWellFormed(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) invalid(what, 'has a lone surrogate');
}

/**
 * Checks an instance id: a non-empty string of at most 256 characters of well-formed Unicode, not starting with
 * `@`, not `.` or `..`, without `/ \ # ?` or control characters. Throws {@link InvalidArgumentError} otherwise.
 * The client, the engine (sub-orchestration ids) and the HTTP API all apply this one rule; `what` names the id in the
 * message (an options member names itself by its path: `startNew options.instanceId`).
 */
export function assertValidInstanceId(id: unknown, what = 'instance id'): asserts id is string {
  assertValidName(id, what);
  if (id[0] === '@' || FORBIDDEN_ID_CHARACTERS.test(id)) {
    invalid(what, `${JSON.stringify(id)} is not allowed: no leading @, no . or .., no / \\ # ? or control characters`);
  }
}

/**
 * Checks a non-empty name (orchestrator, activity or event name) of at most 256 characters (`max`) of well-formed
 * Unicode, without control characters, and not `.` or `..`: URL parsers collapse those path segments, so no URL of the
 * HTTP API could carry such a name (or id) and a remote client could not start or raise what a local one can.
 */
export function assertValidName(name: unknown, what: string, max = MAX_INSTANCE_ID_LENGTH): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > max) {
    invalid(what, `must be a string of 1 to ${max} characters`);
  }
  assertWellFormed(name, what);
  if (CONTROL_CHARACTER.test(name)) invalid(what, 'has a control character');
  if (name === '.' || name === '..') invalid(what, 'cannot be . or ..');
}

/**
 * `text` parsed as an absolute URL; throws {@link InvalidArgumentError} (`<what> "<text>" is not an absolute URL`) for
 * anything else, a non-string included.
 *
 * @example
 * ```ts
 * absoluteUrl('https://api.example.com/x', 'baseUrl').origin; // 'https://api.example.com'
 * absoluteUrl('/x', 'baseUrl'); // throws InvalidArgumentError
 * ```
 */
export function absoluteUrl(text: unknown, what: string): URL {
  try {
    if (typeof text === 'string') return new URL(text);
  } catch {
    // refused below
  }
  return invalid(what, `${JSON.stringify(text)} is not an absolute URL`);
}

/**
 * `text` as the base of the HTTP API's URLs: an absolute `http:` or `https:` URL without query, fragment or
 * credentials, given back as origin and path only, in their ASCII form (the host in punycode, the path
 * percent-encoded), so that every URL built on it is ASCII, as Durable Functions' (built from a `Uri`) are, and can go
 * into a `Location` header. Anything else throws {@link InvalidArgumentError}: a query or fragment would end up in the
 * middle of every URL built on it. Every surface that takes a `baseUrl` (the handler's option, the payload and
 * check-status helpers, the remote client) reads it through this.
 *
 * @example
 * ```ts
 * httpBaseUrl('https://例え.jp/api/', 'baseUrl'); // 'https://xn--r8jz45g.jp/api/'
 * httpBaseUrl('https://x.test/?q=1', 'baseUrl'); // throws InvalidArgumentError
 * ```
 */
export function httpBaseUrl(text: unknown, what: string): string {
  const url = absoluteUrl(text, what);
  const base = url.origin + url.pathname;
  // The URL is its origin and path only when it has no query, fragment (even empty) or credentials.
  if (!/^https?:/.test(base) || base !== url.href) {
    invalid(what, `${JSON.stringify(text)} is not an http(s) URL without query, fragment or credentials`);
  }
  return base;
}

/**
 * The base of check-status URLs when no `baseUrl` is given: the http(s) origin of the request's URL. A request on
 * another scheme (a handler in process under `app://`: Electron, Tauri, Capacitor) has none: refused with
 * {@link InvalidArgumentError} naming `option`, the base to set, so that a caller can refuse it before acting (the
 * HTTP handler; the client's check-status helpers keep their bytes and refuse the origin `"null"` as a `baseUrl`).
 *
 * @example
 * ```ts
 * requestBase(new URL('https://x.test/api/start'), "the handler's baseUrl option"); // 'https://x.test'
 * requestBase(new URL('app://bundle/start'), "the handler's baseUrl option");       // throws InvalidArgumentError
 * ```
 */
export function requestBase(url: URL, option: string): string {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    invalid(option, `is required: the request URL's scheme ${JSON.stringify(url.protocol)} has no http(s) origin to build the check-status URLs on (set it to the public http(s) address of this API)`);
  }
  return url.origin; // an http(s) origin is ASCII already (punycode host) and has no credentials: nothing to check again
}

/**
 * `path` without its trailing slashes, its first character always kept (`'/'` stays `'/'`). A loop over character
 * codes: a regular expression such as `/(.)\/+$/` backtracks over every run of slashes not at the end, quadratic in a
 * request path of thousands of slashes (any caller can send one, before any key is checked).
 */
export function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  return end === path.length ? path : path.slice(0, end);
}

/** The members of a `Store` that {@link assertStore} checks, besides `capabilities` (always): feeds and methods. */
export interface StoreMembers {
  /** Observables, checked for `subscribe`. */
  readonly feeds: readonly string[];
  /** Functions. */
  readonly methods: readonly string[];
}

/**
 * The members every `Store` has, which a runtime (its worker and its client) uses: the port's optional members
 * (`getInstanceHistory`, `instanceChanges$`, `resync$`) are left out.
 */
const RUNTIME_STORE_MEMBERS: StoreMembers = {
  feeds: ['changes$', 'workAvailable$'],
  methods: [
    'commit', 'claimOrchestration', 'abandonOrchestration', 'claimActivity', 'abandonActivity', 'releaseOwner', 'renewActivityLease',
    'getInstance', 'getHistory', 'queryInstances', 'purgeInstance', 'purgeInstances', 'purgeInstanceSet', 'nextWakeTime',
    'close',
  ],
};

/**
 * The members of a `Store` that a client alone (`createClient`) uses: no claims, leases, wake times or `close`, so an
 * adapter that only reads and commits commands serves it. `CreateClientOptions.store`'s type names the same ones.
 */
export const CLIENT_STORE_MEMBERS = {
  feeds: ['changes$'],
  methods: ['commit', 'getInstance', 'getHistory', 'queryInstances', 'purgeInstance', 'purgeInstances', 'purgeInstanceSet'],
} as const satisfies StoreMembers;

/**
 * Checks the `store` of `createRuntime` and `createClient` (`what` names it): an object with the required members of
 * the `Store` port that its user needs (`members`: {@link RUNTIME_STORE_MEMBERS} by default, a client's
 * {@link CLIENT_STORE_MEMBERS}), its own or inherited (a class's): `capabilities` an object, the feeds observables
 * (with `subscribe`), and a function for each method. Anything else is an {@link InvalidArgumentError} naming what is
 * missing (`createClient options.store must be a Store: missing capabilities, changes$, ...`), or the read that
 * threw, when the runtime or client is created, not a `TypeError` at its first call.
 */
export function assertStore(store: unknown, what: string, members: StoreMembers = RUNTIME_STORE_MEMBERS): void {
  if (store === null || typeof store !== 'object') invalid(what, 'must be a Store');
  let missing: readonly string[];
  try {
    const member = (name: string): unknown => (store as Record<string, unknown>)[name];
    const capabilities = member('capabilities');
    missing = [
      ...(capabilities !== null && typeof capabilities === 'object' ? [] : ['capabilities']),
      ...members.feeds.filter((feed) => missingMethods(member(feed), ['subscribe']).length > 0),
      ...missingMethods(store, members.methods),
    ];
  } catch (error) {
    invalid(what, 'threw when read', error); // a getter that throws, a revoked proxy
  }
  if (missing.length > 0) invalid(what, `must be a Store: missing ${missing.join(', ')}`);
}

/**
 * Checks an injected dependency of `createRuntime`, `createClient` or `createHttpHandler` (`what` names it: `clock`,
 * `logger`, the handler's client): an object with a function for each of `methods` (its own or inherited, as a
 * class's). Anything else is an {@link InvalidArgumentError} when the runtime, client or handler is created, not a
 * `TypeError` at its first use (or a 500 on every request).
 *
 * @example
 * ```ts
 * assertMethods(console, 'logger', LOGGER_METHODS); // ok
 * assertMethods(5, 'logger', LOGGER_METHODS);       // throws InvalidArgumentError
 * ```
 */
export function assertMethods(value: unknown, what: string, methods: readonly string[]): void {
  if (missingMethods(value, methods).length > 0) invalid(what, `must be an object with the methods ${methods.join(', ')}`);
}

/** The names among `methods` that are no function of `value` (its own or inherited); all of them when it is no object. */
function missingMethods(value: unknown, methods: readonly string[]): readonly string[] {
  const object = (value !== null && typeof value === 'object') || typeof value === 'function';
  return object ? methods.filter((method) => typeof (value as Record<string, unknown>)[method] !== 'function') : methods;
}

/** The methods of a `Clock`, for {@link assertMethods}. */
export const CLOCK_METHODS = ['now', 'setTimeout', 'clearTimeout'] as const;

/** The methods of a `Logger`, for {@link assertMethods}. */
export const LOGGER_METHODS = ['warn', 'error'] as const;

/**
 * Checks the injected environment among `options` (`what`: `createRuntime options`) when given: `clock` a Clock,
 * `newId` a function, `logger` a Logger (`null` is no logger given, as `??` reads it). Throws
 * {@link InvalidArgumentError} naming the member.
 */
export function checkDependencies(options: { readonly clock?: unknown; readonly newId?: unknown; readonly logger?: unknown }, what: string): void {
  const { clock, newId, logger } = options;
  if (clock !== undefined) assertMethods(clock, `${what}.clock`, CLOCK_METHODS);
  if (newId !== undefined && typeof newId !== 'function') invalid(`${what}.newId`, 'must be a function');
  if (logger !== undefined && logger !== null) assertMethods(logger, `${what}.logger`, LOGGER_METHODS);
}

/** Checks an optional Date argument: {@link isDate} when present. */
export function assertOptionalDate(value: unknown, what: string): asserts value is Date | undefined {
  if (value !== undefined) isDate(value, what);
}

/**
 * Reads the named members of an options argument into a plain snapshot: `undefined` gives `{}`; `null`, a
 * non-object, or an object that throws while being read (a throwing getter, a revoked proxy) gives
 * {@link InvalidArgumentError}, and so does a member not in `keys` ({@link readChecked}). Callers still check each
 * member's type. ({@link readChecked} with checks that pass every value: the pages read their options through that one.)
 *
 * @example
 * ```ts
 * const { input, instanceId } = readOptions(options, 'startNew options', ['input', 'instanceId']);
 * ```
 */
export function readOptions<K extends string>(options: unknown, what: string, keys: readonly K[]): { readonly [P in K]?: unknown } {
  return readChecked(options, what, Object.fromEntries(keys.map((key) => [key, taken]))) as { [P in K]?: unknown };
}

/**
 * Checks one member of an options argument read by {@link readChecked}: returns the member's value as the caller keeps
 * it, or throws {@link InvalidArgumentError} naming `what` (e.g. `query.pageSize`). Called only for members present.
 */
export type MemberCheck<T = unknown> = (value: unknown, what: string) => T;

/**
 * {@link readOptions} for the members named by `checks`, each then checked (and normalised) by its own check: the
 * one table-driven reading of every options argument and filter. Absent members stay absent. A member `checks` does
 * not name is refused, before any is read, even when it is `undefined` (a typo is a typo), with
 * {@link InvalidArgumentError} naming it and the members taken (`startNew options.inptu is not known: accepted are
 * input, ...`); a member checked by a rule of its own is named with {@link taken}. The one place of that rule.
 *
 * @example
 * ```ts
 * readChecked({ showInput: false }, 'getStatus options', { showInput: isBoolean }); // { showInput: false }
 * readChecked({ showInput: 'no' }, 'getStatus options', { showInput: isBoolean }); // throws InvalidArgumentError
 * ```
 */
export function readChecked<C extends Readonly<Record<string, MemberCheck>>>(
  options: unknown, what: string, checks: C,
): { -readonly [K in keyof C]?: ReturnType<C[K]> } {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') invalid(what, 'must be an object');
  // A member it does not know (a typo: `inptu`) is refused, `undefined`-valued too, before anything is read.
  let given: string[];
  try {
    given = Object.keys(options);
  } catch (error) {
    invalid(what, 'threw when read', error); // a revoked proxy
  }
  for (const key of given) {
    if (!Object.hasOwn(checks, key)) invalid(`${what}.${key}`, `is not known: accepted are ${Object.keys(checks).join(', ')}`);
  }
  // Every member read first, then each checked: a getter that throws is reported before any member's check runs.
  const snapshot: Record<string, unknown> = {};
  for (const key of Object.keys(checks)) {
    let value: unknown;
    try {
      value = (options as Record<string, unknown>)[key];
    } catch (error) {
      invalid(`${what}.${key}`, 'threw when read', error);
    }
    if (value !== undefined) snapshot[key] = value;
  }
  for (const key in snapshot) {
    const value = checks[key]!(snapshot[key], `${what}.${key}`);
    // A check that reads a value as none (an empty continuation token) leaves the member out.
    if (value === undefined) delete snapshot[key];
    else snapshot[key] = value;
  }
  return snapshot as { -readonly [K in keyof C]?: ReturnType<C[K]> };
}

/**
 * The {@link MemberCheck} of a member its reader checks by a rule of its own, after the reading: taken as given. A
 * table names it so that the member is known ({@link readChecked} refuses any other).
 */
export const taken: MemberCheck<unknown> = (value) => value;

/** The {@link MemberCheck} of a boolean member. */
export const isBoolean: MemberCheck<boolean> = (value, what) => (typeof value === 'boolean' ? value : invalid(what, 'must be a boolean'));

/** The {@link MemberCheck} of a string member. */
export const isString: MemberCheck<string> = (value, what) => (typeof value === 'string' ? value : invalid(what, 'must be a string'));

/**
 * The {@link MemberCheck} of a reason given as a string (suspend, resume, rewind, and a terminate reason that is a
 * string): well-formed Unicode ({@link assertWellFormed}), since the HTTP API carries it in the URL (`?reason=`), where
 * a lone surrogate would arrive as U+FFFD: a remote client would record another reason than a local one.
 */
export const isReason: MemberCheck<string> = (value, what) => {
  assertWellFormed(isString(value, what), what);
  return value as string;
};

// The characters of an HTTP field value (RFC 9110): tab, space, visible ASCII and U+0080 to U+00FF (bytes 0x80-0xFF).
const NOT_HEADER_TEXT = /[^\t -~\x80-\xff]/;

/**
 * The {@link MemberCheck} of a string that is sent as an HTTP header's value: a continuation token (the HTTP API
 * carries it in `x-ms-continuation-token`) and the remote client's key. Only the characters of a field value pass
 * (tab, space, visible ASCII, U+0080 to U+00FF): `fetch` refuses a request with a character above U+00FF, NUL, CR or
 * LF in a header with a TypeError, which a remote client cannot tell from a network failure (it would try again for
 * ever), and servers refuse other control characters.
 *
 * @example
 * ```ts
 * isHeaderText('dev-key', 'key'); // 'dev-key'
 * isHeaderText('ключ', 'key'); // throws InvalidArgumentError: key must be an HTTP header value
 * ```
 */
export const isHeaderText: MemberCheck<string> = (value, what) =>
  NOT_HEADER_TEXT.test(isString(value, what)) ? invalid(what, 'must be an HTTP header value') : (value as string);

/** Longest accepted idempotency key of a raised event, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

// Visible ASCII, no space: what an `Idempotency-Key` header carries unchanged through any HTTP stack.
const NOT_KEY_CHARACTER = /[^!-~]/;

/**
 * The {@link MemberCheck} of an idempotency key (`raiseEvent options.idempotencyKey`, the HTTP API's
 * `Idempotency-Key` header, a write set's `InsertMessageWrite.idempotencyKey`): a string of 1 to
 * {@link MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters (`!` to `~`, no space), such as a UUID. The same key
 * travels in a header, a URL or a database field unchanged. Throws {@link InvalidArgumentError} otherwise.
 *
 * @example
 * ```ts
 * isIdempotencyKey('7f3c2a4e-order-42', 'raiseEvent options.idempotencyKey'); // '7f3c2a4e-order-42'
 * isIdempotencyKey('two words', 'key'); // throws InvalidArgumentError
 * ```
 */
export const isIdempotencyKey: MemberCheck<string> = (value, what) => {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    invalid(what, `must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  if (NOT_KEY_CHARACTER.test(value)) invalid(what, 'must be visible ASCII characters (! to ~, no space)');
  return value;
};

/**
 * The `Idempotency-Key` header value that carries `key` (a key {@link isIdempotencyKey} accepts) to the HTTP API,
 * which reads it back with {@link idempotencyKeyOfHeader}: the key as it is, except that a key that starts and ends
 * with `"` is sent in one more pair of quotes, since the server reads a quoted value without its quotes (the
 * structured-field string of the IETF `Idempotency-Key` draft). So a key means the same through any client.
 *
 * @example
 * ```ts
 * idempotencyKeyHeader('order-42');     // 'order-42'
 * idempotencyKeyHeader('"order-42"');   // '""order-42""'
 * idempotencyKeyOfHeader(idempotencyKeyHeader('"order-42"')); // '"order-42"'
 * ```
 */
export function idempotencyKeyHeader(key: string): string {
  return isQuoted(key) ? `"${key}"` : key;
}

/**
 * The idempotency key an `Idempotency-Key` header value carries (`null`: no header, `undefined`): the value without
 * its surrounding double quotes when it has them, as is. The one rule of the HTTP API's routes, whose inverse is
 * {@link idempotencyKeyHeader}; the key is then checked by {@link isIdempotencyKey}.
 *
 * @example
 * ```ts
 * idempotencyKeyOfHeader('"order-42"'); // 'order-42'
 * idempotencyKeyOfHeader('order-42');   // 'order-42'
 * ```
 */
export function idempotencyKeyOfHeader(value: string | null): string | undefined {
  if (value === null) return undefined;
  return isQuoted(value) ? value.slice(1, -1) : value;
}

function isQuoted(value: string): boolean {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"');
}

const START_IF_EXISTS: readonly StartIfExists[] = ['overwrite', 'fail', 'useExisting'];

/**
 * The {@link MemberCheck} of what a start does when its id is taken (`startNew options.ifExists`, the HTTP API's
 * `ifExists` parameter, a write set's `CreateInstanceWrite.ifExists`): one of `overwrite`, `fail`, `useExisting`.
 *
 * @example
 * ```ts
 * isStartIfExists('useExisting', 'startNew options.ifExists'); // 'useExisting'
 * isStartIfExists('skip', 'ifExists'); // throws InvalidArgumentError
 * ```
 */
export const isStartIfExists: MemberCheck<StartIfExists> = (value, what) =>
  START_IF_EXISTS.includes(value as StartIfExists) ? value as StartIfExists : invalid(what, "must be 'overwrite', 'fail' or 'useExisting'");

/** The {@link MemberCheck} of an instance id member (`startNew options.instanceId`): {@link assertValidInstanceId}. */
export const isInstanceId: MemberCheck<string> = (value, what) => {
  assertValidInstanceId(value, what);
  return value;
};

/**
 * The time of `value` when it is a Date (NaN for an Invalid Date), `undefined` for anything else. Told by what it is,
 * not by its prototype: a Date of another realm (a `vm` context, an iframe) is one, a proxy of a Date or an object
 * that inherits from `Date.prototype` is not.
 */
export function dateTime(value: unknown): number | undefined {
  try {
    return Date.prototype.getTime.call(value as Date);
  } catch {
    return undefined; // no Date's internal slot
  }
}

/**
 * The {@link MemberCheck} of a Date member (`startNew options.startAt`, a filter's `createdTimeFrom` and
 * `createdTimeTo`): a copy of a valid Date, any valid one (a start at or before now begins at once, as `ctx.createTimer`
 * takes any time: no upper bound). Anything else (an Invalid Date, a number, an ISO string) is refused with
 * {@link InvalidArgumentError}, nothing written.
 *
 * @example
 * ```ts
 * isDate(new Date('2026-12-24T18:00:00Z'), 'startNew options.startAt'); // a copy of the Date
 * isDate('2026-12-24T18:00:00Z', 'startNew options.startAt'); // throws InvalidArgumentError
 * ```
 */
export const isDate: MemberCheck<Date> = (value, what) => {
  const time = dateTime(value) ?? NaN;
  return Number.isNaN(time) ? invalid(what, 'must be a valid Date') : new Date(time);
};

/**
 * The {@link MemberCheck} of an instance's tags (`StartNewOptions.tags`, `SignalWithStartOptions.tags`): a plain object of at
 * most {@link MAX_TAGS} members, each key a string of 1 to {@link MAX_TAG_KEY_LENGTH} characters and each value a string
 * of 0 to {@link MAX_TAG_VALUE_LENGTH}, both well-formed Unicode ({@link assertWellFormed}) without control characters,
 * all of them together at most {@link MAX_TAGS_BYTES} bytes of UTF-8 as JSON writes them (a `"` or `\` counts 2). Returns a fresh copy whose members are own data
 * members (a key `__proto__` stays a key, never the copy's prototype), or `undefined` for an empty object (no tags).
 * Anything else (an array, a Map, a non-string value, a key or value too long, a getter that throws) throws
 * {@link InvalidArgumentError} naming the option (`startNew options.tags`) and the rule.
 * The one rule of every client, store and the HTTP API.
 *
 * @example
 * ```ts
 * isTags({ tenant: 'acme', $env: 'prod' }, 'startNew options.tags'); // { tenant: 'acme', $env: 'prod' }
 * isTags({}, 'startNew options.tags');                               // undefined: no tags
 * isTags({ tenant: 42 }, 'startNew options.tags');                   // throws InvalidArgumentError
 * ```
 */
export const isTags: MemberCheck<InstanceTags | undefined> = (value, what) => {
  const tags: Record<string, string> = {};
  let count = 0;
  let bytes = 0;
  try {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !isPlainPrototype(Object.getPrototypeOf(value))) count = -1;
    const keys = count < 0 ? [] : Object.keys(value as object);
    for (const key of keys) {
      const tag = (value as Record<string, unknown>)[key];
      bytes += utf8Length(key) + utf8Length(tag);
      if (++count > MAX_TAGS || bytes > MAX_TAGS_BYTES || !isTagText(key, 1, MAX_TAG_KEY_LENGTH) || !isTagText(tag, 0, MAX_TAG_VALUE_LENGTH)) break;
      // An own data member whatever the key (`__proto__` included): an assignment would set the prototype instead.
      Object.defineProperty(tags, key, { value: tag, enumerable: true, writable: true, configurable: true });
    }
  } catch (error) {
    invalid(what, 'threw when read', error);
  }
  if (count < 0 || Object.keys(tags).length !== count) {
    invalid(what, `must map at most ${MAX_TAGS} keys of 1 to ${MAX_TAG_KEY_LENGTH} characters to strings of at most ${MAX_TAG_VALUE_LENGTH}, ` +
      `${MAX_TAGS_BYTES} bytes of UTF-8 in all (a " or \\ counting 2), well-formed and without control characters`);
  }
  return count === 0 ? undefined : tags;
};

/** Whether `proto` is that of a plain object: `Object.prototype`, or none. */
function isPlainPrototype(proto: unknown): boolean {
  return proto === Object.prototype || proto === null;
}

/** Whether `text` is a tag's key or value: a string of `min` to `max` code units, well-formed, without control characters. */
function isTagText(text: unknown, min: number, max: number): boolean {
  return typeof text === 'string' && text.length >= min && text.length <= max && !CONTROL_CHARACTER.test(text) && !LONE_SURROGATE.test(text);
}

/**
 * The length in UTF-8 of `text` as a JSON string's content when it is a string, else 0: a surrogate pair, 4 bytes, is two
 * code units of 2, and a `"` or `\` counts 2, as JSON writes it escaped (the tags travel as JSON in a start's URL, where
 * an escaped quote takes six characters, `%5C%22`).
 */
function utf8Length(text: unknown): number {
  let bytes = 0;
  if (typeof text === 'string') {
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      bytes += unit === 0x22 || unit === 0x5c ? 2 : unit < 0x80 ? 1 : unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 2 : 3;
    }
  }
  return bytes;
}

/**
 * Reads the options of `DurableClient.restart`: a restart keeps the instance's id unless `restartWithNewInstanceId`
 * is `true` (then a new random id is used). Throws {@link InvalidArgumentError} for a non-object or a non-boolean flag.
 *
 * @example
 * ```ts
 * readRestartOptions({}); // { restartWithNewInstanceId: false }
 * ```
 */
export function readRestartOptions(options: unknown): { readonly restartWithNewInstanceId: boolean } {
  const { restartWithNewInstanceId } = readChecked(options, 'restart options', { restartWithNewInstanceId: isBoolean });
  return { restartWithNewInstanceId: restartWithNewInstanceId === true };
}

/**
 * Checks the options of `fork` (`{ newInstanceId?, keepResults?, reapplyEvents? }`, `undefined` for none): a
 * `newInstanceId` that is no valid instance id, a `keepResults` that is no integer >= 0, or a `reapplyEvents` that is
 * no boolean throws {@link InvalidArgumentError}. (Whether the source has that many results is the fork's to check,
 * once it read them.)
 *
 * @example
 * ```ts
 * readForkOptions({ keepResults: 2 }); // { keepResults: 2 }
 * readForkOptions({ keepResults: -1 }); // throws InvalidArgumentError
 * ```
 */
export function readForkOptions(options: unknown): { readonly newInstanceId?: string; readonly keepResults?: number; readonly reapplyEvents?: boolean } {
  return readChecked(options, 'fork options', { newInstanceId: isInstanceId, keepResults: isCountOrZero, reapplyEvents: isBoolean });
}

/**
 * Checks the options of `terminate` or `purgeInstanceHistory` (`{ recursive? }`, `undefined` for none) and returns
 * whether the command goes to the instance's sub-orchestrations too (default `false`). Anything but an object, or a
 * `recursive` that is not a boolean, throws {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * readRecursive({ recursive: true }, 'terminate options'); // true
 * readRecursive(undefined, 'terminate options');           // false
 * ```
 */
export function readRecursive(options: unknown, what: string): boolean {
  return readChecked(options, what, { recursive: isBoolean }).recursive === true;
}

/**
 * Checks an optional timeout in milliseconds and returns it, or `fallback` when absent: a number >= 0, or
 * `Infinity` for "no timeout" (wait as long as it takes). NaN, negative numbers and non-numbers give
 * {@link InvalidArgumentError}.
 */
export function resolveTimeoutMs(value: unknown, fallback: number, what = 'timeoutMs'): number {
  return value === undefined ? fallback : isTimeoutMs(value, what);
}

/**
 * The `timeoutMs` member of the options argument `what`, checked by {@link resolveTimeoutMs} and named by its path
 * (`waitForCompletion options.timeoutMs`); `fallback` when absent. Throws {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * readTimeoutMs({ timeoutMs: 5000 }, 'waitForCompletion options', 10_000); // 5000
 * readTimeoutMs(undefined, 'waitForCompletion options', 10_000);           // 10000
 * ```
 */
export function readTimeoutMs(options: unknown, what: string, fallback: number): number {
  return readChecked(options, what, { timeoutMs: isTimeoutMs }).timeoutMs ?? fallback;
}

/** The {@link MemberCheck} of a timeout member: a number >= 0 (`Infinity` included; NaN is not >= 0). */
export const isTimeoutMs: MemberCheck<number> = (value, what) =>
  typeof value === 'number' && value >= 0 ? value : invalid(what, 'must be a number >= 0 (ms)');

/**
 * The {@link MemberCheck} of a delay that must pass: a number > 0 (`Infinity` included: no end; NaN is not > 0). One
 * rule for the runtime's and createClient's `storeCallTimeoutMs` and the remote client's reconnect delays.
 */
export const isDelayMs: MemberCheck<number> = (value, what) =>
  typeof value === 'number' && value > 0 ? value : invalid(what, 'must be a number > 0 (ms)');

/**
 * The {@link MemberCheck} of a lease or an interval: a finite number > 0 (ms), since a time is computed from it (a
 * lease's expiry, the next check) and a timer set on it. One rule for a claim's lease and the stores' intervals (the
 * runtime's lease options are {@link isLeaseMs}).
 */
export const isFiniteDelayMs: MemberCheck<number> = (value, what) =>
  typeof value === 'number' && value > 0 && value !== Infinity ? value : invalid(what, 'must be a finite number > 0 (ms)');

/**
 * The longest lease the runtime takes (`orchestrationLeaseMs`, `activityLeaseMs`): 1e15 ms, about 31,700 years. A lease
 * near 8.64e15 ms, taken today, ends past the last valid Date (year 275760), and a store refuses every claim asking
 * for it (`validateClaimOptions`), so the work would never run.
 */
export const MAX_LEASE_MS = 1e15;

/**
 * The {@link MemberCheck} of a runtime's lease: a number of ms > 0 and at most {@link MAX_LEASE_MS} (NaN, `Infinity`
 * and non-numbers refused), so that every claim the runtime makes ends its lease at a valid Date.
 */
export const isLeaseMs: MemberCheck<number> = (value, what) =>
  typeof value === 'number' && value > 0 && value <= MAX_LEASE_MS ? value : invalid(what, 'must be a number > 0 (ms), at most 1e15');

/**
 * The {@link MemberCheck} of a count: an integer >= 1 (1.5, 0, -1, NaN and `Infinity` are refused). One rule for every
 * option that counts: concurrency limits, byte limits, buffer and stream sizes.
 */
export const isCount: MemberCheck<number> = (value, what) =>
  Number.isSafeInteger(value) && (value as number) >= 1 ? (value as number) : invalid(what, 'must be a positive integer');

/** The {@link MemberCheck} of a count that may be 0 ({@link isCount} or 0): a cache size, where 0 keeps nothing. */
export const isCountOrZero: MemberCheck<number> = (value, what) =>
  Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : invalid(what, 'must be an integer >= 0');

/**
 * The {@link MemberCheck} of a number member whose range its caller checks (the retry options): a number, `NaN` and
 * `Infinity` included; a numeric string such as `'100'` is refused, never coerced.
 */
export const isNumber: MemberCheck<number> = (value, what) => (typeof value === 'number' ? value : invalid(what, 'must be a number'));

/** The {@link MemberCheck} of a function member (an injected `fetch`, `newId`, a retry `handle`). */
export const isFunction: MemberCheck<(...args: never[]) => unknown> = (value, what) =>
  typeof value === 'function' ? (value as (...args: never[]) => unknown) : invalid(what, 'must be a function');

/**
 * The {@link MemberCheck} of a name (a worker id, a registered orchestrator or activity): {@link assertValidName}.
 */
export const isName: MemberCheck<string> = (value, what) => {
  assertValidName(value, what);
  return value;
};

/**
 * The {@link MemberCheck} of an injected object with the functions `methods` ({@link assertMethods}): a `clock`, a
 * `leaseStorage`.
 *
 * @example
 * ```ts
 * readChecked({ clock }, 'options', { clock: hasMethods(CLOCK_METHODS) });
 * ```
 */
export function hasMethods<T>(methods: readonly string[]): MemberCheck<T> {
  return (value, what) => {
    assertMethods(value, what, methods);
    return value as T;
  };
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
  /**
   * Orchestrator names, each a valid name ({@link assertValidName}), without duplicates and never empty (an empty list
   * is left out: any name); an instance matches when its `name` is one of them, exactly, case included.
   */
  readonly name?: readonly string[];
  /**
   * The listing order: `'asc'` (the default, when absent) is (createdTime, instanceId) ascending, oldest first;
   * `'desc'` is the reverse, newest first (createdTime descending, then instanceId descending).
   */
  readonly order?: 'asc' | 'desc';
  /** Tags an instance must all have ({@link isTags}; `{}` is left out: any tags). */
  readonly tags?: InstanceTags;
  /** `false`: the caller shows no inputs (a store may leave them out). A listing's, not a filter of instances. */
  readonly showInput?: boolean;
}

/** Most orchestrator names one filter may list. */
export const MAX_NAME_FILTER = 100;

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
  /** As {@link ValidInstanceFilter.name}. */
  readonly name?: readonly string[];
  /** As {@link ValidInstanceFilter.tags}. */
  readonly tags?: InstanceTags;
}

/**
 * The one check of instance filters, used by every client, every store (`queryInstances`, `purgeInstances`) and the
 * HTTP API: `runtimeStatus` must be an array of known status names, the times valid Dates, the prefix a
 * well-formed string, `name` an orchestrator name or an array of them ({@link nameList}), `order` `'asc'` or `'desc'`,
 * `showInput` a boolean; any other member is refused ({@link readChecked}).
 * Returns a snapshot holding only those members; throws {@link InvalidArgumentError} otherwise.
 * A string `runtimeStatus` is refused, never read as a list of characters.
 *
 * @example
 * ```ts
 * validateInstanceFilter({ runtimeStatus: ['Completed'] }); // ok
 * validateInstanceFilter({ runtimeStatus: 'Completed' });   // throws InvalidArgumentError
 * ```
 */
export function validateInstanceFilter(filter: unknown, what = 'filter'): ValidInstanceFilter {
  // A fresh snapshot of the members given (absent ones are left out): each is checked, then replaced by its own copy.
  return readChecked(filter, what, FILTER_CHECKS);
}

/**
 * {@link validateInstanceFilter} plus paging: `pageSize` a positive integer ({@link readPageSize}), `continuationToken`
 * a string that can travel in a header ({@link isHeaderText}). An empty token is no token (the first page), as Durable
 * Functions reads an empty `x-ms-continuation-token` header, and as the HTTP API and every client read it alike.
 */
export function validateInstanceQuery(query: unknown, what = 'query'): ValidInstanceQuery {
  return readChecked(query, what, QUERY_CHECKS);
}

/**
 * The check of purge filters, {@link validateInstanceFilter}'s rules for the members a purge reads
 * (`createdTimeFrom`, required, `createdTimeTo`, `runtimeStatus`, `name`, `tags`): any other member is refused, an
 * `instanceIdPrefix` by its own message (a purge cannot apply it, and ignoring it would delete every instance of the
 * time range), as the HTTP API refuses a parameter its purge does not read.
 */
export function validatePurgeFilter(filter: unknown, what = 'purge filter'): ValidPurgeFilter {
  const valid = readChecked(filter ?? undefined, what, PURGE_CHECKS);
  if (valid.createdTimeFrom === undefined) invalid(`${what}.createdTimeFrom`, 'is required');
  return valid as ValidPurgeFilter;
}

/**
 * The {@link MemberCheck} of an `instanceIdPrefix`: a string of well-formed Unicode ({@link assertWellFormed}), matched
 * literally; `''` matches every instance. The one rule of the list filters (every client, store and the HTTP API) and
 * of a read token's prefix. It is not held to the instance-id rule ({@link assertValidInstanceId}): a prefix no id can
 * start with (`a/`, `@a`, one longer than 256 characters) is a filter that matches nothing, as in Durable Functions, so
 * a search typed by a user lists nothing rather than failing. The same check as {@link isReason}, under the name
 * that says what it checks.
 */
export const isInstanceIdPrefix: MemberCheck<string> = isReason;

/**
 * The {@link MemberCheck} of a filter's `name`: one orchestrator name or an array of at most {@link MAX_NAME_FILTER},
 * each a name `startNew` takes ({@link assertValidName}); read as a list without duplicates, an empty one as none
 * (any name). Names are matched exactly, case included, as the runtime looks up its orchestrators.
 */
export function nameList(value: unknown, what: string): string[] | undefined {
  const names: string[] = [];
  try {
    if (typeof value === 'string') value = [value];
    if (!Array.isArray(value)) invalid(what, 'must be an orchestrator name or an array of them');
    const { length } = value as unknown[];
    if (length > MAX_NAME_FILTER) invalid(what, `must list at most ${MAX_NAME_FILTER} names`);
    for (let index = 0; index < length; index++) {
      const name = (value as unknown[])[index];
      assertValidName(name, `${what}[${index}]`);
      if (!names.includes(name)) names.push(name);
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    invalid(what, 'threw when read', error);
  }
  return names.length === 0 ? undefined : names;
}

/** The {@link MemberCheck} of a listing's `order`: `'asc'` or `'desc'`. */
export const isInstanceOrder: MemberCheck<'asc' | 'desc'> = (value, what) =>
  (value === 'asc' || value === 'desc' ? value : invalid(what, "must be 'asc' or 'desc'"));

/** The members of a purge filter and their checks (`instanceIdPrefix` is named to be refused by its own message). */
const PURGE_CHECKS = {
  runtimeStatus: statusList,
  createdTimeFrom: isDate,
  createdTimeTo: isDate,
  instanceIdPrefix: (_value: unknown, what: string): never => invalid(what, 'is not a purge filter'),
  name: nameList,
  tags: isTags,
};

/** The members of an instance filter and their checks: `showInput` is the caller's, whether inputs are shown. */
const FILTER_CHECKS = {
  ...PURGE_CHECKS,
  instanceIdPrefix: isInstanceIdPrefix,
  order: isInstanceOrder,
  showInput: isBoolean,
};

/**
 * A listing's page size: a positive integer, taken as at most {@link MAX_PAGE_SIZE} (a larger one gives pages of that
 * many, with a continuation token for the rest, as Durable Functions gives pages shorter than asked), or
 * {@link InvalidArgumentError} naming `what`. The one rule of every client, store and the HTTP API's `top`.
 *
 * @example
 * ```ts
 * readPageSize(50, 'query.pageSize');   // 50
 * readPageSize(5000, 'query.pageSize'); // 1000
 * readPageSize(0, 'query.pageSize');    // throws InvalidArgumentError: query.pageSize must be a positive integer
 * ```
 */
export function readPageSize(value: unknown, what: string): number {
  return Number.isInteger(value) && (value as number) >= 1 ? Math.min(value as number, MAX_PAGE_SIZE) : invalid(what, 'must be a positive integer');
}

/** The members of a listing query and their checks: a filter plus paging. */
const QUERY_CHECKS = {
  ...FILTER_CHECKS,
  pageSize: readPageSize,
  continuationToken: (value: unknown, what: string): string | undefined => (value === '' ? undefined : isHeaderText(value, what)),
};

function statusList(value: unknown, what: string): OrchestrationRuntimeStatus[] {
  const statuses: unknown[] = [];
  const refuse = () => invalid(what, `must be an array of ${ALL_RUNTIME_STATUSES.join(', ')}`);
  try {
    if (!Array.isArray(value)) refuse();
    // Each element read once, in order, and refused at the first that is no status: a sparse array of 2^32 - 1 holes
    // is refused at its first hole, where a copy of it first (Array.from) took most of a minute.
    const { length } = value as unknown[];
    for (let index = 0; index < length; index++) {
      const name = (value as unknown[])[index];
      // Exact names only (the HTTP API's query parameters, which match any case, are read by runtimeStatusNamed).
      if (!(ALL_RUNTIME_STATUSES as readonly unknown[]).includes(name)) refuse();
      if (!statuses.includes(name)) statuses.push(name);
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    invalid(what, 'threw when read', error);
  }
  // Known names only: each was checked above.
  return statuses as OrchestrationRuntimeStatus[];
}
