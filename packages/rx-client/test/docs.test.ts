import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

// Every ```ts block of this package's README runs here, as a user would paste it, and prints what it promises.
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = fileURLToPath(new URL('./.docs-blocks/', import.meta.url));

const expectedLogs: unknown[][] = [
  ['custom status:', 'Tokyo', 'Seattle', 'London', ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']],
  [[0, 1 / 3, 2 / 3, 1], ['Running', 'Completed']],
];

describe('README examples', () => {
  mkdirSync(dir, { recursive: true });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has the blocks this test knows about', () => {
    expect(blocks).toHaveLength(expectedLogs.length);
  });

  blocks.forEach((code, index) => {
    it(`runs README block ${index + 1} and prints what it promises`, async () => {
      const file = `${dir}block-${index + 1}.ts`;
      writeFileSync(file, `${code}\nexport {};\n`);
      const logs: unknown[] = [];
      const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        logs.push(...args);
      });
      try {
        await import(/* @vite-ignore */ file);
      } finally {
        spy.mockRestore();
      }
      for (const expected of expectedLogs[index]!) expect(logs).toContainEqual(expected);
    });
  });
});
