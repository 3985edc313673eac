import { DurableError } from '../model/errors/durable-error.js';

/**
 * A POST not declared JSON, with a body or without one, that came from a page on another origin (HTTP 403): what a
 * browser sends, without a CORS preflight, for a form post or a `no-cors` fetch from any site. The HTTP handler serves
 * such a request only when it comes from its own origin, an origin its `cors` option allows, or a caller that names
 * none (curl, a server, a script); so another site's page cannot make it act. A handler created in a browser (a
 * Service Worker, where another site's form post arrives without `Origin`) serves none: every POST there must be
 * declared JSON. Answered by the HTTP handler only: no client method throws it.
 */
export class CrossOriginBodyError extends DurableError {
  override readonly name = 'CrossOriginBodyError';
  readonly code = 'cross-origin-body' as const;
  readonly status = 403 as const;
}
