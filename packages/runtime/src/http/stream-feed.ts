import type { Observable, Subscription } from 'rxjs';
import { isRetryableError } from '../model/errors/retryable.js';
import type { ErrorBody } from './error-response.js';
import { eventHead } from './sse-event.js';

/** One value of a {@link StreamFeed}, serialised once for every reader. */
export interface FeedFrame {
  /** 1, 2, 3 … in the order the feed's source emitted. */
  readonly version: number;
  /**
   * `event: <name>\nid: ` of its SSE event (`status`, `history`, `instances`; a history's `position`), encoded once per
   * feed (a position's once per position).
   */
  readonly head: Uint8Array;
  /** The value's JSON, UTF-8 encoded: the same bytes go to every reader. */
  readonly data: Uint8Array;
  /** The value is a terminal status (what `untilTerminal` readers stop after). */
  readonly terminal: boolean;
}

/** How a feed's source ended: completed, or failed with `error`. */
export interface FeedEnd {
  readonly error?: ErrorBody;
  /** The error is worth retrying (`isRetryableError`: e.g. the store could not be read): a new stream may succeed. */
  readonly retry?: boolean;
}

/** A consumer of a {@link StreamFeed}: one subscription of one stream session. */
export interface FeedReader {
  /** The version of the last frame this reader was given (0: none yet). The feed advances it. */
  cursor: number;
  /** Whether the feed serves it now (between `read` and `unread`). The feed sets it: a flag, not a lookup per frame. */
  reading: boolean;
  /** Called with every frame after `cursor`, in version order. */
  frame(frame: FeedFrame): void;
  /** Called once, after the last frame, when the source ended. */
  end(end: FeedEnd): void;
  /** The reader fell more than the feed's buffer behind: frames it needs are gone. */
  overrun(): void;
  /**
   * A call of the feed to this reader ({@link frame}, {@link end}, {@link overrun}) threw `error` (its connection's
   * writer is broken): the feed has let go of it (as {@link StreamFeed.leave}) and goes on serving the others. Must not
   * throw.
   */
  failed(error: unknown): void;
}

/** What a feed needs to know besides its source. */
export interface StreamFeedOptions {
  /** The event name of its frames. */
  readonly event: string;
  /**
   * Bytes of frames kept for readers that catch up (a resumed session, a held one), counted by {@link frameWeight}: while
   * a reader stopped reading, the latest frames within this many (at least the latest one); while none did, the latest.
   */
  readonly bufferBytes: number;
  /** Readers served per turn of the event loop when a frame fans out; the rest follow on later turns. */
  readonly sliceSize: number;
  /** Whether a value is terminal (for `untilTerminal` readers). */
  readonly isTerminal: (value: unknown) => boolean;
  /** The event name of a value, when a feed sends more than one (a history's positions); default `event`. */
  readonly eventOf?: ((value: unknown) => string) | undefined;
  /** Turns a source error into the body a reader's stream reports. */
  readonly errorBody: (error: unknown) => ErrorBody;
  /** Runs `callback` on a later turn of the event loop, after pending I/O. */
  readonly defer: (callback: () => void) => void;
  /** Called once when the source ended or the last holder released the feed. */
  readonly onDone: () => void;
}

const encoder = new TextEncoder();

/**
 * Where an array read from a moving head (`head`: the entries before it were dropped) begins after cutting the dropped
 * ones off once they are half of it or more: dropping by moving the head is O(1) where `shift` copies a long array
 * (4-27 µs an entry on one of tens of thousands), and the cut keeps the dead part bounded. Returns the new head.
 */
export function cutDropped(array: unknown[], head: number): number {
  if (head === 0 || 2 * head < array.length) return head;
  array.splice(0, head);
  return 0;
}

/**
 * What a frame (or any event a session keeps to send again) counts against a resume buffer's bytes: its value's bytes
 * plus what its event adds around them on the wire (its name, id and envelope, under 100 bytes), so that a long run of
 * tiny values is bounded too.
 */
export function frameWeight(data: Uint8Array): number {
  return data.length + 64;
}

/** The pass of a fan-out that serves every reader at once (see `#fanOut`). */
const ONE_SLICE: readonly FeedReader[] = [];

/**
 * One source (e.g. `client.status$(id)` in wire form) shared by every stream that watches it: each value the source
 * emits is serialised **once** into a numbered {@link FeedFrame} and handed to every reader, so a commit watched by
 * 5,000 connections costs one `JSON.stringify`. While a reader has stopped reading (a session whose connection dropped,
 * or whose reader is slow), the feed keeps its latest frames within `bufferBytes`, however many, so that reader catches
 * up from them when it comes back: nothing lost, nothing repeated. While every reader reads, it keeps only the latest
 * (what a new reader starts from).
 *
 * A new reader starts from the latest frame (the current snapshot) or, before there is one, from the first.
 * Fan-out is spread: a frame is delivered to `sliceSize` readers at once, and to the others on later turns of the
 * event loop, so a large audience never blocks the loop in one burst; every reader still gets every frame in order.
 *
 * The feed lives while it has holders (sessions that read it or may resume reading it); the source is unsubscribed
 * when the last one releases it.
 */
export class StreamFeed {
  readonly #options: StreamFeedOptions;
  readonly #head: Uint8Array;
  /**
   * The frames kept, from `#first` (those before it were dropped: let go at once, and cut off once they are half the
   * array, as a `shift` copies a long array: 4-27 µs a frame on one of tens of thousands).
   */
  #frames: (FeedFrame | undefined)[] = [];
  #first = 0;
  /** The bytes of `#frames`, by {@link frameWeight}. */
  #bytes = 0;
  readonly #readers = new Set<FeedReader>();
  /** The readers that joined (see {@link join}) and do not read now: those the buffered frames are kept for. */
  readonly #idle = new Set<FeedReader>();
  #version = 0;
  #ended: FeedEnd | undefined;
  #holders = 0;
  #source: Observable<unknown> | undefined;
  #subscription: Subscription | undefined;
  #done = false;
  /** One copy of each stream key its readers were subscribed with (see {@link intern}). */
  #streams: Map<string, string> | undefined;
  /** The readers of the fan-out pass in progress and the next one to serve. */
  #pass: readonly FeedReader[] | undefined;
  #passIndex = 0;
  #again = false;

  constructor(source: Observable<unknown>, options: StreamFeedOptions) {
    this.#options = options;
    this.#head = eventHead(options.event);
    this.#source = source;
  }

  /** Subscribes the source, once (after the first reader is in place, so that it misses none of its first values). */
  start(): void {
    const source = this.#source;
    if (!source || this.#done) return;
    this.#source = undefined;
    const subscription = source.subscribe({
      next: (value) => this.#push(value),
      error: (error: unknown) => this.#end({ error: this.#options.errorBody(error), retry: isRetryableError(error) }),
      complete: () => this.#end({}),
    });
    if (this.#ended || this.#done) subscription.unsubscribe();
    else this.#subscription = subscription;
  }

  /** Whether the source ended (a new stream then needs a new feed). */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** The cursor a new reader starts from: just before the latest frame, so it gets the current snapshot first. */
  get startCursor(): number {
    return Math.max(0, this.#version - 1);
  }

  /** One more holder (a reader, or a session that may resume reading). */
  hold(): void {
    this.#holders++;
  }

  /** One holder less; the last one disposes the feed. */
  release(): void {
    if (--this.#holders > 0 || this.#done) return;
    this.#dispose();
  }

  /**
   * The feed's copy of `stream`, a key that says what a reader of it sends (see `streamKey`): the readers of one feed
   * use one or two (a status feed's readers stop after a terminal status or not), so each reader holds the feed's
   * copy rather than the one built from its own request.
   */
  intern(stream: string): string {
    const streams = (this.#streams ??= new Map());
    const kept = streams.get(stream);
    if (kept !== undefined) return kept;
    streams.set(stream, stream);
    return stream;
  }

  /** Whether every frame after `cursor` is still buffered (or the reader is up to date). */
  covers(cursor: number): boolean {
    if (cursor >= this.#version) return cursor === this.#version;
    const oldest = this.#frames[this.#first];
    return oldest !== undefined && cursor >= oldest.version - 1;
  }

  /** `reader` will read the feed (see {@link read}), from its cursor: the frames after it are kept for it until then. */
  join(reader: FeedReader): void {
    this.#idle.add(reader);
  }

  /** Starts serving `reader` from its cursor: the frames it missed at once, then every new one. */
  read(reader: FeedReader): void {
    if (reader.reading) return;
    reader.reading = true;
    this.#idle.delete(reader);
    this.#readers.add(reader);
    this.#serve(reader);
    this.#keepLatestIfServed();
  }

  /** Stops serving `reader` (its cursor stays where it is, and the frames after it are kept, within `bufferBytes`). */
  unread(reader: FeedReader): void {
    reader.reading = false;
    this.#readers.delete(reader);
    this.#idle.add(reader);
  }

  /** `reader` reads the feed no more, now or later. */
  leave(reader: FeedReader): void {
    reader.reading = false;
    this.#readers.delete(reader);
    this.#idle.delete(reader);
    this.#keepLatestIfServed();
  }

  #push(value: unknown): void {
    if (this.#ended) return;
    // A value named otherwise than the feed's event (a history's position, rare) gets a head of its own.
    const name = this.#options.eventOf?.(value);
    const frame: FeedFrame = {
      version: ++this.#version,
      head: name === undefined || name === this.#options.event ? this.#head : eventHead(name),
      data: encoder.encode(JSON.stringify(value)),
      terminal: this.#options.isTerminal(value),
    };
    // Every reader up to date (none stopped, no fan-out under way): a new one needs only this frame.
    if (this.#idle.size === 0 && this.#pass === undefined) this.#frames.length = this.#first = this.#bytes = 0;
    this.#frames.push(frame);
    this.#bytes += frameWeight(frame.data);
    this.#trim();
    this.#fanOut();
  }

  #end(end: FeedEnd): void {
    if (this.#ended) return;
    this.#ended = end;
    this.#subscription?.unsubscribe();
    this.#fanOut();
    this.#finish();
  }

  /** Serves every reader up to the latest frame: the first slice now, the rest on later turns. */
  #fanOut(): void {
    if (this.#pass) {
      this.#again = true; // the pass in progress serves the rest; a new one follows for those already served
      return;
    }
    if (this.#readers.size <= this.#options.sliceSize) {
      // One slice serves every reader: no list of them per value (a reader that leaves meanwhile is skipped, one that
      // joins is served up to date already).
      this.#pass = ONE_SLICE;
      for (const reader of this.#readers) if (reader.reading) this.#serve(reader);
      this.#endPass();
      return;
    }
    this.#pass = [...this.#readers];
    this.#passIndex = 0;
    this.#continuePass();
  }

  #continuePass(): void {
    const pass = this.#pass;
    if (!pass) return;
    const stop = Math.min(pass.length, this.#passIndex + this.#options.sliceSize);
    for (; this.#passIndex < stop; this.#passIndex++) {
      const reader = pass[this.#passIndex]!;
      if (reader.reading) this.#serve(reader);
    }
    if (this.#passIndex < pass.length) {
      this.#options.defer(() => this.#continuePass());
      return;
    }
    this.#endPass();
  }

  #endPass(): void {
    this.#pass = undefined;
    if (this.#again) {
      this.#again = false;
      this.#fanOut();
    } else {
      this.#keepLatestIfServed();
    }
  }

  /**
   * Every reader was served (none idle, no fan-out pass under way): only the latest frame is needed now (what a new
   * reader starts from); the others would outlive the readers they were kept for.
   */
  #keepLatestIfServed(): void {
    const frames = this.#frames;
    if (this.#idle.size > 0 || this.#pass !== undefined || frames.length - this.#first <= 1) return;
    const latest = frames[frames.length - 1]!;
    this.#frames = [latest];
    this.#first = 0;
    this.#bytes = frameWeight(latest.data);
  }

  /** Drops the oldest frames past `bufferBytes`, but never the latest. */
  #trim(): void {
    const frames = this.#frames;
    let first = this.#first;
    while (this.#bytes > this.#options.bufferBytes && frames.length - first > 1) {
      this.#bytes -= frameWeight(frames[first]!.data);
      frames[first++] = undefined;
    }
    this.#first = cutDropped(frames, first);
  }

  /**
   * Gives `reader` every frame after its cursor, then the end if the source ended. A reader that throws is its own
   * failure: it is let go of and told ({@link FeedReader.failed}), and the fan-out goes on with the others. Thrown out of
   * a pass, it left them without the frame, and the pass never ended: the feed served no one any more.
   */
  #serve(reader: FeedReader): void {
    try {
      while (reader.cursor < this.#version && reader.reading) {
        const frame = this.#frameAt(reader.cursor + 1);
        if (!frame) {
          this.leave(reader);
          reader.overrun();
          return;
        }
        reader.cursor = frame.version;
        reader.frame(frame);
      }
      if (this.#ended && reader.reading) {
        this.leave(reader);
        reader.end(this.#ended);
      }
    } catch (error) {
      this.leave(reader);
      reader.failed(error);
    }
  }

  #frameAt(version: number): FeedFrame | undefined {
    const oldest = this.#frames[this.#first];
    return oldest === undefined ? undefined : this.#frames[this.#first + version - oldest.version];
  }

  #dispose(): void {
    this.#subscription?.unsubscribe();
    for (const reader of this.#readers) reader.reading = false;
    this.#readers.clear();
    this.#idle.clear();
    this.#pass = undefined;
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#options.onDone();
  }
}

/** What a stream subscribes to: a source, shared by every stream with the same `key` (none: not shared). */
export interface FeedSpec {
  /** Streams with the same key share one feed (e.g. the status of one instance); `undefined`: a feed of its own. */
  readonly key: string | undefined;
  /** The SSE event name of its values. */
  readonly event: string;
  /** The values, already in wire form (JSON-ready). Subscribed once per feed. */
  readonly source: () => Observable<unknown>;
  /** Whether a value is terminal, for `untilTerminal` subscriptions. Default: never. */
  readonly isTerminal?: (value: unknown) => boolean;
  /** The event name of a value, when the feed sends more than one (see {@link StreamFeedOptions.eventOf}). */
  readonly eventOf?: (value: unknown) => string;
}

/** Options of {@link FeedRegistry}. */
export type FeedRegistryOptions = Pick<StreamFeedOptions, 'bufferBytes' | 'sliceSize' | 'errorBody' | 'defer'>;

/** The live feeds of one handler, by key: the first stream of a key creates its feed, the last holder disposes it. */
export class FeedRegistry {
  readonly #options: FeedRegistryOptions;
  readonly #feeds = new Map<string, StreamFeed>();

  constructor(options: FeedRegistryOptions) {
    this.#options = options;
  }

  /** Number of live shared feeds. */
  get size(): number {
    return this.#feeds.size;
  }

  /**
   * The feed of `spec`, held once more for the caller, who must `release()` it, and `start()` it once its reader is
   * in place.
   */
  acquire(spec: FeedSpec): StreamFeed {
    const key = spec.key;
    let feed = key === undefined ? undefined : this.#feeds.get(key);
    if (!feed) {
      const created: StreamFeed = new StreamFeed(spec.source(), {
        ...this.#options,
        event: spec.event,
        isTerminal: spec.isTerminal ?? never,
        eventOf: spec.eventOf,
        onDone: () => {
          if (key !== undefined && this.#feeds.get(key) === created) this.#feeds.delete(key);
        },
      });
      feed = created;
      if (key !== undefined) this.#feeds.set(key, feed);
    }
    feed.hold();
    return feed;
  }
}

function never(): boolean {
  return false;
}
