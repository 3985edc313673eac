import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type NodeServer } from '../src/node/serve.js';

/**
 * serve() refuses a request whose path has a dot segment (`.`, `..`, or either written with `%2e`) before the handler
 * sees it: the URL the handler gets is resolved (`/instances/./terminate` is `/instances/terminate`, a command on
 * every instance), and no path of the HTTP API has one. Other paths reach the handler as sent.
 */

let server: NodeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A request sent with its target exactly as written (fetch would resolve the dot segments first). */
function send(port: number, target: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: target, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('serve() and request paths with dot segments', () => {
  it('answers 400 invalid-argument without calling the handler; other paths reach it as sent', async () => {
    const seen: string[] = [];
    server = await serve((request) => {
      seen.push(new URL(request.url).pathname + new URL(request.url).search);
      return new Response('served');
    });
    for (const target of [
      '/instances/./terminate?reason=oops', '/instances/%2e/terminate', '/instances/%2E/suspend', '/instances/../instances/x/terminate',
      '/instances/.%2e/x', '/instances/%2e./x', '/instances/%2E%2e/x', '/instances/x/.', '/instances/x/..?a=b',
      `http://127.0.0.1:${server.port}/instances/./terminate`,
    ]) {
      const answer = await send(server.port, target, '"why"');
      expect(answer.status, target).toBe(400);
      expect(JSON.parse(answer.body), target).toMatchObject({ code: 'invalid-argument' });
    }
    expect(seen).toEqual([]);
    for (const target of ['/instances/.x/terminate', '/instances/...', '/instances/v1.2', '/instances/%2e%2e%2e', '/instances/x?path=/./', '/instances/x#/./']) {
      expect((await send(server.port, target)).status, target).toBe(200);
    }
    expect(seen).toEqual(['/instances/.x/terminate', '/instances/...', '/instances/v1.2', '/instances/%2e%2e%2e', '/instances/x?path=/./', '/instances/x']);
  });
});
