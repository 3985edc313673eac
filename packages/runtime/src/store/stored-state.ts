import type { ExecutionRewoundEvent } from '../model/history-event.js';
import type { FailureDetails, HeldCommands, HeldSuspend, InstanceState, InstanceTags, OrchestrationRuntimeStatus, ParentCall, Suspension } from '../model/instance-status.js';
import { frozenCopy } from '../model/frozen.js';
import { copyStoreValue } from '../model/json.js';

/**
 * An instance's state as MemoryStore keeps it: the fields of {@link InstanceState} on one fixed-shape object, with
 * its two times kept as small integers (a Date object costs about 96 bytes of heap, two per instance, which at 50k
 * waiting instances is a sixth of the store) and the fields few states have on an object of their own ({@link Rare}).
 * It reads as an `InstanceState` for the pure rules (`planWriteSet` and the store helpers read it as one; its Dates are
 * made when read), and it leaves the store only as a copy made by {@link StoredState.toState}.
 *
 * Built from a state the store was given, it copies the JSON payloads (input, output, custom status, failure): the
 * store never keeps what it was given. The input is kept frozen (an execution's input never changes: a step of it keeps
 * the one kept, see {@link StoredState.assign}), so the change feed publishes it without a copy per step. A commit overwrites an instance's StoredState in place ({@link
 * StoredState.assign}); nothing outside one synchronous operation of the store ever holds one.
 */
export class StoredState implements InstanceState {
  // Class fields, though the constructor assigns every one (each is first defined as undefined): V8 sizes an instance
  // by the fields it sees, and with the fields only declared (assigned in `assign`) it kept ten of them in the object
  // and the others in a property array of their own, 48 B more per instance.
  instanceId!: string;
  name!: string;
  runtimeStatus!: OrchestrationRuntimeStatus;
  executionId!: string;
  historyLength!: number;
  version!: number;
  /**
   * The creation time, in ms after the first creation time any StoredState was given ({@link createdBaseMs}): a small
   * integer for an instance created within 24 days of it, which V8 keeps in the field itself, where a time in ms since
   * the epoch takes a number object of 16 B of its own.
   */
  createdAfterBaseMs!: number;
  /** The last update, in ms after the creation time: a small integer as well, for an instance updated within 24 days. */
  updatedAfterMs!: number;
  input!: unknown;
  output!: unknown;
  customStatus!: unknown;
  /**
   * The fields few states have: a sub-orchestration's link to its parent, a failure, a held suspend, a rewind, the keys of raised events (see
   * {@link Rare}); `undefined` when the state has none of them. Seven fields, one per field of the state, were 48 B
   * more on every instance waiting for an event.
   */
  rare!: Rare | undefined;

  constructor(state: InstanceState) {
    this.assign(state);
  }

  /**
   * Becomes a copy of `state` (the same fields, in the same order, as when built). `sameInput`: `state` is a step of
   * the execution this state holds (store-kit's `writesInput` is false), whose input is the one kept, which stays
   * without being copied again.
   */
  assign(state: InstanceState, sameInput = false): void {
    // Read before any field is written: `state` may be this very object.
    const createdMs = state.createdTime.getTime();
    const updatedMs = state.lastUpdatedTime.getTime();
    const rare = rareOf(state);
    this.instanceId = state.instanceId;
    this.name = state.name;
    this.runtimeStatus = state.runtimeStatus;
    this.executionId = state.executionId;
    this.historyLength = state.historyLength;
    this.version = state.version;
    if (createdBaseMs === undefined && Number.isFinite(createdMs)) createdBaseMs = createdMs;
    this.createdAfterBaseMs = small(createdMs - (createdBaseMs ?? 0));
    this.updatedAfterMs = small(updatedMs - createdMs);
    if (!sameInput) this.input = frozenCopy(state.input);
    this.output = copyStoreValue(state.output);
    this.customStatus = copyStoreValue(state.customStatus);
    this.rare = rare;
  }

  get createdTime(): Date {
    return new Date(createdMsOf(this));
  }

  get lastUpdatedTime(): Date {
    return new Date(lastUpdatedMsOf(this));
  }

  get failureDetails(): FailureDetails | undefined {
    return this.rare?.failureDetails;
  }

  get parentInstanceId(): string | undefined {
    return this.rare?.parentInstanceId;
  }

  get historyEpoch(): number | undefined {
    return this.rare?.historyEpoch;
  }

  get previousHistory(): InstanceState['previousHistory'] {
    return this.rare?.previousHistory;
  }

  get heldSuspend(): HeldSuspend | undefined {
    return this.rare?.heldSuspend;
  }

  get held(): HeldCommands | undefined {
    return this.rare?.held;
  }

  get rerun(): ExecutionRewoundEvent | undefined {
    return this.rare?.rerun;
  }

  get suspension(): Suspension | undefined {
    return this.rare?.suspension;
  }

  get parentCall(): ParentCall | undefined {
    return this.rare?.parentCall;
  }

  get tags(): InstanceTags | undefined {
    return this.rare?.tags;
  }

  get scheduledStartTime(): Date | undefined {
    const ms = this.rare?.scheduledStartMs;
    return ms === undefined ? undefined : new Date(ms);
  }

  get raisedEventKeys(): readonly string[] | undefined {
    return this.rare?.raisedEventKeys;
  }

  get continuedAt(): string | undefined {
    return this.rare?.continuedAt;
  }

  get lineage(): InstanceState['lineage'] {
    return this.rare?.lineage;
  }

  /**
   * A fresh copy as a plain {@link InstanceState}: what a read, a claim or the change feed hands out. `shareInput`: its
   * input is the kept one, frozen, not a copy (the change feed's, which marks the state shared: `markShared`).
   */
  toState(shareInput = false): InstanceState {
    // The fields every state has in one literal (V8 keeps them in the object itself; added one by one, most of them
    // went to a separate property array), then the optional ones that are set.
    const createdMs = createdMsOf(this);
    const state: Writable<InstanceState> = {
      instanceId: this.instanceId, name: this.name, runtimeStatus: this.runtimeStatus, createdTime: new Date(createdMs),
      lastUpdatedTime: new Date(createdMs + this.updatedAfterMs), executionId: this.executionId, historyLength: this.historyLength, version: this.version,
    };
    if (this.input !== undefined) state.input = shareInput ? this.input : copyStoreValue(this.input);
    if (this.output !== undefined) state.output = copyStoreValue(this.output);
    if (this.customStatus !== undefined) state.customStatus = copyStoreValue(this.customStatus);
    const rare = this.rare;
    if (rare === undefined) return state as InstanceState;
    if (rare.failureDetails !== undefined) state.failureDetails = copyStoreValue(rare.failureDetails);
    if (rare.parentInstanceId !== undefined) state.parentInstanceId = rare.parentInstanceId;
    if (rare.historyEpoch !== undefined) state.historyEpoch = rare.historyEpoch;
    if (rare.previousHistory !== undefined) state.previousHistory = copyStoreValue(rare.previousHistory);
    if (rare.heldSuspend !== undefined) state.heldSuspend = copyStoreValue(rare.heldSuspend);
    if (rare.held !== undefined) state.held = copyStoreValue(rare.held);
    if (rare.rerun !== undefined) state.rerun = copyStoreValue(rare.rerun);
    if (rare.suspension !== undefined) state.suspension = copyStoreValue(rare.suspension);
    if (rare.parentCall !== undefined) state.parentCall = copyStoreValue(rare.parentCall);
    if (rare.scheduledStartMs !== undefined) state.scheduledStartTime = new Date(rare.scheduledStartMs);
    if (rare.raisedEventKeys !== undefined) state.raisedEventKeys = [...rare.raisedEventKeys];
    if (rare.tags !== undefined) state.tags = copyStoreValue(rare.tags);
    if (rare.continuedAt !== undefined) state.continuedAt = rare.continuedAt;
    if (rare.lineage !== undefined) state.lineage = copyStoreValue(rare.lineage);
    return state as InstanceState;
  }
}

/**
 * The creation time of `state` in ms since the epoch. A function, not a private method of StoredState: a class with
 * a private method gives each of its objects a field for it (8 B per instance).
 */
function createdMsOf(state: StoredState): number {
  return (createdBaseMs ?? 0) + state.createdAfterBaseMs;
}

/** The last update of `state` in ms since the epoch: `lastUpdatedTime` without a Date (the end index reads it per commit). */
export function lastUpdatedMsOf(state: StoredState): number {
  return createdMsOf(state) + state.updatedAfterMs;
}

/**
 * `ms` as V8 keeps a small integer in a field: `ms | 0` when that is `ms`. The difference of two times in ms since the
 * epoch is computed as a floating-point number, and code not yet optimised stores it as a number object of its own
 * (16 B, two per record: on a third of the records at 10,000 waiting instances) even when it is a small integer; `| 0` gives a small integer however the code runs. Any other number (an offset beyond 24 days, NaN
 * of an invalid Date) is kept as it is.
 */
function small(ms: number): number {
  return (ms | 0) === ms ? ms | 0 : ms;
}

/**
 * The first valid creation time a StoredState was given, in ms since the epoch: the base of every
 * `createdAfterBaseMs` (0 until then). Any base gives the same times back; one near the instances' own keeps the
 * offsets small.
 */
let createdBaseMs: number | undefined;

/**
 * The fields of a state few instances have, apart from {@link StoredState}. Two shapes only: a sub-orchestration's
 * parent link alone (its two fields), or every field (a failed, suspended, rewound, continued, restarted, delayed or tagged instance),
 * so that a child waiting for its parent's event costs less than the seven fields did, not more.
 */
interface Rare {
  readonly parentInstanceId: string | undefined;
  readonly parentCall: ParentCall | undefined;
  readonly failureDetails?: FailureDetails | undefined;
  readonly historyEpoch?: number | undefined;
  readonly previousHistory?: InstanceState['previousHistory'];
  readonly heldSuspend?: HeldSuspend | undefined;
  readonly held?: HeldCommands | undefined;
  readonly rerun?: ExecutionRewoundEvent | undefined;
  readonly suspension?: Suspension | undefined;
  /** `scheduledStartTime` in ms since the epoch (a delayed start). */
  readonly scheduledStartMs?: number | undefined;
  readonly raisedEventKeys?: readonly string[] | undefined;
  /** The instance's tags. */
  readonly tags?: InstanceTags | undefined;
  readonly continuedAt?: string | undefined;
  readonly lineage?: InstanceState['lineage'];
}

/** What a {@link StoredState} keeps of the rare fields of `state`: copies, or `undefined` when it has none. */
function rareOf(state: InstanceState): Rare | undefined {
  const { parentInstanceId, failureDetails, historyEpoch, previousHistory, heldSuspend, held, rerun, suspension, scheduledStartTime, raisedEventKeys, tags, continuedAt, lineage } = state;
  const parentCall = copyStoreValue(state.parentCall);
  if (
    failureDetails === undefined && historyEpoch === undefined && previousHistory === undefined && heldSuspend === undefined &&
    held === undefined && rerun === undefined && suspension === undefined && scheduledStartTime === undefined &&
    raisedEventKeys === undefined && tags === undefined && continuedAt === undefined && lineage === undefined
  ) {
    return parentInstanceId === undefined && parentCall === undefined ? undefined : { parentInstanceId, parentCall };
  }
  return {
    parentInstanceId, parentCall, failureDetails: copyStoreValue(failureDetails), historyEpoch, previousHistory: copyStoreValue(previousHistory),
    heldSuspend: copyStoreValue(heldSuspend), held: copyStoreValue(held), rerun: copyStoreValue(rerun),
    suspension: copyStoreValue(suspension),
    scheduledStartMs: scheduledStartTime?.getTime(),
    raisedEventKeys: raisedEventKeys === undefined ? undefined : Object.freeze([...raisedEventKeys]),
    tags: copyStoreValue(tags), continuedAt, lineage: copyStoreValue(lineage),
  };
}

/** An object under construction: its fields are assigned one by one, optional ones only when present. */
type Writable<T> = { -readonly [K in keyof T]?: T[K] };
