import { DurableError } from '../model/errors/durable-error.js';

/**
 * A request to an anonymous HTTP handler (one with a `Host` header, as every request received over the network has,
 * or any with an explicit `allowedHosts`) addressed to a host name the handler does not answer for (HTTP 421
 * Misdirected Request): the host of its `Host` header or its URL is none of the IP addresses, `localhost`, `*.localhost`, the host of `baseUrl` or the names of the
 * `allowedHosts` option. That is how a DNS rebinding attack
 * arrives: a page on `http://evil.example:7071` whose name was made to resolve to the handler's address is
 * same-origin to it in the browser's view, but its requests still name `evil.example`. Nothing is done. Answered by
 * the HTTP handler only: no client method throws it.
 */
export class HostNotAllowedError extends DurableError {
  override readonly name = 'HostNotAllowedError';
  readonly code = 'host-not-allowed' as const;
  readonly status = 421 as const;
}
