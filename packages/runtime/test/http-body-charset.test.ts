import { describe, expect, it } from 'vitest';
import type { Runtime } from '../src/runtime/create-runtime.js';
import { echo, waitForEvents } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { servedRuntimes } from './served-runtimes.js';

/**
 * The text of a request body, against a real server on 127.0.0.1: read by the charset its `Content-Type` declares,
 * else by its byte-order mark, else as UTF-8, as Durable Functions reads a start's input and an event's data. A charset
 * the server does not know, or bytes that are no text in the encoding, are refused with a typed 400, and nothing is
 * started or delivered.
 */

const KEY = 'charset-key';
const serving = servedRuntimes(KEY);

async function open(maxBodyBytes?: number): Promise<{ runtime: Runtime; base: string }> {
  const { runtime, base } = await serving.open(
    { orchestrators: { Echo: echo, WaitForEvents: waitForEvents } },
    maxBodyBytes === undefined ? {} : { maxBodyBytes },
  );
  return { runtime, base };
}

function post(base: string, path: string, contentType: string | undefined, body: Uint8Array<ArrayBuffer>): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${KEY}` };
  if (contentType !== undefined) headers['content-type'] = contentType;
  return fetch(`${base}${path}`, { method: 'POST', headers, body });
}

async function errorOf(pending: Promise<Response>): Promise<[number, string, string]> {
  const response = await pending;
  const body = (await response.json()) as { code: string; message: string };
  return [response.status, body.code, body.message];
}

/** `text` as bytes, one per character: ISO-8859-1 (and windows-1252 for these characters). */
function latin1(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

/** `text` in UTF-16, little- or big-endian, after a byte-order mark when `bom` is set. */
function utf16(text: string, endian: 'le' | 'be', bom: boolean): Uint8Array<ArrayBuffer> {
  const units = (bom ? '\uFEFF' : '') + text;
  const bytes = new Uint8Array(units.length * 2);
  for (let i = 0; i < units.length; i++) {
    const unit = units.charCodeAt(i);
    bytes[2 * i + (endian === 'le' ? 0 : 1)] = unit & 0xff;
    bytes[2 * i + (endian === 'le' ? 1 : 0)] = unit >> 8;
  }
  return bytes;
}

async function outputOf(runtime: Runtime, id: string, response: Response): Promise<unknown> {
  await response.body?.cancel();
  expect(response.status, id).toBe(202);
  return (await runtime.client.waitForCompletion(id, SETTLED)).output;
}

describe('a body in a declared charset', () => {
  it('is read as ISO-8859-1 when declared so (charset=iso-8859-1, latin1, quoted, in any case): "caf\\xE9" starts with café', async () => {
    const { runtime, base } = await open();
    const body = latin1('"café"');
    const types = ['application/json; charset=iso-8859-1', 'application/json;charset="ISO-8859-1"', 'text/plain; Charset=latin1'];
    for (const [index, type] of types.entries()) {
      expect(await outputOf(runtime, `l${index}`, await post(base, `/orchestrators/Echo/l${index}`, type, body)), type).toBe('café');
    }
  });

  it('is read as windows-1252 when declared so, for a start and for an event\'s data', async () => {
    const { runtime, base } = await open();
    const body = latin1('{"city":"Zürich","dish":"crème brûlée"}');
    const started = await post(base, '/orchestrators/Echo/w', 'application/json; charset=windows-1252', body);
    expect(await outputOf(runtime, 'w', started)).toEqual({ city: 'Zürich', dish: 'crème brûlée' });
    await runtime.client.startNew('WaitForEvents', { instanceId: 'e', input: 1 });
    const raised = await post(base, '/instances/e/raiseEvent/Item', 'application/json; charset=windows-1252', body);
    expect(await outputOf(runtime, 'e', raised)).toEqual([{ city: 'Zürich', dish: 'crème brûlée' }]);
  });

  it('is read as UTF-16 when declared charset=utf-16, after its byte-order mark, and as UTF-16BE or UTF-16LE when declared so', async () => {
    const { runtime, base } = await open();
    const text = '{"greeting":"こんにちは","name":"café","emoji":"🙂"}';
    const value = JSON.parse(text) as unknown;
    const cases: [string, string, Uint8Array<ArrayBuffer>][] = [
      ['bom', 'application/json; charset=utf-16', utf16(text, 'le', true)],
      ['le', 'application/json; charset=utf-16le', utf16(text, 'le', false)],
      ['be', 'application/json; charset=UTF-16BE', utf16(text, 'be', true)],
    ];
    for (const [id, type, body] of cases) {
      expect(await outputOf(runtime, id, await post(base, `/orchestrators/Echo/${id}`, type, body)), type).toEqual(value);
    }
    await runtime.client.startNew('WaitForEvents', { instanceId: 'e', input: 1 });
    const raised = await post(base, '/instances/e/raiseEvent/Item', 'application/json; charset=utf-16', utf16('"été"', 'le', true));
    expect(await outputOf(runtime, 'e', raised)).toEqual(['été']);
  });

  it('counts the size limit in the bytes sent: UTF-16 text of 600 characters is over a limit of 1,024 bytes (413)', async () => {
    const { runtime, base } = await open(1024);
    const body = utf16(JSON.stringify('x'.repeat(598)), 'le', false);
    expect(body.byteLength).toBe(1200);
    const [status, code] = await errorOf(post(base, '/orchestrators/Echo/big', 'application/json; charset=utf-16le', body));
    expect([status, code]).toEqual([413, 'payload-too-large']);
    expect(await runtime.client.getStatusAll()).toEqual([]);
  });

  it('of only whitespace in UTF-16 is no body: a start without input', async () => {
    const { runtime, base } = await open();
    const started = await post(base, '/orchestrators/Echo/blank', 'application/json; charset=utf-16', utf16(' \n', 'le', true));
    expect(await outputOf(runtime, 'blank', started)).toBeUndefined();
  });

  it('declared UTF-16 whose bytes are spaces in ASCII is no blank body: `20 20` is U+2020 there, refused as no JSON, and nothing starts', async () => {
    const { runtime, base } = await open();
    for (const type of ['application/json; charset=utf-16le', 'application/json; charset="UTF-16BE"', 'application/json; charset=ucs-2']) {
      const [status, code, message] = await errorOf(post(base, '/orchestrators/Echo/dagger', type, Uint8Array.of(0x20, 0x20)));
      expect([status, code, message], type).toEqual([400, 'invalid-argument', 'The request body is not valid JSON']);
    }
    // One such byte alone is no UTF-16 text at all.
    const [status, code, message] = await errorOf(post(base, '/orchestrators/Echo/dagger', 'application/json; charset=utf-16', Uint8Array.of(0x0a)));
    expect([status, code, message]).toEqual([400, 'invalid-argument', 'The request body is not valid UTF-16LE']);
    expect(await runtime.client.getStatusAll()).toEqual([]);
    // Declared in an encoding where they are spaces, they are no body, as without a charset.
    const blank = await post(base, '/orchestrators/Echo/blank', 'application/json; charset=windows-1252', Uint8Array.of(0x20, 0x20));
    expect(await outputOf(runtime, 'blank', blank)).toBeUndefined();
  });
});

describe('a body without a charset', () => {
  it('is read as UTF-16 by its byte-order mark (little- or big-endian), with or without a Content-Type', async () => {
    const { runtime, base } = await open();
    const text = '{"name":"café","kana":"かな"}';
    const cases: [string, string | undefined, Uint8Array<ArrayBuffer>][] = [
      ['le', 'application/json', utf16(text, 'le', true)],
      ['be', 'application/json', utf16(text, 'be', true)],
      ['untyped', undefined, utf16(text, 'le', true)],
    ];
    for (const [id, type, body] of cases) {
      expect(await outputOf(runtime, id, await post(base, `/orchestrators/Echo/${id}`, type, body)), id).toEqual(JSON.parse(text));
    }
  });

  it('is read as UTF-8, after a UTF-8 byte-order mark if it has one', async () => {
    const { runtime, base } = await open();
    const utf8 = new TextEncoder().encode('"café"');
    expect(await outputOf(runtime, 'plain', await post(base, '/orchestrators/Echo/plain', 'application/json', utf8))).toBe('café');
    const marked = Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8);
    expect(await outputOf(runtime, 'bom', await post(base, '/orchestrators/Echo/bom', 'application/json', marked))).toBe('café');
  });
});

describe('a body the server cannot read as text', () => {
  it('is refused with 400 naming a charset the server does not know (x-unknown, utf-32, an empty one), and nothing starts or is delivered', async () => {
    const { runtime, base } = await open();
    for (const charset of ['x-unknown', 'utf-32', '""']) {
      const [status, code, message] = await errorOf(post(base, '/orchestrators/Echo/u', `application/json; charset=${charset}`, latin1('"x"')));
      expect([status, code], charset).toEqual([400, 'invalid-argument']);
      expect(message, charset).toContain(`charset ${charset === '""' ? '""' : JSON.stringify(charset)} is not an encoding this server decodes`);
    }
    expect(await runtime.client.getStatusAll()).toEqual([]);
    await runtime.client.startNew('WaitForEvents', { instanceId: 'e', input: 1 });
    const [status, code] = await errorOf(post(base, '/instances/e/raiseEvent/Item', 'application/json; charset=x-unknown', latin1('"x"')));
    expect([status, code]).toEqual([400, 'invalid-argument']);
    // The instance waits for one event: the next one it gets is the one raised after the refused one.
    await runtime.client.raiseEvent('e', 'Item', 'y');
    expect((await runtime.client.waitForCompletion('e', SETTLED)).output).toEqual(['y']);
    const { history } = (await runtime.client.getStatus('e', { showHistory: true }))!;
    expect(history?.filter((e) => e.type === 'EventRaised')).toHaveLength(1);
  });

  it('is refused with 400 when its bytes are no text in the declared charset (never read with U+FFFD), and nothing starts', async () => {
    const { runtime, base } = await open();
    const cases: [string, Uint8Array<ArrayBuffer>, string][] = [
      // An odd number of bytes, and a lone surrogate (U+D800), in UTF-16.
      ['application/json; charset=utf-16', Uint8Array.of(0xff, 0xfe, 0x22, 0x00, 0x78, 0x00, 0x22), 'UTF-16LE'],
      ['application/json; charset=utf-16le', Uint8Array.of(0x22, 0x00, 0x00, 0xd8, 0x22, 0x00), 'UTF-16LE'],
      // A lead byte of Shift_JIS without its trail byte.
      ['application/json; charset=shift_jis', Uint8Array.of(0x22, 0x82, 0x22), 'SHIFT_JIS'],
      // ISO-8859-1 bytes declared UTF-8, and a UTF-16 byte-order mark in a body declared UTF-8.
      ['application/json; charset=utf-8', latin1('"café"'), 'UTF-8'],
      ['application/json; charset=utf-8', utf16('"x"', 'le', true), 'UTF-8'],
    ];
    for (const [type, body, encoding] of cases) {
      const [status, code, message] = await errorOf(post(base, '/orchestrators/Echo/m', type, body));
      expect([status, code, message], type).toEqual([400, 'invalid-argument', `The request body is not valid ${encoding}`]);
    }
    expect(await runtime.client.getStatusAll()).toEqual([]);
  });
});

describe('a body sent with a Content-Encoding', () => {
  it('is refused with a typed 400 that names the coding (gzip, or plain bytes labelled br), nothing started or delivered', async () => {
    const { runtime, base } = await open();
    await runtime.client.startNew('WaitForEvents', { instanceId: 'waits', input: 1 });
    const { gzipSync } = await import('node:zlib');
    const gzip = new Uint8Array(gzipSync('{"a":1}'));
    const sends: [string, string, string, Uint8Array<ArrayBuffer>][] = [
      ['/orchestrators/Echo/gz1', 'application/json', 'gzip', gzip],
      // Plain JSON labelled as compressed: read as it is, it would be taken on a guess at what the client meant.
      ['/orchestrators/Echo/gz2', 'application/json', 'br', latin1('{"a":1}')],
      ['/instances/waits/raiseEvent/Item', 'application/json', 'gzip', gzip],
      ['/instances/waits/terminate', 'application/json', 'deflate, gzip', gzip],
    ];
    for (const [path, type, coding, body] of sends) {
      const response = fetch(`${base}${path}`, {
        method: 'POST', body, headers: { authorization: `Bearer ${KEY}`, 'content-type': type, 'content-encoding': coding },
      });
      const [status, code, message] = await errorOf(response);
      expect([status, code], path).toEqual([400, 'invalid-argument']);
      expect(message, path).toContain(`Content-Encoding: ${coding}`);
    }
    for (const id of ['gz1', 'gz2']) expect(await runtime.client.getStatus(id), id).toBeUndefined();
    const waiting = await runtime.client.getStatus('waits', { showHistory: true });
    expect(waiting?.runtimeStatus).toBe('Running');
    expect(waiting?.history?.some((event) => event.type === 'EventRaised')).toBe(false);
    // `identity` is no coding: the body is read as sent.
    const plain = await fetch(`${base}/orchestrators/Echo/id1`, {
      method: 'POST', body: '{"a":1}', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-encoding': 'identity' },
    });
    expect(await outputOf(runtime, 'id1', plain)).toEqual({ a: 1 });
  });
});
