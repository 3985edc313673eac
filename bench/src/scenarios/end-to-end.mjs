/**
 * Scenario 2: end to end in one process. A batch starts `concurrency` hello-sequence instances and waits for all of
 * them through the client; throughput = instances / batch time. Each batch gets a fresh store/backend and worker
 * (set up and torn down outside the timed region). The contenders run interleaved, a few batches each per round
 * (A B, B A, A B ...; with the diagnostic, A D B, B D A ...), and every figure is reported with its spread over the
 * rounds.
 */
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { measure, runInterleaved } from '../harness.mjs';
import { ratioSpread, spread } from '../stats.mjs';
import { durableRx, HELLO_SEQUENCE, SAY_HELLO, sayHello } from '../orchestrations.mjs';
import { durableRxEndToEnd, durableTaskEndToEnd } from '../peers/end-to-end-drivers.mjs';
import { withQuietConsole } from '../quiet-console.mjs';

export const CONCURRENCY = [1, 100, 1_000];

/**
 * @typedef {object} EndToEndRow
 * @property {number} concurrency
 * @property {string} system
 * @property {boolean} diagnostic  not a peer comparison: a variant that isolates a cost inside durable-rx
 * @property {number} batchP50Ms   median over rounds of each round's median batch
 * @property {number} batchP99Ms   median over rounds of each round's p99 batch
 * @property {number} perSecond    instances started and completed per second: median over rounds (each round: from
 *   its median batch)
 * @property {import('../stats.mjs').Spread} perSecondSpread  instances/s over the rounds
 * @property {number[]} perSecondByRound
 * @property {import('../stats.mjs').Spread} [vsDurableRx]  per-round ratio durable-rx instances/s / this row's
 *   (peer rows only; > 1 when durable-rx is faster)
 * @property {number} samples      batches timed, all rounds
 * @property {number} rounds
 * @property {Record<string, number>} [counters]
 */

/** @param {{ quick?: boolean }} [options] @returns {Promise<EndToEndRow[]>} */
export async function runEndToEnd(options = {}) {
  // The diagnostic runs between the two contenders compared (see the order below), and the table lists it last.
  const [rx, diagnostic, peer] = [durableRxEndToEnd(), singleSubscriberDiagnostic(), durableTaskEndToEnd()];
  /** @type {EndToEndRow[]} */
  const rows = [];
  // --quick is a smoke check: the 1,000-instance batches take seconds each on a loaded machine.
  for (const concurrency of options.quick ? CONCURRENCY.slice(0, 2) : CONCURRENCY) {
    // A batch of 1 takes about 0.1-0.3 ms, so a round of 200 ms is hundreds of batches, yet the per-round ratio moved
    // 1.4-2.0x between rounds with the machine's load: at 1 concurrent the run takes three times the rounds, each a
    // third as long, so the median of the per-round ratios rests on 16 of them.
    const rounds = options.quick ? 2 : concurrency === 1 ? 16 : 6;
    // A round's budget is the whole run's share: the total time per contender stays what it was in one block.
    const budget = concurrency === 1
      ? { time: options.quick ? 50 : 70, iterations: options.quick ? 3 : 7 }
      : concurrency === 100
        ? { time: options.quick ? 100 : 400, iterations: options.quick ? 2 : 4 }
        : { time: options.quick ? 150 : 800, iterations: options.quick ? 1 : 2 };
    // No forced collection between rounds (`collectGarbage`): every batch discards its runtime or backend, and a full
    // collection run between batches, when none of the discarded runtime's objects is alive, drops their hidden
    // classes and the optimized code built on them, so each round ran on code being optimized again (a batch of 1 took
    // 0.41 ms for about a second after one, 0.12-0.17 ms before; a round is 100 ms of warm-up and 70 ms timed). V8's
    // own collections run when allocation calls for them, mostly while a batch's objects are alive, as in a process
    // that runs for long. So what a contender discards is collected in the timed batches of whoever runs next, and the
    // order is what keeps that fair: at 1 concurrent, rx peer, peer rx, each follows the other and itself equally
    // often; with the diagnostic, it goes between the two compared (rx diagnostic peer, peer diagnostic rx), so
    // durable-rx and the peer each follow the diagnostic in half the rounds and themselves in the other half, never
    // each other.
    const contenders = concurrency === 1 ? [rx, peer] : [rx, diagnostic, peer];
    const measured = await runInterleaved(contenders, rounds, async (driver, round) => {
      const run = () => measure(`${driver.name} x${concurrency} round ${round + 1}`, () => driver.runBatch(concurrency), {
        ...budget, warmupIterations: round > 0 || options.quick ? 1 : 2, capMs: 40_000, collect: false,
        beforeEach: () => driver.setUp(), afterEach: () => driver.tearDown(),
      });
      return driver === peer ? await withQuietConsole(run) : await run();
    }, { collect: false });
    const perSecond = measured.map((ms) => ms.map((m) => (concurrency / m.p50) * 1000));
    const base = /** @type {number[]} */ (perSecond[contenders.indexOf(rx)]);
    for (const driver of [rx, peer, diagnostic]) {
      const i = contenders.indexOf(driver);
      if (i < 0) continue;
      const ms = /** @type {import('../harness.mjs').Measurement[]} */ (measured[i]);
      const values = /** @type {number[]} */ (perSecond[i]);
      const counters = driver.counters();
      rows.push({
        concurrency, system: driver.name, diagnostic: driver === diagnostic,
        batchP50Ms: spread(ms.map((m) => m.p50)).median, batchP99Ms: spread(ms.map((m) => m.p99)).median,
        perSecond: spread(values).median, perSecondSpread: spread(values), perSecondByRound: values,
        ...(driver === peer ? { vsDurableRx: ratioSpread(base, values) } : {}),
        samples: ms.reduce((sum, m) => sum + m.samples, 0), rounds,
        ...(counters ? { counters } : {}),
      });
    }
  }
  return rows;
}

/**
 * durable-rx with the batch awaited through one subscription to `store.changes$` instead of one
 * `waitForCompletion` per instance. Not something to compare with a peer: it isolates what the per-instance
 * client subscriptions cost (see the analysis in docs/benchmarks.md).
 * @returns {import('../peers/end-to-end-drivers.mjs').EndToEndDriver}
 */
function singleSubscriberDiagnostic() {
  /** @type {import('@durable-rx/runtime').Runtime | undefined} */
  let runtime;
  return {
    name: 'durable-rx, one changes$ subscriber (diagnostic)',
    async setUp() {
      runtime = createRuntime({
        store: new MemoryStore(), orchestrators: { [HELLO_SEQUENCE]: durableRx[HELLO_SEQUENCE] },
        activities: { [SAY_HELLO]: sayHello }, logger: silentLogger,
      });
      await runtime.start();
    },
    async runBatch(concurrency) {
      const rt = /** @type {import('@durable-rx/runtime').Runtime} */ (runtime);
      let left = concurrency;
      /** @type {Promise<void>} */
      const done = new Promise((resolve, reject) => {
        const subscription = rt.store.changes$.subscribe((change) => {
          const status = change.state?.runtimeStatus;
          if (status === 'Failed' || status === 'Terminated') reject(new Error(`${change.instanceId} ended ${status}`));
          if (status === 'Completed' && --left === 0) {
            subscription.unsubscribe();
            resolve();
          }
        });
      });
      await Promise.all(Array.from({ length: concurrency }, () => rt.client.startNew(HELLO_SEQUENCE)));
      await done;
    },
    async tearDown() {
      await runtime?.stop();
      runtime = undefined;
    },
    counters: () => undefined,
  };
}
