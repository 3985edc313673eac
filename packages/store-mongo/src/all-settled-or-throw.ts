/**
 * `Promise.all` that settles only once every promise has: resolves with their values, or rejects with the first
 * rejection in order once all have settled. A store runs reads in parallel inside one tracked operation with it, so a
 * read still running after another failed does not outlive the operation (and `close`, which waits for it).
 *
 * @example
 * ```ts
 * const [instance, task] = await allSettledOrThrow([instances.findOne(a), tasks.findOne(b)] as const);
 * ```
 */
export async function allSettledOrThrow<T extends readonly unknown[]>(promises: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const values: unknown[] = [];
  for (const result of settled) {
    if (result.status === 'rejected') throw result.reason;
    values.push(result.value);
  }
  return values as unknown as T;
}
