import { BSON } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { ESCAPED_KEY_MARK, instanceIdOfKey, instanceKey, instanceKeyPrefixPatterns } from '../src/instance-key.js';

/** What the server stores for a string `_id`: the driver's BSON encoding, decoded again. */
const throughBson = (key: string): unknown => BSON.deserialize(BSON.serialize({ _id: key }))['_id'];

describe('instance keys (ids with lone surrogates do not collide)', () => {
  it('shows the collision being fixed: the driver stores two different lone surrogates as the same string', () => {
    expect(throughBson('a\uD800')).toBe(throughBson('a\uDC00'));
  });

  it('give ids with lone surrogates distinct keys that survive BSON unchanged', () => {
    const ids = ['a\uD800', 'a\uDC00', 'a\uDC00\uD800', '\uD83D', 'b\uD800x', 'a\uFFFD'];
    const stored = ids.map((id) => throughBson(instanceKey(id)));
    expect(new Set(stored).size).toBe(ids.length);
    for (const [i, id] of ids.entries()) expect(instanceIdOfKey(stored[i] as string)).toBe(id);
  });

  it('keep well-formed ids as they are, supplementary characters included', () => {
    for (const id of ['order-1', '东京/1', '🚀 launch', 'a.b$c', '']) {
      expect(instanceKey(id)).toBe(id);
      expect(instanceIdOfKey(id)).toBe(id);
    }
  });

  it('are injective also for ids that start with the escape mark', () => {
    const marked = `${ESCAPED_KEY_MARK}0061`;
    expect(instanceKey(marked)).not.toBe(marked);
    expect(instanceKey(marked)).not.toBe(instanceKey('a'));
    expect(instanceIdOfKey(instanceKey(marked))).toBe(marked);
  });

  it('keep prefixes: an id starts with p exactly when its key matches one of the prefix patterns, as the server matches them', () => {
    // The driver writes strings as UTF-8, a lone surrogate as U+FFFD: the server sees pattern and key as this gives them.
    const asSent = (text: string) => new TextDecoder().decode(new TextEncoder().encode(text));
    const ids = [
      'job-1', 'job-\uD800', 'jo', 'x-job-', '\uD800job', `${ESCAPED_KEY_MARK}job`, 'job\uDFFF-2', `${ESCAPED_KEY_MARK}x`, '\uFFFDabc',
      '\u{10000}a', '\u{103FF}', '\u{10400}', 'j\u{10001}', '\uD800\uDC00', `${ESCAPED_KEY_MARK}ffff0078`,
    ];
    const prefixes = [
      'job-', 'job', '\uD800', 'jo', `${ESCAPED_KEY_MARK}j`, `${ESCAPED_KEY_MARK}ffff`, ESCAPED_KEY_MARK, '\uFFFD', 'j\uD800', '\uDC00', '\uD800\uDC00x', '',
    ];
    for (const prefix of prefixes) {
      const { plain, escaped } = instanceKeyPrefixPatterns(prefix);
      const patterns = [plain, escaped].flatMap((p) => (p === undefined ? [] : [new RegExp(asSent(p), 'u')]));
      for (const id of ids) {
        const key = asSent(instanceKey(id));
        expect(patterns.some((p) => p.test(key)), `${JSON.stringify(prefix)} vs ${JSON.stringify(id)}`).toBe(id.startsWith(prefix));
      }
    }
  });
});
