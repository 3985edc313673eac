import type { PendingWrites } from './pending-writes.js';
import type { ReadsAhead } from './read-ahead.js';
import type { InstanceRow, TaskRow } from './rows.js';

/**
 * Instances stored with their activity tasks packed into them (KeyvalStore layout 6, DexieStore layout 3). A step
 * reads and writes its instance anyway, so scheduling, claiming and completing a task costs no request of its own:
 * a transaction reads each instance once, keeps it here while it changes the row and its tasks, and writes it once.
 */

/** An instance as stored: the row, with its activity tasks. */
export interface StoredInstance extends InstanceRow {
  /** The instance's activity tasks (absent: none). */
  readonly tasks?: readonly TaskRow[];
  /** The `readyMs` the instance's tasks are claimed under (see each layout), present while it has tasks. */
  readonly tasksReadyMs?: number;
}

/** An instance as a transaction has it (read or written). */
export interface Loaded {
  /** The row without its packed tasks (undefined: no such instance). */
  row: InstanceRow | undefined;
  tasks: TaskRow[];
  /** The `tasksReadyMs` in the database (as this transaction left it). */
  entryMs: number | undefined;
  /** The stored value must be written. */
  dirty: boolean;
  /** The tasks changed: `tasksReadyMs` may have to move. */
  tasksChanged: boolean;
  /** `tasksReadyMs` must be exactly the earliest `readyMs` of the tasks (not earlier). */
  exact: boolean;
}

let stamps = 0;
/**
 * A sequence number from the clock: ms since the epoch times 1000, plus a counter of this realm that orders stamps of
 * the same ms. Claims prefer smaller ones (fairness, best effort); nothing depends on them being unique across tabs.
 */
export function stamp(): number {
  stamps = (stamps + 1) % 1000;
  return Date.now() * 1000 + stamps;
}

/** The instances one transaction read or wrote, each read once (later reads see this transaction's changes). */
export class PackedInstances {
  readonly #loaded = new Map<string, Loaded>();
  readonly #loading = new Map<string, Promise<Loaded>>();
  readonly #read: (id: string) => Promise<StoredInstance | undefined>;
  readonly #reads: ReadsAhead;
  readonly #writes: PendingWrites;

  /** `read`: the stored value of an instance; `reads` may answer it ahead; `writes` tracks changes waiting for a read. */
  constructor(read: (id: string) => Promise<StoredInstance | undefined>, reads: ReadsAhead, writes: PendingWrites) {
    this.#read = read;
    this.#reads = reads;
    this.#writes = writes;
  }

  /** Every instance this transaction read or wrote. */
  get loaded(): ReadonlyMap<string, Loaded> {
    return this.#loaded;
  }

  /** Reads an instance once per transaction. */
  load(id: string): Promise<Loaded> {
    const known = this.#loaded.get(id);
    if (known) return Promise.resolve(known);
    let loading = this.#loading.get(id);
    if (!loading) {
      const read = () => this.#read(id);
      loading = (this.#reads.take(`i:${id}`, read) ?? read()).then((stored) => this.seed(id, stored));
      this.#loading.set(id, loading);
    }
    return loading;
  }

  /** The instance as this transaction has it, taking `stored` (read from the database now) if it has not read it. */
  seed(id: string, stored: StoredInstance | undefined): Loaded {
    const known = this.#loaded.get(id);
    if (known) return known;
    const loaded: Loaded = { row: undefined, tasks: [], entryMs: undefined, dirty: false, tasksChanged: false, exact: false };
    if (stored) {
      const { tasks, tasksReadyMs, ...row } = stored;
      Object.assign(loaded, { row, tasks: tasks ? [...tasks] : [], entryMs: tasksReadyMs });
    }
    this.#loaded.set(id, loaded);
    return loaded;
  }

  /** Runs `change` on the instance: at once when this transaction read it, else once it is read (before the commit). */
  with(id: string, change: (loaded: Loaded) => void): void {
    const known = this.#loaded.get(id);
    if (known) change(known);
    else this.#writes.track(this.load(id).then(change));
  }

  /** Sets the row (undefined: deleted) to be written. */
  setRow(id: string, row: InstanceRow): void {
    this.with(id, (loaded) => {
      loaded.row = row;
      loaded.dirty = true;
    });
  }

  /** The instance `task` is packed into, if this transaction has it (else it is not a packed task). */
  packing(task: TaskRow): Loaded | undefined {
    const loaded = this.#loaded.get(task.instanceId);
    return loaded?.tasks.some((t) => t.id === task.id) ? loaded : undefined;
  }

  /** Replaces the tasks of an instance. */
  setTasks(loaded: Loaded, tasks: TaskRow[], exact: boolean): void {
    loaded.tasks = tasks;
    loaded.tasksChanged = true;
    loaded.dirty = true;
    if (exact) loaded.exact = true;
  }

  /** Replaces `previous` (a packed task) with `row`; false when `previous` is not packed into an instance read here. */
  putTask(row: TaskRow, previous: TaskRow): boolean {
    const loaded = this.packing(previous);
    if (loaded) this.setTasks(loaded, loaded.tasks.map((t) => (t.id === previous.id ? row : t)), true);
    return loaded !== undefined;
  }

  /** Deletes a packed task; false when it is not packed into an instance read here. */
  deleteTask(row: TaskRow): boolean {
    const loaded = this.packing(row);
    if (loaded) this.setTasks(loaded, loaded.tasks.filter((t) => t.id !== row.id), false);
    return loaded !== undefined;
  }

  /** A task packed into an instance this transaction reads or read. */
  async find(taskId: string): Promise<TaskRow | undefined> {
    await Promise.all(this.#loading.values());
    for (const loaded of this.#loaded.values()) {
      const task = loaded.tasks.find((t) => t.id === taskId);
      if (task) return task;
    }
    return undefined;
  }

  /**
   * Hands every changed instance that exists to `put` once, as the value to store (the row with its tasks and
   * `entryMs`), and records it for reading ahead. Tasks of an instance that does not exist are not stored.
   */
  flush(put: (id: string, value: StoredInstance) => void): void {
    for (const [id, loaded] of this.#loaded) {
      if (!loaded.dirty) continue;
      loaded.dirty = false;
      if (!loaded.row) continue;
      const value: StoredInstance = {
        ...loaded.row,
        ...(loaded.tasks.length > 0 ? { tasks: loaded.tasks } : {}),
        ...(loaded.entryMs === undefined ? {} : { tasksReadyMs: loaded.entryMs }),
      };
      put(id, value);
      this.#reads.writes.set(`i:${id}`, value);
    }
  }

  /**
   * Forgets the instance's row and tasks: it is deleted (with everything of it) in this transaction. `before` sees it
   * as it was (e.g. to delete its index entries).
   */
  deleted(id: string, before?: (loaded: Loaded) => void): void {
    this.#reads.writes.set(`i:${id}`, undefined);
    this.with(id, (loaded) => {
      before?.(loaded);
      Object.assign(loaded, { row: undefined, tasks: [], entryMs: undefined, dirty: false, tasksChanged: false });
    });
  }
}
