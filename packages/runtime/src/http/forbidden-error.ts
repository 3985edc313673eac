import { DurableError } from '../model/errors/durable-error.js';

/**
 * A request made with a read token (see `createReadToken`) for what the token does not allow (HTTP 403): any command
 * (start, raise event, terminate, suspend, resume, rewind, restart, purge), an instance outside its scope, or a list of
 * instances when its scope has no prefix (or a prefix the list's `instanceIdPrefix` is outside of). Nothing is done or
 * read. In the multiplexed stream protocol, an out-of-scope subscription gets its `close` event with this error, and
 * the others of the same request are applied. Answered by the HTTP handler only: no client method throws it (a remote
 * client rebuilds it as a `RemoteError` with code `forbidden`).
 */
export class ForbiddenError extends DurableError {
  override readonly name = 'ForbiddenError';
  readonly code = 'forbidden' as const;
  readonly status = 403 as const;
}
