import { isNewerChange, type InstanceState, type StatusChange } from '@durable-rx/runtime/store-kit';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  purgedDuringGap,
  concernsWatched, DEFAULT_INPUT_CACHE_BYTES, filterCovers, InputCache, inputCacheEntryBytes, isInvalidation, matchKeysFor, MAX_WATCH_FILTER_BYTES, PurgeMarks, readStatusEvent, statusPipeline, toStatusChange, wakePipeline, wakeSignalOf, watchFilterBytes, watchFilterFor,
  replacesSnapshot, withInput, type ChangeEventLike,
} from '../src/change-events.js';
import { claimLeaseUpdate, claimReadOf } from '../src/claim-read.js';
import { emptyQueueHead, encodeInstanceState, EPOCH, instanceDoc, NEVER, type QueueHead } from '../src/documents.js';
import { instanceUpdateFields } from '../src/translate-write-plan.js';
import { matchesEvent } from './support/match-event.js';
import { BSON, ObjectId, type Document } from 'mongodb';
import { collectionNames } from '../src/indexes.js';
import { instanceKey } from '../src/instance-key.js';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const hostile = JSON.parse('{"__proto__":{"polluted":true},"$where":"1","a.b":{"$gt":1}}') as unknown;

function snapshot(customStatus: unknown, version: number): InstanceState {
  return {
    instanceId: 'a', name: 'Hello', runtimeStatus: 'Running', customStatus, createdTime: T0, lastUpdatedTime: new Date(T0.getTime() + version),
    executionId: 'e1', historyLength: version, version,
  };
}

describe('change event to status change', () => {
  it('maps an insert or replace to the snapshot its own write carried', () => {
    const token = { _data: '8263' };
    for (const operationType of ['insert', 'replace']) {
      const state = snapshot(hostile, 4);
      const change = toStatusChange({
        _id: token, operationType, documentKey: { _id: 'a' }, fullDocument: encodeInstanceState(state, MAX_PAYLOAD_BYTES),
      });
      expect(change).toEqual({ instanceId: 'a', state });
      expect(change?.state?.createdTime).toBeInstanceOf(Date);
    }
  });

  it('gives every snapshot of a rapid sequence of replaces, in order', () => {
    const values = ['Tokyo', 'Seattle', 'London'];
    const events = values.map((v, i) => ({
      _id: { _data: String(i) }, operationType: 'replace', documentKey: { _id: 'a' },
      fullDocument: encodeInstanceState(snapshot(v, i + 2), MAX_PAYLOAD_BYTES),
    }));
    expect(events.map((e) => toStatusChange(e)?.state?.customStatus)).toEqual(values);
    expect(events.map((e) => toStatusChange(e)?.state?.version)).toEqual([2, 3, 4]);
  });

  it('maps a delete to a purge (no state)', () => {
    expect(toStatusChange({ _id: {}, operationType: 'delete', documentKey: { _id: 'gone' } })).toEqual({ instanceId: 'gone', state: undefined });
  });

  it('maps an update that set a new snapshot to that snapshot (a commit writes the state with $set)', () => {
    const state = snapshot('Seattle', 5);
    const change = toStatusChange({
      _id: {}, operationType: 'update', documentKey: { _id: 'a' },
      updateDescription: { updatedFields: { state: encodeInstanceState(state, MAX_PAYLOAD_BYTES).state } },
    });
    expect(change).toEqual({ instanceId: 'a', state });
  });

  it('gives the instance id of a delete whose key was escaped (a lone surrogate)', () => {
    expect(toStatusChange({ _id: {}, operationType: 'delete', documentKey: { _id: '\uFFFF0061d800' } })).toEqual({ instanceId: 'a\uD800', state: undefined });
  });

  it('ignores updates (leases, queue bookkeeping) and other events', () => {
    for (const operationType of ['update', 'drop', 'rename', 'dropDatabase']) {
      expect(toStatusChange({ _id: {}, operationType, documentKey: { _id: 'a' } })).toBeUndefined();
    }
  });

  it('reports an insert without a snapshot, or a corrupt one, as a store error', () => {
    expect(() => toStatusChange({ _id: {}, operationType: 'insert', documentKey: { _id: 'a' }, fullDocument: {} }))
      .toThrow(expect.objectContaining({ code: 'store-error' }));
    expect(() => toStatusChange({ _id: {}, operationType: 'replace', fullDocument: { state: '{"x":1}' } }))
      .toThrow(expect.objectContaining({ code: 'store-error' }));
  });

  it('recognises the invalidate event', () => {
    expect(isInvalidation({ _id: {}, operationType: 'invalidate' })).toBe(true);
    expect(isInvalidation({ _id: {}, operationType: 'replace' })).toBe(false);
  });
});

describe('change stream pipelines', () => {
  it('status feed: inserts, replaces, deletes, updates of the snapshot and invalidations only, projected to the snapshot', () => {
    const [match, project] = statusPipeline();
    const changes = {
      $or: [
        { operationType: { $in: ['insert', 'delete'] } },
        // A replace that holds a lease is a claim's lease write (MongoDB 4.4 logs a pipeline update whole): no status.
        { operationType: 'replace', 'fullDocument.leaseToken': null },
        { operationType: 'update', 'updateDescription.updatedFields.state': { $exists: true } },
        { operationType: 'update', 'updateDescription.updatedFields.purged': { $exists: true } },
      ],
    };
    expect(match).toEqual({ $match: { $or: [{ $and: [{ 'documentKey._id': { $type: 'string' } }, changes] }, { operationType: 'invalidate' }] } });
    expect(project).toEqual({
      $project: {
        operationType: 1, clusterTime: 1, documentKey: 1, 'fullDocument.state': 1, 'fullDocument.input': 1, 'fullDocument.leaseToken': 1,
        'updateDescription.updatedFields.state': 1, 'updateDescription.updatedFields.input': 1, 'updateDescription.updatedFields.purged': 1,
      },
    });
  });

  it('status feed: lets a purge\u2019s mark through, and no other bookkeeping update', () => {
    const [stage] = statusPipeline();
    const match = (stage as { $match: Document }).$match;
    const update = (updatedFields: Document) => ({ _id: {}, operationType: 'update', documentKey: { _id: 'a' }, updateDescription: { updatedFields } });
    expect(matchesEvent(match, update({ purged: { executionId: 'e1', version: 3 } }))).toBe(true);
    expect(matchesEvent(match, update({ leaseToken: 't', claimAt: new Date() }))).toBe(false);
    const [narrow] = statusPipeline(['a']);
    expect(matchesEvent((narrow as { $match: Document }).$match, update({ purged: { executionId: 'e1', version: 3 } }))).toBe(true);
  });

  it('status feed: the changes of a document whose _id is not a string (another program\u2019s) never reach the process', () => {
    const [stage] = statusPipeline();
    const match = (stage as { $match: Document }).$match;
    const insert = (key: unknown) => ({ _id: {}, operationType: 'insert', documentKey: { _id: key }, fullDocument: { state: '{}' } });
    expect(matchesEvent(match, insert('a'))).toBe(true);
    expect(matchesEvent(match, insert(new ObjectId()))).toBe(false);
    expect(matchesEvent(match, { _id: {}, operationType: 'delete', documentKey: { _id: 42 } })).toBe(false);
    expect(matchesEvent(match, { _id: {}, operationType: 'invalidate' })).toBe(true);
  });

  it('per-instance status feed: the server matches only the watched instances, invalidations still pass', () => {
    const [match] = statusPipeline(['a', 'b']);
    expect(match).toEqual({
      $match: {
        $or: [
          { $and: [{ 'documentKey._id': { $in: ['a', 'b'] } }, (statusPipeline()[0] as { $match: { $or: { $and: unknown[] }[] } }).$match.$or[0]!.$and[1]] },
          { operationType: 'invalidate' },
        ],
      },
    });
  });

  it('names no instance once the watched keys would make the stream\u2019s command too large for MongoDB, whatever maxWatchedInstances says', () => {
    // The largest ids: 256 characters of 3 UTF-8 bytes each. 30,000 of them in the $in would be over 16 MiB, a command
    // MongoDB refuses, at every reopen.
    const longIds = new Set(Array.from({ length: 30_000 }, (_, i) => `${i}`.padEnd(256, '\u20ac')));
    const pipelineBytes = (keys: readonly string[]) => BSON.calculateObjectSize({ pipeline: statusPipeline(keys) });
    expect(pipelineBytes([...longIds])).toBeGreaterThan(16 * 1024 * 1024);
    expect(watchFilterFor(longIds, 100_000)).toBeUndefined();
    // Below the byte bound they are named, and the pipeline stays far from MongoDB's limit.
    const fewer = new Set([...longIds].slice(0, 5_000));
    const named = watchFilterFor(fewer, 100_000);
    expect(named).toHaveLength(5_000);
    expect(pipelineBytes(named!)).toBeLessThan(MAX_WATCH_FILTER_BYTES + 64 * 1024);
    // The default bound, 1,000 of the longest keys (escaped form), stays far below the byte bound.
    const escaped = Array.from({ length: 1000 }, (_, i) => `\uffff${`${i}`.padStart(4, '0')}`.padEnd(1 + 4 * 256, '0'));
    expect(watchFilterFor(new Set(escaped), 1000)).toHaveLength(1000);
    // Counted as BSON counts them: the array of the $in.
    expect(watchFilterBytes(named!)).toBe(BSON.calculateObjectSize({ ...named! }) - 5);
  });

  it('names the watched instances up to a bound, then watches everything; reopens only for an instance it does not cover', () => {
    expect(watchFilterFor(new Set(['b', 'a']), 1000)).toEqual(['a', 'b']);
    expect(watchFilterFor(new Set(['a', 'b']), 1)).toBeUndefined();
    expect(watchFilterFor(new Set(), 10)).toEqual([]);
    expect(filterCovers(['a', 'b'], 'a')).toBe(true);
    expect(filterCovers(['a', 'b'], 'c')).toBe(false);
    expect(filterCovers(undefined, 'c')).toBe(true);
  });

  it('keeps the instance of the event a reopened stream resumes after in its $match, watched or not', () => {
    // MongoDB 6.0+ filters the oplog with the $match before it looks for the resume token: a stream reopened for Y
    // after an event of X (no longer watched) must still match X, or it fails with 280 and loses its position.
    const ofX = { _id: { _data: 'x1' }, operationType: 'update', documentKey: { _id: 'x' }, updateDescription: { updatedFields: { state: '{}' } } };
    expect(matchKeysFor(['y'], ofX)).toEqual(['y', 'x']);
    expect(matchKeysFor([], ofX)).toEqual(['x']);
    expect(matchKeysFor(['x', 'y'], ofX)).toEqual(['x', 'y']);
    expect(matchKeysFor(['y'], undefined)).toEqual(['y']); // a high-water token or a time: no event to find
    expect(matchKeysFor(undefined, ofX)).toBeUndefined(); // every instance already
    expect(matchKeysFor(['y'], { _id: { _data: 'i' }, operationType: 'invalidate' })).toEqual(['y']);
  });

  it('reads only the events of watched instances, whatever the $match names (every instance past the bound, the one kept only to resume, those unwatched since it opened)', () => {
    const event = (key: string) => ({ _id: {}, operationType: 'update', documentKey: { _id: key }, updateDescription: { updatedFields: { state: '{}' } } });
    const watched = new Set(['a', 'x\uD800']);
    const isWatched = (id: string) => watched.has(id);
    expect(concernsWatched(event('a'), isWatched)).toBe(true);
    // Dropped before it is decoded (its input read), not left for the router to drop.
    expect(concernsWatched(event('b'), isWatched)).toBe(false);
    // By instance id, not stored key: an escaped key (lone surrogate) is decoded first.
    expect(concernsWatched(event(instanceKey('x\uD800')), isWatched)).toBe(true);
    // An event without a string key is read as it comes.
    expect(concernsWatched({ _id: {}, operationType: 'invalidate' }, isWatched)).toBe(true);
  });

  it('wake-up feed: new messages and tasks of this store, released leases, commits that leave work behind, invalidations', () => {
    const names = collectionNames('drx_');
    const [match] = wakePipeline(names);
    expect(match).toEqual({
      $match: {
        $or: [
          { operationType: 'insert', 'ns.coll': { $in: ['drx_messages', 'drx_activityTasks'] } },
          { operationType: 'update', 'ns.coll': 'drx_activityTasks', 'updateDescription.updatedFields.leaseToken': { $type: 'null' } },
          // A commit that leaves visible messages behind wakes every process, not only its own.
          { operationType: 'update', 'ns.coll': 'drx_instances', 'updateDescription.updatedFields.handoff': { $exists: true } },
          // A commit that leaves only a message due later tells every process when (claimAt), not only its own.
          {
            operationType: 'update', 'ns.coll': 'drx_instances', 'updateDescription.updatedFields.leaseToken': { $type: 'null' },
            'updateDescription.updatedFields.claimAt': { $gt: EPOCH, $lt: NEVER },
          },
          { operationType: 'invalidate' },
        ],
      },
    });
  });
});

describe('wake-ups of other processes (a commit that leaves only a future timer)', () => {
  const names = collectionNames('');
  const [stage] = wakePipeline(names);
  const match = (stage as { $match: Document }).$match;
  const now = new Date('2026-01-01T00:00:00.000Z');
  const fireAt = new Date(now.getTime() + 60_000);
  /** The change event of the instance update a commit's `updateInstance` write makes, as the server would send it. */
  const commitEvent = (head: QueueHead, release = true): ChangeEventLike & Document => ({
    _id: {}, operationType: 'update', ns: { coll: names.instances }, documentKey: { _id: 'a' },
    updateDescription: {
      updatedFields: instanceUpdateFields(
        { op: 'updateInstance', instanceKey: 'a', set: {}, queue: { kind: 'set', head }, release, leaseExpiresAt: release ? EPOCH : fireAt },
        head, now,
      ),
    },
  });

  it('reach every process with the timer\'s time, which arms a wake-up without a read', () => {
    const event = commitEvent({ messageSeq: 3, nextMessageAt: fireAt, readyAt: fireAt });
    expect(matchesEvent(match, event)).toBe(true);
    expect(wakeSignalOf(event)).toEqual(fireAt);
  });

  it('wake at once for messages left visible, and not at all for a commit that leaves nothing or keeps its lease', () => {
    const visible = commitEvent({ messageSeq: 3, nextMessageAt: EPOCH, readyAt: now });
    expect(matchesEvent(match, visible)).toBe(true);
    expect(wakeSignalOf(visible)).toBe(true);
    expect(matchesEvent(match, commitEvent(emptyQueueHead(3)))).toBe(false);
    // A message sent to an instance under someone's lease changes its queue, not its lease: its insert event wakes.
    expect(matchesEvent(match, commitEvent({ messageSeq: 3, nextMessageAt: fireAt, readyAt: fireAt }, false))).toBe(false);
    // A claim writes a lease token: not a release.
    const claim = { ...commitEvent(emptyQueueHead(0)), updateDescription: { updatedFields: { leaseToken: 't', claimAt: fireAt } } };
    expect(matchesEvent(match, claim)).toBe(false);
  });

  it('never miss a release: MongoDB leaves unchanged fields out of updatedFields, and a release always changes its token', () => {
    // The update event as the server sends it: only the fields whose value the update changed (a $set of an equal
    // value is left out), not every field the update names.
    const changed = (before: Document, set: Document): Document =>
      Object.fromEntries(Object.entries(set).filter(([field, value]) => !isDeepStrictEqual(before[field], value)));
    const eventOf = (updatedFields: Document): ChangeEventLike & Document => ({
      _id: {}, operationType: 'update', ns: { coll: names.instances }, documentKey: { _id: 'a' }, updateDescription: { updatedFields },
    });
    const head = { messageSeq: 3, nextMessageAt: fireAt, readyAt: fireAt };
    const release = instanceUpdateFields({ op: 'updateInstance', instanceKey: 'a', set: {}, queue: { kind: 'set', head }, release: true, leaseExpiresAt: EPOCH }, head, now);
    // A release by a commit (or an abandon, a claim that found nothing, releaseOwner): its filter names the token it
    // holds, so the token always changes to null; with the claimAt of a lease (its expiry) before it.
    const leaseExpiry = new Date(now.getTime() + 30_000);
    const leased = { leaseOwner: 'w', leaseToken: 't', leaseExpiresAt: leaseExpiry, claimAt: leaseExpiry, nextMessageAt: EPOCH };
    const released = eventOf(changed(leased, release));
    expect(released.updateDescription?.updatedFields).toMatchObject({ leaseToken: null, claimAt: fireAt });
    expect(matchesEvent(match, released)).toBe(true);
    expect(wakeSignalOf(released)).toEqual(fireAt);
    // The timer due at the lease's expiry to the millisecond: claimAt is left out and nothing is sent, but nothing is
    // new either: every process's nextWakeTime already reads that claimAt (the lease's expiry), and the timer's insert
    // event carried its due time.
    const sameTime = eventOf(changed({ ...leased, claimAt: fireAt, leaseExpiresAt: fireAt }, release));
    expect(sameTime.updateDescription?.updatedFields).not.toHaveProperty('claimAt');
    expect(matchesEvent(match, sameTime)).toBe(false);
    // The one write of null over null: a client's own command on an instance nobody holds (an unclaimed write). Its
    // queue head stays, so claimAt does not move: no time to tell anyone. (It moves claimAt only when it takes its
    // command's own message, sent earlier and visible at once: that message's insert woke every process, and a claim
    // round reads the wake time again after it, nextWakeTime.)
    const free = { leaseOwner: null, leaseToken: null, leaseExpiresAt: EPOCH, claimAt: fireAt, nextMessageAt: fireAt };
    const unclaimed = changed(free, release);
    expect(unclaimed).not.toHaveProperty('leaseToken');
    expect(unclaimed).not.toHaveProperty('claimAt');
    expect(matchesEvent(match, eventOf(unclaimed))).toBe(false);
  });

  it('arm a wake-up at the due time of a new message due later, and wake at once for one visible now or a new task', () => {
    // The pipeline keeps the due time of an inserted message, not its text.
    const project = (wakePipeline(names)[1] as { $project: Document }).$project;
    expect(project['fullDocument.due']).toBe(1);
    expect(Object.keys(project).filter((field) => field.startsWith('fullDocument'))).toEqual(['fullDocument.due']);
    const inserted = (due?: unknown): ChangeEventLike => ({
      _id: {}, operationType: 'insert', ns: { coll: names.messages }, ...(due === undefined ? {} : { fullDocument: { due } }),
    });
    expect(wakeSignalOf(inserted(fireAt))).toEqual(fireAt);
    expect(wakeSignalOf(inserted(EPOCH))).toBe(true); // visible at once
    expect(wakeSignalOf(inserted(new Date(-1_000)))).toBe(true); // a visibleAt before 1970: visible at once too
    expect(wakeSignalOf(inserted(NEVER))).toBe(true);
    expect(wakeSignalOf(inserted('2026-01-01'))).toBe(true); // not a date: claim now rather than never
    expect(wakeSignalOf({ _id: {}, operationType: 'insert', ns: { coll: names.activityTasks }, fullDocument: {} })).toBe(true);
  });

  it('treat every other event as work to claim now', () => {
    expect(wakeSignalOf({ _id: {}, operationType: 'insert', ns: { coll: names.messages } })).toBe(true);
    expect(wakeSignalOf({ _id: {}, operationType: 'update', ns: { coll: names.activityTasks }, updateDescription: { updatedFields: {} } })).toBe(true);
  });
});

describe('a claim\u2019s lease write, in both shapes MongoDB reports it (a pipeline update: a whole replace before 5.0)', () => {
  const names = collectionNames('');
  const statusMatch = (keys?: readonly string[]) => (statusPipeline(keys)[0] as { $match: Document }).$match;
  const wakeMatch = (wakePipeline(names)[0] as { $match: Document }).$match;
  const now = new Date('2026-01-01T00:00:00.000Z');
  const leaseExpiry = new Date(now.getTime() + 30_000);
  const running = (version: number, executionId = 'e1'): InstanceState => ({ ...snapshot(`v${version}`, version), executionId, input: { order: 42 } });
  const key = instanceKey('a');
  /** The stored document of `state` as a commit writes it whole (`instanceDoc`: a free lease), one message queued. */
  const stored = (state: InstanceState): Document =>
    ({ ...instanceDoc(state, encodeInstanceState(state, MAX_PAYLOAD_BYTES), { messageSeq: 3, nextMessageAt: EPOCH, readyAt: now }, 'g1') });
  /** What the server makes of the claim's pipeline (`claimLeaseUpdate`): each `$literal` its value, `'$messageSeq'` the field's. */
  const claimed = (before: Document): Document => {
    const lease = { owner: 'w1', token: 't1', expiresAt: leaseExpiry };
    const [stage] = claimLeaseUpdate(lease, leaseExpiry, claimReadOf(lease, now, 100)) as [{ $set: Record<string, unknown> }];
    const set = Object.fromEntries(Object.entries(stage.$set).map(([field, value]) =>
      [field, typeof value === 'string' ? before[value.slice(1)] : (value as { $literal: unknown }).$literal]));
    return { ...before, ...set };
  };
  /** The fields whose value an update changed, as `updatedFields` names them (MongoDB 5.0+: a delta oplog entry). */
  const changed = (before: Document, after: Document): Document =>
    Object.fromEntries(Object.entries(after).filter(([field, value]) => !isDeepStrictEqual(before[field], value)));
  const claimEvents = (before: Document): Record<'update' | 'replace', ChangeEventLike & Document> => {
    const after = claimed(before);
    const base = { _id: {}, ns: { coll: names.instances }, documentKey: { _id: key } };
    return {
      update: { ...base, operationType: 'update', updateDescription: { updatedFields: changed(before, after) } },
      replace: { ...base, operationType: 'replace', fullDocument: after },
    };
  };

  it('is no status change: neither status pipeline lets it through, and read anyway it is nothing', () => {
    const events = claimEvents(stored(running(1)));
    expect(events.replace.fullDocument).toMatchObject({ leaseToken: 't1', leaseSeq: 3, state: stored(running(1))['state'] });
    for (const [shape, event] of Object.entries(events)) {
      expect(matchesEvent(statusMatch(), event), shape).toBe(false);
      expect(matchesEvent(statusMatch([key]), event), shape).toBe(false);
      expect(readStatusEvent(event, new InputCache()), shape).toEqual({ kind: 'none' });
      expect(replacesSnapshot(event), shape).toBe(false);
    }
  });

  it('delivers each committed snapshot once through a claim in either shape, and a new execution written whole still', () => {
    const inserted = { _id: {}, operationType: 'insert', documentKey: { _id: key }, fullDocument: stored(running(1)) };
    const step = { _id: {}, operationType: 'update', documentKey: { _id: key }, updateDescription: { updatedFields: { state: stored(running(2))['state'] } } };
    // Continue-as-new: the commit replaces the document whole, with a free lease.
    const next = running(3, 'e2');
    const restarted = { _id: {}, operationType: 'replace', documentKey: { _id: key }, fullDocument: stored(next) };
    for (const shape of ['update', 'replace'] as const) {
      const stream = [inserted, claimEvents(stored(running(1)))[shape], step, claimEvents(stored(running(2)))[shape], restarted, claimEvents(stored(next))[shape]];
      const inputs = new InputCache();
      const delivered = stream.filter((event) => matchesEvent(statusMatch(), event)).map((event) => readStatusEvent(event, inputs));
      expect(delivered.map((reading) => (reading.kind === 'change' ? `${reading.change.state?.executionId}@${reading.change.state?.version}` : reading.kind)), shape)
        .toEqual(['e1@1', 'e1@2', 'e2@3']);
      // Each is news by the subscribers' own rule (isNewerChange), so a claim between two commits hides none.
      const states = delivered.map((reading) => (reading.kind === 'change' ? reading.change.state : undefined));
      states.slice(1).forEach((state, i) => expect(isNewerChange({ state }, states[i])).toBe(true));
    }
  });

  it('wakes nobody in either shape, as on MongoDB 5.0+; the commit that releases the lease after it still does', () => {
    for (const [shape, event] of Object.entries(claimEvents(stored(running(1))))) {
      expect(matchesEvent(wakeMatch, event), shape).toBe(false);
    }
    expect(wakeSignalOf(claimEvents(stored(running(1))).replace)).toBeUndefined();
    // A replace of a new execution wakes nobody either: its messages' inserts do.
    expect(matchesEvent(wakeMatch, { _id: {}, operationType: 'replace', ns: { coll: names.instances }, documentKey: { _id: key }, fullDocument: stored(running(3, 'e2')) })).toBe(false);
    const head = { messageSeq: 3, nextMessageAt: EPOCH, readyAt: now };
    const release = instanceUpdateFields({ op: 'updateInstance', instanceKey: key, set: {}, queue: { kind: 'set', head }, release: true, leaseExpiresAt: EPOCH }, head, now);
    const claimedDoc = claimed(stored(running(1)));
    const released = { _id: {}, operationType: 'update', ns: { coll: names.instances }, documentKey: { _id: key }, updateDescription: { updatedFields: changed(claimedDoc, { ...claimedDoc, ...release }) } };
    expect(matchesEvent(wakeMatch, released)).toBe(true);
    expect(wakeSignalOf(released)).toBe(true);
  });
});

describe('inputs of status changes (the input is not rewritten by every step)', () => {
  const withInputState = (version: number, executionId = 'e1'): InstanceState => ({ ...snapshot(`v${version}`, version), executionId, input: { order: 42 } });
  const inserted = (state: InstanceState): ChangeEventLike => ({ _id: {}, operationType: 'insert', documentKey: { _id: 'a' }, fullDocument: encodeInstanceState(state, MAX_PAYLOAD_BYTES) });
  const updated = (state: InstanceState, withNewInput = false): ChangeEventLike => {
    const encoded = encodeInstanceState(state, MAX_PAYLOAD_BYTES);
    return {
      _id: {}, operationType: 'update', documentKey: { _id: 'a' },
      updateDescription: { updatedFields: { state: encoded.state, ...(withNewInput ? { input: encoded.input } : {}) } },
    };
  };

  it('completes a step\u2019s update from the input its instance\u2019s insert carried', () => {
    const inputs = new InputCache();
    expect(readStatusEvent(inserted(withInputState(1)), inputs)).toEqual({ kind: 'change', change: { instanceId: 'a', state: withInputState(1) } });
    expect(readStatusEvent(updated(withInputState(2)), inputs)).toEqual({ kind: 'change', change: { instanceId: 'a', state: withInputState(2) } });
  });

  it('asks for the input of an instance it has not seen, then remembers it for that execution only', () => {
    const inputs = new InputCache();
    const reading = readStatusEvent(updated(withInputState(5)), inputs);
    expect(reading).toMatchObject({ kind: 'needs-input', key: 'a', executionId: 'e1' });
    if (reading.kind !== 'needs-input') throw new Error('unreachable');
    expect(withInput(reading, { executionId: 'e1', input: JSON.stringify({ order: 42 }) }, inputs)).toEqual({ instanceId: 'a', state: withInputState(5) });
    expect(readStatusEvent(updated(withInputState(6)), inputs)).toMatchObject({ kind: 'change' });
    // Another execution (continue-as-new) is not answered with the old input.
    expect(readStatusEvent(updated(withInputState(7, 'e2')), inputs)).toMatchObject({ kind: 'needs-input', executionId: 'e2' });
  });

  it('takes a new execution\u2019s input from the update that set it, and gives none for a replaced execution', () => {
    const inputs = new InputCache();
    readStatusEvent(inserted(withInputState(1)), inputs);
    const next = { ...withInputState(2, 'e2'), input: 'new input' };
    expect(readStatusEvent(updated(next, true), inputs)).toEqual({ kind: 'change', change: { instanceId: 'a', state: next } });
    const stale = readStatusEvent(updated(withInputState(3, 'e-old')), inputs);
    if (stale.kind !== 'needs-input') throw new Error('expected a lookup');
    expect(withInput(stale, { executionId: 'e2', input: '"new input"' }, inputs).state).not.toHaveProperty('input');
  });

  it('forgets purged instances and stays within its byte budget, dropping the least recently used', () => {
    const entry = inputCacheEntryBytes('a', 'e', 'x'.repeat(100));
    const inputs = new InputCache(2 * entry);
    inputs.set('a', 'e', 'a'.repeat(100));
    inputs.set('b', 'e', 'b'.repeat(100));
    expect(inputs.get('a', 'e')).toBe('a'.repeat(100));
    inputs.set('c', 'e', 'c'.repeat(100));
    expect(inputs.get('b', 'e')).toBeUndefined();
    expect(inputs.get('a', 'e')).toBe('a'.repeat(100));
    expect(inputs.size).toBe(2);
    expect(inputs.bytes).toBe(2 * entry);
    // One larger input pushes out as many of the oldest as it needs.
    inputs.set('d', 'e', 'd'.repeat(150));
    expect(inputs.get('c', 'e')).toBeUndefined();
    expect(inputs.get('a', 'e')).toBeUndefined();
    expect(inputs.get('d', 'e')).toBe('d'.repeat(150));
    readStatusEvent({ _id: {}, operationType: 'delete', documentKey: { _id: 'd' } }, inputs);
    expect(inputs.get('d', 'e')).toBeUndefined();
    expect(inputs.size).toBe(0);
    expect(inputs.bytes).toBe(0);
  });

  it('keeps no input over its per-entry bound, and no older execution\u2019s input in its place', () => {
    const inputs = new InputCache(1024 * 1024, 1000);
    inputs.set('a', 'e1', 'x'.repeat(500)); // 1,000 bytes of heap: kept
    expect(inputs.get('a', 'e1')).toBe('x'.repeat(500));
    inputs.set('a', 'e2', 'y'.repeat(501));
    expect(inputs.get('a', 'e2')).toBeUndefined();
    expect(inputs.get('a', 'e1')).toBeUndefined();
    expect(inputs.bytes).toBe(0);
  });

  it('holds at most its default 32 MiB whatever the inputs: a 12 MiB input is delivered but not kept, and many 100 KiB ones are evicted', () => {
    const inputs = new InputCache();
    const big = withInputState(1);
    const event = inserted({ ...big, input: 'z'.repeat(12 * 1024 * 1024) });
    const reading = readStatusEvent(event, inputs);
    expect(reading.kind === 'change' && reading.change.state?.input).toBe('z'.repeat(12 * 1024 * 1024));
    expect(inputs.size).toBe(0);
    // The next step of that instance reads its input (one batched read) instead.
    expect(readStatusEvent(updated(withInputState(2)), inputs)).toMatchObject({ kind: 'needs-input', key: 'a' });
    const text = 'i'.repeat(50 * 1024); // 100 KiB of heap each
    for (let i = 0; i < 10_000; i++) inputs.set(`k${i}`, 'e', text);
    expect(inputs.bytes).toBeLessThanOrEqual(DEFAULT_INPUT_CACHE_BYTES);
    expect(inputs.size).toBe(Math.floor(DEFAULT_INPUT_CACHE_BYTES / inputCacheEntryBytes('k9999', 'e', text)));
    expect(inputs.get('k9999', 'e')).toBe(text);
    expect(inputs.get('k0', 'e')).toBeUndefined();
  });
});

describe('status resync of the per-instance feed', () => {
  it('reports each watched instance the re-read did not find as purged, and nothing for those it found', () => {
    expect(purgedDuringGap(['a', 'b', 'c'], new Set(['a', 'c']))).toEqual([{ instanceId: 'b', state: undefined }]);
    expect(purgedDuringGap(['a'], new Set(['a']))).toEqual([]);
    expect(purgedDuringGap([], new Set())).toEqual([]);
    // changes$ candidates come from purge records: one purge per id, however often it was purged in the gap, and
    // none for an id that exists again (purged, then started anew).
    expect(purgedDuringGap(['a', 'b', 'a', 'b'], new Set(['b']))).toEqual([{ instanceId: 'a', state: undefined }]);
  });
});

describe('purges that name the snapshot they deleted', () => {
  const state = (executionId: string, version: number, runtimeStatus: InstanceState['runtimeStatus'] = 'Completed'): InstanceState => ({
    ...snapshot(null, version), executionId, runtimeStatus,
  });
  const inserted = (s: InstanceState): ChangeEventLike => ({
    _id: {}, operationType: 'insert', documentKey: { _id: instanceKey(s.instanceId) }, fullDocument: encodeInstanceState(s, MAX_PAYLOAD_BYTES),
  });
  const updated = (s: InstanceState): ChangeEventLike => ({
    _id: {}, operationType: 'update', documentKey: { _id: instanceKey(s.instanceId) },
    updateDescription: { updatedFields: { state: encodeInstanceState(s, MAX_PAYLOAD_BYTES).state } },
  });
  // What MongoStore's purge writes in its transaction, in order: the mark ($set purged), then the delete.
  const purged = (key: string, mark: unknown): ChangeEventLike[] => [
    { _id: {}, operationType: 'update', documentKey: { _id: key }, updateDescription: { updatedFields: { purged: mark } } },
    { _id: {}, operationType: 'delete', documentKey: { _id: key } },
  ];
  const read = (events: readonly ChangeEventLike[], marks = new PurgeMarks(), inputs = new InputCache()): StatusChange[] =>
    events.flatMap((event) => {
      const reading = readStatusEvent(event, inputs, marks);
      return reading.kind === 'change' ? [reading.change] : [];
    });

  it('gives the delete the snapshot the purge marked, so a reader that holds the next run keeps it', () => {
    const run1 = state('run-1', 1, 'Pending');
    const completed = state('run-1', 2);
    const again = state('run-2', 1, 'Pending');
    const changes = read([inserted(run1), updated(completed), ...purged('a', { executionId: 'run-1', version: 2 }), inserted(again)]);
    expect(changes.map((c) => c.state?.version)).toEqual([1, 2, undefined, 1]);
    const purge = changes[2]!;
    expect(purge).toEqual({ instanceId: 'a', state: undefined, purged: { executionId: 'run-1', version: 2 } });
    // The shared rule of every reader: news to the purged run's reader, not to one that read the next run first.
    expect(isNewerChange(purge, completed)).toBe(true);
    expect(isNewerChange(purge, again)).toBe(false);
  });

  it('takes each mark once, for its own key, and reads a delete without one as a purge that names nothing', () => {
    const marks = new PurgeMarks();
    const [markA, deleteA] = purged('a', { executionId: 'e1', version: 4 });
    const [, deleteB] = purged('b', { executionId: 'e1', version: 9 });
    expect(read([markA!, deleteB!, deleteA!, deleteA!], marks)).toEqual([
      { instanceId: 'b', state: undefined },
      { instanceId: 'a', state: undefined, purged: { executionId: 'e1', version: 4 } },
      // A purge by an earlier MongoStore (no mark): news while a reader holds the instance, as before.
      { instanceId: 'a', state: undefined },
    ]);
    expect(marks.size).toBe(0);
  });

  it('names nothing for a mark that is not one (a document MongoStore did not write)', () => {
    for (const mark of [null, 'e1', { executionId: 'e1' }, { executionId: 7, version: 2 }, { executionId: 'e1', version: 0 }, [1]]) {
      expect(read(purged('a', mark))).toEqual([{ instanceId: 'a', state: undefined }]);
    }
  });

  it('keeps the marks of each feed apart (both feeds read every event), and keeps a bounded number', () => {
    const named = { instanceId: 'a', state: undefined, purged: { executionId: 'e1', version: 4 } };
    const [statusFeed, watchFeed] = [new PurgeMarks(), new PurgeMarks()];
    const seen: StatusChange[][] = [[], []];
    for (const event of purged('a', { executionId: 'e1', version: 4 })) {
      seen[0]!.push(...read([event], statusFeed));
      seen[1]!.push(...read([event], watchFeed));
    }
    expect(seen).toEqual([[named], [named]]);
    const small = new PurgeMarks(2);
    read([purged('a', { executionId: 'e', version: 1 })[0]!, purged('b', { executionId: 'e', version: 1 })[0]!, purged('c', { executionId: 'e', version: 1 })[0]!], small);
    expect(small.size).toBe(2);
    expect(small.take('a')).toBeUndefined(); // the oldest went: its delete never came (a lost position)
    expect(small.take('c')).toEqual({ executionId: 'e', version: 1 });
  });
});
