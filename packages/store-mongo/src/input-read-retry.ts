import { StoreClosedError } from '@durable-rx/runtime';
import { classifyDriverError } from './map-driver-error.js';

/**
 * How often a status feed reads an input it needs before it gives up on it, and the back-off between the reads:
 * 500 ms doubling to 4 s, so at most 7.5 s of waits on top of the reads themselves (each bounded by server selection
 * and its own deadline). Enough for a failover's election (about 10 s to 12 s, mostly spent inside a read waiting for
 * a new primary), short enough that a feed whose reads keep failing ends instead of holding every later change back.
 */
export const INPUT_READ_RETRY = { attempts: 5, firstDelayMs: 500, maxDelayMs: 4_000 } as const;

/** What a status feed does after a read of an input failed. */
export type InputReadStep =
  /** Read again after `delayMs`; the events after it wait (they are delivered in stream order). */
  | { readonly kind: 'retry'; readonly delayMs: number }
  /** Give up: the change is not delivered without its input, the feed ends the way it ends at a persistent failure. */
  | { readonly kind: 'fail' }
  /** The store is closing: nothing more is delivered, nothing to report. */
  | { readonly kind: 'closed' };

/**
 * Decides what a status feed does after the `failures`-th consecutive failed read (1 for the first) of an input a
 * status change needs. A change is never delivered without its input: a `status$` subscriber would see the input
 * vanish and come back with the next change. An error that passes (unreachable server, a failover, an overloaded
 * server, a read that ran out of time) is retried with a doubling back-off, {@link INPUT_READ_RETRY}`.attempts` reads
 * in all; any other error, or the last failure, gives up; a closing store or client stops.
 *
 * @example
 * ```ts
 * inputReadStep(new MongoNetworkError('reset'), 1); // { kind: 'retry', delayMs: 500 }
 * inputReadStep(new MongoNetworkError('reset'), 5); // { kind: 'fail' }
 * ```
 */
export function inputReadStep(error: unknown, failures: number, retry = INPUT_READ_RETRY): InputReadStep {
  if (error instanceof StoreClosedError) return { kind: 'closed' };
  const kind = classifyDriverError(error);
  if (kind === 'closed') return { kind: 'closed' };
  const passes = kind === 'unreachable' || kind === 'overloaded' || kind === 'timed-out';
  if (!passes || !(failures >= 1 && failures < retry.attempts)) return { kind: 'fail' };
  return { kind: 'retry', delayMs: Math.min(retry.maxDelayMs, retry.firstDelayMs * 2 ** (failures - 1)) };
}
