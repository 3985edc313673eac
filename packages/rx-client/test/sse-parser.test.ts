import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { sseParser } from '../src/sse-parser.js';

/** One dispatched event: its `event` field (none for a plain message), `data` and `id` field. */
type SseMessage = { readonly event: string | undefined; readonly data: string; readonly id: string | undefined };
type Parsed = { readonly events: SseMessage[]; readonly retries: number[] };

/** A chunk of the stream: its bytes, or text (given as its UTF-8 bytes). */
type Chunk = string | Uint8Array;
const encoder = new TextEncoder();
const bytesOf = (chunk: Chunk): Uint8Array => (typeof chunk === 'string' ? encoder.encode(chunk) : chunk);

function parseWithOurs(chunks: readonly Chunk[]): Parsed {
  const events: SseMessage[] = [];
  const retries: number[] = [];
  // An empty event type is no type (a plain message), as in the reference, which reports it as none.
  const feed = sseParser((event, data, id) => events.push({ event: event || undefined, data, id }), (ms) => retries.push(ms), () => undefined);
  for (const chunk of chunks) feed(bytesOf(chunk));
  return { events, retries };
}

/**
 * The last event id after each chunk, as the standard defines it (HTML §9.2.6): the id buffer is set by each `id`
 * field without NUL (empty included) and is not reset between events; every dispatch (an empty line) copies it to the
 * last event id string, also when the block has no data and no event is fired.
 */
function lastIdsWithOurs(chunks: readonly string[]): string[] {
  let last = '';
  const feed = sseParser(() => undefined, () => undefined, (id) => (last = id));
  return chunks.map((chunk) => {
    feed(bytesOf(chunk));
    return last;
  });
}

/**
 * The same stream through eventsource-parser, the reference implementation of the standard's parsing rules, given the
 * text of each chunk as a streaming TextDecoder makes it (a character split between chunks comes whole with the
 * second). It holds back a line that ends with CR at the end of a chunk (the LF of a CRLF may follow); both parsers are
 * given a last comment line, after which they must agree.
 */
function parseWithReference(chunks: readonly Chunk[]): Parsed {
  const events: SseMessage[] = [];
  const retries: number[] = [];
  const parser = createParser({
    onEvent: (m) => events.push({ event: m.event, data: m.data, id: m.id }),
    onRetry: (ms) => retries.push(ms),
  });
  const decoder = new TextDecoder();
  for (const chunk of chunks) parser.feed(decoder.decode(bytesOf(chunk), { stream: true }));
  parser.feed(decoder.decode() + ':end\n');
  return { events, retries };
}

/**
 * Every way of cutting the bytes of `stream` into two chunks (inside a character of several bytes, too), plus one
 * byte per chunk.
 */
function splits(stream: Chunk): Uint8Array[][] {
  const bytes = bytesOf(stream);
  const out: Uint8Array[][] = [[bytes], [...bytes].map((byte) => Uint8Array.of(byte))];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return out;
}

const STREAMS: readonly Chunk[] = [
  'event: status\ndata: {"a":1}\nid: s.1\n\n',
  'event: status\r\ndata: {"a":1}\r\nid: s.1\r\n\r\n',
  'event: status\rdata: 1\rid: s.2\r\r',
  ': a comment\n:another\ndata: one\ndata:two\ndata:  three\n\n',
  'data\n\ndata:\n\nevent: x\n\n',
  'retry: 2500\nretry: 1.5\nretry: x\nretry:\ndata: r\n\n',
  'id: with\0nul\ndata: a\n\nid\ndata: b\n\n',
  'unknown: field\nevent\ndata: c\n\n',
  'data x\nevent y\ndata: a: b:c\ndata:: d\n\n', // no colon: the whole line names the field; later colons are value
  'data: first\n\ndata: unfinished', // the last event has no empty line: never dispatched
  'data: mixed\r\n\ndata: ends\r\r\n\n',
  'data: "\u00e9\u{1F600}"\n\n',
  'data: "a\u2028b\u2029c"\n\n', // line separators of Unicode, which JSON.stringify leaves unescaped, end no line
  'event: a\u2028b\nid: c\u2029d\ndata: \u2028\n\n',
  '\ufeffdata: a\n\n\ufeffdata: b\n\ndata: c\ufeff\n\n', // a byte-order mark is dropped where the stream starts only
  '\ufeff\ndata: a\n\n', // a line of a byte-order mark alone is empty
  // After empty lines the stream has started: a byte-order mark there is part of its line (here its field name).
  '\n\ufeffdata: x\n\n',
  '\r\n\r\ufeffdata: x\n\ndata: y\n\n',
  // Bytes that are no UTF-8 (a character cut short by its line end, a lone continuation byte, a byte never in UTF-8):
  // each reads as U+FFFD, in its own line.
  Uint8Array.from([...encoder.encode('data: a'), 0xe2, 0x82, 10, ...encoder.encode('data: b'), 0x80, 0xff, 13, 10, 0xf0, 0x9f, 10, 10]),
];

describe('sseParser', () => {
  /** What a parser with limit `max` tells of `chunks`: each event (with `over` when too long) and each last event id. */
  const told = (chunks: readonly Chunk[], max: number): unknown[] => {
    const calls: unknown[] = [];
    const feed = sseParser((...args) => calls.push(args), (ms) => calls.push(ms), (id) => calls.push(id), max);
    for (const chunk of chunks) feed(bytesOf(chunk));
    return calls;
  };

  it('reads an event of at most max bytes, its line ends and empty line counted, and tells of a longer one at once', () => {
    expect(told(['data: 12\n\n'], 10)).toEqual([[undefined, '12', undefined]]); // 10 bytes: read
    expect(told(['data: 123\n\n'], 10)).toEqual([[undefined, '123', undefined, 1]]); // 11
    // Told as soon as it is over, with what of its data lies within its first max bytes; the rest is skipped to its
    // empty line, which still sets the last event id; the next event is read as any other.
    expect(told(['event: e\nid: 7\ndata: {"sub":"1","data":[0,0]}\ndata: x\nretry: 5\n\ndata: next\n\n'], 40))
      .toEqual([['e', '{"sub":"1","data":[', '7', 1], 5, '7', [undefined, 'next', undefined]]);
    // Lines never closed by an empty one are told once, and held no more.
    expect(told(['data: 1\n', 'data: 2\n', 'data: 3\n'], 20)).toEqual([[undefined, '1\n2\n', undefined, 1]]);
  });

  it('counts bytes, not characters: a character of several bytes counts them all, and is never cut', () => {
    expect(told(['data: \u00e9\u00e9\n\n'], 12)).toEqual([[undefined, '\u00e9\u00e9', undefined]]); // 12 bytes, 10 characters
    expect(told(['data: \u00e9\u00e9\n\n'], 11)).toEqual([[undefined, '\u00e9\u00e9', undefined, 1]]);
    // The first 10 bytes end inside the second euro sign: the data told holds whole characters only.
    expect(told(['data: \u20ac\u20ac\n\n'], 10)).toEqual([[undefined, '\u20ac', undefined, 1]]);
    expect(told(['data: \u{1F600}\u{1F600}\n\n'], 13)).toEqual([[undefined, '\u{1F600}', undefined, 1]]);
  });

  it('takes of the line cut at max bytes only its data: a field cut short is no field', () => {
    // 'retry: 12' would be a retry of 12 ms; 'id: 12' an id the server never sent.
    expect(told(['retry: 12345\n\n'], 9)).toEqual([[undefined, '', undefined, 1]]);
    expect(told(['id: 1234\n\n'], 6)).toEqual([[undefined, '', undefined, 1]]);
  });

  it('tells once more when the rest of an event passes another max bytes: an event that never ends is not read for ever', () => {
    // 20 bytes, twice max: told once; the next event is read.
    expect(told(['data: 0123456789ab\n\ndata: z\n\n'], 10)).toEqual([[undefined, '0123', undefined, 1], [undefined, 'z', undefined]]);
    // 21 bytes: told again, with no data, at the byte that passes twice max (here the empty line).
    expect(told(['data: 0123456789abc\n\n'], 10)).toEqual([[undefined, '0123', undefined, 1], [undefined, '', undefined, 2]]);
    // A line that never ends, and lines never closed by an empty one: told twice, then held no more.
    expect(told(['event: e\nid: 7\ndata: {"sub":"1","data":[', '0,'.repeat(50)], 30))
      .toEqual([['e', '{"sub":"1', '7', 1], ['e', '', '7', 2]]);
    expect(told(['data: ' + 'x'.repeat(100), 'x'.repeat(100)], 10)).toEqual([[undefined, 'xxxx', undefined, 1], [undefined, '', undefined, 2]]);
    expect(told(['data: 1\n', 'data: 2\n', 'data: 3\n'.repeat(100)], 10))
      .toEqual([[undefined, '1', undefined, 1], [undefined, '', undefined, 2]]);
    // The rest of it still sets the last event id when it ends; the next event is read as any other.
    expect(told(['data: ' + 'x'.repeat(30) + '\nid: 9\n\ndata: next\n\n'], 12))
      .toEqual([[undefined, 'xxxxxx', undefined, 1], [undefined, '', undefined, 2], '9', [undefined, 'next', undefined]]);
    // Past twice max the skipping goes on: a line longer than max (here a million bytes) is dropped, not held, and is
    // no field; a shorter one is read.
    expect(told(['data: ' + 'x'.repeat(30) + '\nid: 8\nid: ' + 'y'.repeat(1_000_000) + '\n\n'], 10))
      .toEqual([[undefined, 'xxxx', undefined, 1], [undefined, '', undefined, 2], '8']);
    expect(told(['data: ' + 'x'.repeat(30) + '\nid: 8\nid: 1234567\n', 'retry: 12345\n', '\n'], 10))
      .toEqual([[undefined, 'xxxx', undefined, 1], [undefined, '', undefined, 2], '8']);
  });

  it('judges the limit the same however the stream is cut, inside a character of several bytes too', () => {
    const streams = [
      'event: e\nid: 7\ndata: {"sub":"1","data":[0,0,0]}\n\n: hb\n\ndata: b\r\ndata: c\r\rdata: after\n\n',
      'data: 0123456789abcdef\rid: 2\r\rdata: 0123\r\n\r\n',
      'id: 1\r\nevent: long-name-of-an-event\r\ndata: a\r\n\r\ndata: z\n\n',
      'data: \u00e9\u20ac\u{1F600}x\r\nid: \u20ac\n\ndata: \u{1F600}\u{1F600}\u{1F600}\r\rretry: 7\ndata: end\n\n',
      '\ufeffdata: \u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\n\n\ufeffdata: \u20ac\n\n',
      'data: 0123456789abcdefghijklmnopq\nid: 0123456789abc\u20ac\nid: 1\nretry: 123456789012\nid: \u20ac\u20ac\n\ndata: z\n\n',
      '\n\ufeffdata: \u00e9\u00e9\n\n',
      Uint8Array.from([...encoder.encode('data: \u20ac'), 0xe2, 0x82, 10, ...encoder.encode('data: b'), 0x80, 0xff, 13, 10, 0xf0, 0x9f, 10, 10]),
    ];
    for (const stream of streams) {
      const length = bytesOf(stream).length;
      for (let max = 1; max <= length + 1; max++) {
        const whole = told([stream], max);
        for (const chunks of splits(stream)) expect(told(chunks, max), `${max} ${JSON.stringify(chunks.map((c) => [...c]))}`).toEqual(whole);
      }
    }
  });

  it('parses a status stream whatever chunks it arrives in', () => {
    const text = 'event: status\r\ndata: {"customStatus":\r\ndata: "Tokyo"}\r\nid: s1.7\r\n\r\n: keep-alive\r\n\r\n';
    for (const chunks of splits(text)) {
      expect(parseWithOurs(chunks).events).toEqual([{ event: 'status', data: '{"customStatus":\n"Tokyo"}', id: 's1.7' }]);
    }
  });

  it('completes a CRLF split between two chunks without seeing an empty line', () => {
    expect(parseWithOurs(['data: a\r', '\ndata: b\r', '\n\r', '\n']).events).toEqual([{ event: undefined, data: 'a\nb', id: undefined }]);
  });

  it('keeps a pending CR across an empty chunk', () => {
    expect(parseWithOurs(['data: a\r', '', '\n', 'data: b\n\n']).events).toEqual([{ event: undefined, data: 'a\nb', id: undefined }]);
  });

  it('reports valid retry hints only', () => {
    expect(parseWithOurs(['retry: 2500\nretry: 1.5\nretry: -1\nretry: 30\n']).retries).toEqual([2500, 30]);
  });

  it.each(STREAMS.map((stream) => [JSON.stringify(typeof stream === 'string' ? stream : [...stream]), stream]))(
    'gives the same events as eventsource-parser for every split of %s', (_, stream) => {
      for (const chunks of splits(stream)) expect(parseWithOurs([...chunks, ':end\n'])).toEqual(parseWithReference(chunks));
    },
  );

  it('gives the same events as eventsource-parser for 2,000 random streams cut at random bytes', () => {
    const tokens = ['data: x', 'data:', 'data:  y', 'event: e', 'event:', 'id: 1', 'id', ':c', 'retry: 5', 'foo: z', '\n', '\n', '\r', '\r\n', '\u00e9', '\u{1F600}', '\ufeff'];
    let seed = 15;
    const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n);
    for (let run = 0; run < 2000; run++) {
      let text = '';
      for (let i = random(30); i >= 0; i--) text += tokens[random(tokens.length)];
      const bytes = encoder.encode(text);
      const cuts = [random(bytes.length + 1), random(bytes.length + 1), random(bytes.length + 1)].sort((a, b) => a - b);
      const chunks = [bytes.subarray(0, cuts[0]), bytes.subarray(cuts[0], cuts[1]), bytes.subarray(cuts[1], cuts[2]), bytes.subarray(cuts[2])];
      expect(parseWithOurs([...chunks, ':end\n']), JSON.stringify([text, cuts])).toEqual(parseWithReference(chunks));
    }
  });

  it('takes the last event id from a block that has an id but no data, as the standard does', () => {
    expect(lastIdsWithOurs(['id: s.1\ndata: a\n\n', 'id: s.2\n\n', ': heartbeat\n\n'])).toEqual(['s.1', 's.2', 's.2']);
    expect(lastIdsWithOurs(['id: s.3\nevent: x\n\n'])).toEqual(['s.3']); // an event type without data: no event, the id counts
  });

  it('clears the last event id on an empty id field, with or without a space, and only when the block ends', () => {
    expect(lastIdsWithOurs(['id: s.1\ndata: a\n\n', 'id:\n', '\n'])).toEqual(['s.1', 's.1', '']);
    expect(lastIdsWithOurs(['id: s.1\n\n', 'id: \ndata: b\n\n'])).toEqual(['s.1', '']);
    expect(lastIdsWithOurs(['id: s.1\n\n', 'id\n\n'])).toEqual(['s.1', '']); // a line with no colon: field "id", value ""
  });

  it('keeps the last event id across blocks without an id, and ignores an id with NUL or a block never ended', () => {
    expect(lastIdsWithOurs(['id: s.1\n\n', 'data: a\n\n', 'id: x\u0000y\ndata: b\n\n', 'id: s.9\ndata: c'])).toEqual(['s.1', 's.1', 's.1', 's.1']);
    expect(lastIdsWithOurs(['id: s.1\nid: s.2\n\n'])).toEqual(['s.2']); // the last id field of a block wins
  });
});
