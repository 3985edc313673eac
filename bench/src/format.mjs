/** Number formatting and tables, for the console and for Markdown. */

/** @param {number} ms @returns {string} a duration with a unit that keeps 3 significant digits */
export function duration(ms) {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 0.001) return `${(ms * 1e6).toPrecision(3)} ns`;
  if (ms < 1) return `${(ms * 1e3).toPrecision(3)} µs`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  return ms < 1e6 ? `${(ms / 1000).toPrecision(3)} s` : `${integer(ms / 1000)} s`;
}

/** @param {number} n */
export const integer = (n) => Math.round(n).toLocaleString('en-US');

/** @param {number} bytes */
export const bytes = (bytes) => `${integer(bytes)} B`;

/**
 * How durable-rx compares with a peer, from a factor > 1 when durable-rx is better.
 * @param {number} factor peer time / durable-rx time, or durable-rx throughput / peer throughput
 */
export function advantage(factor) {
  if (!Number.isFinite(factor) || factor <= 0) return 'n/a';
  if (factor >= 1) return `durable-rx ${factor < 10 ? factor.toFixed(2) : integer(factor)}x faster`;
  const inverse = 1 / factor;
  return `durable-rx ${inverse < 10 ? inverse.toFixed(2) : integer(inverse)}x slower`;
}

/**
 * @typedef {object} Table
 * @property {string} title
 * @property {string[]} headers
 * @property {string[][]} rows
 * @property {string[]} [notes]
 */

/** @param {Table} table @returns {string} an aligned plain-text table */
export function toText(table) {
  const widths = table.headers.map((h, i) => Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (/** @type {string[]} */ cells) => cells.map((c, i) => (c ?? '').padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const out = [table.title, '', line(table.headers), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of table.rows) out.push(line(row));
  for (const note of table.notes ?? []) out.push(`  * ${note}`);
  return out.join('\n');
}

/** @param {Table} table @returns {string} a Markdown table (without the title) plus its notes */
export function toMarkdown(table) {
  const esc = (/** @type {string} */ s) => (s ?? '').replaceAll('|', '\\|');
  const out = [`| ${table.headers.map(esc).join(' | ')} |`, `|${table.headers.map(() => '---').join('|')}|`];
  for (const row of table.rows) out.push(`| ${row.map(esc).join(' | ')} |`);
  if (table.notes?.length) out.push('', ...table.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

/** @param {number} f */
const factorText = (f) => (f < 10 ? f.toFixed(2) : integer(f));

/**
 * `advantage` of the median of per-round ratios, with the range over the rounds in the same direction, e.g.
 * "durable-rx 1.36x slower (1.28-1.45x, 5 rounds)".
 * @param {import('./stats.mjs').Spread | undefined} s factors > 1 when durable-rx is better
 */
export function advantageSpread(s) {
  if (!s || s.n === 0) return '';
  const text = advantage(s.median);
  if (s.n === 1) return text;
  const [low, high] = s.median >= 1 ? [s.min, s.max] : [1 / s.max, 1 / s.min];
  return `${text} (${factorText(low)}-${factorText(high)}x, ${s.n} rounds)`;
}

/**
 * A spread over rounds as "min-max", each end formatted by `format`.
 * @param {import('./stats.mjs').Spread | undefined} s
 * @param {(value: number) => string} format
 */
export function range(s, format) {
  if (!s || s.n === 0) return '';
  return s.n === 1 ? format(s.median) : `${format(s.min)}-${format(s.max)}`;
}
