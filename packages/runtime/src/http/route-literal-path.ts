import { TrieRouter } from 'hono/router/trie-router';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { withoutTrailingSlashes } from '../model/validation.js';

/** A route of the app, as `app.routes` lists it. */
export interface RouteLike {
  readonly method: string;
  readonly path: string;
}

/**
 * A Hono `getPath` that matches the literal segments of the app's routes in any ASCII case, as Azure Functions does
 * (ASP.NET Core's route templates compare literals case-insensitively, and the Durable Functions extension compares
 * its operations, `terminate`, `rewind`..., the same way): `/Runtime/Webhooks/DurableTask/Instances/abc/Terminate` is
 * the terminate route. The path is given to the router with each literal segment spelled as its route spells it;
 * parameter segments (instance ids, event and orchestrator names, session ids) keep their case. Slashes at both ends
 * of the path after a base of `bases` (the routes' prefixes, in any case) are dropped, as Durable Functions trims
 * them: `{base}//instances/x//` is `{base}/instances/x` (Hono's `strict: false`, which drops one trailing slash,
 * ignores a custom `getPath`, so this replaces it).
 *
 * `routes` gives the app's routes (`app.routes`; `*` patterns, middleware, are skipped). It is read at the first
 * request, once every route is registered. Only the routes of the request's method are considered (HEAD is GET, as
 * Hono answers it), so `DELETE /streams/INSTANCES` is the session `INSTANCES`, not `GET /streams/instances`; when
 * several match, the one with the most literal segments spells the path (`GET /streams/INSTANCES` is
 * `/streams/instances`). When no route of the method matches, the routes of every method are considered, so that a
 * wrong method still reaches its 405 answer; a path no route matches in any case is left as it is (404).
 *
 * @example
 * ```ts
 * const app: Hono = new Hono({ getPath: routeLiteralPath(() => app.routes) });
 * app.post('/instances/:id/terminate', handler); // also answers POST /INSTANCES/abc/Terminate, with id 'abc'
 * ```
 */
export function routeLiteralPath(routes: () => readonly RouteLike[], bases: readonly string[] = []): (request: Request) => string {
  const loweredBases = bases.map(asciiLowerCase);
  let byMethod: TrieRouter<readonly string[]> | undefined;
  let anyMethod: TrieRouter<readonly string[]> | undefined;
  return (request) => {
    const path = requestPath(request, loweredBases);
    if (!byMethod || !anyMethod) {
      byMethod = new TrieRouter();
      anyMethod = new TrieRouter();
      const seen = new Set<string>();
      for (const { method, path: pattern } of routes()) {
        if (pattern.includes('*')) continue;
        const segments = pattern.split('/');
        const lowered = segments.map((s) => (isParameter(s) ? s : asciiLowerCase(s))).join('/');
        byMethod.add(method.toUpperCase(), lowered, segments);
        if (!seen.has(pattern)) anyMethod.add('ALL', lowered, segments);
        seen.add(pattern);
      }
    }
    const lowered = asciiLowerCase(path);
    const method = request.method === 'HEAD' ? 'GET' : request.method.toUpperCase();
    const best = mostLiterals(byMethod.match(method, lowered)[0]) ?? mostLiterals(anyMethod.match('ALL', lowered)[0]);
    if (!best) return path;
    // Segment i of the path is segment i of the pattern (an optional last parameter may be absent from the path).
    return path.split('/').map((s, i) => (i < best.length && !isParameter(best[i]!) ? best[i]! : s)).join('/');
  };
}

function mostLiterals(matches: readonly (readonly [readonly string[], unknown])[]): readonly string[] | undefined {
  let best: readonly string[] | undefined;
  let bestLiterals = -1;
  for (const [segments] of matches) {
    const literals = segments.filter((s) => !isParameter(s)).length;
    if (literals > bestLiterals) [best, bestLiterals] = [segments, literals];
  }
  return best;
}

/**
 * Refuses ({@link InvalidArgumentError}, 400) a request path (or, with `part` `'query'`, a query string; with
 * `'subscription query'`, the `query` of a stream session's list subscription) with
 * percent-escapes that are no UTF-8 text (`%FF`, a cut sequence `%E0%A4`, an overlong `%C0%AF`, a surrogate
 * `%ED%A0%80`): such a segment names no id or name, and `URLSearchParams` would read such a value as U+FFFD, a value
 * other than the one sent. A `%` that begins no escape (not followed by two hex digits: `50%off`, `?reason=50%%20done`,
 * `x%`) is a `%` as written, as Durable Functions decodes it and as `URLSearchParams` and Hono's parameters read it:
 * the `durable-functions` client puts ids and reasons into its URLs without encoding them. Every correctly encoded
 * path or query passes (`%20`, `%2F`, `%25`, `%C3%A9`, raw Unicode, which the URL parser encodes).
 *
 * @example
 * ```ts
 * assertEscapesDecode('/runtime/webhooks/durabletask/instances/50%off%20now'); // passes: the id `50%off now`
 * assertEscapesDecode('/runtime/webhooks/durabletask/instances/%FF'); // throws InvalidArgumentError
 * ```
 */
export function assertEscapesDecode(text: string, part: 'path' | 'query' | 'subscription query' = 'path'): void {
  const bad = text.match(/(?:%[0-9A-Fa-f]{2})+/g)?.find((run) => !decodes(run));
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      `The ${part === 'subscription query' ? part : `request ${part}`} has a malformed percent-escape (${JSON.stringify(bad.slice(0, 30))}): escapes must spell `
      + 'UTF-8 text (%25 for a % itself); nothing was done',
    );
  }
}

function decodes(run: string): boolean {
  try {
    decodeURIComponent(run);
    return true;
  } catch {
    return false;
  }
}

/**
 * The request's path as Hono routes it: percent-escapes decoded as `decodeURI` does (reserved characters such as
 * `%2F` stay encoded, so segments stay segments, and `%25` stays `%25`; parameters are decoded once more by Hono),
 * an escape that does not decode kept as written (for routing only: the handler refuses such a path before any route
 * runs, see {@link assertEscapesDecode}), every trailing slash dropped and the slashes after a base of `bases` (in
 * lower case) made one.
 */
function requestPath(request: Request, bases: readonly string[]): string {
  const encoded = new URL(request.url).pathname;
  const path = encoded.includes('%')
    ? encoded.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURI(run.replace(/%25/g, '%2525'));
      } catch {
        return run;
      }
    })
    : encoded;
  const trimmed = withoutTrailingSlashes(path);
  // The caller lowers the whole path once, after this: here only a path with `//` after a base has its base lowered.
  const base = bases.find((b) => trimmed.startsWith('//', b.length) && asciiLowerCase(trimmed.slice(0, b.length)) === b);
  return base === undefined ? trimmed : trimmed.slice(0, base.length) + trimmed.slice(base.length).replace(/^\/+/, '/');
}

function isParameter(segment: string): boolean {
  return segment.startsWith(':');
}

/** Lower case for A-Z only, as .NET's OrdinalIgnoreCase for the ASCII literals here (`K`, the Kelvin sign, is not `k`). */
function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}
