import { UnavailableError } from '@durable-rx/runtime';

/**
 * Reads the events of an instance's current history generation so that the result belongs to one generation: reads
 * the generation (`genOf`), the events (`read`), and the generation again; a restart in between moved the instance to
 * a new generation (the old one is being swept), so it reads again, at most `attempts` times. Resolves `[]` when the
 * instance does not exist (or is purged meanwhile). When the generation changed at every attempt, rejects with
 * `UnavailableError` (503, try again): an empty array would read as an empty history.
 *
 * A read that fails with an error `movedAway` accepts (an event that does not decode: `read` decodes as it goes) may
 * have read a generation a restart abandoned meanwhile: the generation is read again; when it moved, the new one is
 * read (the failed read counts as an attempt), or `[]` when the instance is gone, as after a read that succeeded. When
 * it did not move, the error is the read's and is thrown. Any other error is thrown as it is.
 *
 * @example
 * ```ts
 * const events = await readStableGeneration(() => genOf(key), (gen) => findEvents(key, gen), 3, 'order-1', (e) => e instanceof MongoStoreError);
 * ```
 */
export async function readStableGeneration<T>(
  genOf: () => Promise<string | undefined>, read: (gen: string) => Promise<T[]>, attempts: number, instanceId: string,
  movedAway: (error: unknown) => boolean = () => false,
): Promise<T[]> {
  let gen = await genOf();
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (gen === undefined) return [];
    let events: T[];
    try {
      events = await read(gen);
    } catch (error) {
      if (!movedAway(error)) throw error;
      const now = await genOf();
      if (now === gen) throw error;
      gen = now;
      continue;
    }
    const now = await genOf();
    if (now === gen) return events;
    gen = now;
  }
  if (gen === undefined) return [];
  throw new UnavailableError(
    `The history of ${JSON.stringify(instanceId)} moved to a new generation (a restart) at each of ${attempts} reads; try again`,
  );
}
