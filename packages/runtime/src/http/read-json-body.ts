import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { PayloadTooLargeError } from '../model/errors/payload-too-large-error.js';

const CUT = 'The request body did not arrive whole (the connection was cut)';

/** A request body read by {@link readJsonBody}: absent (no bytes), or a parsed JSON value. */
export type JsonBody = { readonly present: false } | { readonly present: true; readonly value: unknown };

/**
 * Reads a request body as JSON, counting bytes as they arrive so that an oversized body is refused (413,
 * {@link PayloadTooLargeError}) without being buffered whole, whatever `Content-Length` claims.
 *
 * An empty body is "absent". A non-empty body must be declared `application/json` (or `…+json`) and be valid
 * UTF-8 JSON. Every body must arrive whole: a body stream that fails, a body shorter than its `Content-Length`, or a
 * body without a length whose client left before it was read (the connection was cut mid-body) is refused too.
 * Otherwise {@link InvalidArgumentError} (400). `JSON.parse` keeps keys such as `__proto__` as own data properties,
 * so a hostile payload cannot reach a prototype.
 */
export async function readJsonBody(request: Request, limitBytes: number): Promise<JsonBody> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limitBytes) {
    throw new PayloadTooLargeError(`The request body is ${declared} bytes; the limit is ${limitBytes} bytes`);
  }
  const bytes = await readLimited(request, limitBytes);
  // A server may end the body stream quietly when the client goes away (@hono/node-server does, with none or some of
  // the bytes), which would read as a shorter body or none: a command without its input. A body is whole when it has
  // the declared length; without one (chunked), when the client did not leave before it was read.
  const whole = declared !== null && /^\d+$/.test(declared) ? bytes.byteLength === Number(declared) : !request.signal.aborted;
  if (!whole) throw new InvalidArgumentError(CUT);
  if (bytes.byteLength === 0) return { present: false };
  if (!isJsonContentType(request.headers.get('content-type'))) {
    throw new InvalidArgumentError('The request body must be JSON with Content-Type: application/json');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new InvalidArgumentError('The request body is not valid UTF-8');
  }
  try {
    return { present: true, value: JSON.parse(text) as unknown };
  } catch {
    throw new InvalidArgumentError('The request body is not valid JSON');
  }
}

/** True for `application/json` and `application/<x>+json`, with any parameters. */
export function isJsonContentType(header: string | null): boolean {
  if (header === null) return false;
  const mediaType = header.split(';', 1)[0]!.trim().toLowerCase();
  return mediaType === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(mediaType);
}

async function readLimited(request: Request, limitBytes: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      // The client cut the connection mid-body, or the body stream failed: a request that never arrived whole,
      // refused like any malformed one (not an unexpected server failure, which would be logged as one).
      throw new InvalidArgumentError(CUT, { cause: error });
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > limitBytes) {
      await reader.cancel().catch(() => undefined);
      throw new PayloadTooLargeError(`The request body is larger than the limit of ${limitBytes} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
