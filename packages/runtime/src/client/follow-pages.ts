import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';

/** One page of a paged listing. */
export interface Page<T> {
  readonly instances: readonly T[];
  readonly continuationToken?: string;
}

/**
 * Fetches every page of a listing, following continuation tokens until there are none
 * (`getStatusAll`/`getStatusBy` semantics), and returns the items in order. A token handed back a second time (a
 * store or server that repeats a token, or whose tokens cycle) would page for ever: it rejects with
 * `InvalidArgumentError` (`invalid-argument`) naming the token instead.
 *
 * @example
 * ```ts
 * const all = await followPages((token) => client.listInstances({ pageSize: 1000, continuationToken: token }));
 * ```
 */
export async function followPages<T>(fetchPage: (continuationToken: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const all: T[] = [];
  const followed = new Set<string>();
  for (let continuationToken: string | undefined; ;) {
    const page = await fetchPage(continuationToken);
    all.push(...page.instances);
    continuationToken = page.continuationToken;
    if (!continuationToken) return all;
    if (followed.has(continuationToken)) throw new InvalidArgumentError(`continuation token ${JSON.stringify(continuationToken)} repeated: paging would never end`);
    followed.add(continuationToken);
  }
}
