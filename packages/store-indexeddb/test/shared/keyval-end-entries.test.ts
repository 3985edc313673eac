import { afterEach, describe, expect, it } from 'vitest';
import { SETTLED } from '../../../../test-support/settled.js';
import { isTerminalStatus, createRuntime, silentLogger, type Orchestrator, type Runtime } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { KeyvalStore } from '../../src/keyval-store.js';
import { uniqueName } from './fixtures.js';

const STORE = 'durable-rx';
const opened: KeyvalStore[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

async function raw(name: string): Promise<{ keys: IDBValidKey[][]; values: unknown[] }> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    const tx = db.transaction(STORE, 'readonly');
    const k = tx.objectStore(STORE).getAllKeys();
    const v = tx.objectStore(STORE).getAll();
    await new Promise<void>((resolve, reject) => { tx.oncomplete = () => resolve(); tx.onerror = () => reject(tx.error); });
    return { keys: k.result as IDBValidKey[][], values: v.result };
  } finally {
    db.close();
  }
}

/** The xe entries in the database, and those its rows call for. */
async function entries(name: string): Promise<{ stored: string[]; wanted: string[] }> {
  const { keys, values } = await raw(name);
  const stored: string[] = [];
  const wanted: string[] = [];
  keys.forEach((key, i) => {
    if (key[0] === 'xe') stored.push(JSON.stringify(key));
    if (key[0] === 'i' && key.length === 2) {
      const row = values[i] as { status: string; state: { lastUpdatedTime: Date } };
      if (isTerminalStatus(row.status as never)) wanted.push(JSON.stringify(['xe', row.status, new Date(row.state.lastUpdatedTime).getTime(), key[1]]));
    }
  });
  return { stored: stored.sort(), wanted: wanted.sort() };
}

describe('KeyvalStore end entries follow every write path', () => {
  it('keeps exactly one entry per ended instance through end, rewind, restart, fork, continue-as-new, terminate, suspend, purge', async () => {
    const orchestrators: Record<string, Orchestrator> = {
      Quick: function* () { return 'done'; },
      Fails: function* (ctx) { yield ctx.callActivity('Boom'); return 'x'; },
      Waits: function* (ctx) { return yield ctx.waitForExternalEvent('go'); },
      Loop: function* (ctx) {
        const n = (ctx.getInput() as number | undefined) ?? 0;
        if (n < 3) ctx.continueAsNew(n + 1);
        return n;
      },
      Parent: function* (ctx) {
        yield ctx.callSubOrchestrator('Quick', undefined, `${ctx.instanceId}-child`);
        return 'p';
      },
    };
    let fail = true;
    const activities = { Boom: async () => { if (fail) throw new Error('boom'); return 1; } };
    const clock = new VirtualClock();
    const name = uniqueName('xe-paths');
    const store = new KeyvalStore({ name });
    opened.push(store);
    const runtime = createRuntime({ store, clock, orchestrators, activities, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    const c = runtime.client;
    const check = async (step: string) => {
      const { stored, wanted } = await entries(name);
      expect({ step, stored }).toEqual({ step, stored: wanted });
      await clock.advance(1000); // the next end at another ms: an entry left at the old one shows
    };
    await c.startNew('Quick', { instanceId: 'q' });
    await c.waitForCompletion('q', SETTLED);
    await check('completed');
    await c.startNew('Quick', { instanceId: 'q' }); // start over an ended id
    await c.waitForCompletion('q', SETTLED);
    await check('started over');
    await c.startNew('Fails', { instanceId: 'f' });
    expect((await c.waitForCompletion('f', SETTLED)).runtimeStatus).toBe('Failed');
    await check('failed');
    fail = false;
    await c.rewind('f');
    expect((await c.waitForCompletion('f', SETTLED)).runtimeStatus).toBe('Completed');
    await check('rewound');
    await c.restart('q');
    await c.waitForCompletion('q', SETTLED);
    await check('restarted');
    const fork = await c.fork('f');
    await c.waitForCompletion(fork, SETTLED);
    await check('forked');
    await c.startNew('Loop', { instanceId: 'l' });
    await c.waitForCompletion('l', SETTLED);
    await check('continued as new');
    await c.startNew('Waits', { instanceId: 'w' });
    await c.suspend('w');
    await c.terminate('w');
    await c.waitForCompletion('w', SETTLED);
    await check('terminated');
    await c.startNew('Waits', { instanceId: 'w2' });
    await c.cancel('w2');
    await c.waitForCompletion('w2', SETTLED);
    await check('canceled');
    await c.startNew('Parent', { instanceId: 'p' });
    await c.waitForCompletion('p', SETTLED);
    await check('parent');
    await c.raiseEvent('q', 'late', 1).catch(() => undefined); // an event to an ended instance
    await c.suspend('q').catch(() => undefined);
    await check('terminate ended');
    await c.purgeInstanceHistory('q');
    await check('purged');
    await c.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), runtimeStatus: ['Completed'] });
    await check('purged by');
    await c.restart('f', { restartWithNewInstanceId: true }).catch(() => undefined);
    await check('end');
  });
});
