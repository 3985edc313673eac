import type { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { assertValidInstanceId, httpBaseUrl, isString, readChecked } from '../model/validation.js';
import type { HttpManagementPayload, HttpManagementPayloadOptions } from './durable-client.js';

/** Base path of the Durable Functions HTTP management API. */
export const WEBHOOK_PATH = '/runtime/webhooks/durabletask';
/**
 * Base path of the same API under Durable Functions 1.x (Functions host 1.x), which the HTTP handler serves as an
 * alias of {@link WEBHOOK_PATH}. Internal: not exported from an entry point.
 */
export const LEGACY_WEBHOOK_PATH = '/admin/extensions/DurableTaskExtension';

/**
 * The management URLs of an instance, formatted as Durable Functions does: `{eventName}` and `{text}` are left as
 * placeholders for the caller to fill in; `restartPostUri` takes an optional `restartWithNewInstanceId=true|false`.
 * `baseUrl` is the server origin (optionally with a path prefix); the webhook path is appended unless `baseUrl`
 * already ends with it, in any case (see {@link webhookRoot}). Throws {@link InvalidArgumentError} for an invalid id, a
 * `baseUrl` that is not an absolute http(s) URL without query or fragment (see `httpBaseUrl`), or options other than
 * `{ key?: string }` (every client shares this check).
 *
 * @example
 * ```ts
 * createHttpManagementPayload('abc', 'http://127.0.0.1:7071').statusQueryGetUri;
 * // 'http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/abc'
 * ```
 */
export function createHttpManagementPayload(
  instanceId: string, baseUrl: string, options: HttpManagementPayloadOptions = {},
): HttpManagementPayload {
  // The shared id rule first: a lone surrogate would make encodeURIComponent throw URIError.
  assertValidInstanceId(instanceId);
  const { key } = readChecked(options, 'createHttpManagementPayload options', { key: isString });
  return managementPayloadAt(webhookRoot(baseUrl), instanceId, key);
}

/**
 * The management URLs of `instanceId` (a valid id) under `root`, a webhook root as {@link webhookRoot} or
 * {@link mountOf} builds it: {@link createHttpManagementPayload}'s, and the HTTP handler's, whose root follows the
 * base path a request came in on. Internal.
 */
export function managementPayloadAt(root: string, instanceId: string, key: string | undefined): HttpManagementPayload {
  const instance = `${root}/instances/${encodeURIComponent(instanceId)}`;
  const code = key === undefined ? '' : `code=${encodeURIComponent(key)}`;
  /** The query of a URL without a reason, and of one that takes `reason={text}`. */
  const plain = code && `?${code}`;
  const reason = `?reason={text}${code && `&${code}`}`;
  return {
    id: instanceId,
    statusQueryGetUri: instance + plain,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}${plain}`,
    terminatePostUri: `${instance}/terminate${reason}`,
    rewindPostUri: `${instance}/rewind${reason}`,
    purgeHistoryDeleteUri: instance + plain,
    suspendPostUri: `${instance}/suspend${reason}`,
    resumePostUri: `${instance}/resume${reason}`,
    restartPostUri: `${instance}/restart${plain}`,
  };
}

/**
 * `baseUrl` in its ASCII form (see `httpBaseUrl`, which refuses a non-http(s) URL, a query, a fragment or
 * credentials with {@link InvalidArgumentError}) without a trailing slash, ending with the webhook path in its
 * canonical spelling: where the HTTP API's routes are. A `baseUrl` that ends with the webhook path already, in any
 * ASCII case (routes match in any case, as in Azure Functions), names the same root, and so does one that ends with
 * Durable Functions 1.x's `/admin/extensions/DurableTaskExtension` (which the HTTP handler serves as an alias). The
 * payload's URLs and the remote client's requests are built on it; like Durable Functions' (the request's origin, then
 * the extension's webhook path), they spell that path canonically.
 *
 * @example
 * ```ts
 * webhookRoot('https://api.example.com/'); // 'https://api.example.com/runtime/webhooks/durabletask'
 * webhookRoot('https://api.example.com/Runtime/Webhooks/DurableTask/'); // the same
 * ```
 */
export function webhookRoot(baseUrl: string): string {
  return mountOf(baseUrl) + WEBHOOK_PATH;
}

/**
 * Where `baseUrl` mounts the HTTP API: its ASCII form (checked as {@link webhookRoot} checks it) without a trailing
 * slash and without a trailing webhook path, 2.x's or 1.x's, in any ASCII case. Internal.
 */
export function mountOf(baseUrl: string): string {
  // No `u` flag: then `i` folds no non-ASCII letter into ASCII (the Kelvin sign is no `k`), as OrdinalIgnoreCase.
  return httpBaseUrl(baseUrl, 'baseUrl').replace(/\/+$/, '')
    .replace(/\/(?:runtime\/webhooks\/durabletask|admin\/extensions\/durabletaskextension)$/i, '');
}
