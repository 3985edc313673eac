import { uuidText } from '../engine/deterministic-guid.js';

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
