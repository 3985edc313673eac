import type { Store } from '@durable-rx/runtime/store-kit';
import { cdp } from 'vitest/browser';
import { connectionOf } from '../shared/fixtures.js';

/**
 * Clears database `name` as clearing the site's data does (DevTools' delete, CDP `IndexedDB.deleteDatabase`, which
 * force-closes the connections; clearing the whole origin would clear the other test files' databases too). Resolves
 * once `store`'s connection got `close`.
 */
export async function clearSiteData(store: Store, name: string): Promise<void> {
  const connection = await connectionOf(store);
  const closed = new Promise<void>((resolve) => connection.addEventListener('close', () => resolve()));
  await cdp().send('IndexedDB.deleteDatabase', { securityOrigin: location.origin, databaseName: name });
  await closed;
}
