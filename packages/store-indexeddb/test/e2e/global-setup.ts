import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { buildAndServe } from './harness.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the built e2e test page (served by vite preview on 127.0.0.1). */
    e2eUrl: string;
  }
}

/** Builds the e2e page once and serves it for every e2e test file. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const app = await buildAndServe(fileURLToPath(new URL('./app', import.meta.url)));
  project.provide('e2eUrl', app.url);
  return () => app.close();
}
