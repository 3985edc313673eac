import type { Lease } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
import {
  instanceRow, isInputApart, isMemberOf, isStoredApart, messageRow, startWithInput, startWithoutInput, queueFieldsOf, rescheduled, stateWithInput, stateWriteOf, withQueueFields, type InstanceRow, type MessageRow,
} from '../../src/internal/rows.js';
import { newInstance, T0 } from './fixtures.js';

// The row rules both layouts (DexieStore, KeyvalStore) write by, through RowWriter: here the one that decides whether
// a commit's reschedule of an instance writes its row at all.
const start = newInstance('a');
const pending: MessageRow[] = [{ ...messageRow(start.message), seq: 3 }];
const lease: Lease = { owner: 'w1', token: 't1', expiresAt: new Date(T0.getTime() + 30_000) };

/** The instance as the store keeps it: `lease` (if any) and the claim schedule of `messages`. */
function stored(withLease: Lease | undefined, messages: readonly MessageRow[]): InstanceRow {
  return withQueueFields(instanceRow(start.state), withLease, queueFieldsOf(withLease, messages));
}

describe('rescheduled: the row a commit writes for an instance whose lease or pending messages it changes', () => {
  it('is nothing to write when the lease and schedule stay as they are (a command that changes nothing, an HTTP retry)', () => {
    expect(rescheduled(stored(undefined, pending), undefined, pending)).toBeUndefined();
    expect(rescheduled(stored(lease, pending), lease, pending)).toBeUndefined();
    expect(rescheduled(stored(undefined, []), undefined, [])).toBeUndefined();
  });

  it('drops a lease the commit releases, the schedule then claimable at once', () => {
    const row = rescheduled(stored(lease, pending), undefined, pending);
    expect(row).toEqual(stored(undefined, pending));
    expect(row?.lease).toBeUndefined();
    expect(row?.readyMs).toBe(0);
  });

  it('takes the schedule of the messages left, or none when the last was consumed', () => {
    const later: MessageRow = { ...messageRow({ ...start.message, id: 'm2', visibleAt: new Date(T0.getTime() + 5_000) }), seq: 4 };
    expect(rescheduled(stored(undefined, [...pending, later]), undefined, [later])).toMatchObject({
      headSeq: 4, minVisibleMs: T0.getTime() + 5_000, readyMs: T0.getTime() + 5_000, pendingCount: 1,
    });
    const emptied = rescheduled(stored(undefined, pending), undefined, []);
    expect(emptied).toEqual(instanceRow(start.state));
  });
});

describe('stateWriteOf: where a commit stores a state\'s input', () => {
  const input = { rows: [1, 2, 3] };
  const first = { ...newInstance('a', input).state };
  const { input: _none, ...withoutInput } = first;
  const created = stateWriteOf({ state: first, isNew: true, before: undefined }, undefined);
  const apart = created.row;
  const step = { ...first, runtimeStatus: 'Running' as const, version: 2 };

  it('a start: the row without the input, which goes to the record of its execution', () => {
    expect(created.row).toEqual({ ...instanceRow(withoutInput), inputApart: true });
    expect(created.row.state).not.toHaveProperty('input');
    expect(created.input).toEqual({ executionId: 'exec-1', createdMs: first.createdTime.getTime(), input });
    expect(created.full).toBe(first);
    // The row and the record give the state back; a record of another execution gives none.
    expect(stateWithInput(apart, created.input!)).toEqual(first);
    expect(stateWithInput(apart, { executionId: 'exec-0', input: 'other' })).toEqual(withoutInput);
    expect(stateWithInput(apart, undefined)).toEqual(withoutInput);
    // Nor does one of an earlier run of the same execution id (a caller's own newId repeated it), created at another
    // time; a record written before the creation time was kept is taken by its id.
    expect(stateWithInput(apart, { executionId: 'exec-1', createdMs: first.createdTime.getTime() - 1, input: 'earlier run' })).toEqual(withoutInput);
    expect(stateWithInput(apart, { executionId: 'exec-1', input })).toEqual(first);
  });

  it('a step of the same execution writes no input, whether its state carries it or not', () => {
    expect(stateWriteOf({ state: step, isNew: false, before: first }, apart)).toEqual({
      row: { ...instanceRow({ ...withoutInput, runtimeStatus: 'Running', version: 2 }), inputApart: true }, input: undefined, full: step,
    });
    const { input: _i, ...bare } = step;
    const lean = stateWriteOf({ state: bare, isNew: false, before: first }, apart);
    expect(lean.input).toBeUndefined();
    expect(lean.row.inputApart).toBe(true);
    expect(lean.full).toBeUndefined(); // the stored input stays, unread: the commit does not know the state whole
  });

  it('a new execution writes its own input, or deletes the record when it has none', () => {
    const next = { ...step, executionId: 'exec-2', input: 'next', version: 3 };
    expect(stateWriteOf({ state: next, isNew: false, before: step }, apart).input).toEqual({ executionId: 'exec-2', createdMs: next.createdTime.getTime(), input: 'next' });
    const { input: _i, ...bare } = next;
    const none = stateWriteOf({ state: bare, isNew: true, before: step }, apart);
    expect(none).toEqual({ row: instanceRow(bare), input: null, full: bare });
    // Over a row that keeps no record: nothing to delete.
    expect(stateWriteOf({ state: bare, isNew: true, before: undefined }, undefined).input).toBeUndefined();
  });

  it('moves the input of a row of an earlier layout (in its state) out at its first write, whatever the state given carries', () => {
    const old = instanceRow(first);
    expect(stateWithInput(old, undefined)).toBe(first);
    const { input: _i, ...bare } = step;
    const moved = stateWriteOf({ state: bare, isNew: false, before: first }, old);
    expect(moved.input).toEqual({ executionId: 'exec-1', createdMs: first.createdTime.getTime(), input });
    expect(moved.row).toMatchObject({ inputApart: true, state: bare });
    expect(moved.full).toEqual(step);
  });

  it('takes the input a state carries of its own over the record: code of an earlier layout started the execution over on such a row', () => {
    const older = { ...apart, state: { ...step, executionId: 'exec-2', input: 'inline' } };
    expect(isInputApart(older)).toBe(false);
    expect(stateWithInput(older, created.input!)).toMatchObject({ executionId: 'exec-2', input: 'inline' });
    // Its next step here moves that input out, as for any row of an earlier layout.
    const next = stateWriteOf({ state: { ...older.state, version: 3 }, isNew: false, before: older.state }, older);
    expect(next.input).toEqual({ executionId: 'exec-2', createdMs: step.createdTime.getTime(), input: 'inline' });
  });
});

describe('isMemberOf: the name and tag pair a scan of either layout checks a row against', () => {
  const tagged = instanceRow({ ...start.state, tags: { tenant: 'acme', ['__proto__']: 'x' } });

  it('takes the name exactly and each pair as an own key with exactly that value, as every store filters', () => {
    expect(isMemberOf(tagged, start.state.name, ['tenant', 'acme'])).toBe(true);
    expect(isMemberOf(tagged, undefined, ['__proto__', 'x'])).toBe(true);
    expect(isMemberOf(tagged, start.state.name.toUpperCase(), undefined)).toBe(false);
    expect(isMemberOf(tagged, undefined, ['tenant', 'Acme'])).toBe(false);
    expect(isMemberOf(tagged, undefined, ['toString', String(Object.prototype.toString)])).toBe(false);
    expect(isMemberOf(instanceRow(start.state), undefined, ['tenant', 'acme'])).toBe(false);
    expect(isMemberOf(instanceRow(start.state), undefined, undefined)).toBe(true);
  });
});

describe('startWithoutInput and startWithInput: where a start\'s input lives', () => {
  const input = { n: 1 };
  const { message: { event } } = newInstance('a', input);
  const recorded = { executionId: 'exec-1', createdMs: T0.getTime() };
  const record = { ...recorded, input };

  it('leaves out the input of a start of the recorded execution, and puts back the record\'s', () => {
    const stored = startWithoutInput(event, recorded);
    expect(stored).not.toHaveProperty('input');
    expect(isStoredApart(stored)).toBe(true);
    expect(startWithInput(stored, record)).toEqual(event);
  });

  it('stores as it is a start of another execution, one without input, and any other event', () => {
    expect(startWithoutInput(event, { ...recorded, executionId: 'exec-0' })).toBe(event);
    expect(startWithoutInput(event, undefined)).toBe(event);
    const none = newInstance('a').message.event;
    expect(startWithoutInput(none, recorded)).toBe(none);
    const raised = { type: 'EventRaised' as const, eventId: -1, timestamp: T0.toISOString(), name: 'x', input };
    expect(startWithoutInput(raised, recorded)).toBe(raised);
  });

  it('reads a start of an earlier layout as it is, and one whose record is another run\'s without an input', () => {
    expect(startWithInput(event, undefined)).toBe(event);
    const stored = startWithoutInput(event, recorded);
    const { input: _input, ...bare } = event as typeof event & { input?: unknown };
    expect(startWithInput(stored, { ...record, createdMs: T0.getTime() + 1 })).toEqual(bare);
    expect(startWithInput(stored, undefined)).toEqual(bare);
  });
});
