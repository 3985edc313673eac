/**
 * Told of one dispatched Server-Sent Event: its `event` field (`undefined` when the event had none, `''` when it was
 * empty: both a plain `message`), its `data` lines joined with `\n`, and its `id` field, if it had one. (Arguments
 * rather than an object: nothing to allocate per event, and fewer bytes in a page.) `over`: 1 when the event is
 * found longer than the parser's `max` bytes, and `data` is only what of it lies within its first `max` bytes; 2 when
 * it is then found longer than twice `max`, and `data` is `''`.
 */
export type SseListener = (event: string | undefined, data: string, id: string | undefined, over?: number) => void;

/**
 * A Server-Sent Events parser, following the event-stream interpretation of the WHATWG HTML standard (§9.2.6): the
 * stream is UTF-8 (a byte-order mark that starts it is dropped; a byte sequence that is no UTF-8 reads as U+FFFD);
 * lines end at CRLF, CR or LF (a CR ends its line at once, and an LF right after it, in the same chunk or the next, is
 * the rest of that line end); a line starting with `:` is a comment; a field name is followed by `:` and one optional
 * space; `data` lines accumulate, joined with `\n`; an empty line dispatches the event unless it had no `data`;
 * `retry` takes only digits; an `id` containing NUL is ignored; unknown fields are ignored; an event not ended by an
 * empty line is never dispatched. Written here rather than taken from `eventsource-parser` because it is a quarter of
 * the bytes in a page; a test checks both give the same events for every split of the same streams.
 *
 * The last event id is reported on its own (`onId`), at the empty line that ends a block with an `id` field,
 * whether or not the block had `data`: the standard sets the last event id string from its id buffer at every
 * dispatch, also when no event is fired, and an empty `id` makes it empty (a reconnect then sends no
 * `Last-Event-ID`). Blocks without an `id` field leave it as it was.
 *
 * Its bytes as they arrived are what `max` bounds (counted before they are decoded, so a character of several bytes
 * counts them all): an event longer than `max` bytes (its lines, the empty line that ends it included, each line end
 * counted as one) is not held whole. Once it is, `onEvent` is told of it at once with `over` 1 and, as `data`, what of
 * its data lies within its first `max` bytes, in whole characters (of the line it passes `max` in, only its data
 * counts: a field cut short is no field); the rest of it is skipped, its data not held (its other lines are read, each
 * shorter than `max` bytes, or it would pass the bound below), up to its empty line, which sets the last event id as
 * any other. When it passes twice `max`,
 * `onEvent` is told once more, with `over` 2 and no data, and the skipping goes on to its empty line: its data is not
 * held, nor any line of it longer than `max` bytes (dropped, no field; a shorter one is read as before). So the parser
 * never holds more than about `max` bytes, whatever the caller does; but a caller stops reading there, or a server
 * that never ends the event would keep it reading, and discarding, without end. The same stream gives the same calls
 * however it is cut into chunks.
 *
 * @param onEvent told of each dispatched event, and of each event found longer than `max`
 * @param onRetry told of each valid `retry` field, in milliseconds
 * @param onId told of the new last event id (`''`: none) when a block with an `id` field ends, before its event
 * @param max the most bytes of one event read whole
 * @returns `feed`: give it each chunk of the stream's bytes, in order
 *
 * @example
 * ```ts
 * const feed = sseParser((event, data) => console.log(event, data), () => {}, () => {});
 * const bytes = new TextEncoder().encode('event: status\ndata: {"a":1}\n\n');
 * feed(bytes.subarray(0, 20)); feed(bytes.subarray(20)); // status {"a":1}
 * ```
 */
export function sseParser(
  onEvent: SseListener, onRetry: (ms: number) => void, onId: (id: string) => void, max = Infinity,
): (chunk: Uint8Array) => void {
  // One decoder for the whole stream, never flushed: it drops a byte-order mark only where the stream starts (given
  // every line end, an empty line's too, it sees where that is), and a character split between two chunks waits in
  // it. Each line is given to it with its line end, so that a character cut short by the line's end (or by a skip)
  // reads as U+FFFD there, not in the next line.
  const decoder = new TextDecoder();
  /** The line being read, decoded so far (`''` while it is skipped). */
  let line = '';
  /** Bytes of the line being read so far. */
  let bytes = 0;
  /** Bytes of the event's lines already ended, each line end counted as one. */
  let size = 0;
  /**
   * 0; 1: the event is longer than `max`, told, its data skipped; 2: longer than twice `max`, told again, and its lines
   * longer than `max` skipped too.
   */
  let over = 0;
  /** The line being read is dropped up to its end. */
  let skip = false;
  /** The last byte was a CR: an LF right after it is the rest of its line end. */
  let cr = false;
  let data: string | undefined;
  let event: string | undefined;
  let id: string | undefined;
  const decode = (bytes: Uint8Array): string => decoder.decode(bytes, { stream: true });
  /** Takes one line; of a line `cut` short, only its data. */
  const take = (line: string, cut?: boolean): void => {
    // The field name runs to the first colon (or the line's end); one space after the colon is dropped. `s`: the
    // value runs to the line's end, U+2028 and U+2029 included (`.` alone stops there; JSON.stringify keeps them).
    const [, field, value] = /^([^:]*):? ?(.*)/s.exec(line) as unknown as [string, string, string];
    if (field === 'data') data = over ? data : data === undefined ? value : `${data}\n${value}`;
    else if (cut) return;
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) onRetry(+value);
  };
  /**
   * Reads `chunk` from `from` to `to`, the next bytes of the line being read, and its line end (one byte) when `ended`
   * (1): judges the event's length as it stands with them, then holds them or acts on the line they end.
   */
  const read = (chunk: Uint8Array, from: number, to: number, ended: number): void => {
    bytes += to - from;
    // Past its bound (`max`, then twice it): told at once; the line is skipped from there on. (Of a skipped event, a line
    // shorter than that is held until it ends: the event's first `max` bytes passed, it is shorter than `max`.)
    for (let room; over < 2 && (room = max * (over + 1) - size - bytes - ended) < 0;) {
      // What of the line lies within the first `max` bytes (its line end may be the byte too many).
      if (!over) take(line + decode(chunk.subarray(from, to + room + ended)), true);
      onEvent(event, data ?? '', id, ++over);
      data = undefined;
      skip = true;
    }
    // Past twice `max` no bound above applies: a line longer than `max` is skipped as it passes it, so that nothing
    // held is ever longer than `max` bytes, whatever the caller does.
    if (over > 1 && bytes > max) skip = true;
    // (A line with no bytes yet has nothing in the decoder either: the line end before it took it all.)
    line = skip || !bytes ? '' : line + decode(chunk.subarray(from, to + ended));
    if (!ended) return;
    // Its line end too is decoded: what it ends is over, a character cut short included; an empty line's too, as the
    // decoder drops a byte-order mark only before the first byte it is given (the stream's, not the first line's).
    if (skip || !bytes) decode(chunk.subarray(to, to + 1));
    if (bytes) {
      if (!skip) take(line.slice(0, -1));
      size += bytes + 1;
    } else {
      if (id !== undefined) onId(id);
      if (!over && data !== undefined) onEvent(event, data, id);
      data = event = id = undefined;
      size = over = 0;
    }
    line = '';
    bytes = 0;
    skip = false;
  };
  return (chunk) => {
    const { length } = chunk;
    // The LF of a CRLF whose CR ended the last chunk: its line has ended.
    let from = cr && chunk[0] === 10 ? 1 : 0;
    // Where the next LF and CR are (-1, none, read as 2 ** 32 - 1: past the end), each looked for again only once
    // passed, so that a chunk without CR is scanned for one once.
    for (let lf = -1, crAt = -1, end; ; from = end + 1) {
      if (lf < from) lf = chunk.indexOf(10, from) >>> 0;
      if (crAt < from) crAt = chunk.indexOf(13, from) >>> 0;
      if ((end = Math.min(lf, crAt)) >= length) break;
      read(chunk, from, end, 1);
      // The LF of a CRLF: the rest of its line end.
      if (lf === end + 1) end++;
    }
    read(chunk, from, length, 0);
    if (length) cr = chunk[length - 1] === 13;
  };
}
