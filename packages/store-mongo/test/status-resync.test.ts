import type { InstanceState, StatusChange } from '@durable-rx/runtime/store-kit';
import { MongoClient, type ClientSession } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { decodeStoredState, emptyQueueHead, encodeInstanceState, instanceDoc } from '../src/documents.js';
import { instanceKey } from '../src/instance-key.js';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';
import { SCAN_MAX_TIME_MS } from '../src/read-bound.js';
import { statusResync, type ResyncInstanceDoc, type StatusResyncReads } from '../src/status-resync.js';
import { UnboundedCalls, type CursorBound } from '../src/unbounded-calls.js';
import { driverCursor, standInSession, type StandInSession } from './support/driver-cursor.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');

function stateOf(instanceId: string): InstanceState {
  return { instanceId, name: 'Orch', runtimeStatus: 'Running', createdTime: T0, lastUpdatedTime: T0, executionId: 'e1', historyLength: 3, version: 1 };
}

/** An instance as the store writes it (the real encoders), in the re-read's projection. */
function stored(instanceId: string): ResyncInstanceDoc {
  const { _id, state, input } = instanceDoc(stateOf(instanceId), encodeInstanceState(stateOf(instanceId), MAX_PAYLOAD_BYTES), emptyQueueHead(0), 'g1');
  return { _id, state, input };
}

type Opened = { readonly which: string; readonly bound: CursorBound; readonly session: StandInSession; readonly cursor: ReturnType<typeof driverCursor<unknown>> };

/**
 * A resync's reads over stand-in driver cursors (`driverCursor`: driver 7.8's next, getMore, close and cleanup), each
 * opened with the first batch `batches` gives it (`spent`: its whole answer). A read opened without a session of the
 * store's runs in an implicit one its cursor started, as driver 7.8's does.
 */
function resyncOver(batches: {
  readonly purges?: { readonly first: string[]; readonly spent: boolean };
  readonly changed?: { readonly first: string[]; readonly spent: boolean };
  readonly named?: (keys: readonly string[]) => { readonly first: string[]; readonly spent: boolean };
}) {
  const calls = new UnboundedCalls();
  const events: string[] = [];
  const opened: Opened[] = [];
  const decoded: string[] = [];
  let tracked: Promise<void> | undefined;
  const open = <D>(which: string, first: D[], spent: boolean, bound: CursorBound, given: StandInSession | undefined) => {
    const session = given ?? standInSession(true, events);
    events.push(`find ${which}`);
    const cursor = driverCursor<D>(first, session, events, spent);
    opened.push({ which, bound, session, cursor: cursor as unknown as Opened['cursor'] });
    return cursor.cursor;
  };
  const reads: StatusResyncReads<StandInSession> = {
    calls,
    session: { start: () => standInSession(false, events), end: (session) => session.end() },
    purges: (bound, session) => open('purges', (batches.purges?.first ?? []).map((id) => ({ instanceId: instanceKey(id) })), batches.purges?.spent ?? true, bound, session),
    changed: (bound, session) => open('changed', (batches.changed?.first ?? []).map(stored), batches.changed?.spent ?? true, bound, session),
    named: (keys, bound, session) => {
      const batch = batches.named?.(keys) ?? { first: [], spent: true };
      return open('named', batch.first.map(stored), batch.spent, bound, session);
    },
    state: (doc) => {
      decoded.push(doc._id);
      return decodeStoredState(doc, () => undefined);
    },
    track: (work) => (tracked = work()),
    mapError: (error) => new Error('re-reading instances after a change-feed gap failed', { cause: error }),
  };
  const seen: (StatusChange | 'complete' | { error: unknown })[] = [];
  const observe = (instanceIds?: readonly string[]) => statusResync(reads, instanceIds).subscribe({
    next: (change) => void seen.push(change),
    complete: () => void seen.push('complete'),
    error: (error: unknown) => void seen.push({ error }),
  });
  return { calls, events, opened, decoded, seen, observe, tracked: () => tracked };
}

/** Whether `work` settled once what it set off has run (a macrotask later), however it settled. */
async function settledSoon(work: Promise<unknown> | undefined): Promise<boolean> {
  let settled = false;
  void work?.then(() => (settled = true), () => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return settled;
}

const ticked = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('statusResync (the status re-read after a change feed lost its position)', () => {
  it('emits the changed instances as read, the candidates not found since as purges, then completes, each read in a session of its own', async () => {
    const resync = resyncOver({
      purges: { first: ['gone', 'back'], spent: true },
      changed: { first: ['a', 'b'], spent: true },
      named: (keys) => ({ first: keys.includes(instanceKey('back')) ? ['back'] : [], spent: true }),
    });
    resync.observe();
    await resync.calls.settled();
    await ticked();
    expect(resync.seen).toEqual([
      { instanceId: 'a', state: stateOf('a') },
      { instanceId: 'b', state: stateOf('b') },
      { instanceId: 'back', state: stateOf('back') },
      { instanceId: 'gone', state: undefined },
      'complete',
    ]);
    expect(resync.opened.map((read) => read.which)).toEqual(['purges', 'changed', 'named']);
    for (const read of resync.opened) {
      expect(read.bound.maxTimeMS).toBe(SCAN_MAX_TIME_MS);
      expect(read.session.implicit).toBe(false);
      expect(read.session.ended()).toBe(true);
    }
    expect(resync.events.filter((event) => event === 'session ended')).toHaveLength(3);
    expect(resync.calls.held()).toEqual([]);
    // The per-instance feed's: only the watched ids, read by name.
    const watched = resyncOver({ named: () => ({ first: ['w1'], spent: true }) });
    watched.observe(['w1', 'w2', 'w1']);
    await watched.calls.settled();
    await ticked();
    expect(watched.seen).toEqual([{ instanceId: 'w1', state: stateOf('w1') }, { instanceId: 'w2', state: undefined }, 'complete']);
    expect(watched.opened.map((read) => read.which)).toEqual(['named']);
  });

  it('fails at once with a getMore\u2019s error, where driver 7.8 awaits its killCursors first, and ends the read\u2019s session after that kill', async () => {
    // Before, the re-read iterated the driver's cursor (for await): a failed getMore (a connection the pool's monitor
    // interrupted) failed the resync only once the driver's cleanup had sent its killCursors, through server selection
    // (up to serverSelectionTimeoutMS for a server a network error marked Unknown).
    const resync = resyncOver({ changed: { first: ['a'], spent: false } });
    resync.observe();
    await ticked();
    expect(resync.seen).toEqual([{ instanceId: 'a', state: stateOf('a') }]);
    const lost = new Error('connection 4 to db:27017 closed');
    resync.opened[1]!.cursor.fail(lost);
    await ticked();
    expect(resync.seen).toHaveLength(2);
    expect(resync.seen[1]).toMatchObject({ error: { message: 're-reading instances after a change-feed gap failed', cause: lost } });
    expect(await settledSoon(resync.tracked())).toBe(true);
    expect(resync.events.slice(-2)).toEqual(['getMore', 'killCursors']); // the driver's kill, sent once
    resync.opened[1]!.cursor.killed();
    await resync.calls.settled();
    expect(resync.events.slice(-3)).toEqual(['getMore', 'killCursors', 'session ended']);
  });

  it('ends at once when its subscriber leaves mid-getMore, the cursor\u2019s close and that getMore held, its session ended only after both', async () => {
    // Before, the subscriber's leaving closed the cursor while its getMore ran: driver 7.8's cleanup ended the implicit
    // session the cursor started right after its killCursors, the server session back in the pool while the getMore
    // still ran with its lsid; and the re-read, which close() waits for, went on until that getMore answered.
    for (const last of ['getMore', 'killCursors'] as const) {
      const resync = resyncOver({ changed: { first: ['a'], spent: false } });
      const subscription = resync.observe();
      await ticked();
      expect(resync.seen).toEqual([{ instanceId: 'a', state: stateOf('a') }]);
      subscription.unsubscribe();
      expect(await settledSoon(resync.tracked())).toBe(true);
      expect(resync.events.slice(-2)).toEqual(['getMore', 'killCursors']);
      expect(resync.calls.held().length).toBeGreaterThan(0); // the kill and the getMore, which close() ends or waits for
      const changed = resync.opened[1]!.cursor;
      if (last === 'getMore') changed.killed();
      else changed.reply([stored('late')]);
      await ticked();
      expect(resync.events.at(-1)).toBe('killCursors'); // not ended while the other still runs in it
      if (last === 'getMore') changed.reply([stored('late')]);
      else changed.killed();
      await resync.calls.settled();
      expect(resync.events.slice(-3)).toEqual(['getMore', 'killCursors', 'session ended']);
      expect(resync.decoded).toEqual([instanceKey('a')]); // the late reply reaches nobody
      expect(resync.opened).toHaveLength(2); // nothing read after it
    }
  });
  it('ends at once when its subscriber leaves before the first batch, on the installed driver: the find given up on, its session ended after it', async () => {
    // The installed driver 7.8's FindCursor and ClientSession on a client whose server never answers: the first find
    // waits in server selection (a minute here, past the test's timeout), and only the cursor's signal ends it.
    const client = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true', { serverSelectionTimeoutMS: 60_000 });
    const calls = new UnboundedCalls();
    const sessions: ClientSession[] = [];
    const seen: unknown[] = [];
    let tracked: Promise<void> | undefined;
    const db = client.db('resync');
    const reads: StatusResyncReads<ClientSession> = {
      calls,
      session: {
        start: () => {
          const session = client.startSession({ causalConsistency: false });
          sessions.push(session);
          return session;
        },
        end: (session) => session.endSession(),
      },
      purges: (bound, session) => db.collection<{ instanceId: string }>('purges').find({}, { session, ...bound }),
      changed: (bound, session) => db.collection<ResyncInstanceDoc>('instances').find({}, { session, ...bound }),
      named: (keys, bound, session) => db.collection<ResyncInstanceDoc>('instances').find({ _id: { $in: keys } }, { session, ...bound }),
      state: () => undefined,
      track: (work) => (tracked = work()),
      mapError: (error) => error,
    };
    try {
      const subscription = statusResync(reads).subscribe({ next: (change) => void seen.push(change), complete: () => void seen.push('complete'), error: (error: unknown) => void seen.push({ error }) });
      expect(await settledSoon(tracked)).toBe(false); // the purge records' find, waiting for a server
      expect(sessions).toHaveLength(1);
      subscription.unsubscribe();
      expect(await settledSoon(tracked)).toBe(true);
      await calls.settled(); // the find, given up on at the cursor's signal, and the cursor's close
      expect(sessions[0]!.hasEnded).toBe(true);
      expect(sessions).toHaveLength(1); // nothing read after it
      expect(seen).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
