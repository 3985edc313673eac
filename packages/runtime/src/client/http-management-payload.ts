import type { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { assertValidInstanceId, invalid, readOptions } from '../model/validation.js';
import type { HttpManagementPayload, HttpManagementPayloadOptions } from './durable-client.js';

/** Base path of the Durable Functions HTTP management API. */
export const WEBHOOK_PATH = '/runtime/webhooks/durabletask';

/**
 * The management URLs of an instance, formatted as Durable Functions does: `{eventName}` and `{text}` are left as
 * placeholders for the caller to fill in; `restartPostUri` takes an optional `restartWithNewInstanceId=true|false`. `baseUrl` is the server origin (optionally with a path prefix); the
 * webhook path is appended unless `baseUrl` already ends with it. Throws {@link InvalidArgumentError} for an invalid id,
 * a `baseUrl` that is not a string, or options other than `{ key?: string }` (every client shares this check).
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
  if (typeof baseUrl !== 'string') invalid('baseUrl', 'must be a string');
  const { key } = readOptions(options, 'createHttpManagementPayload options', ['key']);
  if (key !== undefined && typeof key !== 'string') invalid('key', 'must be a string');
  const root = webhookRoot(baseUrl);
  const instance = `${root}/instances/${encodeURIComponent(instanceId)}`;
  const query = (extra?: string) => {
    const parts = [extra, key === undefined ? undefined : `code=${encodeURIComponent(key)}`].filter(Boolean);
    return parts.length > 0 ? `?${parts.join('&')}` : '';
  };
  return {
    id: instanceId,
    statusQueryGetUri: `${instance}${query()}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}${query()}`,
    terminatePostUri: `${instance}/terminate${query('reason={text}')}`,
    rewindPostUri: `${instance}/rewind${query('reason={text}')}`,
    purgeHistoryDeleteUri: `${instance}${query()}`,
    suspendPostUri: `${instance}/suspend${query('reason={text}')}`,
    resumePostUri: `${instance}/resume${query('reason={text}')}`,
    restartPostUri: `${instance}/restart${query()}`,
  };
}

/**
 * `baseUrl` without a trailing slash, ending with the webhook path: where the HTTP API's routes are. The payload's URLs
 * and the remote client's requests are built on it.
 *
 * @example
 * ```ts
 * webhookRoot('https://api.example.com/'); // 'https://api.example.com/runtime/webhooks/durabletask'
 * ```
 */
export function webhookRoot(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  return trimmed.endsWith(WEBHOOK_PATH) ? trimmed : `${trimmed}${WEBHOOK_PATH}`;
}
