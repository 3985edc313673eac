/** Turns scenario results into tables; peers sit next to durable-rx, with the ratio in the peer's row. */
import { advantage, bytes, duration, integer } from './format.mjs';

/** @typedef {import('./format.mjs').Table} Table */

/** @param {import('./scenarios/replay-engine.mjs').ReplayResult} result @returns {Table} */
export function replayTable(result) {
  /** @type {string[][]} */
  const rows = [];
  for (const n of [...new Set(result.rows.map((r) => r.n))]) {
    const group = result.rows.filter((r) => r.n === n);
    const cached = group.find((r) => r.kind === 'cached');
    const full = group.find((r) => r.kind === 'full replay' && r.engine.startsWith('durable-rx'));
    for (const r of group) {
      const isRx = r.engine.startsWith('durable-rx');
      rows.push([
        integer(n), r.engine, r.how, duration(r.totalMs), duration(r.perStepMs),
        duration(r.minMs), duration(r.p99Ms), integer(r.samples),
        isRx || !cached ? '' : advantage(r.totalMs / cached.totalMs),
        isRx || !full ? '' : advantage(r.totalMs / full.totalMs),
      ]);
    }
  }
  const model = result.rows.filter((r) => r.modelErrorPct !== undefined)
    .map((r) => `${r.engine} ${r.modelErrorPct?.toFixed(1)}%`).join(', ');
  return {
    title: 'Scenario 1: replay engine, N sequential activities (engine time only, pre-built histories)',
    headers: ['N', 'engine', 'how', 'total (median)', 'per step', 'total min', 'total p99', 'samples', 'vs durable-rx cached', 'vs durable-rx full replay'],
    rows,
    notes: [
      'total = engine time of the whole orchestration (N + 1 steps); per step = total / (N + 1).',
      'exact: median of whole runs. estimated (replaying engines at N >= 1,000, where a whole run is O(N^2)): one ' +
        'sample runs 10 steps at depths N/20, 3N/20, ..., 19N/20; total = median sample x N/10 (midpoint rule, exact ' +
        'when step cost is linear in depth).',
      `Estimate vs exact at N = 100, fastest samples: ${model} (checked where both are measured; minimums because ` +
        'machine load inflates the medians of long samples more than those of short ones).',
      'durable-functions and durabletask-js have no cached mode: every invocation replays the whole history.',
    ],
  };
}

/** @param {import('./scenarios/replay-engine.mjs').ReplayResult['check']} check @returns {string} */
export function checkLine(check) {
  return `Check: durable-rx cached per-step time at N = 10,000 is ${check.ratio.toFixed(2)}x its per-step time at N = 100 ` +
    `(medians ${duration(check.perStep10000)} vs ${duration(check.perStep100)}; must be <= 2x): ${check.pass ? 'PASS' : 'FAIL'}. ` +
    `From the fastest samples: ${check.minRatio.toFixed(2)}x.`;
}

/** @param {import('./scenarios/end-to-end.mjs').EndToEndRow[]} rows @returns {Table} */
export function endToEndTable(rows) {
  const out = [];
  for (const c of [...new Set(rows.map((r) => r.concurrency))]) {
    const group = rows.filter((r) => r.concurrency === c);
    const rx = group.find((r) => r.system.startsWith('durable-rx') && !r.diagnostic);
    for (const r of group) {
      const isPeer = !r.system.startsWith('durable-rx');
      out.push([
        integer(c), r.system, `${integer(r.perSecond)}/s`, `${integer(r.perSecondP99)}/s`, duration(r.batchP50Ms), duration(r.batchP99Ms),
        integer(r.samples), isPeer && rx ? advantage(rx.perSecond / r.perSecond) : r.diagnostic ? '(diagnostic, see analysis)' : '',
      ]);
    }
  }
  const counters = rows.filter((r) => r.counters).map((r) => `x${integer(r.concurrency)}: ${r.counters?.steps} steps, ` +
    `${r.counters?.cacheHits} cache hits, ${r.counters?.cacheMisses} misses, ${r.counters?.eventsReplayed} events replayed`);
  return {
    title: 'Scenario 2: end to end in memory, E1_HelloSequence (3 activities + custom status), instances started and completed per second',
    headers: ['concurrent', 'system', 'instances/s (median batch)', 'instances/s (p99 batch)', 'batch p50', 'batch p99', 'batches', 'vs durable-rx'],
    rows: out,
    notes: [
      'A batch starts N instances at once, then awaits each one with the client\'s own wait (durable-rx waitForCompletion, ' +
        'durabletask-js waitForOrchestrationCompletion: both notification based). Fresh store/backend and worker per batch.',
      `durable-rx runtime.metrics of the last batch: ${counters.join('; ')}.`,
      'durabletask-js runs its shipped TestOrchestrationWorker; it logs every history event to the console and takes no ' +
        'logger, so console.log/info/debug/warn are no-ops while it is measured (its log formatting still runs).',
    ],
  };
}

/** @param {import('./scenarios/notification-latency.mjs').LatencyRow[]} rows @returns {Table} */
export function latencyTable(rows) {
  const rx = rows.find((r) => r.system.startsWith('durable-rx'));
  return {
    title: 'Scenario 3: notification latency, commit of a custom status -> watcher',
    headers: ['system', 'watcher', 'how', 'commit -> watcher p50', 'p99', 'raiseEvent -> watcher p50', 'p99', 'samples', 'vs durable-rx (p50)'],
    rows: rows.map((r) => [
      r.system, r.watcher, r.how, duration(r.commitP50Ms), duration(r.commitP99Ms),
      r.raiseP50Ms === undefined ? '' : duration(r.raiseP50Ms), r.raiseP99Ms === undefined ? '' : duration(r.raiseP99Ms),
      r.samples === undefined ? '' : integer(r.samples),
      r === rx || !rx ? '' : advantage(r.commitP50Ms / rx.commitP50Ms),
    ]),
    notes: [
      'commit -> watcher: from the start of the store/backend commit call that carries the value (the commit itself is ' +
        'inside the figure) to the watcher callback, performance.now().',
      'raiseEvent -> watcher: from raising the event that makes the orchestrator set the status, so it includes the ' +
        'worker noticing the message and running the orchestration step.',
      'Modelled rows: a client polling every T ms sees a commit after a wait uniform in [0, T): p50 = T/2, p99 = 0.99 T, ' +
        'plus an HTTP round trip per poll that the model leaves out. They are not measurements.',
    ],
  };
}

/** @param {Awaited<ReturnType<typeof import('./scenarios/bundle-size.mjs').runBundleSize>>} result @returns {Table} */
export function bundleTable(result) {
  return {
    title: 'Scenario 4: bundle size, gzipped bytes added to a Vite app (vite build, minified, node:zlib level 9)',
    headers: ['entry', 'state', 'added (gzip)', 'whole app (gzip)', 'whole app (minified)', 'note'],
    rows: [
      [result.baseline.name, result.baseline.state, '0 B', bytes(result.baseline.gzipBytes ?? NaN), bytes(result.baseline.rawBytes ?? NaN), 'bundle-entries/baseline.js'],
      ...result.rows.map((r) => [
        r.name, r.state, r.addedGzipBytes === undefined ? '' : bytes(r.addedGzipBytes), r.gzipBytes === undefined ? '' : bytes(r.gzipBytes),
        r.rawBytes === undefined ? '' : bytes(r.rawBytes), r.note ?? `bundle-entries/${r.entry}`,
      ]),
    ],
    notes: [
      'Each entry is a small app (bundle-entries/*.js) that uses the package the way a page would; "added" = the entry ' +
        'minus the baseline app, so shared page code is not counted. The runtime rows include rxjs.',
      'Peer rows are for reference only: neither peer runs in a browser, so there is no like-for-like figure.',
    ],
  };
}

/** @param {Awaited<ReturnType<typeof import('./scenarios/remote-streams.mjs').runRemoteStreams>>} result */
export function streamsTable(result) {
  const ms = (n) => `${n.toFixed(2)} ms`;
  return {
    title: 'Scenario 5: remote streams, rx-client over HTTP + SSE on 127.0.0.1 (all observables of a client share one connection)',
    headers: ['measure', 'p50 / open', 'p99 / heap per session', 'samples / RSS per session', 'server RSS'],
    rows: [
      ...result.latency.map((r) => [
        `commit -> remote customStatus$, ${r.subscriptions} subscription${r.subscriptions === 1 ? '' : 's'} on one connection`,
        ms(r.p50Ms), ms(r.p99Ms), String(r.samples), '',
      ]),
      ...result.sessions.map((r) => [
        `${r.sessions} concurrent stream sessions on one server process`,
        `${r.open} open`, `${r.heapPerSessionKiB.toFixed(1)} KiB`, `${r.rssPerSessionKiB.toFixed(1)} KiB`, `${r.serverRssMiB.toFixed(0)} MiB`,
      ]),
    ],
    notes: [
      'Measured by packages/rx-client/bench/streams.bench.mjs in a child process. Latency: from the server-side ' +
        'customStatus$ emission (microseconds after the commit) to the remote observable\'s emission, one clock. ' +
        'With 100 subscriptions, one event is raised on each of 100 instances at once, so the figure includes queueing.',
    ],
  };
}
