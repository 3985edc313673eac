/** One page of a paged listing. */
export interface Page<T> {
  readonly instances: readonly T[];
  readonly continuationToken?: string;
}

/**
 * Fetches every page of a listing, following continuation tokens until there are none
 * (`getStatusAll`/`getStatusBy` semantics), and returns the items in order.
 *
 * @example
 * ```ts
 * const all = await followPages((token) => client.listInstances({ pageSize: 1000, continuationToken: token }));
 * ```
 */
export async function followPages<T>(fetchPage: (continuationToken: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const all: T[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await fetchPage(continuationToken);
    all.push(...page.instances);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return all;
}
