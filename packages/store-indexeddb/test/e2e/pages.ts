import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, openPage } from './harness.js';

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
export function uniqueDb(prefix: string): string {
  return `${prefix}-${Date.now()}-${++counter}`;
}

export const adapters = ['dexie', 'keyval'] as const;

export const HELLO_OUTPUT = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];
