import { MongoClient, type Abortable, type CreateIndexesOptions, type DropIndexesOptions, type ListIndexesOptions } from 'mongodb';
import { MAX_TIMER_DELAY_MS } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
import { IndexBuildTimeoutError } from '../src/errors/index-build-timeout-error.js';
import { indexDeadlineMessage, withIndexDeadline, type IndexDeadline } from '../src/index-deadline.js';
import { MongoStore } from '../src/mongo-store.js';
import { checkConnectOptions } from '../src/mongo-store-options.js';

/** What a command sent with `deadline.signal` does while the server never answers: it ends only when the signal aborts. */
function waitsForAnswer(deadline: IndexDeadline): Promise<never> {
  return new Promise((_, reject) => {
    const signal = deadline.signal!;
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

describe('the deadline of connect\u2019s index pass', () => {
  it('rejects with IndexBuildTimeoutError naming the build that was waiting, its commit quorum, and that the build goes on', async () => {
    const error = await withIndexDeadline(1, 'orders', async (deadline) => {
      deadline.step('building the indexes of drx_messages', 'drx_messages');
      return waitsForAnswer(deadline);
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(IndexBuildTimeoutError);
    expect(error).toMatchObject({ code: 'index-build-timeout', status: 503, name: 'IndexBuildTimeoutError' });
    expect((error as Error).cause).toMatchObject({ name: 'TimeoutError' });
    const message = (error as Error).message;
    expect(message).toContain('MongoStore orders: building the indexes of drx_messages did not finish within 1 ms (indexBuildTimeoutMs)');
    expect(message).toContain('every voting data-bearing member');
    expect(message).toContain('commit quorum');
    expect(message).toContain('The build itself goes on on the server');
    expect(message).toContain('setIndexCommitQuorum: "drx_messages"');
    expect(message).toContain('raise indexBuildTimeoutMs');
  });

  it('names a step other than a build (a listIndexes held by a collection lock) without the build advice', async () => {
    const error = await withIndexDeadline(1, 'orders', async (deadline) => {
      deadline.step('listing the indexes of drx_history');
      return waitsForAnswer(deadline);
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(IndexBuildTimeoutError);
    expect((error as Error).message).toContain('listing the indexes of drx_history did not finish within 1 ms');
    expect((error as Error).message).not.toContain('setIndexCommitQuorum');
  });

  it('gives every command the same signal, and returns what the pass returns when it finishes in time', async () => {
    const signals: (AbortSignal | undefined)[] = [];
    const value = await withIndexDeadline(60_000, 'orders', async (deadline) => {
      signals.push(deadline.signal, deadline.signal);
      return 'done';
    });
    expect(value).toBe('done');
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[0]!.aborted).toBe(false);
    expect(signals[1]).toBe(signals[0]);
  });

  it('lets a failure before the deadline through unchanged (an index conflict is not a timeout)', async () => {
    const conflict = new Error('IndexKeySpecsConflict');
    await expect(withIndexDeadline(60_000, 'orders', async () => { throw conflict; })).rejects.toBe(conflict);
  });

  it('sends no signal with indexBuildTimeoutMs: Infinity (the caller chose to wait for the build however long it takes)', async () => {
    await withIndexDeadline(Infinity, 'orders', async (deadline) => {
      expect(deadline.signal).toBeUndefined();
    });
  });

  it('says what to do in its message for a build', () => {
    expect(indexDeadlineMessage('orders', 600_000, 'building the indexes of instances', 'instances'))
      .toMatch(/^MongoStore orders: building the indexes of instances did not finish within 600000 ms \(indexBuildTimeoutMs\)\. /);
  });
});

describe('indexBuildTimeoutMs', () => {
  const uri = 'mongodb://127.0.0.1:1/?replicaSet=rs0';

  it.each([
    [0, 'must be a number > 0 (ms)'], [-1, 'must be a number > 0 (ms)'], [Number.NaN, 'must be a number > 0 (ms)'],
    ['600000', 'must be a number > 0 (ms)'], [2 ** 31, 'must be at most 2147483647 ms (24.8 days), or Infinity'],
  ])('refuses %s with InvalidArgumentError before anything connects', async (value, problem) => {
    expect(() => checkConnectOptions({ uri, indexBuildTimeoutMs: value })).toThrow(`MongoStore options.indexBuildTimeoutMs ${problem}`);
    // connect refuses it before creating a client: nothing listens at the address, and the error is not a refusal of it.
    await expect(MongoStore.connect({ uri, indexBuildTimeoutMs: value as number })).rejects.toMatchObject({
      code: 'invalid-argument', status: 400, message: expect.stringContaining('indexBuildTimeoutMs') as unknown,
    });
  });

  it.each([1, 600_000, 2 ** 31 - 1, Infinity])('accepts %s', (value) => {
    expect(() => checkConnectOptions({ uri, indexBuildTimeoutMs: value })).not.toThrow();
  });

  it('takes at most what one timer can wait, as the store kit says it (MAX_TIMER_DELAY_MS)', () => {
    expect(MAX_TIMER_DELAY_MS).toBe(2 ** 31 - 1);
    expect(() => checkConnectOptions({ uri, indexBuildTimeoutMs: MAX_TIMER_DELAY_MS })).not.toThrow();
    expect(() => checkConnectOptions({ uri, indexBuildTimeoutMs: MAX_TIMER_DELAY_MS + 1 }))
      .toThrow(`MongoStore options.indexBuildTimeoutMs must be at most ${MAX_TIMER_DELAY_MS} ms (24.8 days), or Infinity`);
  });
});

// The store passes its deadline to createIndexes, dropIndex and listIndexes as `signal`, which driver 7.8 honours on every
// command though only some of its option types name it. Checked on the real driver: nothing listens at the address and
// server selection would wait 60 s, so only the signal can end these calls (with its reason) within the test.
describe('the real driver ends the commands of the index pass on the deadline\u2019s signal', () => {
  const client = new MongoClient('mongodb://127.0.0.1:1/?replicaSet=rs0', { serverSelectionTimeoutMS: 60_000 });
  const collection = client.db('orders').collection('drx_messages');

  it.each([
    ['createIndexes', (options: Abortable) => collection.createIndexes([{ key: { a: 1 } }], options as CreateIndexesOptions & Abortable)],
    ['dropIndex', (options: Abortable) => collection.dropIndex('a_1', options as DropIndexesOptions & Abortable)],
    ['listIndexes', (options: Abortable) => collection.listIndexes(options as ListIndexesOptions & Abortable).toArray()],
    ['create', (options: Abortable) => client.db('orders').command({ create: 'drx_sweeps' }, options)],
  ])('%s', async (_name, send) => {
    const controller = new AbortController();
    const sent = send({ signal: controller.signal }).then(() => undefined, (e: unknown) => e);
    const reason = new Error('index pass deadline');
    controller.abort(reason);
    expect(await sent).toBe(reason);
  }, 30_000);

  it('closes its client', async () => {
    await client.close();
  });
});
