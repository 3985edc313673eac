/**
 * `items` as an async iterable (a cursor or a scan, as the store reads one), counting how many were taken from it, so
 * a test can check that a reader stopped early.
 */
export function countedIterable<T>(items: readonly T[]): AsyncIterable<T> & { readonly taken: number } {
  const iterable = {
    taken: 0,
    async *[Symbol.asyncIterator]() {
      for (const item of items) {
        iterable.taken++;
        yield item;
      }
    },
  };
  return iterable;
}
