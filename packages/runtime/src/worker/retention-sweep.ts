import type { Observer } from 'rxjs';
import { ChangeRouter } from '../client/change-router.js';
import { isStoreClosed } from '../model/errors/store-closed-error.js';
import { isTerminalStatus, type InstanceState, type OrchestrationRuntimeStatus } from '../model/instance-status.js';
import { readClock } from '../model/validation.js';
import { MAX_TIMER_DELAY_MS } from '../env/clock.js';
import type { GuardedClock } from '../env/guarded-clock.js';
import { FallbackTimer, type Fallback } from '../env/fallback-timer.js';
import type { Logger } from '../env/logger.js';
import { MAX_PURGE_SET } from '../store/plan-tree-purge.js';
import {
  membersLeft, planRetention, retainedStatuses, retentionCutoff, retentionPeriodOf, shortestPeriod, waitIsOver, type NotedKeptParent,
  type RetentionPeriods,
} from '../store/plan-retention.js';
import { endedKeyOf, resumeKeyOf } from '../store/ended-listing.js';
import { encodeContinuationToken, pageKeyOf, type PageKey } from '../store/store-helpers.js';
import type { EndedKey, PurgeMember, StatusChange, Store } from '../store/store.js';
import { KeptParents } from './kept-parents.js';
import { onNextMacrotask } from '../env/next-macrotask.js';

/**
 * Automatic retention of ended instances (`RuntimeOptions.retention`): how long each ended status is kept
 * ({@link RetentionPeriods}, counted from the instance's end) and how often the worker looks for instances past it.
 * Off unless given; a status without a period is kept until purged by hand.
 *
 * @example
 * ```ts
 * createRuntime({ store, orchestrators, retention: { completed: 86_400_000, failed: 7 * 86_400_000 } });
 * ```
 */
export interface RetentionOptions extends RetentionPeriods {
  /**
   * Time between two sweeps, in ms on the runtime's clock (a finite number > 0). Default: the shortest period, at
   * least 10 s and at most 5 min (a sweep lists each retained status up to its cutoff, and a store without a status
   * index, KeyvalStore, reads every paging entry there: a shorter interval is for a small store). An instance is purged between its period's end and one interval later (plus the time
   * a sweep takes to reach it); the first sweep runs as the worker starts. An interval beyond 2^31 - 1 ms (24.8 days,
   * the longest a timer waits) sweeps every 24.8 days.
   */
  readonly intervalMs?: number;
}

/** The default of {@link RetentionOptions.intervalMs}: the shortest period, within these bounds. */
const MIN_DEFAULT_INTERVAL_MS = 10_000;
const MAX_DEFAULT_INTERVAL_MS = 300_000;
/**
 * How often a sweep of a store that lists in end order (`Store.listEnded`) lists a status from the start again when
 * nothing else asks it to (a period of the status, if longer): the net for an end stamped later than `resumeKeyOf`'s
 * margin allows (a writer's clock far behind). Listed in end order, an instance that ends comes after the place the
 * listing goes on from, so a status kept 0 ms is not listed from the start at every pass.
 */
const ENDED_RELIST_MS = 3_600_000;
/** Instances one page of a sweep lists at most, and how many one round of parents' reads or re-reads reads at most. */
export const RETENTION_PAGE_SIZE = 100;
/**
 * The most instances one sweep reads before it lets the next one go on: each instance a listing returns and each one
 * read by id (a parent a page asks for, a parent read again), once each ({@link SweepReads}).
 */
export const RETENTION_READS_PER_SWEEP = 1000;
/**
 * How soon the next sweep comes after one that stopped with more left and made progress: it purged something before
 * its bound of reads, left a set the store refused (another sweeper got there first), or found a remembered parent
 * changed in the reads its listing left (the next lists from the start). A sweep that read its bound and purged nothing
 * (sub-orchestrations their parents keep, say) waits a whole interval, and the next goes on past them: it does not read
 * the same kept instances again a second later. So the sweeps a second apart are bounded by real changes: a parent
 * found changed is forgotten (found once, {@link RETENTION_READS_PER_SWEEP} / 2 such reads a sweep at most), a purge
 * deletes what it purged, and a set is refused only for a member that changed or went. The retention test of 1,000
 * remembered failures, all lapsed at once, counts them: none while nothing changed; with 300 started again unseen, two
 * (the listing from the start after the sweep that found them, which purged their children over two sweeps), of the 3
 * that bound allows, then one sweep a minute.
 *
 * One more comes this soon, whatever was purged: after a sweep that held a page (its parents' reads went past the
 * sweep's). That page is certain work, listed and partly read: the sweep a second later decides it alone (its rounds
 * left, in reads of their own: no parents read again, no listing), and the one after comes as the holding sweep's own
 * next would have, a second or an interval after it. So a held page waits a second, not an interval (100 chains 12
 * deep: all purged 1 s after the first sweep, not 60), and holding adds one sweep to each that holds, of the held
 * page's reads alone: 2,000 reads an interval at most while nothing is purged or found changed (those reads moved a
 * second earlier, not added: a pass reads no more in all). With changes, each sweep in an interval (or just before it)
 * that purged something, found a remembered parent changed or had a set refused adds two sweeps at most, 1,000 reads
 * each: the one a second after it, and the one a second after the page that one held (or, when it held a page itself,
 * the one a second after the sweep that decides it). So one change found can make an interval of 3 sweeps (the sweep
 * that found it, the listing from the start a second later that holds a page, the sweep that decides it), and a sweep
 * that purged and held, 4. The retention test of what a demanding app leaves counts them at the store, for every
 * interval of its run.
 */
const BACKLOG_SWEEP_MS = 1000;
/** Most pages a sweeper holds to read again for the parents that changed ({@link RetentionSweep.#relists}). */
const MAX_RELISTS = 100;
/** How many times a sweep sends one set of members, each time without the one the store found changed. */
const SET_ATTEMPTS = 3;
/**
 * How long a sweeper trusts, without reading it again, that an ended parent keeps its sub-orchestrations
 * (`planRetention`'s `keeps`); it remembers the parent until it becomes due. The sweeper forgets a parent as soon as
 * the store's change feed tells of a change of it (started again, rewound, purged by hand), and lists its status from
 * the start at the next sweep, so its children are decided afresh; past this bound it reads the parent again (the
 * safety net for a change the feed did not tell: one committed between the sweeper's read of the parent and its
 * noting it, missed by a store whose feed can miss commits, or of a parent without a watch), and does the same when it
 * is no longer the snapshot noted (another execution or version): a sub-orchestration is then purged up to this much
 * later.
 */
export const KEPT_PARENT_TRUST_MS = 300_000;
/**
 * Most ended parents a sweeper remembers as keeping their sub-orchestrations (the earliest noted go first). The first
 * {@link MAX_WATCHED_KEPT_PARENTS} of them hold a watch of their instance on the store's change feed; the others are
 * read again every {@link KEPT_PARENT_TRUST_MS}. A parent forgotten past this bound is no longer watched: a change of
 * it is found by the status's next listing from the start, a period later at most.
 */
export const MAX_KEPT_PARENTS = 10_000;
/**
 * Most remembered parents a sweeper watches at once on the store's change feed (so that one restarted or purged by hand
 * is forgotten at once); the others are remembered without a watch, each read again every
 * {@link KEPT_PARENT_TRUST_MS}. The watches go to what frees the most when it changes (`keptParentWatches`): the ended
 * ancestors kept by none before the due parents they keep, however late they were noted (a chain 25 deep under one
 * root takes one watch for its root first, not 25 in the order noted), so a root started again frees its tree at the
 * next sweep, which reads again the pages where the children of the tree were last listed (`KeptParents.place`),
 * whatever pass is under way, as far as they fit (the rest at the sweeps after, or by the pass from the start), not 5
 * minutes later. Each watch costs the
 * store: on MongoStore one more instance named in its per-instance stream's `$match`, which past `maxWatchedInstances`
 * (1,000 by default, the process's clients' watches counted) carries every instance's commits to the process, and whose
 * every change reopens or widens that stream; on the IndexedDB stores one more instance read again when another tab
 * goes without its goodbye. 64 is a sixteenth of that default, leaving the rest to the clients, and bounds how often
 * the sweeper changes the watched set (a watch starts when one is free, or moves to an entry higher up its tree as
 * that one is noted); the watches only hasten what the trust
 * bound does anyway. The running parents a sweeper waits on to end have a budget of their own of this size; the others
 * are read again, each an interval after it was last read, first thing in a sweep.
 */
export const MAX_WATCHED_KEPT_PARENTS = 64;

/** The interval of `options` (see {@link RetentionOptions.intervalMs}). */
export function retentionIntervalMs(options: RetentionOptions): number {
  if (options.intervalMs !== undefined) return options.intervalMs;
  const shortest = shortestPeriod(options) ?? MAX_DEFAULT_INTERVAL_MS;
  return Math.min(MAX_DEFAULT_INTERVAL_MS, Math.max(MIN_DEFAULT_INTERVAL_MS, shortest));
}

/** What a {@link RetentionSweep} works with: the worker's store, clock and logger, and its bound on store calls. */
export interface RetentionSweepOptions {
  readonly store: Store;
  /** The worker's clock, guarded: it reports what it fails to clear. */
  readonly clock: GuardedClock;
  readonly logger: Logger;
  readonly retention: RetentionOptions;
  /** The worker's bound on one store call (its `storeCallTimeoutMs`, ended by its stop). */
  readonly bounded: <T>(call: () => Promise<T>, what: string) => Promise<T>;
}

/**
 * The worker's retention sweeps: one timer on the worker's clock, armed by `start` and released by `stop`. A sweep
 * lists the instances of each retained status created up to that status's cutoff (`retentionCutoff`: an instance that
 * ended before its period began was created before that), a page at a time, decides with `planRetention` which are due, and
 * deletes them with `Store.purgeInstanceSet`, each only while it is still the snapshot read: an instance restarted,
 * rewound or changed in between is left (the set is sent again without it, up to 3 times; then the page is left to the
 * next sweep, which reads it again). So several workers (tabs, processes) sweeping one store at once purge each
 * instance once and nothing else. A sweep reads at most {@link RETENTION_READS_PER_SWEEP} instances ({@link SweepReads}:
 * each one a listing returns and each one read by id counted; a page whose parents' reads go past that is held, with
 * what was read for it, and decided by the next sweep, a second later, alone, which goes on with its rounds) and waits a macrotask between two store calls, so steps
 * and timers go on meanwhile; the next sweep goes on where it stopped (its continuation token), a second later when it
 * stopped with more left after purging something, an interval later when it purged nothing (instances kept by their
 * parents are not read again every second). `stop` lets go of all it holds, a held page too: where the listings stood
 * with it, so a sweeper after it lists from the start. A pass that reached the end of a status's listing is followed by one that goes on after the last
 * instance it listed (a token of that key), not from the start: the instances it left (not due yet, or kept by their
 * parents) are not listed again at every pass. The next pass lists from the start again by the earliest of: a period
 * of that status after the last one from the start began (an instance that ended behind the listing's place since is
 * listed then, due or with its due time noted), the time an instance it left may be due (`planRetention`'s
 * `recheckAt`), and at once when a remembered parent changed or a member was found changed. So every instance is
 * still purged within an interval of its time, plus the time a pass takes to reach it. A sub-orchestration a parent
 * that had not ended kept when it was listed has no such time: its status is listed from the start once a sweep sees
 * that parent ended or gone (`#waiting`): listed, read, or told by the store's change feed (ended, purged, another
 * execution), which watches {@link MAX_WATCHED_KEPT_PARENTS} of them; the others are read again, each an interval
 * after it was last read, first thing in a sweep (with the lapsed ended parents below, in half its reads at most, at
 * least half of that for these when as many are due: 500 and 250 reads), so a sweep later at most while fewer are due
 * at once, the rest at the next sweeps. A store that lists in end order (`Store.listEnded`) is listed by
 * (`lastUpdatedTime`, id) up to the cutoff instead, so a pass reads only the instances whose period has passed; the next
 * pass goes on after the last key listed less `ENDED_SETTLE_MS` (`resumeKeyOf`: an instance that ends later comes after
 * it), and lists from the start by `recheckAt`, a changed parent, or {@link ENDED_RELIST_MS} (or a period, if longer).
 * A status kept 0 ms is thereby not listed from the start at every pass (it is, on a store without it). An ended parent found keeping a due sub-orchestration is remembered (`#keeping`) and
 * not read again until it becomes due or it changes (the store's change feed: `instanceChanges$` where the store has
 * it, else `changes$`, watched only while something is remembered, for {@link MAX_WATCHED_KEPT_PARENTS} parents at
 * most); it is read again every {@link KEPT_PARENT_TRUST_MS}, first thing in a sweep, in half its reads at most (shared
 * with the running parents above), and those left after the listing in the reads it left. A remembered parent whose
 * watch tells of a change has the pages where its tree's children were listed (the last 5 of each entry) read again
 * first thing in the next sweep that lists, begun while more than half its reads are left (the half the parents read
 * again take otherwise; the parents those pages ask for counted in its reads, as a listing's) (`#relists`): its tree is decided afresh then, as far as those pages hold it and fit (the others wait for the next sweeps), not once a pass from the start reaches it (an interval for each 1,000
 * reads of the rest of the pass under way and of the new one up to the tree: up to 20 at 10,000 kept children). A
 * sweep that fails is logged and the next one tries again, from the start; one that finds the store
 * closed for good (`isStoreClosed`) ends the sweeps, unlogged (the worker hears of that from its own calls). A clock
 * whose `setTimeout` throws does not end them: the next sweep's timer is set on the platform's timer for at most
 * {@link BACKLOG_SWEEP_MS} instead, and the clock is asked again for what is left as it fires (logged once, until the
 * clock arms one again); only a platform that fails too ends them, logged.
 */
export class RetentionSweep {
  readonly #o: RetentionSweepOptions;
  readonly #intervalMs: number;
  /** The next sweep's timer (see the class for a clock that fails to arm it). */
  readonly #timer: FallbackTimer;
  /** When the next sweep is due, in ms on the clock (NaN when it gave no valid time): what a platform's timer checks. */
  #dueAtMs = Number.NaN;
  /** The sweep running now, if any: `stop` returns it. */
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Where the listing of each status stands between sweeps (absent: its next pass lists from the start). */
  readonly #listings = new Map<OrchestrationRuntimeStatus, Listing>();
  /** The index of the status the next sweep begins with: the one the last stopped in at its bound of reads. */
  #from = 0;
  /**
   * Set when the last sweep held a page: the next decides that page alone, a second later ({@link BACKLOG_SWEEP_MS});
   * true when the one that held it had more left after progress (the sweep after comes a second later too).
   */
  #afterHold: boolean | undefined;
  /**
   * The ended parents found keeping their sub-orchestrations, each until it becomes due or it changes, read again
   * every {@link KEPT_PARENT_TRUST_MS}, at most {@link MAX_KEPT_PARENTS}: a sweep reads no parent known here (a
   * week-long failure's completed children, listed again, cost no read of their parent). At most
   * {@link MAX_WATCHED_KEPT_PARENTS} of them are watched, through one router over the store's feeds, which holds a
   * subscription only while one is watched; `stop` releases them all.
   */
  readonly #keeping: KeptParents<string>;
  /**
   * The pages to read again at the next sweep that lists, first thing, each begun while more than half its reads are
   * left (the half the parents it reads again take otherwise): where the children of a remembered parent that changed were listed
   * ({@link KeptParents.place}), so that its tree is decided afresh then (those that do not fit at the sweeps after),
   * not once a pass of their status from the start reaches them. At most {@link MAX_RELISTS}, the earliest going
   * first (the pass from the start, which the change asks for too, reads those).
   */
  readonly #relists = new Set<string>();
  /**
   * The parents that had not ended found keeping a due sub-orchestration (`planRetention`'s `waitsOn`), each with the
   * execution it ran and the statuses whose listing went past such a child, at most {@link MAX_KEPT_PARENTS} (the
   * earliest noted go first): once a sweep sees its wait over (`waitIsOver`: listed, read, or told by its watch ended,
   * gone, or running another execution), those statuses are listed from the start again, so the child goes within an
   * interval of its parent, not a period of its own status later.
   */
  readonly #waiting = new Map<string, Waited>();
  /**
   * The watches of parents in {@link RetentionSweep.#waiting} (at most {@link MAX_WATCHED_KEPT_PARENTS}), each released
   * when its parent leaves it: a parent that ends, is purged, or runs another execution (continued as new, started
   * again) while no listing of this sweeper would see it (its status has no period, or another sweeper or a user
   * purged it first) has the statuses of its children listed from the start at the next sweep all the same. The
   * parents without a watch are read instead, each an interval after it was last read, first thing in a sweep
   * (`#waitsToRead`), so the same holds for them a sweep later at most.
   */
  readonly #waitWatches = new Map<string, () => void>();
  #router: ChangeRouter | undefined;

  constructor(options: RetentionSweepOptions) {
    this.#o = options;
    this.#intervalMs = retentionIntervalMs(options.retention);
    this.#timer = new FallbackTimer(options.clock, this.#fire);
    this.#keeping = new KeptParents(
      (id, changed) => this.#watch(id, { next: changed, error: changed, complete: changed }),
      MAX_KEPT_PARENTS, MAX_WATCHED_KEPT_PARENTS, KEPT_PARENT_TRUST_MS, (_, places) => this.#changed(places),
    );
  }

  /** Watches one instance through one router over the store's feeds (which holds a subscription only while one is watched). */
  #watch(instanceId: string, observer: Observer<StatusChange>): () => void {
    const { store } = this.#o;
    this.#router ??= new ChangeRouter(store.changes$, store.instanceChanges$?.bind(store));
    return this.#router.watch(instanceId, observer);
  }

  /**
   * Notes that `parent`, read running `executionId` at `nowMs`, keeps a child of a listing of `status`, and watches it
   * while a watch is free: its end, its purge or another execution of it ends the wait ({@link RetentionSweep.#ended}).
   */
  #wait(parent: string, executionId: string | undefined, status: OrchestrationRuntimeStatus, nowMs: number): void {
    if (this.#stopped) return; // a sweep that ends after the stop notes nothing the stop let go of
    let waited = this.#waiting.get(parent);
    if (waited !== undefined && waited.executionId !== executionId) {
      this.#ended(parent); // another execution than the one noted: that wait is over
      waited = undefined;
    }
    this.#waiting.delete(parent); // noted last: the earliest noted go first past the bound
    this.#waiting.set(parent, { executionId, statuses: (waited?.statuses ?? new Set()).add(status), readAt: nowMs });
    if (this.#waiting.size > MAX_KEPT_PARENTS) this.#ended(this.#waiting.keys().next().value!, false);
    this.#watchWait(parent);
  }

  /** Watches a parent of {@link RetentionSweep.#waiting} while a watch is free, until its wait is over. */
  #watchWait(parent: string): void {
    const waited = this.#waiting.get(parent);
    if (waited === undefined || this.#waitWatches.has(parent) || this.#waitWatches.size >= MAX_WATCHED_KEPT_PARENTS || this.#stopped) return;
    const ended = () => this.#ended(parent);
    const unwatch = this.#watch(parent, {
      next: ({ state }) => {
        if (waitIsOver(waited.executionId, state)) ended();
      },
      error: ended,
      complete: ended,
    });
    if (this.#waiting.has(parent)) this.#waitWatches.set(parent, unwatch);
    else unwatch(); // the feed had ended: the wait with it
  }

  /**
   * The parents of {@link RetentionSweep.#waiting} without a watch last read an interval or more before `nowMs`, the
   * longest unread first (then the earliest noted), at most `max`: what a sweep reads to see their waits over
   * (`#waitRead`). Each one read is due again by the next sweep, so in the order noted alone the same `max` would be
   * read at every sweep and the others never.
   */
  #waitsToRead(nowMs: number, max: number): string[] {
    const due: [string, number][] = [];
    for (const [id, { readAt }] of this.#waiting) {
      if (!this.#waitWatches.has(id) && readAt + this.#intervalMs <= nowMs) due.push([id, readAt]);
    }
    if (due.length > max) due.sort((a, b) => a[1] - b[1]); // stable: the earliest noted first among equals
    return due.slice(0, max).map(([id]) => id);
  }

  /** A parent of {@link RetentionSweep.#waiting} read (`state`) at `nowMs`: its wait ends, or goes on read then. */
  #waitRead(parent: string, state: InstanceState | undefined, nowMs: number): void {
    const waited = this.#waiting.get(parent);
    if (waited === undefined) return; // over meanwhile
    if (waitIsOver(waited.executionId, state)) return this.#ended(parent);
    waited.readAt = nowMs;
    this.#watchWait(parent); // a watch freed since takes it
  }

  /**
   * A lapsed entry of {@link RetentionSweep.#keeping} read (`state`) at `nowMs`: trusted again, or forgotten (true: it
   * changed, and every status is listed from the start at its next pass).
   */
  #keptRead(parent: string, noted: NotedKeptParent, state: InstanceState | undefined, nowMs: number): boolean {
    if (state !== undefined && state.executionId === noted.executionId && state.version === noted.version) {
      this.#keeping.renew(parent, nowMs);
      return false;
    }
    // Found by this read, in the reads the parents read again take: its children wait for the pass from the start.
    this.#keeping.forget(parent);
    this.#relistAll();
    return true;
  }

  /**
   * A remembered parent changed: the pages where what it kept was listed are read again first thing in the next sweep
   * that lists, and every status is listed from the start at its next pass.
   */
  #changed(places: readonly string[]): void {
    for (const place of places) {
      this.#relists.delete(place); // read last: the earliest go first past the bound
      this.#relists.add(place);
      if (this.#relists.size > MAX_RELISTS) this.#relists.delete(this.#relists.values().next().value!);
    }
    this.#relistAll();
  }

  /** Has the next pass of every status list from the start: something a pass went past may be due now. */
  #relistAll(): void {
    for (const listing of this.#listings.values()) listing.relistAt = -Infinity;
  }

  /**
   * Has the statuses whose listing went past a child `instanceId` kept while it ran list from the start again (`relist`:
   * false, only forgets it, past the bound), and releases its watch.
   */
  #ended(instanceId: string, relist = true): void {
    const waited = this.#waiting.get(instanceId);
    if (waited === undefined) return;
    this.#waiting.delete(instanceId);
    const unwatch = this.#waitWatches.get(instanceId);
    this.#waitWatches.delete(instanceId);
    unwatch?.();
    if (!relist) return;
    for (const status of waited.statuses) {
      const listing = this.#listings.get(status);
      if (listing) listing.relistAt = -Infinity;
    }
  }

  /** Arms the first sweep, at once (on the next tick of the clock). */
  start(): void {
    if (this.#stopped || this.#timer.armed || this.#running) return;
    this.#arm(0);
  }

  /**
   * Releases the timer and what the sweeper holds: its remembered parents, their watches, and where each listing
   * stands, a held page with it (`#forgetListings`: up to 100 states and the parents read for them). A sweep under way
   * stops at its next store call, and what it leaves is let go of as it ends. Resolves when it has. Never rejects, nor
   * throws: a clock that fails to clear the timer is logged (the timer then does nothing when it fires).
   */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#keeping.clear();
    for (const id of [...this.#waiting.keys()]) this.#ended(id, false);
    this.#forgetListings();
    this.#timer.clear();
    return this.#running ?? Promise.resolve();
  }

  /**
   * Lets go of where each status's listing stands, the page held by the last sweep with it: the next pass of every
   * status lists from the start, so nothing a pass went past is skipped (a held page was listed, not decided), and a
   * parent the sweeper no longer remembers is read again before any child it keeps goes. After a sweep that failed, and
   * at the stop (a worker started again after a stop is a new one: it lists from the start too).
   */
  #forgetListings(): void {
    this.#listings.clear();
    this.#relists.clear();
    this.#from = 0;
    this.#afterHold = undefined;
  }

  /**
   * Arms the next sweep `delayMs` from now. A clock that fails to arm it has it set on the platform's timer for at most
   * {@link BACKLOG_SWEEP_MS}, which asks the clock again (`#fire`); reported once, never thrown.
   */
  #arm(delayMs: number): void {
    // No longer than one timer waits: beyond it the platform's setTimeout (through a clock that hands it the delay as
    // it is) fires at once, each time, and the sweeps would follow each other without pause.
    const delay = Math.min(delayMs, MAX_TIMER_DELAY_MS);
    this.#dueAtMs = this.#clockMs() + delay;
    this.#timer.arm(delay, (error: unknown, fallback: Fallback, first: boolean) => {
      if (fallback === 'none') this.#log('retention sweeps stopped: neither the clock nor the platform could arm the next one', error);
      else if (first) this.#log(`the clock failed to arm the next retention sweep; it is asked again every ${BACKLOG_SWEEP_MS} ms until it does`, error);
    }, BACKLOG_SWEEP_MS);
  }

  /** The clock's time in ms, NaN when it gives no valid Date or throws (for the due time only). */
  #clockMs(): number {
    try {
      return this.#o.clock.now().getTime();
    } catch {
      return Number.NaN;
    }
  }

  readonly #fire = (onPlatform: boolean): void => {
    if (this.#stopped) return;
    // The platform's timer, set in place of one the clock failed to arm, does not run on the clock's time: the clock
    // is asked again for what is left (NaN, a clock that gives no time: the sweep runs now).
    const leftMs = onPlatform ? this.#dueAtMs - this.#clockMs() : 0;
    if (leftMs > 0) return this.#arm(leftMs);
    const afterHold = this.#afterHold;
    this.#afterHold = undefined;
    const running = (this.#running = this.#sweep(afterHold !== undefined).then(({ more, held }) => {
      // A page held is decided alone by a sweep a second later; the one after that comes as the sweep that held it
      // would have had its own come (a page that sweep holds again, its rounds left past 1,000, is decided first by it).
      if (held && afterHold === undefined) {
        this.#afterHold = more;
        return BACKLOG_SWEEP_MS;
      }
      return more || afterHold === true ? BACKLOG_SWEEP_MS : this.#intervalMs;
    }, (error: unknown) => {
      this.#forgetListings();
      // A store closed for good serves no later sweep either: the sweeps end (the worker hears of it from its own calls).
      if (isStoreClosed(error)) {
        this.#stopped = true;
        return undefined;
      }
      if (!this.#stopped) this.#log(`retention sweep failed; the next one in ${this.#intervalMs} ms`, error);
      return this.#intervalMs;
    }).then((delayMs) => {
      if (this.#running === running) this.#running = undefined;
      // Stopped meanwhile: what the sweep noted after the stop goes too.
      if (this.#stopped) this.#forgetListings();
      else if (delayMs !== undefined) this.#arm(delayMs);
    }));
  };

  /** Logs through the worker's logger; a logger that throws is ignored, so no sweep's promise ever rejects. */
  #log(message: string, error: unknown): void {
    try {
      this.#o.logger.error(message, error);
    } catch {
      // Nothing left to tell it with.
    }
  }

  /**
   * One sweep: how it ended ({@link SweepEnd}). Each status is listed on its own, back to its own cutoff: a status kept
   * for days is not read by every sweep of one kept for seconds. `heldOnly`: it decides the page the last sweep held,
   * and ends there (no parents read again, no listing).
   */
  async #sweep(heldOnly: boolean): Promise<SweepEnd> {
    const { clock, retention } = this.#o;
    const statuses = retainedStatuses(retention);
    const reads = new SweepReads();
    let purged = false;
    if (!heldOnly) {
      // The pages where what a remembered parent that changed kept was listed are read again first, each begun while
      // more than half the reads are left (the half the parents read again take: those then take what is left of it),
      // on what the memory still trusts: an entry whose trust lapsed since the last sweep is a parent they read.
      const startMs = readClock(clock, "the worker's clock").getTime();
      if (this.#relists.size > 0) this.#keeping.expire(startMs);
      purged = await this.#relistChanged(reads);
      if (this.#stopped) return IDLE;
      // What the memory holds past its time goes (and its watch with it); what it trusted too long is read again
      // first, and so are the running parents waited on without a watch, last read an interval ago or more: together
      // in half the sweep's reads at most (each kind half of that at least, when it has as many), so the listing always
      // has the other half. The lapsed ones left are read after the listing, in the reads it left; the rest by the next
      // sweeps (the lapsed ones meanwhile not trusted: a listing from the start reads them as any parent). Those the
      // pages read again found keeping are trusted again, and not read.
      const lapsed = this.#keeping.expire(startMs);
      const most = Math.max(0, reads.left - RETENTION_READS_PER_SWEEP / 2);
      const waits = this.#waitsToRead(startMs, Math.max(most / 2, most - lapsed.length));
      await this.#readAgain([
        ...this.#keptRereads(lapsed.slice(0, most - waits.length)),
        ...waits.map((id) => ({ id, found: (state: InstanceState | undefined, nowMs: number) => this.#waitRead(id, state, nowMs) })),
      ], reads);
      if (this.#stopped) return IDLE;
    }
    let more = false;
    for (let i = 0; i < statuses.length; i++) {
      const index = (this.#from + i) % statuses.length;
      const status = statuses[index]!;
      const listing = this.#listings.get(status) ?? { midPass: false, relistAt: -Infinity };
      this.#listings.set(status, listing);
      for (;;) {
        // Its bound of reads: a second later when it purged something (more may be due), else an interval later, past
        // what it read (the tokens), so instances kept for days are not read again every second. A sweep that decides
        // a held page alone ends with it, the next going on from there.
        if (reads.left === 0 || (heldOnly && listing.held === undefined)) {
          this.#from = index;
          return { more: more || purged, held: false };
        }
        await reads.turn();
        if (this.#stopped) return IDLE;
        const now = readClock(clock, "the worker's clock");
        const cutoff = retentionCutoff(now, status, retention);
        if (cutoff === undefined) break;
        // A page held by the last sweep (its parents' reads went past that sweep's) is decided first, not listed again.
        const page = listing.held ?? await this.#list(status, listing, now, cutoff, reads);
        listing.held = undefined;
        const done = await this.#purgeDue(page, now, status, reads);
        if (done === 'held') {
          listing.held = page;
          this.#from = index;
          return { more: more || purged, held: true };
        }
        // A page whose purge was left unfinished is listed again by the next sweep (its token is kept).
        if (done === false) {
          more = true;
          break;
        }
        if (done.purged > 0) purged = true;
        listing.relistAt = Math.min(listing.relistAt, done.recheckAt);
        const { instances } = page;
        if (instances.length > 0) {
          listing.last = pageKeyOf(instances.at(-1)!);
          listing.after = endedKeyOf(instances.at(-1)!);
        }
        if (page.last) {
          listing.midPass = false;
          // In end order, the next pass goes on a little before the place reached (an end stamped late joins it there).
          if (listing.after !== undefined) listing.after = resumeKeyOf(listing.after, now.getTime());
          break;
        }
        listing.continuationToken = page.next;
      }
    }
    this.#from = 0;
    // The reads the listing left read on through the lapsed ended parents the first half did not reach, so that with
    // thousands remembered each is still read again about its 5 minutes after it was trusted, not 500 a sweep (3,000
    // at a sweep a minute: 9 minutes). One found changed has its children listed from the start by the next sweep, a
    // second later.
    if (reads.left > 0 && !heldOnly) {
      const left = this.#keeping.expire(readClock(clock, "the worker's clock").getTime()).slice(0, reads.left);
      await this.#readAgain(this.#keptRereads(left, () => void (more = true)), reads);
      if (this.#stopped) return IDLE;
    }
    return { more, held: false };
  }

  /**
   * Lists the next page of `status` at `now` up to `cutoff`, no more instances than `reads` has left (each counted):
   * from where `listing` stands, a pass begun first when none is under way.
   */
  async #list(status: OrchestrationRuntimeStatus, listing: Listing, now: Date, cutoff: Date, reads: SweepReads): Promise<Page> {
    const { store, retention, bounded } = this.#o;
    const inEndOrder = store.listEnded !== undefined;
    if (!listing.midPass) {
      const period = retentionPeriodOf(status, retention)!;
      beginPass(listing, now.getTime(), cutoff.getTime(), inEndOrder ? Math.max(period, ENDED_RELIST_MS) : period);
    }
    const { continuationToken, after } = listing;
    const place: PagePlace = {
      status, ...(continuationToken === undefined ? {} : { continuationToken }), ...(after === undefined ? {} : { after }),
    };
    return this.#listAt(place, now, cutoff, Math.min(RETENTION_PAGE_SIZE, reads.left), reads);
  }

  /** Lists the page at `place` at `now` up to `cutoff`, `limit` instances at most, counted in `reads`. */
  async #listAt(place: PagePlace, now: Date, cutoff: Date, limit: number, reads: SweepReads): Promise<Page> {
    const { store, bounded } = this.#o;
    const { status, continuationToken, after } = place;
    // In end order, a page shorter than asked is the last; by createdTime, one without a token.
    const { instances, next, last } = store.listEnded !== undefined
      ? await bounded(() => store.listEnded!({ runtimeStatus: status, endedTo: cutoff, limit, ...(after ? { after } : {}) }), 'listEnded')
        .then((listed) => ({ instances: listed, next: undefined, last: listed.length < limit }))
      : await bounded(() => store.queryInstances({
        runtimeStatus: [status], createdTimeTo: cutoff, pageSize: limit, showInput: false,
        ...(continuationToken === undefined ? {} : { continuationToken }),
      }), 'queryInstances').then((listed) => ({ instances: listed.instances, next: listed.continuationToken, last: listed.continuationToken === undefined }));
    reads.spend(instances.length);
    return { instances, next, last, parents: new Map(), listedAtMs: now.getTime(), place };
  }

  /**
   * Reads again the pages of {@link RetentionSweep.#relists}, the earliest first, while more than half the sweep's reads
   * are left (the reads of the parents a page asks for counted in the sweep's, as a listing's), and purges what they hold that is due now: whether it purged any. Each is read once: one whose parents' reads go
   * past those reads, or whose purge is left unfinished, is left to the pass from the start that its change asked for.
   */
  async #relistChanged(reads: SweepReads): Promise<boolean> {
    const { clock, retention } = this.#o;
    let purged = false;
    for (const key of this.#relists) {
      const place = placeOf(key);
      const limit = Math.min(RETENTION_PAGE_SIZE, reads.left - RETENTION_READS_PER_SWEEP / 2);
      if (limit <= 0) break;
      this.#relists.delete(key);
      await reads.turn();
      if (this.#stopped) return false;
      const now = readClock(clock, "the worker's clock");
      const cutoff = retentionCutoff(now, place.status, retention);
      if (cutoff === undefined) continue;
      const done = await this.#purgeDue(await this.#listAt(place, now, cutoff, limit, reads), now, place.status, reads);
      if (this.#stopped) return false;
      if (typeof done !== 'object') continue;
      if (done.purged > 0) purged = true;
      const listing = this.#listings.get(place.status);
      if (listing !== undefined) listing.relistAt = Math.min(listing.relistAt, done.recheckAt);
    }
    return purged;
  }

  /** The reads of lapsed entries of {@link RetentionSweep.#keeping} (`#keptRead`), `changed` told of each found changed. */
  #keptRereads(lapsed: readonly [string, NotedKeptParent][], changed = (): void => undefined): Reread[] {
    return lapsed.map(([id, noted]) => ({
      id,
      found: (state, nowMs) => {
        if (this.#keptRead(id, noted, state, nowMs)) changed();
      },
    }));
  }

  /**
   * Reads `rereads` again, {@link RETENTION_PAGE_SIZE} at a time (a macrotask between two store calls of the sweep),
   * as many as `reads` has left, each handed to its `found` with the clock's time; none more once stopped.
   */
  async #readAgain(rereads: readonly Reread[], reads: SweepReads): Promise<void> {
    const { store, clock, bounded } = this.#o;
    for (let from = 0; from < rereads.length && reads.left > 0; from += RETENTION_PAGE_SIZE) {
      await reads.turn();
      if (this.#stopped) return;
      const batch = rereads.slice(from, from + Math.min(RETENTION_PAGE_SIZE, reads.left));
      reads.spend(batch.length);
      const read = await Promise.all(batch.map(({ id }) => bounded(() => store.getInstance(id), 'getInstance of a parent read again')));
      const nowMs = readClock(clock, "the worker's clock").getTime();
      batch.forEach(({ found }, i) => found(read[i], nowMs));
    }
  }

  /**
   * Purges what `planRetention` finds due in `page`, reading the parents it asks for, round after round, as many as
   * `reads` has left (into `page.parents`): how many it purged and when a candidate it left may be due (its
   * `recheckAt`, or at once when a member was found changed); 'held' when a round went past `reads` (nothing purged:
   * the page is kept, with the ended or gone parents read for it, for the next sweep to go on with); or false when it
   * left some for the next sweep (stopped, or a set refused more than {@link SET_ATTEMPTS} times).
   */
  async #purgeDue(
    page: Page, now: Date, status: OrchestrationRuntimeStatus, reads: SweepReads,
  ): Promise<{ purged: number; recheckAt: number } | 'held' | false> {
    const { store, retention, bounded } = this.#o;
    const { instances: candidates, parents } = page;
    const keeping = this.#keeping;
    let decision = planRetention(candidates, parents, now, retention, keeping.map);
    while (decision.kind === 'read') {
      await reads.turn();
      if (this.#stopped) return false;
      const ids = decision.instanceIds.slice(0, reads.left);
      reads.spend(ids.length);
      const read = await Promise.all(ids.map((id) => bounded(() => store.getInstance(id), 'getInstance')));
      ids.forEach((id, i) => parents.set(id, read[i]));
      if (ids.length < decision.instanceIds.length) {
        // Held: a parent read running is read again by the sweep that decides (a watch of it then would miss its end).
        for (const [id, state] of parents) if (state !== undefined && !isTerminalStatus(state.runtimeStatus)) parents.delete(id);
        return 'held';
      }
      decision = planRetention(candidates, parents, now, retention, keeping.map);
    }
    // A parent that kept a child while it ran, seen ended, gone or running another execution: what its children's
    // listings went past is listed again.
    for (const { instanceId } of candidates) this.#ended(instanceId);
    for (const [id, state] of parents) {
      const waited = this.#waiting.get(id);
      if (waited !== undefined && waitIsOver(waited.executionId, state)) this.#ended(id);
    }
    const { members, dependsOn, keeps, waitsOn } = decision;
    // Trusted from the page's listing: what it found may have been read by the sweep before this one.
    if (keeps && !this.#stopped) keeping.note(keeps, page.listedAtMs);
    // Where the children of each remembered parent were listed: read again at once when that parent changes.
    const place = placeKey(page.place);
    for (const { parentInstanceId } of candidates) if (parentInstanceId !== undefined) keeping.place(parentInstanceId, place);
    for (const id of waitsOn ?? []) {
      const parent = parents.get(id) ?? candidates.find((candidate) => candidate.instanceId === id);
      this.#wait(id, parent?.executionId, status, now.getTime());
    }
    // The members found changed: neither they nor the members decided on their snapshots (a sub-orchestration its
    // rewound parent keeps again) are sent, in this set or a later one.
    const changedMembers = new Set<string>();
    let purged = 0;
    for (let from = 0; from < members.length; from += MAX_PURGE_SET) {
      let set: readonly PurgeMember[] = membersLeft(members.slice(from, from + MAX_PURGE_SET), dependsOn, changedMembers);
      // A member that changed since it was read (or that another sweep purged) fails the whole set, which deleted
      // nothing: the set is sent again without it, a few times; past that (another worker sweeping the same page at
      // the same time), the rest is left to the next sweep, which reads the page again.
      for (let attempt = 1; set.length > 0; attempt++) {
        if (attempt > SET_ATTEMPTS) return false;
        await reads.turn();
        if (this.#stopped) return false;
        const { changed } = await bounded(() => store.purgeInstanceSet(set), 'purgeInstanceSet');
        if (changed === undefined) {
          purged += set.length; // every member, or none
          break;
        }
        changedMembers.add(changed);
        set = membersLeft(set, dependsOn, changedMembers);
      }
    }
    // A member found changed (a late result recorded, rewound) may be due again behind the listing's place.
    return { purged, recheckAt: changedMembers.size > 0 ? -Infinity : decision.recheckAt ?? Infinity };
  }
}

/**
 * What one sweep may still read: {@link RETENTION_READS_PER_SWEEP} instances, each counted once, whether a listing
 * returned it or it was read by id (a parent a page asks for, a remembered or waited-on parent read again): a round that
 * reads one parent costs one. The one rule of a sweep's bound: a listing asks for no more than is left, a round of
 * parents' reads reads no more (its page is then held for the next sweep, `Page`), and the parents read again before
 * the listing take half at most, those after it what the listing left. It also paces the sweep: a macrotask between
 * two of its store calls, so steps and timers go on meanwhile.
 */
class SweepReads {
  #left = RETENTION_READS_PER_SWEEP;
  #calls = 0;

  /** The reads left. */
  get left(): number {
    return this.#left;
  }

  /** Counts `count` instances read (no more than are left: the callers ask for no more). */
  spend(count: number): void {
    this.#left = Math.max(0, this.#left - count);
  }

  /** Waits for the next macrotask, unless this is the sweep's first store call. */
  async turn(): Promise<void> {
    if (this.#calls++ > 0) await new Promise<void>((resolve) => onNextMacrotask(resolve));
  }
}

/**
 * How a sweep ended, which sets when the next comes ({@link BACKLOG_SWEEP_MS}): `more`, with more left after progress
 * (a second later, else an interval later); `held`, a page held for the next (a second later, deciding it alone).
 */
interface SweepEnd {
  readonly more: boolean;
  readonly held: boolean;
}

/** A sweep stopped, or with nothing more it can do now. */
const IDLE: SweepEnd = { more: false, held: false };

/** A page of a status's listing, with what a sweep read for it so far. */
interface Page {
  readonly instances: readonly InstanceState[];
  /** The continuation token of the page after it (a listing by createdTime). */
  readonly next: string | undefined;
  /** It is the last page of its pass. */
  readonly last: boolean;
  /**
   * The parents `planRetention` asked for, read (`undefined`: gone). Of a page held for the next sweep, only the ended
   * or gone ones: each decides as it did (a member's purge holds only while it is the snapshot read, an ended parent
   * found keeping is read again 5 minutes after the listing, and one gone keeps nothing it could ever keep again).
   */
  readonly parents: Map<string, InstanceState | undefined>;
  /** When it was listed (ms on the clock): the ended parents found keeping are trusted from then. */
  readonly listedAtMs: number;
  /** Where it was listed from: the page read again when a parent of one of its instances changes. */
  readonly place: PagePlace;
}

/** Where a page of a status's listing begins: its continuation token (by createdTime) or the key it goes on after (in end order). */
interface PagePlace {
  readonly status: OrchestrationRuntimeStatus;
  readonly continuationToken?: string;
  readonly after?: EndedKey;
}

/** `place` as a string, one for each place: what the sweeper's memory holds, so that a page listed again is held once. */
function placeKey({ status, continuationToken, after }: PagePlace): string {
  return JSON.stringify([status, continuationToken ?? null, after === undefined ? null : [after.endedMs, after.instanceId]]);
}

/** The place {@link placeKey} gave `key` for. */
function placeOf(key: string): PagePlace {
  const [status, continuationToken, after] = JSON.parse(key) as [OrchestrationRuntimeStatus, string | null, [number, string] | null];
  return {
    status, ...(continuationToken === null ? {} : { continuationToken }), ...(after === null ? {} : { after: { endedMs: after[0], instanceId: after[1] } }),
  };
}

/** A parent a sweep reads again, and what it does with the state read (at the clock's time then). */
interface Reread {
  readonly id: string;
  readonly found: (state: InstanceState | undefined, nowMs: number) => void;
}

/** A running parent a sweeper waits on (`RetentionSweep.#waiting`). */
interface Waited {
  /** The execution it ran when it was found keeping a due sub-orchestration. */
  readonly executionId: string | undefined;
  /** The statuses whose listing went past such a child: listed from the start again once its wait is over. */
  readonly statuses: Set<OrchestrationRuntimeStatus>;
  /** When it was last read (ms on the clock): one without a watch is read again an interval later. */
  readAt: number;
}

/**
 * Where the listing of one retained status stands between sweeps. A pass lists the status up to its cutoff, page by
 * page; the next pass begins after the last key listed (`last`) unless something it went past may be due by now
 * (`relistAt`), when it lists from the start again.
 */
interface Listing {
  /** A pass is under way: its next page follows `continuationToken`. */
  midPass: boolean;
  /** A page of the pass whose parents' reads went past its sweep's: the next sweep decides it alone, not listed again. */
  held?: Page | undefined;
  continuationToken?: string | undefined;
  /** The key of the last instance listed, where the next pass begins when it goes on. */
  last?: PageKey | undefined;
  /**
   * Of a store that lists in end order (`Store.listEnded`): the key the listing goes on after, within a pass the last
   * instance listed, between passes that key moved back by `resumeKeyOf` (an end stamped late).
   */
  after?: EndedKey | undefined;
  /**
   * When (ms) the next pass lists from the start: the earliest of the last full pass's start plus the status's period
   * (an instance that ended behind the listing's place, after its place was listed, is due no earlier than a period
   * after that), the time an instance left behind becomes due (`planRetention`'s `recheckAt`), and at once when a
   * remembered parent changed or a member was found changed.
   */
  relistAt: number;
}

/**
 * Begins a pass of `listing` at `nowMs`: after its last key while nothing it went past may be due (a token of that key,
 * bounded by the cutoff), else from the start, the next full pass then due a period later at most.
 */
function beginPass(listing: Listing, nowMs: number, cutoffMs: number, periodMs: number): void {
  listing.midPass = true;
  if (listing.last !== undefined && nowMs < listing.relistAt) {
    listing.continuationToken = encodeContinuationToken(listing.last, Math.max(cutoffMs, listing.last.createdTime));
    return;
  }
  listing.continuationToken = undefined;
  listing.last = undefined;
  listing.after = undefined;
  listing.relistAt = nowMs + periodMs;
}
