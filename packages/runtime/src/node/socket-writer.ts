import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SseWriter } from '../http/sse-connection.js';
import { digitCount, eventLength, putDigits, putEvent } from '../http/sse-event.js';

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
    const size = eventLength(framing, seq, data, after);
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
 * One event (see `putEvent`) in one buffer, framed as one HTTP/1.1 chunk of `size` bytes when `chunked` (`size`
 * defaults to the event's own length; a larger one announces parts written after it).
 */
function event(
  framing: Uint8Array, split: number, seq: number, data: Uint8Array, after: Uint8Array, chunked: boolean,
  size = eventLength(framing, seq, data, after),
): Buffer {
  const own = eventLength(framing, seq, data, after);
  const last = chunked && size === own; // the chunk ends in this buffer
  const buffer = Buffer.allocUnsafe((chunked ? digitCount(size, 16) + 2 : 0) + own + (last ? 2 : 0));
  let at = 0;
  if (chunked) {
    at = putDigits(buffer, 0, size, 16);
    buffer[at++] = 13;
    buffer[at++] = 10;
  }
  at = putEvent(buffer, at, framing, split, seq, data, after);
  if (last) {
    buffer[at++] = 13;
    buffer[at] = 10;
  }
  return buffer;
}
