/**
 * `navigator.locks` where the platform has the Web Locks API (browsers in a secure context, workers, Deno, recent
 * Node); `undefined` elsewhere (Node 20, a page that is not a secure context). The worker's lease succession and the
 * IndexedDB stores' change feed both default to it.
 *
 * @example
 * ```ts
 * const locks = webLocks();
 * if (locks) await locks.request('durable-rx:example', async () => { ... });
 * ```
 */
export function webLocks(): LockManager | undefined {
  return (globalThis as { readonly navigator?: { readonly locks?: LockManager } }).navigator?.locks;
}
