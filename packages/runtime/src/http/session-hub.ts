import type { Clock } from '../env/clock.js';
import { FallbackTimer, fallbackText } from '../env/fallback-timer.js';
import { FirstFailure } from '../env/first-failure.js';
import { guardClock, type GuardedClock } from '../env/guarded-clock.js';
import type { Logger } from '../env/logger.js';
import { randomId } from '../env/new-id.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import type { ErrorBody } from './error-response.js';
import type { ConnectionOwner, SseConnection } from './sse-connection.js';
import { eventHead } from './sse-event.js';
import { cutDropped, FeedRegistry, frameWeight, type FeedEnd, type FeedFrame, type FeedReader, type FeedSpec, type StreamFeed } from './stream-feed.js';

/** Options of {@link SessionHub}. */
export interface SessionHubOptions {
  /** How long a session outlives its connection, waiting for the client to resume it. */
  readonly resumeWindowMs: number;
  /**
   * Bytes (by `frameWeight`) of the latest events a session can resend after a reconnect (events written but perhaps
   * not received), and of the values each feed keeps while a session that stopped reading may catch up: however many
   * events or values that is, so that no count of them, over a burst or over many subscriptions, forces a new session.
   */
  readonly bufferBytes: number;
  /** Most subscriptions one session may hold. */
  readonly maxSubscriptions: number;
  /** Most sessions (connected or resumable) at once. */
  readonly maxSessions: number;
  /** Readers a feed serves per turn of the event loop (see `StreamFeed`). */
  readonly sliceSize: number;
  /** Turns a source error into the body of the stream's `error` / `close` event. */
  readonly errorBody: (error: unknown) => ErrorBody;
  /** Where the resume windows are timed (the handler's injected clock). */
  readonly clock: Clock;
  /** Told once of each session closed because writing one of its events threw (the handler's guarded logger). */
  readonly logger: Logger;
}

/** A single stream (one subscription, its values sent bare) or a multiplexed session (see {@link SessionHub}). */
export type SessionMode =
  | {
    readonly kind: 'session';
    /**
     * Whose it is: `undefined` for the key's, or the scope of the read token it was opened with (see `sessionOwner`).
     * Only a request of the same owner resumes it, changes its subscriptions or deletes it: to any other, it is not there.
     */
    readonly owner?: string;
  }
  | {
    readonly kind: 'single';
    /** What the stream sends (see `streamKey`): a reconnect resumes a single stream only into the same one. */
    readonly key: string;
    readonly spec: FeedSpec;
    readonly untilTerminal: boolean;
  };

/** The mode of every multiplexed session the key opens (one object for all). */
export const SESSION: SessionMode = { kind: 'session' };

/** Why a new stream would be refused. */
export type StreamRefusal = 'closed' | 'full';

/**
 * Resumable Server-Sent Event streams over shared feeds.
 *
 * **Sessions.** A client opens a session with `GET /streams`; the first event, `session`, names it. Subscriptions
 * are added and removed by separate requests that name the session (`POST /streams/{session}/subscriptions`); every
 * value a subscription receives becomes one event of the session, numbered `<session>.<seq>` (`seq` = 1, 2, 3 …
 * across all its subscriptions), its data `{ "sub": "<subscription>", "data": <value> }`. A subscription whose source
 * completes or fails gets a last `close` event (`{ "sub", "error"? }`). A single stream (`GET /instances/{id}/stream`
 * …) is a session with one subscription whose values are sent bare, ending with `end` or `error`.
 *
 * **Shared feeds.** Subscriptions to the same thing (the status of one instance, one list query) read one
 * `StreamFeed`, which serialises each committed value once; a session only frames those bytes with its event id.
 *
 * **Resume.** When its connection goes away a session stops reading at once — it does no work per commit — and
 * stays resumable for `resumeWindowMs`, holding its feeds (each keeps its latest values within `bufferBytes` while a
 * session stopped reading it). A reconnect whose `Last-Event-ID` names the session gets the events after it: first the
 * ones written before the drop that the client did not receive (the session remembers its latest events within
 * `bufferBytes`, whatever their subscriptions) and those that waited to be written (below),
 * then what each subscription missed meanwhile,
 * from its feed; numbered on from the id received; then the live ones. Nothing is lost or repeated, for every
 * subscription at once. When that is impossible (the server restarted, the window passed, more was missed than
 * buffered), the reconnect gets a new session (a new single stream starts, like any, from the current snapshot; a new
 * multiplexed session is empty and the client subscribes again).
 *
 * **Slow readers.** When its connection is full (`SseConnection.full`: more than the limit unread), a session writes
 * nothing more and stops reading its feeds, as when dropped; events that arise meanwhile (a `close`, a single stream's
 * last event) wait, in order. When the reader has taken what it had, the session writes them and reads on, each
 * subscription from its cursor; one whose feed no longer holds what it needs ends the session (`abandon`), and so do
 * more waiting events than the session holds (their bytes past twice `bufferBytes`: refusals of subscribes past
 * its room, which a client may send without end while its reader takes nothing). A held
 * connection whose reader takes nothing for `resumeWindowMs` is cut, as when its client goes: the session is then
 * resumable for the window, as any dropped one, and a reader gone for good no longer keeps its place of
 * `maxSessions` for ever (the one timer of a held session, cleared when its reader drains or it ends).
 *
 * A session not resumed within the window is disposed; `delete` does it at once, and so does a reconnect that names
 * an event the session wrote but cannot resume after (its connection ended, if it still had one: its client left it
 * for the reconnect, which gets a new session, also when `maxSessions` are open). A single stream is disposed as soon
 * as it has written its last event (`end` or `error`) to a connection, and when its connection goes away before it
 * wrote any event (no id names it); so is a multiplexed session whose connection goes away before it wrote any event
 * but its `session` event, while it holds no subscription (a new session would serve its client alike, and a client
 * that let the answer go unread cannot delete it): none of them holds a place of `maxSessions` for the window.
 *
 * **Finished streams.** A single stream that wrote its last event to a connection is remembered for the window (its
 * id, what it sent, the number and bytes of its last event; at most `maxSessions` of them, the oldest forgotten
 * first), so that a client's reconnect is told it is over rather than served the stream again from the start: an
 * `EventSource` reconnects by itself when a response ends, with `Last-Event-ID`, and would otherwise get the terminal
 * status and `end` again every few seconds, forever. A reconnect at or past the last event gets 204 No Content
 * ({@link finished}: what makes an `EventSource` stop); one right before it (the last event was lost on the way)
 * gets that event again, then the response ends. A stream whose last event is an `error` worth retrying (the store
 * could not be read: `isRetryableError`) is not remembered, so the reconnect opens it anew and tries again.
 */
export class SessionHub {
  readonly #options: SessionHubOptions;
  readonly #sessions = new Map<string, StreamSession>();
  /** The single streams that finished within the resume window, oldest first (see "Finished streams"). */
  readonly #finished = new Map<string, FinishedStream>();
  /** What every session of the hub shares (one object, so a session holds no callbacks of its own). */
  readonly #host: SessionHost;
  #closed = false;
  /** The hub's clock, read through `nowMs` (a clock that gives no time is reported, and answers all the same). */
  readonly #clock: GuardedClock;

  constructor(options: SessionHubOptions, defer: (callback: () => void) => void) {
    this.#options = options;
    this.#clock = guardClock(options.clock, options.logger, "the HTTP handler's clock");
    const feeds = new FeedRegistry({ bufferBytes: options.bufferBytes, sliceSize: options.sliceSize, errorBody: options.errorBody, defer });
    this.#host = {
      feeds,
      options,
      armFailures: new FirstFailure(),
      dispose: (session, cut) => this.#dispose(session, cut),
      failed: (session, error) => {
        options.logger.error('HTTP API: writing a stream event failed; the stream is closed, and a reconnect gets a new one', error);
        this.#dispose(session, true);
      },
      finished: (session, last) => {
        // Remembered before it is disposed: a connection whose end throws (a broken socket) leaves it finished all the
        // same. A stream that failed with an error worth retrying is not: a reconnect opens it anew and tries again.
        if (session.mode.kind === 'single' && !session.retry) {
          const finished = this.#finished;
          this.#forgetFinished();
          if (finished.size >= options.maxSessions) finished.delete(finished.keys().next().value!);
          const until = this.#clock.nowMs() + options.resumeWindowMs;
          finished.set(session.id, { key: session.mode.key, seq: session.lastSeq, last, until });
        }
        this.#dispose(session);
      },
      dropped: (session) => {
        if (!this.#sessions.has(session.id)) return;
        // A single stream that sent no event gave its client no id to resume it with: nobody can. Nor is anything
        // held by a multiplexed session that sent nothing but its `session` event and holds no subscription: resumed,
        // it would send its client no more than a new one does (whose `session` event makes the client subscribe its
        // watches again), and its client may have let the answer go unread (its last watch ended first), so that it
        // can never delete it. Released now, so neither holds a place of `maxSessions` for the window.
        if (session.lastSeq === 0 && (session.mode.kind === 'single' || session.subscriptionCount === 0)) return void this.#dispose(session);
        session.armExpiry();
      },
    };
  }

  /** Number of live sessions and single streams (connected or resumable). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Number of live shared feeds. */
  get feedCount(): number {
    return this.#host.feeds.size;
  }

  /**
   * Why a stream asked for now would be refused, if it would: a reconnect whose `lastEventId` resumes a session takes no
   * new place (the session holds one), nor does one that lost only the end of a finished single stream (its last event
   * again, then the end), nor one whose own session can no longer resume it (`open` releases that session, whose place
   * the new one takes), so all three are served when the hub is full.
   */
  refusal(mode: SessionMode, lastEventId: string | undefined): StreamRefusal | undefined {
    if (this.#closed) return 'closed';
    if (this.#sessions.size < this.#options.maxSessions) return undefined;
    const position = parseEventId(lastEventId);
    return this.#resumable(mode, position) || this.#endOf(mode, position) || this.#lapsed(mode, position) ? undefined : 'full';
  }

  /**
   * Whether `lastEventId` names the last event (or one past it) of a single stream `mode` that finished: a reconnect
   * that has everything it will get (answered 204 No Content).
   */
  finished(mode: SessionMode, lastEventId: string | undefined): boolean {
    const position = parseEventId(lastEventId);
    const finished = position && this.#finishedStream(mode, position.sessionId);
    return finished !== undefined && position!.seq >= finished.seq;
  }

  /** The live multiplexed session named `id`, when it is `owner`'s (see `SessionMode`). */
  get(id: string, owner?: string): StreamSession | undefined {
    const session = this.#sessions.get(id);
    return session?.mode.kind === 'session' && session.mode.owner === owner ? session : undefined;
  }

  /**
   * Delivers a stream to `connection`: the session named by `lastEventId` when it is the same stream and can resume
   * after it, otherwise a new one. A multiplexed session first sends its `session` event.
   */
  open(mode: SessionMode, lastEventId: string | undefined, connection: SseConnection): void {
    if (this.#closed) {
      connection.end();
      return;
    }
    const position = parseEventId(lastEventId);
    const finished = this.#endOf(mode, position);
    if (position && finished) {
      // A finished stream whose client lost its last event: that event again, then the end (no session, no place).
      // One that has it (it finished since the answer) gets the end: it reconnects and is answered 204.
      const { last } = finished;
      if (position.seq < finished.seq) connection.send(last.head, position.sessionId, finished.seq, undefined, last.data);
      connection.end();
      return;
    }
    let session = this.#resumable(mode, position);
    let after = 0;
    if (session) {
      after = position!.seq;
    } else {
      const lapsed = this.#lapsed(mode, position);
      if (lapsed) this.#dispose(lapsed);
      if (this.#sessions.size >= this.#options.maxSessions) {
        // Answered while there was room, opened when there was none (a web body opens when first read, so several
        // answers can pass `refusal()` together). Ended as a dropped stream: the client reconnects and gets the 503.
        connection.sendText(': too many open streams\n\n');
        connection.end();
        return;
      }
      session = new StreamSession(mode, this.#host);
      this.#sessions.set(session.id, session);
    }
    session.clearExpiry();
    session.attach(connection, after);
  }

  /** Disposes `owner`'s multiplexed session named `id` at once (its connection ends). Returns whether it existed. */
  delete(id: string, owner?: string): boolean {
    const session = this.get(id, owner);
    if (!session) return false;
    this.#dispose(session);
    return true;
  }

  /**
   * Ends every connection and drops every session, each whatever ending the others threw (a connection whose writer
   * throws as it ends, a broken socket): reported, never thrown, so no session is left holding its feeds.
   */
  close(): void {
    this.#closed = true;
    this.#finished.clear();
    for (const session of [...this.#sessions.values()]) {
      try {
        this.#dispose(session);
      } catch (error) {
        this.#options.logger.error('HTTP API: ending a stream as the handler closed failed; the others end all the same', error);
      }
    }
  }

  /** The finished single stream `mode` named `id`, if the window to reconnect to it has not passed. */
  #finishedStream(mode: SessionMode, id: string): FinishedStream | undefined {
    this.#forgetFinished();
    const finished = this.#finished.get(id);
    return finished && mode.kind === 'single' && finished.key === mode.key ? finished : undefined;
  }

  /**
   * The finished single stream `position` names when it is at its last event or one before: what such a reconnect
   * lacks is that event and the end, sent without a session.
   */
  #endOf(mode: SessionMode, position: EventPosition | undefined): FinishedStream | undefined {
    const finished = position && this.#finishedStream(mode, position.sessionId);
    return finished && position.seq >= finished.seq - 1 ? finished : undefined;
  }

  /** Forgets the finished streams whose window passed (the oldest come first). */
  #forgetFinished(): void {
    const now = this.#clock.nowMs();
    for (const [id, finished] of this.#finished) {
      if (finished.until > now) return;
      this.#finished.delete(id);
    }
  }

  /**
   * The session `position` names, of the stream `mode` asks for, when it wrote that position but cannot resume after
   * it: nobody can resume it, so it is released now (by `open`) rather than at the end of its window, and so is one
   * whose connection is still open (a proxy that stopped forwarding still reads it): its client has left that
   * connection for this reconnect, as one that resumes the session takes it over, and the session would otherwise be
   * written to for as long as the connection stays up. A position it never wrote (a forged or garbled id) says nothing
   * about it: it stays as it is for its client.
   */
  #lapsed(mode: SessionMode, position: EventPosition | undefined): StreamSession | undefined {
    const named = position && this.#sessions.get(position.sessionId);
    return named && sameStream(named.mode, mode) && position.seq <= named.lastSeq && !named.canResumeAfter(position.seq)
      ? named : undefined;
  }

  /** The live session `position` names when it is the stream `mode` asks for and can resume after it. */
  #resumable(mode: SessionMode, position: EventPosition | undefined): StreamSession | undefined {
    const session = position && this.#sessions.get(position.sessionId);
    return session && sameStream(session.mode, mode) && session.canResumeAfter(position.seq) ? session : undefined;
  }

  /** Forgets `session` and disposes it; `cut`: its connection is broken, so it is cut rather than ended. */
  #dispose(session: StreamSession, cut = false): void {
    session.clearExpiry();
    this.#sessions.delete(session.id);
    session.dispose(cut);
  }
}

/** A single stream that wrote its last event to a connection, as the hub remembers it for the resume window. */
interface FinishedStream {
  /** What it sent (see `streamKey`). */
  readonly key: string;
  /** The number of its last event. */
  readonly seq: number;
  /** Its last event (`end` or `error`). */
  readonly last: OwnMessage;
  /** When it is forgotten (ms since the epoch, on the hub's clock). */
  readonly until: number;
}

/** What the sessions of one {@link SessionHub} share. */
interface SessionHost {
  readonly feeds: FeedRegistry;
  readonly options: SessionHubOptions;
  /** Whether the clock failed to arm a session timer since it last armed one: a failing clock is reported once for all. */
  readonly armFailures: FirstFailure;
  /** Ends `session` now: the hub forgets it, and it releases what it holds; `cut`: its connection is cut, not ended. */
  dispose(session: StreamSession, cut?: boolean): void;
  /**
   * Writing an event of `session` threw `error` (its connection's writer is broken): logged, and the session ends now
   * as in `dispose`, its connection cut. Never throws.
   */
  failed(session: StreamSession, error: unknown): void;
  /** Single stream `session` wrote its last event, `last`, to a connection: it is disposed and remembered as finished. */
  finished(session: StreamSession, last: OwnMessage): void;
  /** `session`'s connection went away: its resume window starts. */
  dropped(session: StreamSession): void;
}

/**
 * One subscription of a session: a reader of one feed. `cursor` is the version of the last value written to the
 * session's connection; `json` is `sub` as JSON (`"a"`), what its events say in their `{"sub", "data"}` envelope
 * (`undefined` in a single stream, whose values go bare).
 */
class Subscription implements FeedReader {
  cursor: number;
  reading = false;
  readonly json: string | undefined;
  constructor(
    readonly session: StreamSession,
    readonly sub: string | undefined,
    /** What it sends (see `streamKey`): a subscribe sent again with the same stream is a no-op. */
    readonly stream: string,
    readonly feed: StreamFeed,
    readonly untilTerminal: boolean,
  ) {
    this.cursor = feed.startCursor;
    this.json = sub === undefined ? undefined : JSON.stringify(sub);
  }

  frame(frame: FeedFrame): void {
    this.session.deliver(this, frame);
    if (this.untilTerminal && frame.terminal) this.session.close(this, {});
  }

  end(end: FeedEnd): void {
    this.session.close(this, end);
  }

  overrun(): void {
    this.session.abandon();
  }

  failed(error: unknown): void {
    this.session.fail(error);
  }
}

/** A message of a session that is not a feed value (`close`, `end`, `error`): its own bytes, sent bare. */
interface OwnMessage {
  readonly head: Uint8Array;
  readonly data: Uint8Array;
}

/** An event a session wrote, as its log keeps it: the subscription it belongs to (none: an own message), and what it said. */
type Logged = Subscription | undefined | FeedFrame | OwnMessage;

const encoder = new TextEncoder();

/**
 * One session of a {@link SessionHub}: its subscriptions, the events it wrote, and the connection it writes to.
 *
 * Held once per open stream, so it keeps little: the subscriptions of a session with one (every single stream, most
 * multiplexed ones) are that one, not a `Map`; the log of written events is allocated with the first.
 */
export class StreamSession implements ConnectionOwner {
  readonly id = randomId();
  /**
   * The one timer of the session, made as it is first armed: its resume window while dropped (armed by the hub), or
   * while its connection is held, when it cuts a reader that took nothing in a window (see {@link SessionHub}, "Slow
   * readers"). Unref'd; one the clock fails to arm is set on the platform's timer (see {@link armExpiry}).
   */
  #timer: FallbackTimer | undefined;
  /** While its connection is held: the bytes its reader had not taken when the watch was armed. */
  #heldUnread = 0;
  readonly mode: SessionMode;
  readonly #host: SessionHost;
  /** The active subscriptions by `sub` (`''` for a single stream's): none, the only one, or a `Map` of several. */
  #subscriptions: Subscription | Map<string, Subscription> | undefined;
  #connection: SseConnection | undefined;
  #seq = 0;
  /**
   * The latest events written (within `bufferBytes`, at least the last), two entries each from `#logHead` (the entries
   * before it are dropped ones, let go at once and cut off once they are half the array: a `shift` copies a long
   * array): event `#logStart + i` is (`#log[#logHead + 2i]`, the subscription or `undefined`; `#log[#logHead + 2i + 1]`,
   * the frame or own message).
   */
  #log: Logged[] | undefined;
  #logHead = 0;
  #logStart = 1;
  /** The bytes of the events in `#log`, by `frameWeight`. */
  #logBytes = 0;
  /** The bytes of the events in `#queue`, by `frameWeight`. */
  #queueBytes = 0;
  /**
   * Events to write, not numbered yet, two entries each as in `#log`: those a resume sends again, and those that came
   * while the connection was full. While any wait, new events wait behind them and the feeds are not read.
   */
  #queue: Logged[] | undefined;
  /** Where the events that wait begin in `#queue`: those before were written (cut off as `#logHead`'s are). */
  #queueHead = 0;
  /** The connection is full: nothing is written to it, nor read from the feeds, until its reader took what it has. */
  #held = false;
  /**
   * The last event of a single stream whose source ended, written. It is disposed once that reached a connection (at
   * once, or by a resume while it was dropped).
   */
  #ended: OwnMessage | undefined;
  /**
   * A single stream whose last event is an `error` worth retrying (`isRetryableError`): the hub does not remember it as
   * finished, so a reconnect opens the stream anew (an `EventSource` keeps trying through a store's outage).
   */
  retry = false;
  #started = false;
  #disposed = false;

  constructor(mode: SessionMode, host: SessionHost) {
    this.mode = mode;
    this.#host = host;
  }

  /** Whether a connection is attached. */
  get connected(): boolean {
    return this.#connection !== undefined;
  }

  /** The number of the last event written (0: none yet). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** What active subscription `sub` sends (the key it was subscribed with), `undefined` when it is not active. */
  streamOf(sub: string): string | undefined {
    return this.#find(sub)?.stream;
  }

  /** Number of active subscriptions. */
  get subscriptionCount(): number {
    const subscriptions = this.#subscriptions;
    return subscriptions === undefined ? 0 : subscriptions instanceof Map ? subscriptions.size : 1;
  }

  /**
   * Subscribes `sub` to `spec`, which sends what `stream` names; it gets the current value first, then every new one.
   * Idempotent: when `sub` is already active with the same `stream` (a request sent again because its answer was
   * lost), nothing happens and nothing is sent again (the first subscription's values went out on the session, or
   * come with its resume). Throws `InvalidArgumentError` when `sub` is active with another stream.
   *
   * The one rule of a session's room: when it holds `maxSubscriptions` already, `sub` alone is refused, by its `close`
   * event with an `invalid-argument` error (what a subscription that fails gets), and the session carries on.
   */
  subscribe(sub: string, spec: FeedSpec, untilTerminal: boolean, stream: string): void {
    if (this.#disposed) return;
    const active = this.#find(sub);
    if (active?.stream === stream) return;
    if (active) throw new InvalidArgumentError(`Subscription ${JSON.stringify(sub)} is already active with another stream`);
    const max = this.#host.options.maxSubscriptions;
    if (this.subscriptionCount < max) return this.#add(sub, spec, untilTerminal, stream);
    this.refuse(sub, new InvalidArgumentError(`A session holds at most ${max} subscriptions`));
  }

  /**
   * Refuses subscription `sub` with `error` by its `close` event, what a subscription that fails gets (ending it first
   * if it is active: the client takes the event for its end), and the session carries on.
   */
  refuse(sub: string, error: unknown): void {
    if (this.#disposed) return;
    this.unsubscribe(sub);
    const refusal = own('close', { sub, error: this.#host.options.errorBody(error) });
    try {
      this.#write(undefined, refusal);
    } catch (writeError) {
      this.fail(writeError); // its connection is broken (see `#flow`): not the subscribe request's to answer
    }
  }

  /** Ends subscription `sub`, if active; no `close` event follows (the client asked). */
  unsubscribe(sub: string): void {
    const subscription = this.#find(sub);
    if (!subscription) return;
    this.#remove(subscription);
    subscription.feed.leave(subscription);
    subscription.feed.release();
  }

  /** True when the events after `seq` can be sent again: the session wrote them, remembers them, and its feeds still hold what it missed. */
  canResumeAfter(seq: number): boolean {
    if (seq > this.#seq || seq < this.#logStart - 1) return false;
    if (this.#connection && !this.#held) return true; // still reading: nothing was missed
    for (const subscription of this.#list()) if (!subscription.feed.covers(subscription.cursor)) return false;
    return true;
  }

  /**
   * Makes `connection` the session's connection (ending the previous one): the `session` event of a multiplexed
   * session, the events after `after` again (numbered on from `after`), those that waited, what the subscriptions
   * missed, then live ones; each as the connection has room for it.
   */
  attach(connection: SseConnection, after: number): void {
    const previous = this.#connection;
    if (previous) this.detach(previous);
    this.#connection = connection;
    connection.owner = this;
    previous?.end();
    if (this.mode.kind === 'session') {
      connection.sendText(`event: session\nid: ${this.id}.${after}\ndata: ${JSON.stringify({ session: this.id })}\n\n`);
    }
    // Events after `after` were written but not received: forget them, then write them again with their new numbers,
    // before those that waited (never written).
    const again = this.#log?.splice(this.#logHead + 2 * (after - this.#logStart + 1)) ?? [];
    this.#seq = after;
    const queue = this.#queue;
    if (again.length > 0) {
      const bytes = weightOf(again);
      this.#logBytes -= bytes;
      this.#queueBytes += bytes;
      this.#queue = queue ? again.concat(this.#queueHead > 0 ? queue.slice(this.#queueHead) : queue) : again;
      this.#queueHead = 0;
    }
    if (this.mode.kind === 'single' && !this.#started) {
      this.#started = true;
      this.#add(undefined, this.mode.spec, this.mode.untilTerminal, this.mode.key);
    }
    try {
      this.#flow();
      // The last event was received already (nothing waits, so it was not among what went out again): no more to send.
      if (this.#ended && !this.#disposed && this.#queue === undefined) this.#host.finished(this, this.#ended);
    } catch (error) {
      this.fail(error); // see `#flow`: the request that opened the stream is not told
    }
  }

  /** The connection went away: stop reading the feeds (keeping them held for a resume). Returns whether it was this session's. */
  detach(connection: SseConnection): boolean {
    if (this.#connection !== connection) return false;
    this.#connection = undefined;
    this.#unhold();
    for (const subscription of this.#list()) subscription.feed.unread(subscription);
    return true;
  }

  /** The reader of the full connection took what it had: write what waits, and read the feeds again. */
  connectionDrained(connection: SseConnection): void {
    if (this.#connection !== connection || !this.#held) return;
    this.#unhold();
    try {
      this.#flow();
    } catch (error) {
      this.fail(error); // see `#flow`: the writer's drain callback (a socket's 'drain' event) is not told
    }
  }

  /** The session's connection went away (see {@link detach}): its resume window starts. */
  connectionGone(connection: SseConnection): void {
    if (this.detach(connection)) this.#host.dropped(this);
  }

  /** Writes a feed value of `subscription`. */
  deliver(subscription: Subscription, frame: FeedFrame): void {
    if (!this.#isActive(subscription)) return;
    this.#write(subscription, frame);
  }

  /** Ends `subscription` because its source ended (or it reached a terminal value): its last event follows. */
  close(subscription: Subscription, end: FeedEnd): void {
    if (!this.#isActive(subscription)) return;
    this.#remove(subscription);
    subscription.feed.leave(subscription);
    subscription.feed.release();
    if (this.mode.kind === 'session') {
      this.#write(undefined, own('close', { sub: subscription.sub, ...(end.error ? { error: end.error } : {}) }));
    } else {
      const last = (this.#ended = end.error ? own('error', end.error) : own('end', null));
      this.retry = end.retry === true;
      // Once written to a connection, the stream is over (see `#send`). Until then (the connection is full, or gone) it
      // waits, or the resume that gets what was missed writes it.
      this.#write(undefined, last);
    }
  }

  /** A feed dropped values this session still needed: it cannot go on; the client reconnects into a new session. */
  abandon(): void {
    this.#log = undefined;
    this.#logHead = 0;
    this.#logBytes = 0;
    this.#logStart = this.#seq + 2; // no Last-Event-ID can resume it
    this.#host.dispose(this);
  }

  /**
   * Writing one of its events threw `error` (a feed value, its end: see `FeedReader.failed`): its connection is broken.
   * The session ends at once, releasing its subscriptions, and its connection is cut (the hub logs it, once); its
   * client's reconnect gets a new session. Kept open, it held its feeds and its place, and wrote into the broken
   * connection, which threw again, for as long as the connection stayed up. Logged also when it was being disposed as
   * the error came (its connection's end threw).
   */
  fail(error: unknown): void {
    this.#host.failed(this, error);
  }

  /** Releases what the session holds and ends its connection (`cut`: aborts it, as a broken one). */
  dispose(cut = false): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const connection = this.#connection;
    this.#connection = undefined;
    for (const subscription of this.#list()) {
      subscription.feed.leave(subscription);
      subscription.feed.release();
    }
    this.#subscriptions = undefined;
    this.#log = undefined;
    this.#queue = undefined;
    this.#logHead = this.#queueHead = 0;
    this.#logBytes = this.#queueBytes = 0;
    if (cut) connection?.cut();
    else connection?.end();
  }

  #add(sub: string | undefined, spec: FeedSpec, untilTerminal: boolean, stream: string): void {
    const feed = this.#host.feeds.acquire(spec);
    const subscription = new Subscription(this, sub, feed.intern(stream), feed, untilTerminal);
    feed.join(subscription);
    const key = sub ?? '';
    const subscriptions = this.#subscriptions;
    if (subscriptions === undefined) this.#subscriptions = subscription;
    else if (subscriptions instanceof Map) subscriptions.set(key, subscription);
    else this.#subscriptions = new Map([[subscriptions.sub ?? '', subscriptions], [key, subscription]]);
    if (this.#connection && !this.#held && this.#queue === undefined) feed.read(subscription);
    feed.start();
  }

  /** The active subscription `sub` (`''`: a single stream's). */
  #find(sub: string): Subscription | undefined {
    const subscriptions = this.#subscriptions;
    if (subscriptions === undefined || subscriptions instanceof Map) return subscriptions?.get(sub);
    return (subscriptions.sub ?? '') === sub ? subscriptions : undefined;
  }

  #isActive(subscription: Subscription): boolean {
    const subscriptions = this.#subscriptions;
    return subscriptions === subscription || (subscriptions instanceof Map && subscriptions.get(subscription.sub ?? '') === subscription);
  }

  /** Forgets active `subscription`. */
  #remove(subscription: Subscription): void {
    const subscriptions = this.#subscriptions;
    if (subscriptions instanceof Map) subscriptions.delete(subscription.sub ?? '');
    else this.#subscriptions = undefined;
  }

  /** The active subscriptions, in a list of their own (the caller may change them while it walks it). */
  #list(): Subscription[] {
    const subscriptions = this.#subscriptions;
    return subscriptions === undefined ? [] : subscriptions instanceof Map ? [...subscriptions.values()] : [subscriptions];
  }

  /**
   * Writes one event, or queues it behind those that wait (see `#queue`). The feeds are not read while events wait,
   * so what arrives then is the refusals of subscribes past the session's room, one per subscribe, which a client
   * could send without end to a reader that takes nothing: a queue that would hold more than a session holds (its
   * room and its resend buffer) ends the session instead, as one that fell too far behind (`abandon`).
   */
  #write(subscription: Subscription | undefined, frame: FeedFrame | OwnMessage): void {
    if (!this.#held && this.#queue === undefined) return this.#send(subscription, frame);
    const queue = (this.#queue ??= []);
    const weight = frameWeight(frame.data);
    if (this.#queueBytes + weight > 2 * this.#host.options.bufferBytes) return this.abandon();
    this.#queueBytes += weight;
    queue.push(subscription, frame);
  }

  /**
   * Writes the events that wait, while the connection has room, then reads the feeds again: each subscription catches
   * up from its cursor (unless the connection fills up again). The events that wait are written here, not in a feed's
   * pass, so a writer that throws on one (a broken connection) throws out of here: its callers ({@link attach},
   * {@link connectionDrained}) end the session as a feed does ({@link fail}). Thrown on, it reached the request that
   * opened the stream or the writer's drain callback, and left the session attached to the broken connection with
   * its feeds unread: its client got nothing more, and the session held its place.
   */
  #flow(): void {
    // By index, not `shift` (which copies a long array: a queue of 131k events took 1.16 s to write so): the events
    // written are cut off when the flow stops with them half the queue or more, or let go with the queue once it is empty.
    for (let queue = this.#queue; queue !== undefined; queue = this.#queue) {
      const head = this.#queueHead;
      if (this.#held || !this.#connection) {
        this.#queueHead = cutDropped(queue, head);
        return;
      }
      const subscription = queue[head] as Subscription | undefined;
      const frame = queue[head + 1] as FeedFrame | OwnMessage;
      this.#queueBytes -= frameWeight(frame.data);
      if (head + 2 === queue.length) {
        this.#queue = undefined;
        this.#queueHead = 0;
      } else this.#queueHead = head + 2;
      this.#send(subscription, frame);
    }
    for (const subscription of this.#list()) {
      if (this.#held || !this.#connection) return;
      if (this.#isActive(subscription)) subscription.feed.read(subscription);
    }
  }

  /**
   * Numbers, remembers and writes one event. The last event of a single stream, written to a connection, ends it; one
   * that leaves the connection full holds the session until its reader took it.
   */
  #send(subscription: Subscription | undefined, frame: FeedFrame | OwnMessage): void {
    const seq = ++this.#seq;
    let log = this.#log;
    this.#logBytes += frameWeight(frame.data);
    if (log === undefined) log = this.#log = [subscription, frame];
    else {
      log.push(subscription, frame);
      // The oldest events past what a session keeps (never the last): its bytes, and `EVENTS_PER_SUBSCRIPTION` for each
      // subscription it holds, so that a burst of one, or a commit on each of many, is kept whole. Dropped by moving the
      // head, not by `shift` (4-27 µs an event on a log of tens of thousands), and cut off once they are half the array.
      const { bufferBytes } = this.#host.options;
      const most = 2 * EVENTS_PER_SUBSCRIPTION * Math.max(1, this.subscriptionCount);
      let head = this.#logHead;
      while ((this.#logBytes > bufferBytes || log.length - head > most) && log.length - head > 2) {
        this.#logBytes -= frameWeight((log[head + 1] as FeedFrame | OwnMessage).data);
        log[head] = log[head + 1] = undefined;
        head += 2;
      }
      this.#logHead = cutDropped(log, head);
    }
    this.#logStart = seq - (log.length - this.#logHead) / 2 + 1;
    const connection = this.#connection;
    if (!connection) return;
    connection.send(frame.head, this.id, seq, subscription?.json, frame.data);
    // A send into a socket found gone closes the connection (the session detached): the event stays in the log, and the
    // session stays resumable, its end included (its client never got it).
    if (this.#connection !== connection) return;
    if (frame === this.#ended) this.#host.finished(this, frame);
    else if (connection.full) {
      this.#held = true;
      for (const each of this.#list()) each.feed.unread(each);
      connection.awaitDrain();
      this.#heldUnread = connection.unread;
      this.armExpiry();
    }
  }

  /**
   * Arms the session's timer one resume window on, in place of the one armed: its resume window (dropped) or the watch
   * on its held connection. A clock whose `setTimeout` throws has it set on the platform's timer instead (`FallbackTimer`):
   * reported (once, until the clock arms one again), never thrown out of the watch's callback or the connection's
   * close, so a dropped session still ends and frees its place of `maxSessions`. With the platform's failing too, it is
   * tried again at the next turns (`retries`); past those, the session ends now (a held connection is cut), said once.
   */
  armExpiry(): void {
    const host = this.#host;
    const timer = (this.#timer ??= new FallbackTimer(host.options.clock, () => this.#expired(), { unref: true, failures: host.armFailures, retries: true }));
    timer.arm(host.options.resumeWindowMs, (error, fallback, first) => {
      if (fallback !== 'none') {
        if (first) host.options.logger.error(`HTTP API: the clock failed to arm a stream session's timer; ${fallbackText(fallback)}`, error);
        return;
      }
      // No timer, its tries over: it ends now rather than hold its place for good. A held connection is cut as it
      // ends, not dropped first (whose resume window, failing to arm, said so again).
      host.options.logger.error("HTTP API: no timer could be armed for a stream session; it ends now", error);
      host.dispose(this, true);
    });
  }

  /** Clears the session's timer (resumed, drained or ended); one the clock fails to clear does nothing when it fires. */
  clearExpiry(): void {
    this.#timer?.clear();
  }

  /**
   * The session's timer fired (only the one armed last does: `FallbackTimer`). Dropped: its resume window passed, and it
   * ends. Held: every wait has an end: one resume window after the connection was held with `#heldUnread` bytes unread,
   * it is cut if its reader took nothing since (as when its client goes: the session is then resumable for a window,
   * then ends and frees its place), or waits one more window if it took some.
   */
  #expired(): void {
    const connection = this.#connection;
    if (!connection) return void this.#host.dispose(this);
    if (!this.#held) return;
    const now = connection.unread;
    if (now >= this.#heldUnread) return void connection.cut();
    this.#heldUnread = now;
    this.armExpiry();
  }

  /** The connection is no longer held (its reader drained, or it went): its timer is cleared. */
  #unhold(): void {
    this.#held = false;
    this.clearExpiry();
  }
}

/**
 * Events a session keeps to send again after a reconnect, per subscription it holds (besides its bytes, `bufferBytes`):
 * what bounds the log of a session of small values, whose frames, shared with other sessions, weigh little of their own.
 */
const EVENTS_PER_SUBSCRIPTION = 1024;

/** The bytes, by `frameWeight`, of the events of a log or queue (two entries each). */
function weightOf(events: readonly Logged[]): number {
  let bytes = 0;
  for (let i = 1; i < events.length; i += 2) bytes += frameWeight((events[i] as FeedFrame | OwnMessage).data);
  return bytes;
}

function own(event: string, value: unknown): OwnMessage {
  return { head: eventHead(event), data: encoder.encode(JSON.stringify(value)) };
}

function sameStream(a: SessionMode, b: SessionMode): boolean {
  return a.kind === 'session' ? b.kind === 'session' && a.owner === b.owner : b.kind === 'single' && a.key === b.key;
}

const EVENT_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(\d{1,15})$/;

/** Where an event id stands: its session, and the event's number in it. */
interface EventPosition {
  readonly sessionId: string;
  readonly seq: number;
}

function parseEventId(value: string | undefined): EventPosition | undefined {
  const match = value === undefined ? null : EVENT_ID.exec(value.trim());
  return match ? { sessionId: match[1]!, seq: Number(match[2]) } : undefined;
}
