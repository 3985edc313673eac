import { describe, expect, it } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

describe.each(adapters)('two pages on one %s database', (adapter) => {
  const chromium = useChromium();

  it('a customStatus$ subscriber in page B sees every value committed in page A, in order', async () => {
    const db = uniqueDb(`two-pages-${adapter}`);
    const a = await chromium.page('A');
    const b = await chromium.page('B');
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true });
    await b.evaluate((o) => window.e2e.open(o), { adapter, db });
    // B subscribes and has its current value (the instances do not exist yet) before A starts anything.
    await b.evaluate(() => {
      window.e2e.watchCustomStatus('counter');
      window.e2e.watchCustomStatus('hello');
    });
    expect(await b.evaluate(() => window.e2e.customStatuses('counter', 1))).toEqual([undefined]);
    expect(await b.evaluate(() => window.e2e.customStatuses('hello', 1))).toEqual([undefined]);

    await a.evaluate(() => Promise.all([window.e2e.startMany('Counter', ['counter'], 25), window.e2e.startMany('HelloSequence', ['hello'])]));

    const counted = await b.evaluate(() => window.e2e.customStatuses('counter', 26));
    expect(counted).toEqual([undefined, ...Array.from({ length: 25 }, (_, i) => i + 1)]);
    const greeted = await b.evaluate(() => window.e2e.customStatuses('hello', 4));
    expect(greeted).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    // B saw completion through its own status$ (no worker there: everything came from A over the channel).
    const done = await b.evaluate(() => window.e2e.waitAll(['counter', 'hello'], 60_000));
    expect(done).toEqual([
      { instanceId: 'counter', runtimeStatus: 'Completed', output: 25 },
      { instanceId: 'hello', runtimeStatus: 'Completed', output: HELLO_OUTPUT },
    ]);
    expect(await b.evaluate(() => window.e2e.metrics().steps)).toBe(0);
  });

  it('page A posts its commits only while another page has the database open', async () => {
    const db = uniqueDb(`presence-${adapter}`);
    const a = await chromium.page('A');
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true });
    await a.evaluate(() => window.e2e.inputOf('nothing')); // A's store has joined (it is alone)
    // In page A: a raw listener on the channel (no store: it never makes A post), and the feed locks held so far.
    const ownLocks = await a.evaluate(async (channelName) => {
      const seen: string[] = [];
      const waiters: (() => void)[] = [];
      const raw = new BroadcastChannel(channelName);
      raw.onmessage = (event: MessageEvent<{ type?: string; changes?: { instanceId: string }[] }>) => {
        if (event.data.type !== 'durable-rx/commit@1') return;
        for (const c of event.data.changes ?? []) seen.push(c.instanceId);
        for (const wake of waiters.splice(0)) wake();
      };
      (window as unknown as { posted: string[] }).posted = seen;
      (window as unknown as { postedOf: (id: string) => Promise<void> }).postedOf = async (id) => {
        while (!seen.includes(id)) await new Promise<void>((resolve) => waiters.push(resolve));
      };
      const { held = [] } = await navigator.locks.query();
      return held.filter((l) => l.name?.startsWith(`${channelName}/feed/`)).map((l) => l.name!);
    }, `durable-rx:${db}`);
    const posted = () => a.evaluate(() => [...new Set((window as unknown as { posted: string[] }).posted)]);

    await a.evaluate(() => window.e2e.startMany('Counter', ['alone'], 2));
    await a.evaluate(() => window.e2e.waitAll(['alone'], 60_000));

    const b = await chromium.page('B');
    // B reads only once A answered (a join timeout it never reaches; with the default 1 s, a loaded machine could time
    // out before A handled B's hello, and A's next commit would travel with its late answer, not as a post).
    await b.evaluate((o) => window.e2e.open(o), { adapter, db, joinTimeoutMs: 600_000 });
    await b.evaluate(() => window.e2e.inputOf('nothing')); // B's store has joined: A knows it
    const [bLock] = await a.evaluate(async ({ channelName, own }) => {
      const { held = [] } = await navigator.locks.query();
      return held.filter((l) => l.name?.startsWith(`${channelName}/feed/`) && !own.includes(l.name)).map((l) => l.name!);
    }, { channelName: `durable-rx:${db}`, own: ownLocks });
    await a.evaluate(() => window.e2e.startMany('Counter', ['with-b'], 2));
    await a.evaluate(() => window.e2e.waitAll(['with-b'], 60_000));

    // B's page closes: its lock goes with it, and A, which watches it, forgets B (before this shared request is granted).
    await b.close();
    await a.evaluate((name) => navigator.locks.request(name, { mode: 'shared' }, () => undefined), bLock!);
    await a.evaluate(() => window.e2e.startMany('Counter', ['after-b'], 2));
    await a.evaluate(() => window.e2e.waitAll(['after-b'], 60_000));

    // A third page: A posts again, and anything it had posted meanwhile would have arrived before.
    const c = await chromium.page('C');
    await c.evaluate((o) => window.e2e.open(o), { adapter, db, joinTimeoutMs: 600_000 });
    await c.evaluate(() => window.e2e.inputOf('nothing')); // C's store has joined: A knows it
    await a.evaluate(() => window.e2e.startMany('Counter', ['with-c'], 2));
    await a.evaluate(() => window.e2e.waitAll(['with-c'], 60_000));
    await a.evaluate(() => (window as unknown as { postedOf: (id: string) => Promise<void> }).postedOf('with-c'));
    expect(await posted()).toEqual(['with-b', 'with-c']);
  });
});
