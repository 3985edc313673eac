/**
 * Where the runtime gets fresh unique ids (instance ids, execution ids, message ids). Injected, like the
 * {@link Clock}, so that tests can make ids predictable.
 */
export type NewId = () => string;

/** Random bytes for 256 ids at a time, refilled from `crypto.getRandomValues` when used up. */
const pool = new Uint8Array(16 * 256);
let used = pool.length;
/**
 * Random version-4 UUIDs in lower case, from `crypto.getRandomValues` (web-standard). Every random id of the runtime
 * and its stores comes from here, never from `crypto.randomUUID()`: browsers give that only to secure contexts (HTTPS,
 * localhost), so on a page served over plain HTTP from a LAN address a runtime could not even start. And a step makes
 * several ids, and Node builds each UUID from 20 concatenated pieces that V8 keeps as a tree of rope nodes (about 540
 * bytes) for as long as the string lives, so every waiting instance kept that for its executionId. `uuidText` makes one
 * flat string from the 36 character codes, about three times faster.
 */
export const randomId: NewId = () => {
  if (used === pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  const at = used;
  used += 16;
  return uuidText(pool, at, 4);
};

const HEX = /* @__PURE__ */ Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/**
 * The 36 character codes of the UUID being written (ASCII), in a plain array of small integers: `String.fromCharCode`
 * applied to it makes one flat string, two to three times faster than a `TextDecoder` over bytes (a call into the
 * host per id: the client makes one per raised event).
 */
const chars: number[] = /* @__PURE__ */ new Array<number>(36).fill(0);

/**
 * The UUID text (lower case, RFC 4122 variant) of the 16 bytes of `bytes` from `at`, with its version nibble set to
 * `version`: the one formatter of name-based (v5) and random (v4) ids. Made in one piece from the character codes (a
 * UUID built from concatenated pieces is a tree of rope nodes in V8, about 540 bytes for as long as it lives).
 */
export function uuidText(bytes: Uint8Array, at: number, version: number): string {
  let j = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) chars[j++] = 45; // '-'
    let byte = bytes[at + i]!;
    if (i === 6) byte = (byte & 0x0f) | (version << 4);
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // variant 10xx
    chars[j++] = HEX[byte >> 4]!;
    chars[j++] = HEX[byte & 15]!;
  }
  return String.fromCharCode.apply(null, chars);
}
