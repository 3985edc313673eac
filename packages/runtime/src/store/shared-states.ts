import { copyStoreValue } from '../model/json.js';

/** Where the one set of marks lives (see below). */
const SHARED = Symbol.for('durable-rx.shared');

/**
 * Who owns the state a change feed hands out: the one rule, for every store's feed, every router and every client.
 *
 * A client hands the payloads of an instance state (input, output, custom status, failure details) to user code, which
 * may change them in place. It hands them as they are only when nobody else holds the same state object. So whoever
 * hands one state object to more than one holder (a store's feed with several subscribers: two clients of one store,
 * a client and a worker, a client and a user's own `changes$` subscription; a router with several listeners), or
 * keeps it after handing it out (for a reader that comes later), marks it shared with {@link markShared} before any
 * holder hears of it. A client copies the payloads of a shared state ({@link isShared}) before user code gets them,
 * and hands those of any other state (a read, a change that reached one listener of one subscriber) without a copy.
 *
 * Marked before delivery, not by the first holder that hands a state out: feeds deliver synchronously, so a user
 * that changes what it got would change it before a later holder could copy it.
 *
 * One set for the whole program (weak: a mark goes with its state), so that the marks of a store's feed reach the
 * routers of every client on it: kept on `globalThis` under a registered symbol, so that two copies of this package in
 * one page (a store built against another copy, a bundler's pre-bundled dependency) still share it.
 */
const shared = ((globalThis as { [SHARED]?: WeakSet<object> })[SHARED] ??= new WeakSet<object>());

/**
 * Marks the state a change carries (`change.state`, when it is an object) as shared: call it before any holder of the
 * change hears of it. Anything else (a work signal, a purge's change without a state) is left alone, so a feed of any
 * values may call it.
 */
export function markShared(change: unknown): void {
  const state = (change as { readonly state?: unknown } | null | undefined)?.state;
  if (typeof state === 'object' && state !== null) shared.add(state);
}

/** Whether `state` was marked shared ({@link markShared}): a client copies its payloads before user code gets them. */
export function isShared(state: object): boolean {
  return shared.has(state);
}

/** The members of an instance state or status a client hands its users as they are when nobody else holds it. */
const PAYLOADS = ['input', 'output', 'customStatus', 'failureDetails'] as const;

/**
 * Gives `value` (a state or status of the caller's own, changed in place and returned) copies of its payloads (input,
 * output, custom status, failure details): what a holder of a shared state hands on, or keeps after handing it out. Its
 * other members are strings, numbers and Dates, handed out as they are.
 */
export function withOwnPayloads<T extends object>(value: T): T {
  const own = value as Record<string, unknown>;
  for (const key of PAYLOADS) if (own[key] !== undefined) own[key] = copyStoreValue(own[key]);
  return value;
}
