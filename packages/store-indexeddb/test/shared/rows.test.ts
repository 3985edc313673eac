import type { Lease } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
import { instanceRow, messageRow, queueFieldsOf, rescheduled, withQueueFields, type InstanceRow, type MessageRow } from '../../src/internal/rows.js';
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
