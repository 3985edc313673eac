import type { Clock, ClockTimer } from '@durable-rx/runtime';

/**
 * The clock check MongoStore runs when it connects and then periodically ({@link ClockSkewMonitor}). Leases are
 * judged by each worker's clock (`ClaimOptions.now`), so workers whose clocks disagree by more than a lease margin can
 * take over each other's live leases; claims are refused past a share of the lease ({@link claimSkewProblem}, on this
 * process's measured skew), measuring again first when the last
 * measurement is older than {@link CLAIM_REMEASURE_MS} ({@link elapsedAtLeast}). The server's clock (`localTime` of the
 * `hello` reply) is the shared reference.
 */

/** Default largest tolerated difference between this process's clock and the server's. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 2_000;

/** Default time between two clock checks after the one at connect. */
export const DEFAULT_CLOCK_SKEW_CHECK_MS = 60_000;

/** How long a skew that stays beyond the tolerance goes without a new warning. */
export const CLOCK_SKEW_REWARN_MS = 3_600_000;

/** What the clock check measured. */
export interface ClockSkew {
  /** This process's clock minus the server's, corrected by half the round trip (positive: this clock is ahead). */
  readonly skewMs: number;
  /** The measurement's uncertainty: half the round trip. */
  readonly uncertaintyMs: number;
}

/**
 * Measures the skew from the server's `localTime` and the local times just before the request and just after the
 * reply (NTP-style: the server read its clock about half-way through the round trip).
 *
 * @example
 * ```ts
 * measureClockSkew(new Date(1_000), 990, 1_030); // { skewMs: 10, uncertaintyMs: 20 }
 * ```
 */
export function measureClockSkew(serverTime: Date, sentAtMs: number, receivedAtMs: number): ClockSkew {
  const roundTrip = Math.max(0, receivedAtMs - sentAtMs);
  return { skewMs: sentAtMs + roundTrip / 2 - serverTime.getTime(), uncertaintyMs: roundTrip / 2 };
}

/**
 * The skew a `hello` reply shows (its `localTime`), sent at `sentAtMs` and received at `receivedAtMs` by this
 * process's clock; `undefined` when the reply carries no time.
 *
 * @example
 * ```ts
 * skewOfHello({ ok: 1, localTime: new Date(1_000) }, 990, 1_030); // { skewMs: 10, uncertaintyMs: 20 }
 * ```
 */
export function skewOfHello(reply: { readonly [key: string]: unknown }, sentAtMs: number, receivedAtMs: number): ClockSkew | undefined {
  const localTime = reply['localTime'];
  return localTime instanceof Date ? measureClockSkew(localTime, sentAtMs, receivedAtMs) : undefined;
}

/**
 * The warning to log for a measured skew, or `undefined` when the clocks agree within `maxSkewMs` (allowing for the
 * measurement's uncertainty).
 *
 * @example
 * ```ts
 * clockSkewWarning({ skewMs: 5_000, uncertaintyMs: 1 }, 2_000); // 'This process\u2019s clock is 5000 ms ahead of ...'
 * ```
 */
export function clockSkewWarning(skew: ClockSkew, maxSkewMs: number): string | undefined {
  if (Math.abs(skew.skewMs) - skew.uncertaintyMs <= maxSkewMs) return undefined;
  const amount = Math.round(Math.abs(skew.skewMs));
  const direction = skew.skewMs > 0 ? 'ahead of' : 'behind';
  return (
    `This process\u2019s clock is ${amount} ms ${direction} the MongoDB server\u2019s (tolerated: ${maxSkewMs} ms). ` +
    'Leases and timers are judged by each worker\u2019s clock: a worker whose clock runs ahead can take over live ' +
    'leases of others (work runs twice), one that runs behind delays timers. Synchronise the clocks (NTP). ' +
    SERVER_CLOCK_HINT
  );
}

/**
 * What the clock warnings and claim refusals add: the skew is measured against the server's `localTime`, so a server
 * whose clock is off makes every process report about the same skew, and refusing claims then stops every worker.
 */
export const SERVER_CLOCK_HINT =
  'The skew is measured against the MongoDB server\u2019s clock: when every process reports about the same skew, the ' +
  'server\u2019s clock is the one off; run NTP on the MongoDB members too.';

/**
 * The largest share of a claim's lease this process's clock may be off the server's before the store refuses the
 * claim: 10 %, so 3 s of a 30 s orchestration lease and 30 s of a 5 min activity lease.
 */
export const MAX_LEASE_SKEW_FRACTION = 0.1;

/**
 * Why a claim for a lease of `leaseMs` must be refused with this process's clock where `skew` measured it, or
 * `undefined` when the claim may go ahead. A claim judges which leases have expired, and writes the expiry of its own,
 * by the worker's clock (`ClaimOptions.now`, normally this process's system clock, which is what is judged here): a clock ahead of the others takes over leases still live for their
 * holders, and one behind writes leases that the others see expire before it is done; either way an activity may run
 * twice. So a claim is refused while the skew is certainly (less the measurement's uncertainty, as the warning
 * judges it) more than {@link MAX_LEASE_SKEW_FRACTION} of the lease it asks for. No measurement (the server sends no
 * time) refuses nothing.
 *
 * Refusing was chosen over correcting the times by the measured skew: the runtime keeps its own lease and timer times
 * on its clock (renewals, a step's deadline, timers' due times that every claim compares), so times corrected in the
 * store alone would disagree with the worker's, and a skew measured once a minute can be stale by the time it is used.
 *
 * @example
 * ```ts
 * claimSkewProblem({ skewMs: 5_000, uncertaintyMs: 10 }, 30_000); // 'this process's clock is 5000 ms ahead of ...'
 * claimSkewProblem({ skewMs: 5_000, uncertaintyMs: 10 }, 300_000); // undefined: 5 s is within 10 % of 5 min
 * ```
 */
export function claimSkewProblem(skew: ClockSkew | undefined, leaseMs: number, fraction = MAX_LEASE_SKEW_FRACTION): string | undefined {
  if (skew === undefined) return undefined;
  const allowedMs = fraction * leaseMs;
  if (!(Math.abs(skew.skewMs) - skew.uncertaintyMs > allowedMs)) return undefined;
  const amount = Math.round(Math.abs(skew.skewMs));
  const direction = skew.skewMs > 0 ? 'ahead of' : 'behind';
  return (
    `this process\u2019s clock is ${amount} ms ${direction} the MongoDB server\u2019s, ` +
    `more than ${Math.round(allowedMs)} ms (${Math.round(fraction * 100)} % of the ${leaseMs} ms lease asked for): claims are ` +
    'refused until the clocks agree, since leases judged on this clock would take over live leases of other workers or ' +
    'expire early for them (an activity would run twice). Synchronise the clocks (NTP): a claim that would be refused ' +
    `measures again first when the last measurement is over ${CLAIM_REMEASURE_MS / 1000} s old. A single process ` +
    '(no other worker to race) may turn the refusal off with refuseClaimsOnClockSkew: false. ' + SERVER_CLOCK_HINT
  );
}

/**
 * The lease a client's own command (an unclaimed write: terminate, suspend, resume) is judged against when it would
 * take over the lease an instance holds: the runtime's default orchestration lease, 30 s, so 3 s of skew
 * ({@link MAX_LEASE_SKEW_FRACTION}), as a worker's claim of it would be.
 */
export const TAKEOVER_LEASE_MS = 30_000;

/**
 * Why a client's own command (an unclaimed write) must not take over the lease an instance holds (`holdsLease`: its
 * stored lease, live or expired at the client's time), with this process's clock where `skew` measured it: the same
 * refusal as a claim's ({@link claimSkewProblem}), for a lease of {@link TAKEOVER_LEASE_MS}. The command's check
 * judges the lease expired by the client's clock (`UnclaimedLease.now`): a client 35 s ahead took over a live 30 s
 * lease while its worker was still working. Refused, the write fails its check and the client sends the command as a
 * message, which a worker takes under a lease of its own. `undefined` when it may go ahead (no lease held, no
 * measurement, or a clock within the bound).
 *
 * @example
 * ```ts
 * takeoverSkewProblem({ skewMs: 35_000, uncertaintyMs: 5 }, true);  // 'this process's clock is 35000 ms ahead of ...'
 * takeoverSkewProblem({ skewMs: 35_000, uncertaintyMs: 5 }, false); // undefined: no lease to take over
 * ```
 */
export function takeoverSkewProblem(skew: ClockSkew | undefined, holdsLease: boolean, fraction = MAX_LEASE_SKEW_FRACTION): string | undefined {
  return holdsLease ? claimSkewProblem(skew, TAKEOVER_LEASE_MS, fraction) : undefined;
}

/**
 * How far before the last healthy moment of a change feed a status resync re-reads changes (`updatedAt`, and the
 * purge records' `purgedAt`): 5 minutes. MongoDB stamps both with its own clock (`instanceUpdate`, `STAMP_UPDATED_AT`,
 * `STAMP_PURGED_AT`), so no writer's clock moves them; the margin covers commits that land after their write, and
 * writers of earlier versions, which wrote their own clock's time (one behind the server by up to 5 minutes).
 */
export const RESYNC_MARGIN_MS = 5 * 60_000;

/**
 * Where a status resync starts reading `updatedAt`: the feed's last healthy moment (`healthyAt`, on this process's
 * clock) moved onto the server's clock by this process's measured `skew` when it runs ahead (a reader 90 s ahead would
 * otherwise start 90 s after the writes it must re-read), less {@link RESYNC_MARGIN_MS} for the writers' clocks. A
 * reader behind the server starts earlier already, and is not moved later: the window only ever widens.
 *
 * @example
 * ```ts
 * resyncFrom(new Date(600_000), undefined);                        // 300_000: the margin alone
 * resyncFrom(new Date(600_000), { skewMs: 90_000, uncertaintyMs: 10 }); // 209_990: moved by the skew too
 * ```
 */
export function resyncFrom(healthyAt: Date, skew: ClockSkew | undefined, marginMs: number = RESYNC_MARGIN_MS): Date {
  const ahead = skew === undefined || !Number.isFinite(skew.skewMs) ? 0 : Math.max(0, skew.skewMs + Math.max(0, skew.uncertaintyMs));
  return new Date(healthyAt.getTime() - ahead - marginMs);
}

/**
 * How old the last clock measurement may be before a claim that would be refused measures again
 * ({@link ClockSkewMonitor.refreshIfStale}): so a clock that NTP set right is noticed within this long of the next
 * claim, whatever `clockSkewCheckMs` (also 0), while a clock that stays off costs at most one `hello` per this long.
 */
export const CLAIM_REMEASURE_MS = 10_000;

/**
 * Whether at least `gapMs` passed since `sinceMs` at `nowMs` (times of a monotonic source, `performance.now()`): true
 * when nothing happened yet (`sinceMs` undefined) and when `nowMs` is before `sinceMs` (a source that went back
 * should not silence what it rate-limits for good).
 *
 * @example
 * ```ts
 * elapsedAtLeast(1_000, 11_000, 10_000); // true
 * elapsedAtLeast(1_000, 5_000, 10_000);  // false
 * ```
 */
export function elapsedAtLeast(sinceMs: number | undefined, nowMs: number, gapMs: number): boolean {
  return sinceMs === undefined || nowMs < sinceMs || nowMs - sinceMs >= gapMs;
}

/** Settings of a {@link ClockSkewMonitor}. */
export interface ClockSkewMonitorOptions {
  /** Times the checks and the re-warnings (the store's clock). */
  readonly clock: Clock;
  /** Time between two checks; 0 or less: no periodic check (the measurement at connect only). */
  readonly intervalMs: number;
  readonly maxSkewMs: number;
  /**
   * Takes one measurement against the server (`undefined`: the server sent no time). May reject; should end soon after
   * `signal` aborts (the monitor's {@link ClockSkewMonitor.stop}).
   */
  readonly measure: (signal: AbortSignal) => Promise<ClockSkew | undefined>;
  /** A monotonic time in ms that rate-limits {@link ClockSkewMonitor.refreshIfStale}. Default `performance.now()`. */
  readonly elapsedMs?: () => number;
  /** Where warnings go (the store's logger, with its name in front). */
  readonly warn: (message: string, details?: unknown) => void;
}

/**
 * The clock check of a store, at connect and then every `intervalMs` on a timer the monitor owns until {@link stop}:
 * a clock that drifts (or is stepped) after connect is reported the same way as one that was off at connect, with a
 * warning ({@link clockSkewWarning}), repeated at most every {@link CLOCK_SKEW_REWARN_MS} while the skew lasts and at
 * once when it comes back after having been within the tolerance. A failed measurement is reported and retried at the
 * next interval. A claim about to be refused asks for a measurement of its own ({@link refreshIfStale}), at most one per
 * {@link CLAIM_REMEASURE_MS}. One check runs at a time; the timer never keeps the process alive by itself, and
 * {@link stop} aborts a check under way.
 *
 * @example
 * ```ts
 * const monitor = new ClockSkewMonitor({ clock, intervalMs: 60_000, maxSkewMs: 2_000, measure, warn }, skewAtConnect);
 * monitor.start();
 * monitor.latest; // the last measurement
 * await monitor.stop();
 * ```
 */
export class ClockSkewMonitor {
  readonly #o: ClockSkewMonitorOptions;
  #latest: ClockSkew | undefined;
  #warnedAtMs: number | undefined;
  #timer: ClockTimer | undefined;
  #checking: Promise<void> | undefined;
  /** Aborts the check under way at {@link stop}. */
  #abort: AbortController | undefined;
  /** When the last check began (or the monitor was made, for the measurement at connect), on `elapsedMs`. */
  #lastCheckAt: number;
  readonly #elapsedMs: () => number;
  #stopped = false;

  /** Records the measurement taken at connect (`initial`), warning about it as any later one. */
  constructor(options: ClockSkewMonitorOptions, initial: ClockSkew | undefined) {
    this.#o = options;
    this.#elapsedMs = options.elapsedMs ?? (() => performance.now());
    this.#lastCheckAt = this.#elapsedMs();
    this.record(initial);
  }

  /** The latest measurement (`undefined`: the server sent no time). */
  get latest(): ClockSkew | undefined {
    return this.#latest;
  }

  /** Takes a measurement: keeps it, and warns when it is beyond the tolerance and no warning went out recently. */
  record(skew: ClockSkew | undefined): void {
    if (skew === undefined) return;
    this.#latest = skew;
    const warning = clockSkewWarning(skew, this.#o.maxSkewMs);
    if (warning === undefined) {
      this.#warnedAtMs = undefined; // a later excursion warns at once
      return;
    }
    const nowMs = this.#o.clock.now().getTime();
    if (this.#warnedAtMs !== undefined && nowMs - this.#warnedAtMs < CLOCK_SKEW_REWARN_MS) return;
    this.#warnedAtMs = nowMs;
    this.#o.warn(warning);
  }

  /** Schedules the periodic checks (none when `intervalMs` is 0 or less). */
  start(): void {
    if (this.#stopped || this.#o.intervalMs <= 0 || this.#timer !== undefined) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#checkOnce().then(() => this.start());
    }, this.#o.intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * Measures again when the last check began at least `minAgeMs` ago (on `elapsedMs`), or joins the check under way;
   * resolves once it is recorded (never rejects: a failed check is warned about and leaves {@link latest} as it was).
   * Nothing after {@link stop}. Used by a claim that would be refused, whatever the periodic interval (also 0).
   */
  refreshIfStale(minAgeMs: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#checking !== undefined) return this.#checking;
    if (!elapsedAtLeast(this.#lastCheckAt, this.#elapsedMs(), minAgeMs)) return Promise.resolve();
    return this.#checkOnce();
  }

  /** Cancels the next check, aborts one under way and waits for it to end. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort(new Error('the clock check was stopped'));
    await this.#checking;
  }

  /** The check under way, or a new one: one at a time, shared by the timer and {@link refreshIfStale}. */
  #checkOnce(): Promise<void> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
      this.#abort = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<void> {
    this.#lastCheckAt = this.#elapsedMs();
    const abort = new AbortController();
    this.#abort = abort;
    try {
      const skew = await this.#o.measure(abort.signal);
      if (!this.#stopped) this.record(skew);
    } catch (error) {
      if (!this.#stopped) {
        const next = this.#o.intervalMs > 0 ? `retrying in ${this.#o.intervalMs} ms` : `retried by a claim it would refuse after ${CLAIM_REMEASURE_MS} ms`;
        this.#o.warn(`checking this process\u2019s clock against the server\u2019s failed; ${next}`, error);
      }
    }
  }
}
