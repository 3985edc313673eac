import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnavailableError } from '../src/index.js';
import {
  completeHistory, historyEndedByPurge, historyEventsHeld, historyEventsMissed, MAX_HISTORY_ID_LENGTH, readHistoryPosition,
} from '../src/model/history-position.js';
import type { InstanceState } from '../src/model/instance-status.js';
import { MAX_INSTANCE_ID_LENGTH } from '../src/model/validation.js';

describe('historyEventsHeld (the one rule of a history stream that starts over for a reader)', () => {
  it('is the events a reader counted in the history it reads', () => {
    expect(historyEventsHeld({ execution: 'x1/0', events: 5 }, { execution: 'x1/0', events: 7 })).toBe(5);
    expect(historyEventsHeld({ execution: 'x1/0', events: 7 }, { execution: 'x1/0', events: 7 })).toBe(7);
    expect(historyEventsHeld({ execution: 'x1/0', events: 0 }, { execution: 'x1/0', events: 7 })).toBe(0);
  });

  it('is never more than the history has: a larger count would swallow events still to come', () => {
    expect(historyEventsHeld({ execution: 'x1/0', events: 4 }, { execution: 'x1/0', events: 3 })).toBe(3);
    expect(historyEventsHeld({ execution: 'x1/0', events: 1e9 }, { execution: 'x1/0', events: 0 })).toBe(0);
  });

  it('is none of another history: a new execution (continueAsNew, a restart) or a rewound one (its next epoch)', () => {
    expect(historyEventsHeld({ execution: 'x1/0', events: 5 }, { execution: 'x2/0', events: 7 })).toBe(0);
    expect(historyEventsHeld({ execution: 'x1/0', events: 5 }, { execution: 'x1/1', events: 7 })).toBe(0);
  });

  it('is none for a reader that has nothing', () => {
    expect(historyEventsHeld(undefined, { execution: 'x1/0', events: 7 })).toBe(0);
  });
});

describe('historyEventsMissed (whether a reader back on a new stream may have missed events)', () => {
  const x1At5 = { execution: 'x1/0', events: 5 };

  it('is never so in the history it stands in (the stream skips what it has), nor for a reader that had nothing', () => {
    expect(historyEventsMissed(x1At5, { execution: 'x1/0', events: 5 })).toBe(false);
    expect(historyEventsMissed(x1At5, { execution: 'x1/0', events: 7 })).toBe(false);
    expect(historyEventsMissed(undefined, { execution: 'x2/0', events: 0 })).toBe(false);
  });

  it('is not so in the history that replaced every event of the one it stood in, right after it', () => {
    expect(historyEventsMissed(x1At5, { execution: 'x2/0', events: 0, previous: x1At5 })).toBe(false);
    expect(historyEventsMissed(x1At5, { execution: 'x1/1', events: 0, previous: x1At5 })).toBe(false); // a rewind
  });

  it('is so where events of its history came after its last, where a history came between, and where no previous is told', () => {
    expect(historyEventsMissed({ execution: 'x1/0', events: 4 }, { execution: 'x2/0', events: 0, previous: x1At5 })).toBe(true);
    expect(historyEventsMissed(x1At5, { execution: 'x3/0', events: 0, previous: { execution: 'x2/0', events: 5 } })).toBe(true);
    expect(historyEventsMissed(x1At5, { execution: 'x2/0', events: 0 })).toBe(true); // an older server, or a purge not seen to follow it
  });
});

describe('historyEndedByPurge (the previous history of the first instance started after a purge)', () => {
  const at = (executionId: string, version: number, historyLength: number): InstanceState =>
    ({ instanceId: 'p', executionId, version, historyLength }) as unknown as InstanceState;
  const x1At16 = at('x1', 16, 11);

  it('is the purged history, whole, when the purge deleted the state the reader held and the next state is the first commit after it', () => {
    const ended = historyEndedByPurge(x1At16, { executionId: 'x1', version: 16 }, at('x2', 1, 0));
    expect(ended).toEqual({ execution: 'x1/0', events: 11 });
    // So a reader that had all of it goes on in the next instance's history, and one that had less does not.
    expect(historyEventsMissed({ execution: 'x1/0', events: 11 }, { execution: 'x2/0', events: 0, previous: ended })).toBe(false);
    expect(historyEventsMissed({ execution: 'x1/0', events: 10 }, { execution: 'x2/0', events: 0, previous: ended })).toBe(true);
  });

  it('is nothing where commits may have been missed: a later state purged, a purge that names nothing, a later first state', () => {
    expect(historyEndedByPurge(at('x1', 15, 10), { executionId: 'x1', version: 16 }, at('x2', 1, 0))).toBeUndefined();
    expect(historyEndedByPurge(x1At16, { executionId: 'x0', version: 16 }, at('x2', 1, 0))).toBeUndefined();
    expect(historyEndedByPurge(x1At16, undefined, at('x2', 1, 0))).toBeUndefined();
    expect(historyEndedByPurge(undefined, undefined, at('x2', 1, 0))).toBeUndefined();
    expect(historyEndedByPurge(x1At16, { executionId: 'x1', version: 16 }, at('x3', 2, 4))).toBeUndefined();
  });
});

describe('readHistoryPosition', () => {
  it('reads an absent position as none, and a whole one as itself; refuses one with a member of no position', () => {
    expect(readHistoryPosition(undefined, 'after')).toBeUndefined();
    expect(() => readHistoryPosition({ execution: 'x1/0', events: 5, extra: 1 }, 'after')).toThrow(/after\.extra is not known/);
    expect(readHistoryPosition({ execution: 'x1/0', events: 0 }, 'after')).toEqual({ execution: 'x1/0', events: 0 });
  });

  it('takes back a position as a stream sends it: its `previous` (a member of HistoryPosition) is ignored, not refused', () => {
    // The data of an `event: position` of a history that replaced another, sent back whole as a subscription's `after`.
    const sent = { execution: 'x2/0', events: 0, previous: { execution: 'x1/0', events: 7 } };
    expect(readHistoryPosition(sent, 'after')).toEqual({ execution: 'x2/0', events: 0 });
    expect(readHistoryPosition({ ...sent, previous: undefined }, 'after')).toEqual({ execution: 'x2/0', events: 0 });
  });

  it('takes back the id of every history the server can name: an id as long as any and the largest epoch', () => {
    const execution = `${'x'.repeat(MAX_INSTANCE_ID_LENGTH)}/${Number.MAX_SAFE_INTEGER}`;
    expect(execution).toHaveLength(MAX_HISTORY_ID_LENGTH);
    expect(readHistoryPosition({ execution, events: 3 }, 'after')).toEqual({ execution, events: 3 });
  });

  it.each([
    ['a string', 'x1/0'], ['null', null], ['no events', { execution: 'x1/0' }], ['no execution', { events: 1 }],
    ['an empty execution', { execution: '', events: 1 }], ['a long execution', { execution: 'x'.repeat(MAX_HISTORY_ID_LENGTH + 1), events: 1 }],
    ['a control character', { execution: 'x\n', events: 1 }], ['a number as execution', { execution: 1, events: 1 }],
    ['negative events', { execution: 'x1/0', events: -1 }], ['fractional events', { execution: 'x1/0', events: 1.5 }],
    ['events as text', { execution: 'x1/0', events: '1' }], ['unsafe events', { execution: 'x1/0', events: 2 ** 53 }],
  ])('refuses %s with InvalidArgumentError naming it', (_, value) => {
    expect(() => readHistoryPosition(value, 'after')).toThrow(InvalidArgumentError);
    expect(() => readHistoryPosition(value, 'after')).toThrow(/^after/);
  });
});

describe('completeHistory (the one rule of a history a worker steps on)', () => {
  it('is the history when it holds every event the state counts', () => {
    const events = ['a', 'b', 'c'];
    expect(completeHistory({ instanceId: 'x', historyLength: 3 }, events)).toBe(events);
    expect(completeHistory({ instanceId: 'x', historyLength: 0 }, [])).toEqual([]);
  });

  it('is a retryable UnavailableError when the store answered fewer events than the state counts', () => {
    expect(() => completeHistory({ instanceId: 'x', historyLength: 3 }, ['a', 'b'])).toThrow(UnavailableError);
    expect(() => completeHistory({ instanceId: 'x', historyLength: 1 }, [])).toThrow(/0 of the 1 history events of "x"/);
  });
});
