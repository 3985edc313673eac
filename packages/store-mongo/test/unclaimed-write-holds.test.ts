import type { InstanceState, OrchestrationMessage, UnclaimedLease } from '@durable-rx/runtime/store-kit';
import { LeaseLostError } from '@durable-rx/runtime';
import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { CLAIM_MESSAGE_BYTES } from '../src/claimed-work.js';
import { encodeMessage, EPOCH, messageDoc } from '../src/documents.js';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';
import { UNCLAIMED_SCAN_LIMIT } from '../src/queries.js';
import { unclaimedWriteRefusal, type TakenInstance } from '../src/unclaimed-write-holds.js';
import { countedIterable as cursorOf } from './support/counted-iterable.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const state: InstanceState = {
  instanceId: 'a', name: 'Orch', runtimeStatus: 'Pending', createdTime: T0, lastUpdatedTime: T0, executionId: 'e1', historyLength: 0, version: 1,
};
const lease: UnclaimedLease = { kind: 'unclaimed', instanceId: 'a', executionId: 'e1', version: 1, now: at(10_000) };
const free: TakenInstance = { state, doc: { leaseExpiresAt: EPOCH } };
const leasedUntil = (ms: number): TakenInstance => ({ state, doc: { leaseExpiresAt: at(ms) } });

const start: OrchestrationMessage = {
  id: 'start', instanceId: 'a',
  event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Orch', instanceId: 'a', executionId: 'e1' },
};
const raised = (id: string): OrchestrationMessage => ({
  id, instanceId: 'a', event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go' },
});
/** Message documents as MongoStore writes them (the real encoder). */
const docs = (...messages: OrchestrationMessage[]) => messages.map((m, i) => messageDoc(encodeMessage(m, MAX_PAYLOAD_BYTES, T0), i + 1));

describe('an unclaimed write (a client\u2019s own terminate, suspend or resume) on MongoStore', () => {
  it('holds on a free instance at the version read whose only visible message is the start of that execution', async () => {
    expect(await unclaimedWriteRefusal(lease, free, cursorOf([]))).toBeUndefined();
    expect(await unclaimedWriteRefusal(lease, free, cursorOf(docs(start)))).toBeUndefined();
  });

  it('takes over an expired lease, never a live one (a worker running a step of the instance)', async () => {
    expect(await unclaimedWriteRefusal(lease, leasedUntil(10_000), cursorOf([]))).toBeUndefined();
    expect(await unclaimedWriteRefusal(lease, leasedUntil(10_001), cursorOf([]))).toBeInstanceOf(LeaseLostError);
  });

  it('refuses a gone instance, another version or another execution without reading any message', async () => {
    for (const taken of [undefined, { ...free, state: { ...state, version: 2 } }, { ...free, state: { ...state, executionId: 'e2' } }]) {
      const cursor = cursorOf(docs(start));
      expect(await unclaimedWriteRefusal(lease, taken, cursor)).toBeInstanceOf(LeaseLostError);
      expect(cursor.taken).toBe(0);
    }
  });

  it('refuses while a message committed before it is visible, reading no further than that message', async () => {
    const cursor = cursorOf(docs(start, raised('m1'), raised('m2'), raised('m3')));
    expect(await unclaimedWriteRefusal(lease, free, cursor)).toBeInstanceOf(LeaseLostError);
    expect(cursor.taken).toBe(2);
  });

  it('refuses on another execution\u2019s start (an instance continued as new, its next start queued)', async () => {
    const next: OrchestrationMessage = { ...start, id: 'next', event: { ...start.event, executionId: 'e2' } as OrchestrationMessage['event'] };
    expect(await unclaimedWriteRefusal(lease, free, cursorOf(docs(next)))).toBeInstanceOf(LeaseLostError);
  });

  it('lets a terminate, suspend or resume go ahead of queued events, not of a command queued before it, reading no further than that command', async () => {
    const queued = (event: OrchestrationMessage['event']): OrchestrationMessage => ({ id: event.type, instanceId: 'a', event });
    const commands = [
      queued({ type: 'ExecutionSuspended', eventId: -1, timestamp: T0.toISOString(), reason: 'queued' }),
      queued({ type: 'ExecutionResumed', eventId: -1, timestamp: T0.toISOString() }),
      queued({ type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString(), reason: 'first' }),
    ];
    for (const command of ['terminate', 'suspend', 'resume'] as const) {
      const commandLease: UnclaimedLease = { ...lease, command };
      const events = cursorOf(docs(start, raised('m1'), raised('m2')));
      expect(await unclaimedWriteRefusal(commandLease, free, events)).toBeUndefined();
      expect(events.taken).toBe(3);
      for (const first of commands) {
        const behind = cursorOf(docs(start, raised('m1'), first, raised('m2')));
        expect(await unclaimedWriteRefusal(commandLease, free, behind), `${command} behind ${first.event.type}`).toBeInstanceOf(LeaseLostError);
        expect(behind.taken).toBe(3);
      }
    }
    // Still refused while a worker holds the instance.
    expect(await unclaimedWriteRefusal({ ...lease, command: 'terminate' }, leasedUntil(10_001), cursorOf([]))).toBeInstanceOf(LeaseLostError);
  });

  it('refuses a terminate, suspend or resume past the scan limit, reading one message more than it and no further', async () => {
    const many = (n: number) => docs(start, ...Array.from({ length: n - 1 }, (_, i) => raised(`m${i}`)));
    for (const command of ['terminate', 'suspend', 'resume'] as const) {
      const commandLease: UnclaimedLease = { ...lease, command };
      const atLimit = cursorOf(many(4));
      expect(await unclaimedWriteRefusal(commandLease, free, atLimit, { scanLimit: 4 })).toBeUndefined();
      expect(atLimit.taken).toBe(4);
      const past = cursorOf(many(10));
      expect(await unclaimedWriteRefusal(commandLease, free, past, { scanLimit: 4 })).toBeInstanceOf(LeaseLostError);
      expect(past.taken).toBe(5);
    }
  });

  it('reads at most UNCLAIMED_SCAN_LIMIT messages unless told fewer, the limit MongoStore\u2019s check runs with', async () => {
    const many = (n: number) => docs(start, ...Array.from({ length: n - 1 }, (_, i) => raised(`m${i}`)));
    const suspend: UnclaimedLease = { ...lease, command: 'suspend' };
    const atLimit = cursorOf(many(UNCLAIMED_SCAN_LIMIT));
    expect(await unclaimedWriteRefusal(suspend, free, atLimit)).toBeUndefined();
    expect(atLimit.taken).toBe(UNCLAIMED_SCAN_LIMIT);
    const past = cursorOf(many(UNCLAIMED_SCAN_LIMIT + 10));
    expect(await unclaimedWriteRefusal(suspend, free, past)).toBeInstanceOf(LeaseLostError);
    expect(past.taken).toBe(UNCLAIMED_SCAN_LIMIT + 1);
  });

  it('names, refused while a claim holds the instance, the last suspend or resume among the messages up to the seq its lease write read', async () => {
    const command = (type: 'ExecutionSuspended' | 'ExecutionResumed', id: string): OrchestrationMessage => ({
      id, instanceId: 'a', event: { type, eventId: -1, timestamp: T0.toISOString() },
    });
    const queue = docs(start, command('ExecutionSuspended', 's1'), raised('m1'), command('ExecutionResumed', 'r1'), command('ExecutionSuspended', 's2'));
    const claimedUpTo = (seq: number | undefined): TakenInstance => ({ state, doc: { leaseExpiresAt: at(10_001), leaseSeq: seq } });
    const refusalOf = async (taken: TakenInstance) => (await unclaimedWriteRefusal(lease, taken, cursorOf(queue)))?.claimedCommand;
    expect(await refusalOf(claimedUpTo(2))).toBe('suspend');
    expect(await refusalOf(claimedUpTo(4))).toBe('resume');
    expect(await refusalOf(claimedUpTo(1))).toBeUndefined();
    // No seq recorded (a lease written before it was), or a lease that expired: nothing named.
    expect(await refusalOf(claimedUpTo(undefined))).toBeUndefined();
    const expired = await unclaimedWriteRefusal({ ...lease, command: 'resume' }, { state, doc: { leaseExpiresAt: at(10_000), leaseSeq: 5 } }, cursorOf(queue));
    expect(expired).toBeInstanceOf(LeaseLostError); // behind the suspend queued first, taken over with the lease
    expect(expired?.claimedCommand).toBeUndefined();
    // Read no further than the seq recorded.
    const cursor = cursorOf(queue);
    await unclaimedWriteRefusal(lease, claimedUpTo(2), cursor);
    expect(cursor.taken).toBe(3);
  });

  it('names, under a lease whose claim recorded how it read, the last suspend or resume it handed out, not one a capped claim left queued', async () => {
    const command = (type: 'ExecutionSuspended' | 'ExecutionResumed', id: string): OrchestrationMessage => ({
      id, instanceId: 'a', event: { type, eventId: -1, timestamp: T0.toISOString(), reason: id },
    });
    // Two commands queued, then a claim of at most 2 messages at 5000: it hands out the start and the suspend; the
    // resume (seq 3) stays queued, though its lease write read messageSeq 3.
    const queue = docs(start, command('ExecutionSuspended', 's1'), command('ExecutionResumed', 'r1'));
    const read = { token: 'w-token', at: at(5000), limit: 2, bytes: CLAIM_MESSAGE_BYTES };
    const held = (over: Partial<TakenInstance['doc']> = {}): TakenInstance => ({
      state, doc: { leaseExpiresAt: at(10_001), leaseSeq: 3, leaseToken: 'w-token', leaseRead: read, ...over },
    });
    const asked: { at: number; limit: number; upToSeq: number }[] = [];
    /** The claim's own read, as MongoStore runs it: its first `limit` messages up to `upToSeq`. */
    const claimed = (r: typeof read, upToSeq: number) => {
      asked.push({ at: r.at.getTime(), limit: r.limit, upToSeq });
      return cursorOf(queue.filter((doc) => doc.seq <= upToSeq).slice(0, r.limit));
    };
    const resume: UnclaimedLease = { ...lease, command: 'resume' };
    // The client's resume: that step commits Suspended first, so the call waits for it (before: 'resume', the one
    // left queued, and the call resolved at once while the step was still to commit Suspended).
    expect((await unclaimedWriteRefusal(resume, held(), cursorOf(queue), { claimed }))?.claimedCommand).toBe('suspend');
    expect(asked).toEqual([{ at: at(5000).getTime(), limit: 2, upToSeq: 3 }]);
    // Within its bytes too: a budget below the second message's leaves the start alone, no command taken.
    const small = { ...read, bytes: Buffer.byteLength(queue[0]!.message, 'utf8') };
    expect((await unclaimedWriteRefusal(resume, held({ leaseRead: small }), cursorOf(queue), { claimed }))?.claimedCommand).toBeUndefined();
    // A record another claim left (its token is not the lease's), or none (an earlier version's claim): every visible
    // message up to leaseSeq counts, as before.
    for (const over of [{ leaseToken: 'other' }, { leaseRead: undefined }]) {
      const refusal = await unclaimedWriteRefusal(resume, held(over), cursorOf(queue), { claimed });
      expect(refusal?.claimedCommand, JSON.stringify(over)).toBe('resume');
    }
  });

  it('fails on a message that does not decode rather than overtake it', async () => {
    await expect(unclaimedWriteRefusal(lease, free, cursorOf([{ message: '{not json' }]))).rejects.toMatchObject({ code: 'store-error' });
  });
});
