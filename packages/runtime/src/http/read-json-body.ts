import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { PayloadTooLargeError } from '../model/errors/payload-too-large-error.js';
import { CrossOriginBodyError } from './cross-origin-body-error.js';

const CUT = 'The request body did not arrive whole (the connection was cut)';

/** A request body read by {@link readJsonBody}: absent (no bytes, or only whitespace), or a parsed JSON value. */
export type JsonBody = { readonly present: false } | { readonly present: true; readonly value: unknown };

/** How a route reads its body with {@link readJsonBody}. */
export interface BodyRule {
  /**
   * `false` for a body the route ignores: it is still read and checked (size, whole, JSON), but an integer beyond the
   * safe range is not refused in it, as nothing would be altered. Default `true`.
   */
  readonly used?: boolean;
  /**
   * `true`: a body is read as JSON whatever its `Content-Type` (`text/plain`, `curl -d`'s form type, none), as Durable
   * Functions reads a start's body; the caller has refused such a request from an untrusted origin already (see
   * {@link assertNotCrossSitePost}). Default `false`: a non-empty body must be declared JSON: `application/json`, as
   * Durable Functions requires of an event's data, or an `application/…+json` type, which Durable Functions refuses
   * there (it compares the media type with `application/json` exactly) and durable-rx takes as JSON (RFC 6839).
   */
  readonly anyType?: boolean;
  /**
   * `false` for a body the route does not read at all (a command whose reason came as `?reason=`, which Durable
   * Functions reads alone): only its size is checked (413 over the limit) and that it arrived whole; it is not
   * decoded or parsed, whatever its `Content-Type` or text (`stop now` as `text/plain`, `{}`), and is given back as
   * absent. Default `true`.
   */
  readonly read?: boolean;
}

/**
 * Reads a request body as JSON, counting bytes as they arrive so that an oversized body is refused (413,
 * {@link PayloadTooLargeError}) without being buffered whole, whatever `Content-Length` claims.
 *
 * An empty body, or one of only JSON whitespace, is "absent". Any other body must be JSON text, decoded by the `charset`
 * its `Content-Type` declares, else by its byte-order mark, else as UTF-8 (see `decoderOf`: bytes that are no text in
 * that encoding, or a charset this runtime does not know, are refused), and declared `application/json` (or `…+json`)
 * unless the route reads any type (`rule.anyType`), and sent without a `Content-Encoding` other than `identity` (a
 * gzip body is not decoded: refused, whatever its bytes); a body the route does not read (`rule.read` false) is only
 * counted and checked whole. The size limit counts the bytes as sent, whatever the encoding. Every body must arrive whole: a
 * body stream that fails, a body shorter than its `Content-Length`, or a body without a length whose client left
 * before it was read (the connection was cut mid-body) is refused too. Otherwise {@link InvalidArgumentError} (400). An integer literal beyond ±(2^53-1) that a JavaScript
 * number would round is refused too (400), never altered silently (see `assertExactIntegers`), unless `rule.used` is
 * `false`: a body the route ignores alters nothing. `JSON.parse` keeps keys such as `__proto__` as own data properties,
 * so a hostile payload cannot reach a prototype.
 */
export async function readJsonBody(request: Request, limitBytes: number, rule: BodyRule = {}): Promise<JsonBody> {
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
  if (rule.read === false) return { present: false };
  // A coded body (`Content-Encoding: gzip`) is not decoded here (nor by `serve()`, which passes it on as sent): read as
  // it is, compressed bytes would be refused as text that is no UTF-8 (a message that hides the cause), and plain JSON
  // labelled as coded would be taken on a guess. `identity` is no coding.
  const coding = request.headers.get('content-encoding');
  if (coding !== null && bytes.byteLength > 0 && !/^[\s,]*(?:identity[\s,]*)*$/i.test(coding)) {
    throw new InvalidArgumentError(
      `The request body is sent with Content-Encoding: ${coding.slice(0, 60)}, which this server does not decode: send it `
      + 'uncompressed, without Content-Encoding; nothing was done',
    );
  }
  // Only JSON's whitespace (`curl --data-binary @file` of a file with just a newline) is no value, as an empty body:
  // Durable Functions reads such a start's body as no input. Such bytes are that text in every encoding but UTF-16
  // (`20 20` is U+2020 there): a body declared UTF-16 is blank only when its decoded text is (below).
  if (bytes.every(isJsonWhitespace) && !declaresUtf16(request.headers.get('content-type'))) return { present: false };
  if (rule.anyType !== true && !isJsonContentType(request.headers.get('content-type'))) {
    throw new InvalidArgumentError('The request body must be JSON with Content-Type: application/json');
  }
  const decoder = decoderOf(request.headers.get('content-type'), bytes);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new InvalidArgumentError(`The request body is not valid ${decoder.encoding.toUpperCase()}`);
  }
  // Only whitespace in an encoding of more than one byte a character (UTF-16): no value, as above.
  if (isJsonWhitespaceText(text)) return { present: false };
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new InvalidArgumentError('The request body is not valid JSON');
  }
  // Scanned only when the text has a run of 16 digits, which an integer beyond the safe range needs (no walk of the
  // value, no allocation, for the bodies that have none).
  if (rule.used !== false && /\d{16}/.test(text)) assertExactIntegers(text);
  return { present: true, value };
}

/**
 * Refuses ({@link CrossOriginBodyError}, 403) a POST that a page on any site can make a browser send without a CORS
 * preflight, with or without a body: one whose `Content-Type` is not declared JSON (`text/plain`, a form type, none)
 * and whose `Origin` header (`null` when there is none) `trustsOrigin` refuses. That is a `<form method=post>` (even
 * one without fields, which sends no body) or a `no-cors` fetch from another site, and it could otherwise start,
 * restart, suspend, resume, terminate or raise an event on a handler only the user's machine or network reaches (an
 * anonymous one on localhost or an intranet). A declared JSON body crosses origins only after a preflight, which the
 * handler's `cors` option answers. Which origins are trusted (a missing one among them, or not) is the handler's one
 * rule; `request.mode` is never read (some hosts report every request as a navigation, others throw or leave it out).
 */
export function assertNotCrossSitePost(request: Request, trustsOrigin: (origin: string | null) => boolean): void {
  if (request.method !== 'POST' || isJsonContentType(request.headers.get('content-type'))) return;
  const origin = request.headers.get('origin');
  if (trustsOrigin(origin)) return;
  throw new CrossOriginBodyError(
    `A POST ${origin === null ? 'without Origin' : `from Origin ${JSON.stringify(origin.slice(0, 200))}`} must be sent `
    + 'with Content-Type: application/json here (from another origin, a browser sends it only after a CORS '
    + 'preflight the handler\'s cors option allows; to a handler in a browser, always), with or without a body; '
    + 'nothing was done',
  );
}

/**
 * A JSON string (skipped whole) or a JSON number, matched over text that is valid JSON (so every string ends). No
 * lookbehind, which older Safari (a Service Worker host) cannot parse.
 */
const STRING_OR_NUMBER = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * Refuses JSON text with an integer literal that `JSON.parse` would round silently: one beyond ±(2^53-1)
 * (`Number.MAX_SAFE_INTEGER`) that reads as a number written back as other digits (`1234567890123456789` becomes
 * `1234567890123456800`, `9007199254740993` becomes `9007199254740992`). Durable Functions (Newtonsoft.Json) keeps such
 * an integer exact, as a 64-bit or big integer, so an id or an amount would be altered without a word. Taken: a literal
 * whose double is exactly its integer (`1152921504606846976`, 2^60: nothing is rounded), and one the double writes back
 * as itself, which is what `JSON.stringify` writes for a JavaScript number beyond the safe range (`2 ** 60` as
 * `1152921504606847000`, `1e20`): every client, the local one included, takes it as plain JSON and sends it so, and it
 * leaves as the same text. A literal with a fraction or an exponent (`1.5`, `1e21`) is a double there too and is left
 * as JavaScript reads it. One pass over the text, outside strings.
 */
function assertExactIntegers(text: string): void {
  for (const match of text.matchAll(STRING_OR_NUMBER)) {
    const literal = match[0];
    // Checked: an integer literal (no fraction or exponent) of 16 digits or more above the safe range.
    if (literal.length < 16 || !/^-?\d+$/.test(literal)) continue;
    const digits = literal.replace('-', '');
    if (digits.length < 16 || (digits.length === 16 && digits <= '9007199254740991')) continue;
    // Taken when the number it reads as writes back as the same literal (JSON.stringify's text), or is that very
    // integer: nothing is altered either way.
    const value = Number(literal);
    if (String(value) === literal || (Number.isFinite(value) && BigInt(value) === BigInt(literal))) continue;
    throw new InvalidArgumentError(
      `The request body has the integer ${literal.slice(0, 40)}${literal.length > 40 ? '…' : ''} (at character ${match.index}), `
      + `which a JSON number here would round (to ${String(Number(literal)).slice(0, 40)}): send it as a string`,
    );
  }
}

/**
 * The decoder of a body's bytes, chosen as Durable Functions chooses it (`HttpContent.ReadAsStringAsync`): by the
 * `charset` parameter of its `Content-Type` (`application/json; charset=iso-8859-1`, `text/plain; charset=utf-16`),
 * whatever the media type; without one, by a byte-order mark (UTF-8, UTF-16LE, UTF-16BE); otherwise UTF-8. A charset is
 * a label of the WHATWG Encoding Standard, as the runtime's `TextDecoder` knows it (`iso-8859-1`, `latin1` and
 * `us-ascii` name windows-1252 there; there is no UTF-32); a label it does not know is refused
 * ({@link InvalidArgumentError}, 400, as a body of the wrong type is), never read as UTF-8. The decoder is fatal (bytes
 * that are no text in the encoding are refused, never turned into U+FFFD) and drops a byte-order mark of its own
 * encoding.
 */
function decoderOf(contentType: string | null, bytes: Uint8Array): TextDecoder {
  const charset = charsetOf(contentType);
  if (charset === undefined) return new TextDecoder(byteOrderMarkEncoding(bytes) ?? 'utf-8', { fatal: true });
  try {
    return new TextDecoder(charset, { fatal: true });
  } catch (error) {
    throw new InvalidArgumentError(
      `The request body's charset ${JSON.stringify(charset.slice(0, 40))} is not an encoding this server decodes `
      + '(send UTF-8, or name an encoding of the WHATWG Encoding Standard, such as utf-16 or windows-1252)',
      { cause: error },
    );
  }
}

/**
 * A media type's parameter value: a token, or a quoted string (quotes and backslash escapes removed). Skipping a quoted
 * string whole keeps a `;charset=` inside another parameter's value from being read.
 */
const MEDIA_TYPE_PARAMETER = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;

/** The `charset` parameter of a `Content-Type` header (name in any case); `undefined` when there is none. */
function charsetOf(contentType: string | null): string | undefined {
  if (contentType === null) return undefined;
  for (const [, name, raw] of contentType.matchAll(MEDIA_TYPE_PARAMETER)) {
    if (name!.toLowerCase() !== 'charset') continue;
    const value = raw!.trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
  }
  return undefined;
}

/**
 * True when a `Content-Type` declares a charset that names UTF-16 (`utf-16`, `utf-16be`, `ucs-2`, `unicode`...): the one
 * encoding of the WHATWG Encoding Standard in which a body of only ASCII whitespace bytes is other text. A charset not known
 * is none (a body that is not blank is refused for it, see `decoderOf`).
 */
function declaresUtf16(contentType: string | null): boolean {
  const charset = charsetOf(contentType);
  if (charset === undefined) return false;
  try {
    return new TextDecoder(charset).encoding.startsWith('utf-16');
  } catch {
    return false;
  }
}

/** The encoding a body's byte-order mark names (UTF-8 `EF BB BF`, UTF-16LE `FF FE`, UTF-16BE `FE FF`), if it has one. */
function byteOrderMarkEncoding(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return undefined;
}

/** True when `text` is only JSON's whitespace (or empty). */
function isJsonWhitespaceText(text: string): boolean {
  return /^[ \t\n\r]*$/.test(text);
}

/** Space, tab, line feed or carriage return: the bytes JSON allows around a value. */
function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
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
