import { httpBaseUrl } from '@durable-rx/runtime/client-kit';

/** The server a page in remote mode watches: from `?server=<origin>&key=<key>`. */
export interface RemoteTarget {
  /** The server's origin, with its path prefix if it has one (no trailing slash). */
  readonly baseUrl: string;
  /** The HTTP API's key; undefined for a server that takes none. */
  readonly key: string | undefined;
}

/**
 * Reads the remote mode from a query string: `undefined` when it has no `server` (the page runs the runtime itself),
 * otherwise the server to watch. Throws when `server` is not an http(s) URL, or has a query, fragment or credentials.
 */
export function remoteTargetOf(search: string): RemoteTarget | undefined {
  const params = new URLSearchParams(search);
  const server = params.get('server')?.trim();
  if (!server) return undefined;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`The server address ${JSON.stringify(server)} is not a URL, e.g. http://127.0.0.1:7071`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`The server address ${JSON.stringify(server)} must start with http:// or https://`);
  }
  const key = params.get('key') || undefined;
  // The rule every baseUrl surface applies (createRemoteClient too): a query, fragment or credentials are refused, not
  // dropped silently; the host in punycode, the path percent-encoded.
  return { baseUrl: httpBaseUrl(server, 'The server address').replace(/\/+$/, ''), key };
}
