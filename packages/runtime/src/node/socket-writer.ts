import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SseWriter } from '../http/sse-connection.js';

/** Messages whose shared bytes are at least this long are written without copying them (three corked writes). */
const COPY_LIMIT = 16 * 1024;

/**
 * Writes an event stream to the response's socket. A message (the session's `head`, the value's shared bytes, the
 * `tail`) is copied into one `Buffer` together with its HTTP/1.1 chunk framing and handed to the socket in one
 * `write`: one system call per connection per value, and no work in `ServerResponse`, which would frame every part
 * as a write of its own. Large values are written without the copy. A response the socket is not yet free for (a
 * pipelined request still waiting for an earlier response) is written through `ServerResponse` instead.
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

  write(head: string, data: Uint8Array | undefined, tail: string): void {
    const outgoing = this.#outgoing;
    const socket = this.#socket;
    if (outgoing.writableEnded || outgoing.destroyed) return;
    if (!socket) {
      outgoing.write(message(head, data, tail, false));
      return;
    }
    if (socket.destroyed) return;
    if (data && data.length >= COPY_LIMIT) {
      const size = Buffer.byteLength(head) + data.length + Buffer.byteLength(tail);
      socket.cork();
      socket.write(this.#chunked ? `${size.toString(16)}\r\n${head}` : head);
      socket.write(data);
      socket.write(this.#chunked ? `${tail}\r\n` : tail);
      socket.uncork();
      return;
    }
    socket.write(message(head, data, tail, this.#chunked));
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
}

/** `head`, `data` and `tail` in one buffer, framed as one HTTP/1.1 chunk when `chunked`. */
function message(head: string, data: Uint8Array | undefined, tail: string, chunked: boolean): Buffer {
  const headBytes = Buffer.byteLength(head);
  const size = headBytes + (data?.length ?? 0) + Buffer.byteLength(tail);
  const prefix = chunked ? `${size.toString(16)}\r\n` : '';
  const buffer = Buffer.allocUnsafe(prefix.length + size + (chunked ? 2 : 0));
  let at = buffer.write(prefix, 0, 'latin1');
  at += buffer.write(head, at, 'utf8');
  if (data) {
    buffer.set(data, at);
    at += data.length;
  }
  at += buffer.write(tail, at, 'utf8');
  if (chunked) buffer.write('\r\n', at, 'latin1');
  return buffer;
}
