import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // README blocks import the package by name: test the sources, not a possibly stale dist.
  resolve: { alias: { '@durable-rx/rx-client': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: { include: ['test/**/*.test.ts'], testTimeout: 20_000 },
});
