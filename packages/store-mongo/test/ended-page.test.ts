import { compareEndedKeys, endedKeyOf, matchesEndedQuery, type EndedKey, type EndedQuery, type InstanceState } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
import { encodeInstanceState, endOrderFields, endOrderRepair, decodeInstanceState, sameStateFilter, type StoredEndOrder } from '../src/documents.js';
import { endedPage, upTo, withMoved, type EndedRead, type EndOrderRepair } from '../src/ended-page.js';
import { FILL_IN_BATCH_BYTES, FILL_IN_BATCH_COUNT, type BatchSize } from '../src/fill-in-batches.js';
import { instanceKey } from '../src/instance-key.js';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';
import { countedIterable } from './support/counted-iterable.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function ended(instanceId: string, ms: number, over: Partial<InstanceState> = {}): InstanceState {
  return {
    instanceId, name: 'O', runtimeStatus: 'Completed', createdTime: T0, lastUpdatedTime: at(ms), executionId: 'e', historyLength: 0, version: 1, ...over,
  };
}

/** The document of `state` as this version writes it (its `ended` key from `endOrderFields`), with other stored fields over it. */
function docOf(state: InstanceState, stored: Partial<StoredEndOrder> = {}): StoredEndOrder {
  return { _id: instanceKey(state.instanceId), state: encodeInstanceState(state, MAX_PAYLOAD_BYTES).state, runtimeStatus: state.runtimeStatus, ...endOrderFields(state), ...stored };
}

/** The key a document is found under on `ended`, as the key of a state (`idOrder` is one-to-one with the id). */
const foundUnder = (doc: StoredEndOrder, instanceId: string): EndedKey => ({ endedMs: (doc.lastUpdatedTime as Date).getTime(), instanceId });

describe('the end order of a stored instance (endOrderRepair)', () => {
  it('leaves the document an ended state was written as alone, and gives one an earlier version wrote its state\u2019s key', () => {
    const state = ended('a\uFF01', 5000);
    expect(endOrderRepair(docOf(state), state)).toBeUndefined();
    // Written before the fields were kept; ended again by the previous version (the time of its first end kept); a
    // running time left by the previous version on an instance a process of that version ended without this one seeing.
    for (const stored of [{ lastUpdatedTime: undefined, idOrder: undefined }, { lastUpdatedTime: at(1000) }, { lastUpdatedTime: null }]) {
      const doc = docOf(state, stored);
      const repair = endOrderRepair(doc, state);
      expect(repair?.filter, JSON.stringify(stored)).toEqual({ _id: doc._id, state: doc.state });
      const repaired = { ...doc, ...repair?.update.$set };
      expect(endOrderRepair(repaired, state)).toBeUndefined();
      // Found under the key store-kit's rule gives the state.
      expect(compareEndedKeys(foundUnder(repaired, state.instanceId), endedKeyOf(state))).toBe(0);
    }
  });

  it('writes only over the state it read: a commit meanwhile that writes no end time (an earlier version) keeps its own end, not the one read', () => {
    /** Whether a filter of equalities matches a document as MongoDB does (`null` also matches a missing field). */
    const matches = (filter: Record<string, unknown>, doc: Record<string, unknown>) =>
      Object.entries(filter).every(([field, value]) => (value === null ? doc[field] == null : doc[field] === value));
    // The fill-in at connect reads an instance an earlier version ended at 1000, without an end time ...
    const first = ended('a', 1000);
    const read = docOf(first, { lastUpdatedTime: undefined, idOrder: undefined });
    const repair = endOrderRepair(read, first)!;
    expect(repair.filter).toEqual(sameStateFilter(read));
    expect(sameStateFilter(read)).toEqual({ _id: instanceKey('a'), state: read.state });
    // ... and before its update, a process of that version restarts the instance and ends it again at 9000.
    const again = ended('a', 9000, { executionId: 'e2', version: 3 });
    const now = docOf(again, { lastUpdatedTime: undefined, idOrder: undefined });
    expect(matches(repair.filter, now)).toBe(false); // not stamped 1000 (which a filter on the time being missing would have done)
    // The next fill-in gives it its own end.
    expect(endOrderRepair(now, again)?.update.$set).toMatchObject({ lastUpdatedTime: at(9000) });
    expect(matches(endOrderRepair(now, again)!.filter, now)).toBe(true);
  });
});

describe('a page of listEnded (endedPage)', () => {
  const decode = (doc: StoredEndOrder) => decodeInstanceState(doc.state);
  const queryOf = (over: Partial<EndedQuery> = {}): EndedQuery => ({ runtimeStatus: 'Completed', endedTo: at(10_000), limit: 100, ...over });
  /** One find of a page: how many documents it was asked for and gave, how many the page took, and whether to its end. */
  type Find = AsyncIterable<StoredEndOrder> & { readonly limit: number; readonly given: number; readonly taken: number; readonly toEnd: boolean };
  /**
   * The finds of a page over `store` as the server's range of `ended` gives them (past the key the find goes on after:
   * that of `from` as it was found, else the query's `after`; up to `endedTo`; by the key each document is found
   * under, in that order; the first `limit`), each read afresh: `finds` holds each.
   */
  const readerOf = (store: Map<string, StoredEndOrder>, query: EndedQuery, finds: Find[] = []): EndedRead<StoredEndOrder> => (from, limit, use) => {
    const idOf = (doc: StoredEndOrder) => [...store.keys()].find((id) => instanceKey(id) === doc._id)!;
    const after = from === undefined ? query.after : foundUnder(from, idOf(from));
    const found = [...store.entries()].map(([id, doc]) => ({ doc, key: foundUnder(doc, id) }))
      .filter(({ key }) => key.endedMs <= query.endedTo.getTime() && (after === undefined || compareEndedKeys(key, after) > 0))
      .sort((x, y) => compareEndedKeys(x.key, y.key)).slice(0, limit);
    const find = {
      limit, given: found.length, taken: 0, toEnd: false,
      async *[Symbol.asyncIterator]() {
        for (const { doc } of found) {
          find.taken++;
          yield doc;
        }
        find.toEnd = true;
      },
    };
    finds.push(find);
    return use(find);
  };
  /** How many documents the page's finds gave it so far. */
  const takenOf = (finds: readonly Find[]) => finds.reduce((sum, find) => sum + find.taken, 0);
  /** Writes repairs as MongoStore does (each conditional on the state read), recording each batch with how far the read had got. */
  const writerTo = (store: Map<string, StoredEndOrder>, writes: { ids: string[]; bytes: number; taken: number }[], finds: Find[]) =>
    async (batch: EndOrderRepair[]) => {
      writes.push({ ids: batch.map((repair) => repair.filter._id), bytes: batch.reduce((sum, repair) => sum + repair.filter.state.length, 0), taken: takenOf(finds) });
      for (const repair of batch) {
        const found = [...store.entries()].find(([, doc]) => doc._id === repair.filter._id && doc.state === repair.filter.state);
        if (found) store.set(found[0], { ...found[1], ...repair.update.$set });
      }
    };
  /** Runs a page of `query` over `store`, its repairs written to it. */
  const runPage = async (store: Map<string, StoredEndOrder>, query = queryOf(), limits?: BatchSize) => {
    const finds: Find[] = [];
    const writes: { ids: string[]; bytes: number; taken: number }[] = [];
    const states = await endedPage(readerOf(store, query, finds), query, decode, writerTo(store, writes, finds), limits);
    return { ids: states.map((state) => state.instanceId), states, writes, reads: finds.length, finds };
  };
  /** A find of `docs` for a page that throws its own failures (`use` over them), each document given once. */
  const onceRead = (docs: AsyncIterable<StoredEndOrder>): EndedRead<StoredEndOrder> => (from, _limit, use) => (from === undefined ? use(docs) : use(countedIterable([])));

  it('asks each find for what the page still needs and reads it to its end: the server has closed every cursor, no killCursors to send', async () => {
    // Before, one read without a limit, left open at the page's last state: its close sent a killCursors that driver
    // 7.8 bounds by nothing, which a server that stopped answering held past the call's deadline (about 20 s).
    const store = new Map(['a', 'b', 'c', 'd', 'e'].map((id, i) => [id, docOf(ended(id, 1000 + i))]));
    const full = await runPage(store, queryOf({ limit: 2 }));
    expect(full.ids).toEqual(['a', 'b']);
    expect(full.finds.map(({ limit, given, taken, toEnd }) => ({ limit, given, taken, toEnd }))).toEqual([{ limit: 2, given: 2, taken: 2, toEnd: true }]);
    const short = await runPage(store, queryOf({ limit: 10 }));
    expect(short.ids).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(short.finds.map(({ limit, given, toEnd }) => ({ limit, given, toEnd }))).toEqual([{ limit: 10, given: 5, toEnd: true }]);
    // A stale key among them: the first find gives one state fewer, and the next goes on after its last document.
    store.set('b', docOf(ended('b', 1001), { lastUpdatedTime: at(900) }));
    const stale = await runPage(store, queryOf({ limit: 3 }));
    expect(stale.ids).toEqual(['a', 'b', 'c']);
    expect(stale.finds.map(({ limit, given, toEnd }) => ({ limit, given, toEnd }))).toEqual([{ limit: 3, given: 3, toEnd: true }, { limit: 1, given: 1, toEnd: true }]);
  });

  it('asks a find for as many documents as the run it left out just before (to its limit), so a long run costs a few finds, not one each', async () => {
    // 99 states, then 1,000 documents that do not decode (or stale keys, or instances listed already), then one more
    // state. Before, each find asked for what the page still needed, one state: 1,002 finds, a round trip each, for
    // what one cursor of batches of 100 read in 11, and a page that ran out of the call's 25 s on a distant server.
    const docs: [string, StoredEndOrder][] = [
      ...Array.from({ length: 99 }, (_, i): [string, StoredEndOrder] => [`a${String(i).padStart(3, '0')}`, docOf(ended(`a${String(i).padStart(3, '0')}`, 1000 + i))]),
      ...Array.from({ length: 1000 }, (_, i): [string, StoredEndOrder] => [`x${String(i).padStart(4, '0')}`, docOf(ended(`x${String(i).padStart(4, '0')}`, 2000 + i))]),
      ['z', docOf(ended('z', 9000))],
    ];
    const store = new Map(docs);
    const finds: Find[] = [];
    const query = queryOf({ limit: 100 });
    const unreadable = new Set(docs.filter(([id]) => id.startsWith('x')).map(([, doc]) => doc._id));
    const states = await endedPage(readerOf(store, query, finds), query, (doc) => (unreadable.has(doc._id) ? undefined : decode(doc)), async () => undefined);
    expect(states.map((state) => state.instanceId)).toEqual([...docs.slice(0, 99).map(([id]) => id), 'z']);
    // 100, then 1, 2, 4 ... 64 as the documents left out double, then 100 at most: every document read once.
    expect(finds.map((find) => find.limit)).toEqual([100, 1, 2, 4, 8, 16, 32, 64, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
    expect(finds.every((find) => find.toEnd)).toBe(true);
    expect(takenOf(finds)).toBe(1100);
  });

  it('lists an instance once when a later change moved its key past the find it was listed in (a late result recorded on it)', async () => {
    // 'a' listed by the first find; before the second, a late result recorded on it moves its key from 1000 to 1005,
    // past where the second goes on (after 'c'): before, the page listed it twice, once at each key.
    const store = new Map(['a', 'x', 'c', 'd'].map((id, i) => [id, docOf(ended(id, [1000, 1001, 1002, 1010][i]!))]));
    const query = queryOf({ limit: 3 });
    const finds: Find[] = [];
    const first = readerOf(store, query, finds);
    const read: EndedRead<StoredEndOrder> = (from, limit, use) => {
      if (finds.length === 1) store.set('a', docOf(ended('a', 1005)));
      return first(from, limit, use);
    };
    const states = await endedPage(read, query, (doc) => (doc._id === instanceKey('x') ? undefined : decode(doc)), async () => undefined);
    expect(states.map((state) => state.instanceId)).toEqual(['a', 'c', 'd']);
  });

  it('takes a find\u2019s documents up to its limit and asks its cursor for no more (upTo): the driver would close it there, unbounded', async () => {
    let asked = 0;
    const cursor = { next: async () => (++asked <= 5 ? { n: asked } : null) };
    const taken: unknown[] = [];
    for await (const doc of upTo(() => cursor.next(), 3)) taken.push(doc);
    expect([taken.length, asked]).toEqual([3, 3]);
    asked = 0;
    const all: unknown[] = [];
    for await (const doc of upTo(() => cursor.next(), 10)) all.push(doc);
    expect([all.length, asked]).toEqual([5, 6]); // the sixth `next()` found the end
  });

  it('lists at most `limit` states, reading no further, and leaves out states that do not decode', async () => {
    const store = new Map(['a', 'b', 'c', 'd'].map((id, i) => [id, docOf(ended(id, 1000 + i))]));
    const finds: Find[] = [];
    const writes: EndOrderRepair[][] = [];
    const query = queryOf({ limit: 2 });
    const states = await endedPage(readerOf(store, query, finds), query, (doc) => (doc._id === 'a' ? undefined : decode(doc)), async (batch) => writes.push(batch));
    expect(states.map((s) => s.instanceId)).toEqual(['b', 'c']);
    expect(writes).toEqual([]);
    // Two read for one state, then one more for the one still needed: d never read.
    expect(finds.map((find) => [find.limit, find.taken])).toEqual([[2, 2], [1, 1]]);
  });

  it('pages through every ended instance once when one was left under a stale, earlier end time (a sweep skipped those between before)', async () => {
    // Stored as `ended` holds them: by the key each was written under. 'stale' ended at 1000, then was restarted and
    // ended again at 8000 by a process of an earlier version, which left its key at 1000.
    const states = [ended('a', 500), ended('b', 3000), ended('c', 4000), ended('stale', 8000), ended('z', 9000)];
    const store = new Map(states.map((state) => [state.instanceId, docOf(state, state.instanceId === 'stale' ? { lastUpdatedTime: at(1000) } : {})]));
    const listed: string[] = [];
    let after: EndedKey | undefined;
    for (;;) {
      const { states: page } = await runPage(store, queryOf({ limit: 2, ...(after ? { after } : {}) }));
      listed.push(...page.map((s) => s.instanceId));
      if (page.length < 2) break;
      after = endedKeyOf(page.at(-1)!);
    }
    // Left out where found under 1000 (listed there, its key 8000 would have been the next page's start: b and c never listed).
    expect(listed).toEqual(['a', 'b', 'c', 'stale', 'z']);
  });

  describe('repairs every stale key a page meets, in bulk writes as their batches fill (one held at most), and lists the same states', () => {
    /** Left under the key of an earlier end (100 + i) by an earlier version, though they ended at 5000 + i. */
    const staleDocs = (count: number, over: Partial<InstanceState> = {}) => Array.from({ length: count }, (_, i): [string, StoredEndOrder] => {
      const state = ended(`s${String(i).padStart(4, '0')}`, 5000 + i, over);
      return [state.instanceId, docOf(state, { lastUpdatedTime: at(100 + i) })];
    });
    const listedDocs = ['a', 'b', 'z'].map((id, i): [string, StoredEndOrder] => [id, docOf(ended(id, [500, 3000, 9000][i]!))]);
    const staleIds = (count: number) => staleDocs(count).map(([id]) => id);

    it('1,001 stale documents met by one page: all repaired, 500 + 500 + 1, each batch written as it fills', async () => {
      const docs = [...staleDocs(1001), ...listedDocs];
      const { ids, writes, reads } = await runPage(new Map(docs));
      expect(writes.map((w) => w.ids)).toEqual([docs.slice(0, 500), docs.slice(500, 1000), docs.slice(1000, 1001)].map((part) => part.map(([, doc]) => doc._id)));
      // The first batch went as the 501st stale document was met (the 502nd read: 'a', at 500, among them), the second
      // at the 1,001st, the last once the page was done: 500 held at most. By then the finds, each of what the page
      // still needed, had gone past 'b' and met the 98 it lists under the keys their repairs gave them (1,101 read).
      expect(writes.map((w) => w.taken)).toEqual([502, 1002, 1101]);
      expect(Math.max(...writes.map((w) => w.ids.length))).toBe(FILL_IN_BATCH_COUNT);
      expect(reads).toBe(12);
      // Listed at their end (from the states read, or met there once repaired), the first 100 by key.
      expect(ids).toEqual(['a', 'b', ...staleIds(98)]);
    });

    it('at most 16 MiB of the state text they carry back (their filters) held at once, every one written', async () => {
      const large = 'x'.repeat(6 * 1024 * 1024);
      const { ids, writes } = await runPage(new Map([...staleDocs(3, { output: large }), ...listedDocs]));
      expect(writes.map((w) => w.ids)).toEqual([['s0000', 's0001'], ['s0002']]);
      for (const write of writes) expect(write.bytes).toBeLessThanOrEqual(FILL_IN_BATCH_BYTES);
      expect(ids).toEqual(['a', 'b', 's0000', 's0001', 's0002', 'z']);
    });

    it('a read that fails midway (its time bound) has written every repair it met, the batch it held too, and throws its error', async () => {
      const docs = countedIterable([...staleDocs(7), ...listedDocs].map(([, doc]) => doc));
      const bound = new Error('operation exceeded time limit');
      const cursor = {
        async *[Symbol.asyncIterator]() {
          for await (const doc of docs) {
            if (docs.taken > 5) throw bound;
            yield doc;
          }
        },
      };
      const writes: string[][] = [];
      const write = async (batch: EndOrderRepair[]) => writes.push(batch.map((r) => r.filter._id));
      await expect(endedPage(onceRead(cursor), queryOf(), decode, write, { count: 3, bytes: FILL_IN_BATCH_BYTES })).rejects.toBe(bound);
      // Five read (all stale): a batch of three as it filled, then the two held. The next try meets them under their own key.
      expect(writes).toEqual([['s0000', 's0001', 's0002'], ['s0003', 's0004']]);
    });

    it('a read that fails while its held batch\u2019s write fails too throws the read\u2019s error, not the write\u2019s', async () => {
      const docs = [...staleDocs(2), ...listedDocs].map(([, doc]) => doc);
      const bound = new Error('operation exceeded time limit');
      const cursor = {
        async *[Symbol.asyncIterator]() {
          yield* docs.slice(0, 2);
          throw bound;
        },
      };
      const tried: string[][] = [];
      const write = async (batch: EndOrderRepair[]) => {
        tried.push(batch.map((r) => r.filter._id));
        throw new Error('write concern timeout');
      };
      await expect(endedPage(onceRead(cursor), queryOf(), decode, write)).rejects.toBe(bound);
      expect(tried).toEqual([['s0000', 's0001']]);
    });

    it('a page exact by the listing rule over the documents as its repairs left them', async () => {
      const store = new Map([...staleDocs(7), ...listedDocs]);
      const { ids, states, writes } = await runPage(store, queryOf(), { count: 3, bytes: FILL_IN_BATCH_BYTES });
      expect(writes.map((w) => w.ids.length)).toEqual([3, 3, 1]);
      // What store-kit's rule lists of the documents found under their state's key (every one, once repaired).
      const byRule = [...store.values()].filter((doc) => endOrderRepair(doc, decode(doc)) === undefined).map(decode)
        .filter((state) => matchesEndedQuery(state, queryOf())).sort((x, y) => compareEndedKeys(endedKeyOf(x), endedKeyOf(y)));
      expect(states).toEqual(byRule);
      expect(ids).toEqual(['a', 'b', ...staleIds(7), 'z']);
    });
  });

  describe('lists an instance a repair moved behind the page at its end, from the state it read, without reading the page again', () => {
    /** 'a' at 500, 'b' at 3000, 'z' at 9000, and 's', left under 100 though it ended at `endedMs`. */
    const storeWith = (endedMs: number) => new Map([
      ...['a', 'b', 'z'].map((id, i): [string, StoredEndOrder] => [id, docOf(ended(id, [500, 3000, 9000][i]!))]),
      ['s', docOf(ended('s', endedMs), { lastUpdatedTime: at(100) })],
    ]);

    it('moved before the page’s last key: the next page goes on after that key and would never meet it', async () => {
      const { ids, reads, writes } = await runPage(storeWith(5000));
      expect(writes.map((w) => w.ids)).toEqual([['s']]);
      expect(reads).toBe(1);
      expect(ids).toEqual(['a', 'b', 's', 'z']); // as read: a, b, z, and a sweep going on after z would skip s
    });

    it('whatever became of its repair: a write that failed (or that the call’s deadline left no time for) lists it all the same', async () => {
      const finds: Find[] = [];
      const store = storeWith(5000);
      const tried: string[][] = [];
      // Writes nothing, as MongoStore's write does when the bulk write fails (it logs the failure and settles).
      const failing = async (batch: EndOrderRepair[]) => void tried.push(batch.map((repair) => repair.filter._id));
      const states = await endedPage(readerOf(store, queryOf(), finds), queryOf(), decode, failing);
      expect(tried).toEqual([['s']]);
      expect(states.map((state) => state.instanceId)).toEqual(['a', 'b', 's', 'z']);
      expect(finds).toHaveLength(1);
    });

    it('a full page ends before the last key it read when moved ones come first: the next page goes on from there', async () => {
      const store = storeWith(5000);
      const first = await runPage(store, queryOf({ limit: 3 }));
      expect(first.ids).toEqual(['a', 'b', 's']); // z, read, is the next page's
      const next = await runPage(store, queryOf({ limit: 3, after: endedKeyOf(first.states.at(-1)!) }));
      expect(next.ids).toEqual(['z']);
    });

    it('not when moved past the last key of a full page (the next page’s) or out of the listing', async () => {
      const store = storeWith(5000);
      const full = await runPage(store, queryOf({ limit: 2 }));
      expect([full.ids, full.reads]).toEqual([['a', 'b'], 2]); // s, a; then b, the one still needed
      expect((await runPage(store, queryOf({ limit: 2, after: endedKeyOf(full.states.at(-1)!) }))).ids).toEqual(['s', 'z']);
      const out = await runPage(storeWith(20_000)); // ended past `endedTo`
      expect([out.ids, out.reads, out.writes.length]).toEqual([['a', 'b', 'z'], 1, 1]);
    });
  });

  describe('the page of a read and the instances it moved (withMoved)', () => {
    const [a, b, s, t, z] = [ended('a', 500), ended('b', 3000), ended('s', 5000), ended('t', 6000), ended('z', 9000)];
    const ids = (states: readonly InstanceState[]) => states.map((state) => state.instanceId);

    it('puts the moved ones before a full page’s last among its states, in end order, and keeps the first `limit`', () => {
      expect(ids(withMoved([a, b, z], [t, s], 3))).toEqual(['a', 'b', 's']);
      expect(ids(withMoved([a, z], [s], 5))).toEqual(['a', 's', 'z']); // a short page read the whole range
      expect(ids(withMoved([a, b], [s], 2))).toEqual(['a', 'b']); // past a full page's last: the next page's
      expect(ids(withMoved([a, b, z], [], 3))).toEqual(['a', 'b', 'z']);
    });

    it('lists once an instance the read met under both keys (the cursor met it again at its end once its repair moved it)', () => {
      expect(ids(withMoved([a, s, z], [s], 5))).toEqual(['a', 's', 'z']);
    });
  });
});
