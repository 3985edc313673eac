const REGEX_SPECIAL = /[\\^$.|?*+()[\]{}]/;

/**
 * Escapes `text` so that, inside a regular expression, it matches itself literally. Metacharacters get a backslash;
 * control characters become `\xHH`, so the pattern holds no NUL and reads the same in PCRE (MongoDB) and JavaScript.
 *
 * @example
 * ```ts
 * escapeRegexLiteral('a.*b'); // 'a\\.\\*b'
 * ```
 */
export function escapeRegexLiteral(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (REGEX_SPECIAL.test(ch)) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}
