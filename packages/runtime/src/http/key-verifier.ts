import type { QueryParams } from './query-params.js';

/**
 * Checks access keys in constant time with web-standard APIs only (Web Crypto), so it runs in Node, Deno, Bun,
 * Workers and Service Workers.
 *
 * Both the presented key and every configured key are hashed with SHA-256 and the 32-byte digests are compared
 * with a loop that always visits every byte and every configured key: the time taken depends neither on where a
 * wrong key first differs nor on the configured keys' lengths, nor on which key matched.
 */
export class KeyVerifier {
  readonly #digests: Promise<readonly Uint8Array[]>;

  /** @param keys the accepted keys (several allow rotation); each must be non-empty. */
  constructor(keys: readonly string[]) {
    this.#digests = Promise.all(keys.map(digest));
  }

  /** True when `presented` equals one of the configured keys. */
  async verify(presented: string | undefined): Promise<boolean> {
    if (presented === undefined) return false;
    const [candidate, accepted] = await Promise.all([digest(presented), this.#digests]);
    let matched = 0;
    for (const key of accepted) {
      let diff = 0;
      for (let i = 0; i < key.length; i++) diff |= key[i]! ^ candidate[i]!;
      matched |= diff === 0 ? 1 : 0;
    }
    return matched === 1;
  }
}

/** Where the credential that matched came from: a header, or the `code` query parameter. */
export type KeySource = 'header' | 'code';

/**
 * Which of the credentials a request presents matches a key of `verifier`, in the order the Functions host reads them:
 * the `x-functions-key` header, `Authorization: Bearer <key>`, then the `code` query parameter (for clients that cannot
 * set headers, such as `EventSource`), named in any case as every query parameter (`CODE=` too, as Azure Functions
 * reads it). Any one matching is enough, each compared in constant time: a request may carry an `Authorization`
 * header meant for someone else (an App Service Authentication token, Basic credentials for a proxy) beside the key,
 * as the Functions host, which never reads `Authorization` for function keys, allows. An `Authorization` header of
 * another scheme than Bearer is not a credential here. `code` is read only when no header matched; given twice, it
 * throws `InvalidArgumentError` (400). `undefined` when nothing matched.
 *
 * @example
 * ```ts
 * await matchedKeySource(verifier, request, new QueryParams(new URL(request.url).searchParams)); // 'code'
 * ```
 */
export async function matchedKeySource(verifier: KeyVerifier, request: Request, query: QueryParams): Promise<KeySource | undefined> {
  for (const key of headerCredentials(request)) {
    if (key !== undefined && (await verifier.verify(key))) return 'header';
  }
  return (await verifier.verify(query.get('code'))) ? 'code' : undefined;
}

/**
 * The credentials a request's headers present, in the order they are read: `x-functions-key`, then a Bearer token:
 * the whole rest of the `Authorization` header after `Bearer` and its spaces (a header's value comes without leading
 * or trailing spaces), so a key with a space in it, which `x-functions-key` and `code` carry, also comes as a Bearer
 * token (as `@durable-rx/rx-client` sends it), though RFC 6750's tokens have none.
 */
export function headerCredentials(request: Request): readonly (string | undefined)[] {
  const bearer = /^Bearer +(.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  return [request.headers.get('x-functions-key') ?? undefined, bearer];
}

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)));
}
