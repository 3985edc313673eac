import { deepFreeze, frozenCopy, jsonHeapBytes, type InstanceState } from '@durable-rx/runtime/store-kit';
import { isRecordOf } from './rows.js';

/**
 * Which execution an input is of: its id, and when its instance was created. The id alone is what the port promises
 * unique, but a caller's own `newId` may repeat it (outside its contract); a run created again over a purged or ended
 * one, or restarted, is created at another time, so the input kept of an earlier run with the same execution id (one
 * this handle did not hear end: another tab purged and started the id again while this one kept it) is not taken for
 * it. A state of the execution names it: any `InstanceState` is one. The rule is the input records' own
 * ({@link isRecordOf}).
 */
export type Execution = Pick<InstanceState, 'executionId' | 'createdTime'>;

/**
 * The inputs of the executions a store handle met lately, frozen, by instance: what spares a step its copies and reads
 * of a large input. An execution's input never changes (a step of it writes none: store-kit's `writesInput`, and the
 * execution id of a new one is new), so the input known for an instance's execution stands for its input record
 * wherever that execution is read, in any tab:
 *
 * - a claim of it reads no input record (the work item's state carries the known input, frozen);
 * - a commit publishes the known input by reference, not a copy per step: the change feed copies the rest of the state,
 *   and marks it shared (`markShared`), so that a client copies the input only for a status it builds;
 * - a read of it while this handle commits it answers from that commit without a transaction of its own;
 * - a change another handle posted without its input (a step's: see `FeedChange.inputApart`) gets it back from here,
 *   without a read of the record.
 *
 * Kept: the inputs that are objects (a string or number costs nothing to copy and needs no record read saved here)
 * of executions this handle committed or claimed, or whose changes another handle posted (the input the start's post
 * carried, else the record read once), at most {@link MAX_EXECUTION_INPUTS} instances and
 * {@link MAX_EXECUTION_INPUT_BYTES} of heap in all (the oldest goes first), each until its instance ends or is purged
 * here or in a post this handle hears. An input larger than that bound alone is not kept (its execution is remembered
 * as such, so that its steps do not measure it again): its steps copy and read it as before. An instance whose next
 * steps run in another tab, or that another tab ended or purged without this handle hearing of it, keeps its place
 * until newer ones push it out. The values are frozen all the way down, so nobody who gets one can change it in place.
 *
 * @example
 * ```ts
 * const inputs = new ExecutionInputs();
 * const created = new Date();
 * const kept = inputs.keep('order-1', { executionId: 'exec-1', createdTime: created }, { items: [] }, true); // frozen, the same object
 * inputs.get('order-1', { executionId: 'exec-1', createdTime: created }) === kept; // true
 * inputs.get('order-1', { executionId: 'exec-2', createdTime: created }); // undefined: another execution
 * ```
 */
export class ExecutionInputs {
  /** By instance, oldest first; `input` undefined: the execution's input is too large to keep (not measured again). */
  readonly #byInstance = new Map<string, Entry>();
  /** The values this handle froze and keeps: the change feed publishes them without a copy. */
  readonly #kept = new WeakSet<object>();
  readonly #max: number;
  readonly #maxBytes: number;
  /** The heap the kept inputs hold in all, as store-kit's `jsonHeapBytes` estimates it. */
  #bytes = 0;

  constructor(max = MAX_EXECUTION_INPUTS, maxBytes = MAX_EXECUTION_INPUT_BYTES) {
    this.#max = max;
    this.#maxBytes = maxBytes;
  }

  /** The input known for `execution` of instance `instanceId` (frozen), else `undefined`. */
  get(instanceId: string, execution: Execution): object | undefined {
    const known = this.#byInstance.get(instanceId);
    return known && isRecordOf(known, execution) ? known.input : undefined;
  }

  /**
   * Keeps `input` as the input of `execution` of instance `instanceId`, and returns what is kept: the value known
   * already for that execution, else `input` frozen (when `own`: the caller gives it up, as a claim gives
   * up what it read) or a frozen copy of it. An input that is no object is returned as it is, and not kept.
   */
  keep(instanceId: string, execution: Execution, input: unknown, own: boolean): unknown {
    if (typeof input !== 'object' || input === null) return input;
    const known = this.#byInstance.get(instanceId);
    if (known && isRecordOf(known, execution)) return known.input ?? input;
    this.forget(instanceId);
    const { executionId } = execution;
    const createdMs = execution.createdTime.getTime();
    const bytes = jsonHeapBytes(input, this.#maxBytes);
    if (bytes > this.#maxBytes) {
      // Too large to keep: remembered as such, so that the execution's next steps do not walk it again.
      this.#add(instanceId, { executionId, createdMs, input: undefined, bytes: 0 });
      return input;
    }
    // A value frozen all the way down already (a client's start freezes the input it sends) is kept as it is.
    const kept = own ? deepFreeze(input) : frozenCopy(input);
    this.#kept.add(kept);
    this.#add(instanceId, { executionId, createdMs, input: kept, bytes });
    return kept;
  }

  /** Adds an entry, the oldest ones going first while the count or the bytes would pass their bounds. */
  #add(instanceId: string, entry: Entry): void {
    while (this.#byInstance.size > 0 && (this.#byInstance.size >= this.#max || this.#bytes + entry.bytes > this.#maxBytes)) {
      this.forget(this.#byInstance.keys().next().value!);
    }
    this.#byInstance.set(instanceId, entry);
    this.#bytes += entry.bytes;
  }

  /** True for a value {@link ExecutionInputs.keep} froze: nobody changes it, so it is published without a copy. */
  isKept(value: unknown): boolean {
    return typeof value === 'object' && value !== null && this.#kept.has(value);
  }

  /** Forgets the instance's input (it ended, or was purged). */
  forget(instanceId: string): void {
    const known = this.#byInstance.get(instanceId);
    if (!known) return;
    this.#byInstance.delete(instanceId);
    this.#bytes -= known.bytes;
  }

  /** Forgets every input (the store closes). */
  clear(): void {
    this.#byInstance.clear();
    this.#bytes = 0;
  }
}

/** What {@link ExecutionInputs} keeps of an instance; `input` undefined: too large to keep (not measured again). */
interface Entry {
  readonly executionId: string;
  readonly createdMs: number;
  readonly input: object | undefined;
  readonly bytes: number;
}

/** At most this many instances' inputs are kept (see {@link ExecutionInputs}). */
export const MAX_EXECUTION_INPUTS = 100;

/**
 * At most this much heap, in bytes as store-kit's `jsonHeapBytes` estimates it, is held by the inputs kept in all (see
 * {@link ExecutionInputs}): a tab that met a hundred executions with inputs of a few megabytes each would otherwise
 * hold them all for as long as they wait. A 1 MB JSON input of 10,000 small objects holds some 4 MB.
 */
export const MAX_EXECUTION_INPUT_BYTES = 32 * 1024 * 1024;
