import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The repository stands on its own: every link and every file path a README or doc names resolves to a file inside
 * the repository, and no file points at documents that live outside it.
 */
const root = fileURLToPath(new URL('..', import.meta.url));

/** Tracked files plus new ones not ignored: what a fresh clone (or the next commit) contains. */
function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
  return [...new Set(out.split('\0').filter(Boolean))].filter((file) => existsSync(resolve(root, file)));
}

const files = repoFiles();
const markdown = files.filter((file) => file.endsWith('.md'));
const textFile = /\.(md|ts|tsx|mts|js|mjs|cjs|json|html|css|sh|ya?ml|txt)$|(^|\/)(run|LICENSE)$/;

/** True when `target` (relative to `fromFile`'s directory) exists and lies inside the repository. */
function resolvesInside(fromFile: string, target: string): boolean {
  const absolute = resolve(root, dirname(fromFile), target);
  const inside = relative(root, absolute);
  return !inside.startsWith('..') && !isAbsolute(inside) && existsSync(absolute);
}

/** Markdown links and images, `[text](target)` and `<a href>` / `<img src>`, minus code blocks. */
function linkTargets(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  const inline = [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const references = [...prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$/gm)].map((m) => m[1]!);
  const html = [...prose.matchAll(/<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g)].map((m) => m[1]!);
  return [...inline, ...references, ...html];
}

/** Inline-code spans that name a file of the repository (`docs/benchmarks.md`, `src/store/store.ts`). */
function codePaths(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '');
  return [...prose.matchAll(/`([^`\s]+)`/g)]
    .map((m) => m[1]!)
    .filter((span) => /^[\w.@-][\w./@-]*\.(md|ts|tsx|mts|mjs|cjs|js|json|html|sh)$/.test(span) && span.includes('/'))
    .filter((span) => !span.startsWith('@') && !/(^|\/)(dist|dist-server|node_modules)\//.test(span));
}

describe('documents resolve inside the repository', () => {
  it('finds the documents', () => {
    expect(markdown).toContain('README.md');
    expect(markdown).toContain('docs/design.md');
  });

  for (const file of markdown) {
    it(`every link and path in ${file} resolves`, () => {
      const text = readFileSync(resolve(root, file), 'utf8');
      const broken: string[] = [];
      for (const target of linkTargets(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue; // URLs, anchors in the page
        const path = decodeURI(target.replace(/[?#].*$/, ''));
        if (!resolvesInside(file, path)) broken.push(`link ${target}`);
      }
      for (const path of codePaths(text)) {
        // A path in code may be relative to the document or to the repository root; it must exist either way.
        if (!resolvesInside(file, path) && !resolvesInside('README.md', path)) broken.push(`path \`${path}\``);
      }
      expect(broken).toEqual([]);
    });
  }
});

describe('no file points outside the repository', () => {
  // Built from parts so that this file does not match itself.
  const outsideNames = ['DESIGN', 'STYLE', 'TOOLCHAIN'];
  const outsideDocs = outsideNames.map((name) => `${name}.md`);
  /** A section of one of them, cited as `NAME §3`. */
  const outsideSection = new RegExp(`\\b(?:${outsideNames.join('|')})\\s*\u00a7`, 'g');
  const parentShared = new RegExp(`(?:\\.\\./)+${'shared'}\\b[\\w./-]*`, 'g');

  it('no file mentions documents kept outside the repository, or a parent-directory path that leaves it', () => {
    const offenders: string[] = [];
    for (const file of files.filter((f) => textFile.test(f))) {
      const text = readFileSync(resolve(root, file), 'utf8');
      for (const name of outsideDocs) if (text.includes(name)) offenders.push(`${file}: ${name}`);
      for (const [cited] of text.matchAll(outsideSection)) offenders.push(`${file}: ${cited}`);
      for (const [path] of text.matchAll(parentShared)) {
        const dir = /^(?:\.\.\/)+shared/.exec(path)![0];
        if (!resolvesInside(file, dir)) offenders.push(`${file}: ${path}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
