/**
 * The seeds every `npm test` runs in {@link describeSoak}: a few without faults (exactly-once), more with faults.
 *
 * @example
 * ```ts
 * for (const seed of CI_SOAK_SEEDS.faulty) console.log(await runSoak({ seed, store: new MemoryStore() }));
 * ```
 */
export const CI_SOAK_SEEDS = {
  faultFree: [1, 2],
  faulty: [1, 2, 3, 4, 5, 6, 7, 8],
} as const;
