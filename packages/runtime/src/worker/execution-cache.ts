import type { OrchestrationExecution } from '../engine/orchestration-execution.js';
import type { InstanceState } from '../model/instance-status.js';

/**
 * The runtime's default capacity (`cacheSize`): 100,000 executions. Sized by memory, not by a guess at how many
 * instances wait at once: an execution waiting for an event holds about 0.5 KB (its generator, the task it awaits and
 * the engine's fields), so a full cache of them is about 50 MB, and 50,000 waiting instances take turns without a
 * replay. (At 10,000 a fifth of 50,000 instances taking turns hit, and every other step replayed its history.)
 */
export const DEFAULT_CACHE_SIZE = 100_000;

/**
 * Cache of live executions (suspended generators). An entry is only valid for the exact execution and history
 * length it was left at: if another worker advanced the instance meanwhile, the lookup misses and the step replays.
 *
 * Eviction is a segmented LRU. While the cache has room, every execution is kept. Once it is full, an execution
 * that was not just used from the cache (a replayed one, a new instance) goes into a small probation segment of
 * newcomers (an eighth of the capacity) instead of pushing out the least recently used entry; it joins the main part
 * only when its next step finds it there. A plain LRU misses on every step when more instances take turns than it
 * holds (10k instances waiting for events, each raised in turn): each step evicted an execution that had lived long
 * enough to reach the old generation of the heap, for nothing. Here the main part keeps its executions (those
 * instances hit), and only short-lived newcomers churn. Newcomers that arrive while steps in flight have taken a few
 * entries out go to probation too, which may then hold more than its share as long as the cache has room; they are
 * the first to go once it has none.
 */
export class ExecutionCache {
  // The maps hold the executions themselves: the execution id and history length an execution is valid for are its
  // own `executionId` and its `cachedHistoryLength` (an entry object per cached execution was 56 B).
  /** Executions that were used from the cache, least recently used first. */
  readonly #main = new Map<string, OrchestrationExecution>();
  /** Newcomers while the cache is full, oldest first. */
  readonly #probation = new Map<string, OrchestrationExecution>();
  /** The committed state of each cached execution that awaits an activity (see {@link set}). */
  readonly #states = new Map<string, InstanceState>();
  readonly #probationCapacity: number;

  constructor(readonly capacity: number) {
    this.#probationCapacity = Math.max(1, Math.floor(capacity / 8));
  }

  /**
   * The cached execution of `instanceId` if it is exactly at `executionId` / `historyLength` of history epoch
   * `historyEpoch` (`InstanceState.historyEpoch`, 0 when absent); the entry is removed (the execution is about to
   * advance: the caller sets it again after the step with `reused` true). The epoch tells a history rewritten by a
   * rewind (another worker's, or a client's) from the one the execution was left at, whatever their lengths.
   */
  get(instanceId: string, executionId: string, historyLength: number, historyEpoch = 0): OrchestrationExecution | undefined {
    const execution = this.#remove(instanceId);
    if (
      !execution || execution.executionId !== executionId || execution.cachedHistoryLength !== historyLength ||
      execution.historyEpoch !== historyEpoch
    ) return undefined;
    return execution;
  }

  /**
   * Removes and returns the cached execution of `instanceId` with the committed state it was left at. An entry kept
   * without a state is neither returned nor removed: it stays for the step its event or timer wakes.
   */
  take(instanceId: string): { readonly execution: OrchestrationExecution; readonly state: InstanceState } | undefined {
    const state = this.#states.get(instanceId);
    if (!state) return undefined;
    const execution = this.#remove(instanceId)!;
    return { execution, state };
  }

  /**
   * Keeps `execution`, left at `executionId` / `historyLength`. `reused`: it came from this cache ({@link get} or
   * {@link take}), so it joins the main part; otherwise it is a newcomer, kept in probation while the cache is full.
   */
  set(instanceId: string, executionId: string, historyLength: number, execution: OrchestrationExecution, state: InstanceState | undefined, reused: boolean): void {
    this.#remove(instanceId);
    // An execution is valid for its own execution id only (its ExecutionStarted's), so it is not kept for another one
    // (a step never leaves it at another one).
    if (this.capacity <= 0 || execution.executionId !== executionId) return;
    // The state is kept only for an execution awaiting an activity: `take` serves only the step that activity's result
    // wakes. For an instance waiting for an event or a timer it was a third of the entry (its Dates above all).
    execution.cachedHistoryLength = historyLength;
    if (state && execution.awaitsActivity) this.#states.set(instanceId, state);
    // A newcomer joins the main part only while the cache is short of full by more than probation holds: not in the
    // dip of executions that steps in flight have taken out (a few), where it pushed out an execution that hit every
    // round (at 10k waiting instances, the timing of claims alone lost half the hits); again once instances finished.
    if (reused || this.size + this.#probationCapacity < this.capacity) {
      this.#main.set(instanceId, execution);
    } else {
      this.#probation.set(instanceId, execution);
    }
    // Nothing goes while the cache has room. Once it has none, probation takes its room from the main part up to its
    // own capacity; newcomers beyond it (set in the dip) push out the oldest newcomer, never a main entry.
    // (With the main part empty, probation alone exceeds the capacity, hence its share.)
    while (this.size > this.capacity) this.#dropOldest(this.#probation.size > this.#probationCapacity ? this.#probation : this.#main);
  }

  delete(instanceId: string): void {
    this.#remove(instanceId);
  }

  clear(): void {
    this.#main.clear();
    this.#probation.clear();
    this.#states.clear();
  }

  get size(): number {
    return this.#main.size + this.#probation.size;
  }

  #remove(instanceId: string): OrchestrationExecution | undefined {
    const execution = this.#main.get(instanceId) ?? this.#probation.get(instanceId);
    if (execution) {
      if (!this.#main.delete(instanceId)) this.#probation.delete(instanceId);
      this.#states.delete(instanceId);
    }
    return execution;
  }

  #dropOldest(executions: Map<string, OrchestrationExecution>): void {
    for (const key of executions.keys()) {
      executions.delete(key);
      this.#states.delete(key);
      return;
    }
  }
}
