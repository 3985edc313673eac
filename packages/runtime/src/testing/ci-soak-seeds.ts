/**
 * The seeds every `npm test` runs in {@link describeSoak}: a few without faults (exactly-once), more with faults, and
 * one of the extended workload (`SoakOptions.extended`) without faults: seed 13, which loses an event carried over at a
 * resume when that is broken.
 *
 * @example
 * ```ts
 * for (const seed of CI_SOAK_SEEDS.faulty) console.log(await runSoak({ seed, store: new MemoryStore() }));
 * ```
 */
export const CI_SOAK_SEEDS = {
  faultFree: [1, 2],
  faulty: [1, 2, 3, 4, 5, 6, 7, 8],
  extendedFaultFree: [13],
} as const;
