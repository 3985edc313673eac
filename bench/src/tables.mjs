/** Turns scenario results into tables; peers sit next to durable-rx, with the ratio in the peer's row. */
import { advantage, advantageSpread, bytes, duration, integer, range } from './format.mjs';

/** @typedef {import('./format.mjs').Table} Table */

/** @param {import('./scenarios/replay-engine.mjs').ReplayResult} result @returns {Table} */
export function replayTable(result) {
  /** @type {string[][]} */
  const rows = [];
  for (const r of result.rows) {
    rows.push([
      integer(r.n), r.engine, r.how, duration(r.totalMs), range(r.totalSpread, duration), duration(r.perStepMs),
      duration(r.minMs), duration(r.p99Ms), `${integer(r.samples)} / ${r.rounds}`,
      advantageSpread(r.vsFullReplay), advantageSpread(r.vsCached),
    ]);
  }
  const model = result.rows.filter((r) => r.modelErrorPct !== undefined)
    .map((r) => `${r.engine} ${r.modelErrorPct?.toFixed(1)}%`).join(', ');
  return {
    title: 'Scenario 1: replay engine, N sequential activities (engine time only, pre-built histories)',
    headers: ['N', 'engine', 'how', 'total (median of rounds)', 'rounds min-max', 'per step', 'total min', 'total p99',
      'samples / rounds', 'vs durable-rx full replay (like for like)', 'vs durable-rx cached step (design advantage)'],
    rows,
    notes: [
      'Like for like: every peer replays the whole history on each step, so its ratio is taken against durable-rx ' +
        'forced to do the same (full replay). The cached column is what durable-rx\'s design adds: a live execution ' +
        'that is fed only the new event; it is not an engine-speed comparison.',
      'The engines at one N run interleaved, a few samples each per round (A B C D, D C B A, ...). total = median over ' +
        'rounds of each round\'s median; a ratio = median of the per-round ratios, with their range over the rounds.',
      'total = engine time of the whole orchestration (N + 1 steps); per step = total / (N + 1).',
      'exact: whole runs. estimated (replaying engines at N >= 1,000, where a whole run is O(N^2)): one ' +
        'sample runs 10 steps at depths N/20, 3N/20, ..., 19N/20; total = sample x N/10 (midpoint rule, exact ' +
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
    `(${check.ratioSpread.min.toFixed(2)}-${check.ratioSpread.max.toFixed(2)}x, ${check.ratioSpread.n} rounds; ` +
    `medians ${duration(check.perStep10000)} vs ${duration(check.perStep100)}, each sample about 10,000 steps; must be <= 2x): ` +
    `${check.pass ? 'PASS' : 'FAIL'}. ` +
    `From the fastest samples: ${check.minRatio.toFixed(2)}x. Target <= 1.1x: ${check.ratio <= 1.1 ? 'met' : 'NOT met'}.`;
}

/** @param {import('./scenarios/end-to-end.mjs').EndToEndRow[]} rows @returns {Table} */
export function endToEndTable(rows) {
  const out = rows.map((r) => [
    integer(r.concurrency), r.system, `${integer(r.perSecond)}/s`, range(r.perSecondSpread, (v) => `${integer(v)}/s`),
    duration(r.batchP50Ms), duration(r.batchP99Ms), `${integer(r.samples)} / ${r.rounds}`,
    r.diagnostic ? '(diagnostic, see analysis)' : advantageSpread(r.vsDurableRx),
  ]);
  const counters = rows.filter((r) => r.counters).map((r) => `x${integer(r.concurrency)}: ${r.counters?.steps} steps, ` +
    `${r.counters?.cacheHits} cache hits, ${r.counters?.cacheMisses} misses, ${r.counters?.eventsReplayed} events replayed`);
  return {
    title: 'Scenario 2: end to end in memory, E1_HelloSequence (3 activities + custom status), instances started and completed per second',
    headers: ['concurrent', 'system', 'instances/s (median of rounds)', 'rounds min-max', 'batch p50', 'batch p99', 'batches / rounds', 'vs durable-rx'],
    rows: out,
    notes: [
      'The peer is durabletask-js\'s in-memory test backend (`InMemoryOrchestrationBackend`, `TestOrchestrationWorker`, ' +
        '`TestOrchestrationClient`), which the package ships for tests: one process, no leases, live objects shared ' +
        'with the worker. Its production backends talk gRPC to a sidecar and are not measured here.',
      'Contenders run interleaved, a few batches each per round (A B, B A, A B ...; the diagnostic runs between ' +
        'durable-rx and the peer, so neither follows the other); instances/s = median over rounds of each round\'s ' +
        'median batch; the ratio = median of the per-round ratios, with their range over the rounds.',
      'A batch starts N instances at once, then awaits each one with the client\'s own wait (durable-rx waitForCompletion, ' +
        'durabletask-js waitForOrchestrationCompletion: both notification based). Fresh store/backend and worker per batch.',
      'No forced garbage collection between rounds, only those V8 runs itself: every batch discards its runtime or ' +
        'backend, and a full collection run between batches (node --expose-gc), when none of the discarded runtime\'s ' +
        'objects is alive, drops their hidden classes and the optimized code built on them, so each round measured code ' +
        'being optimized again (durable-rx at 1 concurrent: 0.41 ms per instance for about a second after one, ' +
        '0.12-0.17 ms before). Both contenders got faster without it, durabletask-js too (at 1 concurrent, same machine ' +
        'and hour: durable-rx 438 -> 125 µs, durabletask-js 596 -> 339 µs per instance, the ratio 1.35x -> 2.55x), so ' +
        'a table measured with forced collections is not comparable with this one.',
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
    headers: ['system', 'watcher', 'how', 'commit -> watcher p50', 'p99', 'raiseEvent -> watcher p50', 'p99', 'commit p50, rounds min-max', 'samples / rounds', 'vs durable-rx (p50)'],
    rows: rows.map((r) => [
      r.system, r.watcher, r.how, duration(r.commitP50Ms), duration(r.commitP99Ms),
      r.raiseP50Ms === undefined ? '' : duration(r.raiseP50Ms), r.raiseP99Ms === undefined ? '' : duration(r.raiseP99Ms),
      range(r.commitP50Spread, duration),
      r.samples === undefined ? '' : `${integer(r.samples)} / ${r.rounds}`,
      r === rx || !rx ? '' : r.vsDurableRx ? advantageSpread(r.vsDurableRx) : advantage(r.commitP50Ms / rx.commitP50Ms),
    ]),
    notes: [
      'Measured rows run interleaved, one set-up per round; each figure is the median over rounds of that round\'s ' +
        'percentile. The durabletask-js row is its in-memory test backend.',
      'No forced garbage collection between rounds, only those V8 runs itself (as in the end-to-end scenario): every ' +
        'round discards its runtime or backend, and a full collection forced between rounds dropped their hidden classes ' +
        'and the optimized code built on them. Both systems were slower with it (commit -> watcher p50 durable-rx 13.1 ' +
        'against 4.0 µs, durabletask-js 16.3 against 6.4 µs), so a table measured with forced collections is not ' +
        'comparable with this one.',
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
        'minus the baseline app, so shared page code is not counted. The runtime rows include rxjs (its ES2015 build: ' +
        'the build resolves the `es2015` condition first, as the READMEs advise). The Dexie and Keyval rows take ' +
        '`createRuntime` from `@durable-rx/runtime/core`, which carries no MemoryStore.',
      'Peer rows are for reference only: neither peer runs in a browser, so there is no like-for-like figure.',
      'Where the bytes of an entry go, module by module: `node bench/src/bundle-breakdown.mjs <entry>`.',
    ],
  };
}

/** @param {Awaited<ReturnType<typeof import('./scenarios/remote-streams.mjs').runRemoteStreams>>} result */
export function streamsTable(result) {
  const ms = (/** @type {number} */ n) => `${n.toFixed(2)} ms`;
  return {
    title: 'Scenario 5: remote streams, rx-client over HTTP + SSE on 127.0.0.1 (all observables of a client share one connection)',
    headers: ['measure', 'p50 / open', 'p99 / heap per session', 'samples / RSS per session', 'server RSS'],
    rows: [
      ...result.latency.map((r) => [
        `commit -> remote customStatus$, ${r.subscriptions} subscription${r.subscriptions === 1 ? '' : 's'} on one connection`,
        ms(r.p50Ms), ms(r.p99Ms), String(r.samples), '',
      ]),
      ...(result.fanOut ? [
        [`one commit, ${result.fanOut.subscribers} connections watching the instance: server wrote it to the first / last socket`,
          ms(result.fanOut.firstWriteMs), ms(result.fanOut.lastWriteMs), String(result.fanOut.rounds), ''],
        [`one commit, ${result.fanOut.subscribers} connections watching the instance: first / last client received it`,
          ms(result.fanOut.firstMs), ms(result.fanOut.lastMs), String(result.fanOut.rounds), ''],
        ...(result.fanOut.serverCpuMs ? [[`one commit, ${result.fanOut.subscribers} connections: server CPU time for the commit and the whole fan-out / per connection`,
          ms(result.fanOut.serverCpuMs), `${result.fanOut.serverCpuPerConnectionUs.toFixed(1)} µs`, String(result.fanOut.rounds), '']] : []),
      ] : []),
      ...(result.floor ? [
        [`write floor (bare node:http, no durable-rx), ${result.floor.subscribers} connections: server wrote it to the first / last socket`,
          ms(result.floor.firstWriteMs), ms(result.floor.lastWriteMs), String(result.floor.rounds), ''],
        [`write floor, ${result.floor.subscribers} connections: first / last client received it`,
          ms(result.floor.firstMs), ms(result.floor.lastMs), String(result.floor.rounds), ''],
        [`write floor, ${result.floor.subscribers} connections: server CPU time for the whole fan-out / per connection`,
          ms(result.floor.serverCpuMs), `${result.floor.serverCpuPerConnectionUs.toFixed(1)} µs`, String(result.floor.rounds), ''],
      ] : []),
      ...result.connections.map((r) => [
        `${r.connections} concurrent stream sessions (one connection each) on one server process`,
        `${r.open} open`, `${r.heapPerConnectionKiB.toFixed(1)} KiB`, `${r.rssPerConnectionKiB.toFixed(1)} KiB`, `${r.serverRssMiB.toFixed(0)} MiB`,
      ]),
    ],
    notes: [
      'Measured by packages/rx-client/bench/streams.bench.mjs in a child process. Latency: from the server-side ' +
        'customStatus$ emission (microseconds after the commit) to the remote observable\'s emission, with the server ' +
        'and the remote client in two processes, as a UI and its server are (in one process, every collection of the ' +
        'server\'s runtime landed inside a client sample too), on the monotonic clock the processes share (process.hrtime); 2,000 samples ' +
        '(300 with --quick) after 200 rounds of warm-up, so p99 is the 20th slowest, not the 2nd of 200. The tail is collections and waiting for ' +
        'a core: read it with the load average of the run. With 100 subscriptions, one event is raised on each of 100 ' +
        'instances at once, so the figure includes queueing.',
      'Fan-out and memory: the server runs alone in a child process; the connections are raw node:http stream sessions ' +
        '(one status subscription each, all to one instance) opened by client processes of up to 5,000 connections each, ' +
        'on the same machine, so the clients\' reading competes with the server for the cores. Times are medians over the ' +
        'rounds, on the monotonic clock the processes share (process.hrtime). The largest level is 19,900, not ' +
        '20,000: the machine\'s hard limit on open files per process is 20,000.',
      'Write floor: packages/rx-client/bench/floor-server.mjs, a bare node:http server with no store and no ' +
        'durable-rx code, writes one pre-serialised, pre-framed status event of the same shape to every stream socket ' +
        'in one synchronous loop of socket.write. Its rounds are interleaved with durable-rx\'s (durable-rx, floor, ' +
        'durable-rx, floor ...), to the same number of connections from the same kind of client processes. What it ' +
        'costs is what Node and the kernel\'s loopback delivery charge to put one event on N sockets on this machine: ' +
        'no server in this language can fan out faster here.',
    ],
  };
}

/** The issue's stream targets, met or not. @param {Awaited<ReturnType<typeof import('./scenarios/remote-streams.mjs').runRemoteStreams>>} r */
export function streamsTargets(r) {
  const mark = (/** @type {boolean} */ ok) => (ok ? 'met' : 'NOT met');
  const one = r.latency.find((l) => l.subscriptions === 1);
  const largest = r.connections.at(-1);
  const parts = [];
  if (one) parts.push(`commit -> remote customStatus$ p50 ${duration(one.p50Ms)} (<= 0.5 ms: ${mark(one.p50Ms <= 0.5)}), p99 ${duration(one.p99Ms)} (<= 2 ms: ${mark(one.p99Ms <= 2)})`);
  if (r.fanOut) {
    parts.push(`${r.fanOut.subscribers} subscribers: first received ${duration(r.fanOut.firstMs)} (<= 5 ms: ${mark(r.fanOut.firstMs <= 5)}), ` +
      `all received ${duration(r.fanOut.lastMs)} (<= 50 ms: ${mark(r.fanOut.lastMs <= 50)})`);
    if (r.floor) {
      parts.push(`the bare write floor in the same rounds: last write ${duration(r.floor.lastWriteMs)}, all received ${duration(r.floor.lastMs)}, ` +
        `${r.floor.serverCpuPerConnectionUs.toFixed(1)} µs CPU per connection against durable-rx's ${r.fanOut.serverCpuPerConnectionUs.toFixed(1)} µs`);
    }
  }
  if (largest) parts.push(`heap per connection at ${largest.connections} ${largest.heapPerConnectionKiB.toFixed(1)} KiB (<= 8 KB: ${mark(largest.heapPerConnectionKiB * 1024 <= 8000)})`);
  return parts.length ? [`Targets: ${parts.join('; ')}.`] : [];
}

/**
 * The order of `runs` runs of two contenders A and B, each run the reverse of the one before, as a note writes it:
 * 'A B' for one, 'A B, B A' for two, 'A B, B A, A B' for three, and the first three then '...' for more.
 * @param {number} runs
 * @returns {string}
 */
export function alternatingOrder(runs) {
  const shown = Array.from({ length: Math.min(runs, 3) }, (_, i) => (i % 2 === 0 ? 'A B' : 'B A'));
  return `${shown.join(', ')}${runs > 3 ? ' ...' : ''}`;
}

/**
 * The order of one round's 100-concurrent batches of two stores A and B (`batches` each, alternating as
 * {@link alternatingOrder}) with a raw measurement R before, between and after them: 'R A R B R' for one batch each,
 * 'R A R B R B R A R' for two.
 * @param {number} batches
 * @returns {string}
 */
export function rawAlternation(batches) {
  const order = Array.from({ length: batches }, (_, i) => (i % 2 === 0 ? ['A', 'B'] : ['B', 'A'])).flat();
  return ['R', ...order.flatMap((store) => [store, 'R'])].join(' ');
}

/** @param {import('./scenarios/indexeddb.mjs').IndexedDbResult} r @returns {Table[]} */
export function indexedDbTables(r) {
  const perSecond = (/** @type {number} */ v) => `${v < 100 ? v.toFixed(1) : integer(v)}/s`;
  const pct = (/** @type {number} */ v) => `${Math.round(v * 100)}%`;
  const fixed = (/** @type {number | undefined} */ v) => (v === undefined ? '' : v.toFixed(2));
  const quartiles = (/** @type {import('./stats.mjs').Spread} */ s, /** @type {(v: number) => string} */ f) =>
    (s.n <= 1 ? f(s.median) : `${f(s.p25)}-${f(s.p75)}`);
  const batches100 = r.sizes.batches100 ?? 1;
  // Who ran at a concurrency, as this run had them (--quick leaves durably out at 100, --no-durably everywhere).
  const contendersAt = (/** @type {number} */ concurrency) =>
    (r.throughput.some((t) => t.kind === 'durably' && t.concurrency === concurrency) ? 'DexieStore, KeyvalStore and durably' : 'DexieStore and KeyvalStore');
  const throughput = {
    title: `Scenario 6a: hello sequence in headless Chromium ${r.chromium}, instances (durably: jobs) per second`,
    headers: ['concurrent', 'system', 'per second (median)', 'rounds min-max', 'steps/s', 'readwrite tx / step',
      'readonly tx / step', 'requests / step', 'raw ceiling, steps/s (median of pairs, p25-p75)',
      'share of raw ceiling (median of pairs, p25-p75; 95% interval of the median; pairs)', 'vs durably'],
    rows: [
      ['1', 'raw IndexedDB: readwrite transaction with 3 reads + 1 write, one after another', perSecond(r.raw.perSecond.median),
        `${range(r.raw.perSecond, perSecond)}${r.raw.perSecond.n > r.rounds ? ` (${r.raw.perSecond.n} measurements)` : ''}`, '', '1', '0', '4', '', `${duration(r.raw.msPerTransaction.median)} per transaction`, ''],
      ...r.throughput.map((t) => [
        integer(t.concurrency), t.system, perSecond(t.perSecond.median), range(t.perSecond, perSecond),
        t.stepsPerSecond ? perSecond(t.stepsPerSecond.median) : '',
        fixed(t.readwritePerStep), fixed(t.readonlyPerStep), fixed(t.requestsPerStep),
        t.ceiling ? `${perSecond(t.ceiling.median)} (${quartiles(t.ceiling, perSecond)})` : '',
        t.ceilingShare ? `${pct(t.ceilingShare.median)} (${quartiles(t.ceilingShare, pct)}; ` +
          `${t.shareInterval && Number.isFinite(t.shareInterval.low) ? `${pct(t.shareInterval.low)}-${pct(t.shareInterval.high)}` : 'too few pairs'}; ${t.ceilingShare.n})` : '',
        advantageSpread(t.vsDurably),
      ]),
    ],
    notes: [
      `${r.rounds} round${r.rounds === 1 ? '' : 's'}, contenders interleaved in each round (${contendersAt(1)} at 1, then ` +
        `${contendersAt(100)} at 100 concurrent${r.rounds > 1 ? '; odd rounds in reverse' : ''}); a fresh database for every measurement, deleted after it (an origin that keeps hundreds of databases slows each store's transactions). ` +
        'Each block of a round (its 1-concurrent measurements, its 100-concurrent ones) runs in a browser of its own, ' +
        'launched and warmed up for it, with its profile on disk, as an app\'s page runs: in a normal window, in a browser ' +
        'that has not run thousands of instances before it. Chromium\'s off-the-record IndexedDB backend (a Playwright ' +
        'context\'s default, and an incognito window\'s) spends more CPU per transaction the more data it was ever given, ' +
        'deleted databases included: one such browser for the whole run measured its last round in a backend aged by some ' +
        '10,000 instances (a new tab of that browser was as slow, a new browser up to twice as fast). The on-disk backend ' +
        'did not age so over 14,500 instances. ' +
        `1 concurrent: ${r.sizes.slices1} slice${r.sizes.slices1 === 1 ? '' : 's'} per store per round (${alternatingOrder(r.sizes.slices1)}) of ` +
        `${r.sizes.instances1} instances one after another` +
        ` (start, wait for completion, next; durably: ${r.sizes.durably1 ?? r.sizes.instances1} jobs); 100 concurrent: ` +
        `${r.sizes.instances100} started at once, ${batches100} batch${batches100 === 1 ? '' : 'es'} per store per round (${alternatingOrder(batches100)}). ` +
        'A round\'s per-second figure is its slices\' (batches\') instances over their time. ' +
        'A hello sequence is 4 orchestration steps and 3 activities.',
      'vs durably: per round, the store\'s instances/s over durably\'s jobs/s. At 1 concurrent the store\'s figure is not ' +
        'the slices\' (their clock pauses for the raw bursts, durably\'s loop does not) but that of one continuous run per ' +
        `store per round: ${r.sizes.instances1} instances back to back on one clock, no raw transactions (` +
        r.throughput.filter((t) => t.continuousPerSecond).map((t) => `${t.system}: ${perSecond(t.continuousPerSecond?.median ?? NaN)} median, ` +
          `${range(/** @type {import('./stats.mjs').Spread} */ (t.continuousPerSecond), perSecond)}`).join('; ') + ').',
      'Transactions and requests are counted by wrapping the IndexedDB API on the page (bench/page/idb-counters.js), so ' +
        'they include everything the runtime, the worker and the client asked of IndexedDB during the run, divided by the ' +
        'steps committed. A request is one get/put/delete/count/cursor open, or one cursor continue.',
      'Raw ceiling and share, per pair: a pair is one measurement of a store and the raw transactions run with it, in ' +
        'the same stretch of time. Its raw ceiling is the raw readwrite transactions/s of the pair divided by the ' +
        'readwrite transactions a step took in the pair = the steps/s IndexedDB would allow at that moment if each ' +
        'transaction cost what the raw one does; its share is the store\'s steps/s in the pair over that ceiling. The cell ' +
        'is the median of the pairs\' shares (each against its own ceiling: not a ratio of medians taken over the run, ' +
        'nor the best pair), with their p25-p75, and a 95% interval for that median that assumes nothing of the shape ' +
        'of the spread (from the order statistics: the k-th smallest and k-th largest pair, k from the binomial ' +
        'distribution). It takes the pairs as independent draws, and they are not quite: pairs close in time share the ' +
        'machine\'s load, and at 100 concurrent the raw measurement between two batches serves both; so the interval is ' +
        'a lower bound on the uncertainty of this run\'s median, and says nothing of a run on a machine loaded otherwise. ' +
        `Pairs per store: ${r.sizes.slices1 * r.rounds} at 1 concurrent, ${batches100 * r.rounds} at 100. ` +
        'The ceiling column gives the pairs\' ceilings the same way. ' +
        `At 1 concurrent a pair is a slice, and the page alternates within it: ${r.sizes.rawPerInstance1} raw transactions, ` +
        'then one instance, and so on (A B A B); the raw clock and the instance clock run apart. The raw clock runs from ' +
        'the first raw transaction\'s start to the last one\'s completion; an instance\'s from its start to the later of ' +
        'its completion and the completion of the last IndexedDB transaction opened for it (the worker\'s claim round and ' +
        'reads after the last step are the instance\'s cost). Before the next raw burst the page waits, off both clocks, ' +
        'until it is quiet: no IndexedDB transaction running and none opened across 4 macrotasks in a row; those idle ' +
        'turns are nobody\'s work, and a transaction opened during them is still charged to the instance. Any transaction ' +
        'other than the raw ones opened during a raw burst is counted to the store, and its slice is left out of the shares: ' +
        `${r.disturbedSlices ?? 0} slice${r.disturbedSlices === 1 ? '' : 's'} of ${r.sizes.slices1 * r.rounds * r.throughput.filter((t) => t.concurrency === 1 && t.kind !== 'durably').length} in this run. ` +
        `At 100 concurrent a pair is a batch, which cannot be cut in slices: raw measurements of ${r.sizes.rawTransactions} ` +
        'transactions run right before and right after each batch (one between two batches serves both, so raw and ' +
        `batches alternate: ${rawAlternation(batches100)}), and the ceiling uses the mean of the two rates ` +
        '(after/before: ' + r.throughput.filter((t) => t.rawAround).map((t) => `${t.system} ${fixed(t.rawAround?.afterOverBefore.median)} median, ` +
          `${fixed(t.rawAround?.afterOverBefore.min)}-${fixed(t.rawAround?.afterOverBefore.max)}`).join('; ') + '). ' +
        'The raw row is over all raw figures of the run. The raw transactions run one ' +
        'at a time; a store whose transactions overlap (disjoint object stores run in parallel) can exceed 100%.',
      `durably ${r.versions['@coji/durably']} on SQLocal ${r.versions.sqlocal} (SQLite WASM on OPFS in a Web Worker; ` +
        `kysely ${r.versions.kysely}, zod ${r.versions.zod}) runs the same job: three steps returning the greeting, with ` +
        '`step.progress` after each, as the orchestration sets its custom status. Worker polling 10 ms (its default is 1 s), ' +
        'one run at a time (its default; 4 or 16 at once made each job slower in a trial), default leases. Its ' +
        (r.throughput.some((t) => t.kind === 'durably' && t.concurrency === 100)
          ? '100-job batch runs in the first round only (it takes minutes on a loaded machine). '
          : '100-job batch did not run (--quick leaves it out: it takes minutes on a loaded machine). ') +
        'The page is served with COOP ' +
        'same-origin and COEP require-corp, which SQLocal needs; the IndexedDB contenders run on the same page.',
    ],
  };
  const latency = {
    title: 'Scenario 6b: notification in the same tab, from the work returning to the UI-facing event',
    headers: ['system', 'interval', 'p50', 'p99', 'samples', 'p50 per round, min-max', 'vs durably (p50)'],
    rows: r.sameTab.map((l) => [l.system, l.what, duration(l.p50Ms), duration(l.p99Ms), integer(l.samples),
      range(l.p50ByRound, duration), advantageSpread(l.vsDurably)]),
    notes: [
      `Instances (jobs) run one at a time, ${r.sizes.latencyInstances} per round, 3 samples each; percentiles over all ` +
        'rounds\' samples. durable-rx: the activity function\'s return to the `client.customStatus$(id)` emission that ' +
        'the next orchestration step causes (the activity result commit, the step, its commit, the change feed). durably: ' +
        'the step function\'s return to the `run:progress` event the job emits after `step.run` resolves (the step result ' +
        'is written in between; durably does not wait for its progress write).',
    ],
  };
  const crossTab = {
    title: 'Scenario 6c: notification across tabs (one database, two pages)',
    headers: ['system', 'interval', 'p50', 'p99', 'samples', 'p50 per round, min-max'],
    rows: r.crossTab.map((l) => [l.system, l.what, duration(l.p50Ms), duration(l.p99Ms), integer(l.samples), range(l.p50ByRound, duration)]),
    notes: [
      `The writing page runs the worker and raises an event per probe (${r.sizes.crossTabProbes} per round after 5 warm-up ` +
        'probes); the orchestration sets the custom status to it. t0 = the `complete` event of the IndexedDB readwrite ' +
        'transaction that committed that state in the writing page (the commit is durable); t1 = the `customStatus$` emission in the reading page, a client without ' +
        'a worker. The pages\' clocks are aligned by a ping over BroadcastChannel (the shortest of 50 round trips, ' +
        `at most ${duration(Math.max(...r.crossTab.map((c) => c.clockRttMs)))}; the error is at most half of it).`,
      'durably has no cross-tab notification to compare: its events are in-process, and a run in another tab is seen by ' +
        'polling storage (`waitForRun` falls back to it).',
    ],
  };
  const held = r.held && r.held.length > 0 ? [{
    title: 'Scenario 6d: a database that keeps its instances, the client on a second handle (hello sequences, 10 at a time)',
    headers: ['system', 'instances held', 'ms / instance', 'requests / instance', `ms / instance at ${integer(r.held[0]?.last.held ?? 0)} held over at ${integer(r.held[0]?.first.held ?? 0)}`],
    rows: r.held.flatMap((h) => [
      [h.system, integer(h.first.held), h.first.msPerInstance.toFixed(1), h.first.requestsPerInstance.toFixed(1), (h.last.msPerInstance / h.first.msPerInstance).toFixed(2)],
      [h.system, integer(h.last.held), h.last.msPerInstance.toFixed(1), h.last.requestsPerInstance.toFixed(1), ''],
    ]),
    notes: [
      'One database per store, never purged: a runtime with its worker on one store handle, a client on a second handle ' +
        'of the same database in the same page (as an app whose UI tab starts work that a worker runs). The client starts ' +
        `${r.sizes.heldMeasured ?? 0} instances (10 at a time, waiting for each ten to complete) on the new database, runs more unmeasured until ` +
        `${integer(r.held[0]?.last.held ?? 0)} are in it, then ${r.sizes.heldMeasured ?? 0} measured again. Requests are the page's (both handles). ` +
        'A store whose reads step over what earlier work left shows it in the ratio: DexieStore\'s wake-time read once ' +
        'stepped over the index entry of every task completed within a lease\'s length, which Chromium keeps until a ' +
        'readwrite transaction reads past it. One browser for both stores, DexieStore first; a single pair, on this machine\'s load.',
    ],
  }] : [];
  return [throughput, latency, crossTab, ...held];
}

/**
 * The performance targets for IndexedDB, checked against this run (informative: they do not fail the run).
 * @param {import('./scenarios/indexeddb.mjs').IndexedDbResult} r
 * @returns {string[]}
 */
export function indexedDbTargets(r) {
  const stores = r.throughput.filter((t) => t.kind !== 'durably');
  const mark = (/** @type {boolean} */ ok) => (ok ? 'met' : 'NOT met');
  // Over the rows that have the figure (a --quick run has no durably row at 100 concurrent).
  const values = (/** @type {(t: import('./scenarios/indexeddb.mjs').ThroughputRow) => number} */ f) => stores.map(f).filter(Number.isFinite);
  const maxOf = (/** @type {(t: import('./scenarios/indexeddb.mjs').ThroughputRow) => number} */ f) => Math.max(...values(f));
  const minOf = (/** @type {(t: import('./scenarios/indexeddb.mjs').ThroughputRow) => number} */ f) => Math.min(...values(f));
  const rw = maxOf((t) => t.readwritePerStep ?? NaN);
  const req = maxOf((t) => t.requestsPerStep ?? NaN);
  const share = minOf((t) => t.ceilingShare?.median ?? NaN);
  const vs = minOf((t) => t.vsDurably?.median ?? NaN);
  const p50 = Math.max(...r.sameTab.filter((l) => l.system.startsWith('durable-rx')).map((l) => l.p50Ms));
  const p99 = Math.max(...r.sameTab.filter((l) => l.system.startsWith('durable-rx')).map((l) => l.p99Ms));
  const cross = Math.max(...r.crossTab.map((l) => l.p99Ms));
  return [
    `Targets (worst of DexieStore and KeyvalStore, 1 and 100 concurrent): readwrite transactions per step ${rw.toFixed(2)} (<= 3: ${mark(rw <= 3)}); ` +
      `requests per step ${req.toFixed(2)} (<= 8: ${mark(req <= 8)}); share of the raw ceiling ${Math.round(share * 100)}% (>= 60%: ${mark(share >= 0.6)}); ` +
      `same-tab p50 ${duration(p50)} (<= 4 ms: ${mark(p50 <= 4)}), p99 ${duration(p99)} (<= 12 ms: ${mark(p99 <= 12)}); ` +
      `cross-tab p99 ${duration(cross)} (<= 5 ms: ${mark(cross <= 5)}); ` +
      // Without a durably row (--no-durably) there is no ratio to judge.
      (Number.isFinite(vs) ? `vs durably ${vs.toFixed(1)}x (>= 8x: ${mark(vs >= 8)}).` : 'vs durably not measured in this run.'),
  ];
}

/**
 * The end-to-end target, checked against this run (informative: it does not fail the run).
 * @param {import('./scenarios/end-to-end.mjs').EndToEndRow[]} rows
 * @returns {string[]}
 */
export function endToEndTargets(rows) {
  const peers = rows.filter((r) => r.vsDurableRx && r.vsDurableRx.n > 0);
  if (peers.length === 0) return [];
  const parts = peers.map((r) => `${integer(r.concurrency)}: ${/** @type {import('./stats.mjs').Spread} */ (r.vsDurableRx).median.toFixed(2)}x`);
  const ok = peers.every((r) => /** @type {import('./stats.mjs').Spread} */ (r.vsDurableRx).median >= 2);
  return [`Target: durable-rx + MemoryStore >= 2x durabletask-js's in-memory test backend at every concurrency (median of ` +
    `per-round ratios; ${parts.join(', ')}): ${ok ? 'met' : 'NOT met'}.`];
}
