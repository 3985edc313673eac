import { BSON } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { codeUnitOrderKey, ESCAPED_KEY_MARK, instanceIdOfKey, instanceKey, instanceKeyPrefixPatterns } from '../src/instance-key.js';

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

describe('codeUnitOrderKey (the id order of listEnded)', () => {
  /** How MongoDB orders two stored strings without a collation: their UTF-8 bytes, by simple binary comparison. */
  const byStoredBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  const ids = [
    '', 'a', 'a\u0000', 'ab', 'order-1', 'order-10', 'order-2', '\uD7FF', '\uE000', '\uFF01', '\uFFFD', '\uFFFF', '\uFFFFx', '\uFFFF0061',
    '🚀', '🚀a', '\u{10FFFF}', 'a\uD800', 'a\uDC00', 'a\uDC00\uD800', '\uD83D', 'x\uD800', 'y', '东京/1',
  ];

  it('sorts in MongoDB\u2019s byte order exactly as JavaScript sorts the ids (compareEndedKeys), which the stored key does not', () => {
    const inJavaScript = [...ids].sort(); // by UTF-16 code unit
    expect([...ids].sort((a, b) => byStoredBytes(codeUnitOrderKey(a), codeUnitOrderKey(b)))).toEqual(inJavaScript);
    // `_id` puts a character above U+FFFF before one from U+E000 to U+FFFF, and an escaped id among the U+FFFF ones.
    expect([...ids].sort((a, b) => byStoredBytes(instanceKey(a), instanceKey(b)))).not.toEqual(inJavaScript);
  });

  it('keeps the order of every single code unit, surrogates included: each form sorts after the one before', () => {
    let before = Buffer.from(codeUnitOrderKey('\u0000'), 'utf8');
    for (let unit = 1; unit <= 0xffff; unit++) {
      const form = Buffer.from(codeUnitOrderKey(String.fromCharCode(unit)), 'utf8');
      if (Buffer.compare(before, form) >= 0) throw new Error(`U+${unit.toString(16)} does not sort after the unit before it`);
      before = form;
    }
  });

  it('is one-to-one, leaves an id without a unit from U+D800 up as it is, and survives BSON unchanged (no lone surrogate)', () => {
    expect(new Set(ids.map(codeUnitOrderKey)).size).toBe(ids.length);
    for (const id of ['order-1', '东京/1', 'a.b$c', '']) expect(codeUnitOrderKey(id)).toBe(id);
    expect(codeUnitOrderKey('a\uD800')).toBe('a\uE000');
    for (const id of ids) expect(throughBson(codeUnitOrderKey(id))).toBe(codeUnitOrderKey(id));
  });
});
