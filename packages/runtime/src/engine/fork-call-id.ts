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
  /**
   * Handed on to this execution by a `continueAsNew` (`ExecutionStartedEvent.copiedGuids`), not made by its replay: its
   * rename takes a name no `newGuid()` of the execution gives (`HANDED`), as the execution's counter starts again at 0.
   */
  readonly handed?: true;
}

/**
 * What the name of a handed-on GUID's rename ends with: an execution a `continueAsNew` started counts its own GUIDs
 * from 0, so on a clock that stands still its step makes `_<time>_0` too, and the two calls would share one id.
 */
const HANDED = '_handed';

/** The step that records a sub-orchestration call, as far as the id it records the call under goes ({@link forkCallId}). */
export interface RecordingStep {
  /** The step's GUID seed: the `guidSeed` of a step a fork copied, else its execution's own. */
  readonly seed: string;
  /** The GUIDs that steps a fork copied made in this execution's replay so far, by GUID (none outside a fork). */
  readonly copied?: ReadonlyMap<string, CopiedGuid> | undefined;
  /**
   * The instance id a step a fork copied ran under (its `OrchestratorStarted.sourceInstanceId`); absent on the steps an
   * execution runs itself, and on the copied steps of a fork recorded before it was written.
   */
  readonly ranAs?: string | undefined;
  /**
   * The execution's instance id (`ctx.instanceId`), when the code read it since the execution's replay began: only
   * then can an id the code made hold it. Absent when the code never read it.
   */
  readonly instanceIdRead?: string | undefined;
}

/**
 * A GUID in the 8-4-4-4-12 form, in either case: `uuidText` writes one in lower case, as .NET's `Guid.ToString()` and
 * Durable Functions do, but the hex digits of a GUID are case-insensitive (RFC 9562, as .NET's `Guid.Parse` reads them),
 * so one upper-cased by an activity, by the code or by a client of another language is the same GUID.
 */
const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** `guid` (lower case, as made) written in the case of `as`: upper case when `as` has no lower-case letter. */
function inCaseOf(guid: string, as: string): string {
  return as === as.toUpperCase() ? guid.toUpperCase() : guid;
}

/**
 * The id a sub-orchestration call named `instanceId` by the code runs under when the step `step` records it: the one
 * rule of the engine for the ids of the calls a fork makes, used alike to issue a call (no `recorded`) and to match a
 * call on replay with the id its history `recorded` (the call replays when the result is `recorded`). Pure.
 *
 * - GUIDs: each GUID in `instanceId` that a copied step made under another seed than `step.seed` (`step.copied`) is
 *   replaced by the GUID that step would have made under `step.seed` (the same time and counter; one handed on by a
 *   `continueAsNew`, `handed`, with `HANDED` after its name, apart from the execution's own GUIDs). A step a fork copied
 *   replays with its source's seed, so its `newGuid()` gives the source's GUIDs, and a call the fork does not keep
 *   would otherwise be made again under the id of the source's child (failing while that child runs, replacing it once
 *   it ended). So the fork's step (its own seed) issues it under a GUID of the fork's own, which no other fork of the
 *   source shares, and every replay of the fork, or of a fork of the fork (whose copy of that step names the fork's
 *   seed), names it alike. A GUID is found in either case (the same GUID: `GUID`), and its rename is written in
 *   the case it was found in (upper case when it has no lower-case letter). A call recorded in the step that made its
 *   GUID (a kept call) keeps its id; so does an id the code chose without a copied GUID (`'shipping-42'`), and an id
 *   holding a GUID the code changed otherwise (hashed), which is no GUID the engine made. Exact: only the GUIDs the
 *   engine made are renamed.
 * - The instance id: a step a fork copied ran under its source's id (`step.ranAs`), where the replay's `ctx.instanceId`
 *   is the fork's. A recorded id equal to the code's (GUIDs renamed or as made) with some of the places that hold the
 *   fork's id holding `step.ranAs` instead, each place a whole copy of either id, is the call the code made: the code
 *   built it from `ctx.instanceId` (`${ctx.instanceId}:billing`). Only when the code read `ctx.instanceId`
 *   (`step.instanceIdRead`): an id that holds the fork's id though the code never read it holds it by chance, and is
 *   no replay of an id the source recorded with its own there. The places are found in the text, each of them free to
 *   be the code's or the fork's (`'e:delivery'` in a fork `'e'` is `'order:delivery'` in its source `'order'`, not
 *   `'order:dorderlivorderry'`): the text alone cannot tell which part of an id came from `ctx.instanceId`.
 * - As made: a recorded id equal to `instanceId` itself replays (a fork recorded before calls were renamed).
 *
 * @example
 * ```ts
 * // A copied step (seed 'src_e1') made g = uuidV5('src_e1_2026-12-06T02:00:00.000Z_0'); the fork's step records the call.
 * forkCallId(`job-${g}`, { seed: 'fork_e2', copied: new Map([[g, { seed: 'src_e1', name: '_2026-12-06T02:00:00.000Z_0' }]]) });
 * // `job-${uuidV5('fork_e2_2026-12-06T02:00:00.000Z_0')}`
 * // The replay of a step copied from 'order' in the fork 'e', whose code read ctx.instanceId:
 * forkCallId('e:delivery', { seed: 'order_e1', ranAs: 'order', instanceIdRead: 'e' }, 'order:delivery'); // 'order:delivery'
 * ```
 */
export function forkCallId(instanceId: string, step: RecordingStep, recorded?: string): string {
  const { copied, ranAs, instanceIdRead: own } = step;
  const renamed = copied ? instanceId.replace(GUID, (guid) => {
    const made = copied.get(guid.toLowerCase());
    return made && made.seed !== step.seed ? inCaseOf(uuidV5(`${step.seed}${made.name}${made.handed ? HANDED : ''}`), guid) : guid;
  }) : instanceId;
  if (recorded === undefined || recorded === renamed) return renamed;
  if (recorded === instanceId) return recorded;
  if (ranAs === undefined || own === undefined || own === ranAs || own === '') return renamed;
  return ranAsIn(renamed, recorded, own, ranAs) || (renamed !== instanceId && ranAsIn(instanceId, recorded, own, ranAs)) ? recorded : renamed;
}

/**
 * Whether `instanceId` holds a GUID, in either case (`GUID`): a sub-orchestration call of a copy (a fork)
 * named so must not take over a child of the instances it was copied from
 * (`ExecutionStartedEvent.forkedFrom`). An id without one (`'shipping-42'`) is a name the code chose for a piece of work,
 * and the copy's call goes as any start of that id does. Pure.
 *
 * @example
 * ```ts
 * holdsGuid(`job-${uuidV5('x')}`); // true
 * holdsGuid(`JOB-${uuidV5('x').toUpperCase()}`); // true: the same GUID
 * holdsGuid('shipping-42'); // false
 * ```
 */
export function holdsGuid(instanceId: string): boolean {
  return instanceId.search(GUID) >= 0; // search ignores the expression's lastIndex
}

/**
 * The GUIDs of `copied` (made by steps a fork copied, or handed on to this execution) that `input` holds, in the order
 * they first appear in its JSON: what a fork's `continueAsNew` hands on to the next execution with that input
 * (`ExecutionStartedEvent.copiedGuids`), so that a call it names with one runs under a GUID of the fork's own there too.
 * Pure.
 *
 * @example
 * ```ts
 * handedOnGuids({ job: g, other: uuidV5('x') }, new Map([[g, { seed: 'src_e1', name: '_2026-12-06T02:00:00.000Z_0' }]]));
 * // [{ seed: 'src_e1', name: '_2026-12-06T02:00:00.000Z_0' }]
 * ```
 */
export function handedOnGuids(input: unknown, copied: ReadonlyMap<string, CopiedGuid>): CopiedGuid[] {
  const handed = new Set<CopiedGuid>();
  if (input !== undefined) {
    for (const [guid] of JSON.stringify(input).matchAll(GUID)) {
      const made = copied.get(guid.toLowerCase());
      if (made) handed.add(made);
    }
  }
  return [...handed].map(({ seed, name }) => ({ seed, name }));
}

/**
 * Whether `recorded` from `j` on is `made` from `i` on with some of the places that hold `own` (whole, not overlapping)
 * holding `ranAs` instead. A place taken is tried once per pair of positions (`tried`): ids are short, and no id makes
 * the walk take longer than their lengths' product.
 */
function ranAsIn(made: string, recorded: string, own: string, ranAs: string, i = 0, j = 0, tried = new Set<string>()): boolean {
  for (; i < made.length; i++, j++) {
    const place = `${i} ${j}`;
    if (made.startsWith(own, i) && recorded.startsWith(ranAs, j) && !tried.has(place)) {
      tried.add(place);
      if (ranAsIn(made, recorded, own, ranAs, i + own.length, j + ranAs.length, tried)) return true;
    }
    if (made[i] !== recorded[j]) return false;
  }
  return j === recorded.length;
}
