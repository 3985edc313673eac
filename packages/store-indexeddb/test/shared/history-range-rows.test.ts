import type { HistoryEvent } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { adapters, claim, commitOf, create, message, newInstance, send, started, T0, uniqueName, type AdapterName } from './fixtures.js';

// A history read with a range (a restart reads the first events of a long history, a history stream the events after
// those it sent) reads the rows that hold the range's events: one row per step, so a read of a few events of a
// 40-step history reads two or three rows (DexieStore may read the row holding `fromIndex` twice, once to find where
// it begins), not 40. The events read are checked by the Store conformance suite.

const STEPS = 40;

/** Counts the history rows IndexedDB hands out to `getAll` (how both stores read a run of rows) until `uninstall`. */
function countRowsRead(): { rows: () => number; uninstall: () => void } {
  let rows = 0;
  const restore: (() => void)[] = [];
  for (const proto of [IDBObjectStore.prototype, IDBIndex.prototype] as const) {
    const original = proto.getAll;
    proto.getAll = function (this: IDBObjectStore & IDBIndex, ...args: Parameters<IDBObjectStore['getAll']>) {
      const request = original.apply(this, args);
      request.addEventListener('success', () => {
        rows += request.result.length;
      });
      return request;
    };
    restore.push(() => {
      proto.getAll = original;
    });
  }
  return { rows: () => rows, uninstall: () => restore.forEach((undo) => undo()) };
}

describe.each(Object.keys(adapters) as AdapterName[])('a ranged history read of a long history: %s', (adapter) => {
  const opened: Store[] = [];
  const counters: (() => void)[] = [];
  afterEach(async () => {
    counters.splice(0).forEach((uninstall) => uninstall());
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('reads only the rows that hold the events of its range', async () => {
    const store = adapters[adapter](uniqueName('history-range-rows'));
    opened.push(store);
    await create(store, newInstance('a'));
    const history: HistoryEvent[] = [];
    for (let step = 0; step < STEPS; step++) {
      if (step > 0) await send(store, message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'tick' }));
      const item = await claim(store);
      const events: HistoryEvent[] = [
        step === 0 ? started('a') : { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: `tick-${step}` },
        { type: 'TaskScheduled', eventId: step, timestamp: T0.toISOString(), name: `t${step}` },
      ];
      await store.commit(commitOf(item.state, item.lease.token, {
        consumedMessageIds: item.messages.map((m) => m.id),
        state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1, historyLength: item.state.historyLength + events.length },
        history: events,
      }));
      history.push(...events);
    }
    expect(await store.getHistory('a')).toEqual(history);
    const counter = countRowsRead();
    counters.push(counter.uninstall);
    const ranges = [
      { toIndex: 3 }, // the first two steps
      { fromIndex: 41, toIndex: 44 }, // from the middle of step 20 into step 21
      { fromIndex: 2 * STEPS - 1 }, // the last event: the last step's row
    ];
    for (const range of ranges) {
      const before = counter.rows();
      expect(await store.getHistory('a', range), JSON.stringify(range)).toEqual(history.slice(range.fromIndex ?? 0, range.toIndex));
      expect(counter.rows() - before, JSON.stringify(range)).toBeLessThanOrEqual(3);
      const atOnce = counter.rows();
      expect((await store.getInstanceHistory('a', range)).history).toEqual(history.slice(range.fromIndex ?? 0, range.toIndex));
      expect(counter.rows() - atOnce, `getInstanceHistory ${JSON.stringify(range)}`).toBeLessThanOrEqual(3);
    }
  });
});
