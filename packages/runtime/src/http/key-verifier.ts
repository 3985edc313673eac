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

/**
 * The key a request presents: `Authorization: Bearer <key>`, the `x-functions-key` header (as Azure Functions), or
 * the `code` query parameter (for clients that cannot set headers, such as `EventSource`), named in any case as every
 * query parameter (`CODE=` too, as Azure Functions reads it); `code` given twice throws `InvalidArgumentError` (400).
 */
export function presentedKey(request: Request, query: QueryParams): string | undefined {
  const authorization = request.headers.get('authorization');
  if (authorization !== null) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    return match ? match[1] : undefined;
  }
  return request.headers.get('x-functions-key') ?? query.get('code');
}

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)));
}
