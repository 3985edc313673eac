import type { HistoryEvent } from '@durable-rx/runtime';
import type { ActivityTask, InstanceState, OrchestrationMessage } from '@durable-rx/runtime/store-kit';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  claimAtOf, decodeHistoryEvent, decodeInstanceState, decodeMessage, decodeStoredState, decodeTask, EPOCH, emptyQueueHead, encodeHistoryEvent,
  encodeInstanceState, encodeMessage, encodeStateBesideInput, instanceDoc, lowerQueueHead, messageDoc, NEVER, purgeDocs, purgeMarkOf, queueFields, readyAtOf, taskDoc,
} from '../src/documents.js';
import { claimableAtMs } from '@durable-rx/runtime/store-kit';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';

const hostile = JSON.parse('{"__proto__":{"polluted":true},"$where":"1","a.b":{"$gt":1},"nested":[{"$set":null}]}') as unknown;
const T0 = new Date('2026-01-01T00:00:00.000Z');

const state: InstanceState = {
  instanceId: 'id.with$chars', name: 'Orch', runtimeStatus: 'Running', input: hostile, customStatus: hostile, output: hostile,
  failureDetails: { errorType: 'E', errorMessage: '$m.s', stackTrace: 'at x' }, createdTime: T0,
  lastUpdatedTime: new Date(T0.getTime() + 1234), parentInstanceId: 'p', executionId: 'exec-1', historyLength: 7, version: 3,
};

describe('instance documents', () => {
  it('round-trip the state exactly, Dates included', () => {
    const encoded = encodeInstanceState(state, MAX_PAYLOAD_BYTES);
    const decoded = decodeInstanceState(encoded.state, encoded.input);
    expect(decoded).toEqual(state);
    expect(decoded.createdTime).toBeInstanceOf(Date);
    expect(decoded.lastUpdatedTime.getTime()).toBe(T0.getTime() + 1234);
    expect(Object.keys(decoded.input as object)).toContain('__proto__');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it("round-trip a delayed start's scheduledStartTime as a Date, and refuse one that is no ISO date", () => {
    const delayed = { ...state, scheduledStartTime: new Date(T0.getTime() + 60_000) };
    const encoded = encodeInstanceState(delayed, MAX_PAYLOAD_BYTES);
    const decoded = decodeInstanceState(encoded.state, encoded.input);
    expect(decoded).toEqual(delayed);
    expect(decoded.scheduledStartTime).toBeInstanceOf(Date);
    expect('scheduledStartTime' in decodeInstanceState(encodeInstanceState(state, MAX_PAYLOAD_BYTES).state)).toBe(false);
    const corrupt = JSON.stringify({ ...JSON.parse(encoded.state), scheduledStartTime: 'soon' });
    expect(() => decodeInstanceState(corrupt)).toThrow(/scheduledStartTime/);
  });

  it('read one by one for a read of many instances: one that does not decode is reported and left out, the rest read', () => {
    const encoded = encodeInstanceState(state, MAX_PAYLOAD_BYTES);
    const unreadable: [string, unknown][] = [];
    const report = (key: string, error: unknown) => void unreadable.push([key, error]);
    const docs = [
      { _id: 'a', state: encoded.state, input: encoded.input },
      { _id: 'corrupt', state: '{not json' },
      { _id: 'foreign', state: '{"hello":1}' },
      { _id: 'b', state: encoded.state },
    ];
    const states = docs.flatMap((doc) => decodeStoredState(doc, report) ?? []);
    expect(states).toHaveLength(2);
    expect(states[0]).toEqual(state);
    expect(unreadable.map(([key]) => key)).toEqual(['corrupt', 'foreign']);
    expect(unreadable[0]![1]).toMatchObject({ code: 'store-error' });
  });

  it('keep the input apart from the snapshot a step rewrites, and no input as an empty text', () => {
    const encoded = encodeInstanceState(state, MAX_PAYLOAD_BYTES);
    expect(Object.keys(JSON.parse(encoded.state) as object)).not.toContain('input');
    expect(JSON.parse(encoded.input)).toEqual(hostile);
    const { input: _input, ...without } = state;
    const bare = encodeInstanceState(without, MAX_PAYLOAD_BYTES);
    expect(bare.input).toBe('');
    expect(decodeInstanceState(bare.state, bare.input)).toEqual(without);
    expect('input' in decodeInstanceState(bare.state, bare.input)).toBe(false);
    // A falsy input is an input.
    const zero = encodeInstanceState({ ...without, input: 0 }, MAX_PAYLOAD_BYTES);
    expect(decodeInstanceState(zero.state, zero.input).input).toBe(0);
  });

  it('count the input and the rest of the status together against the size limit', () => {
    const half = 'x'.repeat(600);
    expect(() => encodeInstanceState({ ...state, input: half, output: half, customStatus: undefined }, 1000))
      .toThrow(expect.objectContaining({ code: 'payload-too-large' }));
  });

  it('encode a state beside the input a document keeps: without the input, counting its stored bytes against the limit', () => {
    const { input: _input, ...rest } = state;
    const text = encodeStateBesideInput(state, MAX_PAYLOAD_BYTES, 10);
    expect(text).toBe(encodeInstanceState(state, MAX_PAYLOAD_BYTES).state);
    expect(decodeInstanceState(text)).toEqual(rest);
    const bytes = Buffer.byteLength(text);
    expect(() => encodeStateBesideInput(state, bytes + 10, 10)).not.toThrow();
    expect(() => encodeStateBesideInput(state, bytes + 10, 11)).toThrow(expect.objectContaining({ code: 'payload-too-large' }));
  });

  it('keep indexed copies of the queried fields and start with a free lease', () => {
    const head = { messageSeq: 4, nextMessageAt: EPOCH, readyAt: T0 };
    const doc = instanceDoc(state, encodeInstanceState(state, MAX_PAYLOAD_BYTES), head, 'gen-1');
    expect(doc).toMatchObject({
      _id: 'id.with$chars', runtimeStatus: 'Running', createdTime: T0, updatedAt: state.lastUpdatedTime, executionId: 'exec-1',
      version: 3, historyLength: 7, historyGen: 'gen-1', leaseOwner: null, leaseToken: null, leaseExpiresAt: EPOCH, messageSeq: 4,
      nextMessageAt: EPOCH, readyAt: T0,
    });
    expect(typeof doc.state).toBe('string');
    expect(typeof doc.input).toBe('string');
    // No user key ever becomes a field name.
    expect(Object.keys(doc).some((k) => k.startsWith('$') || k.includes('.'))).toBe(false);
  });

  it('refuse a state over the size limit', () => {
    const big = { ...state, input: 'x'.repeat(2000) };
    expect(() => encodeInstanceState(big, 1000)).toThrow(expect.objectContaining({ code: 'payload-too-large', status: 413 }));
  });

  it('report a malformed stored state as a store error', () => {
    expect(() => decodeInstanceState('{"instanceId":"a"}')).toThrow(expect.objectContaining({ code: 'store-error' }));
    expect(() => decodeInstanceState(JSON.stringify({ ...state, createdTime: 'yesterday' }))).toThrow(expect.objectContaining({ code: 'store-error' }));
  });

  it('mark "no pending message" with sentinels above every real value', () => {
    const head = emptyQueueHead(9);
    expect(head.messageSeq).toBe(9);
    expect(head.nextMessageAt.getTime()).toBeGreaterThan(new Date('9999-12-31').getTime());
    expect(head.readyAt).toBe(NEVER);
    expect(NEVER.getTime()).toBe(8_640_000_000_000_000);
  });
});

describe('message documents', () => {
  const timer: OrchestrationMessage = {
    id: 'm1', instanceId: 'a', executionId: 'exec-1', visibleAt: new Date(T0.getTime() + 60_000),
    event: { type: 'TimerFired', eventId: -1, timestamp: T0.toISOString(), timerId: 3, fireAt: new Date(T0.getTime() + 60_000).toISOString() },
  };
  const raised: OrchestrationMessage = {
    id: 'm2', instanceId: 'a', event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: '$evt.name', input: hostile },
  };

  it('round-trip with visibleAt restored as a Date and used as the due time', () => {
    const encoded = encodeMessage(timer, MAX_PAYLOAD_BYTES);
    expect(encoded.due).toEqual(timer.visibleAt);
    const doc = messageDoc(encoded, 5);
    expect(doc).toMatchObject({ instanceId: 'a', id: 'm1', seq: 5, due: timer.visibleAt });
    const decoded = decodeMessage(doc.message);
    expect(decoded).toEqual(timer);
    expect(decoded.visibleAt).toBeInstanceOf(Date);
  });

  it('are due at once (EPOCH) without visibleAt and keep hostile event data exactly', () => {
    const encoded = encodeMessage(raised, MAX_PAYLOAD_BYTES);
    expect(encoded.due).toEqual(EPOCH);
    const decoded = decodeMessage(messageDoc(encoded, 1).message);
    expect(decoded).toEqual(raised);
    expect('visibleAt' in decoded).toBe(false);
  });

  it('are ready (claim order) when they became visible: a timer at its fire time, an event when it was raised', () => {
    const writtenAt = new Date(T0.getTime() + 5_000);
    expect(readyAtOf(timer, writtenAt)).toEqual(timer.visibleAt);
    expect(readyAtOf(raised, writtenAt)).toEqual(T0);
    expect(encodeMessage(raised, MAX_PAYLOAD_BYTES, writtenAt).readyAt).toEqual(T0);
    // An event without a readable timestamp is ready when it was written.
    const odd = { ...raised, event: { ...raised.event, timestamp: 'not a date' } } as OrchestrationMessage;
    expect(readyAtOf(odd, writtenAt)).toEqual(writtenAt);
  });

  it('order a due timer before every message raised after it, whatever the backlog', () => {
    // 1000 events raised after the timer fired, queued on other instances: the claim sorts instances by their
    // earliest readyAt, so the timer's instance comes first; the filter (due) is independent of any clock.
    const fireAt = new Date(T0.getTime() + 60_000);
    const timerHead = lowerQueueHead(emptyQueueHead(0), [encodeMessage({ ...timer, visibleAt: fireAt }, MAX_PAYLOAD_BYTES)]);
    const backlog = Array.from({ length: 1000 }, (_, i) => lowerQueueHead(emptyQueueHead(0), [encodeMessage({
      ...raised, instanceId: `b${i}`, event: { ...raised.event, timestamp: new Date(fireAt.getTime() + 1 + i).toISOString() },
    } as OrchestrationMessage, MAX_PAYLOAD_BYTES)]));
    const order = [...backlog, timerHead].sort((a, b) => a.readyAt.getTime() - b.readyAt.getTime());
    expect(order[0]).toBe(timerHead);
    expect(timerHead.nextMessageAt).toEqual(fireAt);
    expect(backlog[0]!.nextMessageAt).toEqual(EPOCH);
  });

  it('lower an instance queue head by the messages added, counting them', () => {
    const head = { messageSeq: 7, nextMessageAt: NEVER, readyAt: new Date(T0.getTime() + 10) };
    const next = lowerQueueHead(head, [encodeMessage(timer, MAX_PAYLOAD_BYTES), encodeMessage(raised, MAX_PAYLOAD_BYTES)]);
    expect(next).toEqual({ messageSeq: 9, nextMessageAt: EPOCH, readyAt: T0 });
    expect(lowerQueueHead(head, [])).toEqual(head);
  });

  it('store the target under its key (lone surrogates escaped)', () => {
    const doc = messageDoc(encodeMessage({ ...raised, instanceId: 'x\uD800' }, MAX_PAYLOAD_BYTES), 1);
    expect(doc.instanceId).toBe('\uFFFF0078d800');
  });
});

describe('history and activity task documents', () => {
  it('round-trip history events', () => {
    const event: HistoryEvent = { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: '$evt.name', input: hostile };
    expect(decodeHistoryEvent(encodeHistoryEvent(event, MAX_PAYLOAD_BYTES))).toEqual(event);
  });

  it('round-trip activity tasks and start them unleased', () => {
    const task: ActivityTask = { id: 't1', instanceId: 'a', executionId: 'exec-1', name: 'Act', input: hostile, taskScheduledId: 2, attempt: 1 };
    const doc = taskDoc(task, MAX_PAYLOAD_BYTES, T0);
    expect(doc).toMatchObject({ _id: 't1', instanceId: 'a', executionId: 'exec-1', readyAt: T0, leaseToken: null, leaseExpiresAt: EPOCH });
    expect(decodeTask(doc.task)).toEqual(task);
    expect(() => taskDoc({ ...task, input: 'x'.repeat(100) }, 50)).toThrow(expect.objectContaining({ code: 'payload-too-large' }));
  });
});

describe('claimAt: when an instance can be claimed, written with its lease and queue', () => {
  const at = (ms: number) => new Date(T0.getTime() + ms);

  it('is the shared claimableAtMs of the lease and the earliest due message, NEVER without messages', () => {
    const leases = [EPOCH, at(-5_000), at(30_000)];
    const dues = [EPOCH, at(-1), at(60_000), at(86_400_000)];
    for (const lease of leases) {
      for (const due of dues) expect(claimAtOf(lease, due).getTime(), `${lease.toISOString()} ${due.toISOString()}`).toBe(claimableAtMs(lease, due.getTime()));
      expect(claimAtOf(lease, NEVER)).toEqual(NEVER);
    }
  });

  it('is EPOCH exactly for a message visible at once without a lease: claimable whatever the claimer\u2019s clock', () => {
    expect(claimAtOf(EPOCH, EPOCH)).toEqual(EPOCH);
    expect(claimAtOf(at(30_000), EPOCH)).toEqual(at(30_000));
    expect(claimAtOf(EPOCH, at(60_000))).toEqual(at(60_000));
  });

  it('is set on a new instance from its queue (free lease): its start message makes it claimable at once', () => {
    const encoded = encodeInstanceState(state, MAX_PAYLOAD_BYTES);
    const start = encodeMessage({ id: 'm', instanceId: state.instanceId, event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go' } }, MAX_PAYLOAD_BYTES);
    expect(instanceDoc(state, encoded, lowerQueueHead(emptyQueueHead(0), [start]), 'g').claimAt).toEqual(EPOCH);
    expect(instanceDoc(state, encoded, emptyQueueHead(0), 'g').claimAt).toEqual(NEVER);
    const timer = encodeMessage({ id: 't', instanceId: state.instanceId, visibleAt: at(86_400_000), event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go' } }, MAX_PAYLOAD_BYTES);
    expect(instanceDoc(state, encoded, lowerQueueHead(emptyQueueHead(0), [timer]), 'g').claimAt).toEqual(at(86_400_000));
  });

  it('comes with the queue head it was computed from', () => {
    expect(queueFields({ messageSeq: 3, nextMessageAt: at(5), readyAt: at(1) }, at(9))).toEqual({
      messageSeq: 3, nextMessageAt: at(5), readyAt: at(1), claimAt: at(9),
    });
  });
});

describe('purge records', () => {
  it('name each purged instance by its key and the purge time', () => {
    const docs = purgeDocs(['a', 'b'], T0);
    expect(docs.map((d) => [d.instanceId, d.purgedAt])).toEqual([['a', T0], ['b', T0]]);
    expect(new Set(docs.map((d) => d._id.toHexString())).size).toBe(2);
  });
});

describe('purge marks', () => {
  it('name the snapshot a purge deletes by the copies every snapshot writes: its execution and version', () => {
    const doc = instanceDoc(state, encodeInstanceState(state, MAX_PAYLOAD_BYTES), emptyQueueHead(0), 'gen');
    expect(purgeMarkOf(doc)).toEqual({ executionId: 'exec-1', version: 3 });
  });

  it('name nothing for a document without those copies (not written by MongoStore)', () => {
    for (const doc of [{}, { executionId: 'e' }, { version: 3 }, { executionId: 'e', version: '3' }, { executionId: 'e', version: 0 }, { executionId: 'e', version: 1.5 }]) {
      expect(purgeMarkOf(doc)).toBeUndefined();
    }
  });
});
