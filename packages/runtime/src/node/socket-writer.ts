import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SseWriter } from '../http/sse-connection.js';

/** Messages whose shared bytes are at least this long are written without copying them (three corked writes). */
const COPY_LIMIT = 16 * 1024;

/**
 * Writes an event stream to the response's socket. An event is assembled in one `Buffer` together with its HTTP/1.1
 * chunk framing, from bytes encoded before (the subscription's framing, the value's shared bytes) and its number, and
 * handed to the socket in one `write`: one system call per connection per value, nothing encoded per connection, no
 * callback, and no work in `ServerResponse`, which would frame every part as a write of its own. Large values are
 * written without the copy. A response the socket is not yet free for (a pipelined request still waiting for an
 * earlier response) is written through `ServerResponse` instead.
 *
 * `backlog` is what the socket has not sent yet. A class, not closures: one small object per connection.
 *
 * Open it after `writeHead` and `flushHeaders`, and finish it with `end`, which lets `ServerResponse` write the
 * last chunk.
 */
export class SocketWriter implements SseWriter {
  readonly #outgoing: ServerResponse;
  /** The socket to write to directly, when the headers went to it and nothing of the response waits in front. */
  readonly #socket: Socket | undefined;
  readonly #chunked: boolean;

  constructor(outgoing: ServerResponse) {
    this.#outgoing = outgoing;
    const socket = outgoing.socket;
    // Everything the response holds is on the socket already: from here on, the socket's order is the response's.
    const direct = socket !== null && outgoing.headersSent && outgoing.writableLength === socket.writableLength;
    this.#socket = direct ? socket : undefined;
    this.#chunked = outgoing.chunkedEncoding;
  }

  write(framing: Uint8Array, split: number, seq: number, data: Uint8Array, after: Uint8Array): void {
    const socket = this.#socket;
    if (!socket) {
      if (!this.#closed()) this.#outgoing.write(event(framing, split, seq, data, after, false));
      return;
    }
    if (socket.destroyed || this.#closed()) return;
    if (data.length < COPY_LIMIT) {
      socket.write(event(framing, split, seq, data, after, this.#chunked));
      return;
    }
    const size = framing.length + digits(seq, 10) + data.length + after.length;
    socket.cork();
    socket.write(event(framing, split, seq, EMPTY, EMPTY, this.#chunked, size));
    socket.write(data);
    socket.write(this.#chunked ? Buffer.concat([after, CRLF]) : after);
    socket.uncork();
  }

  writeText(text: string): void {
    if (this.#closed()) return;
    const socket = this.#socket;
    if (!socket) {
      this.#outgoing.write(text);
      return;
    }
    if (socket.destroyed) return;
    const size = Buffer.byteLength(text);
    socket.write(this.#chunked ? `${size.toString(16)}\r\n${text}\r\n` : text);
  }

  get backlog(): number {
    return this.#outgoing.writableLength;
  }

  end(): void {
    this.#outgoing.end();
  }

  abort(): void {
    this.#outgoing.destroy();
  }

  #closed(): boolean {
    return this.#outgoing.writableEnded || this.#outgoing.destroyed;
  }
}

const EMPTY = new Uint8Array(0);
const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * One event in one buffer: `framing[0, split)`, `seq` in decimal, `framing[split, end)`, `data`, `after`; framed as
 * one HTTP/1.1 chunk of `size` bytes when `chunked` (`size` defaults to the event's own length; a larger one announces
 * parts written after it).
 */
function event(
  framing: Uint8Array, split: number, seq: number, data: Uint8Array, after: Uint8Array, chunked: boolean,
  size = framing.length + digits(seq, 10) + data.length + after.length,
): Buffer {
  const own = framing.length + digits(seq, 10) + data.length + after.length;
  const sizeDigits = chunked ? digits(size, 16) : 0;
  const buffer = Buffer.allocUnsafe(chunked ? sizeDigits + 2 + own + (size === own ? 2 : 0) : own);
  let at = 0;
  if (chunked) {
    at = put(buffer, 0, size, 16, sizeDigits);
    buffer[at++] = 13;
    buffer[at++] = 10;
  }
  buffer.set(framing.subarray(0, split), at);
  at = put(buffer, at + split, seq, 10, digits(seq, 10));
  buffer.set(framing.subarray(split), at);
  at += framing.length - split;
  buffer.set(data, at);
  at += data.length;
  buffer.set(after, at);
  at += after.length;
  if (chunked && size === own) {
    buffer[at++] = 13;
    buffer[at] = 10;
  }
  return buffer;
}

/** Number of digits of the non-negative integer `n` in `radix`. */
function digits(n: number, radix: number): number {
  let count = 1;
  for (let rest = n; rest >= radix; rest = Math.floor(rest / radix)) count++;
  return count;
}

/** Writes the `count` digits of `n` in `radix` (10 or 16, lower case) at `at`; returns the position after them. */
function put(buffer: Buffer, at: number, n: number, radix: number, count: number): number {
  let rest = n;
  for (let i = at + count - 1; i >= at; i--) {
    const digit = rest % radix;
    buffer[i] = digit < 10 ? 48 + digit : 87 + digit;
    rest = Math.floor(rest / radix);
  }
  return at + count;
}
