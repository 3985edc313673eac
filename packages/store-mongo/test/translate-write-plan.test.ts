import {
  planWriteSet, type InstanceState, type OrchestrationMessage, type WriteSet,
} from '@durable-rx/runtime/store-kit';
import { Buffer } from 'node:buffer';
import { BSON, ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { decodeHistoryEvent, decodeInstanceState, decodeMessage, emptyQueueHead, EPOCH, NEVER } from '../src/documents.js';
import { codeUnitOrderKey } from '../src/instance-key.js';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';
import {
  commitSignalsWork, describeWrites, instanceUpdate, instanceUpdateFields, leaseReleaseFields, TAKEN_INSTANCE_PROJECTION,
  translateWritePlan, type MongoWrite, type StoredRow, type TakenInstanceDoc,
} from '../src/translate-write-plan.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function state(instanceId: string, over: Partial<InstanceState> = {}): InstanceState {
  return {
    instanceId, name: 'Orch', runtimeStatus: 'Running', createdTime: T0, lastUpdatedTime: T0, executionId: `exec-${instanceId}`,
    historyLength: 3, version: 4, ...over,
  };
}

function raised(instanceId: string, id: string, over: Partial<OrchestrationMessage> = {}): OrchestrationMessage {
  return { id, instanceId, event: { type: 'EventRaised', eventId: -1, timestamp: at(100).toISOString(), name: 'go', input: 1 }, ...over };
}

function started(s: InstanceState): OrchestrationMessage {
  return {
    id: `start-${s.instanceId}`, instanceId: s.instanceId,
    event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: s.name, instanceId: s.instanceId, executionId: s.executionId },
  };
}

/** A stored instance document's bookkeeping, as the commit's read projects it (no input: `inputBytes` 0). */
const row = (over: Partial<StoredRow> = {}): StoredRow => ({
  messageSeq: 10, historyGen: 'gen-old', nextMessageAt: NEVER, readyAt: NEVER, leaseExpiresAt: EPOCH, inputBytes: 0, ...over,
});

/** Plans a write set against stored instances and translates it, the way MongoStore.commit does inside its transaction. */
function translate(
  writeSet: WriteSet, stored: Record<string, { state: InstanceState; row: StoredRow }>, raiseKeys: ReadonlyMap<string, readonly string[]> = new Map(),
): MongoWrite[] {
  const states = new Map(Object.entries(stored).map(([id, s]) => [id, s.state] as const));
  const rows = new Map(Object.entries(stored).map(([id, s]) => [id, s.row] as const));
  let gens = 0;
  return translateWritePlan(planWriteSet(writeSet, states, raiseKeys), {
    stored: rows, limitBytes: MAX_PAYLOAD_BYTES, now: at(500), newGen: () => `gen-new-${++gens}`,
  });
}

function only<K extends MongoWrite['op']>(writes: MongoWrite[], op: K): Extract<MongoWrite, { op: K }> {
  const found = writes.filter((w) => w.op === op);
  expect(found, op).toHaveLength(1);
  return found[0] as Extract<MongoWrite, { op: K }>;
}

describe('write-set translation: the client\u2019s writes', () => {
  it('writes the end order of listEnded with every state: the end time (the state\u2019s lastUpdatedTime, not the server\u2019s updatedAt) once ended, null before, and the id in code-unit order', () => {
    const id = 'x\uFF01\u{1F600}';
    const created = state(id, { runtimeStatus: 'Pending', historyLength: 0, version: 1, lastUpdatedTime: at(10) });
    const inserted = only(translate({ requests: [{ type: 'createInstance', state: created, message: started(created), ifRunning: { kind: 'fail' } }] }, {}), 'insertInstance');
    expect(inserted.doc).toMatchObject({ lastUpdatedTime: null, idOrder: codeUnitOrderKey(id) });
    const set = (next: InstanceState) => {
      const update = only(translate({ requests: [{ type: 'replaceState', state: next }] }, { [id]: { state: state(id), row: row() } }), 'updateInstance');
      return instanceUpdate(instanceUpdateFields(update, emptyQueueHead(10), at(500))).$set;
    };
    expect(set(state(id, { runtimeStatus: 'Completed', lastUpdatedTime: at(20) }))).toMatchObject({ lastUpdatedTime: at(20), idOrder: codeUnitOrderKey(id) });
    // Two steps of a running instance write one `ended` key: MongoDB leaves its entry alone (the time moved with each step before).
    const endedKey = (fields: Record<string, unknown>) => [fields['runtimeStatus'], fields['lastUpdatedTime'], fields['idOrder']];
    const first = set(state(id, { runtimeStatus: 'Running', lastUpdatedTime: at(30) }));
    expect(endedKey(first)).toEqual(['Running', null, codeUnitOrderKey(id)]);
    expect(endedKey(set(state(id, { runtimeStatus: 'Running', lastUpdatedTime: at(40), version: 5 })))).toEqual(endedKey(first));
    for (const runtimeStatus of ['Pending', 'Running', 'Suspended', 'ContinuedAsNew'] as const) {
      expect(set(state(id, { runtimeStatus, lastUpdatedTime: at(50) }))['lastUpdatedTime'], runtimeStatus).toBeNull();
    }
  });

  it('creates a new instance: its start message, then the document with a fresh history generation', () => {
    const s = state('a', { runtimeStatus: 'Pending', historyLength: 0, version: 1 });
    const writes = translate({ requests: [{ type: 'createInstance', state: s, message: started(s), ifRunning: { kind: 'fail' } }] }, {});
    expect(describeWrites(writes)).toEqual(['insertMessages 1', 'insertInstance a']);
    const message = only(writes, 'insertMessages').docs[0]!;
    expect(message).toMatchObject({ instanceId: 'a', id: 'start-a', seq: 1, due: EPOCH, readyAt: T0 });
    const doc = only(writes, 'insertInstance').doc;
    expect(doc).toMatchObject({ _id: 'a', version: 1, historyGen: 'gen-new-1', messageSeq: 1, nextMessageAt: EPOCH, readyAt: T0, leaseToken: null });
    expect(decodeInstanceState(doc.state)).toEqual(s);
  });

  it('restarts a terminal id: drops its queue, schedules its old history for the sweeper, replaces the document one version up', () => {
    const old = state('a', { runtimeStatus: 'Completed', version: 7 });
    const s = state('a', { runtimeStatus: 'Pending', executionId: 'exec-2', historyLength: 0, version: 1 });
    const writes = translate(
      { requests: [{ type: 'createInstance', state: s, message: started(s), ifRunning: { kind: 'fail' } }] },
      { a: { state: old, row: row({ historyGen: 'gen-7' }) } },
    );
    expect(describeWrites(writes)).toEqual(['deleteQueue a', 'scheduleSweep a', 'insertMessages 1', 'replaceInstance a']);
    // The old history is not deleted in this transaction, only named for the sweeper, by generation.
    expect(only(writes, 'scheduleSweep').doc).toMatchObject({ instanceId: 'a', gen: 'gen-7' });
    expect(only(writes, 'replaceInstance').doc).toMatchObject({ version: 8, historyGen: 'gen-new-1', executionId: 'exec-2', messageSeq: 11 });
    expect(only(writes, 'insertMessages').docs[0]).toMatchObject({ seq: 11 });
  });

  it('refuses to create over a running instance, before any operation', () => {
    const s = state('a', { runtimeStatus: 'Pending' });
    expect(() => translate({ requests: [{ type: 'createInstance', state: s, message: started(s), ifRunning: { kind: 'fail' } }] }, {
      a: { state: state('a'), row: row() },
    })).toThrow(expect.objectContaining({ code: 'instance-already-exists' }));
  });

  it('sends a message: numbered after the stored sequence, and the exact new queue head of the target', () => {
    const writes = translate({ requests: [{ type: 'insertMessage', message: raised('a', 'm1'), ifMissing: 'fail' }] }, {
      a: { state: state('a'), row: row({ nextMessageAt: at(9_000), readyAt: at(9_000) }) },
    });
    expect(describeWrites(writes)).toEqual(['insertMessages 1', 'setQueue a']);
    expect(only(writes, 'insertMessages').docs[0]).toMatchObject({ instanceId: 'a', seq: 11, due: EPOCH, readyAt: at(100) });
    expect(only(writes, 'setQueue').fields).toEqual({ messageSeq: 11, nextMessageAt: EPOCH, readyAt: at(100), claimAt: EPOCH });
    expect(() => translate({ requests: [{ type: 'insertMessage', message: raised('x', 'm1'), ifMissing: 'fail' }] }, {}))
      .toThrow(expect.objectContaining({ code: 'instance-not-found' }));
  });

  const keyed: WriteSet = { requests: [{ type: 'insertMessage', message: raised('a', 'm1'), ifMissing: 'fail', idempotencyKey: 'k1' }] };

  it('sends a keyed raise as an unkeyed one: the key goes to the raise-key record, the state is not written; a repeat writes nothing', () => {
    const writes = translate(keyed, { a: { state: state('a'), row: row() } }, new Map([['a', ['k0']]]));
    expect(describeWrites(writes)).toEqual(['insertMessages 1', 'setQueue a']);
    expect(translate(keyed, { a: { state: state('a'), row: row() } }, new Map([['a', ['k1']]]))).toEqual([]);
  });

  it('leaves the keys a state of the version before the records carries in it (processes of that version read them there): a keyed raise sends no state; a repeat of one writes nothing', () => {
    const writes = translate(keyed, { a: { state: state('a', { raisedEventKeys: ['k0'] }), row: row() } });
    expect(describeWrites(writes)).toEqual(['insertMessages 1', 'setQueue a']);
    expect(translate(keyed, { a: { state: state('a', { raisedEventKeys: ['k1'] }), row: row() } })).toEqual([]);
  });
});

describe('write-set translation: an orchestration step', () => {
  const lease = { kind: 'orchestration', instanceId: 'a', token: 'lease-1' } as const;
  const stepState = state('a', { historyLength: 5, version: 5, lastUpdatedTime: at(200) });
  const timer: OrchestrationMessage = {
    id: 't1', instanceId: 'a', executionId: 'exec-a', visibleAt: at(60_000),
    event: { type: 'TimerFired', eventId: -1, timestamp: at(60_000).toISOString(), timerId: 2, fireAt: at(60_000).toISOString() },
  };

  it('appends history at its position, consumes messages, adds tasks and a timer, and recomputes the queue head', () => {
    const writes = translate({
      lease,
      requests: [
        { type: 'appendHistory', instanceId: 'a', from: 3, events: [
          { type: 'OrchestratorStarted', eventId: -1, timestamp: at(200).toISOString() },
          { type: 'TaskScheduled', eventId: 0, timestamp: at(200).toISOString(), name: 'Act' },
        ] },
        { type: 'deleteMessages', instanceId: 'a', messageIds: ['m1', 'm2'] },
        { type: 'insertTask', task: { id: 'task-1', instanceId: 'a', executionId: 'exec-a', name: 'Act', taskScheduledId: 0, attempt: 1 } },
        { type: 'insertMessage', message: timer, ifMissing: 'drop' },
        { type: 'replaceState', state: stepState },
      ],
    }, { a: { state: state('a'), row: row({ leaseExpiresAt: at(30_000) }) } });
    expect(describeWrites(writes)).toEqual([
      'insertHistory 2', 'deleteMessages a 2', 'insertTasks 1', 'insertMessages 1', 'updateInstance a (state, queue recompute, release)',
    ]);
    const history = only(writes, 'insertHistory').docs;
    expect(history.map((d) => [d.instanceId, d.gen, d.index])).toEqual([['a', 'gen-old', 3], ['a', 'gen-old', 4]]);
    expect(decodeHistoryEvent(history[1]!.event)).toMatchObject({ type: 'TaskScheduled', name: 'Act' });
    expect(only(writes, 'deleteMessages').messageIds).toEqual(['m1', 'm2']);
    // Tasks are scheduled at the step's time: their claim order, kept if a lease on them expires.
    expect(only(writes, 'insertTasks').docs[0]).toMatchObject({ _id: 'task-1', instanceId: 'a', readyAt: at(200), leaseToken: null });
    expect(only(writes, 'insertMessages').docs[0]).toMatchObject({ seq: 11, due: at(60_000), readyAt: at(60_000) });
    expect(decodeMessage(only(writes, 'insertMessages').docs[0]!.message)).toEqual(timer);
    const update = only(writes, 'updateInstance');
    expect(update.queue).toEqual({ kind: 'recompute', messageSeq: 11 });
    expect(update.release).toBe(true);
    // The released instance's claimAt is written from its recomputed head with no lease (not its old expiry).
    expect(update.leaseExpiresAt).toEqual(EPOCH);
    expect(update.set).toMatchObject({ version: 5, historyLength: 5, historyGen: 'gen-old', updatedAt: at(200), runtimeStatus: 'Running' });
    expect(decodeInstanceState(update.set.state)).toEqual(stepState);
  });

  it('rewrites the history under a fresh generation and schedules the old one for the sweeper (continue-as-new, rewind)', () => {
    const writes = translate({
      lease,
      requests: [
        { type: 'replaceHistory', instanceId: 'a', events: [] },
        { type: 'deleteMessages', instanceId: 'a', messageIds: ['m1'] },
        { type: 'insertMessage', message: started(state('a', { executionId: 'exec-2' })), ifMissing: 'drop' },
        { type: 'replaceState', state: { ...stepState, executionId: 'exec-2', historyLength: 0 } },
      ],
    }, { a: { state: state('a'), row: row() } });
    expect(describeWrites(writes)).toEqual(['scheduleSweep a', 'deleteMessages a 1', 'insertMessages 1', 'updateInstance a (state, queue recompute, release)']);
    expect(only(writes, 'scheduleSweep').doc).toMatchObject({ instanceId: 'a', gen: 'gen-old' });
    expect(only(writes, 'updateInstance').set).toMatchObject({ historyGen: 'gen-new-1', executionId: 'exec-2', historyLength: 0 });
  });

  it('creates a sub-orchestration, and notifies the parent instead when its id is taken by a running instance', () => {
    const child = state('c', { runtimeStatus: 'Pending', historyLength: 0, version: 1, parentInstanceId: 'a' });
    const conflict = raised('a', 'conflict', { executionId: 'exec-a' });
    const create = { type: 'createInstance', state: child, message: started(child), ifRunning: { kind: 'notify', message: conflict } } as const;
    const fresh = translate({ lease, requests: [create, { type: 'replaceState', state: stepState }] }, { a: { state: state('a'), row: row() } });
    expect(describeWrites(fresh)).toEqual(['insertMessages 1', 'insertInstance c', 'updateInstance a (state, queue set, release)']);
    const taken = translate({ lease, requests: [create, { type: 'replaceState', state: stepState }] }, {
      a: { state: state('a'), row: row() }, c: { state: state('c'), row: row({ messageSeq: 3 }) },
    });
    expect(describeWrites(taken)).toEqual(['insertMessages 1', 'updateInstance a (state, queue set, release)']);
    expect(only(taken, 'insertMessages').docs[0]).toMatchObject({ instanceId: 'a', id: 'conflict', seq: 11 });
    expect(only(taken, 'updateInstance').queue).toEqual({ kind: 'set', head: { messageSeq: 11, nextMessageAt: EPOCH, readyAt: at(100) } });
  });

  it('never creates a sub-orchestration over its own parent (a self-targeting call): the parent is notified and keeps its state', () => {
    const self = state('a', { runtimeStatus: 'Pending', executionId: 'exec-child', historyLength: 0, version: 1 });
    const conflict = raised('a', 'conflict', { executionId: 'exec-a' });
    const completed = { ...stepState, runtimeStatus: 'Completed' as const, output: 'done' };
    const writes = translate({
      lease,
      requests: [
        { type: 'createInstance', state: self, message: started(self), ifRunning: { kind: 'notify', message: conflict } },
        { type: 'replaceState', state: completed },
      ],
    }, { a: { state: state('a'), row: row() } });
    expect(describeWrites(writes)).toEqual(['insertMessages 1', 'updateInstance a (state, queue set, release)']);
    expect(decodeInstanceState(only(writes, 'updateInstance').set.state)).toEqual(completed);
  });

  it('leaves the input out of a step\u2019s update, unread and unencoded, and writes it when a new execution brings a new one', () => {
    const input = { big: 'x'.repeat(1000) };
    const inputBytes = Buffer.byteLength(JSON.stringify(input));
    // The commit's read brings the input's size, not the input: the plan's stored state has none.
    const stored = { a: { state: state('a'), row: row({ inputBytes }) } };
    // The step's state carries the input the claim read; encoding it again would call toJSON.
    let encoded = 0;
    const carried = { toJSON: () => (encoded++, input) };
    const step = translate({ lease, requests: [{ type: 'replaceState', state: { ...stepState, input: carried } }] }, stored);
    const set = only(step, 'updateInstance').set;
    expect(set).not.toHaveProperty('input');
    expect(encoded).toBe(0);
    // What a reader decodes afterwards: the new state with the input kept in the document.
    if (!('state' in set)) throw new Error('expected the state');
    expect(decodeInstanceState(set.state, JSON.stringify(input))).toEqual({ ...stepState, input });
    const renewed = translate({ lease, requests: [{ type: 'replaceState', state: { ...stepState, executionId: 'exec-2', input: 'next' } }] }, stored);
    expect(only(renewed, 'updateInstance').set).toMatchObject({ input: '"next"', executionId: 'exec-2' });
    // A new execution without an input writes none over the last one's.
    const bare = translate({ lease, requests: [{ type: 'replaceState', state: { ...stepState, executionId: 'exec-2' } }] }, stored);
    expect(only(bare, 'updateInstance').set).toMatchObject({ input: '', executionId: 'exec-2' });
  });

  it('counts the stored input against the size limit of the state a step writes beside it', () => {
    const plan = planWriteSet({ lease, requests: [{ type: 'replaceState', state: { ...stepState, output: 'x'.repeat(600) } }] }, new Map([['a', state('a')]]));
    const translateOver = (inputBytes: number) => translateWritePlan(plan, {
      stored: new Map([['a', row({ inputBytes })]]), limitBytes: 1_000, now: T0, newGen: () => 'g',
    });
    expect(() => translateOver(0)).not.toThrow();
    expect(() => translateOver(500)).toThrow(expect.objectContaining({ code: 'payload-too-large', status: 413 }));
  });

  it('moves the input of a document written before it had a field of its own out of the state, at its first step', () => {
    // The previous layout: the whole state, input included, in `state`, and no `input` field (so no `inputBytes`).
    const input = { order: 42 };
    const legacyText = JSON.stringify({ ...state('a'), input });
    const before = decodeInstanceState(legacyText);
    expect(before.input).toEqual(input);
    const step = { ...stepState, input: before.input };
    const writes = translate({ lease, requests: [{ type: 'replaceState', state: step }] }, { a: { state: before, row: row({ inputBytes: undefined }) } });
    const set = only(writes, 'updateInstance').set;
    if (!('state' in set)) throw new Error('expected the state');
    expect(set.input).toBe(JSON.stringify(input));
    expect(JSON.parse(set.state)).not.toHaveProperty('input');
    expect(decodeInstanceState(set.state, set.input)).toEqual(step);
    // The same for a document whose input is not text (its size left out by the projection): written afresh.
    const foreign = translate({ lease, requests: [{ type: 'replaceState', state: step }] }, { a: { state: before, row: row({ inputBytes: 'x' as never }) } });
    expect(only(foreign, 'updateInstance').set).toMatchObject({ input: JSON.stringify(input) });
  });

  it('releases the lease even when the step leaves the state alone (a bounded claim\u2019s messages consumed)', () => {
    const writes = translate({ lease, requests: [{ type: 'deleteMessages', instanceId: 'a', messageIds: ['m1'] }] }, {
      a: { state: state('a'), row: row() },
    });
    expect(describeWrites(writes)).toEqual(['deleteMessages a 1', 'updateInstance a (queue recompute, release)']);
    expect(only(writes, 'updateInstance').set).toEqual({});
  });

  it('encodes every payload before writing anything: a value over the limit fails the translation', () => {
    const big = { ...stepState, output: 'x'.repeat(2_000) };
    const states = new Map([['a', state('a')]]);
    const plan = planWriteSet({ lease, requests: [{ type: 'replaceState', state: big }] }, states);
    expect(() => translateWritePlan(plan, { stored: new Map([['a', row()]]), limitBytes: 1_000, now: T0, newGen: () => 'g' }))
      .toThrow(expect.objectContaining({ code: 'payload-too-large', status: 413 }));
  });
});

describe('write-set translation: an unclaimed write (a client\u2019s own terminate, suspend or resume)', () => {
  const lease = { kind: 'unclaimed', instanceId: 'a', executionId: 'exec-a', version: 4, now: at(40_000) } as const;
  const terminated = state('a', { runtimeStatus: 'Terminated', output: 'stop', version: 5, historyLength: 6, lastUpdatedTime: at(40_000) });

  it('releases the lease the instance has: an expired one is taken over, so its late holder cannot commit over the write', () => {
    // A worker's lease that expired at 30 s, and the queued start still visible (a Pending instance terminated).
    const writes = translate({ lease, requests: [{ type: 'replaceState', state: terminated }] }, {
      a: { state: state('a'), row: row({ leaseExpiresAt: at(30_000), nextMessageAt: EPOCH, readyAt: T0 }) },
    });
    expect(describeWrites(writes)).toEqual(['updateInstance a (state, queue set, release)']);
    const update = only(writes, 'updateInstance');
    expect(update.leaseExpiresAt).toEqual(EPOCH);
    const fields = instanceUpdateFields(update, { messageSeq: 10, nextMessageAt: EPOCH, readyAt: T0 }, at(40_000));
    // A free lease, claimable at once (the start is recorded and ignored by the worker that claims it), every worker woken.
    expect(fields).toMatchObject({ leaseOwner: null, leaseToken: null, leaseExpiresAt: EPOCH, claimAt: EPOCH, runtimeStatus: 'Terminated' });
    expect(fields['handoff']).toBeInstanceOf(ObjectId);
  });

  it('writes nothing for a commit of no request on an instance without a lease (a suspend or resume that changes nothing, an HTTP retry)', () => {
    // A Pending instance, its start visible: the release rewrote the free lease with a fresh handoff, which woke every
    // process's worker through the wake-up feed at each retry.
    const pending = state('a', { runtimeStatus: 'Pending' });
    const queued = row({ nextMessageAt: EPOCH, readyAt: T0 });
    expect(translate({ lease, requests: [] }, { a: { state: pending, row: queued } })).toEqual([]);
    // An expired lease is still stored: the commit takes it over, a write that releases it.
    const expired = translate({ lease, requests: [] }, { a: { state: pending, row: { ...queued, leaseExpiresAt: at(30_000) } } });
    expect(describeWrites(expired)).toEqual(['updateInstance a (queue set, release)']);
  });
});

describe('the times a status resync reads: stamped by MongoDB\u2019s clock, not the writer\u2019s', () => {
  const lease = { kind: 'unclaimed', instanceId: 'a', executionId: 'exec-a', version: 4, now: at(40_000) } as const;

  it('sends a state change with updatedAt from the server (a client an hour behind no longer writes it an hour back)', () => {
    // A terminate sent by a client whose clock is an hour behind: its snapshot says so, the resync index does not.
    const hourBehind = at(-3_600_000);
    const terminated = state('a', { runtimeStatus: 'Terminated', version: 5, historyLength: 6, lastUpdatedTime: hourBehind });
    const writes = translate({ lease, requests: [{ type: 'replaceState', state: terminated }] }, { a: { state: state('a'), row: row() } });
    const update = instanceUpdate(instanceUpdateFields(only(writes, 'updateInstance'), emptyQueueHead(10), at(40_000)));
    expect(update.$set).not.toHaveProperty('updatedAt');
    expect(update.$currentDate).toEqual({ updatedAt: true });
    expect(update.$set).toMatchObject({ runtimeStatus: 'Terminated', version: 5 });
    expect(decodeInstanceState(update.$set['state'] as string).lastUpdatedTime).toEqual(hourBehind); // the snapshot keeps the writer's
  });

  it('leaves updatedAt alone where the status does not change (a release, queue bookkeeping)', () => {
    const update = instanceUpdate({ claimAt: EPOCH, leaseToken: null });
    expect(update).toEqual({ $set: { claimAt: EPOCH, leaseToken: null } });
  });
});

describe('the work a commit signals to its own process (store-kit\u2019s signalsWork)', () => {
  const lease = { kind: 'orchestration', instanceId: 'a', token: 'tok' } as const;
  const step: WriteSet = {
    lease,
    requests: [{ type: 'deleteMessages', instanceId: 'a', messageIds: ['m1'] }, { type: 'replaceState', state: state('a', { version: 5 }) }],
  };
  const held = new Map([['a', row({ leaseExpiresAt: at(30_000), nextMessageAt: EPOCH, readyAt: T0 })]]);
  const signals = (writeSet: WriteSet, stored: Map<string, StoredRow>, releasedHead: Parameters<typeof commitSignalsWork>[2]) =>
    commitSignalsWork(planWriteSet(writeSet, new Map([['a', state('a')]])), stored, releasedHead);

  it('signals nothing for a step that consumed every message of its instance and wrote no work (its released head is empty)', () => {
    // As the other processes hear nothing (no handoff, claimAt NEVER): a claim round of this process would find nothing new.
    expect(signals(step, held, emptyQueueHead(10))).toBe(false);
  });

  it('signals a step whose released instance has a message left, due now or later', () => {
    expect(signals(step, held, { messageSeq: 11, nextMessageAt: EPOCH, readyAt: T0 })).toBe(true);
    expect(signals(step, held, { messageSeq: 11, nextMessageAt: at(60_000), readyAt: at(60_000) })).toBe(true);
  });

  it('signals the work a step wrote, whatever it left', () => {
    const task = { id: 'task-1', instanceId: 'a', executionId: 'exec-a', name: 'Act', taskScheduledId: 0, attempt: 1 };
    expect(signals({ ...step, requests: [...step.requests, { type: 'insertTask', task }] }, held, emptyQueueHead(10))).toBe(true);
  });

  it('signals nothing for a commit that changes nothing (no lease stored, a free one: expiry EPOCH), and the take-over of an expired one', () => {
    const unclaimed = { kind: 'unclaimed', instanceId: 'a', executionId: 'exec-a', version: 4, now: at(40_000) } as const;
    const queued = row({ nextMessageAt: EPOCH, readyAt: T0 });
    expect(signals({ lease: unclaimed, requests: [] }, new Map([['a', queued]]), undefined)).toBe(false);
    expect(signals({ lease: unclaimed, requests: [] }, new Map([['a', { ...queued, leaseExpiresAt: at(30_000) }]]), headOf(queued))).toBe(true);
  });
});

describe('write-set translation: an activity result', () => {
  const result = (executionId: string) => raised('a', 'r1', { executionId });
  const writeSet = (executionId: string): WriteSet => ({
    lease: { kind: 'activity', taskId: 'task-1', token: 'tok' },
    requests: [{ type: 'deleteTask', taskId: 'task-1' }, { type: 'insertMessage', message: result(executionId), ifMissing: 'drop' }],
  });

  it('deletes the task and queues the result on the parent, with its exact queue head', () => {
    const writes = translate(writeSet('exec-a'), { a: { state: state('a'), row: row({ readyAt: at(50), nextMessageAt: EPOCH }) } });
    expect(describeWrites(writes)).toEqual(['deleteTasks 1', 'insertMessages 1', 'setQueue a']);
    expect(only(writes, 'setQueue').fields).toEqual({ messageSeq: 11, nextMessageAt: EPOCH, readyAt: at(50), claimAt: EPOCH });
  });

  it('keeps a parent that another worker holds unclaimable until its lease expires, in the same write that queues the result', () => {
    const writes = translate(writeSet('exec-a'), { a: { state: state('a'), row: row({ leaseExpiresAt: at(30_000) }) } });
    // claimableAtMs(lease, due): the result is visible at once, the lease decides.
    expect(only(writes, 'setQueue').fields).toMatchObject({ nextMessageAt: EPOCH, claimAt: at(30_000) });
  });

  it('drops a result for another execution or a missing instance, and still deletes the task', () => {
    expect(describeWrites(translate(writeSet('exec-old'), { a: { state: state('a'), row: row() } }))).toEqual(['deleteTasks 1']);
    expect(describeWrites(translate(writeSet('exec-a'), {}))).toEqual(['deleteTasks 1']);
  });
});

describe('write-set translation: hostile user JSON', () => {
  // Keys MongoDB refuses in a document or reads as operators or paths, and `__proto__` as an own key (as the shared
  // validator, toPlainJson, hands it over).
  const payload = JSON.parse('{"$where":"sleep(1000)","a.b":1,"$gt":{"$ne":null},"__proto__":{"polluted":true},"":[{"$set":1}],"x\\u0000y":2}') as unknown;

  it('never becomes a key or an operator of what is sent to MongoDB: every document passes the BSON encoder\u2019s key check', () => {
    const lease = { kind: 'orchestration', instanceId: 'a', token: 'lease-1' } as const;
    const stepState = state('a', { historyLength: 5, version: 5, lastUpdatedTime: at(200), input: payload, output: payload, customStatus: payload });
    // Tags with keys MongoDB reads as operators or paths: kept in the state, and in `tagKeys` as JSON text.
    const tags = JSON.parse('{"$where":"1","a.b":"c","__proto__":"p"}') as Record<string, string>;
    const child = state('c', { runtimeStatus: 'Pending', historyLength: 0, version: 1, input: payload, tags });
    const writes = translate({
      lease,
      requests: [
        { type: 'appendHistory', instanceId: 'a', from: 3, events: [
          { type: 'TaskScheduled', eventId: 0, timestamp: at(200).toISOString(), name: 'Act', input: payload },
        ] },
        { type: 'insertTask', task: { id: 'task-1', instanceId: 'a', executionId: 'exec-a', name: 'Act', taskScheduledId: 0, attempt: 1, input: payload } },
        { type: 'insertMessage', message: raised('b', 'm1', { event: { type: 'EventRaised', eventId: -1, timestamp: at(100).toISOString(), name: 'go', input: payload } }), ifMissing: 'fail' },
        {
          type: 'createInstance', state: child, ifRunning: { kind: 'fail' },
          message: { id: 'start-c', instanceId: 'c', event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Orch', instanceId: 'c', executionId: child.executionId, input: payload } },
        },
        { type: 'replaceState', state: stepState },
      ],
    }, { a: { state: state('a', { input: payload }), row: row({ inputBytes: Buffer.byteLength(JSON.stringify(payload)) }) }, b: { state: state('b'), row: row() } });
    const sent: Record<string, unknown>[] = [];
    for (const w of writes) {
      switch (w.op) {
        case 'insertHistory': case 'insertTasks': case 'insertMessages':
          sent.push(...w.docs.map((d) => ({ ...d })));
          break;
        case 'insertInstance': case 'replaceInstance':
          sent.push({ ...w.doc });
          break;
        case 'setQueue':
          sent.push({ ...w.fields });
          break;
        case 'updateInstance':
          sent.push(instanceUpdateFields(w, emptyQueueHead(11), at(500)));
          break;
        default:
          break;
      }
    }
    expect(sent.length).toBeGreaterThanOrEqual(6);
    expect(sent.find((doc) => doc['_id'] === 'c')?.['tagKeys']).toEqual(['["$where","1"]', '["__proto__","p"]', '["a.b","c"]']);
    for (const doc of sent) {
      // checkKeys: the driver's encoder refuses a key that starts with `$`, contains `.` or NUL, at any depth.
      expect(() => BSON.serialize(doc, { checkKeys: true })).not.toThrow();
      // Every value is a string, number, boolean, null, Date or ObjectId, or an array of strings (`tagKeys`, each tag
      // pair as JSON text): no sub-document a query could match into.
      for (const value of Object.values(doc)) {
        const scalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v) || v instanceof Date || v instanceof ObjectId;
        expect(scalar(value) || (Array.isArray(value) && value.every((v) => typeof v === 'string')), String(value)).toBe(true);
      }
    }
    // And the payloads come back exactly, hostile keys included (the step keeps the stored input).
    const update = writes.find((w) => w.op === 'updateInstance');
    expect(update?.op === 'updateInstance' && 'state' in update.set ? decodeInstanceState(update.set.state, update.set.input ?? JSON.stringify(payload)) : undefined)
      .toEqual(stepState);
    expect(only(writes, 'insertInstance').doc.input).toBe(JSON.stringify(payload));
    const history = writes.find((w) => w.op === 'insertHistory');
    expect(history?.op === 'insertHistory' ? decodeHistoryEvent(history.docs[0]!.event) : undefined).toMatchObject({ input: payload });
  });
});

describe('releasing an orchestration lease', () => {
  it('sets a handoff (every worker claims at once) only when a message is visible at the release', () => {
    // The one rule for a commit's release and for a release without a commit (abandon, releaseOwner): a release that
    // leaves nothing due, or only a later timer, must not wake every process's claim round for nothing.
    expect(leaseReleaseFields(at(0), at(0))).toMatchObject({ leaseOwner: null, leaseToken: null, leaseExpiresAt: EPOCH, handoff: expect.any(ObjectId) });
    expect(leaseReleaseFields(at(-5), at(0))).toHaveProperty('handoff');
    expect(leaseReleaseFields(at(1), at(0))).toEqual({ leaseOwner: null, leaseToken: null, leaseExpiresAt: EPOCH });
    expect(leaseReleaseFields(NEVER, at(0))).not.toHaveProperty('handoff');
  });
});

function headOf(stored: StoredRow) {
  return { messageSeq: stored.messageSeq, nextMessageAt: stored.nextMessageAt, readyAt: stored.readyAt };
}

describe('write-set translation: every queued message is within its instance\u2019s messageSeq (what a claim reads up to)', () => {
  /** The messageSeq each instance document gets in `writes`, by stored key. */
  function seqsWritten(writes: readonly MongoWrite[]): Map<string, number> {
    const seqs = new Map<string, number>();
    for (const w of writes) {
      if (w.op === 'setQueue') seqs.set(w.instanceKey, w.fields.messageSeq);
      if (w.op === 'insertInstance' || w.op === 'replaceInstance') seqs.set(w.doc._id, w.doc.messageSeq);
      if (w.op === 'updateInstance') seqs.set(w.instanceKey, w.queue.kind === 'set' ? w.queue.head.messageSeq : w.queue.messageSeq);
    }
    return seqs;
  }

  it('writes each message\u2019s instance a messageSeq at or above its seq, in the same write set, for every way a message is queued', () => {
    const lease = { kind: 'orchestration', instanceId: 'a', token: 'lease-1' } as const;
    const child = state('c', { runtimeStatus: 'Pending', historyLength: 0, version: 1, parentInstanceId: 'a' });
    const fresh = state('n', { runtimeStatus: 'Pending', historyLength: 0, version: 1 });
    const terminal = state('t', { runtimeStatus: 'Completed' });
    const timer: OrchestrationMessage = { ...raised('a', 'timer'), visibleAt: at(60_000) };
    const cases: [string, WriteSet, Record<string, { state: InstanceState; row: StoredRow }>][] = [
      ['messages to an instance', { requests: [1, 2, 3].map((i) => ({ type: 'insertMessage', message: raised('b', `m${i}`), ifMissing: 'fail' })) },
        { b: { state: state('b'), row: row({ messageSeq: 40 }) } }],
      ['a new instance', { requests: [{ type: 'createInstance', state: fresh, message: started(fresh), ifRunning: { kind: 'fail' } }] }, {}],
      ['a restart of a terminal id', {
        requests: [{ type: 'createInstance', state: { ...terminal, runtimeStatus: 'Pending', executionId: 'exec-2' }, message: started({ ...terminal, executionId: 'exec-2' }), ifRunning: { kind: 'fail' } }],
      }, { t: { state: terminal, row: row({ messageSeq: 7 }) } }],
      ['a step: a timer to itself, a message to another, a sub-orchestration, messages consumed', {
        lease,
        requests: [
          { type: 'deleteMessages', instanceId: 'a', messageIds: ['m1'] },
          { type: 'insertMessage', message: timer, ifMissing: 'drop' },
          { type: 'insertMessage', message: raised('b', 'to-b'), ifMissing: 'drop' },
          { type: 'createInstance', state: child, message: started(child), ifRunning: { kind: 'fail' } },
          { type: 'replaceState', state: state('a', { version: 5 }) },
        ],
      }, { a: { state: state('a'), row: row({ leaseExpiresAt: at(30_000) }) }, b: { state: state('b'), row: row({ messageSeq: 2 }) } }],
    ];
    for (const [what, writeSet, stored] of cases) {
      const writes = translate(writeSet, stored);
      const seqs = seqsWritten(writes);
      const docs = writes.flatMap((w) => (w.op === 'insertMessages' ? w.docs : []));
      expect(docs.length, what).toBeGreaterThan(0);
      for (const doc of docs) {
        const written = seqs.get(doc.instanceId);
        expect(written, `${what}: messageSeq of ${doc.instanceId}`).toBeDefined();
        expect(doc.seq, `${what}: ${doc.id}`).toBeLessThanOrEqual(written!);
        expect(doc.seq, `${what}: ${doc.id} after the stored sequence`).toBeGreaterThan(stored[doc.instanceId]?.row.messageSeq ?? 0);
      }
    }
  });
});

describe('the commit\u2019s read of each instance it takes (TAKEN_INSTANCE_PROJECTION)', () => {
  it('brings every field the plan and its translation use, and of the input its size only', () => {
    // Typed: a field added to a stored row and not to the projection fails `npm run typecheck` here (vitest strips the
    // types and runs it anyway); the list of keys below pins the projection itself at run time.
    const named: Record<Exclude<keyof TakenInstanceDoc, '_id'>, unknown> = TAKEN_INSTANCE_PROJECTION;
    expect(Object.keys(named).sort()).toEqual(['historyGen', 'inputBytes', 'leaseExpiresAt', 'leaseRead', 'leaseSeq', 'leaseToken', 'messageSeq', 'nextMessageAt', 'readyAt', 'state']);
    expect(TAKEN_INSTANCE_PROJECTION).not.toHaveProperty('input');
    // The size is taken of text only ($strLenBytes raises on anything else, failing the commit); otherwise left out.
    expect(TAKEN_INSTANCE_PROJECTION.inputBytes).toEqual({ $cond: [{ $eq: [{ $type: '$input' }, 'string'] }, { $strLenBytes: '$input' }, '$$REMOVE'] });
  });
});
