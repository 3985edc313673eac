import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, launchFreezableChromium, openPage } from './harness.js';

/**
 * One Chromium for the test file and a fresh browser context (its own IndexedDB, locks, channels) per test; pages of
 * one context share an origin, as tabs of one app do. A page opens `url` + `query`, or `base` + `query` (the same
 * server under another host name, such as the harness's `INSECURE_HOST`).
 */
export function useChromium(): { page(label: string, query?: string, base?: string): Promise<Page>; readonly url: string } {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  const url = inject('e2eUrl');
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    context = await browser!.newContext();
    // Playwright's waits allow 120 s instead of 30 s: CI machines are shared and often loaded.
    context.setDefaultTimeout(120_000);
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  return {
    url,
    page(label, query = '', base = url) {
      if (!context) throw new Error('no browser context (call inside a test)');
      return openPage(context, base + query, label);
    },
  };
}

let counter = 0;
/** A database name no other test uses. */
/**
 * One freezable Chromium for the test file ({@link launchFreezableChromium}: its pages can be frozen and kept in the
 * back/forward cache), its waits bounded at `waitMs`; a tab opens the app in its one context (each test names a database
 * of its own), and the tabs a test opened are closed after it.
 */
export function useFreezableChromium(waitMs: number): (label: string) => Promise<Page> {
  let browser: Awaited<ReturnType<typeof launchFreezableChromium>> | undefined;
  const opened: Page[] = [];
  beforeAll(async () => {
    browser = await launchFreezableChromium();
    browser.context.setDefaultTimeout(waitMs);
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const page of opened.splice(0)) await page.close().catch(() => undefined);
  });
  return async (label) => {
    const page = await openPage(browser!.context, inject('e2eUrl'), label);
    opened.push(page);
    return page;
  };
}

export function uniqueDb(prefix: string): string {
  return `${prefix}-${Date.now()}-${++counter}`;
}

export const adapters = ['dexie', 'keyval'] as const;

export const HELLO_OUTPUT = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];
