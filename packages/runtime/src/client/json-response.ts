/**
 * A JSON response, as `Response.json` builds it but declared `application/json; charset=utf-8`, as the Durable
 * Functions extension declares every body: a client that decodes by the declared charset and falls back to
 * ISO-8859-1 without one (Windows PowerShell 5.1's `Invoke-RestMethod`) would otherwise read every character beyond
 * ASCII (an input, an output, an id) as mojibake. Every JSON body durable-rx answers with is built here: the HTTP
 * API's, and the check-status responses a user's own HTTP starter returns (`createCheckStatusResponse`).
 *
 * @example
 * ```ts
 * jsonResponse({ instancesDeleted: 1 }, { status: 200 }).headers.get('content-type'); // 'application/json; charset=utf-8'
 * ```
 */
export function jsonResponse(body: unknown, init?: ResponseInit): Response {
  const response = Response.json(body, init);
  response.headers.set('content-type', 'application/json; charset=utf-8');
  return response;
}
