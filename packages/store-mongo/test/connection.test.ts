import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoStore } from '../src/mongo-store.js';
import { clientOptionsFor, DEFAULT_CLIENT_OPTIONS } from '../src/mongo-store-options.js';

// These run everywhere: they talk to the real driver, and nothing listens on 127.0.0.1:1, so the refusal is real.

describe('connecting', () => {
  it('fails fast with StoreUnreachableError when nothing listens (real driver, real refusal)', async () => {
    const started = Date.now();
    const error = await MongoStore.connect({
      uri: 'mongodb://user:secret-password@127.0.0.1:1/app?replicaSet=rs0', clientOptions: { serverSelectionTimeoutMS: 500 },
    }).then(() => undefined, (e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({ code: 'store-unreachable', status: 503, name: 'StoreUnreachableError' });
    expect((error as Error).cause).toMatchObject({ name: 'MongoServerSelectionError' });
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).not.toContain('secret-password');
    expect(elapsed).toBeLessThan(5000);
  });

  it('bounds server selection by default (10 s instead of the driver\u2019s 30 s)', () => {
    expect(DEFAULT_CLIENT_OPTIONS.serverSelectionTimeoutMS).toBe(10_000);
  });

  it('lets options in the connection string win over the store\u2019s defaults', async () => {
    expect(clientOptionsFor('mongodb://h/?replicaSet=rs0&serverSelectionTimeoutMS=2000', undefined)).toEqual({
      connectTimeoutMS: 10_000, appName: 'durable-rx',
    });
    expect(clientOptionsFor('mongodb://h/?APPNAME=mine', { serverSelectionTimeoutMS: 1 })).toEqual({
      serverSelectionTimeoutMS: 1, connectTimeoutMS: 10_000,
    });
    expect(clientOptionsFor('mongodb://h/app', undefined)).toEqual(DEFAULT_CLIENT_OPTIONS);
    // And the driver really uses the URI's timeout: refused within well under the 10 s default.
    const started = Date.now();
    await expect(MongoStore.connect({ uri: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300' })).rejects.toMatchObject({ code: 'store-unreachable' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports an unreachable server the same way for a client the application passes in', async () => {
    const client = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 300 });
    try {
      await expect(MongoStore.connect({ client, dbName: 'app' })).rejects.toMatchObject({ code: 'store-unreachable', status: 503 });
    } finally {
      await client.close();
    }
  });

  it('rejects a malformed connection string and a bad payload limit with InvalidArgumentError', async () => {
    await expect(MongoStore.connect({ uri: 'http://not-mongo' })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
    await expect(MongoStore.connect({ uri: 'mongodb://127.0.0.1:1/', maxPayloadBytes: 64 * 1024 * 1024 }))
      .rejects.toMatchObject({ code: 'invalid-argument' });
  });
});
