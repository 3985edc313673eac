import { UnavailableError } from '@durable-rx/runtime';

/**
 * Reads the events of an instance's current history generation so that the result belongs to one generation: reads
 * the generation (`genOf`), the events (`read`), and the generation again; a restart in between moved the instance to
 * a new generation (the old one is being swept), so it reads again, at most `attempts` times. Resolves `[]` when the
 * instance does not exist (or is purged meanwhile). When the generation changed at every attempt, rejects with
 * `UnavailableError` (503, try again): an empty array would read as an empty history.
 *
 * @example
 * ```ts
 * const events = await readStableGeneration(() => genOf(key), (gen) => findEvents(key, gen), 3, 'order-1');
 * ```
 */
export async function readStableGeneration<T>(
  genOf: () => Promise<string | undefined>, read: (gen: string) => Promise<T[]>, attempts: number, instanceId: string,
): Promise<T[]> {
  let gen = await genOf();
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (gen === undefined) return [];
    const events = await read(gen);
    const now = await genOf();
    if (now === gen) return events;
    gen = now;
  }
  if (gen === undefined) return [];
  throw new UnavailableError(
    `The history of ${JSON.stringify(instanceId)} moved to a new generation (a restart) at each of ${attempts} reads; try again`,
  );
}
