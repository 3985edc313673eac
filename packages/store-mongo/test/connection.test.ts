import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { validateNamespace } from '../src/indexes.js';
import { MongoStore } from '../src/mongo-store.js';
import { clientOptionsFor, clientOptionWarnings, DEFAULT_CLIENT_OPTIONS, feedOptionProblem, type MongoStoreUriOptions } from '../src/mongo-store-options.js';

// These run everywhere: they talk to the real driver, and nothing listens on 127.0.0.1:1, so the refusal is real.

describe('connecting', () => {
  it('fails with StoreUnreachableError naming the refusal when nothing listens (real driver, real refusal)', async () => {
    // 5 s of server selection: long enough that even a loaded machine makes its connection attempt and records the
    // refusal (with 500 ms, a CI run at load 27 timed out before trying, and the message named only the timeout).
    const error = await MongoStore.connect({
      uri: 'mongodb://user:secret-password@127.0.0.1:1/app?replicaSet=rs0', clientOptions: { serverSelectionTimeoutMS: 5000 },
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'store-unreachable', status: 503, name: 'StoreUnreachableError' });
    expect((error as Error).cause).toMatchObject({ name: 'MongoServerSelectionError' });
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).not.toContain('secret-password');
  });

  it('bounds server selection by default (10 s instead of the driver\u2019s 30 s)', () => {
    expect(DEFAULT_CLIENT_OPTIONS.serverSelectionTimeoutMS).toBe(10_000);
  });

  it('bounds the wait for a free pooled connection by default (10 s; the driver\u2019s default waits for good)', async () => {
    const uri = 'mongodb://127.0.0.1:1/?replicaSet=rs0';
    // Read back from the real driver's resolved options: the option name is one it knows and applies to its pool.
    const client = new MongoClient(uri, clientOptionsFor(uri, undefined));
    const plain = new MongoClient(uri);
    try {
      expect(client.options.waitQueueTimeoutMS).toBe(10_000);
      expect(plain.options.waitQueueTimeoutMS).toBe(0);
    } finally {
      await client.close();
      await plain.close();
    }
  });

  it('lets options in the connection string win over the store\u2019s defaults', () => {
    expect(clientOptionsFor('mongodb://h/?replicaSet=rs0&serverSelectionTimeoutMS=2000', undefined)).toEqual({
      connectTimeoutMS: 10_000, waitQueueTimeoutMS: 10_000, appName: 'durable-rx',
    });
    expect(clientOptionsFor('mongodb://h/?APPNAME=mine&waitQueueTimeoutMS=500', { serverSelectionTimeoutMS: 1 })).toEqual({
      serverSelectionTimeoutMS: 1, connectTimeoutMS: 10_000,
    });
    expect(clientOptionsFor('mongodb://h/app', undefined)).toEqual(DEFAULT_CLIENT_OPTIONS);
  });

  it('warns about driver options that weaken failover handling, read off a real client\u2019s resolved options', async () => {
    const weak = new MongoClient('mongodb://127.0.0.1:1/?retryWrites=false&retryReads=false&socketTimeoutMS=5000');
    const usual = new MongoClient('mongodb://127.0.0.1:1/?replicaSet=rs0', clientOptionsFor('mongodb://127.0.0.1:1/?replicaSet=rs0', undefined));
    try {
      const warnings = clientOptionWarnings(weak.options, 31_000);
      expect(warnings).toHaveLength(4);
      expect(warnings[0]).toContain('retryWrites is off');
      expect(warnings[1]).toContain('retryReads is off');
      expect(warnings[2]).toContain('socketTimeoutMS (5000 ms) is not longer than a commit may wait for a majority (31000 ms)');
      // A client built with the driver's defaults waits for a pooled connection without limit.
      expect(warnings[3]).toContain('waitQueueTimeoutMS is 0');
      expect(clientOptionWarnings(new MongoClient('mongodb://127.0.0.1:1/').options, 31_000)).toEqual([expect.stringContaining('waitQueueTimeoutMS is 0')]);
      // The driver's defaults (retries on, no socket timeout) and the store's own options raise nothing.
      expect(clientOptionWarnings(usual.options, 31_000)).toEqual([]);
      expect(clientOptionWarnings({ socketTimeoutMS: 60_000 }, 31_000)).toEqual([]);
    } finally {
      await weak.close();
      await usual.close();
    }
  });

  it('reports an unreachable server the same way for a client the application passes in', async () => {
    const client = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 300 });
    try {
      await expect(MongoStore.connect({ client, dbName: 'app' })).rejects.toMatchObject({ code: 'store-unreachable', status: 503 });
    } finally {
      await client.close();
    }
  });

  it('rejects a database name or collection prefix MongoDB would refuse with InvalidArgumentError, before connecting', async () => {
    // Nothing listens on port 1: these reject at once, not after server selection, and not as a 500 from the server.
    await expect(MongoStore.connect({ uri: 'mongodb://127.0.0.1:1/?replicaSet=rs0', dbName: 'a.b' })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(MongoStore.connect({ uri: 'mongodb://127.0.0.1:1/app?replicaSet=rs0', collectionPrefix: 'drx$' }))
      .rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
    const client = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 300 });
    try {
      await expect(MongoStore.connect({ client, dbName: 'my app' })).rejects.toMatchObject({ code: 'invalid-argument' });
    } finally {
      await client.close();
    }
  });

  it('knows MongoDB\u2019s naming rules (validateNamespace)', () => {
    for (const [db, prefix] of [['orders', ''], ['orders', 'drx_'], ['app:prod', 'a.b_'], ['x'.repeat(63), '']] as const) {
      expect(() => validateNamespace(db, prefix), `${db} ${prefix}`).not.toThrow();
    }
    const refused: [unknown, unknown][] = [
      ['', ''], ['a.b', ''], ['a/b', ''], ['a b', ''], ['a$b', ''], ['a"b', ''], ['a\\b', ''], ['a\0b', ''], ['x'.repeat(64), ''], [undefined, ''],
      ['orders', 'a$'], ['orders', 'a\0'], ['orders', 'system.'], ['orders', 'p'.repeat(240)], ['orders', 42],
    ];
    for (const [db, prefix] of refused) {
      expect(() => validateNamespace(db, prefix), `${String(db)} ${String(prefix)}`).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
  });

  it('rejects a malformed connection string and a bad payload limit with InvalidArgumentError', async () => {
    await expect(MongoStore.connect({ uri: 'http://not-mongo' })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
    await expect(MongoStore.connect({ uri: 'mongodb://127.0.0.1:1/', maxPayloadBytes: 64 * 1024 * 1024 }))
      .rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('rejects a clock-check interval or tolerance that is not a finite number of ms, 0 or more, before connecting', async () => {
    // A NaN interval would re-check the clock on a 1 ms timer for the store's whole life. Nothing listens on port 1,
    // so without the check these would end as store-unreachable after server selection instead.
    const uri = 'mongodb://127.0.0.1:1/app?replicaSet=rs0';
    const clientOptions = { serverSelectionTimeoutMS: 2000 };
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, '60000' as unknown as number]) {
      await expect(MongoStore.connect({ uri, clientOptions, clockSkewCheckMs: bad }), `clockSkewCheckMs ${String(bad)}`)
        .rejects.toMatchObject({ code: 'invalid-argument', status: 400, message: expect.stringContaining('clockSkewCheckMs') });
      await expect(MongoStore.connect({ uri, clientOptions, maxClockSkewMs: bad }), `maxClockSkewMs ${String(bad)}`)
        .rejects.toMatchObject({ code: 'invalid-argument', status: 400, message: expect.stringContaining('maxClockSkewMs') });
    }
  });
});

describe('option kinds', () => {
  it('refuses options of the wrong kind (a boolean, a function, an object, a string) before any client is made or connected', async () => {
    // Nothing listens on port 1: without the check each of these would end as store-unreachable after server selection.
    const uri = 'mongodb://127.0.0.1:1/app?replicaSet=rs0';
    const clientOptions = { serverSelectionTimeoutMS: 2000 };
    const client = new MongoClient(uri, clientOptions); // never connected: the store refuses before using it
    const bad: [string, Record<string, unknown>][] = [
      ['createIndexes', { uri, clientOptions, createIndexes: 'no' }],
      ['clock', { uri, clientOptions, clock: {} }],
      ['logger', { uri, clientOptions, logger: 5 }],
      ['clientOptions', { uri, clientOptions: 'serverSelectionTimeoutMS=2000' }],
      ['transactionOptions', { uri, clientOptions, transactionOptions: 5 }],
      ['collectionPrefix', { uri, clientOptions, collectionPrefix: 5 }],
      ['uri', { uri: 5 }],
      ['client', { client: {}, dbName: 'app' }],
      ['dbName', { client, dbName: 5 }],
      ['dbName', { client, createIndexes: false }],
      ['createIndexes', { client, dbName: 'app', createIndexes: 'false' }],
      ['refuseClaimsOnClockSkew', { uri, clientOptions, refuseClaimsOnClockSkew: 'false' }],
      ['refuseClaimsOnClockSkew', { client, dbName: 'app', refuseClaimsOnClockSkew: 0 }],
    ];
    for (const [member, options] of bad) {
      await expect(MongoStore.connect(options as never), member)
        .rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument', status: 400, message: expect.stringContaining(member) });
    }
    for (const options of [undefined, null, 5, 'mongodb://127.0.0.1:1/']) {
      await expect(MongoStore.connect(options as never), String(options)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
    }
    await client.close();
  });
});

describe('change-feed options', () => {
  it('rejects a resume back-off, linger or watch bound that is not a sane number, before connecting', async () => {
    // A NaN or 0 back-off would reopen a failing change stream every millisecond for as long as it fails. Nothing
    // listens on port 1, so without the check these would end as store-unreachable after server selection instead.
    const uri = 'mongodb://127.0.0.1:1/app?replicaSet=rs0';
    const clientOptions = { serverSelectionTimeoutMS: 2000 };
    const bad: [string, Partial<MongoStoreUriOptions>][] = [
      ['resumePolicy.initialDelayMs', { resumePolicy: { initialDelayMs: Number.NaN } }],
      ['resumePolicy.initialDelayMs', { resumePolicy: { initialDelayMs: 0 } }],
      ['resumePolicy.maxDelayMs', { resumePolicy: { maxDelayMs: Number.POSITIVE_INFINITY } }],
      ['resumePolicy.maxDelayMs', { resumePolicy: { maxDelayMs: 50 } }], // below the default first delay (100 ms)
      ['resumePolicy.maxPersistentFailures', { resumePolicy: { maxPersistentFailures: 0.5 } }],
      ['resumePolicy', { resumePolicy: 'fast' as never }],
      ['feedLingerMs', { feedLingerMs: Number.NaN }],
      ['feedLingerMs', { feedLingerMs: -1 }],
      ['maxWatchedInstances', { maxWatchedInstances: Number.NaN }],
    ];
    for (const [name, options] of bad) {
      await expect(MongoStore.connect({ uri, clientOptions, ...options }), name)
        .rejects.toMatchObject({ code: 'invalid-argument', status: 400, message: expect.stringContaining(name) });
    }
  });

  it('accepts every option within its range (feedOptionProblem)', () => {
    expect(feedOptionProblem({})).toBeUndefined();
    expect(feedOptionProblem({ feedLingerMs: 0, maxWatchedInstances: 0, resumePolicy: { initialDelayMs: 1, maxDelayMs: 1, maxPersistentFailures: 1 } }))
      .toBeUndefined();
    expect(feedOptionProblem({ resumePolicy: { initialDelayMs: 20_000, maxDelayMs: 60_000 } })).toBeUndefined();
    // Infinity: a status feed retries for good, as the wake-up feed does.
    expect(feedOptionProblem({ resumePolicy: { maxPersistentFailures: Infinity } })).toBeUndefined();
    expect(feedOptionProblem({ resumePolicy: { initialDelayMs: 20_000 } })).toContain('maxDelayMs (10000)');
  });
});
