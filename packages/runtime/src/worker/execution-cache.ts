import type { OrchestrationExecution } from '../engine/orchestration-execution.js';
import type { InstanceState } from '../model/instance-status.js';

interface Entry {
  readonly executionId: string;
  readonly historyLength: number;
  readonly execution: OrchestrationExecution;
  /** The committed state the execution was left at, when the worker knows it. */
  readonly state: InstanceState | undefined;
}

/**
 * LRU cache of live executions (suspended generators). An entry is only valid for the exact execution and history
 * length it was left at: if another worker advanced the instance meanwhile, the lookup misses and the step replays.
 */
export class ExecutionCache {
  readonly #entries = new Map<string, Entry>();

  constructor(readonly capacity: number) {}

  /** The cached execution of `instanceId` if it is exactly at `executionId` / `historyLength`. */
  get(instanceId: string, executionId: string, historyLength: number): OrchestrationExecution | undefined {
    const entry = this.#entries.get(instanceId);
    if (!entry) return undefined;
    this.#entries.delete(instanceId);
    if (entry.executionId !== executionId || entry.historyLength !== historyLength) return undefined;
    this.#entries.set(instanceId, entry); // most recently used last
    return entry.execution;
  }

  /**
   * Removes and returns the cached execution of `instanceId` with the committed state it was left at (entries set
   * without a state are not returned).
   */
  take(instanceId: string): { readonly execution: OrchestrationExecution; readonly state: InstanceState } | undefined {
    const entry = this.#entries.get(instanceId);
    this.#entries.delete(instanceId);
    return entry?.state ? { execution: entry.execution, state: entry.state } : undefined;
  }

  set(instanceId: string, executionId: string, historyLength: number, execution: OrchestrationExecution, state?: InstanceState): void {
    if (this.capacity <= 0) return;
    this.#entries.delete(instanceId);
    this.#entries.set(instanceId, { executionId, historyLength, execution, state });
    while (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  delete(instanceId: string): void {
    this.#entries.delete(instanceId);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
