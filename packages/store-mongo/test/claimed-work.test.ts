import type { ActivityTask, InstanceState, OrchestrationMessage } from '@durable-rx/runtime/store-kit';
import { newLease, UnconfirmedClaims } from '@durable-rx/runtime/store-kit';
import { BSON, MongoNetworkError, MongoServerError, MongoServerSelectionError, MongoTopologyClosedError, MongoWriteConcernError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { ALL_RUNTIME_STATUSES, StoreClosedError } from '@durable-rx/runtime';
import {
  CLAIM_MESSAGE_BYTES, CLAIM_RACE_ATTEMPTS, CLAIM_WITHOUT_INPUT, CLAIMED_INSTANCE_PROJECTION, CLAIM_READ_MARGIN_MS, CLAIM_READ_MAX_MS, claimFirstReadable, claimReadBound, claimReadFailure, keepUnconfirmedLease,
  readClaimedInstance, readClaimedTask, takeWithinBytes, UNREADABLE_SKIPS, unreadableMessages, unreleasedClaimWarning, type ClaimReading,
} from '../src/claimed-work.js';
import { mapDriverError } from '../src/map-driver-error.js';
import { mergeBySeq } from '../src/merge-by-seq.js';
import { emptyQueueHead, encodeInstanceState, encodeMessage, instanceDoc, messageDoc, taskDoc } from '../src/documents.js';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const lease = newLease({ owner: 'w', leaseMs: 30_000, now: T0 }, 'tok');

const state: InstanceState = {
  instanceId: 'order-1', name: 'Orch', runtimeStatus: 'Running', createdTime: T0, lastUpdatedTime: T0, executionId: 'e1', historyLength: 3, version: 1,
};
const message: OrchestrationMessage = {
  id: 'm1', instanceId: 'order-1', event: { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go', input: 1 },
};
// Documents as the store writes them (the real encoders), and as another program or version might leave them.
const doc = instanceDoc(state, encodeInstanceState(state, MAX_PAYLOAD_BYTES), emptyQueueHead(0), 'g1');
const stored = [messageDoc(encodeMessage(message, MAX_PAYLOAD_BYTES, T0), 1)];

describe('what a claim makes of the documents it leased', () => {
  it('a work item of the decoded state and messages, under the claim\'s lease', () => {
    expect(readClaimedInstance(doc, stored, lease)).toEqual({ kind: 'hand-out', item: { state, messages: [message], lease } });
  });

  it('no messages: the instance went between the lease and the read (released, looked for again)', () => {
    expect(readClaimedInstance(doc, [], lease)).toEqual({ kind: 'no-messages' });
  });

  it('an unreadable state or message is skipped (with the message to log), not thrown, so the claim can keep the lease and take the next work', () => {
    for (const [what, bad, messages] of [
      ['state not JSON', { ...doc, state: '{not json' }, stored],
      ['state of another shape', { ...doc, state: JSON.stringify({ hello: 'world' }) }, stored],
      ['message not JSON', doc, [{ message: 'oops' }]],
      ['message of another shape', doc, [{ message: JSON.stringify({ id: 1 }) }]],
    ] as const) {
      const reading = readClaimedInstance(bad, messages, lease);
      expect(reading.kind, what).toBe('skip');
      expect(reading.kind === 'skip' && reading.error, what).toMatchObject({ code: 'store-error' });
      expect(reading.kind === 'skip' && reading.message, what).toMatch(/instance "order-1"/);
    }
  });

  it('an escaped key is read as its instance id', () => {
    const odd: InstanceState = { ...state, instanceId: 'x\uD800' };
    const oddDoc = instanceDoc(odd, encodeInstanceState(odd, MAX_PAYLOAD_BYTES), emptyQueueHead(0), 'g1');
    expect(readClaimedInstance(oddDoc, [{ message: 'oops' }], lease)).toMatchObject({ kind: 'skip', message: expect.stringContaining(JSON.stringify('x\uD800')) });
  });

  it('an activity task decodes, or is skipped', () => {
    const task: ActivityTask = { id: 't1', instanceId: 'order-1', executionId: 'e1', name: 'Act', taskScheduledId: 0, attempt: 1 };
    expect(readClaimedTask(taskDoc(task, MAX_PAYLOAD_BYTES, T0), lease)).toEqual({ kind: 'hand-out', item: { task, lease } });
    expect(readClaimedTask({ _id: 't1', task: '[]' }, lease)).toMatchObject({ kind: 'skip', message: expect.stringMatching(/activity task "t1"/) });
  });
});

describe('what a claim reads of the instance it leases (CLAIMED_INSTANCE_PROJECTION)', () => {
  /**
   * The projection as MongoDB applies it to one document, for the operators it uses: `1` (the field), `$cond`, `$in`
   * over a field path and a literal array, a field path, `$$REMOVE` (the field left out); `_id` always.
   */
  const project = (stored: Record<string, unknown>, projection: Record<string, unknown>): Record<string, unknown> => {
    const value = (expression: unknown): unknown => {
      if (expression === '$$REMOVE') return undefined;
      if (typeof expression === 'string' && expression.startsWith('$')) return stored[expression.slice(1)];
      if (Array.isArray(expression)) return expression.map(value);
      if (typeof expression === 'object' && expression !== null) {
        const [[operator, args]] = Object.entries(expression) as [[string, unknown[]]];
        if (operator === '$cond') return value(args[0]) ? value(args[1]) : value(args[2]);
        if (operator === '$in') return (value(args[1]) as unknown[]).includes(value(args[0]));
        throw new Error(`operator ${operator} is not modelled here`);
      }
      return expression;
    };
    const out: Record<string, unknown> = { _id: stored['_id'] };
    for (const [field, expression] of Object.entries(projection)) {
      const projected = expression === 1 ? stored[field] : value(expression);
      if (projected !== undefined) out[field] = projected;
    }
    return out;
  };

  it('leaves the input of a Running instance out, and gives it for every other status (and nothing of the lease or queue)', () => {
    expect(CLAIM_WITHOUT_INPUT).toEqual(['Running']);
    const started: InstanceState = { ...state, runtimeStatus: 'Pending', input: { order: 42 } };
    for (const runtimeStatus of ALL_RUNTIME_STATUSES) {
      const withStatus: InstanceState = { ...started, runtimeStatus };
      const leased = instanceDoc(withStatus, encodeInstanceState(withStatus, MAX_PAYLOAD_BYTES), emptyQueueHead(7), 'g1') as unknown as Record<string, unknown>;
      const read = project(leased, CLAIMED_INSTANCE_PROJECTION);
      const running = runtimeStatus === 'Running';
      expect(Object.keys(read).sort(), runtimeStatus).toEqual(running ? ['_id', 'messageSeq', 'state'] : ['_id', 'input', 'messageSeq', 'state']);
      expect(read['messageSeq']).toBe(7);
      // The state read decodes with the input for a claim that carries it, without it for a Running instance.
      const reading = readClaimedInstance(read as never, stored, lease);
      expect(reading.kind === 'hand-out' && reading.item.state, runtimeStatus).toEqual(running ? { ...withStatus, input: undefined } : withStatus);
      expect(reading.kind === 'hand-out' && 'input' in reading.item.state, runtimeStatus).toBe(!running);
    }
  });

  it('gives a document written before the input had a field of its own its input whatever the status (it is inside the state)', () => {
    const running: InstanceState = { ...state, input: { order: 42 } };
    const { input: _input, ...legacy } = instanceDoc(running, encodeInstanceState(running, MAX_PAYLOAD_BYTES), emptyQueueHead(1), 'g1');
    const read = project({ ...legacy, state: JSON.stringify(running) }, CLAIMED_INSTANCE_PROJECTION);
    expect(read).not.toHaveProperty('input');
    expect(readClaimedInstance(read as never, stored, lease)).toMatchObject({ kind: 'hand-out', item: { state: { input: { order: 42 } } } });
  });
});

describe('the claim loop', () => {
  /** A claim that reads `readings` in turn, then finds nothing; counts how many it leased. */
  const queue = (readings: ClaimReading<string>[]) => {
    let leased = 0;
    const next = async (): Promise<ClaimReading<string> | undefined> => {
      const reading = readings[leased];
      if (reading) leased++;
      return reading;
    };
    return { next, leased: () => leased };
  };
  const unreadable: ClaimReading<string> = { kind: 'skip', message: 'corrupt', error: new Error('corrupt') };
  const gone: ClaimReading<string> = { kind: 'no-messages' };

  it('skips unreadable work at the head of the queue and takes the readable work behind it', async () => {
    const q = queue([...Array<ClaimReading<string>>(10).fill(unreadable), { kind: 'hand-out', item: 'readable' }]);
    expect(await claimFirstReadable(q.next)).toBe('readable');
    expect(q.leased()).toBe(11);
  });

  it('gives up after CLAIM_RACE_ATTEMPTS instances whose messages went, whatever it skipped before', async () => {
    const q = queue([unreadable, gone, unreadable, gone, gone, { kind: 'hand-out', item: 'later' }]);
    expect(await claimFirstReadable(q.next)).toBeUndefined();
    expect(q.leased()).toBe(2 + CLAIM_RACE_ATTEMPTS);
  });

  it('gives up after UNREADABLE_SKIPS unreadable documents (each kept leased, so the next claim goes on past them)', async () => {
    const q = queue([...Array<ClaimReading<string>>(UNREADABLE_SKIPS).fill(unreadable), { kind: 'hand-out', item: 'later' }]);
    expect(await claimFirstReadable(q.next)).toBeUndefined();
    expect(q.leased()).toBe(UNREADABLE_SKIPS);
  });

  it('ends when nothing is claimable', async () => {
    const q = queue([unreadable, gone]);
    expect(await claimFirstReadable(q.next)).toBeUndefined();
    expect(q.leased()).toBe(2);
  });
});

describe('a claim whose lease write MongoDB could not confirm', () => {
  const later = new Date(T0.getTime() + 1_000);
  const kept = (error: unknown) => {
    const claims = new UnconfirmedClaims();
    const taken = keepUnconfirmedLease(claims, lease, error, 'claiming an activity task');
    expect(claims.pending('w', later).length).toBe(taken ? 1 : 0);
    return taken;
  };

  it('keeps its lease to look up when the write may have applied: a write concern error, a connection lost, no primary to retry on', () => {
    // The primary applied the lease; no majority acknowledged it within 30 s, or the primary stepped down while it waited.
    expect(kept(new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 64, codeName: 'WriteConcernTimeout', errmsg: 'timed out' } }))).toBe(true);
    expect(kept(new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'shutdown' } }))).toBe(true);
    // The driver's retry of the write lost its connection too, or found no primary: the first attempt may have applied.
    expect(kept(new MongoNetworkError('connection reset'))).toBe(true);
    expect(kept(new MongoServerSelectionError('no primary', { type: 'ReplicaSetNoPrimary', servers: new Map() } as never))).toBe(true);
  });

  it('keeps nothing when the server refused the write or the write concern can never be met', () => {
    expect(kept(new MongoServerError({ ok: 0, errmsg: 'bad hint', code: 2, codeName: 'BadValue' }))).toBe(false);
    expect(kept(new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 79, codeName: 'UnknownReplWriteConcern', errmsg: 'no such tag' } }))).toBe(false);
    expect(kept(new Error('not a driver error'))).toBe(false);
  });
});

describe('a claim\'s reads are bounded', () => {
  it('in time: by the lease\'s length (at most 30 s) on the server, and a deadline after it for a server that never answers', () => {
    // In the claim's causally consistent session a majority read after a lease write MongoDB could not confirm waits
    // for the majority commit point; without maxTimeMS, for as long as no majority answers.
    const bound = claimReadBound(30_000);
    expect(bound.maxTimeMS).toBe(30_000);
    expect(bound.signal).toBeInstanceOf(AbortSignal);
    expect(bound.signal.aborted).toBe(false);
    expect(claimReadBound(5_000).maxTimeMS).toBe(5_000);
    expect(claimReadBound(10 * 60_000).maxTimeMS).toBe(CLAIM_READ_MAX_MS);
    expect(claimReadBound(0.5).maxTimeMS).toBe(1); // the server refuses maxTimeMS 0 as "no limit"; never sent
    expect(CLAIM_READ_MARGIN_MS).toBeGreaterThan(0);
    // What the server answers when the bound runs out: retryable (503), nothing written, not a 500 the worker logs as a fault.
    const expired = new MongoServerError({ message: 'Command timed out waiting for read concern to be satisfied', code: 50, codeName: 'MaxTimeMSExpired' });
    expect(mapDriverError(expired, 'claiming an orchestration work item')).toMatchObject({ code: 'unavailable', status: 503, cause: expired });
  });

  it('in bytes: messages are taken while their stored text fits the budget, always the first, and no further document is read', async () => {
    const MiB = 1024 * 1024;
    let pulled = 0;
    async function* cursor(sizes: number[]) {
      for (const size of sizes) {
        pulled++;
        yield { message: 'x'.repeat(size) };
      }
    }
    const sizes = (docs: { message: string }[]) => docs.map((d) => d.message.length);
    // Three of 3 MiB fit 8 MiB two at a time; the third is the first one past it, and the fourth is never read.
    expect(sizes(await takeWithinBytes(cursor([3 * MiB, 3 * MiB, 3 * MiB, 1]), CLAIM_MESSAGE_BYTES))).toEqual([3 * MiB, 3 * MiB]);
    expect(pulled).toBe(3);
    // One message larger than the budget is still handed out alone (the claim always makes progress).
    pulled = 0;
    expect(sizes(await takeWithinBytes(cursor([15 * MiB, 1]), CLAIM_MESSAGE_BYTES))).toEqual([15 * MiB]);
    expect(pulled).toBe(2);
    // Small messages are all taken (the count bound, the find's limit, applies as before).
    expect(await takeWithinBytes(cursor([10, 10, 10]), CLAIM_MESSAGE_BYTES)).toHaveLength(3);
    // The budget counts UTF-8 bytes, as MongoDB stores the text.
    expect(await takeWithinBytes((async function* () { yield { message: 'é'.repeat(3) }; yield { message: 'é'.repeat(3) }; })(), 11)).toHaveLength(1);
    expect(await takeWithinBytes(cursor([]), CLAIM_MESSAGE_BYTES)).toEqual([]);
  });
});

describe('a claim that could not read its messages nor release its lease', () => {
  it('warns naming the instance and when its lease lapses, until when no worker claims it', () => {
    const lease = newLease({ owner: 'w1', now: new Date('2026-12-05T01:00:00.000Z'), leaseMs: 30_000 }, 'token-1');
    const warning = unreleasedClaimWarning('order-\u00e9 "1"', lease);
    expect(warning).toContain(JSON.stringify('order-\u00e9 "1"'));
    expect(warning).toContain('2026-12-05T01:00:30.000Z');
  });
});

describe('a claim whose read of its instance\'s messages failed', () => {
  /** The error `read` rejects with (each is produced by the real code that meets such data). */
  const failureOf = async (read: () => Promise<unknown>): Promise<unknown> => read().then(() => undefined, (error: unknown) => error);
  async function* docs<T>(...items: T[]): AsyncGenerator<T> {
    yield* items;
  }

  it('skips (keeps the lease) what the stored messages cause, which every claim of every worker would meet again', async () => {
    // Text that is not valid UTF-8: the driver's BSON parser refuses the whole batch.
    const badUtf8 = BSON.serialize({ message: 'xy' });
    badUtf8.set([0xc3, 0x28], badUtf8.length - 4); // the string's two bytes become an invalid two-byte sequence
    const invalidText = await failureOf(async () => BSON.deserialize(badUtf8, { validation: { utf8: true } }));
    expect(invalidText).toMatchObject({ name: 'BSONError', message: expect.stringContaining('UTF-8') });
    // A message that is not a string: its size cannot be counted.
    const notAString = await failureOf(() => takeWithinBytes(docs({ message: 42 as unknown as string }), CLAIM_MESSAGE_BYTES));
    // A seq that is not a number: the merge cannot keep arrival order.
    const notANumber = await failureOf(async () => {
      for await (const _ of mergeBySeq(docs({ seq: 'x' as unknown as number }), docs<{ seq: number }>())) void _;
    });
    for (const error of [invalidText, notAString, notANumber]) {
      expect(error).toBeInstanceOf(Error);
      expect(claimReadFailure(error)).toBe('skip');
    }
  });

  it('releases the lease and fails the claim when the server or driver failed: the next claim may get through', () => {
    for (const error of [
      new MongoNetworkError('connection reset'),
      new MongoServerError({ ok: 0, code: 189, codeName: 'PrimarySteppedDown', errmsg: 'stepping down' }),
      new MongoServerError({ ok: 0, code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' }),
      new MongoServerError({ ok: 0, code: 13, codeName: 'Unauthorized', errmsg: 'not authorized' }),
      // A refusal of the command itself (a hinted index dropped by hand): a fault of the deployment, not of this instance.
      new MongoServerError({ ok: 0, code: 2, codeName: 'BadValue', errmsg: 'hint provided does not correspond to an existing index' }),
      new MongoTopologyClosedError(),
      new StoreClosedError('The store is closed'),
    ]) expect(claimReadFailure(error)).toBe('release');
  });

  it('a skipped instance reads as any unreadable work: logged with the instance, kept leased until the lease expires', () => {
    const error = new TypeError('The "string" argument must be of type string');
    const reading = unreadableMessages('order-1', lease, error);
    expect(reading).toMatchObject({ kind: 'skip', error });
    expect(reading.kind === 'skip' && reading.message).toContain('instance "order-1"');
    expect(reading.kind === 'skip' && reading.message).toContain(lease.expiresAt.toISOString());
  });
});
