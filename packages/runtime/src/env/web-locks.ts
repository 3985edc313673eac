/** What every caller of {@link webLocks} uses of the Web Locks API, whatever more its `Locks` names. */
export interface LockRequests {
  request(name: string, options: { readonly signal?: AbortSignal }, callback: () => Promise<unknown>): Promise<unknown>;
}

/**
 * `navigator.locks` where the platform has the Web Locks API (browsers in a secure context, workers, Deno, recent
 * Node); `undefined` elsewhere (Node 20, a page that is not a secure context). The worker's lease succession and the
 * IndexedDB stores' change feed both default to it. `Locks` is the part of the API the caller uses (the DOM's
 * `LockManager` in a browser package): the runtime's own types name no DOM type, so they compile without the DOM
 * library (a Node-only MongoDB app).
 *
 * @example
 * ```ts
 * const locks = webLocks<LockManager>();
 * if (locks) await locks.request('durable-rx:example', async () => { ... });
 * ```
 */
export function webLocks<Locks extends LockRequests>(): Locks | undefined {
  return (globalThis as unknown as { readonly navigator?: { readonly locks?: Locks } }).navigator?.locks;
}
