/**
 * Where the bytes of a bundle entry go: builds one entry of `bundle-entries/` exactly as the bundle scenario does
 * (Vite production build, `es2015` condition), attributes every byte of the minified chunks to its source module
 * through the build's source map, and prints one row per module, largest first:
 *
 * - `min`: minified bytes of the module;
 * - `gzip`: what the module costs in the gzipped page, i.e. the gzipped chunks minus the gzipped chunks without that
 *   module's bytes. Gzip shares its dictionary across the page, so these do not add up to the total: text repeated
 *   elsewhere (a property name, a message pattern) costs little, new logic and new text cost most.
 *
 * With `--functions`, a row is one function of a module instead (the innermost named function, method, accessor or
 * class field around the mapped source position, named `Class.member` or `outer.inner`; `(top level)` for the rest):
 * the costs of a big module, spread over what it does.
 *
 * ```sh
 * npm run build && node bench/src/bundle-breakdown.mjs rx-client.js   # or runtime.js, runtime-keyval.js ...
 * node bench/src/bundle-breakdown.mjs runtime.js --functions | head -40
 * ```
 *
 * A tool for finding what to cut; it measures nothing the report keeps (that is scenario 4, `bundle-size.mjs`).
 */
import { gzipSync } from 'node:zlib';
import ts from 'typescript';
import { bundleEntry } from './scenarios/bundle-size.mjs';

const entry = process.argv.slice(2).find((arg) => !arg.startsWith('--'));
const byFunction = process.argv.includes('--functions');
if (!entry) {
  console.error('usage: node bench/src/bundle-breakdown.mjs <entry of bench/bundle-entries, e.g. rx-client.js> [--functions]');
  process.exit(2);
}

const built = await bundleEntry(entry, { sourcemap: true });
const baseline = await bundleEntry('baseline.js');
/** @type {Map<string, { min: number, gzip: number }>} */
const modules = new Map();
built.chunks.forEach((code, index) => {
  const spans = spansBySource(code, built.maps[index], byFunction);
  const whole = gzip(code);
  for (const [source, ranges] of spans) {
    const kept = [];
    let at = 0;
    let min = 0;
    for (const [start, end] of ranges) {
      kept.push(code.slice(at, start));
      at = end;
      min += end - start;
    }
    kept.push(code.slice(at));
    const row = modules.get(source) ?? { min: 0, gzip: 0 };
    row.min += min;
    row.gzip += whole - gzip(kept.join(''));
    modules.set(source, row);
  }
});

console.log(`${entry}: ${built.rawBytes} B minified, ${built.gzipBytes} B gzip, ${built.gzipBytes - baseline.gzipBytes} B gzip over the baseline app`);
console.log(`${'min'.padStart(7)} ${'gzip'.padStart(6)}  module${byFunction ? ' function' : ''}`);
for (const [source, row] of [...modules].sort((a, b) => b[1].gzip - a[1].gzip || b[1].min - a[1].min)) {
  console.log(`${String(row.min).padStart(7)} ${String(row.gzip).padStart(6)}  ${source}`);
}

/** @param {string} text */
function gzip(text) {
  return gzipSync(Buffer.from(text), { level: 9 }).length;
}

/**
 * The byte ranges of `code` that each source (or, `byFunction`, each function of a source) produced, as
 * `[start, end)` offsets in ascending order. A segment of the map runs from its column to the next segment of its line
 * (or the line's end).
 *
 * @param {string} code
 * @param {{ mappings: string, sources: string[], sourcesContent?: (string | null)[] }} map
 * @param {boolean} byFunction
 * @returns {Map<string, [number, number][]>}
 */
function spansBySource(code, map, byFunction) {
  /** @type {Map<string, [number, number][]>} */
  const spans = new Map();
  /** @type {Map<number, Declarations>} */
  const declarations = new Map();
  const lines = code.split('\n');
  let lineStart = 0;
  let source = 0;
  let sourceLine = 0;
  let sourceColumn = 0;
  map.mappings.split(';').forEach((line, index) => {
    const text = lines[index] ?? '';
    /** @type {{ column: number, source: number, sourceLine: number, sourceColumn: number }[]} */
    const segments = [];
    let column = 0;
    for (const segment of line.split(',')) {
      if (segment === '') continue;
      const fields = decodeVlq(segment);
      column += fields[0] ?? 0;
      if (fields.length > 1) {
        source += fields[1] ?? 0;
        sourceLine += fields[2] ?? 0;
        sourceColumn += fields[3] ?? 0;
      }
      segments.push({ column, source: fields.length > 1 ? source : -1, sourceLine, sourceColumn });
    }
    segments.forEach((segment, i) => {
      const end = segments[i + 1]?.column ?? text.length;
      let name = segment.source < 0 ? '(generated)' : shortName(map.sources[segment.source] ?? '?');
      if (byFunction && segment.source >= 0) {
        let found = declarations.get(segment.source);
        if (!found) declarations.set(segment.source, (found = declarationsOf(map.sourcesContent?.[segment.source] ?? '')));
        name += ` ${found.at(segment.sourceLine, segment.sourceColumn)}`;
      }
      const list = spans.get(name) ?? [];
      list.push([lineStart + segment.column, lineStart + end]);
      spans.set(name, list);
    });
    lineStart += text.length + 1;
  });
  return spans;
}

/** @typedef {{ at(line: number, column: number): string }} Declarations */

/**
 * The named functions, methods, accessors and class fields of a module's text (JavaScript), and which one encloses a
 * position: the innermost, named after what encloses it (`Class.method`, `outer.inner`).
 *
 * @param {string} text
 * @returns {Declarations}
 */
function declarationsOf(text) {
  const file = ts.createSourceFile('module.js', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  /** @type {{ start: number, end: number, name: string }[]} */
  const found = [];
  /** @param {ts.Node} node @param {string} owner */
  const visit = (node, owner) => {
    let inside = owner;
    if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
      inside = node.name?.text ?? owner;
    } else if (
      ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessorDeclaration(node)
      || ts.isSetAccessorDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isPropertyDeclaration(node)
      || (ts.isVariableDeclaration(node) && node.initializer !== undefined
        && (ts.isFunctionExpression(node.initializer) || ts.isArrowFunction(node.initializer) || ts.isClassExpression(node.initializer)))
    ) {
      const name = ts.isConstructorDeclaration(node) ? 'constructor' : (node.name?.getText(file) ?? '(anonymous)');
      const member = owner ? `${owner}.${name}` : name;
      found.push({ start: node.getStart(file), end: node.end, name: member });
      inside = member;
    }
    ts.forEachChild(node, (child) => visit(child, inside));
  };
  visit(file, '');
  const lineStarts = file.getLineStarts();
  return {
    at(line, column) {
      const position = (lineStarts[line] ?? 0) + column;
      let best;
      for (const d of found) if (d.start <= position && position < d.end && (!best || d.end - d.start < best.end - best.start)) best = d;
      return best?.name ?? '(top level)';
    },
  };
}

/**
 * A module path from the repository or from node_modules, without the directories in front of it.
 *
 * @param {string} source
 */
function shortName(source) {
  const inModules = source.lastIndexOf('node_modules/');
  if (inModules >= 0) return source.slice(inModules + 'node_modules/'.length);
  const inPackages = source.lastIndexOf('packages/');
  return inPackages >= 0 ? source.slice(inPackages) : source.replace(/^(\.\.\/)+/, '');
}

/**
 * The numbers of one source-map segment: base64 VLQ (source map v3), 5 value bits per digit, continuation bit 32,
 * sign in the lowest bit of each number.
 *
 * @param {string} segment
 */
function decodeVlq(segment) {
  const numbers = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.indexOf(char);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    numbers.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return numbers;
}
