import { uuidV5 } from './deterministic-guid.js';

/**
 * A GUID that `ctx.newGuid()` gave in a step a fork copied from its source (a step whose `OrchestratorStarted` names
 * a `guidSeed`): the seed it was made under and the rest of its name (`_<step time>_<counter>`), so that
 * `uuidV5(seed + name)` is the GUID.
 */
export interface CopiedGuid {
  /** The seed of the copied step that made it (its source's). */
  readonly seed: string;
  /** The rest of the name it was made from: `_<step time>_<counter>`. */
  readonly name: string;
}

/** A GUID as `uuidText` writes one (lower case). */
const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * The id a sub-orchestration call named `instanceId` by the code runs under when the step with GUID seed `seed` records
 * it: `instanceId` with each GUID in it that a copied step made under another seed (`copied`, by GUID) replaced by the
 * GUID that step would have made under `seed` (the same time and counter), the rest of the id as it is. The one rule of
 * the engine for the calls a fork makes again: a step a fork copied replays with its source's seed, so its `newGuid()`
 * gives the source's GUIDs, and a call the fork does not keep would otherwise be made again under the id of the source's
 * child (failing while that child runs, replacing it once it ended). So the fork's step (its own seed) issues it under
 * a GUID of the fork's own, which no other fork of the source shares, and every replay of the fork, or of a fork of the
 * fork (whose copy of that step names the fork's seed), names it alike. A call recorded in the step that made its GUID
 * (a kept call) keeps its id; so does an id the code chose without a copied GUID (`'shipping-42'`), and an id holding
 * a GUID changed by the code (upper-cased, hashed), which is not the GUID as made. Pure.
 *
 * @example
 * ```ts
 * // A copied step (seed 'src_e1') made g = uuidV5('src_e1_2026-12-06T02:00:00.000Z_0'); the fork's step records the call.
 * forkCallId(`job-${g}`, new Map([[g, { seed: 'src_e1', name: '_2026-12-06T02:00:00.000Z_0' }]]), 'fork_e2');
 * // `job-${uuidV5('fork_e2_2026-12-06T02:00:00.000Z_0')}`
 * ```
 */
export function forkCallId(instanceId: string, copied: ReadonlyMap<string, CopiedGuid>, seed: string): string {
  return instanceId.replace(GUID, (guid) => {
    const made = copied.get(guid);
    return made && made.seed !== seed ? uuidV5(`${seed}${made.name}`) : guid;
  });
}
