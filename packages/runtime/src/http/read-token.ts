import type { InstanceFilter } from '../client/durable-client.js';
import {
  assertValidInstanceId, invalid, isFiniteDelayMs, isHeaderText, isInstanceIdPrefix, isValidDate, readChecked, type MemberCheck,
} from '../model/validation.js';
import { ForbiddenError } from './forbidden-error.js';
import { headerCredentials, type KeySource } from './key-verifier.js';
import type { QueryParams } from './query-params.js';

/** Options of {@link createReadToken}: what the token reads, and until when. */
export interface ReadTokenOptions {
  /**
   * The instances the token reads, by id: 1 to 100 ids, each valid as any instance id (`startNew`'s rule). They are
   * read by id only (status, history, streams): a list never shows them, beside a prefix either, since a token lists by
   * its `instanceIdPrefix` alone. Their order does not matter, nor does an id given twice.
   */
  readonly instanceIds?: readonly string[];
  /**
   * The instances whose id starts with this prefix: a non-empty prefix, valid as the list filters' `instanceIdPrefix`
   * (well-formed Unicode, matched literally). Only a token with a prefix may list instances (`GET /instances`, the list
   * streams), and only those under it: a list is one query by prefix, so the `instanceIds` a token also names are not
   * in it (a page that wants them listed gets a token whose prefix covers them).
   */
  readonly instanceIdPrefix?: string;
  /** When the token stops being accepted: a `Date` or milliseconds since the epoch, in the future. Or `ttlMs`. */
  readonly expiresAt?: Date | number;
  /** How long the token is accepted, from now (the system clock), in ms: a finite number > 0. Or `expiresAt`. */
  readonly ttlMs?: number;
}

/** What a verified read token allows: its checked, signed payload. */
export interface ReadScope {
  readonly instanceIds?: readonly string[];
  readonly instanceIdPrefix?: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** Every read token starts so: the handler tells a token from a key by it (a key is compared first). */
const PREFIX = 'drx-read.';
/** Most instance ids one token names: its scope travels in every request, in a URL (`?code=`) for an `EventSource`. */
const MAX_IDS = 100;
/** Longest token: what URLs and headers carry everywhere (Node's whole header block is 16 KiB by default). */
const MAX_TOKEN_LENGTH = 8192;
/** The latest time a `Date` holds. */
const MAX_TIME = 8.64e15;

/**
 * A scope's ids as a set: each valid, without duplicates and sorted (by UTF-16 code units), so two tokens that name the
 * same instances have the same scope, whatever the order they were given in ({@link scopeOwner}).
 */
const isIdList: MemberCheck<readonly string[]> = (value, what) => {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IDS) invalid(what, `must be an array of 1 to ${MAX_IDS} instance ids`);
  (value as unknown[]).forEach((id, index) => assertValidInstanceId(id, `${what}[${index}]`));
  return [...new Set(value as string[])].sort();
};

/**
 * The list filters' prefix rule ({@link isInstanceIdPrefix}), and not empty: an empty prefix matches every instance, so
 * a token made from a tenant or user name that came out empty would read them all.
 */
const isPrefix: MemberCheck<string> = (value, what) =>
  isInstanceIdPrefix(value, what) || invalid(what, 'must not be empty: an empty prefix would read every instance');

const isTime: MemberCheck<number> = (value, what) => {
  const time = isValidDate(value) ? value.getTime() : value;
  return typeof time === 'number' && Number.isFinite(time) && Math.abs(time) <= MAX_TIME
    ? time : invalid(what, 'must be a valid Date or a number of milliseconds since the epoch');
};

const SCOPE_CHECKS = { instanceIds: isIdList, instanceIdPrefix: isPrefix, expiresAt: isTime, ttlMs: isFiniteDelayMs };

/**
 * The one rule of a read token's scope, for the options it is made from and for the payload of one presented (after
 * its signature): `instanceIds`, `instanceIdPrefix` or both; exactly one of `expiresAt` and `ttlMs`; an expiry after
 * `now`. Throws `InvalidArgumentError` otherwise.
 */
function readScope(value: unknown, what: string, now: number): ReadScope {
  if (value === null || typeof value !== 'object') invalid(what, 'must be an object');
  const { instanceIds, instanceIdPrefix, expiresAt, ttlMs } = readChecked(value, what, SCOPE_CHECKS);
  if (instanceIds === undefined && instanceIdPrefix === undefined) invalid(what, 'must name instanceIds, an instanceIdPrefix or both');
  if ((expiresAt === undefined) === (ttlMs === undefined)) invalid(what, 'must give exactly one of expiresAt and ttlMs');
  const expiry = expiresAt ?? now + ttlMs!;
  if (!(expiry > now)) invalid(what, 'has expired (expiresAt must be in the future)');
  if (expiry > MAX_TIME) invalid(`${what}.ttlMs`, 'ends after the latest time a Date holds');
  return {
    ...(instanceIds === undefined ? {} : { instanceIds }),
    ...(instanceIdPrefix === undefined ? {} : { instanceIdPrefix }),
    expiresAt: expiry,
  };
}

/**
 * Makes a read token for a handler whose `key` (or one of whose keys) is `key`: a request that presents it instead of
 * the key (`Authorization: Bearer <token>` or `?code=<token>`, as `@durable-rx/rx-client` sends its `key`) may read the
 * instances of its scope, and only until it expires: their status (`GET /instances/{id}`, with history), their event
 * streams (single streams and subscriptions of the multiplexed stream), and lists and list streams under its
 * `instanceIdPrefix` (only: the `instanceIds` it names beside a prefix are read by id, never listed). Every command and purge, and anything outside the scope, is refused with 403 `forbidden`; an
 * expired or altered token is refused with 401, as a wrong key. So a server can hand a browser the live status of one
 * run without handing it the key. An extension beyond Durable Functions.
 *
 * The token is `drx-read.<payload>.<signature>`: its scope as base64url JSON (readable by whoever holds it: signed, not
 * encrypted) and an HMAC-SHA-256 of it keyed by `key`, made with Web Crypto (Node, Deno, Bun, Workers, browsers).
 * Removing `key` from the handler's keys revokes every token made with it; there is no other revocation, so keep
 * `ttlMs` short. Throws `InvalidArgumentError` for a key that is empty or no HTTP header can carry, or a scope that is
 * malformed (see {@link ReadTokenOptions}), already expired, or too large to carry (over 8 KiB once encoded).
 *
 * @example
 * ```ts
 * const token = await createReadToken(process.env.DURABLE_KEY!, { instanceIds: [orderId], ttlMs: 15 * 60_000 });
 * // The browser: createRemoteClient({ baseUrl, key: token }).status$(orderId) …
 * ```
 */
export async function createReadToken(key: string, options: ReadTokenOptions): Promise<string> {
  if (isHeaderText(key, 'createReadToken key') === '') invalid('createReadToken key', 'must not be empty');
  const scope = readScope(options, 'createReadToken options', Date.now());
  const signed = PREFIX + base64url(new TextEncoder().encode(JSON.stringify(scope)));
  const token = `${signed}.${await signature(await hmacKey(key), signed)}`;
  if (token.length > MAX_TOKEN_LENGTH) invalid('createReadToken options', `make a token longer than ${MAX_TOKEN_LENGTH} characters: name fewer instances, or give a prefix`);
  return token;
}

/**
 * Verifies read tokens against the handler's keys: the signature of a token is computed with every key and compared
 * with the one presented in a loop that visits every character and every key, so the time taken tells nothing of
 * where a forged signature first differs nor which key matched; then its scope is read and its expiry checked.
 */
export class ReadTokenVerifier {
  readonly #secrets: readonly string[];
  /** Imported when the first token arrives: a handler nobody presents a token to needs none. */
  #keys: Promise<CryptoKey[]> | undefined;

  constructor(keys: readonly string[]) {
    this.#secrets = keys;
  }

  /** The scope of `presented` when it is a read token made with one of the keys and not expired at `now` (ms); else `undefined`. */
  async verify(presented: string | undefined, now: number): Promise<ReadScope | undefined> {
    if (presented === undefined || !presented.startsWith(PREFIX) || presented.length > MAX_TOKEN_LENGTH) return undefined;
    const dot = presented.lastIndexOf('.');
    if (dot < PREFIX.length) return undefined;
    const signed = presented.slice(0, dot);
    const presentedSignature = presented.slice(dot + 1);
    const keys = await (this.#keys ??= Promise.all(this.#secrets.map(hmacKey)));
    let matched = 0;
    for (const expected of await Promise.all(keys.map((key) => signature(key, signed)))) {
      let diff = expected.length ^ presentedSignature.length;
      for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ presentedSignature.charCodeAt(i);
      matched |= diff === 0 ? 1 : 0;
    }
    if (matched !== 1) return undefined;
    try {
      const json = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64url(signed.slice(PREFIX.length)));
      const payload: unknown = JSON.parse(json);
      // A payload says when it ends: a `ttlMs` (which `createReadToken` never writes) would count from every request's
      // time, and the token would never expire.
      if (payload === null || typeof payload !== 'object' || 'ttlMs' in payload) return undefined;
      return readScope(payload, 'read token', now);
    } catch {
      return undefined; // expired (or a payload no version of this rule made)
    }
  }
}

/**
 * The scope of the read token a request presents where a key goes (`x-functions-key`, `Authorization: Bearer`, then
 * `?code=`, as `matchedKeySource` reads keys), with where it came from; `undefined` when none is valid at `now`.
 */
export async function presentedReadScope(
  tokens: ReadTokenVerifier, request: Request, query: QueryParams, now: number,
): Promise<{ readonly source: KeySource; readonly scope: ReadScope } | undefined> {
  for (const value of headerCredentials(request)) {
    const scope = await tokens.verify(value, now);
    if (scope) return { source: 'header', scope };
  }
  const scope = await tokens.verify(query.get('code'), now);
  return scope && { source: 'code', scope };
}

/**
 * What `scope` reads, as one string, its expiry left out: the owner of the stream sessions a token of that scope opens,
 * which a later token of the same scope (a fresh one for a page that stays open) resumes, and no other credential. The
 * ids of a checked scope are sorted and without duplicates, so tokens that name the same ids in another order, or one
 * of them twice, have the same owner.
 */
export function scopeOwner(scope: ReadScope): string {
  return JSON.stringify([scope.instanceIds ?? null, scope.instanceIdPrefix ?? null]);
}

/** True when `scope` reads instance `id`. */
export function readsInstance(scope: ReadScope, id: string): boolean {
  return scope.instanceIds?.includes(id) === true || (scope.instanceIdPrefix !== undefined && id.startsWith(scope.instanceIdPrefix));
}

/** Throws {@link ForbiddenError} unless `scope` reads instance `id`. */
export function assertReadsInstance(scope: ReadScope, id: string): void {
  if (!readsInstance(scope, id)) throw new ForbiddenError(`This read token does not read instance ${JSON.stringify(id)}`);
}

/**
 * `filter` within `scope`: its `instanceIdPrefix` narrowed to the token's when it asks for more (or none), kept when it
 * is within it. Throws {@link ForbiddenError} for a token without a prefix (it lists nothing) and for a prefix outside
 * the token's. A token lists by its prefix alone: the `instanceIds` it also names are read by id, not listed.
 */
export function scopedFilter<F extends InstanceFilter>(scope: ReadScope, filter: F): F {
  const prefix = scope.instanceIdPrefix;
  if (prefix === undefined) {
    throw new ForbiddenError('This read token names its instances by id: it lists none (a token with an instanceIdPrefix lists those under it)');
  }
  const asked = filter.instanceIdPrefix;
  if (asked === undefined || prefix.startsWith(asked)) return { ...filter, instanceIdPrefix: prefix };
  if (asked.startsWith(prefix)) return filter;
  throw new ForbiddenError(`instanceIdPrefix ${JSON.stringify(asked)} is outside this read token's scope`);
}

function hmacKey(key: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', new TextEncoder().encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

async function signature(key: CryptoKey, signed: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(signed))));
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The bytes of base64url `text` (throws on a character outside the alphabet). */
function fromBase64url(text: string): Uint8Array {
  if (/[^\w-]/.test(text)) throw new TypeError('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
