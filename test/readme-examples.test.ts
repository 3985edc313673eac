import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { strictDiagnostics, typescriptBlocks } from '../test-support/readme-examples.js';

/**
 * Every TypeScript block of every document typechecks as strict user code against the built packages, and every
 * package README opens with its install line and a minimal example that the package's docs test runs.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const workDir = fileURLToPath(new URL('./.docs-blocks/', import.meta.url));
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file.endsWith('.md') && existsSync(resolve(root, file)));
const packageReadmes = files.filter((file) => /^packages\/[^/]+\/README\.md$/.test(file));

describe('TypeScript blocks in the documents', () => {
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('there is a README for each of the four packages', () => {
    expect(packageReadmes.sort()).toEqual([
      'packages/runtime/README.md', 'packages/rx-client/README.md',
      'packages/store-indexeddb/README.md', 'packages/store-mongo/README.md',
    ]);
  });

  it('every ```ts and ```tsx block of every document typechecks under strict', () => {
    mkdirSync(workDir, { recursive: true });
    const written: string[] = [];
    for (const file of files) {
      typescriptBlocks(readFileSync(resolve(root, file), 'utf8')).forEach((block, index) => {
        const name = `${workDir}${file.replace(/[/.]/g, '_')}-${index + 1}.${block.language}`;
        writeFileSync(name, `${block.code}\nexport {};\n`);
        written.push(name);
      });
    }
    expect(written.length).toBeGreaterThan(packageReadmes.length);
    expect(strictDiagnostics(written).map((d) => d.replace(workDir, ''))).toEqual([]);
  });

  for (const readme of packageReadmes) {
    const dir = readme.replace(/README\.md$/, '');
    it(`${readme} opens with the install line, then a runnable TypeScript example`, () => {
      const text = readFileSync(resolve(root, readme), 'utf8');
      const fences = [...text.matchAll(/^```(\w*)([^\n]*)\n([\s\S]*?)^```/gm)];
      expect(fences[0]?.[1]).toBe('sh');
      const name = (JSON.parse(readFileSync(resolve(root, dir, 'package.json'), 'utf8')) as { name: string }).name;
      const tarball = `${name.replace('@', '').replace('/', '-')}-`;
      expect(fences[0]?.[3]).toMatch(/^npm install /m);
      expect(fences[0]?.[3]).toContain(tarball);
      expect(fences[1]?.[1]).toBe('ts');
      expect(fences[1]?.[2].trim()).not.toContain('norun');
    });

    it(`${readme} is run by a docs test of its package`, () => {
      const tests = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', `${dir}test`], { cwd: root, encoding: 'utf8' })
        .split('\n')
        .filter((file) => file.endsWith('.test.ts'));
      const runners = tests.filter((file) => {
        const text = readFileSync(resolve(root, file), 'utf8');
        return text.includes('describeReadmeExamples(') && /README\.md['"]/.test(text) && text.includes(`'${'../'.repeat(file.split('/').length - 3)}README.md'`);
      });
      expect(runners, `a test in ${dir}test that calls describeReadmeExamples on ${readme}`).not.toEqual([]);
    });
  }
});
