import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** Debian's Chromium (`CHROMIUM_PATH` overrides /usr/bin/chromium), headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * A 1280×900 browser context whose waits (selectors, functions, navigation) allow 120 s instead of Playwright's 30 s:
 * CI machines are shared and often loaded, and at a load average of 27 one demo step took over 30 s. The test's own
 * limit still bounds every wait.
 */
export async function newDemoContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(120_000);
  context.setDefaultNavigationTimeout(120_000);
  return context;
}
