import type { CreateInstanceRequest, OrchestrationMessage } from '@durable-rx/runtime';
import { instanceRow, messageRow, queueFieldsAfterEnqueue, withQueueFields, type InstanceRow } from './rows.js';
import type { BackendTransaction } from './store-backend.js';
import type { FeedChange } from './version-gate.js';

interface Entry {
  /** The row as the database has it (index entries of it may need removing). */
  original: InstanceRow | undefined;
  row: InstanceRow | undefined;
  dirty: boolean;
}

/**
 * The instance rows one write transaction touches, kept in memory until {@link WriteSet.flush} so that a commit that
 * creates a sub-instance and then messages it (or times itself) updates each row once, consistently. It also records
 * the snapshots to publish and whether claimable work was written. The same rules as MemoryStore: a created instance
 * replaces a terminal one (its history, messages and tasks dropped) one version higher; messages to instances that do
 * not exist are dropped.
 */
export class WriteSet {
  readonly #tx: BackendTransaction;
  readonly #entries = new Map<string, Entry>();
  /** Snapshots to publish after the commit, in commit order. */
  readonly changes: FeedChange[] = [];
  /** True when claimable work (a message, a task, a released lease) was written. */
  work = false;

  constructor(tx: BackendTransaction) {
    this.#tx = tx;
  }

  /** The current row of an instance (as this transaction has changed it). */
  async get(instanceId: string): Promise<InstanceRow | undefined> {
    const known = this.#entries.get(instanceId);
    if (known) return known.row;
    const original = await this.#tx.getInstance(instanceId);
    this.#entries.set(instanceId, { original, row: original, dirty: false });
    return original;
  }

  /** Replaces the row of an instance (read it with {@link WriteSet.get} first). */
  set(row: InstanceRow): void {
    const entry = this.#entries.get(row.id);
    if (entry) {
      entry.row = row;
      entry.dirty = true;
    } else {
      this.#entries.set(row.id, { original: undefined, row, dirty: true });
    }
  }

  /** Appends a message after all earlier ones of its instance; returns false (writing nothing) when it does not exist. */
  async enqueue(message: OrchestrationMessage): Promise<boolean> {
    const row = await this.get(message.instanceId);
    if (!row) return false;
    const newRow = messageRow(message);
    const added = this.#tx.addMessage(newRow);
    // The new sequence number only matters when this is the instance's oldest pending message.
    const seq = row.headSeq ?? (await added);
    this.set(withQueueFields(row, row.lease, queueFieldsAfterEnqueue(row, { ...newRow, seq })));
    this.work = true;
    return true;
  }

  /** Creates an instance with its start message, replacing `existing` (which must be terminal) if given. */
  async create(request: CreateInstanceRequest, existing: InstanceRow | undefined): Promise<void> {
    const id = request.state.instanceId;
    if (existing) this.#dropPending(id);
    const after = existing?.state.version ?? 0;
    const state = { ...request.state, version: after + 1 };
    this.set(instanceRow(state));
    await this.enqueue(request.message);
    this.changes.push({ instanceId: id, after, state });
  }

  /** Deletes an instance with its history, messages and tasks (read it with {@link WriteSet.get} first). */
  remove(row: InstanceRow): void {
    this.#tx.deleteInstance(this.#entries.get(row.id)?.original ?? row);
    this.#dropPending(row.id);
    this.#entries.set(row.id, { original: undefined, row: undefined, dirty: false });
    this.changes.push({ instanceId: row.id, after: row.state.version, state: undefined });
  }

  /** Writes every changed row. */
  flush(): void {
    for (const entry of this.#entries.values()) {
      if (entry.dirty && entry.row) {
        this.#tx.putInstance(entry.row, entry.original);
        entry.original = entry.row;
      }
      entry.dirty = false;
    }
  }

  #dropPending(instanceId: string): void {
    this.#tx.deleteHistory(instanceId);
    this.#tx.deleteMessagesOf(instanceId);
    this.#tx.deleteTasksOf(instanceId);
  }
}
