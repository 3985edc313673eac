import { readFileSync } from 'node:fs';
import * as runtime from '@durable-rx/runtime';
import { describe, expect, it } from 'vitest';
import * as store from '../../src/index.js';

// The README's ```ts blocks are run as written (```ts norun blocks need a browser API Node lacks: Web Locks).
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
const modules: Record<string, unknown> = { '@durable-rx/runtime': runtime, '@durable-rx/store-indexeddb': store };
type AsyncFn = (...args: unknown[]) => Promise<void>;
const AsyncFunction = (async () => undefined).constructor as new (...params: string[]) => AsyncFn;

describe('README', () => {
  it('has runnable examples', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((code, i) => [i + 1, code] as const))('example %i runs and prints what it says', async (_, code) => {
    const body = code.replace(/^import \{([^}]+)\} from '([^']+)';$/gm, (_m, names: string, from: string) => `const {${names}} = modules[${JSON.stringify(from)}];`);
    const logs: unknown[][] = [];
    await new AsyncFunction('modules', 'console', body)(modules, { log: (...args: unknown[]) => logs.push(args) });
    expect(logs).toContainEqual([['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']]);
    // customStatus$ starts with the current value (the worker may already be a step ahead), then every later one.
    const statuses = logs.filter((l) => l[0] === 'status').map((l) => l[1]);
    const all = [undefined, 'Tokyo', 'Seattle', 'London'];
    expect(statuses).toEqual(all.slice(all.length - statuses.length));
    expect(statuses.at(-1)).toBe('London');
  });
});
