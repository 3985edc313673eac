import { describe, expect, it } from 'vitest';
import type { InstanceState } from '../src/model/instance-status.js';
import { StoredState } from '../src/store/stored-state.js';

const plain: InstanceState = {
  instanceId: 'plain', name: 'Hello', runtimeStatus: 'Running', createdTime: new Date('2026-12-03T10:00:00.000Z'),
  lastUpdatedTime: new Date('2026-12-03T10:00:01.500Z'), executionId: 'e1', historyLength: 3, version: 2, input: { n: 1 },
};

const full: InstanceState = {
  ...plain, instanceId: 'full', runtimeStatus: 'Failed', output: 'out', customStatus: ['s'],
  failureDetails: { errorType: 'Error', errorMessage: 'boom' }, parentInstanceId: 'parent', historyEpoch: 2,
  heldSuspend: { resumeTo: 'Pending', timestamp: '2026-12-03T10:00:00.000Z', reason: 'r' },
  held: { executionId: 'e1', commands: [{ type: 'ExecutionSuspended', eventId: -1, timestamp: '2026-12-03T10:00:00.000Z', reason: 'r' }] },
  rerun: { type: 'ExecutionRewound', eventId: -1, timestamp: '2026-12-03T10:00:00.000Z' }, suspension: { version: 2, kept: true },
  parentCall: { executionId: 'pe', taskScheduledId: 4 }, previousHistory: { execution: 'e1/1', events: 9 },
  continuedAt: '2026-12-03T09:59:00.000Z', lineage: { copiedGuids: [{ seed: 'src_e1', name: '_2026-12-06T02:00:00.000Z_0' }], forkedFrom: ['src'] },
};

const child: InstanceState = { ...plain, instanceId: 'child', parentInstanceId: 'parent', parentCall: { executionId: 'pe', taskScheduledId: 0 } };

/** An instance that continued as new (or was restarted): the history before its current one, and nothing else rare. */
const continued: InstanceState = { ...plain, instanceId: 'continued', executionId: 'e2', previousHistory: { execution: 'e1/0', events: 4 } };

describe('StoredState (how MemoryStore keeps an instance\'s state)', () => {
  it('reads back every field it was given, as the state and through the state\'s own fields', () => {
    for (const state of [plain, full, child, continued]) {
      const stored = new StoredState(state);
      expect(stored.toState()).toStrictEqual(state);
      for (const key of Object.keys(state) as (keyof InstanceState)[]) expect(stored[key]).toStrictEqual(state[key]);
    }
    // Fields a state does not have read as absent.
    const stored = new StoredState(plain);
    expect([
      stored.failureDetails, stored.parentInstanceId, stored.historyEpoch, stored.heldSuspend, stored.held, stored.rerun, stored.parentCall, stored.output,
      stored.previousHistory, stored.continuedAt, stored.lineage, stored.suspension,
    ]).toStrictEqual(new Array(12).fill(undefined));
  });

  it('keeps times far apart exactly: years before and after the first state it kept, and an invalid one', () => {
    const times = [
      new Date('1970-01-01T00:00:00.001Z'), new Date('2199-12-31T23:59:59.999Z'), new Date(-8.64e15), new Date(8.64e15),
      new Date('2026-12-03T10:00:00.000Z'),
    ];
    for (const createdTime of times) {
      for (const lastUpdatedTime of times) {
        const state = { ...plain, createdTime, lastUpdatedTime };
        const stored = new StoredState(state);
        expect(stored.createdTime.getTime()).toBe(createdTime.getTime());
        expect(stored.lastUpdatedTime.getTime()).toBe(lastUpdatedTime.getTime());
        expect(stored.toState()).toStrictEqual(state);
      }
    }
    const invalid = new StoredState({ ...plain, createdTime: new Date(NaN) });
    expect(invalid.createdTime.getTime()).toBeNaN();
    expect(new StoredState(plain).toState()).toStrictEqual(plain);
  });

  it('overwritten in place, takes the new state\'s fields and drops those it lacks', () => {
    const stored = new StoredState(full);
    stored.assign(child);
    expect(stored.toState()).toStrictEqual(child);
    stored.assign(plain);
    expect(stored.toState()).toStrictEqual(plain);
    stored.assign(full);
    expect(stored.toState()).toStrictEqual(full);
    stored.assign(stored); // a rule that hands back the stored state itself
    expect(stored.toState()).toStrictEqual(full);
  });

  it('keeps copies: changing the given state or a read copy changes nothing stored', () => {
    const given = structuredClone(full) as { -readonly [K in keyof InstanceState]: InstanceState[K] } & { failureDetails: { errorMessage: string }; parentCall: { taskScheduledId: number } };
    const stored = new StoredState(given);
    given.failureDetails.errorMessage = 'changed';
    given.parentCall.taskScheduledId = 99;
    const read = stored.toState() as { failureDetails: { errorMessage: string } };
    read.failureDetails.errorMessage = 'changed too';
    expect(stored.toState()).toStrictEqual(full);
  });
});
