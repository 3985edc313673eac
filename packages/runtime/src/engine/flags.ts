/**
 * Replay flags: every change to what the engine schedules or records for a given history sits behind a numbered
 * flag, so instances that started under an older engine keep replaying exactly as they were recorded.
 *
 * The engine records the flags in force on the first `OrchestratorStarted` event of each execution (the step that
 * applies `ExecutionStarted`), and reads them back from there on replay. A history recorded before a flag existed
 * carries no such flag and keeps the old behaviour for the rest of that execution; the next execution (after
 * `continueAsNew` or a restart) starts with every current flag.
 *
 * Rules (see "Adding a replay flag" in the package README): a flag's id is never reused or renumbered, a flag is
 * never removed while histories that lack it may still be replayed, and each flag says in its TSDoc since when it
 * exists and why.
 */
export const ReplayFlag = {
  /**
   * @since 2026-11-30. A sub-orchestration called without an explicit instance id gets
   * `<instanceId>:<executionId>:<eventId>` instead of `<instanceId>:<eventId>`. Without the execution in the id, the
   * first call after `continueAsNew` (or a restart) reused the id of the previous execution's first child, and failed
   * with "already exists" whenever that child was still running. The Durable Task Framework keys default child ids
   * by execution for the same reason.
   */
  SubOrchestrationIdPerExecution: 1,
} as const;

/** The id of a {@link ReplayFlag}. */
export type ReplayFlagId = (typeof ReplayFlag)[keyof typeof ReplayFlag];

/** The flags a new execution runs with: all of them. */
export const CURRENT_REPLAY_FLAGS: readonly ReplayFlagId[] = Object.values(ReplayFlag);

/** The flags in force for one execution. Immutable. */
export class ReplayFlags {
  /** No flag: the behaviour of histories recorded before replay flags existed. */
  static readonly none = new ReplayFlags([]);
  /** Every flag this engine knows: what a new execution runs with. */
  static readonly current = new ReplayFlags(CURRENT_REPLAY_FLAGS);

  readonly #ids: ReadonlySet<number>;

  private constructor(ids: readonly number[]) {
    this.#ids = new Set(ids);
  }

  /**
   * The flags recorded in a history. Ids this engine does not know (a history written by a newer engine) are kept,
   * so that recording them again does not drop them; they change nothing here.
   */
  static recorded(ids: readonly number[] | undefined): ReplayFlags {
    if (ids === undefined || ids.length === 0) return ReplayFlags.none;
    // Most histories record the current flags: their one shared instance, not a new Set per replay.
    return ids.length === CURRENT_REPLAY_FLAGS.length && ids.every((id, i) => id === CURRENT_REPLAY_FLAGS[i])
      ? ReplayFlags.current
      : new ReplayFlags(ids);
  }

  /** True when `flag` is in force. */
  has(flag: ReplayFlagId): boolean {
    return this.#ids.has(flag);
  }

  /** The ids in force, ascending: what the history records. */
  get ids(): readonly number[] {
    return [...this.#ids].sort((a, b) => a - b);
  }
}
