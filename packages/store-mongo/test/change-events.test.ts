import type { InstanceState } from '@durable-rx/runtime';
import { describe, expect, it } from 'vitest';
import { isInvalidation, statusPipeline, toStatusChange, wakePipeline } from '../src/change-events.js';
import { encodeInstanceState } from '../src/documents.js';
import { collectionNames } from '../src/indexes.js';
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
        _id: token, operationType, documentKey: { _id: 'a' }, fullDocument: { state: encodeInstanceState(state, MAX_PAYLOAD_BYTES) },
      });
      expect(change).toEqual({ instanceId: 'a', state });
      expect(change?.state?.createdTime).toBeInstanceOf(Date);
    }
  });

  it('gives every snapshot of a rapid sequence of replaces, in order', () => {
    const values = ['Tokyo', 'Seattle', 'London'];
    const events = values.map((v, i) => ({
      _id: { _data: String(i) }, operationType: 'replace', documentKey: { _id: 'a' },
      fullDocument: { state: encodeInstanceState(snapshot(v, i + 2), MAX_PAYLOAD_BYTES) },
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
      updateDescription: { updatedFields: { state: encodeInstanceState(state, MAX_PAYLOAD_BYTES) } },
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
    expect(match).toEqual({
      $match: {
        $or: [
          { operationType: { $in: ['insert', 'replace', 'delete', 'invalidate'] } },
          { operationType: 'update', 'updateDescription.updatedFields.state': { $exists: true } },
        ],
      },
    });
    expect(project).toEqual({
      $project: { operationType: 1, documentKey: 1, 'fullDocument.state': 1, 'updateDescription.updatedFields.state': 1 },
    });
  });

  it('wake-up feed: new messages and tasks of this store, released leases, commits that leave work behind, invalidations', () => {
    const names = collectionNames('drx_');
    const [match] = wakePipeline(names);
    expect(match).toEqual({
      $match: {
        $or: [
          { operationType: 'insert', 'ns.coll': { $in: ['drx_messages', 'drx_activityTasks'] } },
          { operationType: 'update', 'ns.coll': 'drx_activityTasks', 'updateDescription.updatedFields.leaseToken': { $type: 'null' } },
          // Finding 4: a commit that leaves visible messages behind wakes every process, not only its own.
          { operationType: 'update', 'ns.coll': 'drx_instances', 'updateDescription.updatedFields.handoff': { $exists: true } },
          { operationType: 'invalidate' },
        ],
      },
    });
  });
});
