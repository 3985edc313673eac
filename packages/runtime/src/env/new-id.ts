/**
 * Where the runtime gets fresh unique ids (instance ids, execution ids, message ids). Injected, like the
 * {@link Clock}, so that tests can make ids predictable.
 */
export type NewId = () => string;

/** Random UUIDs (`crypto.randomUUID`, web-standard). */
export const randomId: NewId = () =>
  // Node builds the UUID by concatenating 20 pieces, and V8 keeps that as a tree of rope nodes (about 540 bytes)
  // for as long as the string lives: every waiting instance keeps its executionId. `toLowerCase` (a no-op on a
  // UUID's characters) returns the same 36 characters as one flat string. Browsers return a flat string already.
  crypto.randomUUID().toLowerCase();
