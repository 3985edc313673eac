/**
 * Scenario 4: gzipped bytes each package adds to a Vite app. Every entry in `bundle-entries/` is built by Vite
 * (production, minified, in memory), its JavaScript chunks are gzipped with node:zlib (level 9) and the baseline
 * app is subtracted. Packages whose dist is not built yet are reported as "not built", not failed.
 *
 * The build resolves the `es2015` export condition first, as the package READMEs tell users to: without it Vite
 * takes rxjs's ES5 build plus tslib's helpers, about 1.3 KB gzip more in every entry.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ENTRIES = fileURLToPath(new URL('../../bundle-entries/', import.meta.url));
const BENCH = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = `${ROOT}packages/`;

/**
 * @typedef {object} BundleRow
 * @property {string} name
 * @property {string} entry
 * @property {'ok' | 'not built' | 'failed' | 'reference'} state
 * @property {number} [rawBytes]   minified JS of the whole app
 * @property {number} [gzipBytes]  gzipped JS of the whole app
 * @property {number} [addedGzipBytes] gzipped bytes over the baseline app
 * @property {string} [note]
 */

/** @type {readonly { name: string, entry: string, needs: readonly string[], reference?: string }[]} */
const ROWS = [
  { name: 'runtime (createRuntime + MemoryStore + client)', entry: 'runtime.js', needs: ['runtime'] },
  { name: 'runtime + DexieStore', entry: 'runtime-dexie.js', needs: ['runtime', 'store-indexeddb'] },
  { name: 'runtime + KeyvalStore', entry: 'runtime-keyval.js', needs: ['runtime', 'store-indexeddb'] },
  { name: 'rx-client (createRemoteClient)', entry: 'rx-client.js', needs: ['runtime', 'rx-client'] },
  {
    name: 'peer: durabletask-js client', entry: 'durabletask-js-client.js', needs: [],
    reference: 'cannot run in a page: gRPC over Node http2/net/tls (Vite stubs those modules)',
  },
  {
    name: 'peer: durable-functions', entry: 'durable-functions-client.js', needs: [],
    reference: 'cannot run in a page: it runs inside the Azure Functions Node host',
  },
];

/** @returns {Promise<{ baseline: BundleRow, rows: BundleRow[] }>} */
export async function runBundleSize() {
  const baseline = await buildEntry('baseline app', 'baseline.js');
  const rows = [];
  for (const row of ROWS) {
    const missing = row.needs.filter((pkg) => !existsSync(`${PACKAGES}${pkg}/dist/index.js`));
    if (missing.length > 0) {
      rows.push({ name: row.name, entry: row.entry, state: /** @type {const} */ ('not built'), note: `no dist in packages/${missing.join(', packages/')}` });
      continue;
    }
    const built = await buildEntry(row.name, row.entry);
    if (built.state === 'ok') {
      built.addedGzipBytes = /** @type {number} */ (built.gzipBytes) - /** @type {number} */ (baseline.gzipBytes);
      if (row.reference) Object.assign(built, { state: 'reference', note: row.reference });
    } else if (row.reference) {
      // A peer that does not even bundle for the browser is a finding about the peer, not a failure of this run.
      Object.assign(built, { state: 'reference', note: `${row.reference}; Vite: ${built.note}` });
    }
    rows.push(built);
  }
  return { baseline, rows };
}

/**
 * Builds one entry as this scenario measures it: a Vite production build (minified, in memory, the `es2015` condition
 * first), and returns its JavaScript chunks with their minified and gzipped (level 9) sizes. Throws when Vite fails.
 * The size-budget test (test/bundle-size.test.ts) builds through this function too.
 *
 * @param {string} entry a file of `bundle-entries/`, or an absolute path
 * @param {{ sourcemap?: boolean }} [options] `sourcemap`: also return each chunk's source map (`maps`, same order)
 * @returns {Promise<{ chunks: string[], maps: any[], rawBytes: number, gzipBytes: number }>}
 */
export async function bundleEntry(entry, options = {}) {
  const { build, defaultClientConditions } = await import('vite');
  const result = await build({
    root: BENCH,
    configFile: false,
    logLevel: 'silent',
    mode: 'production',
    resolve: { conditions: ['es2015', ...defaultClientConditions] },
    build: {
      write: false,
      minify: true,
      target: 'es2022',
      modulePreload: false,
      reportCompressedSize: false,
      // A map changes no byte of the code; only its trailing sourceMappingURL comment, which is dropped below.
      sourcemap: options.sourcemap === true,
      rolldownOptions: { input: entry.startsWith('/') ? entry : `${ENTRIES}${entry}` },
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  /** @type {string[]} */
  const chunks = [];
  /** @type {any[]} */
  const maps = [];
  let rawBytes = 0;
  let gzipBytes = 0;
  for (const out of outputs) {
    for (const file of /** @type {any} */ (out).output) {
      if (file.type !== 'chunk') continue;
      const text = options.sourcemap === true ? file.code.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '') : file.code;
      const code = Buffer.from(text);
      chunks.push(text);
      if (options.sourcemap === true) maps.push(file.map);
      rawBytes += code.length;
      gzipBytes += gzipSync(code, { level: 9 }).length;
    }
  }
  return { chunks, maps, rawBytes, gzipBytes };
}

/**
 * @param {string} name
 * @param {string} entry
 * @returns {Promise<BundleRow>}
 */
async function buildEntry(name, entry) {
  try {
    const { rawBytes, gzipBytes } = await bundleEntry(entry);
    return { name, entry, state: 'ok', rawBytes, gzipBytes };
  } catch (error) {
    // Rolldown's message is "Build failed with 1 error:" followed by the errors; keep the first error line.
    const lines = (error instanceof Error ? error.message : String(error)).split('\n').map((l) => l.trim()).filter(Boolean);
    const first = lines.find((l) => l.startsWith('Error:')) ?? lines[0] ?? 'unknown error';
    const note = first.replace(/^Error:\s*(\[vite\]:\s*)?/, '').replaceAll(ROOT, '').slice(0, 200);
    return { name, entry, state: 'failed', note };
  }
}
