import { MemoryStore } from '../src/index.js';
import { describeSoak } from '../src/testing/describe-soak.js';
import { runSoak } from '../src/testing/soak.js';
import { describe, expect, it } from 'vitest';

describeSoak('MemoryStore', () => new MemoryStore());

describe('soak on MemoryStore with store calls that never settle', () => {
  // 2 % of the workers' store calls hang for good (taking effect or not): each is abandoned at its bound (a lease, or
  // storeCallTimeoutMs), and the run must still end with every instance as expected and no step applied twice.
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: every instance ends as expected while some store calls hang`, async () => {
      const report = await runSoak({ seed, store: new MemoryStore(), rates: { hang: 0.02 } });
      expect(report.problems).toEqual([]);
      expect(report.faults.hang).toBeGreaterThan(0);
    }, 150_000);
  }
});
