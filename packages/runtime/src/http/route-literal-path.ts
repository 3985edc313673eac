import { TrieRouter } from 'hono/router/trie-router';
import { getPathNoStrict } from 'hono/utils/url';

/**
 * A Hono `getPath` that matches the literal segments of the app's routes in any ASCII case, as Azure Functions does
 * (ASP.NET Core's route templates compare literals case-insensitively, and the Durable Functions extension compares
 * its operations, `terminate`, `rewind`..., the same way): `/Runtime/Webhooks/DurableTask/Instances/abc/Terminate` is
 * the terminate route. The path is given to the router with each literal segment spelled as its route spells it;
 * parameter segments (instance ids, event and orchestrator names, session ids) keep their case. A trailing slash is
 * dropped, as Hono's `strict: false` does (which ignores a custom `getPath`, so this replaces it).
 *
 * `routePaths` gives the patterns of the app's routes (`app.routes`' paths; `*` patterns, middleware, are skipped). It
 * is read at the first request, once every route is registered. When several routes match, the one with the most
 * literal segments spells the path (`/streams/INSTANCES` is `/streams/instances`, not the session `INSTANCES`);
 * a path no route matches in any case is left as it is (404).
 *
 * @example
 * ```ts
 * const app: Hono = new Hono({ getPath: routeLiteralPath(() => app.routes.map((route) => route.path)) });
 * app.post('/instances/:id/terminate', handler); // also answers POST /INSTANCES/abc/Terminate, with id 'abc'
 * ```
 */
export function routeLiteralPath(routePaths: () => readonly string[]): (request: Request) => string {
  let router: TrieRouter<readonly string[]> | undefined;
  return (request) => {
    const path = getPathNoStrict(request);
    if (!router) {
      router = new TrieRouter();
      for (const pattern of new Set(routePaths())) {
        if (pattern.includes('*')) continue;
        const segments = pattern.split('/');
        router.add('ALL', segments.map((s) => (isParameter(s) ? s : asciiLowerCase(s))).join('/'), segments);
      }
    }
    let best: readonly string[] | undefined;
    let bestLiterals = -1;
    for (const [segments] of router.match('ALL', asciiLowerCase(path))[0]) {
      const literals = segments.filter((s) => !isParameter(s)).length;
      if (literals > bestLiterals) [best, bestLiterals] = [segments, literals];
    }
    if (!best) return path;
    // Segment i of the path is segment i of the pattern (an optional last parameter may be absent from the path).
    return path.split('/').map((s, i) => (i < best.length && !isParameter(best[i]!) ? best[i]! : s)).join('/');
  };
}

function isParameter(segment: string): boolean {
  return segment.startsWith(':');
}

/** Lower case for A-Z only, as .NET's OrdinalIgnoreCase for the ASCII literals here (`K`, the Kelvin sign, is not `k`). */
function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}
