/**
 * The written analysis in docs/benchmarks.md. Every comparison it states is computed from this run's results; the
 * explanations describe mechanisms in the code of durable-rx and of the peers (file names given), not guesses.
 */
import { advantage, advantageSpread, duration, integer } from './format.mjs';

/** @param {import('./report.mjs').Results} r @returns {string} */
export function analysis(r) {
  /** @type {string[]} */
  const slower = [];
  /** @type {string[]} */
  const faster = [];
  /** @type {string[]} */
  const explanations = [];

  // ---------------------------------------------------------------- replay engine
  const replay = r.results.replay;
  if (replay) {
    const rows = replay.rows;
    for (const peer of rows.filter((x) => x.vsFullReplay)) {
      const line = `Replay, N = ${integer(peer.n)}, like for like (full replay): ${peer.engine} vs durable-rx ` +
        `(${advantageSpread(peer.vsFullReplay)}).`;
      (/** @type {import('./stats.mjs').Spread} */ (peer.vsFullReplay).median < 1 ? slower : faster).push(line);
      if (peer.vsCached && peer.vsCached.median < 1) {
        slower.push(`Replay, N = ${integer(peer.n)}: ${peer.engine} vs durable-rx cached (${advantageSpread(peer.vsCached)}).`);
      }
    }
    const at = (/** @type {number} */ n, /** @type {(e: string) => boolean} */ pick) => rows.find((x) => x.n === n && pick(x.engine));
    const c100 = at(100, (e) => e === 'durable-rx (cached)');
    const c10k = at(10_000, (e) => e === 'durable-rx (cached)');
    const df10k = at(10_000, (e) => e.startsWith('durable-functions'));
    const dt10k = at(10_000, (e) => e.startsWith('durabletask-js'));
    if (c100 && c10k && df10k && dt10k) {
      faster.push(`Replay, design advantage (not like for like): a cached durable-rx step costs ${duration(replay.check.perStep100)} at N = 100 and ` +
        `${duration(replay.check.perStep10000)} at N = 10,000 (the check above: samples of about 10,000 steps at both sizes), because a ` +
        `step feeds only the new event to the live generator. The peers replay the whole history on ` +
        `every step, so their step cost grows with N: at N = 10,000 an average step takes ${duration(df10k.perStepMs)} ` +
        `(durable-functions) and ${duration(dt10k.perStepMs)} (durabletask-js).`);
    }
    if (slower.some((s) => s.startsWith('Replay'))) {
      explanations.push('**Replay.** Where a peer beats durable-rx\'s *forced full replay*, the difference is work durable-rx ' +
        'does on every replayed event and the peer skips: durable-rx matches each recorded TaskScheduled/TimerCreated ' +
        'event against the call the code made (kind, name, sub-orchestration id) to detect non-determinism, and checks ' +
        'names and copies inputs as plain JSON; durable-functions\' `TaskOrchestrationExecutor.processEvent` ignores ' +
        'TaskScheduled events altogether, so it never notices a changed orchestrator. Full replay only happens in ' +
        'durable-rx on a cache miss (a restart, an evicted execution, another worker taking over).');
    }
  }

  // ---------------------------------------------------------------- end to end
  if (r.results.e2e) {
    const rows = r.results.e2e;
    for (const c of new Set(rows.map((x) => x.concurrency))) {
      const rx = rows.find((x) => x.concurrency === c && x.system.startsWith('durable-rx') && !x.diagnostic);
      const peer = rows.find((x) => x.concurrency === c && x.system.startsWith('durabletask-js'));
      if (!rx || !peer?.vsDurableRx) continue;
      const line = `End to end, ${integer(c)} concurrent: ${integer(rx.perSecond)}/s vs durabletask-js' in-memory test backend ` +
        `${integer(peer.perSecond)}/s (${advantageSpread(peer.vsDurableRx)}).`;
      (peer.vsDurableRx.median < 1 ? slower : faster).push(line);
    }
    const one = rows.find((x) => x.concurrency === 1 && x.system.startsWith('durable-rx') && !x.diagnostic);
    const oneCached = replay?.rows.find((x) => x.n === 10 && x.kind === 'cached');
    if (slower.some((s) => s.startsWith('End to end'))) {
      const parts = ['**End to end in memory.**'];
      const diag = rows.find((x) => x.concurrency === 1_000 && x.diagnostic);
      const rx1000 = rows.find((x) => x.concurrency === 1_000 && x.system.startsWith('durable-rx') && !x.diagnostic);
      if (diag && rx1000) {
        const share = 1 - diag.batchP50Ms / rx1000.batchP50Ms;
        parts.push(`The diagnostic row awaits the 1,000-instance batch through one change-feed subscription instead of ` +
          `1,000 \`waitForCompletion\` calls: ${integer(diag.perSecond)}/s instead of ${integer(rx1000.perSecond)}/s, so ` +
          `the per-instance client waits take ${share > 0 ? `about ${Math.round(share * 100)}%` : 'none'} of that batch. ` +
          'Each wait is one listener in the client\'s change router plus one timer for its timeout: it reads the ' +
          'current state once, tests each committed state of its instance for a terminal status and builds one ' +
          '`InstanceStatus`, at the end; durabletask-js\' `waitForState` calls a predicate on the live record.');
      }
      if (one && oneCached) {
        parts.push(`The engine is not where the time goes: a hello-sequence instance is 4 orchestration steps, about ` +
          `${duration(4 * oneCached.perStepMs)} of engine time at ${duration(oneCached.perStepMs)} per cached step, out of ` +
          `${duration(one.batchP50Ms)} per instance end to end (one at a time).`);
      }
      parts.push('The rest is the imperative shell: ' +
        '(1) MemoryStore deep-copies every value that crosses the Store port (claiming a work item, committing, ' +
        'every change-feed emission, reads): the port carries plain data, as a store in a Worker or behind a network ' +
        'would (docs/design.md, "The Store port"), so no caller may hold the store\'s own objects; durabletask-js\' ' +
        '`InMemoryOrchestrationBackend` hands its live objects to the worker and the client, and its methods are ' +
        'synchronous. ' +
        '(2) Each instance is 4 step commits and 3 activity completions, each its own store transaction under a lease ' +
        '(random UUID token, expiry), with a commit plan, so that several workers can share a store safely; the test ' +
        'backend has no leases (a completion counter discards stale results) because one in-process worker uses it. ' +
        'Replay does not hurt durabletask-js here: hello-sequence histories stay under a dozen events.');
      explanations.push(parts.join(' '));
    }
  }

  // ---------------------------------------------------------------- latency
  if (r.results.latency) {
    const rx = r.results.latency.find((x) => x.system.startsWith('durable-rx'));
    const dt = r.results.latency.find((x) => x.system.startsWith('durabletask-js'));
    const poll = r.results.latency.find((x) => x.how === 'modelled');
    if (rx && poll) {
      faster.push(`Notification: a customStatus$ subscriber sees a committed value after ${duration(rx.commitP50Ms)} (p50, ` +
        `p99 ${duration(rx.commitP99Ms)}); a Durable Functions client polling every second waits ${duration(poll.commitP50Ms)} ` +
        `at the median (modelled).`);
    }
    if (rx && dt && dt.raiseP50Ms !== undefined && rx.raiseP50Ms !== undefined && rx.raiseP50Ms < dt.raiseP50Ms) {
      faster.push(`Notification including the orchestration step (raiseEvent -> watcher): durable-rx ${duration(rx.raiseP50Ms)} ` +
        `vs durabletask-js ${duration(dt.raiseP50Ms)} at the median.`);
    }
    if (rx && dt && dt.commitP50Ms < rx.commitP50Ms) {
      slower.push(`Notification, commit -> watcher: durabletask-js' test backend ${duration(dt.commitP50Ms)} vs durable-rx ` +
        `${duration(rx.commitP50Ms)} (${dt.vsDurableRx ? advantageSpread(dt.vsDurableRx) : advantage(dt.commitP50Ms / rx.commitP50Ms)}).`);
      explanations.push('**Commit -> watcher.** durabletask-js\' `waitForState` (a test-only API of its in-memory backend) ' +
        'runs the waiter\'s predicate on the backend\'s live record inside the commit call. In durable-rx the measured ' +
        'interval includes MemoryStore\'s commit itself (it copies the commit, appends the history, then copies the ' +
        'state it publishes on the change feed) and the client: its change router hands the state to the watcher, ' +
        'which drops states it already has by version and repeated custom statuses by value (JSON text only for ' +
        'objects). Both are microseconds; the choice users face is against polling, hundreds of milliseconds.');
    }
  }

  // ---------------------------------------------------------------- IndexedDB in Chromium, next to durably
  const idb = /** @type {import('./scenarios/indexeddb.mjs').IndexedDbResult | undefined} */ (r.results.indexeddb);
  if (idb) {
    for (const row of idb.throughput.filter((t) => t.vsDurably && t.vsDurably.n > 0)) {
      const s = /** @type {import('./stats.mjs').Spread} */ (row.vsDurably);
      const durably = idb.throughput.find((t) => t.kind === 'durably' && t.concurrency === row.concurrency);
      (s.median < 1 ? slower : faster).push(`In Chromium, ${integer(row.concurrency)} concurrent: ${row.system} ` +
        `${row.perSecond.median.toFixed(1)} hello sequences/s vs durably on SQLite/OPFS ` +
        `${durably ? durably.perSecond.median.toFixed(1) : '?'} 3-step jobs/s (${advantageSpread(s)}).`);
    }
    for (const row of idb.sameTab.filter((l) => l.vsDurably && l.vsDurably.n > 0)) {
      const s = /** @type {import('./stats.mjs').Spread} */ (row.vsDurably);
      (s.median < 1 ? slower : faster).push(`In Chromium, same-tab notification: ${row.system} p50 ${duration(row.p50Ms)} ` +
        `(${advantageSpread(s)} than durably's step -> run:progress).`);
    }
  }

  const out = [];
  out.push('Where durable-rx was slower than a peer in this run:', '');
  out.push(...(slower.length ? slower.map((s) => `- ${s}`) : ['- Nowhere in the measured scenarios.']), '');
  if (explanations.length) out.push('Why:', '', ...explanations.flatMap((e) => [e, '']));
  if (faster.length) out.push('Where it is ahead:', '', ...faster.map((s) => `- ${s}`), '');
  out.push('Bundle size has no like-for-like peer: neither durable-functions nor durabletask-js runs in a browser (durably ' +
    'does, but its SQLite WASM build is not measured in scenario 4).');
  return out.join('\n');
}
