import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';

const HOSTILE_TEXT =
  '{"__proto__":{"polluted":true},"$where":"1","a.b":{"$gt":1},"constructor":{"prototype":{"x":1}},' +
  '"nested":[{"$set":null},{"x.y.z":[1,2,{"$$ROOT":"$$"}]}],"":"empty key","unicode":"東京 🚀","big":1e300,"tiny":5e-324,' +
  '"neg":-12.5,"int":9007199254740991,"esc":"\\u0000\\n\\"q\\""}';

describe('payload encoding (user JSON stored as JSON text)', () => {
  it('round-trips keys with $ and ., __proto__, constructor, empty keys and extreme numbers exactly', () => {
    const hostile = JSON.parse(HOSTILE_TEXT) as Record<string, unknown>;
    const decoded = decodePayload(encodePayload(hostile, 'input', MAX_PAYLOAD_BYTES), 'input') as Record<string, unknown>;
    expect(decoded).toEqual(hostile);
    expect(Object.keys(decoded)).toEqual(Object.keys(hostile));
    expect(Object.keys(decoded)).toContain('__proto__');
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(decoded['big']).toBe(1e300);
    expect(decoded['tiny']).toBe(5e-324);
  });

  it('round-trips every JSON top-level kind', () => {
    for (const value of [null, true, false, 0, -1.5, 'text', '', [], {}, [null, [[]]], { a: { b: { c: [1] } } }]) {
      expect(decodePayload(encodePayload(value, 'v', 1000), 'v')).toEqual(value);
    }
  });

  it('keeps a large value up to the limit and refuses one byte more with PayloadTooLargeError', () => {
    const limit = 4 * 1024 * 1024;
    const fits = 'x'.repeat(limit - 2); // plus the two quotes
    const text = encodePayload(fits, 'output', limit);
    expect(decodePayload(text, 'output')).toBe(fits);
    let caught: unknown;
    try {
      encodePayload(`${fits}y`, 'output', limit);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'payload-too-large', status: 413 });
    expect((caught as Error).message).toContain(String(limit));
  });

  it('counts UTF-8 bytes, not characters', () => {
    const rocket = '🚀'; // 4 bytes in UTF-8, 2 UTF-16 code units
    expect(() => encodePayload(rocket.repeat(3), 'customStatus', 14)).not.toThrow(); // 12 + 2 quotes
    expect(() => encodePayload(rocket.repeat(3), 'customStatus', 13)).toThrow(expect.objectContaining({ code: 'payload-too-large' }));
  });

  it('documents a limit below MongoDB\u2019s 16 MiB document size', () => {
    expect(MAX_PAYLOAD_BYTES).toBe(15 * 1024 * 1024);
    expect(MAX_PAYLOAD_BYTES).toBeLessThan(16 * 1024 * 1024);
  });

  it('refuses a value without JSON text and reports corrupt stored text as a store error', () => {
    expect(() => encodePayload(undefined, 'input', 100)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => decodePayload('{not json', 'input')).toThrow(expect.objectContaining({ code: 'store-error' }));
  });
});
