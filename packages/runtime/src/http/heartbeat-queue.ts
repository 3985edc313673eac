import type { Clock } from '../env/clock.js';
import { FallbackTimer, fallbackText, type Fallback } from '../env/fallback-timer.js';
import { FirstFailure } from '../env/first-failure.js';
import type { Logger } from '../env/logger.js';
import { readClock } from '../model/validation.js';

/** How the handler's errors name its clock (see `readClock`). */
const HANDLER_CLOCK = "the HTTP handler's clock";

/** A member of a {@link HeartbeatQueue} (an open SSE connection). Its links are the queue's: only it sets them. */
export interface Beating {
  /** The neighbours in the queue (`undefined` at its ends, and while not queued). */
  beatPrev: Beating | undefined;
  beatNext: Beating | undefined;
  /** When its next heartbeat is due, in ms on the clock (since 1970); -1 while not queued. */
  beatDue: number;
  /** Sends one heartbeat. If it throws, the member is dropped from the queue (it beats no more). */
  beat(): void;
}

/**
 * The heartbeats of every open connection of a handler on one clock timer, instead of a timer (and its callback) per
 * connection: a member beats `intervalMs` after it was added, then every `intervalMs` after its previous beat, as
 * long as it is queued, exactly when a timer of its own would have.
 *
 * Every member waits the same interval, so the order in which members are due is the order in which they were
 * (re)queued: a FIFO list (linked through the members themselves, so nothing is allocated per member) whose head is
 * due first. The timer is armed for the head, and only while the queue holds a member: removing the last clears it,
 * so an idle handler holds no timer. A timer that fires early (its member left meanwhile) arms itself again for the
 * new head. A member whose `beat()` throws is dropped; the others keep their heartbeats.
 *
 * Due times are read on the clock's wall time, and the timer waits at most one interval. A clock set back by more
 * than an interval (an NTP step, a resumed VM) makes every member due at once, each then requeued from the new time;
 * a smaller step back only delays the members due before it: one may then wait up to about two intervals (one on the
 * timer, then the step itself) for its next heartbeat.
 *
 * The clock is read with `readClock`: a reading that throws or is no valid Date (a custom `Clock` gone wrong) is
 * reported to the logger (once, until the clock reads again) and throws nothing out of a call or the timer's callback.
 * Meanwhile every member beats every interval, in queue order, keeping its due time; a member added meanwhile beats
 * at the next round. Once the clock reads again, the members are served by their due times as before.
 *
 * @example
 * ```ts
 * const heartbeats = new HeartbeatQueue(systemClock, 15_000, consoleLogger);
 * heartbeats.add(connection); // connection.beat() in 15 s, 30 s, …
 * heartbeats.remove(connection);
 * ```
 */
export class HeartbeatQueue {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  #head: Beating | undefined;
  #tail: Beating | undefined;
  /** Armed for the head while the queue holds a member (unref'd: it keeps no server's process alive). */
  readonly #timer: FallbackTimer;
  /** Whether a reading failed since the clock last gave a time (reported once: `FirstFailure`). */
  readonly #readings = new FirstFailure();

  /** `logger` is told of a clock that gives no time (it must not throw: the handler's is guarded). */
  constructor(clock: Clock, intervalMs: number, logger: Logger) {
    this.#clock = clock;
    // Cleared through the handler's guarded clock, which reports what it fails to clear.
    this.#timer = new FallbackTimer(clock, () => this.#fire(), { unref: true, retries: true });
    this.#intervalMs = intervalMs;
    this.#logger = logger;
  }

  /** Queues `member` (not queued yet): its first beat is one interval from now. */
  add(member: Beating): void {
    const now = this.#now();
    // Without a time, due at once: it beats at the next round, as every member does while the clock gives none.
    this.#append(member, now === undefined ? 0 : now + this.#intervalMs);
    if (!this.#timer.armed) this.#arm(now);
  }

  /** Takes `member` out of the queue, if queued: it beats no more. */
  remove(member: Beating): void {
    if (member.beatDue < 0) return;
    this.#unlink(member);
    if (!this.#head) this.#timer.clear();
  }

  /** Empties the queue and clears its timer. */
  clear(): void {
    while (this.#head) this.#unlink(this.#head);
    this.#timer.clear();
  }

  #fire(): void {
    const now = this.#now();
    const interval = this.#intervalMs;
    // Members beat in queue order, each requeued one interval on before it beats (a beat that ends its connection
    // takes it out again). Only members queued before this run are served: a requeued one is at the tail. A member
    // due more than an interval ahead was queued before the clock was set back: it is due now, not that much later.
    // A member whose beat throws (a broken writer) is dropped, and the others are served as if it had not been
    // there: nothing is thrown out of the timer's callback, and the timer is armed again for whoever is left.
    // Without a time (the clock failed, reported), every member is served and keeps its due time.
    const last = this.#tail;
    for (
      let member = this.#head;
      member && (now === undefined || member.beatDue <= now || member.beatDue > now + interval);
      member = this.#head
    ) {
      const due = member.beatDue;
      this.#unlink(member);
      this.#append(member, now === undefined ? due : now + interval);
      try {
        member.beat();
      } catch {
        if (member.beatDue >= 0) this.#unlink(member);
      }
      if (member === last) break;
    }
    if (this.#head && !this.#timer.armed) this.#arm(now);
  }

  /**
   * Arms the timer for the head, at most one interval on (`now` unknown: one interval). A clock whose `setTimeout`
   * throws has it set on the platform's timer for at most one interval instead, whose firing asks the clock again:
   * reported once (until the clock arms one again), never thrown into a connection's open or out of a timer's callback.
   * With the platform's failing too, it is tried again at the next turns (`retries`), then armed as a connection opens.
   */
  #arm(now: number | undefined): void {
    const head = this.#head;
    if (!head) return;
    // At most one interval: a clock set back does not put off every heartbeat by as much.
    const delay = now === undefined ? this.#intervalMs : Math.min(this.#intervalMs, Math.max(0, head.beatDue - now));
    this.#timer.arm(delay, (error: unknown, fallback: Fallback, first: boolean) => {
      if (fallback === 'none') this.#logger.error('HTTP API: no timer could be armed for the heartbeats; it is armed again as a connection opens', error);
      else if (first) this.#logger.error(`HTTP API: the clock failed to arm the heartbeats' timer; ${fallbackText(fallback)}`, error);
    }, this.#intervalMs);
  }

  #append(member: Beating, due: number): void {
    member.beatDue = due;
    member.beatPrev = this.#tail;
    member.beatNext = undefined;
    if (this.#tail) this.#tail.beatNext = member;
    else this.#head = member;
    this.#tail = member;
  }

  #unlink(member: Beating): void {
    const { beatPrev: prev, beatNext: next } = member;
    if (prev) prev.beatNext = next;
    else this.#head = next;
    if (next) next.beatPrev = prev;
    else this.#tail = prev;
    member.beatPrev = undefined;
    member.beatNext = undefined;
    member.beatDue = -1;
  }

  /**
   * The clock's time in ms, or `undefined` when it gives none (`readClock`: it threw, or returned no valid Date),
   * reported once until it reads again.
   */
  #now(): number | undefined {
    try {
      const now = readClock(this.#clock, HANDLER_CLOCK).getTime();
      this.#readings.ok();
      return now;
    } catch (error) {
      if (this.#readings.failed()) this.#logger.error('HTTP API: no time from the clock; heartbeats go on every interval until it reads again', error);
      return undefined;
    }
  }
}
