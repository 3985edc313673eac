import { describe, expect, it } from 'vitest';
import { adapters, uniqueDb, useChromium } from './pages.js';

/**
 * A sandboxed iframe without `allow-same-origin` runs in an opaque origin, where Chromium denies IndexedDB:
 * `indexedDB.open` throws a SecurityError at once. An app embedded so (a preview, a widget) still makes its store and
 * runtime; their calls fail with the store's typed error, which names the cause.
 */
describe.each(adapters)('a %s store in a sandboxed iframe (an opaque origin)', (adapter) => {
  const chromium = useChromium();

  it('is made, and its calls fail with StorageError naming the SecurityError', async () => {
    const page = await chromium.page('host');
    // The frame's module scripts are fetched with CORS from its opaque origin (`Origin: null`): the server allows it,
    // as a CDN does. Nothing else of the responses changes.
    await page.context().route(`${chromium.url}assets/**`, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), 'access-control-allow-origin': '*' } });
    });
    await page.evaluate((src) => {
      const frame = document.createElement('iframe');
      frame.sandbox.add('allow-scripts');
      frame.src = src;
      document.body.append(frame);
    }, chromium.url);
    const frame = await (await page.waitForSelector('iframe')).contentFrame();
    if (!frame) throw new Error('the iframe has no frame');
    await frame.waitForFunction(() => 'e2e' in window);
    await frame.evaluate(() => window.e2e.ready);
    // The premise, in this Chromium: an opaque origin, and IndexedDB refused at once.
    expect(await frame.evaluate(() => {
      try {
        indexedDB.open('probe');
        return { origin, open: 'opened' };
      } catch (error) {
        return { origin, open: (error as Error).name };
      }
    })).toEqual({ origin: 'null', open: 'SecurityError' });

    await frame.evaluate((o) => window.e2e.open(o), { adapter, db: uniqueDb(`opaque-${adapter}`) });
    const failure = await frame.evaluate(() => window.e2e.tryStart('HelloSequence', 'a'));
    expect(failure).toMatchObject({ ok: false, code: 'storage-error', status: 500, name: 'StorageError', message: expect.stringMatching(/^Access to IndexedDB is denied here/) });
    expect(failure.ok === false && failure.causeNames).toContain('SecurityError');
    // The store stays usable as a store: a read fails the same way, and it closes.
    expect(await frame.evaluate(() => window.e2e.inputOf('a').then(() => 'read', (e: Error) => e.message))).toMatch(/^Access to IndexedDB is denied here/);
    await frame.evaluate(() => window.e2e.close());
  });
});
