import { escapeRegexLiteral } from './regex-literal.js';

/**
 * How an instance id is stored in `_id` (and in the `instanceId` field of history, messages and tasks).
 *
 * Why not the id itself: BSON strings are UTF-8, and the driver encodes a lone UTF-16 surrogate as U+FFFD, so
 * `'a\uD800'` and `'a\uDC00'` would become the same `_id` (one instance would overwrite the other's key). The key is
 * the id itself when the id is well-formed UTF-16 and does not start with {@link ESCAPED_KEY_MARK}; otherwise it is
 * the mark followed by every UTF-16 code unit as four hex digits. The mapping is injective (two ids never share a
 * key), reversible, and keeps prefixes: an id starts with `p` exactly when its key starts with the key form of `p`.
 */

/** The first character of an escaped key: a well-formed non-character ids are not expected to start with. */
export const ESCAPED_KEY_MARK = '\uFFFF';

/**
 * The stored key of an instance id.
 *
 * @example
 * ```ts
 * instanceKey('order-1');  // 'order-1'
 * instanceKey('a\uD800');  // '\uFFFF006100d800'
 * ```
 */
export function instanceKey(instanceId: string): string {
  return needsEscape(instanceId) ? ESCAPED_KEY_MARK + hexUnits(instanceId) : instanceId;
}

/**
 * The instance id of a stored key (the inverse of {@link instanceKey}).
 *
 * @example
 * ```ts
 * instanceIdOfKey(instanceKey('a\uD800')); // 'a\uD800'
 * ```
 */
export function instanceIdOfKey(key: string): string {
  if (!key.startsWith(ESCAPED_KEY_MARK)) return key;
  const hex = key.slice(ESCAPED_KEY_MARK.length);
  let out = '';
  for (let i = 0; i + 4 <= hex.length; i += 4) out += String.fromCharCode(Number.parseInt(hex.slice(i, i + 4), 16));
  return out;
}

/**
 * The id in a form whose order as MongoDB compares strings (UTF-8 bytes, that is by code point) is the id's order as
 * JavaScript compares strings (by UTF-16 code unit), which `compareEndedKeys` (store-kit) and the IndexedDB stores
 * use: the indexed `idOrder` of `Store.listEnded`'s end order. Every code unit below U+D800 is itself (so most ids are
 * their own form); every unit from U+D800 up, surrogates included, becomes the code point 0x800 above it (U+E000 to
 * U+107FF). That map is strictly increasing and never yields a surrogate, so two forms compare code point by code
 * point exactly as the ids compare code unit by code unit, a prefix staying a prefix; and it is one-to-one. The stored
 * key (`instanceKey`) orders otherwise: a character from U+E000 to U+FFFF after one above U+FFFF, and an escaped id
 * as one beginning with U+FFFF.
 *
 * @example
 * ```ts
 * codeUnitOrderKey('order-1'); // 'order-1'
 * codeUnitOrderKey('\uFF01');    // '\u{10701}': after the form of an emoji, as '\uFF01' is after '\u{1F600}' in JavaScript
 * codeUnitOrderKey('\u{1F600}'); // '\uE03D\uE600' (its units D83D DE00, each 0x800 higher)
 * ```
 */
export function codeUnitOrderKey(instanceId: string): string {
  let i = 0;
  while (i < instanceId.length && instanceId.charCodeAt(i) < 0xd800) i++;
  if (i === instanceId.length) return instanceId;
  let out = instanceId.slice(0, i);
  for (; i < instanceId.length; i++) {
    const unit = instanceId.charCodeAt(i);
    out += unit < 0xd800 ? instanceId[i] : String.fromCodePoint(unit + 0x800);
  }
  return out;
}

/**
 * The `_id` regex alternatives that select the keys of ids starting with `prefix` literally: the escaped keys (whose
 * hex digits keep the prefix) and, when some plain key can start with it, the plain keys. Each is anchored, so
 * MongoDB scans a range of the `_id` index.
 *
 * A plain key is well-formed UTF-16 and never starts with {@link ESCAPED_KEY_MARK}, and the server matches UTF-8, in
 * which a lone surrogate cannot be written (the driver sends U+FFFD instead). So a prefix that starts with the mark,
 * or holds a lone surrogate anywhere but at its end, selects no plain key (`plain` is `undefined`: a pattern for it
 * would match other ids, such as `\uFFFFx` for the prefix `\uFFFFffff`); one that ends with a lone high surrogate
 * selects the plain keys that go on with a character of the 1,024 that surrogate begins.
 *
 * @example
 * ```ts
 * instanceKeyPrefixPatterns('job-'); // { plain: '^job-', escaped: '^\uFFFF006a006f0062002d' }
 * instanceKeyPrefixPatterns('\uFFFF'); // { plain: undefined, escaped: '^\uFFFFffff' }
 * ```
 */
export function instanceKeyPrefixPatterns(prefix: string): { readonly plain: string | undefined; readonly escaped: string } {
  return { plain: plainKeyPrefixPattern(prefix), escaped: `^${ESCAPED_KEY_MARK}${hexUnits(prefix)}` };
}

function plainKeyPrefixPattern(prefix: string): string | undefined {
  if (prefix.startsWith(ESCAPED_KEY_MARK)) return undefined;
  const last = prefix.charCodeAt(prefix.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) {
    const head = prefix.slice(0, -1);
    if (!isWellFormed(head)) return undefined;
    // The code points whose UTF-16 form starts with this high surrogate, as a range of literal characters.
    const first = 0x10000 + (last - 0xd800) * 0x400;
    return `^${escapeRegexLiteral(head)}[${String.fromCodePoint(first)}-${String.fromCodePoint(first + 0x3ff)}]`;
  }
  return isWellFormed(prefix) ? `^${escapeRegexLiteral(prefix)}` : undefined;
}

function needsEscape(id: string): boolean {
  return id.startsWith(ESCAPED_KEY_MARK) || !isWellFormed(id);
}

function isWellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return false;
    }
  }
  return true;
}

function hexUnits(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += text.charCodeAt(i).toString(16).padStart(4, '0');
  return out;
}
