import type { BulkCommandResult, BulkTerminateOptions, DurableClient, InstanceFilter, TerminateOptions } from './durable-client.js';

/**
 * The key of a client's terminate that resolves as a terminate of the named instance alone does (its terminate
 * committed and applied, or queued for a worker), without waiting for the sub-orchestrations a recursive one reached:
 * the terminate is handed on to them in the commit that applies it, so they follow durably, and the client goes on
 * applying the terminates its own commits handed on after the call has resolved (workers apply the rest).
 */
export const TERMINATE_ACCEPTED: unique symbol = Symbol('terminate accepted');

/**
 * The key of a client's `terminateBy` whose terminate of each instance resolves as {@link TERMINATE_ACCEPTED}'s does:
 * once that instance's own terminate is applied, a recursive one's sub-orchestrations following durably.
 */
export const TERMINATE_BY_ACCEPTED: unique symbol = Symbol('terminate by filter accepted');

/** A client that has the terminates of {@link TERMINATE_ACCEPTED} and {@link TERMINATE_BY_ACCEPTED}. */
interface AcceptingClient {
  [TERMINATE_ACCEPTED]?: (instanceId: string, reason: unknown, options: TerminateOptions | undefined) => Promise<void>;
  [TERMINATE_BY_ACCEPTED]?: (filter: InstanceFilter, reason: unknown, options: BulkTerminateOptions) => Promise<BulkCommandResult>;
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

/**
 * `client.terminateBy(...)`, each instance's terminate resolved as {@link terminateAccepted} resolves one: what the
 * HTTP API's `POST /instances/terminate` answers on, so that a recursive one is not held up by the trees below the
 * instances it takes up (up to 10 s a level each, beyond a caller's request timeout). A client without it (a remote
 * one behind the handler) is asked for its whole `terminateBy`.
 *
 * @example
 * ```ts
 * await terminateByAccepted(client, { name: 'Import' }, 'stop', { recursive: true }); // { instancesAffected: 3, ... }
 * ```
 */
export function terminateByAccepted(
  client: DurableClient, filter: InstanceFilter, reason: unknown, options: BulkTerminateOptions,
): Promise<BulkCommandResult> {
  const accept = (client as AcceptingClient)[TERMINATE_BY_ACCEPTED];
  return typeof accept === 'function' ? accept.call(client, filter, reason, options) : client.terminateBy(filter, reason, options);
}
