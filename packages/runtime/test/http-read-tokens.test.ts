import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { SETTLED } from '../../../test-support/settled.js';
import { LEGACY_WEBHOOK_PATH, WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { MAX_TIMER_DELAY_MS, type Clock } from '../src/env/clock.js';
import { silentLogger } from '../src/env/logger.js';
import { createHttpHandler, type HttpHandlerOptions } from '../src/http/create-http-handler.js';
import { createReadToken, type ReadTokenOptions } from '../src/http/read-token.js';
import { InvalidArgumentError } from '../src/model/errors/invalid-argument-error.js';
import { assertValidInstanceId, validateInstanceFilter } from '../src/model/validation.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { echo, waitForEvents } from '../src/testing/samples.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { servedRuntimes, withKey } from './served-runtimes.js';
import { within } from './within.js';
import { readMore } from './read-more.js';

/**
 * Read tokens: a server mints one for some instances, hands it to a browser, and the handler lets it read those
 * instances only (status, history, streams, lists under its prefix) until it expires; every command is refused.
 * Real HTTP through the Node adapter, and real `Request`s in process.
 */

const KEY = 'read-token-test-key';
const served = servedRuntimes(KEY);
const orchestrators = { Echo: echo, WaitForEvents: waitForEvents };
const MINUTE = 60_000;
/**
 * The life of the tokens a test uses while it runs (read against the system clock, as the handler's default): a day,
 * not a minute. A test that makes a hundred requests took 43 s at a load of 31 on two cores; past its token's expiry
 * every answer is 401. Expiry itself is tested on a virtual clock ('an expired or altered read token').
 */
const LIFE = 24 * 60 * MINUTE;

async function open(handlerOptions: Partial<HttpHandlerOptions> = {}) {
  const opened = await served.open({ orchestrators }, handlerOptions);
  const { client } = opened.runtime;
  for (const id of ['a-1', 'b-1', 'tenant-a-1', 'tenant-a-2', 'tenant-b-1']) {
    await client.startNew('WaitForEvents', { instanceId: id, input: 2 });
  }
  // Each event recorded before a test reads it: on a loaded machine the worker took a-1's event after a-done had
  // completed (2 of 66 runs under load), and a test that read a-1 then saw no `received` yet.
  const received = ['a-1', 'b-1'].map((id) => firstValueFrom(client.status$(id).pipe(filter((status) =>
    (status?.customStatus as { received?: number } | undefined)?.received === 1))));
  await client.raiseEvent('a-1', 'Item', 'first');
  await client.raiseEvent('b-1', 'Item', 'secret');
  await client.startNew('Echo', { instanceId: 'done-1', input: 'x' });
  await client.waitForCompletion('done-1');
  await client.startNew('Echo', { instanceId: 'a-done', input: 'x' });
  await client.waitForCompletion('a-done');
  await within(Promise.all(received), 'a-1 and b-1 recorded their first event');
  return opened;
}

/** Whether a stream opened with `credential` and `Last-Event-ID` `{sessionId}.0` resumes that session. */
async function resumesSession(base: string, sessionId: string, credential: string): Promise<boolean> {
  const controller = new AbortController();
  const response = await fetch(`${base}/streams`, bearer(credential, { signal: controller.signal, headers: { 'last-event-id': `${sessionId}.0` } }));
  const text = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let received = '';
  while (!/^data: .*\n\n/m.test(received)) received += (await text.read()).value ?? '';
  controller.abort();
  return received.includes(`"session":"${sessionId}"`);
}

const bearer = (token: string, init: RequestInit = {}): RequestInit =>
  ({ ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });

async function errorOf(response: Response): Promise<[number, string]> {
  const body = await response.json() as { code: string; message: string; ExceptionMessage: string };
  expect(body.ExceptionMessage).toBe(body.message);
  return [response.status, body.code];
}

/** Every command route of the API on instance `id` (and the start and purge routes), as `[method, path]`. */
function writeRoutes(id: string): [string, string][] {
  return [
    ['POST', '/orchestrators/Echo'],
    ['POST', `/orchestrators/Echo/${id}-new`],
    ['POST', `/instances/${id}/raiseEvent/Item`],
    ['POST', `/instances/${id}/terminate?reason=r`],
    ['POST', `/instances/${id}/cancel?reason=r`],
    ['POST', `/instances/${id}/suspend`],
    ['POST', `/instances/${id}/resume`],
    ['POST', `/instances/${id}/rewind`],
    ['POST', `/instances/${id}/restart`],
    ['DELETE', `/instances/${id}`],
    ['DELETE', `/instances?createdTimeFrom=2000-01-01T00:00:00Z`],
    ['POST', `/instances/terminate?instanceIdPrefix=${id}`],
    ['POST', `/instances/suspend?instanceIdPrefix=${id}`],
    ['POST', `/instances/resume?instanceIdPrefix=${id}`],
    ['POST', `/instances/cancel?instanceIdPrefix=${id}`],
  ];
}

describe('createReadToken', () => {
  const later = () => Date.now() + MINUTE;

  it('makes a compact token: drx-read., a base64url payload, a base64url signature', async () => {
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    expect(token).toMatch(/^drx-read\.[\w-]+\.[\w-]{43}$/);
    expect(token.length).toBeLessThan(200);
    // The payload is readable by its holder (signed, not encrypted).
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    expect(payload).toEqual({ instanceIds: ['a-1'], expiresAt: expect.any(Number) });
  });

  it.each<[string, unknown, unknown]>([
    ['an empty key', '', { instanceIds: ['a'], ttlMs: LIFE }],
    ['a key that is no string', 42, { instanceIds: ['a'], ttlMs: LIFE }],
    ['a key no header carries', 'k\ney', { instanceIds: ['a'], ttlMs: LIFE }],
    ['no options', KEY, undefined],
    ['null options', KEY, null],
    ['options that are a string', KEY, 'a-1'],
    ['no scope', KEY, { ttlMs: LIFE }],
    ['no expiry', KEY, { instanceIds: ['a'] }],
    ['both expiresAt and ttlMs', KEY, { instanceIds: ['a'], ttlMs: LIFE, expiresAt: later() }],
    ['an expiry in the past', KEY, { instanceIds: ['a'], expiresAt: new Date(Date.now() - 1) }],
    ['an Invalid Date', KEY, { instanceIds: ['a'], expiresAt: new Date(NaN) }],
    ['an expiry as a string', KEY, { instanceIds: ['a'], expiresAt: '2099-01-01' }],
    ['an expiry beyond any Date', KEY, { instanceIds: ['a'], expiresAt: 9e15 }],
    ['ttlMs 0', KEY, { instanceIds: ['a'], ttlMs: 0 }],
    ['ttlMs -1', KEY, { instanceIds: ['a'], ttlMs: -1 }],
    ['ttlMs NaN', KEY, { instanceIds: ['a'], ttlMs: NaN }],
    ['ttlMs Infinity', KEY, { instanceIds: ['a'], ttlMs: Infinity }],
    ['ttlMs as a string', KEY, { instanceIds: ['a'], ttlMs: '60000' }],
    ['instanceIds that are a string', KEY, { instanceIds: 'a-1', ttlMs: LIFE }],
    ['no instanceIds', KEY, { instanceIds: [], ttlMs: LIFE }],
    ['an instance id with a slash', KEY, { instanceIds: ['a/../b'], ttlMs: LIFE }],
    ['an instance id that is no string', KEY, { instanceIds: [{}], ttlMs: LIFE }],
    ['101 instance ids', KEY, { instanceIds: Array.from({ length: 101 }, (_, n) => `i-${n}`), ttlMs: LIFE }],
    ['an empty prefix', KEY, { instanceIdPrefix: '', ttlMs: LIFE }],
    ['a prefix that is no string', KEY, { instanceIdPrefix: ['a'], ttlMs: LIFE }],
    ['a prefix with a lone surrogate', KEY, { instanceIdPrefix: 'a\ud800', ttlMs: LIFE }],
    ['a scope too large to carry', KEY, { instanceIds: Array.from({ length: 100 }, (_, n) => `${n}-${'x'.repeat(250)}`), ttlMs: LIFE }],
  ])('refuses %s with InvalidArgumentError', async (_, key, options) => {
    const made = createReadToken(key as string, options as ReadTokenOptions);
    await expect(made).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(made).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
  });

  it('reads a getter that throws as a bad argument', async () => {
    const options = { get instanceIds(): string[] { throw new Error('boom'); }, ttlMs: LIFE };
    await expect(createReadToken(KEY, options)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  /** What `check` throws for `value` (`undefined` when it passes). */
  const thrownBy = async (check: () => unknown): Promise<unknown> => {
    try {
      await check();
      return undefined;
    } catch (error) {
      return error;
    }
  };

  it('takes an instance id exactly when startNew does: the one instance-id rule, with its message', async () => {
    const refused = [
      'a\u0000b', 'a\nb', 'a\u007f', 'a\u0085', 'a/b', 'a\\b', 'a#b', 'a?b', '@a', '.', '..', '', 'i'.repeat(257), 'a\ud800', 42, null,
    ];
    const taken = ['a@b', 'a.b', '..a', 'i'.repeat(256), 'ordre-é-😀', 'a b'];
    for (const id of [...refused, ...taken]) {
      const shared = await thrownBy(() => assertValidInstanceId(id, 'createReadToken options.instanceIds[1]'));
      const made = await thrownBy(() => createReadToken(KEY, { instanceIds: ['a-1', id as string], ttlMs: LIFE }));
      expect(shared === undefined, JSON.stringify(id)).toBe(taken.includes(id as string));
      expect(made, JSON.stringify(id)).toEqual(shared);
      if (made !== undefined) expect(made, JSON.stringify(id)).toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('takes a prefix exactly when a list filter does, but for the empty one, which would read every instance', async () => {
    // A prefix no instance id starts with is a list filter that matches nothing, so a token that reads nothing.
    const taken = ['tenant-a-', 'a/', '@a', 'a\u0000', 'a\u0085', '#', 'p'.repeat(257), '.'];
    const refused = ['a\ud800', '\udc00', 42, ['a'], null];
    for (const prefix of [...taken, ...refused]) {
      const filter = await thrownBy(() => validateInstanceFilter({ instanceIdPrefix: prefix }, 'createReadToken options'));
      const made = await thrownBy(() => createReadToken(KEY, { instanceIdPrefix: prefix as string, ttlMs: LIFE }));
      expect(filter === undefined, JSON.stringify(prefix)).toBe(taken.includes(prefix as string));
      expect(made, JSON.stringify(prefix)).toEqual(filter);
      if (made !== undefined) expect(made, JSON.stringify(prefix)).toBeInstanceOf(InvalidArgumentError);
    }
    expect(validateInstanceFilter({ instanceIdPrefix: '' })).toEqual({ instanceIdPrefix: '' });
    const empty = createReadToken(KEY, { instanceIdPrefix: '', ttlMs: LIFE });
    await expect(empty).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(empty).rejects.toThrow('createReadToken options.instanceIdPrefix must not be empty');
  });
});

describe('a read token for one instance', () => {
  it('reads its status, history and streams, over Bearer and ?code=, on both base paths', async () => {
    const { server, base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1', 'a-done'], ttlMs: LIFE });
    const running = await fetch(`${base}/instances/a-1`, bearer(token));
    expect(running.status).toBe(202);
    expect(running.headers.get('location')).toContain('/instances/a-1');
    expect(await running.json()).toMatchObject({ instanceId: 'a-1', runtimeStatus: 'Running', customStatus: { received: 1 } });
    expect((await fetch(`${base}/instances/a-done?showHistory=true&showHistoryOutput=true`, bearer(token))).status).toBe(200);
    expect((await fetch(`${base}/instances/a-1?format=native&code=${token}`)).status).toBe(202);
    expect((await fetch(`${server.url}${LEGACY_WEBHOOK_PATH}/instances/a-done`, bearer(token))).status).toBe(200);
    for (const path of ['/instances/a-1/stream', '/instances/a-1/history/stream?positions=true']) {
      const controller = new AbortController();
      const stream = await fetch(`${base}${path}`, bearer(token, { signal: controller.signal }));
      expect(stream.status, path).toBe(200);
      expect(stream.headers.get('content-type')).toContain('text/event-stream');
      controller.abort();
    }
  });

  it('refuses every other instance with 403 on every read route, before reading it', async () => {
    const { server, base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    for (const id of ['b-1', 'a-10', 'a-', 'A-1', 'unknown']) {
      for (const path of [`/instances/${id}`, `/instances/${id}?showHistory=true`, `/instances/${id}/stream`, `/instances/${id}/history/stream`]) {
        expect(await errorOf(await fetch(`${base}${path}`, bearer(token))), path).toEqual([403, 'forbidden']);
      }
    }
    expect(await errorOf(await fetch(`${server.url}${LEGACY_WEBHOOK_PATH}/instances/b-1`, bearer(token)))).toEqual([403, 'forbidden']);
    // An escaped id is the id it decodes to.
    expect(await errorOf(await fetch(`${base}/instances/%62-1`, bearer(token)))).toEqual([403, 'forbidden']);
  });

  it('lists nothing: the list routes are refused, a token by ids has no prefix to narrow them to', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    for (const path of ['/instances', '/instances/', '/instances?instanceIdPrefix=a-1', '/streams/instances?instanceIdPrefix=a-']) {
      expect(await errorOf(await fetch(`${base}${path}`, bearer(token))), path).toEqual([403, 'forbidden']);
    }
  });

  it('refuses every command and purge with 403 and the usual error body, on its own instance too, and does nothing', async () => {
    const { server, base, runtime } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1', 'a-done'], instanceIdPrefix: 'a-', ttlMs: LIFE });
    const before = await runtime.client.listInstances({});
    for (const id of ['a-1', 'a-done', 'b-1']) {
      for (const [method, path] of writeRoutes(id)) {
        for (const root of [base, `${server.url}${LEGACY_WEBHOOK_PATH}`]) {
          const init = { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '"x"' : null };
          for (const response of [
            await fetch(`${root}${path}`, bearer(token, init)),
            await fetch(`${root}${path}${path.includes('?') ? '&' : '?'}code=${token}`, init),
          ]) {
            expect(response.headers.get('content-type')).toContain('application/json');
            expect(response.headers.get('cache-control')).toBe('no-store');
            expect(await errorOf(response), `${method} ${path}`).toEqual([403, 'forbidden']);
          }
        }
      }
    }
    const after = await runtime.client.listInstances({});
    expect(after.instances).toEqual(before.instances);
    expect((await runtime.client.getStatus('a-1'))!.runtimeStatus).toBe('Running');
  });

  it('still gets 404 for no route and 405 for a method a route does not take', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    expect(await errorOf(await fetch(`${base}/nowhere`, bearer(token)))).toEqual([404, 'not-found']);
    expect(await errorOf(await fetch(`${base}/instances/a-1`, bearer(token, { method: 'PUT' })))).toEqual([405, 'method-not-allowed']);
  });

  it('takes nothing from a key presented beside it', async () => {
    const { base, runtime } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    const raised = await fetch(`${base}/instances/b-1/raiseEvent/Item?code=${KEY}`, bearer(token, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '"second"',
    }));
    expect(raised.status).toBe(202);
    expect((await runtime.client.waitForCompletion('b-1')).output).toEqual(['secret', 'second']);
  });
});

describe('a read token for a prefix', () => {
  const ids = (statuses: { instanceId: string }[]) => statuses.map((s) => s.instanceId).sort();

  it('reads the instances under it and lists only those, narrowing a wider instanceIdPrefix and refusing another', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIdPrefix: 'tenant-a-', ttlMs: LIFE });
    expect((await fetch(`${base}/instances/tenant-a-2`, bearer(token))).status).toBe(202);
    expect(await errorOf(await fetch(`${base}/instances/tenant-b-1`, bearer(token)))).toEqual([403, 'forbidden']);
    const list = async (query: string) => {
      const response = await fetch(`${base}/instances${query}`, bearer(token));
      expect(response.status, query).toBe(200);
      return ids(await response.json() as { instanceId: string }[]);
    };
    expect(await list('')).toEqual(['tenant-a-1', 'tenant-a-2']);
    expect(await list('?instanceIdPrefix=tenant-')).toEqual(['tenant-a-1', 'tenant-a-2']);
    expect(await list('?instanceIdPrefix=')).toEqual(['tenant-a-1', 'tenant-a-2']);
    expect(await list('?instanceIdPrefix=tenant-a-2')).toEqual(['tenant-a-2']);
    expect(await list('?top=1&runtimeStatus=Running&format=native')).toHaveLength(1);
    for (const query of ['?instanceIdPrefix=tenant-b-', '?instanceIdPrefix=b', '?instanceIdPrefix=tenant-A-']) {
      expect(await errorOf(await fetch(`${base}/instances${query}`, bearer(token))), query).toEqual([403, 'forbidden']);
    }
  });

  it('lists by its prefix alone: the ids it also names are read by id, not listed', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], instanceIdPrefix: 'tenant-a-', ttlMs: LIFE });
    expect((await fetch(`${base}/instances/a-1`, bearer(token))).status).toBe(202);
    const listed = await fetch(`${base}/instances`, bearer(token));
    expect(listed.status).toBe(200);
    expect(ids(await listed.json() as { instanceId: string }[])).toEqual(['tenant-a-1', 'tenant-a-2']);
    expect(await errorOf(await fetch(`${base}/instances?instanceIdPrefix=a-`, bearer(token)))).toEqual([403, 'forbidden']);
  });

  it('reads nothing when no instance id can start with its prefix, as a list by that prefix finds nothing', async () => {
    const { base } = await open();
    for (const prefix of ['a/', '@a', 'a-\u0001']) {
      const token = await createReadToken(KEY, { instanceIdPrefix: prefix, ttlMs: LIFE });
      const query = `?instanceIdPrefix=${encodeURIComponent(prefix)}`;
      for (const credential of [bearer(token), withKey(KEY)]) {
        const response = await fetch(`${base}/instances${query}`, credential);
        expect(response.status, prefix).toBe(200);
        expect(await response.json(), prefix).toEqual([]);
      }
      expect(await errorOf(await fetch(`${base}/instances/a-1`, bearer(token))), prefix).toEqual([403, 'forbidden']);
    }
  });

  it('pages through its own instances only, whatever continuation token comes back', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIdPrefix: 'tenant-', ttlMs: LIFE });
    const seen: string[] = [];
    let continuation = '';
    do {
      const response = await fetch(`${base}/instances?top=1`, bearer(token, { headers: { 'x-ms-continuation-token': continuation } }));
      expect(response.status).toBe(200);
      seen.push(...ids(await response.json() as { instanceId: string }[]));
      continuation = response.headers.get('x-ms-continuation-token')!;
    } while (continuation !== '');
    expect(seen.sort()).toEqual(['tenant-a-1', 'tenant-a-2', 'tenant-b-1']);
  });

  it('narrows the list stream to its prefix', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIdPrefix: 'tenant-a-', ttlMs: LIFE });
    const controller = new AbortController();
    const response = await fetch(`${base}/streams/instances?instanceIdPrefix=tenant`, bearer(token, { signal: controller.signal }));
    expect(response.status).toBe(200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!/event: instances\n(?:id: .*\n)?data: .*\n\n/.test(text)) text += await readMore(reader);
    controller.abort();
    const data = /event: instances\n(?:id: .*\n)?data: (.*)\n/.exec(text)![1]!;
    expect(ids(JSON.parse(data) as { instanceId: string }[])).toEqual(['tenant-a-1', 'tenant-a-2']);
    expect(await errorOf(await fetch(`${base}/streams/instances?instanceIdPrefix=tenant-b`, bearer(token)))).toEqual([403, 'forbidden']);
  });
});

describe('the multiplexed stream with a read token', () => {
  interface Event { readonly event: string; readonly data: { sub?: string; data?: unknown; error?: { code: string; status: number } } }

  /** Opens a session with `token`; returns its id and a function giving its events in order. */
  async function session(base: string, token: string) {
    const controller = new AbortController();
    const response = await fetch(`${base}/streams`, bearer(token, { signal: controller.signal, headers: { accept: 'text/event-stream' } }));
    expect(response.status).toBe(200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const next = async (): Promise<Event> => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          if (event !== undefined) return { event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as Event['data'] };
          continue;
        }
        buffer += await readMore(reader);
      }
    };
    const opened = await next();
    expect(opened.event).toBe('session');
    return { id: (opened.data as { session: string }).session, next, close: () => controller.abort() };
  }

  /**
   * A session of `token` that holds a subscription (to a-1) and sent its value, so that it waits for a resume when its
   * connection goes (one that holds none and sent nothing but its `session` event is released at once).
   */
  async function held(base: string, token: string) {
    const hub = await session(base, token);
    expect((await change(base, hub.id, token, { subscribe: [{ sub: 'a', kind: 'status', instanceId: 'a-1' }] })).status).toBe(200);
    expect((await hub.next()).data).toMatchObject({ sub: 'a', data: { instanceId: 'a-1' } });
    return hub;
  }

  const change = (base: string, session: string, token: string, body: unknown) => fetch(`${base}/streams/${session}/subscriptions`, bearer(token, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  }));

  it('refuses each out-of-scope subscription by its close event with 403, and serves the others of the same request', async () => {
    const { base, runtime } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    const hub = await session(base, token);
    const answer = await change(base, hub.id, token, {
      subscribe: [
        { sub: 'mine', kind: 'status', instanceId: 'a-1' },
        { sub: 'other', kind: 'status', instanceId: 'b-1' },
        { sub: 'other-history', kind: 'history', instanceId: 'b-1' },
        { sub: 'list', kind: 'instances', query: 'instanceIdPrefix=a-' },
        { sub: 'my-history', kind: 'history', instanceId: 'a-1' },
      ],
    });
    expect(answer.status).toBe(200);
    // Read until both of a-1's feeds have answered, in whichever order they do.
    const events: Event[] = [];
    while (!events.some((e) => e.event === 'history') || !events.some((e) => e.data.sub === 'mine')) events.push(await hub.next());
    // Each refusal is the protocol's failed subscription: a close event with the error.
    const forbidden = { code: 'forbidden', status: 403, message: expect.any(String) };
    for (const sub of ['other', 'other-history', 'list']) {
      expect(events.filter((e) => e.data.sub === sub), sub).toEqual([{ event: 'close', data: { sub, error: forbidden } }]);
    }
    expect(events.find((e) => e.data.sub === 'mine')).toMatchObject({ event: 'status', data: { data: { instanceId: 'a-1', customStatus: { received: 1 } } } });
    // b-1's status never goes out on the session, now or when it changes; a-1's changes do.
    await runtime.client.raiseEvent('b-1', 'Item', 'hidden');
    await runtime.client.waitForCompletion('b-1');
    await runtime.client.raiseEvent('a-1', 'Item', 'second');
    const later: Event[] = [];
    for (;;) {
      const event = await hub.next();
      later.push(event);
      if (event.data.sub === 'mine' && (event.data.data as { runtimeStatus: string }).runtimeStatus === 'Completed') break;
    }
    // (The refusals name the id the request asked for; nothing else does.)
    const all = JSON.stringify([...events, ...later].filter((e) => e.event !== 'close'));
    expect(all).not.toContain('b-1');
    expect(all).not.toContain('secret');
    expect(all).not.toContain('hidden');
    hub.close();
  });

  it('cannot take another instance by sending a refused subscription id again', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1', 'b-1'], ttlMs: LIFE });
    const narrow = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    const hub = await session(base, narrow);
    // `s` reads a-1; the same token asks for `s` with b-1: refused (and ended, as its close event says).
    expect((await change(base, hub.id, narrow, { subscribe: [{ sub: 's', kind: 'status', instanceId: 'a-1' }] })).status).toBe(200);
    expect((await hub.next()).data).toMatchObject({ sub: 's', data: { instanceId: 'a-1' } });
    expect((await change(base, hub.id, narrow, { subscribe: [{ sub: 's', kind: 'status', instanceId: 'b-1' }] })).status).toBe(200);
    expect(await hub.next()).toEqual({ event: 'close', data: { sub: 's', error: expect.objectContaining({ code: 'forbidden', status: 403 }) } });
    // A token of a wider scope does not reach the session either (see below): it is the narrow token's.
    expect(await errorOf(await change(base, hub.id, token, { subscribe: [{ sub: 's', kind: 'status', instanceId: 'b-1' }] })))
      .toEqual([404, 'session-not-found']);
    hub.close();
  });

  it('keeps a session to the credential that opened it: another neither resumes, changes nor deletes it', async () => {
    const { base, runtime } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    // The key's session reads b-1, which the token does not.
    const keyed = await session(base, KEY);
    expect((await change(base, keyed.id, KEY, { subscribe: [{ sub: 's', kind: 'status', instanceId: 'b-1' }] })).status).toBe(200);
    expect((await keyed.next()).data).toMatchObject({ sub: 's', data: { instanceId: 'b-1' } });
    // Its id, as a reconnect names it, opens a new empty session for the token, not the key's.
    const controller = new AbortController();
    const resumed = await fetch(`${base}/streams`, bearer(token, { signal: controller.signal, headers: { 'last-event-id': `${keyed.id}.0` } }));
    expect(resumed.status).toBe(200);
    const text = resumed.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    while (!/^data: .*\n\n/m.test(received)) received += (await text.read()).value ?? '';
    expect(received).toMatch(/^event: session\n/m);
    expect(received).not.toContain(keyed.id);
    controller.abort();
    expect(await errorOf(await change(base, keyed.id, token, { subscribe: [{ sub: 't', kind: 'status', instanceId: 'a-1' }] })))
      .toEqual([404, 'session-not-found']);
    expect(await errorOf(await fetch(`${base}/streams/${keyed.id}`, bearer(token, { method: 'DELETE' })))).toEqual([404, 'session-not-found']);
    // The key's session goes on, on its own connection.
    await runtime.client.raiseEvent('b-1', 'Item', 'later');
    expect((await keyed.next()).data).toMatchObject({ sub: 's', data: { instanceId: 'b-1', runtimeStatus: 'Completed' } });
    keyed.close();
  });

  it('lets a fresh token of the same scope resume a token\'s session, and no token of another scope', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    const hub = await held(base, token);
    hub.close();
    const resume = (with_: string) => resumesSession(base, hub.id, with_);
    expect(await resume(await createReadToken(KEY, { instanceIds: ['a-1', 'b-1'], ttlMs: LIFE }))).toBe(false);
    expect(await resume(await createReadToken(KEY, { instanceIdPrefix: 'a-', ttlMs: LIFE }))).toBe(false);
    expect(await resume(KEY)).toBe(false);
    expect(await resume(await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: 2 * LIFE }))).toBe(true);
  });

  it('takes a scope as a set of ids: a token naming the same ids in another order, or one twice, resumes the session', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['b-1', 'a-1'], instanceIdPrefix: 'tenant-a-', ttlMs: LIFE });
    const hub = await held(base, token);
    hub.close();
    const resumes = (with_: string) => resumesSession(base, hub.id, with_);
    const reordered = await createReadToken(KEY, { instanceIds: ['a-1', 'b-1', 'a-1'], instanceIdPrefix: 'tenant-a-', ttlMs: 2 * LIFE });
    expect(await resumes(reordered)).toBe(true);
    // It changes and deletes that session too.
    expect((await change(base, hub.id, reordered, { subscribe: [{ sub: 's', kind: 'status', instanceId: 'b-1' }] })).status).toBe(200);
    expect((await fetch(`${base}/streams/${hub.id}`, bearer(reordered, { method: 'DELETE' }))).status).toBe(204);
  });

  it('narrows a list subscription of a prefix token to its prefix', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIdPrefix: 'tenant-a-', ttlMs: LIFE });
    const hub = await session(base, token);
    expect((await change(base, hub.id, token, {
      subscribe: [{ sub: 'all', kind: 'instances' }, { sub: 'b', kind: 'instances', query: 'instanceIdPrefix=tenant-b-' }],
    })).status).toBe(200);
    const events = [await hub.next(), await hub.next()];
    const list = events.find((e) => e.data.sub === 'all')!;
    expect((list.data.data as { instanceId: string }[]).map((s) => s.instanceId).sort()).toEqual(['tenant-a-1', 'tenant-a-2']);
    expect(events.find((e) => e.data.sub === 'b')).toMatchObject({ event: 'close', data: { error: { code: 'forbidden', status: 403 } } });
    // Its own session it may delete.
    expect((await fetch(`${base}/streams/${hub.id}`, bearer(token, { method: 'DELETE' }))).status).toBe(204);
    hub.close();
  });

  it('still refuses a malformed change whole with 400', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    const hub = await session(base, token);
    const bad = await change(base, hub.id, token, { subscribe: [{ sub: 'x', kind: 'status', instanceId: 'b-1' }, { sub: 'y', kind: 'nope' }] });
    expect(await errorOf(bad)).toEqual([400, 'invalid-argument']);
    hub.close();
  });
});

describe('an expired or altered read token', () => {
  /** The 401 of a wrong key, as it is answered: status, headers that matter and body. */
  async function refusal(response: Response) {
    return {
      status: response.status, authenticate: response.headers.get('www-authenticate'), body: await response.text(),
    };
  }

  it('is answered as a wrong key once it expires, by the handler\'s clock', async () => {
    const clock = new VirtualClock(new Date());
    const { base } = await open({ clock });
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], expiresAt: clock.now().getTime() + MINUTE });
    expect((await fetch(`${base}/instances/a-1`, bearer(token))).status).toBe(202);
    await clock.advance(MINUTE - 1);
    expect((await fetch(`${base}/instances/a-1`, bearer(token))).status).toBe(202);
    await clock.advance(1);
    const wrongKey = await refusal(await fetch(`${base}/instances/a-1`, bearer('wrong-key')));
    expect(wrongKey.status).toBe(401);
    expect(await refusal(await fetch(`${base}/instances/a-1`, bearer(token)))).toEqual(wrongKey);
    expect(await refusal(await fetch(`${base}/instances/a-1?code=${token}`))).toEqual(wrongKey);
    expect(await refusal(await fetch(`${base}/streams`, bearer(token)))).toEqual(wrongKey);
  });

  it('ends the streams it opened when it expires, and their reconnect is refused', async () => {
    const clock = new VirtualClock(new Date());
    const { base } = await open({ clock });
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], expiresAt: clock.now().getTime() + MINUTE });
    const readers = [];
    for (const path of ['/instances/a-1/stream', '/streams']) {
      const response = await fetch(`${base}${path}`, bearer(token));
      expect(response.status).toBe(200);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('data: ')) text += await readMore(reader);
      readers.push(reader);
    }
    await clock.advance(MINUTE);
    for (const reader of readers) {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        // heartbeats, until the server ends the response
      }
    }
    const resumed = await fetch(`${base}/instances/a-1/stream`, bearer(token, { headers: { 'last-event-id': 'x.1' } }));
    expect(resumed.status).toBe(401);
    await resumed.body?.cancel();
  });

  it('leaves no expiry timer behind a stream the server ended before the token expired (a web-stream response)', async () => {
    // In process, as on Deno, Bun, Workers or in a page: nothing tells the route that the response it ended is gone.
    const clock = new VirtualClock(new Date());
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators, logger: silentLogger });
    await runtime.start();
    try {
      await runtime.client.startNew('WaitForEvents', { instanceId: 'a-1', input: 1 });
      const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, clock });
      const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: 60 * MINUTE });
      const url = (path: string) => `http://127.0.0.1${WEBHOOK_PATH}${path}`;
      /** Opens a stream and reads it until its first event; returns what reads it to its end. */
      const opened = async (path: string) => {
        const reader = (await handler(new Request(url(path), bearer(token)))).body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = '';
        while (!text.includes('data: ')) text += await readMore(reader);
        return { text, ended: async () => { while (!(await reader.read()).done); } };
      };
      const session = await opened('/streams');
      const id = /"session":"([^"]+)"/.exec(session.text)![1]!;
      expect((await handler(new Request(url(`/streams/${id}`), bearer(token, { method: 'DELETE' })))).status).toBe(204);
      await session.ended();
      expect(clock.pendingTimers).toBe(0); // no heartbeat, no resume window, no expiry
      const single = await opened('/instances/a-1/stream');
      handler.close();
      await single.ended();
      expect(clock.pendingTimers).toBe(0);
    } finally {
      await runtime.stop();
    }
  });

  it('gives the clock no longer wait than one timer can hold for a token that expires later (platform timers fire such a wait at once)', async () => {
    const clock = new VirtualClock(new Date());
    const delays: number[] = [];
    const recording: Clock = {
      now: () => clock.now(),
      setTimeout: (callback, delayMs) => (delays.push(delayMs), clock.setTimeout(callback, delayMs)),
      clearTimeout: (timer) => clock.clearTimeout(timer),
    };
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators, logger: silentLogger });
    await runtime.start();
    try {
      await runtime.client.startNew('WaitForEvents', { instanceId: 'a-1', input: 1 });
      const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, clock: recording });
      const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: 30 * 24 * 60 * MINUTE });
      const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/a-1/stream`, bearer(token)));
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('data: ')) text += await readMore(reader);
      expect(delays.length).toBeGreaterThan(0);
      expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
      await reader.cancel();
      handler.close();
    } finally {
      await runtime.stop();
    }
  });

  it('ends a stream it opened within one heartbeat interval after a machine sleep that outlasted it', async () => {
    // A timer counts only the time the machine is awake: over a sleep the wall clock moves on, the timers do not.
    const timers = new VirtualClock(new Date());
    let slept = 0;
    const clock: Clock = {
      now: () => new Date(timers.now().getTime() + slept),
      setTimeout: (callback, delayMs) => timers.setTimeout(callback, delayMs),
      clearTimeout: (timer) => timers.clearTimeout(timer),
    };
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators, logger: silentLogger });
    await runtime.start();
    try {
      await runtime.client.startNew('WaitForEvents', { instanceId: 'a-1', input: 1 });
      const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, clock, heartbeatMs: 15_000 });
      const token = await createReadToken(KEY, { instanceIds: ['a-1'], expiresAt: clock.now().getTime() + 60 * MINUTE });
      const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/a-1/stream`, bearer(token)));
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('data: ')) text += await readMore(reader);
      slept = 2 * 60 * MINUTE; // the lid closed for two hours; the token expired an hour ago
      await timers.advance(15_000);
      let ended = false;
      const read = (async () => {
        while (!(await reader.read()).done) {
          // heartbeats, until the server ends the response
        }
        ended = true;
      })();
      await vi.waitFor(() => expect(ended).toBe(true), { timeout: SETTLED.timeoutMs, interval: 10 });
      await read;
      handler.close();
    } finally {
      await runtime.stop();
    }
  });

  it('is answered as a wrong key when any character of its payload or signature changes, or it is cut, padded or re-signed', async () => {
    const { base } = await open();
    const token = await createReadToken(KEY, { instanceIds: ['a-1'], ttlMs: LIFE });
    const wrongKey = await refusal(await fetch(`${base}/instances/a-1`, bearer('wrong-key')));
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    const [, payload, signature] = token.split('.') as [string, string, string];
    const forged = [
      ...Array.from({ length: signature.length }, (_, at) => `drx-read.${payload}.${flip(signature, at)}`),
      ...[0, 5, payload.length - 1].map((at) => `drx-read.${flip(payload, at)}.${signature}`),
      token.slice(0, -1), `${token}A`, `${token}.`, `${token}=`, `drx-read.${payload}`, `drx-read.${payload}.`, 'drx-read.', 'drx-read..',
      `drx-read.${payload}.${signature}.${signature}`, `DRX-READ.${payload}.${signature}`, ` ${token}`.trim().toLowerCase(),
      // Its scope widened, under the old signature.
      `drx-read.${btoa(JSON.stringify({ instanceIds: ['a-1', 'b-1'], expiresAt: Date.now() + LIFE })).replace(/=+$/, '')}.${signature}`,
      // Signed with another key, and signed without a key's help by hashing the payload alone.
      await createReadToken('another-key', { instanceIds: ['a-1'], ttlMs: LIFE }),
      `drx-read.${payload}.${await sha256(`drx-read.${payload}`)}`,
      `drx-read.${'A'.repeat(9000)}.${signature}`,
    ];
    for (const presented of forged) {
      expect(await refusal(await fetch(`${base}/instances/a-1`, bearer(presented))), presented.slice(0, 80)).toEqual(wrongKey);
    }
    // Over ?code= as well, and in process with a real Request.
    expect(await refusal(await fetch(`${base}/instances/a-1?code=${encodeURIComponent(forged[0]!)}`))).toEqual(wrongKey);
  });

  it('is answered as a wrong key when its signed payload gives ttlMs for its expiry, which would never pass', async () => {
    const { base } = await open();
    const wrongKey = await refusal(await fetch(`${base}/instances/a-1`, bearer('wrong-key')));
    const hmac = await crypto.subtle.importKey('raw', new TextEncoder().encode(KEY), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const base64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const signed = `drx-read.${base64url(new TextEncoder().encode(JSON.stringify({ instanceIds: ['a-1'], ttlMs: LIFE })))}`;
    const token = `${signed}.${base64url(new Uint8Array(await crypto.subtle.sign('HMAC', hmac, new TextEncoder().encode(signed))))}`;
    expect(await refusal(await fetch(`${base}/instances/a-1`, bearer(token)))).toEqual(wrongKey);
  });

  it('is checked against every key of a handler that rotates keys, and lapses with the key that made it', async () => {
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators, logger: silentLogger });
    await runtime.start();
    try {
      await runtime.client.startNew('WaitForEvents', { instanceId: 'a-1', input: 1 });
      const request = (token: string) => new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/a-1`, bearer(token));
      const rotating = createHttpHandler(runtime.client, { key: ['old-key', 'new-key'], logger: silentLogger });
      const rotated = createHttpHandler(runtime.client, { key: ['new-key'], logger: silentLogger });
      const byOld = await createReadToken('old-key', { instanceIds: ['a-1'], ttlMs: LIFE });
      const byNew = await createReadToken('new-key', { instanceIds: ['a-1'], ttlMs: LIFE });
      expect((await rotating(request(byOld))).status).toBe(202);
      expect((await rotating(request(byNew))).status).toBe(202);
      expect((await rotated(request(byNew))).status).toBe(202);
      expect((await rotated(request(byOld))).status).toBe(401);
      // The key still works beside its tokens; a token is no key for the token-less handler.
      expect((await rotated(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/a-1`, withKey('new-key')))).status).toBe(202);
      expect((await rotated(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/a-1/terminate`, bearer(byNew, { method: 'POST' })))).status).toBe(403);
      rotating.close();
      rotated.close();
    } finally {
      await runtime.stop();
    }
  });
});

async function sha256(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
