import type { Store } from '../store/store.js';
import { isTerminalStatus } from '../model/instance-status.js';
import { CI_SOAK_SEEDS } from './ci-soak-seeds.js';
import { runSoak, SOAK_RACES, type SoakReport } from './soak.js';
import { vitest } from './vitest-api.js';

const { describe, expect, it } = vitest;

/**
 * Node's `fs/promises`, for the reports `SOAK_REPORT` asks for. Taken from `process.getBuiltinModule` (Node 20.16 and
 * later) rather than imported, so that no `node:` import is reachable from `/testing` and a page bundling it gets no
 * browser stub of a Node module (nor a bundler's warning about one).
 */
function nodeFs(): { writeFile(path: string, data: string): Promise<void> } {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = process?.getBuiltinModule?.('node:fs/promises') as { writeFile(path: string, data: string): Promise<void> } | undefined;
  if (fs === undefined) throw new Error('SOAK_REPORT is set, but this runtime has no node:fs/promises to write the reports with (Node 20.16 or later)');
  return fs;
}

/** Options of {@link describeSoak}. */
export interface DescribeSoakOptions {
  /** Run only the first `n` faulty CI seeds (slow stores). Default: all. */
  readonly faultySeeds?: number;
  /** Real time one seeded run may take, in ms, before it fails naming the seed and its stuck instances. Default 120 s. */
  readonly timeoutMs?: number;
}

/**
 * Registers the seeded soak (see {@link runSoak}) for a store: a fixed set of CI seeds (some without faults, more with
 * faults, one of the extended workload), and, when the environment variable `SOAK_SEEDS` is set
 * (`npm run soak -- --seeds N`), a long soak of that many seeds with faults from `SOAK_FROM` (default 1),
 * `SOAK_CONCURRENCY` (default 8) at a time, with the extended scenarios (`SoakOptions.extended`) when `SOAK_EXTENDED`
 * is `1`, and with that share of the workers' store calls never settling when `SOAK_HANG` is a rate above 0
 * (`FaultRates.hang`; default 0). A long soak writes its reports as JSON into the directory `SOAK_REPORT` when that is
 * set.
 *
 * @example
 * ```ts
 * describeSoak('MemoryStore', () => new MemoryStore());
 * ```
 */
export function describeSoak(name: string, createStore: () => Store | Promise<Store>, options: DescribeSoakOptions = {}): void {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const timeout = options.timeoutMs ?? 120_000;
  const soak = async (seed: number, faults: boolean, extended = false, hang = 0): Promise<SoakReport> => {
    const store = await createStore();
    // Never hang silently: a seed that does not finish within the timeout of real time fails, naming the seed and the
    // instances it left non-terminal.
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => {
        void store.queryInstances({ pageSize: 1000 }).then(
          (page) => page.instances.filter((s) => !isTerminalStatus(s.runtimeStatus)).map((s) => `${s.instanceId} ${s.runtimeStatus}`),
          (error: unknown) => [`(instances unreadable: ${String(error)})`],
        ).then((left) => reject(new Error(`soak seed ${seed} did not finish within ${timeout} ms; non-terminal: ${left.join(', ') || 'none'}`)));
      }, timeout);
    });
    try {
      return await Promise.race([runSoak({ seed, store, faults, extended, ...(hang > 0 ? { rates: { hang } } : {}) }), stuck]);
    } finally {
      clearTimeout(watchdog);
      await store.close();
    }
  };
  const longSeeds = Number(env.SOAK_SEEDS ?? 0);
  describe(`soak on ${name}`, () => {
    if (longSeeds > 0) {
      it(`runs ${longSeeds} seeded soaks with faults and finds nothing`, async () => {
        const from = Number(env.SOAK_FROM ?? 1);
        const extended = env.SOAK_EXTENDED === '1';
        const hang = Number(env.SOAK_HANG ?? 0);
        if (!(hang >= 0 && hang <= 1)) throw new RangeError(`SOAK_HANG must be a rate from 0 to 1, not ${env.SOAK_HANG}`);
        // Runs spend most of their time waiting for the event loop, so several at once (each with its own store and
        // virtual clock) finish sooner than one after another.
        const concurrency = Math.max(1, Number(env.SOAK_CONCURRENCY ?? 8));
        const reports: SoakReport[] = [];
        let next = from;
        await Promise.all(Array.from({ length: concurrency }, async () => {
          while (next < from + longSeeds) reports.push(await soak(next++, true, extended, hang));
        }));
        reports.sort((a, b) => a.seed - b.seed);
        if (env.SOAK_REPORT) {
          // With the races' sides, so that a side no run saw is printed as 0.
          const file = { store: name, extended, hang, races: SOAK_RACES, reports };
          await nodeFs().writeFile(`${env.SOAK_REPORT}/${name}.json`, JSON.stringify(file));
        }
        expect(reports.filter((r) => r.problems.length > 0).map((r) => ({ seed: r.seed, problems: r.problems }))).toEqual([]);
      }, longSeeds * timeout);
      return;
    }
    for (const seed of CI_SOAK_SEEDS.faultFree) {
      it(`seed ${seed} without faults: every instance ends as expected and every activity ran exactly once`, async () => {
        const report = await soak(seed, false);
        expect(report.problems).toEqual([]);
        expect(report.faults).toMatchObject({ errorBefore: 0, errorAfter: 0, delay: 0, leaseExpiry: 0, crashes: 0 });
      }, timeout + 30_000);
    }
    for (const seed of CI_SOAK_SEEDS.extendedFaultFree) {
      it(`seed ${seed} of the extended workload without faults: every instance ends as expected, every activity ran exactly once`, async () => {
        const report = await soak(seed, false, true);
        expect(report).toMatchObject({ extended: true, problems: [] });
      }, timeout + 30_000);
    }
    for (const seed of CI_SOAK_SEEDS.faulty.slice(0, options.faultySeeds)) {
      it(`seed ${seed} with faults: every instance ends as expected, no step applied twice, every activity ran`, async () => {
        const report = await soak(seed, true);
        expect(report.problems).toEqual([]);
        expect(report.faults.errorBefore + report.faults.errorAfter + report.faults.leaseExpiry).toBeGreaterThan(0);
      }, timeout + 30_000);
    }
  });
}
