import { LEGACY_WEBHOOK_PATH, WEBHOOK_PATH } from '../client/http-management-payload.js';

/**
 * The base paths every route of the HTTP handler is served under: Durable Functions 2.x's, and 1.x's as an alias (a
 * request on it gets URLs on it, as Durable Functions 1.x built them).
 */
export const WEBHOOK_BASES = [WEBHOOK_PATH, LEGACY_WEBHOOK_PATH] as const;

/**
 * The route `suffix` under every base path, typed so that Hono reads the route's parameters: the handler registers
 * it once per path, on its one router (`app.on(method, webhookPaths('/instances/:id'), handler)`).
 */
export function webhookPaths<S extends string>(suffix: S): [`${typeof WEBHOOK_PATH}${S}`, `${typeof LEGACY_WEBHOOK_PATH}${S}`] {
  return [`${WEBHOOK_PATH}${suffix}`, `${LEGACY_WEBHOOK_PATH}${suffix}`];
}

/** True when the route that matched (its path as registered, Hono's `routePath`) is served under 1.x's base path. */
export function isLegacyRoute(routePath: string): boolean {
  return routePath.startsWith(`${LEGACY_WEBHOOK_PATH}/`);
}
