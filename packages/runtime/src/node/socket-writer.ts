import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SseWriter } from '../http/sse-connection.js';
import { digitCount, eventEndLength, eventHeadLength, putDigits, putEventEnd, putEventHead } from '../http/sse-event.js';

/** Messages whose shared bytes are at least this long are written without copying them (three corked writes). */
const COPY_LIMIT = 16 * 1024;

/**
 * Writes an event stream to the response's socket. An event is assembled in one `Buffer` together with its HTTP/1.1
 * chunk framing, from bytes encoded before (the feed's event head, the value's shared bytes), the session's id and
 * its number, and handed to the socket in one `write`: one system call per connection per value, nothing serialised
 * per connection, no callback, and no work in `ServerResponse`, which would frame every part as a write of its own.
 * Large values are written without the copy. A response the socket is not yet free for (a pipelined request still
 * waiting for an earlier response) is written through `ServerResponse` instead.
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
  /** `end` or `abort` was called: nothing more is written (a kept-alive socket may serve the next response). */
  #done = false;

  constructor(outgoing: ServerResponse) {
    this.#outgoing = outgoing;
    const socket = outgoing.socket;
    // Everything the response holds is on the socket already: from here on, the socket's order is the response's.
    const direct = socket !== null && outgoing.headersSent && outgoing.writableLength === socket.writableLength;
    this.#socket = direct ? socket : undefined;
    this.#chunked = outgoing.chunkedEncoding;
  }

  write(head: Uint8Array, session: string, seq: number, sub: string | undefined, data: Uint8Array): void {
    const socket = this.#socket;
    if (!socket) {
      if (!this.#closed()) this.#outgoing.write(event(head, session, seq, sub, data, false));
      return;
    }
    if (this.#done || !socket.writable) return; // ended, destroyed or failed
    if (data.length < COPY_LIMIT) {
      socket.write(event(head, session, seq, sub, data, this.#chunked));
      return;
    }
    // The head with the chunk's size line, then the shared bytes as they are, then the end and the chunk's CRLF.
    const before = eventHeadLength(head, session, seq, sub);
    const after = eventEndLength(sub);
    const size = before + data.length + after;
    const chunked = this.#chunked;
    const first = Buffer.allocUnsafe((chunked ? digitCount(size, 16) + 2 : 0) + before);
    putEventHead(first, chunked ? putChunkSize(first, size) : 0, head, session, seq, sub);
    const last = Buffer.allocUnsafe(after + (chunked ? 2 : 0));
    putCrlf(last, putEventEnd(last, 0, sub), chunked);
    socket.cork();
    socket.write(first);
    socket.write(data);
    socket.write(last);
    socket.uncork();
  }

  writeText(text: string): void {
    if (this.#closed()) return;
    const socket = this.#socket;
    if (!socket) {
      this.#outgoing.write(text);
      return;
    }
    if (!socket.writable) return; // ended, destroyed or failed, as in write()
    const size = Buffer.byteLength(text);
    socket.write(this.#chunked ? `${size.toString(16)}\r\n${text}\r\n` : text);
  }

  get gone(): boolean {
    // Destroyed or failed, ended (`end`, `abort`) included: nothing written reaches the reader.
    return this.#socket ? this.#done || !this.#socket.writable : this.#closed();
  }

  get backlog(): number {
    // Written directly, the response holds nothing of its own: what waits is on the socket.
    return this.#socket && !this.#done ? this.#socket.writableLength : this.#outgoing.writableLength;
  }

  drained(callback: () => void): void {
    // What `backlog` counts drains there: the socket, or the response while it waits for the socket.
    (this.#socket && !this.#done ? this.#socket : this.#outgoing).once('drain', callback);
  }

  end(): void {
    this.#done = true;
    this.#outgoing.end();
  }

  abort(): void {
    this.#done = true;
    this.#outgoing.destroy();
  }

  #closed(): boolean {
    return this.#done || this.#outgoing.writableEnded || this.#outgoing.destroyed;
  }
}

/** One event (see `putEvent`) in one buffer, framed as one HTTP/1.1 chunk when `chunked`. */
function event(head: Uint8Array, session: string, seq: number, sub: string | undefined, data: Uint8Array, chunked: boolean): Buffer {
  const before = eventHeadLength(head, session, seq, sub);
  const size = before + data.length + eventEndLength(sub);
  const buffer = Buffer.allocUnsafe(chunked ? digitCount(size, 16) + size + 4 : size);
  let at = putEventHead(buffer, chunked ? putChunkSize(buffer, size) : 0, head, session, seq, sub);
  buffer.set(data, at);
  at = putEventEnd(buffer, at + data.length, sub);
  putCrlf(buffer, at, chunked);
  return buffer;
}

/** Writes an HTTP/1.1 chunk's size line (`<hex>\r\n`) at the start of `buffer`; returns the position after it. */
function putChunkSize(buffer: Buffer, size: number): number {
  return putCrlf(buffer, putDigits(buffer, 0, size, 16), true);
}

/** Writes `\r\n` at `at` when `chunked`; returns the position after it. */
function putCrlf(buffer: Buffer, at: number, chunked: boolean): number {
  if (!chunked) return at;
  buffer[at] = 13;
  buffer[at + 1] = 10;
  return at + 2;
}
