import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serve } from '../src/node/serve.js';
import { apiWorkload, servedRuntimes, withKey } from './served-runtimes.js';

/**
 * Requests that are no HTTP a server can read (a malformed request line or header, conflicting body lengths, headers
 * over Node's limit) or whose target or `Host` no URL can be built on (a backslash in the path, `OPTIONS *`, a `Host`
 * that is no host name, an HTTP/1.1 request without `Host`) never reach the handler: `serve()` answers them itself.
 * Its answer is the API's typed error JSON, as every other refusal (`{ code, message, ExceptionMessage }`), so a
 * client that reads the error body reads these too, and the request does nothing.
 */

const KEY = 'k3y-malformed';
const served = servedRuntimes(KEY);
const W = '/runtime/webhooks/durabletask';
const { orchestrators, activities } = apiWorkload();

/** The status, headers and body of the answer to `bytes`, sent as they are over one connection the server closes. */
async function sendRaw(port: number, bytes: string): Promise<{ status: number; headers: string; body: string }> {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8').on('data', (text: string) => (received += text));
  socket.on('error', () => {}); // a reset after the answer is no failure here; the answer is what is checked
  // An end of its own: a request the server left unanswered fails here, not at the test's timeout.
  socket.setTimeout(20_000, () => socket.destroy());
  await once(socket, 'connect');
  socket.write(bytes);
  await once(socket, 'close');
  const match = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(received);
  if (!match) throw new Error(`no HTTP answer: ${JSON.stringify(received.slice(0, 200))}`);
  return { status: Number(match[1]), headers: match[2]!.toLowerCase(), body: match[3]! };
}

describe('serve(): requests no URL or HTTP parser can read get the typed error JSON, and do nothing', () => {
  it('answers each with its status, Content-Type application/json and { code, message, ExceptionMessage }', async () => {
    const { server, base } = await served.open({ orchestrators, activities });
    const auth = `Authorization: Bearer ${KEY}\r\n`;
    const start = (id: string, head: string) =>
      `POST ${W}/orchestrators/Echo/${id} HTTP/1.1\r\n${head}${auth}Content-Type: application/json\r\n`;
    const cases: [string, string, number, string][] = [
      ['a backslash in the path', `POST ${W}/orchestrators\\Echo/m1 HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Length: 1\r\n\r\n1`, 400, 'invalid-argument'],
      ['the asterisk-form target', `OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`, 400, 'invalid-argument'],
      ['a Host that is no host name', `${start('m2', 'Host: a b\r\n')}Content-Length: 1\r\n\r\n1`, 400, 'invalid-argument'],
      ['an HTTP/1.1 request without Host', `${start('m3', '')}Content-Length: 1\r\n\r\n1`, 400, 'invalid-argument'],
      ['two Content-Length headers that differ', `${start('m4', 'Host: 127.0.0.1\r\n')}Content-Length: 1\r\nContent-Length: 2\r\n\r\n1`, 400, 'invalid-argument'],
      ['Transfer-Encoding beside Content-Length', `${start('m5', 'Host: 127.0.0.1\r\n')}Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n1\r\n1\r\n0\r\n\r\n`, 400, 'invalid-argument'],
      ['a method that is no token', `G@T ${W}/instances HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`, 400, 'invalid-argument'],
      ['headers over the server\'s limit', `${start('m6', 'Host: 127.0.0.1\r\n')}X-Padding: ${'a'.repeat(20_000)}\r\nContent-Length: 1\r\n\r\n1`, 431, 'headers-too-large'],
    ];
    for (const [what, bytes, status, code] of cases) {
      const answer = await sendRaw(server.port, bytes);
      expect(answer.status, what).toBe(status);
      expect(answer.headers, what).toMatch(/^content-type: application\/json; charset=utf-8$/m);
      expect(answer.headers, what).toMatch(/^connection: close$/m);
      const body = JSON.parse(answer.body) as { code: string; message: string; ExceptionMessage: string };
      expect(body.code, what).toBe(code);
      expect(body.message.length, what).toBeGreaterThan(0);
      expect(body.ExceptionMessage, what).toBe(body.message);
    }
    // Nothing was started by any of them.
    for (const id of ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']) {
      expect((await fetch(`${base}/instances/${id}`, withKey(KEY))).status, id).toBe(404);
    }
    // The server goes on serving well-formed requests.
    expect((await fetch(`${base}/instances`, withKey(KEY))).status).toBe(200);
  });

  it('serves no request pipelined behind one it refused before the handler: that connection ends after the refusal', async () => {
    const seen: string[] = [];
    const server = await serve((request) => {
      seen.push(new URL(request.url).pathname);
      return new Response('served');
    });
    try {
      // Sent in the same write as the refused request: a client that pipelines does not wait for the answer in front.
      const behind = 'POST /behind HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}';
      const cases: [string, string][] = [
        ['an HTTP/1.1 request without Host', 'POST /first HTTP/1.1\r\nContent-Length: 1\r\n\r\n1'],
        ['a backslash in the path', 'POST /first\\x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\n1'],
        ['a Host that is no host name', 'POST /first HTTP/1.1\r\nHost: a b\r\nContent-Length: 1\r\n\r\n1'],
      ];
      for (const [what, refused] of cases) {
        const answer = await sendRaw(server.port, refused + behind);
        expect(answer.status, what).toBe(400);
        expect(answer.headers, what).toMatch(/^connection: close$/m);
        // One answer, the refusal's: the connection closed after it (a second answer would follow this JSON).
        expect(JSON.parse(answer.body), what).toMatchObject({ code: 'invalid-argument' });
      }
      // The request behind each was never handed to the handler: its answer could not be sent, and the client, told
      // the connection closes, sends it again on a new one, where it must not have been applied already.
      expect(seen).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('still serves an HTTP/1.0 request without Host, on the address it listens on', async () => {
    const { server } = await served.open({ orchestrators, activities });
    const answer = await sendRaw(server.port, `GET ${W}/instances HTTP/1.0\r\nAuthorization: Bearer ${KEY}\r\n\r\n`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual([]);
  });
});
