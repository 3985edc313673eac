import type { ExecutionRewoundEvent } from '../model/history-event.js';
import type { FailureDetails, HeldCommands, HeldSuspend, InstanceState, OrchestrationRuntimeStatus, ParentCall } from '../model/instance-status.js';
import { copyStoreValue } from './store-helpers.js';

/**
 * An instance's state as MemoryStore keeps it: the fields of {@link InstanceState} on one fixed-shape object, with
 * its two times kept as numbers (a Date object costs about 96 bytes of heap, two per instance, which at 50k waiting
 * instances is a sixth of the store). It reads as an `InstanceState` for the pure rules (`planWriteSet` and the
 * store helpers read it as one; its Dates are made when read), and it leaves the store only as a copy made by
 * {@link StoredState.toState}.
 *
 * Built from a state the store was given, it copies the JSON payloads (input, output, custom status, failure): the
 * store never keeps what it was given. A commit overwrites an instance's StoredState in place ({@link
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
  createdMs!: number;
  /**
   * The last update, in ms after `createdMs`: a small integer for an instance updated within 24 days of its creation,
   * which V8 keeps in the field itself, where a time in ms since the epoch takes a number object of 16 B of its own.
   */
  updatedAfterMs!: number;
  input!: unknown;
  output!: unknown;
  customStatus!: unknown;
  failureDetails!: FailureDetails | undefined;
  parentInstanceId!: string | undefined;
  historyEpoch!: number | undefined;
  heldSuspend!: HeldSuspend | undefined;
  held!: HeldCommands | undefined;
  rerun!: ExecutionRewoundEvent | undefined;
  parentCall!: ParentCall | undefined;

  constructor(state: InstanceState) {
    this.assign(state);
  }

  /** Becomes a copy of `state` (the same fields, in the same order, as when built). */
  assign(state: InstanceState): void {
    this.instanceId = state.instanceId;
    this.name = state.name;
    this.runtimeStatus = state.runtimeStatus;
    this.executionId = state.executionId;
    this.historyLength = state.historyLength;
    this.version = state.version;
    this.createdMs = state.createdTime.getTime();
    this.updatedAfterMs = state.lastUpdatedTime.getTime() - this.createdMs;
    this.input = copyStoreValue(state.input);
    this.output = copyStoreValue(state.output);
    this.customStatus = copyStoreValue(state.customStatus);
    this.failureDetails = copyStoreValue(state.failureDetails);
    this.parentInstanceId = state.parentInstanceId;
    this.historyEpoch = state.historyEpoch;
    this.heldSuspend = copyStoreValue(state.heldSuspend);
    this.held = copyStoreValue(state.held);
    this.rerun = copyStoreValue(state.rerun);
    this.parentCall = copyStoreValue(state.parentCall);
  }

  get createdTime(): Date {
    return new Date(this.createdMs);
  }

  get lastUpdatedTime(): Date {
    return new Date(this.createdMs + this.updatedAfterMs);
  }

  /** A fresh copy as a plain {@link InstanceState}: what a read, a claim or the change feed hands out. */
  toState(): InstanceState {
    // The fields every state has in one literal (V8 keeps them in the object itself; added one by one, most of them
    // went to a separate property array), then the optional ones that are set.
    const state: Writable<InstanceState> = {
      instanceId: this.instanceId, name: this.name, runtimeStatus: this.runtimeStatus, createdTime: new Date(this.createdMs),
      lastUpdatedTime: new Date(this.createdMs + this.updatedAfterMs), executionId: this.executionId, historyLength: this.historyLength, version: this.version,
    };
    if (this.input !== undefined) state.input = copyStoreValue(this.input);
    if (this.output !== undefined) state.output = copyStoreValue(this.output);
    if (this.customStatus !== undefined) state.customStatus = copyStoreValue(this.customStatus);
    if (this.failureDetails !== undefined) state.failureDetails = copyStoreValue(this.failureDetails);
    if (this.parentInstanceId !== undefined) state.parentInstanceId = this.parentInstanceId;
    if (this.historyEpoch !== undefined) state.historyEpoch = this.historyEpoch;
    if (this.heldSuspend !== undefined) state.heldSuspend = copyStoreValue(this.heldSuspend);
    if (this.held !== undefined) state.held = copyStoreValue(this.held);
    if (this.rerun !== undefined) state.rerun = copyStoreValue(this.rerun);
    if (this.parentCall !== undefined) state.parentCall = copyStoreValue(this.parentCall);
    return state as InstanceState;
  }
}

/** An object under construction: its fields are assigned one by one, optional ones only when present. */
type Writable<T> = { -readonly [K in keyof T]?: T[K] };
