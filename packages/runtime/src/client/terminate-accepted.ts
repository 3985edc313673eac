import type { DurableClient, TerminateOptions } from './durable-client.js';

/**
 * The key of a client's terminate that resolves as a terminate of the named instance alone does (its terminate
 * committed and applied, or queued for a worker), without waiting for the sub-orchestrations a recursive one reached:
 * the terminate is handed on to them in the commit that applies it, so they follow durably, and the client goes on
 * applying and waiting for them after the call has resolved.
 */
export const TERMINATE_ACCEPTED: unique symbol = Symbol('terminate accepted');

/** A client that has the terminate of {@link TERMINATE_ACCEPTED}. */
interface AcceptingClient {
  [TERMINATE_ACCEPTED]?: (instanceId: string, reason: unknown, options: TerminateOptions | undefined) => Promise<void>;
}

/**
 * `client.terminate(...)`, resolved once the named instance's own terminate is: what the HTTP API's terminate route
 * answers 202 on, as Durable Functions answers once the terminate is accepted. A recursive one then goes on down the
 * tree on its own; a caller that waits for the tree (the remote client's `terminate`) waits itself. A client without
 * that terminate (a remote one behind the handler) is asked for its whole `terminate`.
 *
 * @example
 * ```ts
 * await terminateAccepted(client, 'order-1', 'cancelled', { recursive: true }); // the order is Terminated
 * ```
 */
export function terminateAccepted(client: DurableClient, instanceId: string, reason: unknown, options: TerminateOptions | undefined): Promise<void> {
  const accept = (client as AcceptingClient)[TERMINATE_ACCEPTED];
  return typeof accept === 'function' ? accept.call(client, instanceId, reason, options) : client.terminate(instanceId, reason, options);
}
