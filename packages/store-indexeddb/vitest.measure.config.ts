import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { chromiumArgs, chromiumPath } from './test/chromium.js';

// One-off measurements in real headless Chromium (test/measure): they print figures and assert none of them.
export default defineConfig({
  test: {
    include: ['test/measure/**/*.measure.ts'],
    setupFiles: ['test/setup-browser.ts'],
    testTimeout: 1_800_000,
    browser: {
      enabled: true,
      headless: true,
      connectTimeout: 180_000,
      instances: [{ browser: 'chromium' }],
      provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
    },
  },
});
