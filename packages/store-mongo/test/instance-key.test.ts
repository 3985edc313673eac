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

  it('keep prefixes: an id starts with p exactly when its key matches one of the prefix patterns', () => {
    const ids = ['job-1', 'job-\uD800', 'jo', 'x-job-', '\uD800job', `${ESCAPED_KEY_MARK}job`, 'job\uDFFF-2'];
    for (const prefix of ['job-', 'job', '\uD800', 'jo', `${ESCAPED_KEY_MARK}j`]) {
      const patterns = instanceKeyPrefixPatterns(prefix).map((p) => new RegExp(p, 'u'));
      for (const id of ids) {
        const key = instanceKey(id);
        expect(patterns.some((p) => p.test(key)), `${JSON.stringify(prefix)} vs ${JSON.stringify(id)}`).toBe(id.startsWith(prefix));
      }
    }
  });
});
