import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { StreamFeed, type FeedFrame, type FeedReader } from '../src/http/stream-feed.js';

/**
 * What a stream feed keeps for its readers that stopped: the frames after their cursors, within its bytes, the oldest
 * dropped first; and once no reader needs them, the latest only.
 */

function feedOf(bufferBytes: number) {
  const source = new Subject<number>();
  const feed = new StreamFeed(source, {
    event: 'status', bufferBytes, sliceSize: 16, isTerminal: () => false, errorBody: () => ({ code: 'internal', message: 'x' }),
    defer: (callback) => queueMicrotask(callback), onDone: () => undefined,
  });
  return { source, feed };
}

function readerOf(): FeedReader & { readonly got: number[] } {
  const got: number[] = [];
  return {
    got, cursor: 0, reading: false,
    frame: (frame: FeedFrame) => got.push(frame.version),
    end: () => undefined,
    overrun: () => got.push(-1),
    failed: () => got.push(-2),
  };
}

describe('a stream feed', () => {
  it('keeps the frames a stopped reader missed, in order, the oldest dropped past its bytes', () => {
    const { source, feed } = feedOf(10 * (64 + 1));
    const reader = readerOf();
    feed.hold();
    feed.join(reader);
    feed.start();
    feed.read(reader);
    source.next(0);
    feed.unread(reader);
    for (let i = 1; i <= 1000; i++) source.next(i % 10);
    // The last ten are kept, so a cursor nine behind the latest is covered, one further behind is not.
    expect(feed.covers(991)).toBe(true);
    expect(feed.covers(990)).toBe(false);
    reader.cursor = 991;
    feed.read(reader);
    expect(reader.got).toEqual([1, ...Array.from({ length: 10 }, (_, i) => 992 + i)]);
  });

  it('keeps the latest frame only once the reader it kept them for reads again or leaves', () => {
    const { source, feed } = feedOf(1 << 20);
    const [first, second] = [readerOf(), readerOf()];
    feed.hold();
    feed.join(first);
    feed.join(second);
    feed.start();
    feed.read(first);
    feed.read(second);
    source.next(1);
    feed.unread(first);
    feed.unread(second);
    for (let i = 0; i < 5; i++) source.next(i);
    expect(feed.covers(1)).toBe(true);
    feed.read(first);
    expect(feed.covers(1)).toBe(true); // still kept for the second
    feed.leave(second);
    expect(feed.covers(1)).toBe(false);
    expect(feed.covers(feed.startCursor)).toBe(true);
    feed.unread(first);
    source.next(7);
    feed.read(first);
    expect(feed.covers(feed.startCursor - 1)).toBe(false);
    expect(first.got).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
