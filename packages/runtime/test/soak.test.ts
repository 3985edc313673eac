import { MemoryStore } from '../src/index.js';
import { describeSoak } from '../src/testing/describe-soak.js';
import { runSoak, SOAK_RACES } from '../src/testing/soak.js';
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

describe('soak races of the extended workload', () => {
  // Each race is a driver's command against the instance's own progress; the report says which came first, and the
  // rounds the command waited, drawn from the seed, so a run that found something replays with the same delays.
  it('tell, per race, which side came first and how many rounds the command waited', async () => {
    const report = await runSoak({ seed: 21, store: new MemoryStore(), extended: true });
    expect(report.problems).toEqual([]);
    expect(Object.keys(report.races).sort()).toEqual(Object.keys(SOAK_RACES).sort());
    for (const [name, race] of Object.entries(report.races)) {
      expect(SOAK_RACES[name as keyof typeof SOAK_RACES], name).toContain(race.first);
      expect(Number.isInteger(race.delayRounds) && race.delayRounds >= 0 && race.delayRounds <= 30, `${name} waited ${race.delayRounds}`).toBe(true);
    }
  }, 60_000);

  it('wait the same rounds again for the same seed, and others for another seed', async () => {
    const delays = async (seed: number) => {
      const report = await runSoak({ seed, store: new MemoryStore(), extended: true, faults: false });
      expect(report.problems).toEqual([]);
      return Object.fromEntries(Object.entries(report.races).map(([name, race]) => [name, race.delayRounds]));
    };
    const first = await delays(21);
    expect(await delays(21)).toEqual(first);
    expect(await delays(22)).not.toEqual(first);
  }, 60_000);

  it('leave out which side came first of a race whose instance never ended (a run that failed)', async () => {
    // No worker gets any work: every instance stays Pending, and no racing command is sent within the 5 rounds.
    const store = new MemoryStore();
    store.claimOrchestration = () => Promise.resolve(undefined);
    const report = await runSoak({ seed: 21, store, extended: true, faults: false, maxRounds: 5 });
    expect(report.problems).toContain('not settled after 5 rounds');
    expect(await store.getInstance('soak21-busy')).toMatchObject({ runtimeStatus: 'Pending' });
    expect(await store.getInstance('soak21-deadline')).toMatchObject({ runtimeStatus: 'Pending' });
    for (const [name, race] of Object.entries(report.races)) expect(race, name).not.toHaveProperty('first');
  }, 60_000);

  it('are none in the core workload', async () => {
    const report = await runSoak({ seed: 21, store: new MemoryStore(), faults: false });
    expect(report).toMatchObject({ extended: false, races: {}, problems: [] });
  }, 60_000);
});
